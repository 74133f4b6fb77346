"""The backtracking line search of the Newton-type solvers (Newton and proximal Newton)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from celr.solvers._base import SmoothProblem

ARMIJO = 1e-4
MAX_HALVINGS = 40


def backtracking(
    problem: SmoothProblem,
    coef: np.ndarray,
    value: float,
    grad: np.ndarray,
    direction: np.ndarray,
    predicted: float,
    evaluate: Callable[[np.ndarray, float], tuple[float, np.ndarray]] | None = None,
) -> tuple[np.ndarray, float, np.ndarray] | None:
    """Halve the step from ``coef + direction`` until ``F`` drops by the Armijo share of
    ``step * predicted``; None if no step in ``MAX_HALVINGS`` halvings does.

    ``F`` is the whole objective (smooth part plus any L1 term) and ``predicted < 0``
    its first-order change along ``direction``: ``g . d`` for Newton, plus the L1
    term's change for proximal Newton. ``evaluate(trial, step)`` gives the smooth part's
    value and gradient at ``trial = coef + step * direction`` (default
    ``problem.value_grad(trial)``; coordinate descent knows the trial's scores).

    Returns
    -------
    (coef, value, grad) or None
        The accepted point, ``F`` there and the smooth part's gradient.
    """
    stop_crit = problem.stop_crit(coef, grad)
    step = 1.0
    for _ in range(MAX_HALVINGS):
        trial = coef + step * direction
        if evaluate is None:
            trial_smooth, trial_grad = problem.value_grad(trial)
        else:
            trial_smooth, trial_grad = evaluate(trial, step)
        trial_value = problem.total_value(trial, trial_smooth)
        if trial_value <= value + ARMIJO * step * predicted:
            return trial, trial_value, trial_grad
        # Near the optimum the decrease is below rounding; a clear drop of the optimality
        # measure is then the only measurable sign of a better point.
        if abs(trial_value - value) <= 1e-14 * abs(value) and (
            problem.stop_crit(trial, trial_grad) < 0.5 * stop_crit
        ):
            return trial, trial_value, trial_grad
        step *= 0.5
    return None
