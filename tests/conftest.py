"""Shared test problems and their tight reference optima."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest
from scipy.special import log_expit, log_softmax
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
)
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


def reference_row_weights(y, sample_weight=None, class_weight=None):
    """Classes, class codes and row weights ``s_i`` (sample weight times class weight);
    ``'balanced'`` on the weighted class totals."""
    classes, codes = np.unique(y, return_inverse=True)
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float).copy()
    if isinstance(class_weight, str):
        totals = np.bincount(codes, weights=s, minlength=len(classes))
        s *= (totals.sum() / (len(classes) * totals))[codes]
    elif class_weight is not None:
        s *= np.array([class_weight[c] for c in classes])[codes]
    return classes, codes, s


def reference_objective(
    X, y, coef, intercept, C, sample_weight=None, class_weight=None, *, l1_ratio=0.0
):
    """DESIGN.md's objective, written independently of celr (scipy.special only)."""
    classes, codes, weight = reference_row_weights(y, sample_weight, class_weight)
    W = np.atleast_2d(np.asarray(coef, float))
    scores = np.asarray(X @ W.T, dtype=float) + np.asarray(intercept, float)
    if len(classes) == 2:
        log_p = np.where(codes == 1, log_expit(scores[:, 0]), log_expit(-scores[:, 0]))
    else:
        log_p = log_softmax(scores, axis=1)[np.arange(len(y)), codes]
    total = weight.sum()
    penalty = (1 - l1_ratio) / 2 * np.sum(W**2) + l1_ratio * np.abs(W).sum()
    penalty = 0.0 if np.isinf(C) else penalty / (C * total)
    return float(-(weight @ log_p) / total + penalty)


@dataclass(frozen=True)
class ReferenceProblem:
    name: str
    X: np.ndarray
    y: np.ndarray
    C: float
    sample_weight: np.ndarray | None
    class_weight: dict | None
    f_star: float

    def objective_of(self, model) -> float:
        return reference_objective(
            self.X,
            self.y,
            model.coef_,
            model.intercept_,
            self.C,
            self.sample_weight,
            self.class_weight,
        )

    def gap(self, model) -> float:
        return (self.objective_of(model) - self.f_star) / self.f_star


def _data(name):
    if name == "tall_raw":  # 20,000 x 50, column scales log-uniform in [0.01, 100]
        X, y = make_classification(20_000, 50, n_informative=20, flip_y=0.05, random_state=0)
        return X * np.exp(np.random.default_rng(1).uniform(-4.6, 4.6, 50)), y
    loaders = {
        "breast_cancer": load_breast_cancer,
        "iris": load_iris,
        "wine": load_wine,
        "digits": load_digits,
    }
    base = name.removesuffix("_scaled")
    X, y = loaders[base](return_X_y=True)
    if name.endswith("_scaled"):
        X = StandardScaler().fit_transform(X)
    return X, y


@cache
def _read_only_data(name):
    X, y = _data(name)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def dataset(name):
    """A test data set by name (``breast_cancer``, ``iris``, ``wine``, ``digits``,
    ``tall_raw``; ``_scaled`` standardises), loaded once; the caller gets copies."""
    X, y = _read_only_data(name)
    return X.copy(), y.copy()


@cache
def reference_problem_for(name: str, C: float, weighted: bool) -> ReferenceProblem:
    """Solve one problem very tightly with scikit-learn, scored by the reference objective."""
    X, y = _data(name)
    sample_weight = class_weight = None
    if weighted:
        sample_weight = np.random.default_rng(0).integers(0, 4, size=len(y)).astype(float)
        class_weight = {c: 1.0 + i for i, c in enumerate(np.unique(y))}
    ref = LogisticRegression(
        C=C, solver="newton-cholesky", tol=1e-13, max_iter=1000, class_weight=class_weight
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(X, y, sample_weight=sample_weight)
    f_star = reference_objective(X, y, ref.coef_, ref.intercept_, C, sample_weight, class_weight)
    return ReferenceProblem(name, X, y, C, sample_weight, class_weight, f_star)


REFERENCE_CASES = [
    ("breast_cancer", 1.0, False),
    ("breast_cancer", 100.0, True),
    ("breast_cancer_scaled", 0.1, False),
    ("iris", 1.0, True),
    ("wine", 10.0, False),
    ("wine_scaled", 1.0, True),
    ("digits", 1.0, False),
    ("tall_raw", 1.0, True),
]


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    """Solvers called directly run as the estimator runs them: one BLAS thread."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(params=REFERENCE_CASES, ids=lambda case: f"{case[0]}-C{case[1]:g}-w{case[2]:d}")
def reference_problem(request) -> ReferenceProblem:
    return reference_problem_for(*request.param)
