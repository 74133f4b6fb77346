"""CrossEntropyLogisticRegression as a user sees it: numerics, input types and behaviour."""

import pickle
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_classifier
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold, check_cv, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from celr import CrossEntropyLogisticRegression, SeparationWarning, cross_entropy_loss
from celr.solvers._cost import ProblemShape, lbfgs_budget
from tests.conftest import assert_same_model, read_only_dataset, reference_objective

Model = CrossEntropyLogisticRegression


def fit_recording(model, X, y, **fit_params):
    """Fit, returning every warning raised (RuntimeWarning included, not raised)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, y, **fit_params)
    return [w for w in caught if not issubclass(w.category, DeprecationWarning)]


def assert_fits_cleanly(model, X, y, **fit_params):
    """Fit, failing on any warning (ConvergenceWarning, RuntimeWarning, ...) and naming it."""
    caught = fit_recording(model, X, y, **fit_params)
    assert not caught, [f"{w.category.__name__}: {w.message}" for w in caught]
    return model


def sklearn_fit(X, y, tol=1e-12, sample_weight=None, **params):
    """sklearn's LogisticRegression; coefficients in celr's sum-to-zero representation."""
    ref = LogisticRegression(solver="newton-cholesky", tol=tol, max_iter=1000, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(X, y, sample_weight=sample_weight)
    coef, intercept = ref.coef_, ref.intercept_
    if coef.shape[0] > 1:
        coef, intercept = coef - coef.mean(axis=0), intercept - intercept.mean()
    return ref, coef, intercept


# == numerical extremes ====================================================================
def separable(n_classes):
    rng = np.random.default_rng(3)
    if n_classes == 2:
        X = rng.normal(size=(40, 2))
        return X, (X[:, 0] > 0).astype(int)
    centres = np.array([[10.0, 0.0], [0.0, 10.0], [-10.0, -10.0]])
    y = np.repeat([0, 1, 2], 20)
    return rng.normal(size=(60, 2)) + centres[y], y


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_separable_data_without_penalty_warns_and_stays_finite(solver, n_classes):
    X, y = separable(n_classes)
    model = Model(C=np.inf, solver=solver)
    caught = fit_recording(model, X, y)
    assert [w.category for w in caught] == [SeparationWarning]
    message = str(caught[0].message)
    assert "completely separated" in message and "x0" in message
    assert "finite C" in message
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))
    assert model.score(X, y) == 1.0
    assert np.all(np.isfinite(model.predict_log_proba(X)))


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("name", ["binary", "multiclass"])
def test_non_separable_data_without_penalty_matches_sklearn(name, solver):
    X, y = read_only_dataset(name)
    model = Model(C=np.inf, solver=solver)
    assert_fits_cleanly(model, X, y)
    ref, _, _ = sklearn_fit(X, y, tol=1e-10, C=np.inf)
    assert_allclose(model.predict_proba(X), ref.predict_proba(X), atol=1e-6)


def test_logits_of_1000_give_exact_probabilities_and_finite_logs():
    X, y = read_only_dataset("binary")
    model = Model().fit(X, y)
    model.coef_ = np.array([[1000.0, 0.0, 0.0]])
    model.intercept_ = np.array([0.0])
    X_test = np.array([[1.0, 0, 0], [-1.0, 0, 0], [0.0, 0, 0]])
    proba = model.predict_proba(X_test)
    assert_array_equal(proba, [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    log_half = np.log(0.5)
    assert_array_equal(
        model.predict_log_proba(X_test), [[-1000.0, 0.0], [0.0, -1000.0], [log_half, log_half]]
    )
    assert model.loss(X_test[:2], [0, 1]) == pytest.approx(1000.0)


def test_huge_features_give_saturated_but_finite_predictions():
    for name in ["binary", "multiclass"]:
        X, y = read_only_dataset(name)
        model = Model().fit(X, y)
        X_huge = X * 1e6
        proba = model.predict_proba(X_huge)
        log_proba = model.predict_log_proba(X_huge)
        assert np.all(np.isfinite(log_proba))
        assert log_proba.min() < -1000
        assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-15)
        assert proba.max() == 1.0
        assert np.mean(proba.min(axis=1) == 0.0) > 0.9
        assert np.isfinite(model.loss(X_huge, y))


def test_multiclass_logits_of_1000():
    X, y = read_only_dataset("multiclass")
    model = Model().fit(X, y)
    model.coef_ = np.array([[1000.0, 0, 0], [0.0, 0, 0], [-1000.0, 0, 0]])
    model.intercept_ = np.zeros(3)
    X_test = np.array([[1.0, 0, 0], [-1.0, 0, 0]])
    assert_array_equal(model.predict_proba(X_test), [[1, 0, 0], [0, 0, 1]])
    assert_allclose(model.predict_log_proba(X_test), [[0, -1000, -2000], [-2000, -1000, 0]])
    assert_array_equal(model.predict(X_test), [0, 2])


@pytest.mark.parametrize("scale", [1e10, 1e150, 1e-150])
def test_extreme_feature_scales_fit_cleanly(scale):
    X, y = read_only_dataset("breast_cancer")
    model = Model()
    assert_fits_cleanly(model, X * scale, y)
    assert np.all(np.isfinite(model.coef_)) and np.isfinite(model.intercept_[0])
    # Scaling X by s and C by 1/s^2 is the same problem with coefficients divided by s.
    equivalent = Model(C=1.0 / scale**2)
    assert_fits_cleanly(equivalent, X * scale, y)
    reference = Model().fit(X, y)
    assert_allclose(equivalent.coef_ * scale, reference.coef_, rtol=1e-8)
    assert_allclose(equivalent.predict_proba(X * scale), reference.predict_proba(X), atol=1e-10)


@pytest.mark.parametrize("scale", [1e10, 1e150, 1e-150])
@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("name", ["binary", "multiclass"])
def test_unpenalised_predictions_do_not_depend_on_feature_scale(name, solver, scale):
    X, y = read_only_dataset(name)
    reference = Model(C=np.inf, solver=solver).fit(X, y)
    model = Model(C=np.inf, solver=solver)
    assert_fits_cleanly(model, X * scale, y)
    assert_allclose(model.predict_proba(X * scale), reference.predict_proba(X), atol=1e-6)
    assert_allclose(model.coef_ * scale, reference.coef_, rtol=1e-4)


def test_lbfgs_on_tiny_features_does_not_warn():
    X, y = read_only_dataset("breast_cancer")
    assert_fits_cleanly(Model(solver="lbfgs"), X * 1e-150, y)


@pytest.mark.parametrize(
    "container",
    [
        np.asarray,
        sp.csr_array,
        sp.csc_matrix,
    ],
)
@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("name", ["binary", "multiclass"])
def test_constant_column_with_intercept_matches_sklearn(name, solver, container):
    X, y = read_only_dataset(name)
    X_const = np.column_stack([X, np.full(len(y), 3.7)])
    model = Model(solver=solver)
    assert_fits_cleanly(model, container(X_const), y)
    _, coef, intercept = sklearn_fit(X_const, y, tol=1e-10)
    assert_allclose(model.coef_, coef, atol=1e-6)
    assert_allclose(model.intercept_, intercept, atol=1e-6)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_max_iter_1_warns_once_naming_max_iter(solver):
    X, y = read_only_dataset("breast_cancer")
    model = Model(max_iter=1, solver=solver)
    caught = fit_recording(model, X, y)
    assert [w.category for w in caught] == [ConvergenceWarning]
    assert "max_iter=1" in str(caught[0].message)
    assert model.n_iter_ == 1
    assert model.stop_crit_ > model.tol


def test_warnings_point_at_the_callers_code():
    X, y = read_only_dataset("breast_cancer")
    caught = fit_recording(Model(max_iter=1), X, y)
    caught += fit_recording(Model(C=np.inf), *separable(2))
    assert len(caught) == 2
    assert all(w.filename == __file__ for w in caught), [w.filename for w in caught]


# == behaviour =============================================================================
@pytest.mark.parametrize("name", ["binary", "multiclass"])
def test_output_shapes_and_probability_rows(name):
    X, y = read_only_dataset(name)
    n, d = X.shape
    k = len(np.unique(y))
    model = Model().fit(X, y)
    rows = 1 if k == 2 else k
    assert model.coef_.shape == (rows, d)
    assert model.intercept_.shape == (rows,)
    assert model.decision_function(X).shape == ((n,) if k == 2 else (n, k))
    proba = model.predict_proba(X)
    assert proba.shape == (n, k)
    assert np.all((proba >= 0) & (proba <= 1))
    assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-14)
    log_proba = model.predict_log_proba(X)
    assert log_proba.shape == (n, k)
    mask = proba > 1e-10
    assert_allclose(log_proba[mask], np.log(proba[mask]), rtol=1e-12, atol=1e-14)
    assert_array_equal(model.predict(X), model.classes_[proba.argmax(axis=1)])
    assert model.n_features_in_ == d


def test_binary_decision_function_is_log_odds_of_classes_1():
    X, y = read_only_dataset("binary")
    labels = np.where(y == 1, "yes", "no")
    model = Model().fit(X, labels)
    assert model.classes_[1] == "yes"
    scores = model.decision_function(X)
    assert_allclose(expit(scores), model.predict_proba(X)[:, 1], rtol=1e-14)
    assert_allclose(scores, X @ model.coef_[0] + model.intercept_[0], rtol=1e-12)
    assert_array_equal(model.predict(X), np.where(scores > 0, "yes", "no"))


@pytest.mark.parametrize("name", ["binary", "multiclass"])
def test_loss_is_mean_cross_entropy(name):
    X, y = read_only_dataset(name)
    model = Model(C=0.5).fit(X, y)
    proba = model.predict_proba(X)
    assert model.loss(X, y) == pytest.approx(log_loss(y, proba), rel=1e-12)
    p_true = proba[:, 1] if len(model.classes_) == 2 else proba
    assert model.loss(X, y) == pytest.approx(cross_entropy_loss(y, p_true).mean(), rel=1e-12)
    w = np.random.default_rng(0).uniform(0, 3, len(y))
    assert model.loss(X, y, sample_weight=w) == pytest.approx(
        log_loss(y, proba, sample_weight=w), rel=1e-12
    )
    # On the training data with C=inf, the loss is the objective the solver minimised.
    unpenalised = Model(C=np.inf).fit(X, y)
    assert unpenalised.loss(X, y) == pytest.approx(unpenalised.loss_curve_[-1], rel=1e-12)


def test_score_is_accuracy():
    X, y = read_only_dataset("multiclass")
    model = Model().fit(X, y)
    w = np.arange(len(y)) % 4
    assert model.score(X, y) == accuracy_score(y, model.predict(X))
    expected = accuracy_score(y, model.predict(X), sample_weight=w)
    assert model.score(X, y, sample_weight=w) == expected
    assert 0.5 < model.score(X, y) < 1.0


@pytest.mark.parametrize("name", ["binary", "multiclass"])
def test_integer_weights_equal_repeated_rows(name):
    X, y = read_only_dataset(name)
    w = np.random.default_rng(4).integers(1, 4, len(y))
    weighted = Model(tol=1e-12).fit(X, y, sample_weight=w)
    repeated = Model(tol=1e-12).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    assert_same_model(weighted, repeated, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", ["binary", "multiclass"])
def test_zero_weights_equal_dropped_rows(name):
    X, y = read_only_dataset(name)
    w = np.ones(len(y))
    w[::4] = 0.0
    weighted = Model(tol=1e-12).fit(X, y, sample_weight=w)
    dropped = Model(tol=1e-12).fit(X[w > 0], y[w > 0])
    assert_same_model(weighted, dropped, rtol=1e-8, atol=1e-10)


def test_class_weight_dict_equals_sample_weight():
    X, y = read_only_dataset("multiclass")
    class_weight = {0: 0.5, 1: 2.0, 2: 1.5}
    by_class = Model(class_weight=class_weight).fit(X, y)
    by_row = Model().fit(X, y, sample_weight=np.array([class_weight[c] for c in y]))
    assert_same_model(by_class, by_row, rtol=1e-12, atol=1e-14)
    # Both multiply: class_weight times sample_weight.
    w = np.linspace(0.5, 1.5, len(y))
    both = Model(class_weight=class_weight).fit(X, y, sample_weight=w)
    product = Model().fit(X, y, sample_weight=w * [class_weight[c] for c in y])
    assert_same_model(both, product, rtol=1e-12, atol=1e-14)


def test_balanced_class_weight_equals_sklearn_balanced_weights():
    X, y = read_only_dataset("multiclass")
    keep = (y != 2) | (np.arange(len(y)) % 4 == 0)  # make class 2 rare
    X, y = X[keep], y[keep]
    balanced = Model(class_weight="balanced").fit(X, y)
    explicit = Model().fit(X, y, sample_weight=compute_sample_weight("balanced", y))
    assert_same_model(balanced, explicit, rtol=1e-12, atol=1e-14)
    assert not np.allclose(balanced.coef_, Model().fit(X, y).coef_, atol=1e-3)


@pytest.mark.parametrize("factor", [1e-3, 7.5, 1e4])
def test_scaling_all_weights_is_scaling_C(factor):
    """The penalty is 1/(C S): multiplying every weight by k is multiplying C by k."""
    X, y = read_only_dataset("multiclass")
    w = np.random.default_rng(5).uniform(0.5, 2.0, len(y))
    scaled = Model(C=1.0, tol=1e-12).fit(X, y, sample_weight=factor * w)
    assert_same_model(scaled, Model(C=factor, tol=1e-12).fit(X, y, sample_weight=w), rtol=1e-7)
    assert not np.allclose(scaled.coef_, Model(C=1.0).fit(X, y, sample_weight=w).coef_)
    _, coef, intercept = sklearn_fit(X, y, C=1.0, sample_weight=factor * w)
    assert_allclose(scaled.coef_, coef, rtol=1e-5, atol=1e-7)
    assert_allclose(scaled.intercept_, intercept, rtol=1e-5, atol=1e-7)
    # Without a penalty, the weights' scale does not matter at all.
    free = Model(C=np.inf, tol=1e-12).fit(X, y, sample_weight=factor * w)
    assert_same_model(free, Model(C=np.inf, tol=1e-12).fit(X, y, sample_weight=w), rtol=1e-7)


@pytest.mark.parametrize("C", [0.1, 1.0, 10.0])
@pytest.mark.parametrize("name", ["breast_cancer", "iris", "wine"])
def test_same_optimum_as_sklearn(name, C):
    X, y = read_only_dataset(name)
    model = Model(C=C).fit(X, y)
    _, coef, intercept = sklearn_fit(X, y, C=C)
    assert_allclose(model.coef_, coef, rtol=1e-5, atol=1e-7)
    assert_allclose(model.intercept_, intercept, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("class_weight", ["balanced", "dict"])
@pytest.mark.parametrize("name", ["breast_cancer", "iris", "wine"])
def test_same_weighted_optimum_as_sklearn(name, class_weight):
    X, y = read_only_dataset(name)
    if class_weight == "dict":
        class_weight = {c: 1.0 + i for i, c in enumerate(np.unique(y))}
    w = np.random.default_rng(0).integers(0, 4, len(y)).astype(float)
    model = Model(C=1.0, class_weight=class_weight).fit(X, y, sample_weight=w)
    if class_weight == "balanced":
        # scikit-learn >= 1.7 balances the sample-weighted class totals (1.6 ignored the
        # weights there); celr does so on every version, so spell the weights out.
        classes, codes = np.unique(y, return_inverse=True)
        totals = np.bincount(codes, weights=w)
        class_weight = dict(zip(classes, totals.sum() / (len(classes) * totals), strict=True))
    _, coef, intercept = sklearn_fit(X, y, C=1.0, class_weight=class_weight, sample_weight=w)
    assert_allclose(model.coef_, coef, rtol=1e-5, atol=1e-7)
    assert_allclose(model.intercept_, intercept, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["breast_cancer", "iris"])
def test_fit_intercept_false(name):
    X, y = read_only_dataset(name)
    model = Model(fit_intercept=False).fit(X, y)
    assert_array_equal(model.intercept_, np.zeros_like(model.intercept_))
    _, coef, _ = sklearn_fit(X, y, fit_intercept=False)
    assert_allclose(model.coef_, coef, rtol=1e-5, atol=1e-7)
    assert_allclose(model.decision_function(X), np.squeeze(X @ model.coef_.T), rtol=1e-12)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("name", ["binary", "iris"])
def test_warm_start_resumes_from_previous_coefficients(name, solver):
    X, y = read_only_dataset(name)
    model = Model(warm_start=True, solver=solver).fit(X, y)
    first_coef, final_objective = model.coef_.copy(), model.loss_curve_[-1]
    assert model.n_iter_ > 1
    model.fit(X, y)
    assert model.n_iter_ <= 1
    assert model.loss_curve_[0] == pytest.approx(final_objective, rel=1e-12)
    assert_allclose(model.coef_, first_coef, rtol=1e-6, atol=1e-8)
    # A different C starts from the old optimum and still reaches the new one.
    model.set_params(C=0.05).fit(X, y)
    assert model.loss_curve_[0] > model.loss_curve_[-1]
    assert_same_model(model, Model(C=0.05, solver=solver).fit(X, y), rtol=1e-5, atol=1e-6)


def test_refit_without_warm_start_is_a_fresh_fit():
    X, y = read_only_dataset("iris")
    model = Model().fit(X, y)
    coef, history = model.coef_.copy(), model.loss_curve_.copy()
    model.fit(X[::-1][:60], y[::-1][:60])  # something else in between
    model.fit(X, y)
    assert_array_equal(model.coef_, coef)
    assert_array_equal(model.loss_curve_, history)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("name", ["binary", "multiclass", "breast_cancer", "wine"])
def test_loss_curve_is_non_increasing(name, solver):
    X, y = read_only_dataset(name)
    model = Model(solver=solver, tol=1e-6).fit(X, y)
    curve = model.loss_curve_
    assert len(curve) == model.n_iter_ + 1
    assert np.all(np.diff(curve) <= 1e-12 * np.abs(curve[:-1]))
    assert curve[-1] < curve[0]


@pytest.mark.parametrize("name", ["breast_cancer", "iris", "wine", "digits"])
def test_default_fit_converges_without_warning(name):
    """Raw features need no scaling: sklearn's default lbfgs warns on these."""
    X, y = read_only_dataset(name)
    model = Model()
    assert_fits_cleanly(model, X, y)
    assert model.stop_crit_ <= model.tol
    assert len(model.loss_curve_) == model.n_iter_ + 1
    if name == "digits":  # a Hessian costs 12 gradients: L-BFGS, handing over to Newton
        shape = ProblemShape.of(X, len(model.classes_), True)
        assert model.solver_ == "lbfgs"
        assert model.n_iter_ < lbfgs_budget(shape) + 30
    else:
        assert model.solver_ == "newton"
        assert model.n_iter_ < 30


def test_verbose_2_prints_one_line_per_iteration(capsys):
    X, y = read_only_dataset("breast_cancer")
    model = Model(verbose=2).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == model.n_iter_ > 0
    for i, line in enumerate(lines, start=1):
        assert re.match(rf"\[celr\] iter +{i} +objective", line), line
    Model(verbose=0).fit(X, y)
    assert capsys.readouterr() == ("", "")


def test_verbose_1_draws_a_progress_bar_on_stderr(capsys):
    X, y = read_only_dataset("breast_cancer")
    model = Model(verbose=1).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"celr newton: {model.n_iter_}iter" in captured.err
    assert "objective=" in captured.err and "optimality=" in captured.err


def test_show_progress_draws_only_fits_longer_than_its_delay(capsys):
    from celr._progress import show_progress

    X, y = read_only_dataset("breast_cancer")
    with show_progress(delay=60.0):
        Model().fit(X, y)
    assert capsys.readouterr() == ("", "")
    with show_progress(delay=0.0):
        Model(solver="lbfgs").fit(X, y)
    assert "celr lbfgs" in capsys.readouterr().err
    Model().fit(X, y)  # outside the block: quiet again
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "gd", "sgd"])
def test_ctrl_c_keeps_the_best_weights_so_far_and_warns(solver, monkeypatch):
    """Ctrl-C arrives as KeyboardInterrupt inside whatever the solver is computing; here,
    deterministically, in the 6th gradient evaluation."""
    from celr._objective import LogisticObjective

    X, y = read_only_dataset("breast_cancer")
    original = LogisticObjective.value_grad
    calls = []

    def interrupted_value_grad(self, coef):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return original(self, coef)

    monkeypatch.setattr(LogisticObjective, "value_grad", interrupted_value_grad)
    model = Model(solver=solver, max_iter=50)
    with pytest.warns(ConvergenceWarning, match=r"interrupted \(Ctrl-C\)"):
        model.fit(X, y)
    monkeypatch.setattr(LogisticObjective, "value_grad", original)
    assert 0 <= model.n_iter_ < 6 and len(model.loss_curve_) == model.n_iter_
    assert model._likelihood is None and model._information is None
    kept = reference_objective(X, y, model.coef_, model.intercept_, model.C)
    with pytest.warns(ConvergenceWarning, match="max_iter=0"):
        start = Model(max_iter=0).fit(X, y)  # the fit's starting point
    assert kept <= reference_objective(X, y, start.coef_, start.intercept_, model.C) + 1e-12
    if model.n_iter_:  # the best iterate's weights, not the last one's
        assert kept == pytest.approx(min(model.loss_curve_), rel=1e-9)


def test_pipeline_grid_search_on_dataframe():
    data = load_breast_cancer(as_frame=True)
    pipe = make_pipeline(StandardScaler(), Model())
    assert is_classifier(Model()) and is_classifier(pipe)
    assert isinstance(check_cv(3, data.target, classifier=is_classifier(pipe)), StratifiedKFold)
    grid = {"crossentropylogisticregression__C": [1e-3, 1.0, 1e3]}
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(data.data, data.target)
    assert search.best_params_ == {"crossentropylogisticregression__C": 1.0}
    assert search.best_score_ > 0.95
    assert_array_equal(search.best_estimator_.feature_names_in_, data.feature_names)
    assert search.predict(data.data.iloc[:5]).shape == (5,)


def test_cross_val_score():
    X, y = read_only_dataset("iris")
    scores = cross_val_score(Model(), X, y, cv=5)
    assert scores.shape == (5,)
    assert scores.mean() > 0.9


def test_clone_pickle_and_repr():
    X, y = read_only_dataset("multiclass")
    model = Model(C=0.3, tol=1e-9, class_weight="balanced", solver="lbfgs").fit(X, y)
    assert clone(model).get_params() == model.get_params()
    assert not hasattr(clone(model), "coef_")
    restored = pickle.loads(pickle.dumps(model))
    assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    assert_array_equal(restored.classes_, model.classes_)
    text = repr(model)
    assert text.startswith("CrossEntropyLogisticRegression(")
    assert "C=0.3" in text and "solver='lbfgs'" in text
    assert repr(Model()) == "CrossEntropyLogisticRegression()"


def test_classifier_mixin_comes_before_base_estimator():
    mro = Model.__mro__
    assert mro.index(ClassifierMixin) < mro.index(BaseEstimator)
    assert Model().__sklearn_tags__().estimator_type == "classifier"
    assert Model().__sklearn_tags__().input_tags.sparse


def test_random_state_does_not_change_the_fit():
    X, y = read_only_dataset("binary")
    a = Model(random_state=0).fit(X, y)
    b = Model(random_state=np.random.RandomState(123)).fit(X, y)
    assert_array_equal(a.coef_, b.coef_)
