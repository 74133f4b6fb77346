"""Full-batch gradient descent: the textbook's learner (Jurafsky & Martin, section 5.6).

Each iteration is the update ``theta <- theta - eta * grad f(theta)`` on the whole
objective (data term plus L2 penalty). Two ways to choose ``eta``:

- ``learning_rate`` given: exactly the textbook's update with that fixed step, in the
  raw coordinates. A step too large for the data's curvature makes the iterates diverge;
  this is detected (the objective rising far above its starting value or turning
  non-finite) and reported in ``SolverResult.diverged`` with the best point kept.
- ``learning_rate=None``: no tuning. The update is taken in standardised coordinates
  (:mod:`celr.solvers._coordinates`: a diagonal preconditioner that makes the step
  independent of feature scales), each step starting from the Barzilai-Borwein estimate
  of the inverse curvature and halved until a non-monotone Armijo condition holds.

With an L1 part the update is the proximal gradient step
``theta <- prox(theta - eta * grad f, eta)``, soft-thresholding by ``eta * l1`` (ISTA; with the
Barzilai-Borwein steps and the non-monotone test, SpaRSA of Wright, Nowak & Figueiredo
2009), which gives exact zeros.

Either way the solver stops on the same criterion as every other solver, so it reaches
the same optimum; it is just slower than Newton or L-BFGS on ill-conditioned problems.
"""

from __future__ import annotations

import numpy as np

from celr.solvers._base import Callback, IterationRecord, SmoothProblem, SolverResult
from celr.solvers._coordinates import StandardizedCoordinates
from celr.solvers._support import finish_converged

# Armijo's sufficient decrease: F(u+) <= F(u) - ARMIJO ||u+ - u||^2 / t, which for a
# plain gradient step u+ = u - t g is F(u) - ARMIJO t ||g||^2.
ARMIJO = 0.5
STEP_GROWTH = 2.0
STEP_SHRINK = 0.5
MAX_BACKTRACKS = 60
# Barzilai-Borwein steps are fast but not monotone: Armijo's test compares with the largest
# of the last few values (Grippo et al. 1986; Raydan 1997), not the last one.
NONMONOTONE_MEMORY = 10
#: Steps without a decrease of f above its rounding after which a line-searched fit has
#: stalled (twice the non-monotone memory: every reference value has been replaced).
STALL_ITERATIONS = 2 * NONMONOTONE_MEMORY


def diverged(value: float, start_value: float) -> bool:
    """Whether an objective value means the iterates are running away.

    The objective starts near ``log K``; a well-behaved first-order method never goes far
    above its start, so twice the start plus one nat (a mean probability of the true
    class ``e`` times smaller than at the start) signals a step that is too large.

    Examples
    --------
    >>> diverged(0.5, 0.69), diverged(3.0, 0.69), diverged(float("nan"), 0.69)
    (False, True, True)
    """
    return not np.isfinite(value) or value > 2.0 * start_value + 1.0


def solve(
    objective,
    penalty,
    coef0: np.ndarray,
    *,
    tol: float,
    max_iter: int,
    callback: Callback | None = None,
    learning_rate: float | None = None,
) -> SolverResult:
    """Minimise ``objective + penalty`` by (proximal) gradient descent.

    Parameters
    ----------
    objective : LogisticObjective
        The data term.
    penalty : ElasticNetPenalty
        L2, L1 or elastic net (the L1 part by its proximal step).
    coef0 : ndarray of shape (n_params,)
        Starting point.
    tol : float
        Stop when ``SmoothProblem.stop_crit`` is at most ``tol``.
    max_iter : int
        Maximum number of gradient steps.
    callback : callable, optional
        Called with an :class:`IterationInfo` after every iteration.
    learning_rate : float, optional
        Fixed step ``eta`` of the textbook update in raw coordinates; None for the
        line search in standardised coordinates.

    Returns
    -------
    SolverResult
        ``diverged`` is set when a fixed ``learning_rate`` made the objective run away;
        ``coef`` is then the best point seen.

    Examples
    --------
    >>> import numpy as np
    >>> from celr._objective import LogisticObjective
    >>> from celr._penalty import ElasticNetPenalty
    >>> X = np.array([[3.0, 2.0]]); y = np.array([1])
    >>> objective = LogisticObjective(X, y, np.ones(1), 2, True)
    >>> free = ElasticNetPenalty(0.0, 0.0, np.array([True, True, False]))
    >>> result = solve(objective, free, np.zeros(3), tol=0.0, max_iter=1, learning_rate=0.1)
    >>> result.coef.round(3).tolist()  # the textbook's step: w = [0.15, 0.1], b = 0.05
    [0.15, 0.1, 0.05]
    """
    problem = SmoothProblem(objective, penalty)
    coords = _coordinates(problem, standardized=learning_rate is None)
    coef0 = np.asarray(coef0, dtype=np.float64)
    u = coords.from_coef(objective.remove_invariant(coef0) if penalty.is_smooth else coef0)
    # The L1 term in u's units: |w_j| = |v_j| / scale_j.
    u_scale = problem.param_scale if learning_rate is None else 1.0
    coef = coords.to_coef(u)
    smooth_value, grad = problem.value_grad(coef)
    value = problem.total_value(coef, smooth_value)
    record = IterationRecord(coef, value, problem.stop_crit(coef, grad), callback)
    step = 1.0 if learning_rate is None else float(learning_rate)
    grad_u = coords.gradient_to_u(grad)
    stalled, has_diverged = False, False
    last_progress = 0  # the iteration that last lowered f by more than its rounding
    # Overflow can only come from a fixed step so large that the iterates diverge, which
    # is detected and reported; numpy's warnings would only repeat that.
    with np.errstate(over="ignore", invalid="ignore"):
        while record.stop_crit > tol and record.n_iter < max_iter:
            if learning_rate is None:
                reference = max(record.history[-NONMONOTONE_MEMORY:])
                accepted = _backtrack(problem, coords, u, reference, grad_u, step, u_scale)
                if accepted is None:
                    stalled = True
                    break
                step, new_u, coef, value, grad = accepted
                new_grad_u = coords.gradient_to_u(grad)
                step = _barzilai_borwein(new_u - u, new_grad_u - grad_u, step)
                u, grad_u = new_u, new_grad_u
            else:
                u, coef, value, grad, grad_u = _fixed_step(
                    problem, coords, u, grad_u, step, u_scale
                )
            if diverged(value, record.history[0]) or not np.all(np.isfinite(grad)):
                has_diverged = True  # the runaway step is not counted: n_iter + 1 values
                break
            best_value = record.best_value
            record.add(coef, value, problem.stop_crit(coef, grad))
            if value < best_value - 4 * objective.precision * abs(best_value):
                last_progress = record.n_iter
            if learning_rate is None and _flat(record, last_progress, objective.precision):
                stalled = True
                break
    if has_diverged:
        record.return_to_best()
    converged = record.stop_crit <= tol or (
        stalled and problem.converged_when_stalled(record.stop_crit, tol)
    )
    if learning_rate is None:  # the textbook's fixed step is left as it is
        # An exact Newton step at the converged point takes the fit from tol to rounding
        # level: two equivalent problems (a column scaled by 2^500) give the same model.
        converged = finish_converged(
            problem, penalty, record, tol, converged=converged, max_iter=max_iter, always=True
        )
    return record.result(converged, diverged=has_diverged)


def _flat(record: IterationRecord, last_progress: int, precision: float) -> bool:
    """Whether the non-monotone search is stepping in rounding noise.

    It accepts such steps once f is flat: no new low above f's precision in
    ``STALL_ITERATIONS`` steps, with every value within rounding of the others, is a
    stall (Barzilai-Borwein excursions, which go up before they go down, are not flat).
    """
    if record.n_iter - last_progress < STALL_ITERATIONS:
        return False
    window = record.history[-STALL_ITERATIONS - 1 :]
    return max(window) - min(window) <= 16 * precision * abs(record.best_value)


def _coordinates(problem: SmoothProblem, standardized: bool) -> StandardizedCoordinates:
    """Standardised coordinates for the line search; the textbook's raw ones for a
    given step, which is then the ``eta`` of its update."""
    if not standardized:
        return StandardizedCoordinates.identity(problem.objective)
    center = problem.objective.feature_center_scale()[0]
    return StandardizedCoordinates(problem.objective, center, problem.feature_scale)


def _fixed_step(problem, coords, u, grad_u, step, u_scale):
    """The textbook's update with the fixed ``step`` (proximal for L1): the new ``u``,
    ``coef``, objective, gradient and gradient in ``u``."""
    u = problem.penalty.prox(u - step * grad_u, step, u_scale)
    coef = coords.to_coef(u)
    smooth_value, grad = problem.value_grad(coef)
    return u, coef, problem.total_value(coef, smooth_value), grad, coords.gradient_to_u(grad)


def _barzilai_borwein(u_change: np.ndarray, grad_change: np.ndarray, step: float) -> float:
    """The next trial step: ``|s|^2 / (s . y)``, the inverse curvature along the last step
    (Barzilai & Borwein 1988); twice the last step where that curvature is not positive."""
    curvature = u_change @ grad_change
    if curvature > 0:
        return float(u_change @ u_change / curvature)
    return step * STEP_GROWTH


def _backtrack(problem, coords, u, reference, grad_u, step, u_scale):
    """Halve the step until ``F(u+) <= reference - ARMIJO |u+ - u|^2 / step``, where
    ``u+`` is the (proximal) gradient step; None if it never does."""
    for _ in range(MAX_BACKTRACKS):
        trial_u = problem.penalty.prox(u - step * grad_u, step, u_scale)
        trial_coef = coords.to_coef(trial_u)
        trial_smooth, trial_grad = problem.value_grad(trial_coef)
        trial_value = problem.total_value(trial_coef, trial_smooth)
        change = trial_u - u
        if trial_value <= reference - ARMIJO * (change @ change) / step:
            return step, trial_u, trial_coef, trial_value, trial_grad
        step *= STEP_SHRINK
    return None
