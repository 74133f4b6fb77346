"""The PNGs of ``celr evaluate --plots``: calibration, ROC, coefficients, loss curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from celr.cli._errors import CLIError

PLOT_HINT = 'plots need matplotlib: pip install "celr[plot]"'
#: Features drawn in the coefficient plot, the largest in absolute value.
MAX_PLOTTED_FEATURES = 20


def require_matplotlib():
    """matplotlib.pyplot on the file-only Agg backend (no display needed), or a CLIError."""
    try:
        import matplotlib
    except ImportError as exc:
        raise CLIError(PLOT_HINT) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(classifier, y: pd.Series, proba: np.ndarray, folder: Path) -> list[str]:
    """Draw every plot into ``folder``; returns one line per file (or per skipped plot)."""
    plt = require_matplotlib()
    folder.mkdir(parents=True, exist_ok=True)
    y = np.asarray(y)
    n_features = min(classifier.coef_.shape[1], MAX_PLOTTED_FEATURES)
    plots = [
        ("calibration.png", (6, 5), lambda ax: _calibration(ax, classifier.classes_, y, proba)),
        ("roc.png", (6, 5), lambda ax: _roc(ax, classifier.classes_, y, proba)),
        ("coefficients.png", (7, 1.5 + 0.3 * n_features), lambda ax: _coefs(ax, classifier)),
        ("loss_curve.png", (6, 4), lambda ax: _loss_curve(ax, classifier)),
    ]
    lines = []
    for name, size, draw in plots:
        figure, ax = plt.subplots(figsize=size)
        try:
            note = draw(ax)
            figure.savefig(folder / name, dpi=100, bbox_inches="tight")
            lines.append(f"  {folder / name}" + (f"  ({note})" if note else ""))
        finally:
            plt.close(figure)
    return lines


def _one_vs_rest(classes, y):
    """(label, positive mask, column) of each class with both kinds of rows present."""
    columns = [1] if len(classes) == 2 else range(len(classes))
    for k in columns:
        positive = y == classes[k]
        if 0 < positive.sum() < len(y):
            yield classes[k], positive, k


def _calibration(ax, classes, y, proba) -> str:
    from sklearn.calibration import CalibrationDisplay

    # Ten bins want tens of rows each; fewer rows get fewer, fuller bins.
    n_bins = int(np.clip(len(y) // 20, 3, 10))
    for label, positive, k in _one_vs_rest(classes, y):
        name = f"P({label})" if len(classes) == 2 else f"{label} vs rest"
        CalibrationDisplay.from_predictions(positive, proba[:, k], n_bins=n_bins, name=name, ax=ax)
    ax.set_title(
        "Calibration (held-out rows)" if len(classes) == 2 else "Calibration, one-vs-rest"
    )
    return "" if len(classes) == 2 else "one curve per class, one-vs-rest"


def _roc(ax, classes, y, proba) -> str:
    from sklearn.metrics import RocCurveDisplay

    curves = list(_one_vs_rest(classes, y))
    for i, (label, positive, k) in enumerate(curves):
        name = f"{label}" if len(classes) == 2 else f"{label} vs rest"
        # Positional scores: the keyword was renamed (y_pred -> y_score) in scikit-learn 1.7.
        RocCurveDisplay.from_predictions(
            positive, proba[:, k], name=name, ax=ax, plot_chance_level=i == len(curves) - 1
        )
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curve" if len(classes) == 2 else "ROC curves, one-vs-rest")
    return "" if len(classes) == 2 else "one curve per class, one-vs-rest"


def _coefs(ax, classifier) -> str:
    from celr.plotting import CoefficientDisplay

    common = {"max_features": MAX_PLOTTED_FEATURES, "ax": ax}
    note = "95% intervals from the stored covariance"
    if not getattr(classifier, "store_covariance", False):
        note = "no intervals: the model stores no covariance"
    else:
        try:
            CoefficientDisplay.from_estimator(classifier, intervals=True, **common)
        except ValueError as exc:
            # Inference refused: separation, exact L1 zeros, collinear features.
            note = f"no intervals: {str(exc).split('. ')[0]}"
    if note.startswith("no intervals"):
        ax.clear()
        CoefficientDisplay.from_estimator(classifier, intervals=False, **common)
    n_total = classifier.coef_.shape[1]
    shown = min(n_total, MAX_PLOTTED_FEATURES)
    ax.set_title(f"Coefficients ({shown} of {n_total} features, largest first)")
    return note


def _loss_curve(ax, classifier) -> str:
    from celr.plotting import LossCurveDisplay

    LossCurveDisplay.from_estimator(classifier, ax=ax, log_scale=len(classifier.loss_curve_) > 2)
    ax.set_title(f"Objective per iteration (solver {classifier.solver_!r})")
    return ""
