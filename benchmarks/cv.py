"""CrossEntropyLogisticRegressionCV against GridSearchCV over the same grid and folds.

Both search the same ``Cs`` x ``l1_ratios`` grid with the same ``StratifiedKFold`` folds
and ``neg_log_loss``; GridSearchCV fits every pair from scratch, the CV estimator fits
one warm-started path per fold and ``l1_ratio``. Both use ``n_jobs=1`` and one BLAS
thread, one run each, side by side. Also shown, for reference: scikit-learn's own
``LogisticRegressionCV`` (saga, the only solver of it that handles L1 and multinomial)
on the same grid and folds, with its default ``tol=1e-4``; it scores a different
objective scaling only in ``tol``, the grid means the same.

Run: ``python benchmarks/cv.py`` (``--quick`` for a smoke run). Writes
``benchmarks/results/cv.md``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from celr import CrossEntropyLogisticRegression, CrossEntropyLogisticRegressionCV

RESULTS = Path(__file__).resolve().parent / "results" / "cv.md"


def problems(quick: bool) -> list[tuple[str, np.ndarray, np.ndarray]]:
    X, y = load_breast_cancer(return_X_y=True)
    n = 5_000 if quick else 50_000
    X2, y2 = make_classification(
        n_samples=n, n_features=40, n_informative=10, n_classes=3, random_state=0
    )
    return [
        ("breast cancer, raw (569 x 30)", X, y),
        ("breast cancer, standardised", StandardScaler().fit_transform(X), y),
        (f"dense {n:,} x 40, 3 classes", StandardScaler().fit_transform(X2), y2),
    ]


def timed(fit) -> tuple[float, object]:
    start = time.perf_counter()
    model = fit()
    return time.perf_counter() - start, model


def compare(name, X, y, l1_ratios, n_cs: int) -> dict:
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    cv_time, cv = timed(
        lambda: CrossEntropyLogisticRegressionCV(Cs=n_cs, l1_ratios=l1_ratios, cv=folds).fit(X, y)
    )
    grid = {"C": cv.Cs_, "l1_ratio": list(l1_ratios)}
    gs_time, gs = timed(
        lambda: GridSearchCV(
            CrossEntropyLogisticRegression(), grid, cv=folds, scoring="neg_log_loss"
        ).fit(X, y)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # saga's ConvergenceWarnings
        sk_time, sk = timed(
            lambda: LogisticRegressionCV(
                Cs=cv.Cs_, l1_ratios=list(l1_ratios), cv=folds, solver="saga",
                scoring="neg_log_loss", max_iter=1000,
            ).fit(X, y)
        )  # fmt: skip
    sk_c = float(np.ravel(sk.C_)[0])
    sk_l1 = float(np.ravel(getattr(sk, "l1_ratio_", [l1_ratios[0]]))[0])
    return {
        "problem": name,
        "grid": f"{len(cv.Cs_)} C x l1_ratios {list(l1_ratios)}",
        "celr CV": cv_time,
        "GridSearchCV": gs_time,
        "ratio": gs_time / cv_time,
        "same choice": (cv.C_, cv.l1_ratio_)
        == (gs.best_params_["C"], gs.best_params_["l1_ratio"]),
        "choice": f"C={cv.C_:.3g}, l1_ratio={cv.l1_ratio_:g}",
        "sklearn LogisticRegressionCV (saga)": sk_time,
        "saga choice": f"C={sk_c:.3g}, l1_ratio={sk_l1:g}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, for a smoke run")
    args = parser.parse_args()
    rows = []
    with threadpool_limits(1):
        for name, X, y in problems(args.quick):
            for l1_ratios in ([0.0], [0.0, 0.5, 1.0]):
                rows.append(compare(name, X, y, l1_ratios, n_cs=10))
                row = rows[-1]
                print(
                    f"{row['problem']:<32} {row['grid']:<32} celr CV {row['celr CV']:6.2f} s"
                    f"  GridSearchCV {row['GridSearchCV']:6.2f} s  ({row['ratio']:.1f}x)"
                    f"  same choice: {row['same choice']}"
                )
    lines = [
        "# CrossEntropyLogisticRegressionCV vs GridSearchCV (same grid, same folds)",
        "",
        "`python benchmarks/cv.py` (one run each, n_jobs=1, one BLAS thread). The ratio is",
        "GridSearchCV's time over celr CV's; both pick by mean held-out `neg_log_loss` over",
        "5 stratified folds. scikit-learn's LogisticRegressionCV (saga, tol=1e-4, its",
        "default) on the same grid and folds is shown for reference.",
        "",
        "| problem | grid | celr CV | GridSearchCV(celr) | ratio | same C, l1_ratio | "
        "choice | sklearn LogisticRegressionCV (saga) | its choice |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['problem']} | {row['grid']} | {row['celr CV']:.2f} s | "
            f"{row['GridSearchCV']:.2f} s | **{row['ratio']:.1f}x** | {row['same choice']} | "
            f"{row['choice']} | {row['sklearn LogisticRegressionCV (saga)']:.2f} s | "
            f"{row['saga choice']} |"
        )
    if not args.quick:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
