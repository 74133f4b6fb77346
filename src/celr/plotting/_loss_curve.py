"""The loss curve display: the objective per iteration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils.validation import check_is_fitted

from celr.plotting._common import axes_to_draw_on, require_pyplot
from celr.solvers import is_stochastic

if TYPE_CHECKING:
    from matplotlib.axes import Axes


class LossCurveDisplay:
    """The objective per iteration of a fit, and the held-out loss when there is one.

    Parameters
    ----------
    loss_curve : array-like of shape (n_iter + 1,)
        Objective value at the start and after each iteration (epoch).
    validation_loss_curve : array-like of shape (n_iter + 1,), default=None
        Held-out cross-entropy at the same points (``'sgd'`` with ``early_stopping``).
    estimator_name : str, default=None
        Prefix of the legend labels.
    unit : str, default="iteration"
        What one step along x is (``"epoch"`` for ``'sgd'``); the x label.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    line_ : matplotlib Line2D
        The objective.
    validation_line_ : matplotlib Line2D or None
        The held-out loss; None without one.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_breast_cancer
    >>> from celr import CrossEntropyLogisticRegression
    >>> from celr.plotting import LossCurveDisplay
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = CrossEntropyLogisticRegression().fit(X, y)
    >>> display = LossCurveDisplay.from_estimator(clf, log_scale=True)
    >>> display.ax_.get_xlabel(), display.ax_.get_yscale()
    ('iteration', 'log')
    >>> plt.close(display.figure_)
    """

    def __init__(
        self, loss_curve: ArrayLike, *, validation_loss_curve: ArrayLike | None = None,
        estimator_name: str | None = None, unit: str = "iteration",
    ) -> None:  # fmt: skip
        self.loss_curve = _curve(loss_curve, "loss_curve")
        self.validation_loss_curve = (
            None if validation_loss_curve is None
            else _curve(validation_loss_curve, "validation_loss_curve")
        )  # fmt: skip
        self.estimator_name = estimator_name
        self.unit = unit

    def plot(
        self, ax: Axes | None = None, *, name: str | None = None, log_scale: bool = False,
        **kwargs: Any,
    ) -> LossCurveDisplay:  # fmt: skip
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.
        name : str, default=None
            Prefix of the legend labels; ``estimator_name`` when None.
        log_scale : bool, default=False
            Plot each curve minus its minimum on a log y axis, where the rate of
            convergence shows as a slope; the minimum is drawn at the smallest positive gap.
        **kwargs : dict
            Passed to ``Axes.plot`` for both lines.

        Returns
        -------
        display : LossCurveDisplay
        """
        ax = axes_to_draw_on(ax, f"{type(self).__name__}.plot")
        name = self.estimator_name if name is None else name
        prefix = "" if name is None else f"{name}: "

        def draw(curve, label, linestyle):
            values = _gap_to_minimum(curve) if log_scale else curve
            style = {"label": prefix + label, "linestyle": linestyle, **kwargs}
            return ax.plot(np.arange(len(values)), values, **style)[0]

        self.line_ = draw(self.loss_curve, "objective", "-")
        self.validation_line_ = None
        if self.validation_loss_curve is not None:
            self.validation_line_ = draw(
                self.validation_loss_curve, "held-out cross-entropy", "--"
            )
        if log_scale:
            ax.set_yscale("log")
        ax.set_xlabel(self.unit)
        ax.set_ylabel("objective - minimum" if log_scale else "objective")
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(
        cls, estimator, *, ax: Axes | None = None, name: str | None = None,
        log_scale: bool = False,
    ) -> LossCurveDisplay:  # fmt: skip
        """Plot a fitted estimator's ``loss_curve_`` (and ``validation_loss_curve_``).

        Parameters
        ----------
        estimator : fitted CrossEntropyLogisticRegression
            Or any fitted estimator with a ``loss_curve_``.
        ax, log_scale
            As in :meth:`plot`.
        name : str, default=None
            Prefix of the legend labels; the estimator's class name when None.

        Returns
        -------
        display : LossCurveDisplay
        """
        require_pyplot(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator)
        if getattr(estimator, "loss_curve_", None) is None:
            raise ValueError(
                f"{type(estimator).__name__} has no loss_curve_ to plot (a CV model fitted "
                "with refit=False keeps none)."
            )
        display = cls(
            estimator.loss_curve_,
            validation_loss_curve=getattr(estimator, "validation_loss_curve_", None),
            estimator_name=type(estimator).__name__ if name is None else name,
            unit="epoch" if is_stochastic(getattr(estimator, "solver_", None)) else "iteration",
        )
        return display.plot(ax=ax, log_scale=log_scale)


def _curve(values: ArrayLike, what: str) -> np.ndarray:
    curve = np.asarray(values, dtype=np.float64)
    if curve.ndim != 1 or curve.size == 0:
        raise ValueError(f"{what} must be a non-empty 1-d array, got shape {curve.shape}.")
    return curve


def _gap_to_minimum(curve: np.ndarray) -> np.ndarray:
    gap = curve - np.nanmin(curve)
    positive = gap[gap > 0]
    # A log axis cannot show the 0 at the minimum: the smallest measured gap is the
    # resolution the curve was recorded at, so the minimum is drawn there.
    if positive.size:
        return np.maximum(gap, positive.min())
    return np.maximum(gap, np.finfo(np.float64).eps * max(abs(float(np.nanmin(curve))), 1.0))
