"""l1_min_c and regularization_path against independent computations and cold fits.

The objective, conftest's reference written independently of celr (numpy and scipy only)::

    f(W, b) = (1/S) sum_i s_i CE_i + 1/(C S) ((1 - r)/2 ||W||^2 + r ||W||_1)

At the zero-weight model (with the optimal intercepts, i.e. the weighted class shares as
probabilities) zero is optimal for every weight iff ``|sum_i s_i (p_k - y_ik) x_ij| <= r / C``
for all ``j, k``, which gives the reference ``l1_min_c`` below.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from celr import CrossEntropyLogisticRegression, RegularizationPath, l1_min_c, regularization_path
from tests.conftest import dataset as shared_dataset
from tests.conftest import reference_gradient, reference_objective, reference_row_weights

pytestmark = pytest.mark.filterwarnings("error")

# -- data and independent references ------------------------------------------------------


def dataset(name):
    """conftest's data sets, plus ``<name>_unbalanced``: unequal class shares, so the
    optimal intercepts of the zero model are not 0."""
    if not name.endswith("_unbalanced"):
        return shared_dataset(name)
    X, y = shared_dataset(name.removesuffix("_unbalanced"))
    keep = np.concatenate([np.arange(0, 50), np.arange(50, 80), np.arange(100, 110)])
    return X[keep], y[keep]


def reference_l1_min_c(
    X, y, *, l1_ratio=1.0, sample_weight=None, class_weight=None, fit_intercept=True
):
    """``l1_ratio / max_jk |sum_i s_i (p_k - y_ik) x_ij|`` at the zero-weight model."""
    classes, codes, s = reference_row_weights(y, sample_weight, class_weight)
    n_classes = len(classes)
    Y = np.eye(n_classes)[codes]
    if fit_intercept:
        p = (s @ Y) / s.sum()  # the optimal intercepts reproduce the weighted shares
    else:
        p = np.full(n_classes, 1.0 / n_classes)  # zero scores
    residual = s[:, None] * (p - Y)
    if n_classes == 2:
        residual = residual[:, 1:]  # one score, that of classes[1]
    gradient = np.asarray(X.T @ residual)  # (n_features, n_scores), times S
    largest = np.max(np.abs(gradient))
    return np.inf if largest == 0 else l1_ratio / largest


def objective(X, y, coef, intercept, C, l1_ratio, sample_weight=None):
    """The elastic-net objective of the module docstring, independent of celr."""
    return reference_objective(X, y, coef, intercept, C, sample_weight, l1_ratio=l1_ratio)


def kkt_residual(X, y, coef, intercept, C, l1_ratio):
    """Max-norm of the distance of ``-gradient`` to the subdifferential (unit weights)."""
    W = np.atleast_2d(np.asarray(coef, float))
    grad_W, grad_b = reference_gradient(X, y, W, intercept, C, l1_ratio)
    l1 = l1_ratio / (C * len(y))
    dist = np.where(W != 0, np.abs(grad_W + l1 * np.sign(W)), np.maximum(np.abs(grad_W) - l1, 0.0))
    return max(np.max(dist), np.max(np.abs(grad_b)))


def cold_fit(X, y, C, l1_ratio, sample_weight=None, **params):
    return CrossEntropyLogisticRegression(C=C, l1_ratio=l1_ratio, **params).fit(
        X, y, sample_weight=sample_weight
    )


def assert_same_optimum(X, y, coef, intercept, ref_coef, ref_intercept, C, l1_ratio, sw=None):
    """Coefficients equal to 1e-6, or objective values equal to 1e-9 relative (flat
    optima at large C pin the objective much better than the coefficients)."""
    if np.allclose(coef, ref_coef, rtol=0, atol=1e-6) and np.allclose(
        intercept, ref_intercept, rtol=0, atol=1e-6
    ):
        return
    f = objective(X, y, coef, intercept, C, l1_ratio, sw)
    f_ref = objective(X, y, ref_coef, ref_intercept, C, l1_ratio, sw)
    assert abs(f - f_ref) <= 1e-9 * abs(f_ref), (C, f, f_ref)


# -- l1_min_c -------------------------------------------------------------------------------

L1_MIN_C_CASES = [
    ("breast_cancer", {}),
    ("breast_cancer", {"fit_intercept": False}),
    ("breast_cancer", {"class_weight": "balanced"}),
    ("breast_cancer", {"sample_weight": "random"}),
    ("breast_cancer_scaled", {"sample_weight": "random", "class_weight": "balanced"}),
    ("wine_scaled", {}),
    ("wine_scaled", {"sample_weight": "random"}),
    ("wine", {"class_weight": "balanced"}),
    ("iris_unbalanced", {}),
    ("iris_unbalanced", {"fit_intercept": False}),
    ("iris_unbalanced", {"class_weight": {0: 1.0, 1: 3.0, 2: 0.5}}),
]


def _case(name, kwargs):
    X, y = dataset(name)
    kwargs = dict(kwargs)
    if kwargs.get("sample_weight") == "random":
        kwargs["sample_weight"] = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    return X, y, kwargs


def _fit_kwargs(kwargs):
    return {k: v for k, v in kwargs.items() if k != "sample_weight"}


@pytest.mark.parametrize(("name", "kwargs"), L1_MIN_C_CASES, ids=lambda v: str(v))
def test_l1_min_c_matches_independent_gradient(name, kwargs):
    X, y, kwargs = _case(name, kwargs)
    for l1_ratio in (1.0, 0.5, 0.1):
        got = l1_min_c(X, y, l1_ratio=l1_ratio, **kwargs)
        assert got == pytest.approx(reference_l1_min_c(X, y, l1_ratio=l1_ratio, **kwargs), 1e-10)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize(("name", "kwargs"), L1_MIN_C_CASES, ids=lambda v: str(v))
def test_l1_min_c_is_exact(name, kwargs, l1_ratio):
    X, y, kwargs = _case(name, kwargs)
    c_min = l1_min_c(X, y, l1_ratio=l1_ratio, **kwargs)
    sample_weight, fit_kwargs = kwargs.get("sample_weight"), _fit_kwargs(kwargs)
    at = cold_fit(X, y, c_min, l1_ratio, sample_weight, **fit_kwargs)
    assert np.count_nonzero(at.coef_) == 0
    above = cold_fit(X, y, 1.001 * c_min, l1_ratio, sample_weight, **fit_kwargs)
    assert np.count_nonzero(above.coef_) >= 1


def test_l1_min_c_scales_linearly_with_l1_ratio():
    for name, kwargs in L1_MIN_C_CASES:
        X, y, kwargs = _case(name, kwargs)
        full = l1_min_c(X, y, l1_ratio=1.0, **kwargs)
        assert l1_min_c(X, y, l1_ratio=0.5, **kwargs) == pytest.approx(0.5 * full, rel=1e-14)
        assert l1_min_c(X, y, l1_ratio=0.25, **kwargs) == pytest.approx(0.25 * full, rel=1e-14)


def test_l1_min_c_default_is_pure_l1_and_sparse_input_agrees():
    X, y = dataset("breast_cancer")
    assert l1_min_c(X, y) == l1_min_c(X, y, l1_ratio=1.0)
    assert l1_min_c(sp.csr_matrix(X), y) == pytest.approx(l1_min_c(X, y), rel=1e-12)


def test_l1_min_c_integer_weights_equal_repeated_rows():
    X, y = dataset("wine_scaled")
    counts = np.random.default_rng(1).integers(0, 4, len(y))
    weighted = l1_min_c(X, y, sample_weight=counts)
    repeated = l1_min_c(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    assert weighted == pytest.approx(repeated, rel=1e-12)


@pytest.mark.parametrize("l1_ratio", [0.0, -0.5, 1.5, np.nan])
def test_l1_min_c_rejects_l1_ratio_outside_0_1(l1_ratio):
    X, y = dataset("breast_cancer")
    with pytest.raises(ValueError, match="l1_ratio"):
        l1_min_c(X, y, l1_ratio=l1_ratio)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_l1_min_c_is_inf_when_no_feature_correlates(fit_intercept):
    X = np.full((20, 3), 2.5)  # constant features
    y = np.arange(20) % 2  # balanced, so without intercept the zero model is optimal too
    assert l1_min_c(X, y, fit_intercept=fit_intercept) == np.inf
    Xz = np.zeros((15, 2))
    y3 = np.arange(15) % 3
    assert l1_min_c(Xz, y3, l1_ratio=0.5, fit_intercept=fit_intercept) == np.inf


@pytest.mark.parametrize("value", [0.1, 1 / 3, 1000.1])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_l1_min_c_is_inf_for_constant_columns_with_weights(value, n_classes):
    # Random weights leave a rounding residue of ~1e-17 in a gradient that is zero in
    # exact arithmetic; it must be compared with its error bound, not with 0 (it gave
    # C = 9.4e15 here before).
    rng = np.random.default_rng(n_classes)
    X = np.full((66, 3), value)
    y = np.arange(66) % n_classes
    assert l1_min_c(X, y, sample_weight=rng.random(66)) == np.inf


def test_l1_min_c_rejects_one_class():
    X, y = dataset("breast_cancer")
    with pytest.raises(ValueError, match="one class"):
        l1_min_c(X, np.zeros_like(y))


# -- regularization_path: agreement with cold fits ----------------------------------------

PATH_CASES = [
    # (data set, l1_ratio, Cs relative to l1_min_c for l1_ratio > 0, else absolute)
    ("breast_cancer", 0.0, np.logspace(-3, 3, 5)),
    ("breast_cancer", 1.0, np.logspace(0, 4, 5)),
    ("breast_cancer", 0.5, np.logspace(0, 4, 5)),
    ("breast_cancer_scaled", 1.0, np.logspace(0, 2.5, 5)),
    ("wine_scaled", 0.0, np.logspace(-3, 3, 5)),
    ("wine_scaled", 1.0, np.logspace(0, 4, 5)),
    ("wine_scaled", 0.5, np.logspace(0, 4, 5)),
    ("iris_unbalanced", 0.3, np.logspace(0, 3, 4)),
]


def _grid(X, y, l1_ratio, relative):
    return relative if l1_ratio == 0 else relative * l1_min_c(X, y, l1_ratio=l1_ratio)


@pytest.mark.parametrize(("name", "l1_ratio", "relative"), PATH_CASES, ids=lambda v: str(v))
def test_path_points_equal_cold_fits(name, l1_ratio, relative):
    X, y = dataset(name)
    Cs = _grid(X, y, l1_ratio, relative)
    path = regularization_path(X, y, Cs=Cs, l1_ratio=l1_ratio)
    np.testing.assert_array_equal(path.Cs, Cs)
    cold_iter = 0
    for k, C in enumerate(path.Cs):
        cold = cold_fit(X, y, C, l1_ratio)
        cold_iter += cold.n_iter_
        assert_same_optimum(
            X, y, path.coefs[k], path.intercepts[k], cold.coef_, cold.intercept_, C, l1_ratio
        )
        if l1_ratio > 0 and name.endswith("_scaled"):
            # In standardised units celr's stopping rule is this test's KKT residual.
            assert kkt_residual(X, y, path.coefs[k], path.intercepts[k], C, l1_ratio) < 1e-7
    # Warm starts pay: fewer iterations along the path than cold fits at the same Cs.
    assert path.n_iter.sum() < cold_iter


@pytest.mark.parametrize("name", ["breast_cancer", "wine_scaled"])
def test_l1_path_starts_at_zero_and_ends_nonzero(name):
    X, y = dataset(name)
    path = regularization_path(X, y, Cs=5, l1_ratio=1.0)
    assert path.Cs[0] == pytest.approx(l1_min_c(X, y, l1_ratio=1.0), rel=1e-12)
    assert path.n_nonzero[0] == 0
    assert np.all(path.coefs[0] == 0)
    assert path.n_nonzero[-1] > 0
    np.testing.assert_array_equal(path.n_nonzero, [np.count_nonzero(coef) for coef in path.coefs])
    assert path.n_nonzero.shape == (5,)


def test_breast_cancer_l1_path_support_grows():
    X, y = dataset("breast_cancer")
    Cs = l1_min_c(X, y) * np.logspace(0, 6, 7)
    path = regularization_path(X, y, Cs=Cs, l1_ratio=1.0)
    # Lasso paths may drop variables in general; on this one the support only grows.
    assert path.n_nonzero[0] == 0
    assert np.all(np.diff(path.n_nonzero) >= 0)
    assert path.n_nonzero[-1] > 10


def test_default_grids():
    X, y = dataset("wine_scaled")
    l2 = regularization_path(X, y, Cs=4)
    np.testing.assert_allclose(l2.Cs, np.logspace(-4, 4, 4), rtol=1e-14)
    assert l2.l1_ratio == 0.0
    assert len(regularization_path(X, y).Cs) == 10
    for l1_ratio in (1.0, 0.5):
        path = regularization_path(X, y, Cs=3, l1_ratio=l1_ratio)
        low = l1_min_c(X, y, l1_ratio=l1_ratio)
        # Documented: 4 decades up from l1_min_c (glmnet's lambda.min.ratio of 1e-4).
        np.testing.assert_allclose(path.Cs, low * np.logspace(0, 4, 3), rtol=1e-12)
        assert path.l1_ratio == l1_ratio
        assert np.all(np.diff(path.Cs) > 0)
    single = regularization_path(X, y, Cs=1, l1_ratio=1.0)
    assert single.Cs == pytest.approx([l1_min_c(X, y)], rel=1e-12)
    assert single.n_nonzero.tolist() == [0]


def test_unsorted_cs_are_sorted_with_their_coefficients():
    X, y = dataset("wine_scaled")
    path = regularization_path(X, y, Cs=[1.0, 0.01, 100.0, 0.1], l1_ratio=0.5)
    np.testing.assert_array_equal(path.Cs, [0.01, 0.1, 1.0, 100.0])
    for k, C in enumerate(path.Cs):
        cold = cold_fit(X, y, C, 0.5)
        assert_same_optimum(
            X, y, path.coefs[k], path.intercepts[k], cold.coef_, cold.intercept_, C, 0.5
        )
    nested = regularization_path(X, y, Cs=np.array([[10.0, 0.1]]))
    np.testing.assert_array_equal(nested.Cs, [0.1, 10.0])


@pytest.mark.parametrize(("name", "n_scores"), [("breast_cancer", 1), ("wine_scaled", 3)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_shapes_and_types(name, n_scores, fit_intercept):
    X, y = dataset(name)
    path = regularization_path(X, y, Cs=[0.01, 0.1, 1.0], fit_intercept=fit_intercept)
    assert isinstance(path, RegularizationPath)
    assert path.coefs.shape == (3, n_scores, X.shape[1])
    assert path.intercepts.shape == (3, n_scores)
    assert path.n_iter.shape == (3,)
    assert path.n_iter.dtype.kind == "i"
    assert np.all(path.n_iter >= 1)
    np.testing.assert_array_equal(path.classes, np.unique(y))
    assert isinstance(path.l1_ratio, float)
    if not fit_intercept:
        assert np.all(path.intercepts == 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        path.Cs = np.ones(3)


def test_string_labels_and_classes():
    X, y = dataset("iris_unbalanced")
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    path = regularization_path(X, labels, Cs=[0.1, 1.0])
    np.testing.assert_array_equal(path.classes, ["setosa", "versicolor", "virginica"])
    ref = regularization_path(X, y, Cs=[0.1, 1.0])
    np.testing.assert_array_equal(path.coefs, ref.coefs)


@pytest.mark.parametrize("l1_ratio", [0.0, 1.0])
@pytest.mark.parametrize("name", ["breast_cancer_scaled", "wine_scaled"])
def test_integer_sample_weight_equals_repeated_rows(name, l1_ratio):
    X, y = dataset(name)
    counts = np.random.default_rng(2).integers(0, 4, len(y))
    Xr, yr = np.repeat(X, counts, axis=0), np.repeat(y, counts)
    # An integer Cs starts the L1 grid at l1_min_c, which must see the weights; the
    # grids span 3 decades here (far up an 8-decade grid the data are nearly separated
    # and the objective, near 0, pins nothing down).
    Cs = 4 if l1_ratio > 0 else [0.01, 0.1, 1.0, 10.0]
    grid = regularization_path(X, y, Cs=1, l1_ratio=1.0, sample_weight=counts).Cs
    assert grid == pytest.approx(regularization_path(Xr, yr, Cs=1, l1_ratio=1.0).Cs, rel=1e-12)
    if l1_ratio > 0:
        Cs = grid[0] * np.logspace(0, 3, 4)
    weighted = regularization_path(X, y, Cs=Cs, l1_ratio=l1_ratio, sample_weight=counts)
    repeated = regularization_path(Xr, yr, Cs=Cs, l1_ratio=l1_ratio)
    assert weighted.n_nonzero[0] == (X.shape[1] * weighted.coefs.shape[1] if l1_ratio == 0 else 0)
    unweighted = regularization_path(X, y, Cs=weighted.Cs, l1_ratio=l1_ratio)
    for k, C in enumerate(weighted.Cs):
        assert_same_optimum(
            X, y, weighted.coefs[k], weighted.intercepts[k], repeated.coefs[k],
            repeated.intercepts[k], C, l1_ratio, counts,
        )  # fmt: skip
    # The weights matter: the unweighted path is a different one.
    assert np.max(np.abs(unweighted.coefs[-1] - weighted.coefs[-1])) > 1e-3


def test_class_weight_and_no_intercept_paths_equal_cold_fits():
    X, y = dataset("iris_unbalanced")
    Cs = l1_min_c(X, y, class_weight="balanced") * np.logspace(0, 3, 4)
    path = regularization_path(X, y, Cs=Cs, l1_ratio=1.0, class_weight="balanced")
    assert path.n_nonzero[0] == 0
    balanced = reference_row_weights(y, class_weight="balanced")[2]
    for k, C in enumerate(Cs):
        cold = cold_fit(X, y, C, 1.0, class_weight="balanced")
        assert_same_optimum(
            X, y, path.coefs[k], path.intercepts[k], cold.coef_, cold.intercept_, C, 1.0,
            balanced,
        )  # fmt: skip
    path = regularization_path(X, y, Cs=[0.1, 10.0], fit_intercept=False)
    for k, C in enumerate(path.Cs):
        cold = cold_fit(X, y, C, 0.0, fit_intercept=False)
        np.testing.assert_allclose(path.coefs[k], cold.coef_, atol=1e-6, rtol=0)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_solver_choice_reaches_the_same_path(solver):
    X, y = dataset("wine_scaled")
    Cs = l1_min_c(X, y) * np.logspace(0, 2, 3)
    path = regularization_path(X, y, Cs=Cs, l1_ratio=1.0, solver=solver, tol=1e-10)
    ref = regularization_path(X, y, Cs=Cs, l1_ratio=1.0, solver="newton", tol=1e-10)
    np.testing.assert_allclose(path.coefs, ref.coefs, atol=1e-6, rtol=0)
    gd = regularization_path(X, y, Cs=[0.01, 0.1], solver="gd", max_iter=10_000)
    ref = regularization_path(X, y, Cs=[0.01, 0.1])
    np.testing.assert_allclose(gd.coefs, ref.coefs, atol=1e-5, rtol=0)


def test_sparse_input_gives_the_dense_path():
    X, y = dataset("wine_scaled")
    Cs = l1_min_c(X, y) * np.logspace(0, 2, 3)
    dense = regularization_path(X, y, Cs=Cs, l1_ratio=1.0)
    sparse = regularization_path(sp.csr_matrix(X), y, Cs=Cs, l1_ratio=1.0)
    np.testing.assert_allclose(sparse.coefs, dense.coefs, atol=1e-7, rtol=0)


@pytest.mark.parametrize(
    "Cs", [[0.0], [-1.0], [], [1.0, -1.0], [0.1, 0.0, 1.0], [np.nan], 0, -3, np.array([])]
)
def test_bad_cs_raise(Cs):
    X, y = dataset("breast_cancer")
    with pytest.raises(ValueError, match="Cs"):
        regularization_path(X, y, Cs=Cs)


def test_bad_l1_ratio_and_labels_raise():
    X, y = dataset("breast_cancer")
    with pytest.raises(ValueError):
        regularization_path(X, y, Cs=[1.0], l1_ratio=1.5)
    with pytest.raises(ValueError):
        regularization_path(X, y, Cs=[1.0], l1_ratio=-0.1)
    with pytest.raises(ValueError):
        regularization_path(X, y, Cs=3, l1_ratio=2.0)  # via l1_min_c
    with pytest.raises(ValueError, match="one class"):
        regularization_path(X, np.ones_like(y), Cs=[1.0])
    with pytest.raises(ValueError, match="sgd"):
        regularization_path(X, y, Cs=[1.0], l1_ratio=1.0, solver="sgd")


def test_integer_cs_with_l1_when_no_feature_correlates():
    X = np.full((20, 3), 2.5)
    y = np.arange(20) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            path = regularization_path(X, y, Cs=3, l1_ratio=1.0)
        except ValueError as exc:  # a clear refusal would do
            assert "nan" not in str(exc).lower()
        else:  # or a finite grid of all-zero models
            assert np.all(np.isfinite(path.Cs))
            assert np.all(path.n_nonzero == 0)


# -- scikit-learn reference ----------------------------------------------------------------


def test_l2_path_matches_scikit_learn():
    X, y = dataset("breast_cancer_scaled")
    Cs = np.logspace(-3, 1, 5)
    path = regularization_path(X, y, Cs=Cs)
    for k, C in enumerate(Cs):
        ref = LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(X, y)
        scale = np.linalg.norm(ref.coef_)
        assert np.linalg.norm(path.coefs[k] - ref.coef_) <= 1e-5 * scale, C
        assert abs(path.intercepts[k, 0] - ref.intercept_[0]) <= 1e-5 * max(1.0, scale), C
