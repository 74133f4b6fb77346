"""ElasticNetPenalty against hand formulas, finite differences and brute-force minimisation."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from celr._penalty import ElasticNetPenalty

# Flat layout of two scores with three features and an intercept each.
MASK = np.array([True, True, True, False, True, True, True, False])
COEF = np.array([3.0, -4.0, 0.0, 100.0, 0.5, -0.25, 2.0, -7.0])


@pytest.mark.parametrize(
    ("alpha", "l1_ratio", "expected"),
    [
        # 0.5 * alpha * (9 + 16 + 0.25 + 0.0625 + 4) = 14.65625 * alpha
        (1.0, 0.0, 14.65625),
        (0.2, 0.0, 0.2 * 14.65625),
        # alpha * (3 + 4 + 0.5 + 0.25 + 2) = 9.75 * alpha
        (1.0, 1.0, 9.75),
        (3.0, 1.0, 29.25),
        # 2 * (0.75 * 14.65625 + 0.25 * 9.75)
        (2.0, 0.25, 2.0 * (0.75 * 14.65625 + 0.25 * 9.75)),
        (0.0, 0.5, 0.0),
    ],
)
def test_value_hand_formulas(alpha, l1_ratio, expected):
    pen = ElasticNetPenalty(alpha, l1_ratio, MASK)
    assert pen.value(COEF) == pytest.approx(expected, rel=1e-15)
    assert pen.is_smooth == (alpha * l1_ratio == 0.0)


@pytest.mark.parametrize("l1_ratio", [0.0, 0.3, 1.0])
def test_intercepts_never_penalised(l1_ratio):
    pen = ElasticNetPenalty(1.7, l1_ratio, MASK)
    moved = COEF.copy()
    moved[~MASK] = [-1e6, 3e5]
    assert pen.value(moved) == pen.value(COEF)
    value, grad = pen.smooth_value_grad(moved)
    assert value == pen.smooth_value_grad(COEF)[0]
    np.testing.assert_array_equal(grad[~MASK], 0.0)
    np.testing.assert_array_equal(pen.smooth_hessian_diag()[~MASK], 0.0)
    np.testing.assert_array_equal(pen.prox(moved, 0.7)[~MASK], moved[~MASK])
    distance = pen.subdiff_distance(np.zeros(8), np.full(8, 0.01))
    np.testing.assert_allclose(distance[~MASK], 0.01)
    assert ElasticNetPenalty(2.0, l1_ratio, np.zeros(8, dtype=bool)).value(COEF) == 0.0


@pytest.mark.parametrize(("alpha", "l1_ratio"), [(1.0, 0.0), (0.3, 0.6), (2.0, 1.0)])
def test_smooth_value_grad_and_hessian(alpha, l1_ratio):
    pen = ElasticNetPenalty(alpha, l1_ratio, MASK)
    l2 = alpha * (1 - l1_ratio)
    value, grad = pen.smooth_value_grad(COEF)
    assert value == pytest.approx(0.5 * l2 * np.sum(COEF[MASK] ** 2), rel=1e-15)
    h = 1e-6
    numeric = np.array(
        [
            (pen.smooth_value_grad(COEF + h * e)[0] - pen.smooth_value_grad(COEF - h * e)[0])
            / (2 * h)
            for e in np.eye(len(COEF))
        ]
    )
    np.testing.assert_allclose(grad, numeric, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(grad, np.where(MASK, l2 * COEF, 0.0), rtol=1e-15)
    hess_fd = np.array(
        [
            (pen.smooth_value_grad(COEF + h * e)[1] - pen.smooth_value_grad(COEF - h * e)[1])
            / (2 * h)
            for e in np.eye(len(COEF))
        ]
    ).T
    np.testing.assert_allclose(np.diag(pen.smooth_hessian_diag()), hess_fd, atol=1e-8)
    np.testing.assert_array_equal(pen.smooth_hessian_diag(), np.where(MASK, l2, 0.0))


def brute_force_prox(v, threshold):
    """argmin_x 0.5 (x - v)^2 + threshold |x| by bounded scalar minimisation."""
    result = minimize_scalar(
        lambda x: 0.5 * (x - v) ** 2 + threshold * abs(x),
        bounds=(-abs(v) - 1.0, abs(v) + 1.0),
        method="bounded",
        options={"xatol": 1e-12},
    )
    return result.x


@pytest.mark.parametrize("step", [0.1, 1.0, 2.5])
@pytest.mark.parametrize(("alpha", "l1_ratio"), [(1.0, 1.0), (0.8, 0.5), (1.0, 0.0)])
def test_prox_is_soft_thresholding(alpha, l1_ratio, step):
    rng = np.random.default_rng(7)
    mask = rng.random(30) < 0.8
    v = rng.normal(scale=2.0, size=30)
    v[:3] = [0.0, 0.5, -0.5]
    pen = ElasticNetPenalty(alpha, l1_ratio, mask)
    p = pen.prox(v, step)
    t = step * pen.l1_strength
    # Subgradient optimality: v - p lies in t * d|p| on penalised entries, is 0 elsewhere.
    r = v - p
    nonzero = mask & (p != 0)
    np.testing.assert_allclose(r[nonzero], t * np.sign(p[nonzero]), atol=1e-12)
    assert np.all(np.abs(r[mask & (p == 0)]) <= t + 1e-12)
    np.testing.assert_array_equal(p[~mask], v[~mask])
    expected = [brute_force_prox(vi, t if m else 0.0) for vi, m in zip(v, mask, strict=True)]
    np.testing.assert_allclose(p, expected, atol=1e-7)


def test_prox_hand_values():
    pen = ElasticNetPenalty(2.0, 0.5, np.array([True, True, True, True, False]))
    p = pen.prox(np.array([0.5, -2.0, 1.0, 3.0, 0.2]), step=1.0)  # threshold 1
    np.testing.assert_array_equal(p, [0.0, -1.0, 0.0, 2.0, 0.2])
    np.testing.assert_array_equal(pen.prox(COEF[:5], 0.0), COEF[:5])


@pytest.mark.parametrize("alpha", [0.0, 1.0, 3.0])
def test_subdiff_distance_smooth_is_abs_grad(alpha):
    rng = np.random.default_rng(2)
    grad = rng.normal(size=8)
    pen = ElasticNetPenalty(alpha, 0.0, MASK)
    np.testing.assert_array_equal(pen.subdiff_distance(COEF, grad), np.abs(grad))
    pen_l1 = ElasticNetPenalty(0.0, 1.0, MASK)  # alpha = 0: no L1 part at all
    np.testing.assert_array_equal(pen_l1.subdiff_distance(COEF, grad), np.abs(grad))


def test_subdiff_distance_hand_cases():
    mask = np.array([True, True, True, True, True, True, False])
    pen = ElasticNetPenalty(2.0, 0.5, mask)  # l1 strength 1
    coef = np.array([0.0, 0.0, 0.0, 1.5, -2.0, 3.0, 0.0])
    grad = np.array([0.4, -2.5, 1.0, -1.0, 1.0, 0.25, -0.3])
    # coef == 0: max(|g| - 1, 0); coef != 0: |g + sign(coef)|; unpenalised: |g|
    expected = [0.0, 1.5, 0.0, 0.0, 0.0, 1.25, 0.3]
    np.testing.assert_allclose(pen.subdiff_distance(coef, grad), expected, rtol=1e-15)


def test_subdiff_distance_zero_at_an_optimum():
    # Minimise 0.5 ||x - a||^2 + l2/2 ||x||^2 + l1 ||x||_1 (mask only): closed form by
    # soft-thresholding, x* = S(a, l1) / (1 + l2); its smooth gradient then satisfies
    # the optimality condition exactly, so the distance must be 0.
    rng = np.random.default_rng(4)
    mask = rng.random(20) < 0.75
    a = rng.normal(scale=2.0, size=20)
    pen = ElasticNetPenalty(1.2, 0.6, mask)
    x = pen.prox(a, 1.0) / np.where(mask, 1.0 + pen.l2_strength, 1.0)
    assert np.any(x[mask] == 0) and np.any(x[mask] != 0)
    _, pen_grad = pen.smooth_value_grad(x)
    smooth_grad = (x - a) + pen_grad
    np.testing.assert_allclose(pen.subdiff_distance(x, smooth_grad), 0.0, atol=1e-14)
    # Away from the optimum the distance is positive somewhere.
    assert pen.subdiff_distance(x + 0.1, (x + 0.1 - a) + pen_grad).max() > 0.05
