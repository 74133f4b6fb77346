"""The regularization path display: coefficients against C."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from celr._path import RegularizationPath, regularization_path
from celr.plotting._common import LINESTYLES, axes_to_draw_on, feature_names, require_pyplot
from celr.solvers import is_stochastic

if TYPE_CHECKING:
    from matplotlib.axes import Axes


class RegularizationPathDisplay:
    """Coefficients against ``C``: how each weight grows as the penalty is relaxed.

    One line per feature on a log ``C`` axis; for a multinomial model one per (class,
    feature), a colour per feature and a line style per class.

    Parameters
    ----------
    Cs : array-like of shape (n_Cs,)
        The grid of ``C``.
    coefs : array-like of shape (n_Cs, n_features) or (n_Cs, n_scores, n_features)
        Coefficients at each ``C`` (``n_scores`` is 1 for two classes, as in
        :class:`celr.RegularizationPath`).
    feature_names : array-like of str, default=None
        Legend labels; ``x0``, ``x1``, ... when None.
    classes : array-like, default=None
        Class labels of a multinomial path, one per score.
    l1_ratio : float, default=0.0
        The path's elastic-net mixing, named in the legend title.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    lines_ : list of matplotlib Line2D
        One per feature, class-major for a multinomial model.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_breast_cancer
    >>> from celr import regularization_path
    >>> from celr.plotting import RegularizationPathDisplay
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> path = regularization_path(X[:, :5], y, Cs=5, l1_ratio=1.0)
    >>> display = RegularizationPathDisplay.from_path(path, max_legend=3)
    >>> len(display.lines_), display.ax_.get_xscale()
    (5, 'log')
    >>> plt.close(display.figure_)
    """

    def __init__(
        self, Cs: ArrayLike, coefs: ArrayLike, *, feature_names: ArrayLike | None = None,
        classes: ArrayLike | None = None, l1_ratio: float = 0.0,
    ) -> None:  # fmt: skip
        self.Cs = np.asarray(Cs, dtype=np.float64).ravel()
        self.coefs = np.asarray(coefs, dtype=np.float64)
        if self.coefs.ndim not in (2, 3) or self.coefs.shape[0] != len(self.Cs):
            raise ValueError(
                "coefs must have shape (n_Cs, n_features) or (n_Cs, n_classes, n_features) "
                f"with n_Cs={len(self.Cs)}, got {self.coefs.shape}."
            )
        if feature_names is not None and len(feature_names) != self.coefs.shape[-1]:
            raise ValueError(
                f"feature_names has {len(feature_names)} names for {self.coefs.shape[-1]} "
                "features."
            )
        self.feature_names = feature_names
        self.classes = classes
        self.l1_ratio = l1_ratio

    def plot(
        self, ax: Axes | None = None, *, name: str | None = None, max_legend: int = 10,
        **kwargs: Any,
    ) -> RegularizationPathDisplay:  # fmt: skip
        """Draw the path.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.
        name : str, default=None
            Start of the legend title.
        max_legend : int, default=10
            Name this many features in the legend: the largest at the largest ``C``.
        **kwargs : dict
            Passed to ``Axes.plot`` for every line.

        Returns
        -------
        display : RegularizationPathDisplay
        """
        ax = axes_to_draw_on(ax, f"{type(self).__name__}.plot")
        coefs = self.coefs if self.coefs.ndim == 3 else self.coefs[:, None, :]
        n_scores, n_features = coefs.shape[1:]
        features = feature_names(self.feature_names, n_features)
        # Colours go by rank at the largest C, so the features in the legend get distinct
        # colours from the 10-colour cycle.
        ranking = np.argsort(-np.abs(coefs[-1]).max(axis=0), kind="stable")
        rank = np.argsort(ranking)
        self.lines_ = []
        for k in range(n_scores):
            for j in range(n_features):
                label = features[j] if k == 0 and rank[j] < max_legend else "_nolegend_"
                style = {"color": f"C{rank[j] % 10}", "label": label,
                         "linestyle": LINESTYLES[k % len(LINESTYLES)]}  # fmt: skip
                self.lines_.extend(ax.plot(self.Cs, coefs[:, k, j], **{**style, **kwargs}))
        ax.axhline(0.0, color="grey", linewidth=0.8, zorder=0)
        ax.set_xscale("log")
        ax.set_xlabel("C")
        ax.set_ylabel("coefficient")
        handles = [self.lines_[j] for j in ranking[:max_legend]]
        if n_scores > 1:
            from matplotlib.lines import Line2D

            classes = range(n_scores) if self.classes is None else self.classes
            handles += [
                Line2D([], [], color="black", linestyle=LINESTYLES[k % len(LINESTYLES)],
                       label=f"class {label}")
                for k, label in enumerate(classes)
            ]  # fmt: skip
        if handles:
            title = ", ".join(t for t in (name, _penalty_name(self.l1_ratio)) if t)
            ax.legend(handles=handles, title=title, fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_path(
        cls, path: RegularizationPath, *, feature_names: ArrayLike | None = None,
        ax: Axes | None = None, name: str | None = None, max_legend: int = 10,
    ) -> RegularizationPathDisplay:  # fmt: skip
        """Plot a :class:`celr.RegularizationPath`.

        Parameters
        ----------
        path : RegularizationPath
            From :func:`celr.regularization_path`.
        feature_names : array-like of str, default=None
            Legend labels; ``x0``, ``x1``, ... when None.
        ax, name, max_legend
            As in :meth:`plot`.

        Returns
        -------
        display : RegularizationPathDisplay
        """
        require_pyplot(f"{cls.__name__}.from_path")
        display = cls(
            path.Cs, path.coefs, feature_names=feature_names, l1_ratio=path.l1_ratio,
            classes=path.classes if path.coefs.shape[1] > 1 else None,
        )  # fmt: skip
        return display.plot(ax=ax, name=name, max_legend=max_legend)

    @classmethod
    def from_estimator(
        cls, estimator, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
        *, Cs: int | ArrayLike = 10, ax: Axes | None = None, name: str | None = None,
        max_legend: int = 10,
    ) -> RegularizationPathDisplay:  # fmt: skip
        """Fit the path of an estimator's model on ``X, y`` and plot it.

        The estimator only holds the parameters (``l1_ratio``, ``class_weight``,
        ``fit_intercept``, ``solver``, ``tol``, ``max_iter``): it need not be fitted.

        Parameters
        ----------
        estimator : CrossEntropyLogisticRegression
            Its ``solver='sgd'``, which paths do not support, becomes ``'auto'``.
        X, y, sample_weight : array-like
            The data, as for ``fit``; a DataFrame's columns name the features.
        Cs : int or array-like, default=10
            The grid, as in :func:`celr.regularization_path`.
        ax, name, max_legend
            As in :meth:`plot`.

        Returns
        -------
        display : RegularizationPathDisplay
        """
        require_pyplot(f"{cls.__name__}.from_estimator")
        path = regularization_path(
            X, y, Cs=Cs, l1_ratio=estimator.l1_ratio, sample_weight=sample_weight,
            class_weight=estimator.class_weight, fit_intercept=estimator.fit_intercept,
            # A path warm starts full-batch fits; a stochastic solver's epochs would not.
            solver="auto" if is_stochastic(estimator.solver) else estimator.solver,
            tol=estimator.tol, max_iter=estimator.max_iter,
        )  # fmt: skip
        feature_names = list(X.columns) if hasattr(X, "columns") else None
        return cls.from_path(
            path, feature_names=feature_names, ax=ax, name=name, max_legend=max_legend
        )


def _penalty_name(l1_ratio: float) -> str:
    if l1_ratio == 0:
        return "L2"
    return "L1" if l1_ratio == 1 else f"elastic net, l1_ratio={l1_ratio:g}"
