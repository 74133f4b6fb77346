"""What the tests share: data sets, tight reference optima, and the objective written out
independently of celr (numpy and scipy only).

The objective (DESIGN.md), for row weights ``s_i`` (sample times class weight), their sum
``S`` and ``alpha = 1 / (C S)``::

    f(W, b) = (1/S) sum_i s_i CE_i + alpha ((1 - r)/2 ||W||^2 + r ||W||_1)

scikit-learn's LogisticRegression objective divided by ``C S``. Two classes have one score
(``W`` of one row), K > 2 classes K scores (softmax). Test modules import what they need
from here and from no other test module.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.optimize import minimize
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
)
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


# == the reference objective ===============================================================
def reference_row_weights(y, sample_weight=None, class_weight=None):
    """Classes, class codes and row weights ``s_i`` (sample weight times class weight);
    ``'balanced'`` on the weighted class totals (0 for a class of zero total weight)."""
    classes, codes = np.unique(y, return_inverse=True)
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float).copy()
    if isinstance(class_weight, str):
        totals = np.bincount(codes, weights=s, minlength=len(classes))
        per_class = np.zeros(len(classes))
        per_class[totals > 0] = totals.sum() / (len(classes) * totals[totals > 0])
        s *= per_class[codes]
    elif class_weight is not None:
        s *= np.array([class_weight[c] for c in classes])[codes]
    return classes, codes, s


def reference_loss(X, codes, s, W, b) -> tuple[float, np.ndarray, np.ndarray]:
    """Mean weighted cross-entropy ``(1/S) sum_i s_i CE_i`` and its gradients in W and b.

    ``codes`` are class indices; ``W`` of one row is the binary model (``CE = log(1 + e^z)
    - y z``, ``dCE/dz = sigma(z) - y``), of K rows softmax (``CE = logsumexp(z) - z_y``,
    ``dCE/dz = softmax(z) - onehot(y)``).
    """
    W = np.atleast_2d(np.asarray(W, float))
    scores = np.asarray(X @ W.T, dtype=float) + np.asarray(b, float)
    if W.shape[0] == 1:
        z = scores[:, 0]
        log_p = np.where(codes == 1, log_expit(z), log_expit(-z))
        residual = (expit(z) - codes)[:, None]
    else:
        log_p = log_softmax(scores, axis=1)[np.arange(len(codes)), codes]
        residual = softmax(scores, axis=1) - np.eye(W.shape[0])[codes]
    total = s.sum()
    residual *= (s / total)[:, None]
    return float(-(s @ log_p) / total), np.asarray(X.T @ residual).T, residual.sum(axis=0)


def reference_penalty(W, C, l1_ratio, weight_sum) -> float:
    """``((1 - r)/2 ||W||^2 + r ||W||_1) / (C S)``; 0 for ``C = inf``."""
    if np.isinf(C):
        return 0.0
    W = np.asarray(W, float)
    return float(
        ((1 - l1_ratio) / 2 * np.sum(W**2) + l1_ratio * np.abs(W).sum()) / (C * weight_sum)
    )


def reference_objective(
    X, y, coef, intercept, C, sample_weight=None, class_weight=None, *, l1_ratio=0.0
):
    """The objective of the module docstring at ``(coef, intercept)``."""
    _, codes, s = reference_row_weights(y, sample_weight, class_weight)
    value = reference_loss(X, codes, s, coef, intercept)[0]
    return float(value + reference_penalty(coef, C, l1_ratio, s.sum()))


def reference_gradient(X, y, coef, intercept, C, l1_ratio=0.0, sample_weight=None):
    """Gradient of the smooth part (data term plus the L2 part): ``(grad_W, grad_b)``."""
    _, codes, s = reference_row_weights(y, sample_weight)
    W = np.atleast_2d(np.asarray(coef, float))
    _, grad_W, grad_b = reference_loss(X, codes, s, W, intercept)
    if not np.isinf(C):
        grad_W = grad_W + (1 - l1_ratio) / (C * s.sum()) * W
    return grad_W, grad_b


def reference_hessian(X, codes, s, W, b) -> np.ndarray:
    """Hessian of :func:`reference_loss` in the flat layout ``[w_k, b_k]`` per score."""
    W = np.atleast_2d(np.asarray(W, float))
    Xa = np.column_stack([np.asarray(X, float), np.ones(len(codes))])
    scores = Xa[:, :-1] @ W.T + np.asarray(b, float)
    p = expit(scores) if W.shape[0] == 1 else softmax(scores, axis=1)
    r = s / s.sum()
    if W.shape[0] == 1:
        return Xa.T @ (Xa * (r * p[:, 0] * (1 - p[:, 0]))[:, None])
    m, width = W.shape[0], Xa.shape[1]
    H = np.empty((m * width, m * width))
    for k in range(m):
        for j in range(m):
            curv = r * p[:, k] * ((k == j) - p[:, j])
            H[k * width : (k + 1) * width, j * width : (j + 1) * width] = Xa.T @ (
                Xa * curv[:, None]
            )
    return H


def reference_minimum(X, y, s, n_classes, C, l1_ratio, fit_intercept, starts=()) -> float:
    """The minimum of the objective (row weights ``s``) by scipy's L-BFGS-B.

    Smooth penalty: the plain problem. An L1 part: the smooth reformulation ``W = P - Q``,
    ``P, Q >= 0``, whose ``||W||_1`` is ``sum(P + Q)`` at the optimum (L-BFGS-B bounds).
    Coefficients are optimised for standardised columns (``W = V / scale``), which changes
    the conditioning only. Started from zero and from each ``(W, b)`` in ``starts``; the
    lowest objective found is returned.
    """
    m, d = (1 if n_classes == 2 else n_classes), X.shape[1]
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    S = s.sum()
    smooth = np.isinf(C) or l1_ratio == 0
    l2 = 0.0 if np.isinf(C) else (1 - l1_ratio) / (C * S)
    l1 = 0.0 if np.isinf(C) else l1_ratio / (C * S)
    n_w = m * d * (1 if smooth else 2)

    def unpack(theta):
        if smooth:
            V = theta[: m * d].reshape(m, d)
        else:
            V = (theta[: m * d] - theta[m * d : 2 * m * d]).reshape(m, d)
        b = theta[n_w:] if fit_intercept else np.zeros(m)
        return V / scale, b

    def fun(theta):
        W, b = unpack(theta)
        value, gW, gb = reference_loss(X, y, s, W, b)
        value += l2 / 2 * np.sum(W**2)
        gW = (gW + l2 * W) / scale  # d/dV
        if smooth:
            grad = [gW.ravel()]
        else:  # l1 ||W||_1 = l1 sum((P + Q) / scale) at the optimum
            l1_per_v = np.tile(l1 / scale, m)
            value += l1_per_v @ (theta[: m * d] + theta[m * d : n_w])
            grad = [gW.ravel() + l1_per_v, -gW.ravel() + l1_per_v]
        if fit_intercept:
            grad.append(gb)
        return value, np.concatenate(grad)

    best = np.inf
    n_params = n_w + (m if fit_intercept else 0)
    bounds = None if smooth else [(0, None)] * n_w + [(None, None)] * (n_params - n_w)
    for W0, b0 in [(np.zeros((m, d)), np.zeros(m)), *starts]:
        V0 = (np.asarray(W0, float) * scale).ravel()
        parts = [V0] if smooth else [np.maximum(V0, 0), np.maximum(-V0, 0)]
        if fit_intercept:
            parts.append(np.asarray(b0, float))
        result = minimize(
            fun,
            np.concatenate(parts),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 20_000, "maxfun": 40_000, "maxcor": 20, "gtol": 1e-14,
                     "ftol": 1e-16},
        )  # fmt: skip
        W, b = unpack(result.x)
        best = min(best, reference_objective(X, y, W, b, C, s, l1_ratio=l1_ratio))
    return best


# == data sets and reference optima ========================================================
def _data(name):
    if name == "tall_raw":  # 20,000 x 50, column scales log-uniform in [0.01, 100]
        X, y = make_classification(20_000, 50, n_informative=20, flip_y=0.05, random_state=0)
        return X * np.exp(np.random.default_rng(1).uniform(-4.6, 4.6, 50)), y
    if name == "binary":  # 80 x 3, overlapping
        rng = np.random.default_rng(0)
        X = rng.normal(size=(80, 3))
        return X, (X[:, 0] - 0.5 * X[:, 1] + rng.normal(size=80) > 0).astype(int)
    if name == "multiclass":  # 120 x 3, three overlapping classes
        rng = np.random.default_rng(1)
        y = np.arange(120) % 3
        return rng.normal(size=(120, 3)) + np.array([[0, 0, 0], [1, 0.5, 0], [0, 1, 1]])[y], y
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
    return np.asarray(X, dtype=float), np.asarray(y)


@cache
def read_only_dataset(name):
    """A data set by name, loaded once and read-only: modifying it in place raises."""
    X, y = _data(name)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def dataset(name):
    """A test data set by name (``breast_cancer``, ``iris``, ``wine``, ``digits``,
    ``tall_raw``; ``_scaled`` standardises; synthetic ``binary`` and ``multiclass``),
    loaded once; the caller gets copies."""
    X, y = read_only_dataset(name)
    return X.copy(), y.copy()


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


# == solver-level helpers ==================================================================
def objective_and_penalty(problem: ReferenceProblem, sparse=False):
    """celr's objective and L2 penalty of a reference problem, as solvers see them."""
    from celr._objective import LogisticObjective
    from celr._penalty import ElasticNetPenalty

    classes, codes = np.unique(problem.y, return_inverse=True)
    weight = np.ones(len(codes)) if problem.sample_weight is None else problem.sample_weight
    if problem.class_weight is not None:
        weight = weight * np.array([problem.class_weight[c] for c in classes])[codes]
    X = sp.csr_array(problem.X) if sparse else problem.X
    objective = LogisticObjective(X, codes, weight, len(classes), True)
    table = np.ones((objective.n_scores, objective.n_features + 1), bool)
    table[:, -1] = False
    penalty = ElasticNetPenalty(1 / (problem.C * objective.weight_sum), 0.0, table.ravel())
    return objective, penalty


def coef_gap(problem: ReferenceProblem, objective, coef) -> float:
    """Relative gap to ``problem.f_star`` of a solver's flat coefficients."""
    weights, intercept = objective.unpack(coef)
    if objective.n_scores > 1:
        weights, intercept = weights - weights.mean(0), intercept - intercept.mean()

    class Fitted:
        coef_, intercept_ = weights, intercept

    return problem.gap(Fitted)


def assert_reports_every_iteration(result, seen) -> None:
    """The solver contract: one history value per iteration plus the start, one callback
    per iteration, numbered from 1, the last one reporting the final stop_crit."""
    assert len(result.history) == result.n_iter + 1 == len(seen) + 1
    assert [info.n_iter for info in seen] == list(range(1, result.n_iter + 1))
    assert seen[-1].stop_crit == result.stop_crit


def central_difference_gradient(value, coords, u, h=1e-5) -> np.ndarray:
    """Gradient in ``u`` of ``value(coords.to_coef(u))`` by central differences.

    Truncation (h^2 times the third derivative) and rounding (``eps |f| / h``) are both
    far below 1e-7 for an O(1) loss of O(1) entries at the default ``h``.
    """
    return np.array(
        [
            (value(coords.to_coef(u + h * e)) - value(coords.to_coef(u - h * e))) / (2 * h)
            for e in np.eye(len(u))
        ]
    )


def assert_same_model(a, b, rtol=1e-8, atol=1e-10):
    assert_allclose(a.coef_, b.coef_, rtol=rtol, atol=atol)
    assert_allclose(a.intercept_, b.intercept_, rtol=rtol, atol=atol)


# == fixtures ==============================================================================
@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    """Solvers called directly run as the estimator runs them: one BLAS thread."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(params=REFERENCE_CASES, ids=lambda case: f"{case[0]}-C{case[1]:g}-w{case[2]:d}")
def reference_problem(request) -> ReferenceProblem:
    return reference_problem_for(*request.param)
