"""What the tool prints: held-out metrics, the confusion matrix, the coefficient table."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    log_loss,
    roc_auc_score,
)

#: Width of the labels in ``key  value`` report lines.
KEY_WIDTH = 12


@dataclass
class Metrics:
    """Scores of a model's predictions on labelled rows."""

    n_rows: int
    accuracy: float
    log_loss: float
    roc_auc: float | None  # None when fewer than two classes are present
    roc_auc_kind: str


def score(classes: np.ndarray, y: pd.Series, proba: np.ndarray) -> Metrics:
    """Accuracy, log-loss and ROC AUC (one-vs-rest macro average for several classes)."""
    y = np.asarray(y)
    predicted = classes[np.argmax(proba, axis=1)]
    binary = len(classes) == 2
    aucs = []
    for k in [1] if binary else range(len(classes)):
        positive = y == classes[k]
        # A class absent from (or alone in) these rows has no ROC curve: average the rest.
        if 0 < positive.sum() < len(y):
            aucs.append(roc_auc_score(positive, proba[:, k]))
    return Metrics(
        n_rows=len(y),
        accuracy=accuracy_score(y, predicted),
        log_loss=log_loss(y, proba, labels=classes),
        roc_auc=float(np.mean(aucs)) if aucs else None,
        roc_auc_kind="" if binary else " (one-vs-rest, macro)",
    )


def line(key: str, value: object) -> str:
    """One aligned ``  key   value`` line."""
    return f"  {key:<{KEY_WIDTH}}{value}"


def metric_lines(metrics: Metrics) -> list[str]:
    """The three scores as report lines."""
    auc = "n/a (one class in these rows)" if metrics.roc_auc is None else f"{metrics.roc_auc:.4f}"
    return [
        line("accuracy", f"{metrics.accuracy:.4f}"),
        line("log-loss", f"{metrics.log_loss:.4f}"),
        line("ROC AUC", auc + (metrics.roc_auc_kind if metrics.roc_auc is not None else "")),
    ]


def confusion_text(classes: np.ndarray, y: pd.Series, predicted: np.ndarray) -> str:
    """The confusion matrix, rows the true class and columns the predicted one."""
    matrix = confusion_matrix(np.asarray(y), predicted, labels=classes)
    labels = [str(label) for label in classes]
    frame = pd.DataFrame(
        matrix,
        index=pd.Index(labels, name="true \\ predicted"),
        columns=pd.Index(labels),
    )
    return indent(frame.to_string())


def report_text(classes: np.ndarray, y: pd.Series, predicted: np.ndarray) -> str:
    """scikit-learn's per-class precision, recall and F1."""
    return classification_report(
        np.asarray(y),
        predicted,
        labels=classes,
        target_names=[str(label) for label in classes],
        digits=3,
        zero_division=0,
    ).rstrip()


def coefficient_text(table: pd.DataFrame) -> str:
    """A summary() table in the layout statsmodels users read."""
    alpha = table.attrs.get("alpha", 0.05)
    lower, upper = f"[{100 * alpha / 2:g}%", f"{100 * (1 - alpha / 2):g}%]"
    shown = pd.DataFrame(
        {
            "coef": table["estimate"],
            "std err": table["std_error"],
            "z": table["z"],
            "P>|z|": table["p_value"],
            lower: table["ci_lower"],
            upper: table["ci_upper"],
            "odds ratio": table["odds_ratio"],
        },
        index=table.index,
    )
    formatters = {column: _number for column in shown.columns}
    formatters["z"] = "{:.2f}".format
    formatters["P>|z|"] = lambda p: "<0.0001" if p < 1e-4 else f"{p:.4f}"
    return indent(shown.to_string(formatters=formatters))


def _number(value: float) -> str:
    """Four decimals, as far as they show the value; scientific notation beyond."""
    if value == 0 or 1e-3 <= abs(value) < 1e6:
        return f"{value:.4f}"
    return f"{value:.3e}"


def wrapped(text: str, prefix: str = "  ") -> str:
    """A paragraph wrapped to 88 columns."""
    return textwrap.fill(text, width=88, initial_indent=prefix, subsequent_indent=prefix)


def indent(text: str) -> str:
    return textwrap.indent(text, "  ")
