"""Quick start: celr on scikit-learn's breast-cancer data, side by side with scikit-learn.

Run:  python examples/quickstart.py

1. A Pipeline (StandardScaler + CrossEntropyLogisticRegression) tuned over C with
   GridSearchCV on a pandas DataFrame; best C, test accuracy and test log-loss.
2. The same objective fitted by celr and by scikit-learn's LogisticRegression on the raw
   (unscaled) training features: objective reached and fit time, side by side.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from celr import CrossEntropyLogisticRegression


def objective(model, X, y, C):
    """celr's objective (mean cross-entropy + ||w||^2 / (2 C n)) at a fitted model."""
    proba = model.predict_proba(X)[:, 1]
    return log_loss(y, proba) + 0.5 * np.sum(model.coef_**2) / (C * len(y))


def best_time(fit, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model = fit()
        times.append(time.perf_counter() - start)
    return model, min(times)


def main() -> None:
    data = load_breast_cancer(as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, stratify=data.target, random_state=0
    )

    search = GridSearchCV(
        make_pipeline(StandardScaler(), CrossEntropyLogisticRegression()),
        {"crossentropylogisticregression__C": np.logspace(-3, 3, 13)},
        scoring="neg_log_loss",
        cv=5,
        n_jobs=2,
    ).fit(X_train, y_train)
    best_C = search.best_params_["crossentropylogisticregression__C"]
    print("1. Pipeline + GridSearchCV over C (breast cancer, 5-fold CV on 75% of rows)")
    print(f"   best C            {best_C:.4g}")
    print(f"   test accuracy     {accuracy_score(y_test, search.predict(X_test)):.4f}")
    print(f"   test log-loss     {log_loss(y_test, search.predict_proba(X_test)):.4f}")

    print("\n2. Same objective (C=1, raw features), celr vs scikit-learn, best of 5 fits")
    print(f"   {'fitter':<41}{'objective':>14}{'fit time':>11}  note")
    contenders = {
        "celr CrossEntropyLogisticRegression()": lambda: CrossEntropyLogisticRegression(),
        "sklearn LogisticRegression()": lambda: LogisticRegression(),
        "sklearn LogisticRegression(newton-chol)": lambda: LogisticRegression(
            solver="newton-cholesky", tol=1e-10
        ),
    }
    results = {}
    for name, make in contenders.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model, seconds = best_time(lambda make=make: make().fit(X_train, y_train))
        note = "ConvergenceWarning" if caught else ""
        results[name] = (objective(model, X_train, y_train, 1.0), seconds)
        print(f"   {name:<41}{results[name][0]:>14.10f}{seconds * 1e3:>9.1f}ms  {note}")
    f_star = min(value for value, _ in results.values())
    celr_value, celr_time = results["celr CrossEntropyLogisticRegression()"]
    for name, (value, seconds) in results.items():
        if name.startswith("sklearn"):
            print(
                f"   vs {name}: objective gap {(value - f_star) / f_star:.1e} "
                f"(celr {(celr_value - f_star) / f_star:.1e}), time ratio "
                f"{seconds / celr_time:.1f}x"
            )


if __name__ == "__main__":
    main()
