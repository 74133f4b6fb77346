"""Small fits end to end: celr's default against scikit-learn's newton-cholesky, one process.

The issue's criterion for the small problems (breast cancer, digits) is the whole ``fit``,
validation included, the best of many fits in one process: a 3-5 ms fit is mostly fixed
costs, which ``run.py``'s forked children (two repeats) measure with their noise. Both
fit to ``tol=1e-8`` on the raw features, alternating; the best time of each is reported.

    python benchmarks/small_fits.py              # about a minute
    python benchmarks/small_fits.py --repeats 10
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from report import markdown_table, text_table, write_atomic
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression

from celr import CrossEntropyLogisticRegression

HEADER = ["data", "celr best", "newton-cholesky best", "speed-up (sklearn / celr)"]


def run(name: str, X: np.ndarray, y: np.ndarray, repeats: int) -> list[str]:
    makers = {
        "celr": lambda: CrossEntropyLogisticRegression(tol=1e-8),
        "sklearn": lambda: LogisticRegression(solver="newton-cholesky", tol=1e-8, max_iter=1000),
    }
    seconds: dict[str, list[float]] = {label: [] for label in makers}
    for _ in range(repeats):
        for label, make in makers.items():
            model = make()
            start = time.perf_counter()
            model.fit(X, y)
            seconds[label].append(time.perf_counter() - start)
    best = {label: min(times) for label, times in seconds.items()}
    return [
        f"{name} {X.shape[0]:,} x {X.shape[1]}",
        f"{1e3 * best['celr']:.2f} ms",
        f"{1e3 * best['sklearn']:.2f} ms",
        f"{best['sklearn'] / best['celr']:.2f}x",
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="fits of each (digits: a fifth)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # raw digits: newton-cholesky's conditioning warnings
    rows = []
    for name, loader, repeats in (
        ("breast cancer", load_breast_cancer, args.repeats),
        ("digits", load_digits, max(1, args.repeats // 5)),
    ):
        X, y = loader(return_X_y=True)
        rows.append(run(name, X.astype(np.float64), y, repeats))
        print(text_table(HEADER, rows[-1:]), flush=True)
    table = markdown_table(HEADER, rows)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "small_fits.md", "# Small fits, one process\n\n" + table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
