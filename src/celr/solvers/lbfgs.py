"""L-BFGS on implicitly standardised coefficients: smooth fits by the compact-form
L-BFGS of :mod:`._compact_lbfgs`, L1 by scipy's L-BFGS-B on split weights.

L-BFGS is not scale invariant: on raw features spanning orders of magnitude it needs
thousands of iterations, so it runs in :mod:`celr.solvers._coordinates`' standardised
coordinates (centre: ``objective.feature_center_scale()``'s; scale:
``SmoothProblem.feature_scale``, the spread raised where the L2 penalty dominates).

With an L1 part, the weights are split into positive and negative parts and L-BFGS-B
minimises the smooth bound-constrained problem that results (:mod:`._split_l1`), over
growing working sets of weights; in standardised coordinates ``v_j = w_j * scale_j`` the
L1 term is ``l1 * |v_j| / scale_j``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from celr.solvers._base import Callback, IterationRecord, SmoothProblem, SolverResult
from celr.solvers._compact_lbfgs import minimize_lbfgs
from celr.solvers._coordinates import MeanWhitenedCoordinates, StandardizedCoordinates
from celr.solvers._split_l1 import minimize_with_l1_working_sets
from celr.solvers._support import finish_converged

# L-BFGS keeps pairs of vectors: more pairs capture more curvature (on raw breast cancer,
# 100 pairs need 202 iterations where 10 need 12,216), within a fixed memory budget.
_HISTORY_BYTES = 64 * 2**20
_HISTORY_RANGE = (10, 100)


def history_size(n_params: int) -> int:
    """Number of correction pairs kept: as many as fit the budget, 10 to 100.

    Examples
    --------
    >>> history_size(31), history_size(2**18 + 1)
    (100, 15)
    """
    fitting = _HISTORY_BYTES // (2 * 8 * max(n_params, 1))
    return int(np.clip(fitting, *_HISTORY_RANGE))


def solve(
    objective,
    penalty,
    coef0: np.ndarray,
    *,
    tol: float,
    max_iter: int,
    callback: Callback | None = None,
    give_up: Callable[[list[float]], bool] | None = None,
) -> SolverResult:
    """Minimise ``objective + penalty`` with L-BFGS (L-BFGS-B on split weights for L1).

    The smooth iteration is Nocedal & Wright's Algorithm 7.5 (:mod:`._compact_lbfgs`)
    on the gradient of eq. 5.23's mean loss (the textbook's ``(sigma(w.x + b) - y) x_j``
    averaged over the rows) plus the L2 term's.

    Parameters
    ----------
    objective : LogisticObjective
        The data term.
    penalty : ElasticNetPenalty
        L2, L1 or elastic net.
    coef0 : ndarray of shape (n_params,)
        Starting point.
    tol : float
        Stop when ``SmoothProblem.stop_crit`` (the gradient's max-norm, or for L1 the
        distance of ``-grad`` to the subdifferential, in standardised units) is at most
        ``tol``.
    max_iter : int
        Maximum number of L-BFGS iterations.
    callback : callable, optional
        Called with an :class:`IterationInfo` after every iteration.
    give_up : callable, optional
        Called after every iteration with the ``stop_crit`` of the start and of each
        iteration so far; True ends the fit there, unconverged (as ``max_iter`` would):
        how :mod:`.handover` leaves the rest to Newton.

    Returns
    -------
    SolverResult
    """
    problem = SmoothProblem(objective, penalty)
    coords = StandardizedCoordinates(
        objective, objective.feature_center_scale()[0], problem.feature_scale
    )
    if not objective.fit_intercept and penalty.is_smooth:
        # No intercept to centre with: units of the spread about the mean, and the mean
        # direction whitened (L1's working sets need coordinates that keep each weight
        # apart, so not with L1).
        coords = MeanWhitenedCoordinates.without_intercept(
            objective,
            objective.feature_mean(),
            objective.feature_center_scale()[1],
            penalty.l2_strength,
        )
    at = _InU(problem, coords)
    coef0 = np.asarray(coef0, dtype=np.float64)
    # Softmax's shift of every column is free for the data and an L2 term, so the start
    # may drop it; an L1 term is not shift invariant, and a warm start must stay put.
    u0 = coords.from_coef(objective.remove_invariant(coef0) if penalty.is_smooth else coef0)
    record = IterationRecord(*at.state(u0), callback)
    stop_crits = [record.stop_crit]
    gave_up = False

    def record_at(u: np.ndarray) -> bool:
        """Book-keeping after an iteration; True once converged or given up."""
        nonlocal gave_up
        record.add(*at.state(u))
        stop_crits.append(record.stop_crit)
        if record.stop_crit <= tol:
            return True
        gave_up = give_up is not None and give_up(stop_crits)
        return gave_up

    if record.stop_crit <= tol or max_iter <= 0:
        pass  # nothing to do: converged at the start, or no iteration allowed
    elif penalty.is_smooth:
        # ftol at the evaluation precision: a no-op for float64, and for float32 data it
        # ends the search once f no longer moves, instead of ~60 line-search evaluations
        # in rounding noise (measured on sparse 200k x 2^18).
        minimize_lbfgs(
            at.value_and_grad,
            u0,
            history_size=history_size(problem.n_params),
            max_iter=max_iter,
            ftol=objective.precision,
            on_iteration=record_at,
        )
    else:
        minimize_with_l1_working_sets(
            at.value_and_grad,
            u0,
            penalty.l1_weights(problem.param_scale),
            tol=tol,
            max_iter=max_iter,
            history_size=lambda n_entries: history_size(2 * n_entries),
            ftol=objective.precision,
            on_iteration=record_at,
            # In the units of stop_crit (the working sets see u; the gradient in u of an
            # intercept's centring differs while the intercepts are not yet optimal).
            distance=lambda u, _: problem.optimality(*at.coef_and_grad(u)),
        )
    stalled = 0 < record.n_iter < max_iter and not gave_up
    converged = record.stop_crit <= tol or (
        stalled and problem.converged_when_stalled(record.stop_crit, tol)
    )
    # L-BFGS-B stops at tol, or where f stops moving (float32: 3e-5, 5e-3 off in coef_;
    # float64 multinomial: 7e-10 on wine): one exact Newton step on the settled support
    # (all of it without L1) goes to rounding level.
    converged = finish_converged(
        problem, penalty, record, tol, converged=converged, max_iter=max_iter
    )
    return record.result(converged)


class _InU:
    """The problem as L-BFGS sees it, in the standardised coordinates ``u``, with the
    last evaluation kept: the record asks for the point the engine just evaluated, and the
    engine's first request (ours or scipy's L-BFGS-B for L1) is the start, which the
    solver has just evaluated for its record (one evaluation of ten on 200,000 x 2^18
    tf-idf)."""

    def __init__(
        self, problem: SmoothProblem, coords: StandardizedCoordinates | MeanWhitenedCoordinates
    ) -> None:
        self.problem, self.coords = problem, coords
        self.last: dict = {}

    def value_and_grad(self, u: np.ndarray) -> tuple[float, np.ndarray]:
        if self._is_last(u):
            return self.last["value"], self.last["grad_u"].copy()
        coef = self.coords.to_coef(u)
        value, grad = self.problem.value_grad(coef)
        grad_u = self.coords.gradient_to_u(grad)
        self.last.update(u=u.copy(), coef=coef, value=value, grad=grad, grad_u=grad_u)
        return value, grad_u.copy()

    def _is_last(self, u: np.ndarray) -> bool:
        return "u" in self.last and np.array_equal(self.last["u"], u)

    def coef_and_grad(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self._is_last(u):
            self.value_and_grad(u)
        return self.last["coef"], self.last["grad"]

    def state(self, u: np.ndarray) -> tuple[np.ndarray, float, float]:
        """``coef``, the whole objective and ``stop_crit`` at ``u``."""
        coef, grad = self.coef_and_grad(u)
        value = self.problem.total_value(coef, self.last["value"])
        return coef, value, self.problem.stop_crit(coef, grad)
