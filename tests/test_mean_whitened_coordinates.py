"""L-BFGS's coordinates for fits without intercept: standardised, whitened along the mean.

Checked against the linear map itself (its Jacobian, built column by column from
``to_coef``), finite differences of the objective, and the independent reference
minimum of ``tests.conftest``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from celr import CrossEntropyLogisticRegression
from celr._objective import CoefLayout, LogisticObjective
from celr.solvers._coordinates import MeanWhitenedCoordinates, StandardizedCoordinates
from tests.conftest import (
    central_difference_gradient,
    reference_hessian,
    reference_minimum,
    reference_objective,
    reference_row_weights,
)

EPS = np.finfo(float).eps


def _nonnegative_sparse(n=400, d=30, n_classes=2, seed=0):
    """tf-idf-like rows: non-negative, a few entries each, so the mean dominates."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.2, random_state=seed, format="csr")
    X.data = rng.uniform(0.5, 2.0, size=X.nnz)
    signal = X @ rng.normal(size=d)
    y = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, n_classes + 1)[1:-1]))
    return X, y


def _coords(n_classes, seed=0):
    X, y = _nonnegative_sparse(n_classes=n_classes, seed=seed)
    weight = np.random.default_rng(seed).uniform(0.2, 3.0, size=len(y))
    objective = LogisticObjective(X, y, weight / weight.sum(), n_classes, False)
    _, scale = objective.feature_center_scale()
    base = StandardizedCoordinates(objective, np.zeros(X.shape[1]), scale)
    return X, objective, MeanWhitenedCoordinates(base, objective.feature_mean() / scale)


def _jacobian(coords, n_params):
    """d coef / d u, one column per unit vector (the map is linear)."""
    return np.column_stack([coords.to_coef(e) for e in np.eye(n_params)])


def test_feature_mean_is_the_weighted_column_mean():
    X, objective, _ = _coords(2)
    expected = objective.normalized_weight @ X.toarray()
    # A weighted sum of n entries: n * eps relative to the largest entry.
    bound = len(expected) * EPS * np.abs(X.data).max() * X.shape[0]
    np.testing.assert_allclose(objective.feature_mean(), expected, rtol=0, atol=bound)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_the_map_whitens_the_second_moment_along_the_mean(n_classes):
    # In the base units the second moment of the columns is I-like plus m m^T; the map
    # M must satisfy M (I + m m^T) M = I exactly (up to rounding).
    coords = _coords(n_classes)[2]
    mean = coords.mean
    d = len(mean)
    one_class = StandardizedCoordinates.identity(CoefLayout(2, d, False))
    M = _jacobian(MeanWhitenedCoordinates(one_class, mean), d)
    whitened = M @ (np.eye(d) + np.outer(mean, mean)) @ M
    bound = 50 * d * EPS * (1 + mean @ mean)
    np.testing.assert_allclose(whitened, np.eye(d), rtol=0, atol=bound)
    assert mean @ mean > 1.0  # the data have a mean direction worth whitening


@pytest.mark.parametrize("n_classes", [2, 3])
def test_maps_are_inverse_and_the_gradient_is_the_chain_rule(n_classes):
    _, objective, coords = _coords(n_classes)
    rng = np.random.default_rng(1)
    coef = rng.normal(scale=0.3, size=objective.n_params)
    J = _jacobian(coords, objective.n_params)
    u = coords.from_coef(coef)
    condition = np.linalg.norm(J, 2) * np.linalg.norm(np.linalg.inv(J), 2)
    bound = 50 * objective.n_params * EPS * condition * np.abs(coef).max()
    np.testing.assert_allclose(coords.to_coef(u), coef, rtol=0, atol=bound)
    _, grad = objective.value_grad(coef)
    bound = 50 * objective.n_params * EPS * np.linalg.norm(J, 2) * np.abs(grad).max()
    np.testing.assert_allclose(coords.gradient_to_u(grad), J.T @ grad, rtol=0, atol=bound)
    # ... and against central differences of the objective along u.
    numeric = central_difference_gradient(objective.value, coords, u)
    np.testing.assert_allclose(coords.gradient_to_u(grad), numeric, rtol=0, atol=1e-7)


def test_a_tiny_mean_is_the_identity_to_rounding():
    base = StandardizedCoordinates.identity(CoefLayout(2, 3, False))
    coords = MeanWhitenedCoordinates(base, np.full(3, 1e-100))
    # shrink -> -1/2, grow -> 1/2 as |m| -> 0 (expm1/log1p: no 0/0, no cancellation).
    assert coords.shrink == pytest.approx(-0.5, rel=4 * EPS)
    assert coords.grow == pytest.approx(0.5, rel=4 * EPS)
    zero = MeanWhitenedCoordinates(base, np.zeros(3))
    np.testing.assert_array_equal(zero.to_coef(np.arange(3.0)), np.arange(3.0))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_lbfgs_without_intercept_reaches_the_reference_optimum(n_classes):
    X, y = _nonnegative_sparse(n_classes=n_classes, seed=2)
    weight = np.random.default_rng(3).uniform(0.2, 3.0, size=len(y))
    model = CrossEntropyLogisticRegression(fit_intercept=False, solver="lbfgs", tol=1e-10)
    model.fit(X, y, sample_weight=weight)
    assert np.all(model.intercept_ == 0.0)
    dense = X.toarray()
    _, codes, s = reference_row_weights(y, weight)
    best = reference_minimum(dense, codes, s, n_classes, 1.0, 0.0, False)
    value = reference_objective(dense, y, model.coef_, model.intercept_, 1.0, weight)
    # The reference minimum is tight (gtol 1e-14); 1e-9 is far above both fits' rounding.
    assert (value - best) / best < 1e-9
    assert (value - best) / best > -1e-12


def _frequent_words(n=600, d=25, seed=5):
    """tf-idf-like rows plus four "stop words": in every row, with nearly equal weights;
    one label in six flipped (not separable)."""
    rng = np.random.default_rng(seed)
    X, y = _nonnegative_sparse(n, d, seed=seed)
    frequent = rng.uniform(0.8, 1.2, size=(n, 4)) * np.array([1.0, 0.7, 0.5, 0.3])
    y = np.where(rng.uniform(size=n) < 1 / 6, 1 - y, y)
    return sp.hstack([X, sp.csr_array(frequent)], format="csr"), y


def _condition_at_optimum(X, y, coords_list, C=1.0):
    """Condition numbers of the exact Hessian (the independent reference) at the optimum,
    in each of the given coordinates."""
    model = CrossEntropyLogisticRegression(C=C, fit_intercept=False, tol=1e-10).fit(X, y)
    hess = reference_hessian(X.toarray(), y, np.full(len(y), 1 / len(y)), model.coef_, [0.0])
    hess = hess[:-1, :-1] + np.eye(len(hess) - 1) / (C * len(y))  # no intercept
    conditions = []
    for coords in coords_list:
        J = _jacobian(coords, X.shape[1])
        conditions.append(np.linalg.cond(J.T @ hess @ J))
    return conditions


def _rms_and_spread_coordinates(X, y, C=1.0):
    objective = LogisticObjective(X, y, np.full(len(y), 1 / len(y)), 2, False)
    _, rms = objective.feature_center_scale()
    base = StandardizedCoordinates(objective, np.zeros(X.shape[1]), rms)
    in_rms = MeanWhitenedCoordinates(base, objective.feature_mean() / rms)
    l2 = 1.0 / (C * len(y))
    in_spread = MeanWhitenedCoordinates.without_intercept(
        objective, objective.feature_mean(), rms, l2
    )
    return objective, base, in_rms, in_spread


def test_whitening_lowers_the_condition_number_of_the_hessian():
    # In the base coordinates and in the whitened ones: the mean's eigenvalue is gone.
    X, y = _nonnegative_sparse(seed=4)
    _, base, in_rms, in_spread = _rms_and_spread_coordinates(X, y)
    unwhitened, whitened, spread = _condition_at_optimum(X, y, [base, in_rms, in_spread])
    # 28.8 -> 7.4 here (exact arithmetic gives the same up to 1e-10 relative)
    assert whitened < unwhitened / 3
    assert spread < unwhitened / 3


def test_units_of_the_spread_decouple_near_constant_columns():
    # Frequent words are nearly parallel in units of their root mean square; in units of
    # their spread about the mean they are as apart as centred columns.
    # (C = 10: a stronger penalty would set the units of these columns itself.)
    X, y = _frequent_words()
    _, _, in_rms, in_spread = _rms_and_spread_coordinates(X, y, C=10.0)
    rms_condition, spread_condition = _condition_at_optimum(X, y, [in_rms, in_spread], C=10.0)
    # 86 -> 2.8 here; the spread of these columns is 12% of their rms
    assert spread_condition < rms_condition / 10


def test_the_spread_is_the_weighted_standard_deviation():
    X, y = _frequent_words()
    weight = np.random.default_rng(6).uniform(0.2, 3.0, size=len(y))
    weight /= weight.sum()
    objective = LogisticObjective(X, y, weight, 2, False)
    _, rms = objective.feature_center_scale()
    coords = MeanWhitenedCoordinates.without_intercept(objective, objective.feature_mean(), rms, 0)
    dense = X.toarray()
    mean = weight @ dense
    spread = np.sqrt(weight @ (dense - mean) ** 2)  # two passes: the reference
    # rms^2 - mean^2 loses eps * rms^2 / spread^2 relatively; the sums, n * eps each.
    relative = len(y) * EPS * (rms / spread) ** 2
    np.testing.assert_allclose(coords.base.scale, spread, rtol=10 * relative.max(), atol=0)
    np.testing.assert_allclose(coords.mean * coords.base.scale, mean, rtol=1e-12, atol=0)


def test_constant_columns_without_a_penalty_keep_a_finite_unit():
    layout = CoefLayout(2, 3, False)
    mean = np.array([2.0, -1.0, 0.0])
    rms = np.array([2.0, 1.0, 1.0])  # constant columns 2 and -1, a zero column (unit 1)
    coords = MeanWhitenedCoordinates.without_intercept(layout, mean, rms, 0.0)
    floor = MeanWhitenedCoordinates.RESOLVED_SPREAD
    np.testing.assert_allclose(coords.base.scale, [2 * floor, floor, 1.0], rtol=4 * EPS)
    u = coords.from_coef(np.array([0.3, 0.1, -0.2]))
    assert np.all(np.isfinite(u))
    np.testing.assert_allclose(coords.to_coef(u), [0.3, 0.1, -0.2], rtol=1e-9)


@pytest.mark.parametrize("C", [1.0, np.inf])
def test_lbfgs_without_intercept_on_frequent_words_reaches_the_reference(C):
    X, y = _frequent_words(seed=7)
    X = sp.hstack([X, sp.csr_array(np.ones((X.shape[0], 1)))], format="csr")  # constant
    model = CrossEntropyLogisticRegression(C=C, fit_intercept=False, solver="lbfgs", tol=1e-10)
    model.fit(X, y)
    dense = X.toarray()
    s = np.ones(len(y))
    best = reference_minimum(dense, y, s, 2, C, 0.0, False)
    value = reference_objective(dense, y, model.coef_, model.intercept_, C, s)
    assert model.stop_crit_ <= 1e-10
    assert (value - best) / best < 1e-9
    assert (value - best) / best > -1e-12
