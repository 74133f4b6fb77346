"""What every solver shares: the result record and the smooth objective it minimises."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from celr._penalty import ElasticNetPenalty


@dataclass
class SolverResult:
    """Outcome of one solve.

    Attributes
    ----------
    coef : ndarray
        Flat coefficient vector (layout of :mod:`celr._objective`).
    n_iter : int
        Iterations done.
    converged : bool
        Whether ``stop_crit <= tol`` was reached.
    stop_crit : float
        Final optimality measure: max-norm of the gradient (smooth penalty) or of the
        distance of ``-grad`` to the subdifferential (L1).
    history : list of float
        Objective value after each iteration (the first entry is at ``coef0``).
    diverged : bool
        Whether a fixed learning rate made the iterates run away (first-order solvers);
        ``coef`` is then the best point seen.
    validation_history : list of float
        Held-out cross-entropy after each epoch, when the solver was given held-out data.
    state : object, optional
        The optimiser state a stochastic solver can continue from (``partial_fit``).
    interrupted : bool
        Whether the fit was stopped by Ctrl-C; ``coef`` is then the best point seen.
    """

    coef: np.ndarray
    n_iter: int
    converged: bool
    stop_crit: float
    history: list[float] = field(default_factory=list)
    diverged: bool = False
    validation_history: list[float] = field(default_factory=list)
    state: object = None
    interrupted: bool = False


@dataclass
class IterationInfo:
    """What a solver reports to ``callback`` after each iteration.

    ``stop_crit`` is NaN where the solver does not measure it per iteration (``'sgd'``'s
    epochs: the full gradient would cost as much as the objective again).
    """

    n_iter: int
    objective: float
    stop_crit: float
    coef: np.ndarray


Callback = Callable[[IterationInfo], None]


class IterationRecord:
    """What every solver keeps of its iterations: values, count, callback, best point.

    A solver creates one at its starting point, calls :meth:`add` after each iteration
    (which numbers it and calls ``callback``) and ends with :meth:`result`.

    Parameters
    ----------
    coef : ndarray
        The starting point; ``history`` starts with its value.
    value, stop_crit : float
        Objective and optimality measure there.
    callback : callable, optional
        Called with an :class:`IterationInfo` by every :meth:`add`.

    Examples
    --------
    >>> import numpy as np
    >>> record = IterationRecord(np.zeros(2), 1.0, 0.5)
    >>> record.add(np.ones(2), 0.25, 0.1)
    >>> record.n_iter, record.history, record.best_value
    (1, [1.0, 0.25], 0.25)
    >>> record.result(converged=True).stop_crit
    0.1
    """

    def __init__(
        self, coef: np.ndarray, value: float, stop_crit: float, callback: Callback | None = None
    ) -> None:
        self.coef, self.value, self.stop_crit = coef, value, stop_crit
        self.history = [value]
        self.n_iter = 0
        self.callback = callback
        self.best_value, self.best_coef, self.best_stop_crit = value, coef, stop_crit

    def add(self, coef: np.ndarray, value: float, stop_crit: float) -> None:
        """One iteration done, at ``coef``."""
        self.coef, self.value, self.stop_crit = coef, value, stop_crit
        self.n_iter += 1
        self.history.append(value)
        if value <= self.best_value:
            self.best_value, self.best_coef, self.best_stop_crit = value, coef, stop_crit
        if self.callback is not None:
            self.callback(IterationInfo(self.n_iter, value, stop_crit, coef))

    def return_to_best(self) -> None:
        """Make the best point seen the current one (after a divergence)."""
        self.end_at(self.best_coef, self.best_stop_crit)

    def end_at(self, coef: np.ndarray, stop_crit: float) -> None:
        """End at ``coef`` (e.g. early stopping's best), whose optimality is ``stop_crit``."""
        self.coef, self.stop_crit = coef, stop_crit

    def result(self, converged: bool, **extra) -> SolverResult:
        """The :class:`SolverResult` at the current point (``extra``: its other fields)."""
        return SolverResult(
            self.coef, self.n_iter, converged, self.stop_crit, self.history, **extra
        )


def weight_unit(spread: np.ndarray, l2_strength: float) -> np.ndarray:
    """The natural unit of each weight: the square root of a bound on its curvature,
    ``p(1-p) sd^2 + l2 <= (sd^2 + 4 l2) / 4``.

    Without penalty this is the feature's spread (standardised features); a penalty that
    dominates (features of 1e-150) keeps negligible gradients from looking large.
    (hypot: a spread above 1e154 would overflow when squared.)

    Examples
    --------
    >>> weight_unit(np.array([3.0, 0.0]), 4.0).tolist()  # hypot(3, 4), hypot(0, 4)
    [5.0, 4.0]
    """
    return np.hypot(spread, 2.0 * np.sqrt(l2_strength))


class SmoothProblem:
    """The objective plus the smooth (L2) part of the penalty, as a solver sees it.

    Parameters
    ----------
    objective : LogisticObjective
        Anything with ``value``, ``value_grad``, ``hessp_at``, ``hessian`` and
        ``hessian_diag`` over flat coefficient vectors.
    penalty : ElasticNetPenalty
        Its L2 part is added here; its L1 part (if any) is left to proximal solvers.
    """

    def __init__(self, objective, penalty: ElasticNetPenalty) -> None:
        self.objective = objective
        self.penalty = penalty
        self.n_params = objective.n_params
        self.n_evaluations = 0
        _, spread = objective.feature_center_scale()
        self.feature_scale = weight_unit(spread, penalty.l2_strength)  # intercepts: 1
        self.param_scale = objective.pack(
            np.broadcast_to(self.feature_scale, (objective.n_scores, objective.n_features)),
            np.ones(objective.n_scores),
        )

    def value_grad(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        self.n_evaluations += 1
        value, grad = self.objective.value_grad(coef)
        pen_value, pen_grad = self.penalty.smooth_value_grad(coef)
        return value + pen_value, grad + pen_grad

    def total_value(self, coef: np.ndarray, smooth_value: float) -> float:
        """The whole objective, from the value of its smooth part at ``coef``."""
        return smooth_value + self.penalty.nonsmooth_value(coef)

    def hessp_at(self, coef: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        data_hessp = self.objective.hessp_at(coef)
        pen_diag = self.penalty.smooth_hessian_diag()
        return lambda v: data_hessp(v) + pen_diag * v

    def scaled_hessian(self, coef: np.ndarray, row_stride: int = 1) -> np.ndarray:
        """Hessian in standardised-feature units: ``D H D``, ``D = diag(1/param_scale)``.

        With ``row_stride > 1`` the data term's curvature is estimated from every
        ``row_stride``-th row (the penalty's is exact).
        """
        data = self.objective.row_subsample(row_stride)
        hess = data.hessian(coef, column_scale=self.feature_scale, working_precision=True)
        hess.flat[:: len(hess) + 1] += (
            self.penalty.smooth_hessian_diag() / self.param_scale / self.param_scale
        )
        return hess

    def hessian_diag(self, coef: np.ndarray) -> np.ndarray:
        return self.objective.hessian_diag(coef) + self.penalty.smooth_hessian_diag()

    def stop_crit(self, coef: np.ndarray, grad: np.ndarray) -> float:
        """Max-norm of the gradient (L1: its distance to the subdifferential) with respect
        to the coefficients of standardised features, ``|g_j| / param_scale_j``.
        ``param_scale`` is the feature's standard deviation (RMS without intercept), raised
        to ``2 sqrt(l2)`` where the L2 penalty's curvature dominates.

        Measuring in those units makes the test as scale invariant as Newton's method:
        multiplying a feature by 1e10 changes neither the fitted model's predictions nor
        when the solver stops.
        """
        return float(np.max(self.optimality(coef, grad), initial=0.0))

    def optimality(self, coef: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """Per-entry optimality measure whose max-norm is :meth:`stop_crit`."""
        return self.penalty.subdiff_distance(coef, grad) / self.param_scale

    def converged_when_stalled(self, stop_crit: float, tol: float) -> bool:
        """Whether a solver that can no longer decrease f has converged all the same.

        A line search compares values of f; once the gradient is near
        ``sqrt(precision)`` (1.5e-8 for float64 data, 3.5e-4 for float32) the decrease left
        is below f's rounding, so no method can resolve it. Within 10x of that the point
        counts as converged; above, the stall means the solver failed.
        """
        return stop_crit <= max(tol, 10.0 * np.sqrt(self.objective.precision))
