"""The coefficient display: a forest plot of a coefficient table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike
from sklearn.utils.validation import check_is_fitted

from celr.plotting._common import (
    INTERCEPT,
    MARKERS,
    axes_to_draw_on,
    feature_names,
    require_pyplot,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes


class CoefficientDisplay:
    """A forest plot: each coefficient (or odds ratio) with its confidence interval.

    Features run down the y axis, the largest in absolute value at the top; a multinomial
    model gets one series per class (own marker and colour, offset so they do not overlap).

    Parameters
    ----------
    table : pandas.DataFrame
        Shaped like the estimator's ``summary()``: a row per parameter, indexed by feature
        name, or by (class label, feature name) for a multinomial model. An ``estimate``
        column; optionally ``ci_lower`` and ``ci_upper`` (drawn as error bars) and
        ``odds_ratio``, ``odds_ratio_lower``, ``odds_ratio_upper`` (else the exponentials
        of the others); ``table.attrs["alpha"]`` names the interval level in the x label.
        Every row is plotted.
    odds_ratio : bool, default=False
        Plot ``exp(coefficient)`` on a log x axis with a reference line at 1 (else at 0).
    estimator_name : str, default=None
        Legend label of a binary model's series, start of a multinomial model's legend
        title (which names the reference class of a ``'reference'`` parametrization).

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    errorbars_ : list of matplotlib ErrorbarContainer
        One per series (per class for a multinomial model).
    reference_line_ : matplotlib Line2D
        The vertical line at 0 (coefficients) or 1 (odds ratios).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_iris
    >>> from celr import CrossEntropyLogisticRegression
    >>> from celr.plotting import CoefficientDisplay
    >>> X, y = load_iris(return_X_y=True, as_frame=True)
    >>> clf = CrossEntropyLogisticRegression().fit(X, y)
    >>> display = CoefficientDisplay.from_estimator(clf, intervals=False, max_features=3)
    >>> len(display.errorbars_), len(display.ax_.get_yticklabels())
    (3, 3)
    >>> plt.close(display.figure_)
    """

    def __init__(
        self, table: pd.DataFrame, *, odds_ratio: bool = False, estimator_name: str | None = None
    ) -> None:
        if not isinstance(table, pd.DataFrame) or "estimate" not in table.columns:
            got = list(table.columns) if isinstance(table, pd.DataFrame) else type(table)
            raise ValueError(f"table must be a DataFrame with an 'estimate' column, got {got}.")
        if table.index.nlevels > 2 or table.index.has_duplicates:
            raise ValueError("table must have one row per feature, or per (class, feature) pair.")
        self.table = table
        self.odds_ratio = odds_ratio
        self.estimator_name = estimator_name

    def plot(
        self, ax: Axes | None = None, *, name: str | None = None, **kwargs: Any
    ) -> CoefficientDisplay:
        """Draw the forest plot.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.
        name : str, default=None
            Legend label (binary) or title start (multinomial); ``estimator_name`` when
            None.
        **kwargs : dict
            Passed to ``Axes.errorbar`` for every series.

        Returns
        -------
        display : CoefficientDisplay
        """
        ax = axes_to_draw_on(ax, f"{type(self).__name__}.plot")
        from matplotlib.ticker import LogFormatter

        name = self.estimator_name if name is None else name
        series = _series(self.table)
        order = _by_magnitude(self.table).index[::-1]  # the largest drawn last: at the top
        positions = np.arange(len(order), dtype=np.float64)
        multinomial = len(series) > 1
        spacing = min(0.6 / len(series), 0.2)
        self.errorbars_, has_intervals = [], False
        for k, (label, frame) in enumerate(series):
            x, lower, upper = _interval(frame.reindex(order), self.odds_ratio)
            xerr = None
            if lower is not None:
                has_intervals = True
                # Rounding can put a bound a hair inside the estimate; errorbar rejects < 0.
                xerr = np.clip(np.vstack([x - lower, upper - x]), 0.0, None)
            style = {"linestyle": "none", "marker": MARKERS[k % len(MARKERS)], "capsize": 3,
                     "label": str(label) if multinomial else name}  # fmt: skip
            if multinomial:
                style["color"] = f"C{k % 10}"
            offset = ((len(series) - 1) / 2 - k) * spacing  # first class on top, as in legend
            bars = ax.errorbar(x, positions + offset, xerr=xerr, **{**style, **kwargs})
            self.errorbars_.append(bars)
        self.reference_line_ = ax.axvline(
            1.0 if self.odds_ratio else 0.0, color="grey", linestyle=":", linewidth=1, zorder=0
        )
        if self.odds_ratio:
            ax.set_xscale("log")
            # Plain numbers: a narrow range labels minor ticks, and "2x10^-1" ones overlap.
            ax.xaxis.set_major_formatter(LogFormatter())
            ax.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
        ax.set_yticks(positions, labels=[str(feature) for feature in order])
        ax.set_ylim(-0.5, len(order) - 0.5)
        what = "odds ratio" if self.odds_ratio else "coefficient"
        alpha = self.table.attrs.get("alpha")
        level = f" ({100 * (1 - alpha):g}% interval)" if has_intervals and alpha else ""
        ax.set_xlabel(what + level)
        if multinomial:
            reference = self.table.attrs.get("reference_class")
            title = "class" if reference is None else f"class (vs. {reference})"
            ax.legend(title=title if name is None else f"{name}: {title}")
        elif name is not None:
            ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X: ArrayLike | None = None,
        y: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
        *,
        odds_ratio: bool = False,
        alpha: float = 0.05,
        cov_type: str = "nonrobust",
        intervals: bool = True,
        include_intercept: bool = False,
        max_features: int | None = None,
        ax: Axes | None = None,
        name: str | None = None,
    ) -> CoefficientDisplay:
        """Plot a fitted model's coefficients, with confidence intervals from ``summary``.

        Parameters
        ----------
        estimator : fitted CrossEntropyLogisticRegression
            With ``intervals=False``, any fitted linear classifier with ``coef_``.
        X, y, sample_weight : array-like, default=None
            The training data for ``estimator.summary``; None when the estimator kept
            its statistics at fit. Unused with ``intervals=False``.
        odds_ratio : bool, default=False
            Plot odds ratios, ``exp(coefficient)``, on a log axis.
        alpha : float, default=0.05
            The intervals cover ``1 - alpha``.
        cov_type : str, default="nonrobust"
            Passed to ``estimator.summary``.
        intervals : bool, default=True
            False plots the estimates alone, from ``coef_`` and ``intercept_``: no
            covariance matrix to compute, so any model size.
        include_intercept : bool, default=False
            Plot the intercept(s) too.
        max_features : int, default=None
            Keep this many features, the largest in absolute value over classes (an
            included intercept counts as one).
        ax, name
            As in :meth:`plot`.

        Returns
        -------
        display : CoefficientDisplay
        """
        require_pyplot(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator)
        has_intercept = getattr(estimator, "fit_intercept", True)
        if not intervals:
            table = _estimate_table(estimator, include_intercept and has_intercept)
        elif not hasattr(estimator, "summary"):
            raise ValueError(
                f"intervals=True needs {type(estimator).__name__}.summary(); pass "
                "intervals=False to plot the estimates alone."
            )
        else:
            table = estimator.summary(
                X, y, sample_weight=sample_weight, alpha=alpha, cov_type=cov_type
            )
            if has_intercept and not include_intercept:
                table = _keep(table, table.index.get_level_values(-1) != INTERCEPT)
        if max_features is not None:
            if max_features < 1:
                raise ValueError(f"max_features must be at least 1, got {max_features}.")
            largest = _by_magnitude(table).index[:max_features]
            table = _keep(table, table.index.get_level_values(-1).isin(largest))
        return cls(table, odds_ratio=odds_ratio, estimator_name=name).plot(ax=ax)


def _series(table: pd.DataFrame) -> list[tuple[Any, pd.DataFrame]]:
    """(class label, its rows indexed by feature) per series; one unlabelled if binary."""
    if isinstance(table.index, pd.MultiIndex):
        return [(label, table.xs(label, level=0)) for label in table.index.unique(level=0)]
    return [(None, table)]


def _by_magnitude(table: pd.DataFrame) -> pd.Series:
    """Largest ``|estimate|`` over classes per feature, largest first (ties: table order)."""
    size = table["estimate"].abs()
    if isinstance(table.index, pd.MultiIndex):
        size = size.groupby(level=1, sort=False).max()
    return size.sort_values(ascending=False, kind="stable")


def _interval(frame: pd.DataFrame, odds_ratio: bool):
    """Estimates and interval bounds on the plotted scale (bounds None when absent)."""

    def column(name):
        return frame[name].to_numpy(dtype=np.float64) if name in frame.columns else None

    x, lower, upper = column("estimate"), column("ci_lower"), column("ci_upper")
    if odds_ratio:
        # Huge estimates (a separated class) have infinite odds ratios, left off the axis.
        with np.errstate(over="ignore"):
            x = column("odds_ratio") if "odds_ratio" in frame.columns else np.exp(x)
            if {"odds_ratio_lower", "odds_ratio_upper"} <= set(frame.columns):
                lower, upper = column("odds_ratio_lower"), column("odds_ratio_upper")
            elif lower is not None and upper is not None:
                lower, upper = np.exp(lower), np.exp(upper)
    return (x, None, None) if lower is None or upper is None else (x, lower, upper)


def _keep(table: pd.DataFrame, mask) -> pd.DataFrame:
    kept = table[np.asarray(mask)]
    kept.attrs = dict(table.attrs)  # the interval level lives there
    return kept


def _estimate_table(estimator, include_intercept: bool) -> pd.DataFrame:
    """An estimate-only table from ``coef_`` (and ``intercept_``), as ``summary()``'s."""
    coef = estimator.coef_
    coef = np.atleast_2d(coef.toarray() if sp.issparse(coef) else np.asarray(coef, float))
    features = feature_names(getattr(estimator, "feature_names_in_", None), coef.shape[1])
    if include_intercept:
        intercept = np.broadcast_to(np.asarray(estimator.intercept_, float), coef.shape[:1])
        coef, features = np.column_stack([coef, intercept]), [*features, INTERCEPT]
    if coef.shape[0] == 1:
        return pd.DataFrame({"estimate": coef[0]}, index=pd.Index(features, name="feature"))
    index = pd.MultiIndex.from_product([estimator.classes_, features], names=["class", "feature"])
    return pd.DataFrame({"estimate": coef.ravel()}, index=index)
