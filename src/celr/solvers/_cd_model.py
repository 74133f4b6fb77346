"""Proximal Newton on sparse two-class data: each model solved by coordinate descent.

:mod:`celr.solvers.prox_newton` solves its local model with the Hessian as a matrix
where that pays (small ``n_params``). On wide sparse data it does not, and each
Hessian-vector product would cost a pass over X; there the model is solved here, by
coordinate descent over X's columns (:func:`celr._cd_kernel.model_sweeps`) on a working
set: the non-zero weights and the zeros whose gradient most violates their optimality
condition (as glmnet, celer and skglm do). A sweep then costs the stored entries of the
set's columns, and the full data are read once an outer iteration, for the exact
gradient that the stopping test and the next working set need.

Each iteration: (1) the exact gradient and ``stop_crit`` over every weight; (2) the
working set; (3) the curvature ``h_i = s_i p_i (1 - p_i) / S`` at the current scores;
(4) sweeps until the model's largest partial derivative (in ``stop_crit``'s standardised
units) is below a tolerance that tightens with ``stop_crit`` (superlinear convergence,
as in :mod:`.prox_newton`); (5) the same backtracking line search on the whole
objective, which also evaluates the next gradient.

With an intercept every coordinate moves along ``e_j - mu_j e_b``, which keeps the
intercept's partial derivative (tf-idf columns are all correlated with the column of
ones). Without one, a column stored in nearly every row takes the intercept's part, and
its non-zero weight is the sweeps' pivot instead (:data:`PIVOT_SHARE`): on the b = 0
L1 path over 100k x 100k tf-idf that took 212 -> 95 iterations at tol 1e-4 (16.9 ->
9.3 s) and made tol 1e-6 reachable (31.7 s; over 120 s before).

The sweeps return ``X d`` with the step, so the line search knows every trial's scores
(``z + t X d``) and needs no product for them; the gradient ``X^T r`` is then a gather
per column of the CSC copy, over column ranges on threads (:class:`ScoredEvaluation`),
not the row blocks' scatter. The scores so carried drift by a rounding an iteration:
a ``stop_crit`` at ``tol`` is confirmed by an evaluation from scratch before the fit
ends on it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from celr._cd_kernel import column_moments, model_sweeps
from celr._loss import binary_loss_and_residual
from celr._parallel import MIN_ENTRIES_PER_BLOCK, _pool, entry_ranges
from celr.solvers._base import Callback, IterationRecord, SmoothProblem, SolverResult
from celr.solvers._line_search import backtracking
from celr.solvers._support import finish_converged

#: The working set holds the non-zero weights and this many times as many violators
#: (at least ``MIN_NEW_ENTRIES``): it doubles while the support grows, as celer's does.
GROWTH = 2
MIN_NEW_ENTRIES = 100
#: Sweeps per model: the tolerance ends them long before, except on a model that is
#: nearly flat along a column (its exact minimiser far away).
MAX_SWEEPS = 500
#: Each model is solved to this share of the outer ``stop_crit`` (at least ``tol / 10``).
MODEL_FORCING = 0.3
#: Without an intercept, a non-zero weight of a column stored in at least this share of
#: the rows is the sweeps' pivot (:func:`celr._cd_kernel.model_sweeps`).
PIVOT_SHARE = 0.9


def applies(objective) -> bool:
    """Whether the objective's columns are at hand for coordinate descent."""
    return objective.csc_binary_columns() is not None


def solve(
    objective,
    penalty,
    coef0: np.ndarray,
    *,
    tol: float,
    max_iter: int,
    callback: Callback | None = None,
) -> SolverResult:
    """Minimise ``objective + penalty`` (an elastic net with an L1 part) by proximal
    Newton steps whose models coordinate descent solves; see the module docstring.

    Parameters
    ----------
    objective : Objective
        A two-class data term with :meth:`csc_binary_columns`.
    penalty : ElasticNetPenalty
    coef0 : ndarray of shape (n_params,)
    tol : float
        Stop when ``SmoothProblem.stop_crit`` is at most ``tol``.
    max_iter : int
        Maximum number of proximal Newton steps.
    callback : callable, optional
        Called with an :class:`IterationInfo` after every step.

    Returns
    -------
    SolverResult
    """
    X, y, weight = objective.csc_binary_columns()
    problem = SmoothProblem(objective, penalty)
    scored = ScoredEvaluation(problem, X, y, weight, getattr(objective, "n_threads", 1))
    n_features, fit_intercept = objective.n_features, objective.fit_intercept
    unit = 1.0 / problem.param_scale[:n_features]
    l1 = penalty.l1_weights()[:n_features]
    l2 = penalty.smooth_hessian_diag()[:n_features]
    coef = np.array(coef0, dtype=np.float64)
    smooth_value, grad = problem.value_grad(coef)
    value = problem.total_value(coef, smooth_value)
    record = IterationRecord(coef, value, problem.stop_crit(coef, grad), callback)
    converged = record.stop_crit <= tol
    scores = _scores(X, coef, n_features, fit_intercept)
    nearly_dense = (
        np.empty(0, dtype=np.intp)
        if fit_intercept
        else np.flatnonzero(np.diff(X.indptr) >= PIVOT_SHARE * X.shape[0])
    )
    carried = False  # whether value and grad came from carried scores
    while not converged and record.n_iter < max_iter:
        stop_crit = record.stop_crit
        model_tol = max(0.1 * tol, MODEL_FORCING * stop_crit)
        working = working_set(coef[:n_features], problem.optimality(coef, grad)[:n_features], l1)
        probability = expit(scores)
        curvature = weight * probability * (1.0 - probability)
        model = (
            X, working, curvature, grad[working], coef[working], l1[working], l2[working],
            unit[working], fit_intercept, float(grad[-1]) if fit_intercept else 0.0,
            model_tol,
        )  # fmt: skip
        pivot = pivot_of(working, coef, nearly_dense)
        step, intercept_step, xstep = solve_model(*model, pivot=pivot)
        if pivot is not None and not _kept_sign(coef[working[pivot]], step[pivot]):
            # The pivot's L1 term is linear only on its side of zero.
            step, intercept_step, xstep = solve_model(*model)
        direction = np.zeros_like(coef)
        direction[working] = step
        if fit_intercept:
            direction[-1] = intercept_step
        predicted = float(grad @ direction) + (
            penalty.nonsmooth_value(coef + direction) - penalty.nonsmooth_value(coef)
        )
        # As in prox_newton: a decrease below f's rounding cannot be found by a search.
        small = -predicted <= 4 * objective.precision * abs(value)
        accepted = None
        if not small:
            trial_scores = scored.along(scores, xstep)
            accepted = backtracking(problem, coef, value, grad, direction, predicted, trial_scores)
        if accepted is None:
            if carried:  # the stall is judged at the true optimality
                grad, carried = problem.value_grad(coef)[1], False
                record.end_at(coef, problem.stop_crit(coef, grad))
            converged = problem.converged_when_stalled(record.stop_crit, tol)
            break
        new_coef, value, grad = accepted
        scores += _step_length(coef, new_coef, direction) * xstep
        coef, carried = new_coef, True
        stop_crit = problem.stop_crit(coef, grad)
        if stop_crit <= tol:  # confirmed from scratch, free of the carried scores' drift
            smooth_value, grad = problem.value_grad(coef)
            value = problem.total_value(coef, smooth_value)
            stop_crit, carried = problem.stop_crit(coef, grad), False
        record.add(coef, value, stop_crit)
        converged = record.stop_crit <= tol
    if carried:  # max_iter: the warning quotes the true optimality
        grad = problem.value_grad(coef)[1]
        record.end_at(coef, problem.stop_crit(coef, grad))
    converged = finish_converged(
        problem, penalty, record, tol, converged=converged, max_iter=max_iter, grad=grad
    )
    return record.result(converged)


def solve_model(
    X,
    working,
    curvature,
    grad,
    coef,
    l1,
    l2,
    unit,
    fit_intercept: bool,
    grad_intercept: float,
    tol: float,
    pivot: int | None = None,
) -> tuple[np.ndarray, float, np.ndarray]:
    """The model's minimiser over ``working`` (and ``b``): ``(d, d_b, X d + d_b)``.

    Coordinate descent (:func:`celr._cd_kernel.model_sweeps`) until a sweep's largest
    partial derivative (standardised units) is at most ``tol``. (Anderson extrapolation
    of the sweeps, as skglm and celer do, was tried: on the 100k x 100k tf-idf path its
    extrapolations were rarely better than the sweep they would replace, and the path
    took 12% longer.) ``pivot``, a position in ``working`` (no intercept), makes that
    column the sweeps' pivot, valid while its weight keeps its sign.
    """
    rest, column, pivot_l2, pivot_unit = slice(None), None, 0.0, 1.0
    if pivot is not None:
        j = working[pivot]
        column = np.zeros(X.shape[0])
        entries = slice(X.indptr[j], X.indptr[j + 1])
        column[X.indices[entries]] = X.data[entries]
        rest = np.delete(np.arange(working.size), pivot)
        # The pivot takes the intercept's place: its gradient with its L1 term's slope.
        grad_intercept = grad[pivot] + l1[pivot] * np.sign(coef[pivot])
        pivot_l2, pivot_unit = l2[pivot], unit[pivot]
    columns = (X.data, X.indices, X.indptr, working[rest], curvature)
    moments, total = column_moments(*columns, l2[rest], fit_intercept, column, pivot_l2)
    rest_step, xstep = np.zeros(columns[3].size), np.zeros(X.shape[0])
    intercept_step, _, _ = model_sweeps(
        *columns, grad[rest], coef[rest], l1[rest], l2[rest], unit[rest], moments, total,
        rest_step, xstep, fit_intercept, grad_intercept, 0.0, tol, MAX_SWEEPS, column,
        pivot_l2, pivot_unit,
    )  # fmt: skip
    if pivot is None:
        return rest_step, intercept_step, xstep
    step = np.empty(working.size)
    step[rest], step[pivot] = rest_step, intercept_step
    return step, 0.0, xstep


def pivot_of(working: np.ndarray, coef: np.ndarray, nearly_dense: np.ndarray) -> int | None:
    """The position in ``working`` of the first non-zero weight of a column in
    ``nearly_dense``, or None.

    Examples
    --------
    >>> import numpy as np
    >>> pivot_of(np.array([0, 3, 5]), np.array([1.0, 0, 0, 0, 0, -2.0]), np.array([3, 5]))
    2
    """
    candidates = np.flatnonzero(np.isin(working, nearly_dense) & (coef[working] != 0.0))
    return int(candidates[0]) if candidates.size else None


def _kept_sign(weight: float, step: float) -> bool:
    return bool(np.sign(weight + step) == np.sign(weight))


class ScoredEvaluation:
    """The smooth objective's value and gradient at coefficients whose scores are known.

    The data term (eq. 5.23 and the textbook gradient, as the objective computes them)
    from the scores ``z``: the loss and residual row by row, and ``X^T r`` from the CSC
    columns, each entry one column's dot product. Column ranges of about equal entries
    run on threads; each entry is computed whole by one range, so the bits do not depend
    on the ranges or the threads.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from celr._objective import LogisticObjective
    >>> from celr._penalty import ElasticNetPenalty
    >>> from celr.solvers._base import SmoothProblem
    >>> X = sp.csc_matrix(np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]))
    >>> y = np.array([0, 1, 1])
    >>> objective = LogisticObjective(X, y, np.ones(3), 2, True)
    >>> problem = SmoothProblem(objective, ElasticNetPenalty(0.0, 0.0, np.ones(3, bool)))
    >>> coef = np.array([0.5, -0.25, 0.1])
    >>> value, grad = ScoredEvaluation(problem, X, y, objective.normalized_weight, 1)(
    ...     coef, objective.scores(coef))
    >>> bool(np.allclose(grad, problem.value_grad(coef)[1], rtol=1e-15, atol=0))
    True
    """

    def __init__(self, problem: SmoothProblem, X, y, weight: np.ndarray, n_threads: int):
        self.problem, self.y, self.weight, self.dtype = problem, y, weight, X.dtype
        n_parts = max(1, min(int(n_threads), X.nnz // MIN_ENTRIES_PER_BLOCK))
        # X^T's rows are X's columns: a range of them is a CSR view of the same arrays.
        self.parts = []
        for a, b in entry_ranges(X.indptr, n_parts):
            entries = slice(X.indptr[a], X.indptr[b])
            rows = (X.data[entries], X.indices[entries], X.indptr[a : b + 1] - X.indptr[a])
            self.parts.append(sp.csr_matrix(rows, shape=(b - a, X.shape[0])))
        self._pool = _pool(len(self.parts)) if len(self.parts) > 1 else None

    def along(self, scores: np.ndarray, xstep: np.ndarray):
        """The line search's evaluation at ``coef + t d``, whose scores are ``z + t X d``."""
        return lambda trial, step: self(trial, scores + step * xstep)

    def __call__(self, coef: np.ndarray, scores: np.ndarray) -> tuple[float, np.ndarray]:
        problem, objective = self.problem, self.problem.objective
        problem.n_evaluations += 1
        loss, residual = binary_loss_and_residual(scores, self.y)
        value = float(loss @ self.weight)
        residual *= self.weight
        r = residual.astype(self.dtype, copy=False)
        if self._pool is None:
            products = [part @ r for part in self.parts]
        else:
            products = list(self._pool.map(lambda part: part @ r, self.parts))
        grad_w = np.concatenate(products).astype(np.float64, copy=False)
        grad = objective.pack(grad_w, np.array([residual.sum()]))
        pen_value, pen_grad = problem.penalty.smooth_value_grad(coef)
        return value + pen_value, grad + pen_grad


def working_set(weights: np.ndarray, optimality: np.ndarray, l1: np.ndarray) -> np.ndarray:
    """The non-zero and unpenalised weights, and the zeros that violate optimality most.

    Of the zero weights whose optimality measure is positive (their gradient exceeds their
    L1 weight), the ``GROWTH`` times as many as there are non-zero weights (at least
    ``MIN_NEW_ENTRIES``) with the largest measure join; the others stay at zero this
    iteration, and the next iteration's exact gradient reconsiders them.

    Examples
    --------
    >>> import numpy as np
    >>> working_set(np.array([0.0, 2.0, 0.0, 0.0]), np.array([0.5, 0.0, 0.0, 0.1]),
    ...             np.ones(4)).tolist()
    [0, 1, 3]
    """
    keep = (weights != 0.0) | (l1 == 0.0)
    violators = np.flatnonzero(~keep & (optimality > 0.0))
    n_new = max(GROWTH * int(np.count_nonzero(keep)), MIN_NEW_ENTRIES)
    if violators.size > n_new:
        violators = violators[np.argpartition(-optimality[violators], n_new - 1)[:n_new]]
    # A mask, not np.union1d's sort: 1.4 s of a 39 s stretch of the 100k-column path.
    keep[violators] = True
    return np.flatnonzero(keep)


def _scores(X, coef: np.ndarray, n_features: int, fit_intercept: bool) -> np.ndarray:
    """``X W + b`` in float64, from the CSC columns."""
    scores = np.asarray(X @ coef[:n_features].astype(X.dtype), dtype=np.float64)
    if fit_intercept:
        scores += coef[-1]
    return scores


def _step_length(coef: np.ndarray, new_coef: np.ndarray, direction: np.ndarray) -> float:
    """The line search's accepted step ``t`` in ``new_coef = coef + t direction`` (a power
    of two: it halves from 1), so that the scores move by ``t X d`` without a pass."""
    largest = int(np.argmax(np.abs(direction)))
    ratio = (new_coef[largest] - coef[largest]) / direction[largest]
    return float(2.0 ** np.round(np.log2(ratio)))
