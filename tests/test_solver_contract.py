"""The contract every entry of ``celr.solvers.SOLVERS`` keeps, checked against conftest's
reference objective (numpy and scipy only, independent of celr).

For each solver, penalty it supports (L2; L1 and elastic net where ``supports_l1``) and
2 or 3 classes, on 60 weighted rows of 3 features of unequal scales and offsets:

(a) ``history`` has ``n_iter + 1`` values: the objective at ``coef0``, then after each
    iteration, the last at ``result.coef``;
(b) the callback is called once per iteration, numbered 1..n_iter, with the values of
    ``history[1:]`` (and each the objective at the coefficients it reports);
(c) ``stop_crit`` is the optimality measure at ``result.coef``, recomputed: the largest
    ``dist(-grad_j, subdifferential_j) / param_scale_j`` (``SmoothProblem.stop_crit``);
(d) the fit reaches the reference optimum within what its optimality measure allows
    given the problem's curvature.

Rounding bounds. Scores ``z_ik = x_i . w_k + b_k`` carry an error of at most
``(d + 2) eps A_i``, ``A_i = max_k sum_j (|x_ij| + |mu_j|) |w_kj| + |b_k|`` (``mu``: the
column means, as a solver working on centred columns adds them back). A row's
cross-entropy moves by at most ``sum_k |dCE/dz_k| <= 2`` times that, and a weighted sum of
``n`` non-negative terms is exact to ``(n + 2) eps`` relative. So two evaluations of the
objective (celr's and the reference's) differ by at most::

    2 eps ((n + 10) f + 2 (d + 2) mean_s(A))

Likewise each gradient entry ``sum_i (s_i / S) r_ij (x_ij - mu_j) + mu_j g_b``, whose
residuals move by at most ``|dr/dz| <= 1/2`` times the score error::

    2 eps sum_i (s_i / S) (|x_ij| + |mu_j|) ((n + 10) |r_i| + (d + 2) A_i + 1) + 2 eps l2 |w_j|

The measure is 1-Lipschitz in the gradient and divides by ``param_scale``, itself a
weighted sum of squares (relative error ``(n + 10) eps``).

The gap (d): for an objective ``mu``-strongly convex in standardised units ``u``
(``coef * param_scale``; Hessian ``D^-1 H D^-1``), ``F(x) - F* <= |g_u|^2 / (2 mu)`` where
``g_u`` is the per-entry optimality vector above (the distance of 0 to the
subdifferential, for L1 too). ``mu`` is the smallest eigenvalue of the reference Hessian at
``result.coef`` off the flat direction (the common shift of K > 2 intercepts), halved for
the change of curvature between ``result.coef`` and the optimum. For 3 classes and pure L1
the weights' common shift is flat too (piecewise linear): no curvature, no check.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import null_space

from celr import CrossEntropyLogisticRegression
from celr._parallel import make_objective
from celr._penalty import ElasticNetPenalty
from celr.solvers import SOLVERS
from tests.conftest import (
    reference_gradient,
    reference_hessian,
    reference_minimum,
    reference_objective,
)

EPS = np.finfo(float).eps
TOL = 1e-8
C = 0.5
PENALTIES = {"l2": 0.0, "enet": 0.5, "l1": 1.0}
#: The solvers whose history never rises with a smooth penalty (line searches, L-BFGS).
MONOTONE = ("newton", "lbfgs")


def contract_data(n_classes, n=60, seed=0):
    """Overlapping classes; columns of scales 1, 10 and 0.1 with offsets; weights."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1] + [0.0, 5.0, -1.0]
    scores = (X - [0.0, 5.0, -1.0]) / [1.0, 10.0, 0.1] @ rng.normal(size=(3, n_classes))
    y = np.argmax(scores + rng.gumbel(size=(n, n_classes)), axis=1)
    y[:n_classes] = np.arange(n_classes)  # every class present
    return X, y, rng.uniform(0.5, 2.0, size=n)


def cases():
    for name, spec in SOLVERS.items():
        for penalty, l1_ratio in PENALTIES.items():
            if l1_ratio == 0 or spec.supports_l1:
                for n_classes in (2, 3):
                    yield pytest.param(
                        name, l1_ratio, n_classes, id=f"{name}-{penalty}-K{n_classes}"
                    )


def solve(name, X, y, s, n_classes, l1_ratio, coef0, callback):
    """The solver called as ``CrossEntropyLogisticRegression._solve`` calls it."""
    spec = SOLVERS[name]
    objective = make_objective(X, y, s, n_classes, True, n_threads=1)
    penalty = ElasticNetPenalty.for_layout(objective, C, l1_ratio, objective.weight_sum)
    defaults = CrossEntropyLogisticRegression()
    options = {option: getattr(defaults, option) for option in spec.options}
    if "random_state" in options:
        options["random_state"] = np.random.RandomState(0)
    max_iter = 100 if spec.stochastic else 10_000
    return spec.solve_for(penalty)(
        objective, penalty, coef0, tol=TOL, max_iter=max_iter, callback=callback, **options
    )


def unpack(coef, n_classes, d):
    table = coef.reshape(1 if n_classes == 2 else n_classes, d + 1)
    return table[:, :d], table[:, d]


def value_bound(X, s, coef, n_classes, f):
    """Two evaluations of the objective at ``coef`` differ by less (module docstring)."""
    n, d = X.shape
    W, b = unpack(coef, n_classes, d)
    mean = np.abs(s @ X / s.sum())
    A = np.max((np.abs(X) + mean) @ np.abs(W).T + np.abs(b), axis=1)
    return 2 * EPS * ((n + 10) * abs(f) + 2 * (d + 2) * (s @ A) / s.sum())


def optimality(X, y, s, coef, n_classes, l1_ratio):
    """Per-entry optimality in standardised units (whose max is ``stop_crit``), a bound on
    the rounding of its max (module docstring) and ``param_scale``, from the reference
    gradient and the columns' weighted spreads."""
    n, d = X.shape
    W, b = unpack(coef, n_classes, d)
    grad_W, grad_b = reference_gradient(X, y, W, b, C, l1_ratio, s)
    grad = np.column_stack([grad_W, grad_b]).ravel()
    r = s / s.sum()
    mean = r @ X
    spread = np.sqrt(r @ (X - mean) ** 2)
    l1, l2 = l1_ratio / (C * s.sum()), (1 - l1_ratio) / (C * s.sum())
    is_weight = np.column_stack([np.ones(W.shape, bool), np.zeros(len(b), bool)]).ravel()
    scale = np.where(
        is_weight, np.tile(np.append(np.hypot(spread, 2 * np.sqrt(l2)), 1), len(b)), 1
    )
    lam = np.where(is_weight, l1, 0.0)
    distance = np.where(
        coef == 0, np.maximum(np.abs(grad) - lam, 0), np.abs(grad + lam * np.sign(coef))
    )
    # |r_ik| <= 1: per column (intercept: a column of ones, no mean).
    Xa = np.column_stack([np.abs(X) + np.abs(mean), np.ones(n)])
    A = np.max((np.abs(X) + np.abs(mean)) @ np.abs(W).T + np.abs(b), axis=1)
    column_error = (r * ((n + 10) + (d + 2) * A + 1)) @ Xa
    grad_error = 2 * EPS * (np.tile(column_error, len(b)) + l2 * np.abs(coef) * is_weight)
    crit = distance / scale
    return crit, np.max(grad_error / scale) + (n + 10) * EPS * np.max(crit), scale


def curvature(X, y, s, coef, n_classes, l1_ratio, scale):
    """Smallest eigenvalue of the reference Hessian in standardised units, off the flat
    direction of K > 2 intercepts (None: also flat along the weights' shift, pure L1)."""
    d = X.shape[1]
    if n_classes > 2 and l1_ratio == 1:
        return None
    W, b = unpack(coef, n_classes, d)
    H = reference_hessian(X, y, s, W, b)
    is_weight = np.column_stack([np.ones(W.shape, bool), np.zeros(len(b), bool)]).ravel()
    H[np.diag_indices_from(H)] += np.where(is_weight, (1 - l1_ratio) / (C * s.sum()), 0.0)
    H = H / np.outer(scale, scale)
    if n_classes > 2:
        shift = null_space(np.where(is_weight, 0.0, 1.0)[None, :])
        H = shift.T @ H @ shift
    return np.linalg.eigvalsh(H)[0]


def flat_start(n_params, n_classes, d):
    """A random start without a component along softmax's shift (solvers remove it)."""
    coef = np.random.default_rng(1).normal(scale=0.3, size=n_params)
    if n_classes == 2:
        return coef
    table = coef.reshape(n_classes, d + 1)
    return (table - table.mean(axis=0)).ravel()


@pytest.mark.parametrize(("name", "l1_ratio", "n_classes"), list(cases()))
def test_solver_keeps_the_contract(name, l1_ratio, n_classes):
    X, y, s = contract_data(n_classes)
    d = X.shape[1]
    spec = SOLVERS[name]
    n_params = (1 if n_classes == 2 else n_classes) * (d + 1)
    coef0 = flat_start(n_params, n_classes, d)
    seen = []
    result = solve(
        name, X, y, s, n_classes, l1_ratio, coef0,
        lambda info: seen.append((info.n_iter, info.objective, info.stop_crit, info.coef.copy())),
    )  # fmt: skip

    def objective_at(coef):
        W, b = unpack(coef, n_classes, d)
        return reference_objective(X, y, W, b, C, s, l1_ratio=l1_ratio)

    def assert_value(value, coef):
        f = objective_at(coef)
        assert abs(value - f) <= value_bound(X, s, coef, n_classes, f), (value, f)

    # (a) history: the start, one value per iteration, the last at result.coef.
    assert result.n_iter >= 1 and not result.diverged
    assert len(result.history) == result.n_iter + 1
    assert_value(result.history[0], coef0)
    assert_value(result.history[-1], result.coef)
    # (b) one callback per iteration, numbered 1..n_iter, reporting history[1:].
    assert [info[0] for info in seen] == list(range(1, result.n_iter + 1))
    assert [info[1] for info in seen] == result.history[1:]
    for _, value, _, coef in seen:
        assert_value(value, coef)
    if spec.stochastic:  # per epoch not measured; at the end, like every other solver
        assert all(np.isnan(info[2]) for info in seen)
    else:
        assert seen[-1][2] == result.stop_crit
        assert result.converged
        # Converged: the optimality test, or a stall at float64's resolution limit.
        assert result.stop_crit <= max(TOL, 10 * np.sqrt(EPS))
    if name in MONOTONE and l1_ratio == 0:
        assert np.all(np.diff(result.history) <= 1e-12 * abs(result.history[0]))
    # (c) stop_crit is the optimality measure at result.coef (and, where measured, at each
    # iteration's coefficients).
    crit, crit_error, scale = optimality(X, y, s, result.coef, n_classes, l1_ratio)
    assert abs(result.stop_crit - crit.max()) <= crit_error, (result.stop_crit, crit.max())
    for _, _, stop_crit, coef in seen if not spec.stochastic else ():
        at, error, _ = optimality(X, y, s, coef, n_classes, l1_ratio)
        assert abs(stop_crit - at.max()) <= error, (stop_crit, at.max())
    # (d) the reference optimum, to within what the optimality measure allows.
    mu = curvature(X, y, s, result.coef, n_classes, l1_ratio, scale)
    f_star = reference_minimum(X, y, s, n_classes, C, l1_ratio, True)
    f = objective_at(result.coef)
    rounding = 2 * value_bound(X, s, result.coef, n_classes, f)
    assert f - f_star >= -rounding  # the reference is tight
    if mu is not None:
        assert mu > 0
        allowed = np.sum((crit + crit_error) ** 2) / mu  # |g_u|^2 / (2 mu / 2)
        print(f"gap {f - f_star:.1e}, allowed {allowed:.1e} + rounding {rounding:.1e}")
        assert f - f_star <= allowed + rounding
