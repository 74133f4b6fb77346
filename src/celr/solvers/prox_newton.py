"""Proximal Newton for L1 and elastic-net penalties (Lee, Sun & Saunders 2014).

Each iteration: (1) the exact gradient of the smooth part (data term plus L2); (2) the
Hessian in standardised units, row-subsampled on tall data, as :mod:`.newton` builds it;
(3) the step ``d`` minimising the local model
``g . d + d' H d / 2 + l1 ||W + d||_1``, an L1-penalised quadratic in ``n_params``
variables, solved by L-BFGS-B on split variables (:mod:`._split_l1`) without touching
the data, to a tolerance that tightens with the outer optimality (superlinear
convergence); (4) a backtracking line search on the whole objective, with the
decrease the model predicts as Armijo's reference; (5) the stopping test, the
distance of ``-grad`` to the subdifferential of the L1 term.

On sparse two-class data whose Hessian matrix does not pay (wide tf-idf), step (3) is
coordinate descent over a working set of X's columns instead (:mod:`._cd_model`), which
reads the set's columns rather than a Hessian-vector product's pass over all of X.

Like Newton's method, the steps do not depend on feature scales, so raw data need as few
iterations as standardised data; the local model is solved in standardised units, where
L-BFGS-B sees a well-conditioned quadratic.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from celr._penalty import l1_subdiff_distance
from celr.solvers import _cd_model
from celr.solvers._base import Callback, IterationRecord, SmoothProblem, SolverResult
from celr.solvers._cost import ProblemShape, hessian_row_stride, model_matrix_pays
from celr.solvers._line_search import backtracking
from celr.solvers._split_l1 import minimize_with_l1
from celr.solvers._support import finish_converged, solve_on_support

_MODEL_MAX_ITER = 2000
_MODEL_HISTORY = 30
_POLISH_EVERY = 25
_MODEL_RIDGE = 1e-8


def solve(
    objective,
    penalty,
    coef0: np.ndarray,
    *,
    tol: float,
    max_iter: int,
    callback: Callback | None = None,
) -> SolverResult:
    """Minimise ``objective + penalty`` (any elastic net) by proximal Newton steps.

    Parameters
    ----------
    objective : LogisticObjective
        The data term.
    penalty : ElasticNetPenalty
        L2, L1 or elastic net.
    coef0 : ndarray of shape (n_params,)
        Starting point.
    tol : float
        Stop when ``SmoothProblem.stop_crit`` (the distance of ``-grad`` to the
        subdifferential, in standardised units) is at most ``tol``.
    max_iter : int
        Maximum number of proximal Newton steps.
    callback : callable, optional
        Called with an :class:`IterationInfo` after every step.

    Returns
    -------
    SolverResult
    """
    if not model_matrix_pays(ProblemShape.of_objective(objective)) and _cd_model.applies(
        objective
    ):
        return _cd_model.solve(
            objective, penalty, coef0, tol=tol, max_iter=max_iter, callback=callback
        )
    problem = SmoothProblem(objective, penalty)
    row_stride = hessian_row_stride(objective.n_samples, problem.n_params)
    scale = problem.param_scale
    l1_weights = penalty.l1_weights(scale)
    coef = np.array(coef0, dtype=np.float64)
    smooth_value, grad = problem.value_grad(coef)
    value = problem.total_value(coef, smooth_value)
    record = IterationRecord(coef, value, problem.stop_crit(coef, grad), callback)
    converged = record.stop_crit <= tol
    while not converged and record.n_iter < max_iter:
        stop_crit = record.stop_crit
        # Forcing sequence: a loose model solve far from the optimum, a tight one near it.
        model_tol = max(0.1 * tol, min(0.1, stop_crit) * stop_crit)
        u_new = _minimize_model(
            _scaled_hessian(problem, coef, row_stride), grad / scale, coef * scale, l1_weights,
            model_tol,
        )  # fmt: skip
        direction = u_new / scale - coef
        predicted = _predicted_decrease(problem, coef, grad, direction)
        # As Newton's decrement: a predicted decrease below the precision f is evaluated
        # to (float32 data) cannot be found by any line search; the point is as optimal
        # as the data's precision lets it be, or the solver has failed.
        small = -predicted <= 4 * objective.precision * abs(value)
        step = None if small else backtracking(problem, coef, value, grad, direction, predicted)
        if step is None:
            converged = problem.converged_when_stalled(stop_crit, tol)
            break
        coef, value, grad = step
        record.add(coef, value, problem.stop_crit(coef, grad))
        converged = record.stop_crit <= tol
    converged = finish_converged(
        problem, penalty, record, tol, converged=converged, max_iter=max_iter, grad=grad
    )
    return record.result(converged)


def _scaled_hessian(
    problem: SmoothProblem, coef: np.ndarray, row_stride: int
) -> np.ndarray | Callable[[np.ndarray], np.ndarray]:
    """``D H D`` in standardised units (``D = 1 / param_scale``).

    The matrix itself (row-subsampled on tall data) when it is small enough to build;
    else ``v -> D H D v`` by Hessian-vector products on the data, each costing a gradient.
    """
    # The model must stay bounded: without an L2 part, softmax's shift directions (and
    # on tiny or separable data others) are flat in H, and along some of them the L1
    # term is constant too, so the model's minimiser could drift off to 1e11 in rounding
    # noise (3 classes, 13 rows). A ridge far below any curvature that matters keeps it
    # unique. (Newton's full lift along the shifts would slow the steps: the L1 term is
    # not flat there.)
    if model_matrix_pays(ProblemShape.of_objective(problem.objective)):
        hess = problem.scaled_hessian(coef, row_stride)
        hess[np.diag_indices_from(hess)] += _MODEL_RIDGE * np.trace(hess) / len(hess)
        return hess
    scale = problem.param_scale
    hessp = problem.hessp_at(coef)
    ridge = _MODEL_RIDGE * float(np.mean(problem.hessian_diag(coef) / scale**2))
    return lambda v: hessp(v / scale) / scale + ridge * v


def _minimize_model(
    hess: np.ndarray | Callable[[np.ndarray], np.ndarray],
    grad: np.ndarray,
    u: np.ndarray,
    l1_weights: np.ndarray,
    tol: float,
) -> np.ndarray:
    """``argmin_x g . (x - u) + (x - u)' H (x - u) / 2 + sum_j l1_j |x_j|``.

    L-BFGS-B on split variables, in rounds of ``_POLISH_EVERY`` iterations. After each
    round, with ``H`` at hand as a matrix, the guess of the support and signs the iterate
    makes is tried out: on the support the model is a quadratic whose minimiser one
    linear solve gives. If it keeps the signs and the zeros stay optimal, that is the
    exact solution (raw breast cancer: 25-50 iterations instead of 200-500).
    """
    hessp = hess.__matmul__ if isinstance(hess, np.ndarray) else hess

    def model_value_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        hd = hessp(x - u)
        return float((grad + 0.5 * hd) @ (x - u)), grad + hd

    def solved(x: np.ndarray) -> bool:
        _, model_grad = model_value_grad(x)
        return float(np.max(l1_subdiff_distance(x, model_grad, l1_weights))) <= tol

    x, n_iter, round_size = u, 0, _POLISH_EVERY
    while n_iter < _MODEL_MAX_ITER:
        x, done = minimize_with_l1(
            model_value_grad,
            x,
            l1_weights,
            max_iter=round_size if isinstance(hess, np.ndarray) else _MODEL_MAX_ITER,
            history_size=_MODEL_HISTORY,
            on_iteration=solved,
        )
        n_iter, round_size = n_iter + max(done, 1), 2 * round_size
        if solved(x) or not isinstance(hess, np.ndarray):
            return x
        polished = solve_on_support(hess, grad, u, l1_weights, x)
        if solved(polished):
            return polished
        if model_value_grad(polished)[0] + l1_weights @ np.abs(polished) < (
            model_value_grad(x)[0] + l1_weights @ np.abs(x)
        ):
            x = polished
    return x


def _predicted_decrease(problem, coef, grad, direction) -> float:
    """``g . d + P(coef + d) - P(coef)``: the first-order change of ``F`` along ``d``."""
    l1_change = problem.penalty.nonsmooth_value(coef + direction) - (
        problem.penalty.nonsmooth_value(coef)
    )
    return float(grad @ direction) + l1_change
