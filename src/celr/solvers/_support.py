"""Exact solves on a fixed support: where an L1 problem becomes a smooth one.

Once the support (the non-zero weights) and their signs are known, the L1 term is
linear there and the problem is smooth on that piece, so a linear solve with the
Hessian replaces an iterative method: proximal Newton uses it to solve its model
exactly, and every L1 solver to polish a converged fit to rounding level.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from celr.solvers._base import IterationRecord, SmoothProblem

_SUPPORT_SHRINKS = 5
#: Above this many parameters no fit is polished: the exact Hessian of all rows is built.
POLISH_MAX_PARAMS = 2000
#: A smooth fit is polished when ``n_params <= POLISH_COST_RATIO * evaluations``.
POLISH_COST_RATIO = 4


def solve_on_support(
    hess: np.ndarray, grad: np.ndarray, u: np.ndarray, l1_weights: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """The model's minimiser on ``x``'s support with ``x``'s signs.

    On the support ``S`` the model's stationarity ``g + H (x - u) + l1 sign(x) = 0`` with
    ``x = 0`` off ``S`` is the linear system ``H_SS x_S = (H u)_S - g_S - l1_S sign_S``.
    Entries whose sign the solution flips leave the support, and it is solved again.
    """
    support = np.flatnonzero((x != 0.0) | (l1_weights == 0.0))
    hess_u = hess @ u
    for _ in range(_SUPPORT_SHRINKS):
        sign = np.sign(x[support])
        rhs = hess_u[support] - grad[support] - l1_weights[support] * sign
        # Least squares: softmax's flat directions leave H_SS singular without L2.
        solution = scipy.linalg.lstsq(
            hess[np.ix_(support, support)], rhs, check_finite=False, lapack_driver="gelsy"
        )[0]
        kept = (l1_weights[support] == 0) | (np.sign(solution) == sign)
        if kept.all():
            break
        support, solution = support[kept], solution[kept]
    polished = np.zeros_like(x)
    polished[support] = solution
    return polished


def polish_on_support(
    problem: SmoothProblem,
    coef: np.ndarray,
    grad: np.ndarray,
    l1_weights: np.ndarray,
    stop_crit: float,
) -> tuple[np.ndarray, float, np.ndarray, float] | None:
    """One exact Newton step on the support of a converged point, if it helps.

    At ``tol`` the model solves leave an error of about ``tol`` in the weights, and two
    problems that are the same in exact arithmetic (repeated rows and integer weights)
    can stop at points ``tol`` apart. Once the support and signs have settled, the
    objective on the support is smooth, so one Newton step with the exact Hessian (all
    rows) takes the optimality measure from ``tol`` to rounding level, about ``tol^2``:
    the fit is then the optimum to the precision of its data, on any BLAS. Returns the
    new ``(coef, value, grad, stop_crit)``, or None when the step does not at least
    halve the optimality measure (already at rounding level) or changes the support.
    """
    if problem.n_params > POLISH_MAX_PARAMS:
        return None
    scale = problem.param_scale
    hess = problem.scaled_hessian(coef, row_stride=1)
    u = coef * scale
    candidate = solve_on_support(hess, grad / scale, u, l1_weights, u) / scale
    penalized = l1_weights > 0
    if np.any(np.sign(candidate[penalized]) != np.sign(coef[penalized])):
        return None  # a weight crossed or left zero: not the same smooth piece
    smooth_value, candidate_grad = problem.value_grad(candidate)
    candidate_crit = problem.stop_crit(candidate, candidate_grad)
    if not candidate_crit <= 0.5 * stop_crit:
        return None
    value = problem.total_value(candidate, smooth_value)
    return candidate, value, candidate_grad, candidate_crit


def finish_converged(
    problem: SmoothProblem,
    penalty,
    record: IterationRecord,
    tol: float,
    *,
    converged: bool,
    max_iter: int,
    always: bool = False,
    grad: np.ndarray | None = None,
) -> bool:
    """How every iterative solver ends: :func:`polish_on_support` once it has converged.

    L1 fits are polished always (their support has settled, and ``tol`` leaves the
    weights ``tol / curvature`` apart on two equivalent problems); smooth ones when the
    solver stalled above ``tol`` (a line search on values cannot resolve a gradient
    much below ``sqrt(eps)``), or ``always`` (gradient descent, whose many iterations
    cost more than the Hessian), and only where the Hessian (``n p^2`` flops) costs at
    most about twice the fit so far (``2 n p`` per evaluation). The polish counts as an
    iteration of ``record``. ``grad``: the smooth part's gradient at ``record.coef`` where
    the solver has it from an evaluation there (saves the polish one pass over X).

    A stall with an L1 part counts as converged only at rounding level
    (``max(tol, 100 precision)``) after the polish: the ``sqrt(eps)`` argument of
    :meth:`SmoothProblem.converged_when_stalled` bounds the gap of a smooth problem near
    its optimum, not that of working sets that crawled (lbfgs, float32, 3 classes: 2e-4
    above the optimum at ``stop_crit`` 1.3e-4).

    Returns
    -------
    converged : bool
        Whether the fit, as ``record`` now holds it, has converged.
    """
    if converged and record.n_iter < max_iter:
        polished = _polish(problem, penalty, record.coef, record.stop_crit, tol, always, grad)
        if polished is not None:
            record.add(*polished)
    if not penalty.is_smooth:
        rounding_level = max(tol, 100 * problem.objective.precision)
        converged = converged and record.stop_crit <= rounding_level
    return converged


def _polish(problem, penalty, coef, stop_crit, tol, always, grad=None):
    if penalty.is_smooth and stop_crit <= tol and not always:
        return None
    if penalty.is_smooth and problem.n_params > POLISH_COST_RATIO * problem.n_evaluations:
        return None
    if grad is None:
        _, grad = problem.value_grad(coef)
    l1_weights = penalty.l1_weights(problem.param_scale)
    polished = polish_on_support(problem, coef, grad, l1_weights, stop_crit)
    if polished is None:
        return None
    coef, value, _, stop_crit = polished
    return coef, value, stop_crit
