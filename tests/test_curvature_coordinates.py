"""The curvature-whitened coordinates of the SGD learner's short epochs.

Checked against an independent Hessian (``reference_hessian``, from probabilities and
rows) and against the linear map itself, built column by column from ``to_coef``.
"""

from __future__ import annotations

import numpy as np
import pytest

from celr._objective import LogisticObjective
from celr._penalty import ElasticNetPenalty
from celr.solvers._coordinates import CurvatureCoordinates, StandardizedCoordinates
from tests.conftest import central_difference_gradient, reference_hessian

EPS = np.finfo(float).eps


def _whitened(n_classes, seed=0, n=60, d=4):
    """Correlated columns with offsets and unequal weights, whitened at a random point."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(scale=5.0, size=d)
    y = np.arange(n) % n_classes
    weight = rng.uniform(0.2, 3.0, size=n)
    objective = LogisticObjective(X, y, weight, n_classes, True)
    penalty = ElasticNetPenalty.for_layout(objective, 0.5, 0.0, objective.weight_sum)
    center, spread = objective.feature_center_scale()
    base = StandardizedCoordinates(objective, center, spread)
    coef = objective.remove_invariant(rng.normal(scale=0.3, size=objective.n_params))
    coords = CurvatureCoordinates.at(base, objective, penalty, coef)
    return X, y, weight, objective, penalty, coef, coords


def _jacobian(coords, n_params):
    """d coef / d u, one column per unit vector (the map is linear)."""
    return np.column_stack([coords.to_coef(e) for e in np.eye(n_params)])


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_class_block_of_the_hessian_is_the_identity_in_u(n_classes, seed):
    X, y, weight, objective, penalty, coef, coords = _whitened(n_classes, seed)
    weights, intercept = objective.unpack(coef)
    hess = reference_hessian(X, y, weight, weights, intercept)
    hess += np.diag(penalty.smooth_hessian_diag())
    J = _jacobian(coords, objective.n_params)
    in_u = J.T @ hess @ J
    width = X.shape[1] + 1
    for k in range(objective.n_scores):
        block = hess[k * width : (k + 1) * width, k * width : (k + 1) * width]
        # Cholesky and the two products are backward stable: the whitened block is I up
        # to a few width * eps relative to H_kk, magnified by its condition number.
        bound = 50 * width * EPS * np.linalg.cond(block)
        whitened = in_u[k * width : (k + 1) * width, k * width : (k + 1) * width]
        np.testing.assert_allclose(whitened, np.eye(width), rtol=0, atol=bound)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_maps_are_inverse_and_the_gradient_is_the_chain_rule(n_classes):
    _, _, _, objective, _, coef, coords = _whitened(n_classes)
    J = _jacobian(coords, objective.n_params)
    u = coords.from_coef(coef)
    # Each map is a few products of O(1) matrices of size width; bounded by their norms.
    scale = np.linalg.norm(J, 2) * np.linalg.norm(np.linalg.inv(J), 2)
    bound = 50 * objective.n_params * EPS * scale * np.abs(coef).max()
    np.testing.assert_allclose(coords.to_coef(u), coef, rtol=0, atol=bound)
    _, grad = objective.value_grad(coef)
    expected = J.T @ grad
    bound = 50 * objective.n_params * EPS * np.linalg.norm(J, 2) * np.abs(grad).max()
    np.testing.assert_allclose(coords.gradient_to_u(grad), expected, rtol=0, atol=bound)
    # ... and against central differences of the objective along u.
    numeric = central_difference_gradient(objective.value, coords, u)
    np.testing.assert_allclose(coords.gradient_to_u(grad), numeric, rtol=0, atol=1e-7)


def test_keep_invariant_removes_the_class_mean_and_keeps_the_scores():
    _, _, _, objective, _, coef, coords = _whitened(3)
    rng = np.random.default_rng(5)
    u = coords.from_coef(coef) + rng.normal(size=objective.n_params)
    kept = coords.keep_invariant(u)
    before, after = coords.to_coef(u), coords.to_coef(kept)
    table = after.reshape(objective.n_scores, -1)
    bound = 50 * objective.n_params * EPS * np.abs(before).max()
    np.testing.assert_allclose(table.mean(axis=0), 0.0, rtol=0, atol=bound)
    # Softmax sees the same model: the scores differ by one common shift per row.
    shift = objective.scores(before) - objective.scores(after)
    spread = shift.max(axis=1) - shift.min(axis=1)
    assert spread.max() <= bound * 100 * np.abs(objective.X).max()


def test_an_indefinite_block_gives_no_coordinates():
    """A column that is all zero has no curvature without a penalty: no whitening."""
    X = np.column_stack([np.linspace(-1, 1, 20), np.zeros(20)])
    y = (X[:, 0] > 0).astype(int)
    objective = LogisticObjective(X, y, np.ones(20), 2, True)
    penalty = ElasticNetPenalty.for_layout(objective, np.inf, 0.0, objective.weight_sum)
    base = StandardizedCoordinates(objective, np.zeros(2), np.ones(2))
    assert CurvatureCoordinates.at(base, objective, penalty, np.zeros(3)) is None
