"""Fits and predictions on Array-API arrays (array-api-strict, PyTorch on the CPU), under
``sklearn.config_context(array_api_dispatch=True)``: the same optimum as on NumPy,
attributes and predictions in the input's namespace and device, bad input refused."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import sklearn
from scipy.special import log_softmax

from celr import CrossEntropyLogisticRegression
from celr._array_api import dispatch_available
from tests.conftest import reference_objective, reference_problem_for

xps = pytest.importorskip("array_api_strict")
if not dispatch_available():  # scikit-learn 1.6 with SciPy < 1.14, say
    pytest.skip("this scikit-learn cannot dispatch on Array-API input", allow_module_level=True)
try:
    import torch
except ImportError:  # torch is installed for the tests on Python 3.11 only
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="needs torch")
NAMESPACES = ["array_api_strict", pytest.param("torch", marks=needs_torch)]
EPS32 = float(np.finfo(np.float32).eps)


@pytest.fixture(autouse=True)
def _dispatch(monkeypatch):
    # scikit-learn refuses array_api_dispatch unless scipy's switch is set; celr hands
    # scipy only NumPy arrays, so setting it after scipy's import changes nothing else.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    with sklearn.config_context(array_api_dispatch=True):
        yield


def as_xp(name, array, dtype=None, device=None):
    """``array`` in namespace ``name`` (and ``dtype``, a NumPy dtype, if given)."""
    array = np.asarray(array) if dtype is None else np.asarray(array, dtype=dtype)
    if name == "torch":
        return torch.asarray(array)
    return xps.asarray(array, device=device) if device is not None else xps.asarray(array)


def host(array) -> np.ndarray:
    from celr._array_api import to_numpy

    return to_numpy(array)


def namespace_of(array) -> str:
    return "torch" if torch is not None and isinstance(array, torch.Tensor) else "array_api_strict"


# The bounds on the relative objective gap to a tight scikit-learn fit: float64 fits to
# tol=1e-10; float32 data round X itself by eps32, which moves the optimum's value.
GAP_BOUND = {np.float64: 1e-10, np.float32: 1e-5}
TOL = {np.float64: 1e-10, np.float32: 1e-6}
CASES = [  # (data set, C, weighted): binary and multinomial, raw and scaled columns
    ("breast_cancer", 1.0, False),
    ("breast_cancer", 100.0, True),
    ("iris", 1.0, True),
    ("wine_scaled", 1.0, True),
    ("digits", 1.0, False),
]
# L-BFGS in float32 stalls short of the optimum on the raw, ill-conditioned columns
# (breast cancer's scales span 1e-3..1e3, digits' 0..16 with empty pixels): gaps of
# 1e-5..2e-3, the same in the NumPy fit. Its float32 cases are the well-conditioned ones.


def _case_id(case) -> str:
    return f"{case[0]}-C{case[1]:g}-w{case[2]:d}"


FIT_CASES = [
    pytest.param(case, dtype, solver, id=f"{_case_id(case)}-{dtype.__name__}-{solver}")
    for case in CASES
    for dtype in (np.float64, np.float32)
    for solver in ("auto", "newton", "lbfgs")
    if not (solver == "lbfgs" and dtype == np.float32 and case[0] in ("breast_cancer", "digits"))
]  # fmt: skip


@pytest.mark.parametrize("case, dtype, solver", FIT_CASES)
@pytest.mark.parametrize("xp_name", NAMESPACES)
def test_same_optimum_as_a_tight_reference_fit(xp_name, case, dtype, solver):
    problem = reference_problem_for(*case)
    weight = problem.sample_weight
    model = CrossEntropyLogisticRegression(
        C=problem.C, class_weight=problem.class_weight, solver=solver, max_iter=2000,
        tol=TOL[dtype],
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning: each reaches its optimum
        model.fit(
            as_xp(xp_name, problem.X, dtype),
            as_xp(xp_name, problem.y),
            sample_weight=None if weight is None else as_xp(xp_name, weight, dtype),
        )
    assert namespace_of(model.coef_) == xp_name
    assert host(model.coef_).dtype == dtype
    coef, intercept = host(model.coef_), host(model.intercept_)
    value = reference_objective(
        problem.X, problem.y, coef, intercept, problem.C, weight, problem.class_weight
    )
    assert (value - problem.f_star) / problem.f_star < GAP_BOUND[dtype]


@pytest.mark.parametrize("xp_name", NAMESPACES)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_predictions_in_the_input_namespace_match_the_coefficients(xp_name, n_classes):
    problem = reference_problem_for("breast_cancer" if n_classes == 2 else "iris", 1.0, False)
    X = as_xp(xp_name, problem.X)
    model = CrossEntropyLogisticRegression().fit(X, as_xp(xp_name, problem.y))
    W, b = host(model.coef_), host(model.intercept_)
    scores = problem.X @ W.T + b
    # Each score is a dot product of d + 1 terms: rounding at most (d + 1) eps |x| . |w|.
    bound = (problem.X.shape[1] + 1) * 4 * np.finfo(float).eps
    size = np.abs(problem.X) @ np.abs(W).T + np.abs(b)
    decision = host(model.decision_function(X))
    expected = scores[:, 0] if n_classes == 2 else scores
    assert np.all(np.abs(decision - expected) <= bound * (size[:, 0] if n_classes == 2 else size))
    full = np.column_stack([np.zeros(len(scores)), scores]) if n_classes == 2 else scores
    log_proba = host(model.predict_log_proba(X))
    # log-softmax is 1-Lipschitz in the max norm of the scores: the scores' bound, doubled.
    assert np.all(np.abs(log_proba - log_softmax(full, axis=1)) <= 2 * bound * size.max())
    proba = model.predict_proba(X)
    assert namespace_of(proba) == xp_name
    np.testing.assert_allclose(host(proba).sum(axis=1), 1.0, rtol=0, atol=4 * n_classes * 2e-16)
    predicted = host(model.predict(X))
    assert np.array_equal(predicted, model.classes_[np.argmax(full, axis=1)])
    score = model.score(X, as_xp(xp_name, problem.y))
    # PyTorch averages in float32: one rounding of a count divided by n.
    assert float(score) == pytest.approx(np.mean(predicted == problem.y), rel=EPS32, abs=0)


@pytest.mark.parametrize("xp_name", NAMESPACES)
def test_string_labels_stay_on_the_host(xp_name):
    X, y = reference_problem_for("iris", 1.0, False).X, reference_problem_for("iris", 1.0, False).y
    names = np.array(["setosa", "versicolor", "virginica"])
    numeric = CrossEntropyLogisticRegression().fit(as_xp(xp_name, X), as_xp(xp_name, y))
    model = CrossEntropyLogisticRegression().fit(as_xp(xp_name, X), names[y])
    assert list(model.classes_) == list(names)
    assert np.array_equal(
        model.predict(as_xp(xp_name, X)), names[host(numeric.predict(as_xp(xp_name, X)))]
    )


def test_inference_on_a_device_fit_matches_the_numpy_fit():
    problem = reference_problem_for("breast_cancer_scaled", 0.1, False)
    X, y = problem.X[:, :5], problem.y
    on_device = CrossEntropyLogisticRegression(C=0.1).fit(xps.asarray(X), xps.asarray(y))
    with sklearn.config_context(array_api_dispatch=False):
        in_memory = CrossEntropyLogisticRegression(C=0.1).fit(X, y)
    a, b = on_device.cov_params().to_numpy(), in_memory.cov_params().to_numpy()
    # Both are inverses of the same 6 x 6 information at optima within tol of each other:
    # the difference is the solvers' stopping error amplified by cond(H), far above eps.
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6 * np.abs(b).max())
    assert on_device.summary() is not None


def test_quasi_complete_separation_is_reported():
    from celr import SeparationWarning

    X, y = reference_problem_for("iris", 1.0, False).X, reference_problem_for("iris", 1.0, False).y
    with pytest.warns(SeparationWarning, match="quasi-completely separated"):
        CrossEntropyLogisticRegression(C=np.inf).fit(xps.asarray(X), xps.asarray(y))


def test_warm_start_continues_from_the_device_fit():
    problem = reference_problem_for("wine_scaled", 1.0, False)
    X, y = xps.asarray(problem.X), xps.asarray(problem.y)
    model = CrossEntropyLogisticRegression(warm_start=True).fit(X, y)
    first = host(model.coef_).copy()
    model.fit(X, y)
    assert model.n_iter_ <= 1
    np.testing.assert_allclose(host(model.coef_), first, rtol=0, atol=1e-6 * np.abs(first).max())


def test_inputs_are_not_modified():
    problem = reference_problem_for("breast_cancer", 1.0, True)
    X, y, w = problem.X.copy(), problem.y.copy(), problem.sample_weight.copy()
    X_xp, y_xp, w_xp = xps.asarray(X), xps.asarray(y), xps.asarray(w)
    CrossEntropyLogisticRegression().fit(X_xp, y_xp, sample_weight=w_xp)
    assert np.array_equal(host(X_xp), X) and np.array_equal(host(y_xp), y)
    assert np.array_equal(host(w_xp), w)


def test_targets_and_weights_follow_X():
    # scikit-learn's rule (its check_array_api_mixed_inputs): y and sample_weight of another
    # namespace or device are moved to X's, and the model lives where X does.
    X, y = _binary()
    device = xps.Device("device1")
    model = CrossEntropyLogisticRegression().fit(
        xps.asarray(X, device=device), xps.asarray(y), sample_weight=xps.ones(len(y))
    )
    assert model.coef_.device == device
    numpy_model = CrossEntropyLogisticRegression().fit(X, xps.asarray(y))
    assert isinstance(numpy_model.coef_, np.ndarray)
    # the same problem either way: the two optima agree to the solvers' tolerance
    value = reference_objective(X, y, host(model.coef_), host(model.intercept_), 1.0)
    reference = reference_objective(X, y, numpy_model.coef_, numpy_model.intercept_, 1.0)
    assert abs(value - reference) <= 1e-10 * reference


# == the objective on device against the in-memory one =====================================
@pytest.mark.parametrize("xp_name", NAMESPACES)
@pytest.mark.parametrize("name", ["breast_cancer_scaled", "wine_scaled"])
def test_objective_matches_the_in_memory_objective_within_rounding(xp_name, name):
    from celr._array_api import ArrayAPIObjective
    from celr._objective import LogisticObjective

    problem = reference_problem_for(name, 1.0, True)
    classes, codes = np.unique(problem.y, return_inverse=True)
    weight = problem.sample_weight
    args = (codes, weight, len(classes), True)
    memory = LogisticObjective(problem.X, *args)
    device = ArrayAPIObjective(as_xp(xp_name, problem.X), *args)
    coef = np.random.default_rng(0).normal(scale=0.3, size=memory.n_params)
    vector = np.random.default_rng(1).normal(size=memory.n_params)
    # Every quantity is a weighted sum over n rows of products of width terms: rounding
    # at most ~(n + width) eps times the same sum of absolute values (the magnitude).
    n, width = problem.X.shape[0], problem.X.shape[1] + 1
    bound = 4 * (n + width) * np.finfo(float).eps
    Xa = np.column_stack([np.abs(problem.X), np.ones(n)])
    row_share = weight / weight.sum()
    grad_size = np.tile(row_share @ Xa, memory.n_scores)  # |residual| <= 1 per row
    value, grad = device.value_grad(coef)
    ref_value, ref_grad = memory.value_grad(coef)
    loss_size = row_share @ (
        1 + np.abs(problem.X) @ np.abs(coef[: width - 1]) + np.abs(coef).max()
    )
    assert abs(value - ref_value) <= bound * loss_size
    assert np.all(np.abs(grad - ref_grad) <= bound * (grad_size + 1))
    curvature_size = Xa.T @ (Xa * row_share[:, None])  # curvature weights <= 1 per row
    blocks = np.kron(np.ones((memory.n_scores, memory.n_scores)), curvature_size)
    assert np.all(np.abs(device.hessian(coef) - memory.hessian(coef)) <= bound * blocks)
    hv_size = blocks @ np.abs(vector)
    hv = device.hessp_at(coef)(vector)
    assert np.all(np.abs(hv - memory.hessp_at(coef)(vector)) <= bound * hv_size)
    diag = device.hessian_diag(coef) - memory.hessian_diag(coef)
    assert np.all(np.abs(diag) <= bound * np.diag(blocks))
    center, scale = device.feature_center_scale()
    ref_center, ref_scale = memory.feature_center_scale()
    assert np.all(np.abs(center - ref_center) <= bound * (row_share @ np.abs(problem.X)))
    np.testing.assert_allclose(scale, ref_scale, rtol=bound, atol=0)


# == bad input =============================================================================
def _binary():
    problem = reference_problem_for("breast_cancer_scaled", 0.1, False)
    return problem.X.copy(), problem.y.copy()  # the cached problem must stay intact


@pytest.mark.parametrize(
    "params, match",
    [
        ({"solver": "gd"}, "solver='gd' is not available on Array-API input"),
        ({"solver": "sgd"}, "solver='sgd' is not available on Array-API input"),
        ({"l1_ratio": 1.0, "solver": "auto"}, "an L1 penalty is not available"),
        ({"firth": True}, "firth=True is not available"),
    ],
)
def test_unsupported_settings_name_what_is_supported(params, match):
    X, y = _binary()
    with pytest.raises(ValueError, match=match):
        CrossEntropyLogisticRegression(**params).fit(xps.asarray(X), xps.asarray(y))
    assert not CrossEntropyLogisticRegression(**params).__sklearn_tags__().array_api_support


@needs_torch
def test_float16_is_refused():
    X, y = _binary()
    X16 = torch.asarray(X, dtype=torch.float16)
    with pytest.raises(TypeError, match="float16"):
        CrossEntropyLogisticRegression().fit(X16, torch.asarray(y))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_X_is_refused(bad):
    X, y = _binary()
    X[3, 2] = bad
    with pytest.raises(ValueError, match="NaN or infinity"):
        CrossEntropyLogisticRegression().fit(xps.asarray(X), xps.asarray(y))


def test_bad_targets_and_weights_are_refused():
    X, y = _binary()
    with pytest.raises(ValueError, match="one label per row"):
        CrossEntropyLogisticRegression().fit(xps.asarray(X), xps.asarray(y[:-1]))
    with pytest.raises(ValueError, match="class"):
        CrossEntropyLogisticRegression().fit(xps.asarray(X), xps.asarray(np.zeros_like(y)))
    weight = np.ones(len(y))
    weight[0] = -1.0
    with pytest.raises(ValueError, match=r"(?i)negative"):
        CrossEntropyLogisticRegression().fit(
            xps.asarray(X), xps.asarray(y), sample_weight=xps.asarray(weight)
        )


@pytest.mark.parametrize(
    "method", ["decision_function", "predict", "predict_proba", "predict_log_proba"]
)
def test_predicting_on_another_namespace_or_device_names_the_method(method):
    X, y = _binary()
    device = xps.Device("device1")
    model = CrossEntropyLogisticRegression().fit(
        xps.asarray(X, device=device), xps.asarray(y, device=device)
    )
    name = re.escape(f"CrossEntropyLogisticRegression.{method}()")
    with pytest.raises(ValueError, match=rf"{name} must use the same namespace"):
        getattr(model, method)(X)
    with pytest.raises(ValueError, match=rf"{name} must be on the device"):
        getattr(model, method)(xps.asarray(X))
    with pytest.raises(ValueError, match="fitted on 30 features"):
        getattr(model, method)(xps.asarray(X[:, :5], device=device))


def test_numpy_only_methods_refuse_by_name():
    from celr import CrossEntropyLogisticRegressionCV

    X, y = _binary()
    X_xp, y_xp = xps.asarray(X), xps.asarray(y)
    with pytest.raises(ValueError, match=r"partial_fit\(\) is not available on Array-API"):
        CrossEntropyLogisticRegression(solver="sgd").partial_fit(X_xp, y_xp, classes=[0, 1])
    with pytest.raises(ValueError, match=r"CV\.fit\(\) is not available on Array-API"):
        CrossEntropyLogisticRegressionCV(Cs=2, cv=2).fit(X_xp, y_xp)


def test_a_model_file_holds_numpy_arrays(tmp_path):
    import celr

    X, y = _binary()
    model = CrossEntropyLogisticRegression().fit(xps.asarray(X), xps.asarray(y))
    celr.save(model, tmp_path / "model.skops")
    loaded = celr.load(tmp_path / "model.skops")
    assert isinstance(loaded.coef_, np.ndarray) and namespace_of(model.coef_) == "array_api_strict"
    assert np.array_equal(loaded.coef_, host(model.coef_))
    assert np.array_equal(loaded.intercept_, host(model.intercept_))
    with sklearn.config_context(array_api_dispatch=False):
        assert np.array_equal(loaded.predict(X), host(model.predict(xps.asarray(X))))


# == scikit-learn's own array-API checks ===================================================
def _array_api_checks():
    from sklearn.utils.estimator_checks import _yield_array_api_checks

    return list(_yield_array_api_checks(CrossEntropyLogisticRegression()))


def _check_id(check) -> str:
    keywords = getattr(check, "keywords", {})
    name = getattr(check, "func", check).__name__
    return "-".join([name, *(str(v) for v in keywords.values())])


@pytest.mark.parametrize("check", _array_api_checks(), ids=_check_id)
def test_scikit_learn_array_api_checks(check):
    check("CrossEntropyLogisticRegression", CrossEntropyLogisticRegression())
