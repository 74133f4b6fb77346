"""Column offsets and scales: how far they move the fitted model (issue 15, part 2).

With an intercept, ``x_j + c`` changes nothing mathematically (the intercept absorbs
it), and without a penalty ``x_j * t`` only rescales ``w_j``. The table shows, for each
offset ``c`` (or scale ``t``) on column 0 of standardised breast cancer, the largest
change of ``predict_proba`` on the training rows and the relative change of ``coef_``
against the fit on the same rounded column without offset (``(x + c) - c``, exact in
float64), beside scikit-learn's newton-cholesky. ``stop_crit_`` and warnings are shown.

Run: ``python benchmarks/offsets.py``  (a few seconds).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from celr import CrossEntropyLogisticRegression

OFFSETS = [1e3, 1e4, 1e5, 1e6, 1e8, 1e10]
SCALES = [1e-150, 1e150]


def _fit(make, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = make().fit(X, y)
    names = sorted({w.category.__name__ for w in caught})
    return model, ",".join(names) or "-"


def _row(label, make, X, y, X_moved, undo_coef=1.0):
    base, _ = _fit(make, X, y)
    moved, warned = _fit(make, X_moved, y)
    dproba = np.max(np.abs(moved.predict_proba(X_moved) - base.predict_proba(X)))
    coef = moved.coef_ * undo_coef
    dcoef = np.linalg.norm(coef - base.coef_) / np.linalg.norm(base.coef_)
    stop = getattr(moved, "stop_crit_", np.nan)
    print(f"| {label} | {dproba:.1e} | {dcoef:.1e} | {stop:.1e} | {warned} |")


def main() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    contenders = {
        "celr newton": lambda: CrossEntropyLogisticRegression(tol=1e-10, solver="newton"),
        "celr lbfgs": lambda: CrossEntropyLogisticRegression(tol=1e-10, solver="lbfgs"),
        "celr newton L1": lambda: CrossEntropyLogisticRegression(
            tol=1e-10, solver="newton", l1_ratio=1.0
        ),
        "sklearn newton-cholesky": lambda: LogisticRegression(
            solver="newton-cholesky", tol=1e-10, max_iter=1000
        ),
    }
    print("| fit, offset c on column 0 | max dP | rel d coef | stop_crit_ | warnings |")
    print("|---|---|---|---|---|")
    for name, make in contenders.items():
        for c in OFFSETS:
            moved = X.copy()
            moved[:, 0] += c
            same = X.copy()
            same[:, 0] = moved[:, 0] - c  # the column as float64 rounds it: exact
            _row(f"{name}, c={c:.0e}", make, same, y, moved)
    print()
    print("| fit (C=inf, 2 columns), scale t on column 0 | max dP | rel d coef | stop_crit_ |"
          " warnings |")  # fmt: skip
    print("|---|---|---|---|---|")
    for name, make in contenders.items():
        if "L1" in name:
            continue
        for t in SCALES:
            moved = X[:, :2].copy()
            moved[:, 0] *= t
            undo = np.array([t, 1.0])
            unpenalised = _unpenalised(make)
            _row(f"{name}, t={t:.0e}", unpenalised, X[:, :2], y, moved, undo)


def _unpenalised(make):
    return lambda: make().set_params(C=np.inf)


if __name__ == "__main__":
    main()
