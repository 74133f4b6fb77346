"""``celr demo``: breast cancer end to end, through the same code as fit and evaluate."""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

from celr import CrossEntropyLogisticRegression
from celr.cli._report import coefficient_text, wrapped

TARGET = "diagnosis"
#: Coefficients shown, the largest in absolute value.
TOP = 8
REPEATS = 3


def run_demo(args: argparse.Namespace, parse: Callable[[list[str]], argparse.Namespace]) -> None:
    """Write the data, ``celr fit`` it, ``celr evaluate`` the held-out rows, compare.

    ``parse`` is the tool's own argument parser, so the steps run as the commands would.
    """
    from celr.cli._commands import run_evaluate, run_fit

    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data, model, held_out = out / "breast_cancer.csv", out / "model.skops", out / "held_out.csv"
    frame = _breast_cancer()
    frame.to_csv(data, index=False)
    print(f"wrote {data}: {len(frame)} tumours, 30 measurements, target {TARGET!r}\n")

    print(f"$ celr fit {data} --target {TARGET} -o {model}")
    fit = run_fit(parse(["fit", str(data), "--target", TARGET, "-o", str(model)]))
    pd.concat([fit.X_test, fit.y_test], axis=1).to_csv(held_out, index=False)

    plots = ["--plots", str(out)] if _have_matplotlib() else []
    print(f"\n$ celr evaluate {model} {held_out} --target {TARGET} {' '.join(plots)}")
    run_evaluate(parse(["evaluate", str(model), str(held_out), "--target", TARGET, *plots]))
    if not plots:
        print('  (no plots: pip install "celr[plot]" for them)')

    print(f"\nthe {TOP} largest coefficients (per standard deviation of each measurement)")
    _top_coefficients(fit.model[-1])
    print()
    _compare_with_sklearn(fit.X_train, fit.y_train, C=fit.model[-1].C)
    print(f"\ndone in {time.perf_counter() - start:.1f} s; in {out}:")
    for path in sorted(out.iterdir()):
        print(f"  {path.name}")


def _breast_cancer() -> pd.DataFrame:
    data = load_breast_cancer(as_frame=True)
    frame = data.data.copy()
    frame[TARGET] = np.asarray(data.target_names)[data.target]
    return frame


def _have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _top_coefficients(classifier) -> None:
    table = classifier.summary()
    features = table.drop(index="intercept")
    top = features.reindex(features["estimate"].abs().sort_values(ascending=False).index)
    top = top.head(TOP)
    print(coefficient_text(top))
    first = top.iloc[0]
    positive = classifier.classes_[1]
    print(
        wrapped(
            f"Read: one standard deviation more of {top.index[0]!r} multiplies the odds of "
            f"{positive!r} by {first['odds_ratio']:.3g} (95% interval "
            f"{first['odds_ratio_lower']:.3g} to {first['odds_ratio_upper']:.3g}). "
            "The intervals are wide because many measurements nearly repeat each other "
            f"(radius, perimeter, area). Penalised fit (C={classifier.C:g}): estimates "
            "shrunk, intervals conditional on the penalty. `celr summary` prints every row."
        )
    )


def _compare_with_sklearn(X: pd.DataFrame, y: pd.Series, C: float) -> None:
    """Both estimators on one objective, scored by a third party (sklearn's log_loss)."""
    print(f"celr vs scikit-learn, both with default settings and C={C:g}, best of {REPEATS} fits")
    print(
        wrapped(
            f"Same {len(y)} training rows, same objective: mean cross-entropy + ||w||^2 / "
            "(2 C n), computed here from each model's predict_proba and coef_. gap: how far "
            "above the lower of the two objectives a fit stopped."
        )
    )
    print(f"  {'features':<14}{'estimator':<40}{'objective':>14}{'gap':>10}{'fit time':>11}")
    scaled = pd.DataFrame(StandardScaler().fit_transform(X), columns=X.columns, index=X.index)
    contenders = [
        ("celr CrossEntropyLogisticRegression()", lambda: CrossEntropyLogisticRegression(C=C)),
        ("sklearn LogisticRegression()", lambda: LogisticRegression(C=C)),
    ]
    for features, data in [("raw", X), ("standardised", scaled)]:
        rows = []
        for name, make in contenders:
            model, seconds, note = _best_fit(make, data, y)
            rows.append((name, _objective(model, data, y, C), seconds, note))
        best = min(value for _, value, _, _ in rows)
        for name, value, seconds, note in rows:
            gap = f"{(value - best) / best:.1e}" if value > best else "0"
            print(
                f"  {features:<14}{name:<40}{value:>14.10f}{gap:>10}{seconds * 1e3:>8.1f} ms"
                + (f"  {note}" if note else "")
            )


def _best_fit(make, X, y):
    times = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        for _ in range(REPEATS):
            start = time.perf_counter()
            model = make().fit(X, y)
            times.append(time.perf_counter() - start)
    note = ""
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        note = f"(ConvergenceWarning: stopped at max_iter={int(np.max(model.n_iter_))})"
    return model, min(times), note


def _objective(model, X, y, C: float) -> float:
    """Mean cross-entropy of the predicted probabilities plus the L2 penalty / (C n)."""
    penalty = 0.0 if np.isinf(C) else 0.5 * float(np.sum(model.coef_**2)) / (C * len(y))
    return log_loss(y, model.predict_proba(X), labels=model.classes_) + penalty
