"""Interpreting a model: coefficient table, odds ratios, tests, separation, plots.

Run:  python examples/interpretation.py [--out DIR]

On scikit-learn's bundled breast-cancer data (569 tumours; the target is 1 for benign):

1. An unpenalised model (C=np.inf) on five standardised "mean" features, inside a
   Pipeline: ``summary()`` straight after fit (no data: fit kept what it needs), the
   coefficient table (estimate, standard error, Wald z, p-value, 95% interval, odds
   ratio per standard deviation), robust (HC0, HC1) standard errors beside, and the
   statsmodels-style text report of ``results()``.
2. A likelihood-ratio test: do two of the features add anything?
3. All 30 features: the classes are separable, so the unpenalised optimum is at
   infinity; celr warns at fit and refuses the table, and a finite C gives a table that
   says it is conditional on the penalty.
4. Plots saved as PNG: the odds ratios with their intervals, and the loss curve.
5. A formula fit (``celr.logit``), side by side with statsmodels' ``smf.logit`` when
   statsmodels is installed: the same estimates, and both fit times.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from celr import CrossEntropyLogisticRegression, SeparationWarning, logit
from celr.plotting import CoefficientDisplay, LossCurveDisplay

FEATURES = [
    "mean radius",
    "mean texture",
    "mean smoothness",
    "mean concave points",
    "mean symmetry",
]


def main(out: Path) -> None:
    data = load_breast_cancer(as_frame=True)
    X, y = data.data, data.target
    pd.set_option("display.width", 120)

    print("1. Unpenalised fit on five standardised features (benign = 1)")
    # pandas output keeps the feature names through the scaler into the table.
    model = make_pipeline(StandardScaler(), CrossEntropyLogisticRegression(C=np.inf)).set_output(
        transform="pandas"
    )
    model.fit(X[FEATURES], y)
    clf = model[-1]
    table = clf.summary()  # no data needed: fit kept the Hessian (it is cheap here)
    columns = ["estimate", "std_error", "z", "p_value", "ci_lower", "ci_upper", "odds_ratio"]
    print(table[columns].round(4).to_string())
    errors = {kind: clf.summary(cov_type=kind).std_error for kind in ("HC0", "HC1")}
    print("\nstandard errors, model-based vs robust:")
    print(pd.DataFrame({"nonrobust": table.std_error, **errors}).round(4))
    print()
    print(clf.results())  # the report statsmodels users paste into papers

    print("\n2. Likelihood-ratio test: drop 'mean smoothness' and 'mean symmetry'")
    kept = [name for name in FEATURES if name not in ("mean smoothness", "mean symmetry")]
    scaled = model[0].transform(X[FEATURES])
    small = CrossEntropyLogisticRegression(C=np.inf).fit(scaled[kept], y)
    test = clf.lr_test(small)
    print(f"LR statistic {test.statistic:.2f} on {test.df} df, p-value {test.p_value:.2e}")
    overall = clf.lr_test()
    print(f"against the intercept-only model: {overall.statistic:.1f} on {overall.df} df")

    print("\n3. All 30 features, unpenalised")
    full = make_pipeline(StandardScaler(), CrossEntropyLogisticRegression(C=np.inf))
    full.set_output(transform="pandas")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SeparationWarning)
        full.fit(X, y)
    print(f"warning at fit: {caught[0].category.__name__}: {caught[0].message}")
    try:
        full[-1].summary(full[0].transform(X), y)
    except ValueError as error:
        print(f"summary refused: {str(error)[:160]}...")
    penalised = make_pipeline(StandardScaler(), CrossEntropyLogisticRegression(C=1.0))
    penalised.set_output(transform="pandas").fit(X, y)
    shrunk = penalised[-1].summary(penalised[0].transform(X), y)
    print(f"with C=1 the table has {len(shrunk)} rows, and says: {shrunk.attrs['note'][:80]}...")

    out.mkdir(parents=True, exist_ok=True)
    coefficients = CoefficientDisplay.from_estimator(clf, odds_ratio=True)
    coefficients.ax_.set_title("Odds of benign per standard deviation")
    coefficients.figure_.tight_layout()
    coefficients.figure_.savefig(out / "odds_ratios.png", dpi=100)
    curve = LossCurveDisplay.from_estimator(clf, log_scale=True, name="Newton")
    curve.figure_.savefig(out / "loss_curve.png", dpi=100)
    print(f"\n4. wrote {out / 'odds_ratios.png'} and {out / 'loss_curve.png'}")
    formula_side_by_side(X, y)


def formula_side_by_side(X: pd.DataFrame, y: pd.Series) -> None:
    """Section 5: ``celr.logit`` and, if installed, ``statsmodels.formula.api.logit``."""
    frame = pd.DataFrame(
        {
            "benign": y,
            "radius": X["mean radius"],
            "smoothness": X["mean smoothness"],
            "texture": pd.qcut(X["mean texture"], 3, labels=["low", "mid", "high"]),
        }
    ).astype({"texture": str})
    formula = "benign ~ np.log(radius) + smoothness + C(texture)"
    print(f"\n5. {formula}")
    seconds, model = best_of(5, lambda: logit(formula, frame))
    print(model.summary()[["estimate", "std_error", "p_value"]].round(4).to_string())
    try:
        import statsmodels.formula.api as smf
    except ImportError:
        print(f"celr {seconds * 1e3:.1f} ms (statsmodels is not installed: no comparison)")
        return
    sm_seconds, reference = best_of(5, lambda: smf.logit(formula, frame).fit(disp=0))
    ours = model.summary()["estimate"]
    gap = float(np.max(np.abs(ours / reference.params.reindex(ours.index) - 1)))
    print(
        f"fit: celr {seconds * 1e3:.1f} ms, statsmodels {sm_seconds * 1e3:.1f} ms; "
        f"largest relative difference of the estimates {gap:.1e}"
    )


def best_of(repeats: int, fit):
    """The best time of ``repeats`` calls of ``fit``, and the last result."""
    best, result = np.inf, None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fit()
        best = min(best, time.perf_counter() - started)
    return best, result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("interpretation-plots"))
    main(parser.parse_args().out)
