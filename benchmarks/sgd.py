"""celr's solver='sgd' against scikit-learn's SGDClassifier(loss='log_loss'), per epoch.

Both minimise the same objective, ``(1/n) sum_i CE_i + 1/(2 C n) ||W||^2`` (SGDClassifier's
``alpha = 1 / (C n)``), with their default (untuned) step sizes, for 1, 5 and 20 epochs
from the same data. Reported: the relative objective gap ``(f - f*) / f*`` after each
number of epochs (re-scored by ``objective.py``, which shares no code with either), and
the time per epoch of the 20-epoch fit, side by side in one run.

For K > 2 classes SGDClassifier can only fit K one-vs-rest binary models; its gap is
measured on the same multinomial objective (with its OvR probabilities' log-loss
reported too), which it cannot minimise: that is the point of the comparison.

    python benchmarks/sgd.py            # about two minutes
    python benchmarks/sgd.py --quick    # smaller data, a smoke test
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from objective import objective_value
from problems import text_like
from report import markdown_table, text_table, write_atomic
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from celr import CrossEntropyLogisticRegression

EPOCHS = (1, 5, 20)
C = 1.0


def problems(scale: float) -> dict:
    """Name -> (X, y, description). Rows are scaled by ``scale``."""
    n = int(200_000 * scale)
    X, y = make_classification(
        n_samples=n, n_features=50, n_informative=20, flip_y=0.05, random_state=0
    )
    raw = X * 10.0 ** np.random.default_rng(1).uniform(-2.0, 2.0, X.shape[1])
    Xk, yk = make_classification(
        n_samples=n, n_features=50, n_informative=20, n_classes=5, flip_y=0.05, random_state=0
    )
    Xt, yt, text = text_like(n)(1.0)
    return {
        "binary, standardised": (StandardScaler().fit_transform(X), y, f"dense {n:,} x 50"),
        "binary, raw scales": (raw, y, f"dense {n:,} x 50, columns x 10^U(-2, 2)"),
        "5 classes, standardised": (StandardScaler().fit_transform(Xk), yk, f"dense {n:,} x 50"),
        "binary, sparse text": (Xt, yt, text),
    }


def fit_celr(X, y, epochs: int):
    model = CrossEntropyLogisticRegression(
        C=C, solver="sgd", max_iter=epochs, tol=0.0, random_state=0
    )
    return model.fit(X, y)


def fit_sklearn(X, y, epochs: int):
    model = SGDClassifier(
        loss="log_loss", alpha=1.0 / (C * X.shape[0]), max_iter=epochs, tol=None, random_state=0
    )
    return model.fit(X, y)


def reference_value(X, y) -> float:
    model = CrossEntropyLogisticRegression(C=C, solver="lbfgs", tol=1e-10, max_iter=10_000)
    model.fit(X, y)
    return objective_value(X, y, model.coef_, model.intercept_, C)


def run(scale: float) -> list[list[str]]:
    rows = []
    for name, (X, y, description) in problems(scale).items():
        f_star = reference_value(X, y)
        gaps = {"celr": [], "sklearn": []}
        seconds = {}
        for epochs in EPOCHS:
            for label, fit in (("celr", fit_celr), ("sklearn", fit_sklearn)):
                start = time.perf_counter()
                model = fit(X, y, epochs)
                seconds[label] = (time.perf_counter() - start) / epochs
                value = objective_value(X, y, model.coef_, model.intercept_, C)
                gaps[label].append((value - f_star) / f_star)
        per_epoch = seconds["sklearn"] / seconds["celr"]
        row = [name, description]
        row += [f"{g:.1e}" for g in gaps["celr"]] + [f"{g:.1e}" for g in gaps["sklearn"]]
        row += [f"{1e3 * seconds['celr']:.0f}", f"{1e3 * seconds['sklearn']:.0f}"]
        row += [f"{per_epoch:.2f}x"]
        rows.append(row)
        print(text_table(HEADER, [row]), flush=True)
    return rows


HEADER = (
    ["problem", "data"]
    + [f"celr gap @{e}" for e in EPOCHS]
    + [f"SGDClassifier gap @{e}" for e in EPOCHS]
    + ["celr ms/epoch", "SGDClassifier ms/epoch", "speed-up per epoch"]
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x fewer rows")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    # One BLAS thread for both: celr limits itself to one, SGDClassifier uses none.
    with threadpool_limits(1, user_api="blas"):
        rows = run(0.1 if args.quick else 1.0)
    table = markdown_table(HEADER, rows)
    print(table)
    if not args.quick:
        args.out.mkdir(parents=True, exist_ok=True)
        write_atomic(args.out / "sgd.md", "# solver='sgd' vs SGDClassifier\n\n" + table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
