"""Newton's method with a backtracking line search.

Each iteration: (1) the gradient, always exact; (2) the Newton direction ``H d = -g``, by
Cholesky on the Hessian where one costs about a gradient (:mod:`._cost`), else by
conjugate gradients on Hessian-vector products (truncated Newton, Jacobi-preconditioned);
(3) an Armijo backtracking line search; (4) the gradient test ``max |g| <= tol``.

The Cholesky Hessian is built in standardised units, on tall data from every k-th row
only (``hessian_row_stride``: it then costs about one gradient, and Newton still shrinks
the gradient by about ``sqrt(p / m)`` per step), and its factor is reused while steps
keep contracting. The exact gradient and the line search keep the optimum and global
convergence those of Newton's method. Newton steps are invariant to rescaling features,
so raw and standardised data need the same few iterations.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import LinearOperator, cg

from celr.solvers._base import Callback, IterationRecord, SmoothProblem, SolverResult
from celr.solvers._cost import ProblemShape, exact_hessian_pays, hessian_row_stride
from celr.solvers._line_search import backtracking

_CG_MAX_ITER = 250
# A factorised Hessian is reused while each step still shrinks the gradient's max-norm by
# this factor: near the optimum the Hessian barely changes, and a gradient costs a small
# fraction of a Hessian build (1/4 on 500k x 100).
REUSE_CONTRACTION = 0.3
REUSE_MIN_PARAMS = 100


def solve(
    objective,
    penalty,
    coef0: np.ndarray,
    *,
    tol: float,
    max_iter: int,
    callback: Callback | None = None,
    exact_hessian: bool | None = None,
) -> SolverResult:
    """Minimise ``objective + penalty`` (smooth penalty only) by Newton's method.

    Parameters
    ----------
    objective : LogisticObjective
        The data term.
    penalty : ElasticNetPenalty
        Must be smooth (``l1_ratio == 0``).
    coef0 : ndarray of shape (n_params,)
        Starting point.
    tol : float
        Stop when the gradient's max-norm (in standardised-feature units, see
        ``SmoothProblem.stop_crit``) is at most ``tol``, or when the Newton decrement
        shows that no decrease above the objective's evaluation precision is left.
    max_iter : int
        Maximum number of Newton steps.
    callback : callable, optional
        Called with an :class:`IterationInfo` after every step.
    exact_hessian : bool, optional
        Force the Cholesky (True) or the conjugate-gradient (False) inner solve; by
        default Cholesky where a Hessian costs at most
        ``_cost.NEWTON_MAX_HESSIAN_GRADIENTS`` gradients (or under a millisecond)
        (:func:`celr.solvers._cost.exact_hessian_pays`).

    Returns
    -------
    SolverResult
    """
    problem = SmoothProblem(objective, penalty)
    if exact_hessian is None:
        exact_hessian = exact_hessian_pays(ProblemShape.of_objective(objective))
    row_stride = hessian_row_stride(objective.n_samples, problem.n_params)
    coef = objective.remove_invariant(np.array(coef0, dtype=np.float64))
    value, grad = problem.value_grad(coef)
    record = IterationRecord(coef, value, problem.stop_crit(coef, grad), callback)
    converged = record.stop_crit <= tol
    inverse, factor_is_fresh, contraction = None, False, np.inf
    # Below REUSE_MIN_PARAMS a Hessian costs about a gradient: reusing one only adds
    # iterations (raw breast cancer: 11 instead of 9).
    reuse_contraction = REUSE_CONTRACTION if problem.n_params >= REUSE_MIN_PARAMS else 0.0
    while not converged and record.n_iter < max_iter:
        if exact_hessian and (inverse is None or contraction > reuse_contraction):
            inverse = None  # free the old factor before building the new one
            inverse, factor_is_fresh = _hessian_inverse(problem, coef, row_stride), True
        if exact_hessian:
            direction = inverse(grad)
        else:
            direction = _cg_direction(problem, coef, grad)
        direction = objective.remove_invariant(direction)
        step = _step(problem, coef, value, grad, direction, record.stop_crit)
        if step is None and exact_hessian and not factor_is_fresh:
            inverse = None  # a stale Hessian may be what failed: rebuild and try again
            continue
        if step is None:
            # Nothing measurable is left to gain. That is convergence only if the gradient
            # is at the level rounding allows; else the direction was unsound.
            converged = problem.converged_when_stalled(record.stop_crit, tol)
            break
        coef, value, grad = step
        previous = record.stop_crit
        record.add(coef, value, problem.stop_crit(coef, grad))
        contraction, factor_is_fresh = record.stop_crit / previous, False
        converged = record.stop_crit <= tol
    return record.result(converged)


def _step(problem, coef, value, grad, direction, stop_crit):
    """The accepted point along the Newton ``direction``, or None.

    Newton decrement: the decrease the quadratic model promises, about twice the
    remaining gap. Below the precision f is evaluated to (float32 data), a line search on
    f judges noise; the full step is then kept only if it halves the gradient. That test
    also takes a direction that does not descend (``g . d >= 0``, an inexact CG solve);
    a NaN slope falls back to ``-grad``.
    """
    if -float(grad @ direction) <= 4 * problem.objective.precision * abs(value):
        return _gradient_halving_step(problem, coef, stop_crit, direction)
    slope = float(grad @ direction)
    if not slope < 0:
        direction, slope = -grad, -float(grad @ grad)
    return backtracking(problem, coef, value, grad, direction, slope)


def _hessian_inverse(
    problem: SmoothProblem, coef: np.ndarray, row_stride: int = 1
) -> Callable[[np.ndarray], np.ndarray]:
    """Factorise the (row-subsampled) Hessian at ``coef``; return ``g -> -H^{-1} g``."""
    # Factorise in standardised units (D H D): free of the feature scales' effect on
    # conditioning, then map the step back.
    scale = problem.param_scale
    hess = _lifted_scaled_hessian(problem, coef, row_stride)
    lapack = scipy.linalg.lapack
    anorm = lapack.dlange("1", hess)
    # LAPACK's Cholesky itself, not cho_factor/cho_solve: their wrappers cost 26 us a call,
    # 15% of a 3 ms fit (breast cancer). In place: a second (K d)^2 matrix would be the
    # fit's largest allocation.
    factor, info = lapack.dpotrf(hess, lower=0, clean=0, overwrite_a=1)
    if info == 0:
        rcond, _ = lapack.dpocon(factor, anorm, uplo="U")
        if rcond > 1e3 * np.finfo(float).eps:
            return lambda grad: -lapack.dpotrs(factor, grad / scale, lower=0)[0] / scale
    # Singular (collinear features without penalty): the minimum-norm Newton step, from
    # the Hessian built again (the failed factorisation overwrote it).
    hess = _lifted_scaled_hessian(problem, coef, row_stride)
    pseudo_inverse = scipy.linalg.pinvh(hess, rtol=1e-12)
    return lambda grad: -(pseudo_inverse @ (grad / scale)) / scale


def _lifted_scaled_hessian(problem: SmoothProblem, coef: np.ndarray, row_stride: int):
    """Scaled Hessian with softmax's flat directions lifted to the mean curvature.

    For K classes the Hessian is singular along the shift directions, where the gradient
    has no component; lifting them keeps Cholesky well conditioned without changing the
    step in the other directions.
    """
    hess = problem.scaled_hessian(coef, row_stride)
    problem.objective.add_invariant_curvature(hess, np.trace(hess) / len(hess))
    return hess


def _cg_direction(problem: SmoothProblem, coef: np.ndarray, grad: np.ndarray) -> np.ndarray:
    n = problem.n_params
    hessp = problem.hessp_at(coef)
    diag = problem.hessian_diag(coef)
    inv_diag = 1.0 / np.where(diag > 0, diag, 1.0)
    # Eisenstat-Walker forcing term: loose inner solves far away, tight ones near the end.
    rtol = min(0.5, float(np.sqrt(np.linalg.norm(grad))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direction, _ = cg(
            LinearOperator((n, n), matvec=hessp, dtype=np.float64),
            -grad,
            rtol=rtol,
            maxiter=_CG_MAX_ITER,
            M=LinearOperator((n, n), matvec=lambda v: inv_diag * v, dtype=np.float64),
        )
    return direction


def _gradient_halving_step(
    problem: SmoothProblem, coef: np.ndarray, stop_crit: float, direction: np.ndarray
) -> tuple[np.ndarray, float, np.ndarray] | None:
    """The full step if it at least halves the optimality measure, else None."""
    trial = coef + direction
    trial_value, trial_grad = problem.value_grad(trial)
    if problem.stop_crit(trial, trial_grad) <= 0.5 * stop_crit:
        return trial, trial_value, trial_grad
    return None
