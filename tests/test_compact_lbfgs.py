"""The compact-form L-BFGS of smooth fits: its direction against the two-loop recursion,
its line search against the Wolfe conditions, its stopping rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import log_expit

from celr.solvers._compact_lbfgs import (
    CURVATURE,
    SUFFICIENT_DECREASE,
    CompactInverseHessian,
    minimize_lbfgs,
    wolfe_step,
)

EPS = np.finfo(np.float64).eps


def two_loop_direction(pairs: list[tuple[np.ndarray, np.ndarray]], grad: np.ndarray):
    """``-H grad`` by Nocedal & Wright's Algorithm 7.4, written independently."""
    q = grad.copy()
    alphas = []
    for s, y in reversed(pairs):
        alpha = (s @ q) / (s @ y)
        q -= alpha * y
        alphas.append(alpha)
    s, y = pairs[-1]
    r = (s @ y) / (y @ y) * q
    for (s, y), alpha in zip(pairs, reversed(alphas), strict=True):
        r += s * (alpha - (y @ r) / (s @ y))
    return -r


def spd_pairs(rng, n: int, count: int):
    """Pairs of a quadratic with a Hessian of condition 10 (so every s.y > 0)."""
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = Q @ np.diag(np.linspace(1.0, 10.0, n)) @ Q.T
    steps = [rng.standard_normal(n) for _ in range(count)]
    return [(s, A @ s) for s in steps]


def direction_bound(kept, grad) -> float:
    """Rounding bound on ``H g`` by either formula: each of its O(m) products of length
    n errs by n eps times the size of its terms, and the compact form's two triangular
    solves with R (the upper triangle of S Y') amplify that by up to cond(R) each."""
    S = np.array([s for s, _ in kept])
    Y = np.array([y for _, y in kept])
    size = (np.abs(S).sum(axis=1).max() + np.abs(Y).sum(axis=1).max()) * np.abs(grad).max()
    m, n = S.shape
    return 10 * (2 * m + 1) * n * EPS * np.linalg.cond(np.triu(S @ Y.T)) ** 2 * size


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(3, 12),
    history=st.integers(1, 6),
    count=st.integers(1, 14),
    seed=st.integers(0, 2**32 - 1),
)
def test_direction_is_the_two_loop_recursions_over_the_newest_pairs(n, history, count, seed):
    rng = np.random.default_rng(seed)
    pairs = spd_pairs(rng, n, count)
    inverse_hessian = CompactInverseHessian(n, history)
    for s, y in pairs:
        assert inverse_hessian.update(s, y)
    kept = pairs[-history:]
    grad = rng.standard_normal(n)
    reference = two_loop_direction(kept, grad)
    np.testing.assert_allclose(
        inverse_hessian.direction(grad), reference, rtol=0, atol=direction_bound(kept, grad)
    )


def test_secant_equation_holds_for_the_newest_pair_after_the_ring_wraps():
    rng = np.random.default_rng(0)
    pairs = spd_pairs(rng, 8, 11)
    inverse_hessian = CompactInverseHessian(8, history_size=4)
    for s, y in pairs:
        inverse_hessian.update(s, y)
    s, y = pairs[-1]
    np.testing.assert_allclose(
        -inverse_hessian.direction(y), s, rtol=0, atol=direction_bound(pairs[-4:], y)
    )


def test_pairs_without_positive_curvature_are_skipped():
    inverse_hessian = CompactInverseHessian(2, history_size=3)
    assert not inverse_hessian.update(np.array([1.0, 0.0]), np.array([-1.0, 0.0]))
    assert not inverse_hessian.update(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    assert len(inverse_hessian) == 0
    grad = np.array([0.3, -2.0])
    assert np.array_equal(inverse_hessian.direction(grad), -grad)


def logistic_problem(seed: int = 0, n: int = 400, d: int = 6, l2: float = 1e-2):
    """Mean log-loss plus ``l2 |w|^2 / 2`` on features scaled 0.1 to 10: its value and
    gradient, its Hessian and a start."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.geomspace(0.1, 10.0, d)
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)

    def fun_grad(w):
        margins = y * (X @ w)
        value = -log_expit(margins).mean() + 0.5 * l2 * w @ w
        grad = -(X.T @ (y * np.exp(log_expit(-margins)))) / n + l2 * w
        return float(value), grad

    def hessian(w):
        p = np.exp(log_expit(X @ w))
        return (X.T * (p * (1 - p))) @ X / n + l2 * np.eye(d)

    fun_grad.hessian = hessian
    return fun_grad, np.zeros(d)


@pytest.mark.parametrize("start", [1e-6, 1.0, 1e6])
def test_wolfe_step_meets_both_conditions_from_short_and_long_first_steps(start):
    fun_grad, w0 = logistic_problem()
    value, grad = fun_grad(w0)
    direction = -grad
    slope = grad @ direction
    point, in_rounding = wolfe_step(fun_grad, w0, value, direction, slope, start)
    assert not in_rounding
    x, new_value, new_grad = point
    step = (x - w0) @ direction / (direction @ direction)
    assert new_value <= value + SUFFICIENT_DECREASE * step * slope
    assert new_grad @ direction >= CURVATURE * slope
    assert new_value == fun_grad(x)[0]


def test_wolfe_step_backs_off_from_overflow():
    def fun_grad(x):
        if abs(x[0]) > 10:
            return np.inf, np.full(1, np.nan)
        return float((x[0] - 3) ** 2), np.array([2 * (x[0] - 3)])

    # From 1e10 (L-BFGS-B's largest first step) a tenth of the way back per overflow.
    point, _ = wolfe_step(fun_grad, np.zeros(1), 9.0, np.ones(1), -6.0, 1e10)
    assert point is not None and point[1] < 9.0


def test_a_search_that_only_samples_rounding_ends_at_once():
    # f is flat to within its noise along the direction: the first trial ends the search.
    calls = []

    def fun_grad(x):
        calls.append(x)
        return 1.0 + 1e-9 * np.sin(1e6 * x[0]) ** 2, np.array([-1e-3])

    point, in_rounding = wolfe_step(fun_grad, np.zeros(1), 1.0, np.ones(1), -1e-3, 1.0, 1e-8)
    assert point is None and in_rounding and len(calls) == 1


def test_minimize_lbfgs_reaches_the_logistic_optimum_and_counts_iterations():
    l2, gtol = 1e-2, 1e-6
    fun_grad, w0 = logistic_problem(l2=l2)
    reached = []

    def on_iteration(w):
        reached.append(w)
        return np.abs(fun_grad(w)[1]).max() <= gtol

    outcome = minimize_lbfgs(
        fun_grad, w0, history_size=10, max_iter=500, ftol=0.0, on_iteration=on_iteration
    )
    assert outcome.reason == "stopped" and outcome.n_iter == len(reached)
    # The optimum by Newton's method on the exact Hessian, to rounding level.
    w = w0.copy()
    for _ in range(20):
        w = w - np.linalg.solve(fun_grad.hessian(w), fun_grad(w)[1])
    # l2-strong convexity: |w - w*| <= |grad|_2 / l2.
    assert np.linalg.norm(reached[-1] - w) <= np.sqrt(w.size) * gtol / l2


def test_minimize_lbfgs_stops_at_max_iter_and_at_ftol():
    fun_grad, w0 = logistic_problem(l2=0.0)
    never = lambda w: False  # noqa: E731
    capped = minimize_lbfgs(fun_grad, w0, history_size=5, max_iter=3, ftol=0.0, on_iteration=never)
    assert (capped.reason, capped.n_iter) == ("max_iter", 3)
    loose = minimize_lbfgs(
        fun_grad, w0, history_size=5, max_iter=500, ftol=1e-3, on_iteration=never
    )
    assert loose.reason == "ftol" and loose.n_iter < 500


def test_minimize_lbfgs_does_not_modify_its_start_and_repeats_bitwise():
    fun_grad, w0 = logistic_problem(seed=3)
    w0 = w0 + 0.5
    saved = w0.copy()
    runs = []
    for _ in range(2):
        path = []
        minimize_lbfgs(
            fun_grad, w0, history_size=4, max_iter=40, ftol=0.0, on_iteration=path.append
        )
        runs.append(np.array(path))
    assert np.array_equal(w0, saved)
    assert np.array_equal(runs[0], runs[1])
