"""The benchmark's own implementation of DESIGN.md's objective, and the gradient-time unit.

Every contender's ``coef_`` / ``intercept_`` is re-scored here, with code that shares
nothing with celr or any peer::

    f(W, b) = (1/n) sum_i CE_i(W, b) + 1/(2 C n) ||W||_2^2      (unit weights, S = n)

Binary problems have one score ``z = x.w + b`` and ``CE = -log sigma(+-z)``; K > 2 classes
have K scores and ``CE = -log softmax(z)_y``. The intercept is not penalised and
``C = inf`` means no penalty. X may be dense or CSR, float32 or float64: it is evaluated in
float64, in row blocks, so a float32 X is never copied whole.
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy import sparse
from scipy.special import expit, log_expit, log_softmax

BLOCK_ROWS = 65_536


def as_coef_matrix(coef, intercept, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """``(W, b)`` as float64 arrays of shapes ``(K', d)`` and ``(K',)``, K' = 1 for binary."""
    weights = np.asarray(coef, dtype=np.float64).reshape(-1, n_features)
    bias = np.broadcast_to(
        np.asarray(intercept, dtype=np.float64).reshape(-1), (weights.shape[0],)
    )
    return weights, np.array(bias)


def _block_cross_entropy(scores: np.ndarray, y: np.ndarray) -> float:
    """Sum over the rows of a block of the per-row cross-entropy, from raw scores."""
    if scores.shape[1] == 1:
        z = scores[:, 0]
        return float(-log_expit(np.where(y == 1, z, -z)).sum())
    return float(-log_softmax(scores, axis=1)[np.arange(len(y)), y].sum())


def objective_value(X, y: np.ndarray, coef, intercept, C: float, l1_ratio: float = 0.0) -> float:
    """DESIGN.md's objective f(W, b) at the given coefficients, in float64.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n, d)
        Any float dtype; blocks of rows are converted to float64 on the fly.
    y : ndarray of shape (n,)
        Class codes 0..K-1 (0/1 for binary problems).
    coef : array-like of shape (d,), (1, d) or (K, d)
    intercept : float or array-like of shape (1,) or (K,)
    C : float
        Inverse penalty strength; ``np.inf`` for none.
    l1_ratio : float, default=0
        Share of L1 in the elastic-net penalty.

    Returns
    -------
    float
        The objective value.
    """
    n, d = X.shape
    weights, bias = as_coef_matrix(coef, intercept, d)
    parts = []
    for start in range(0, n, BLOCK_ROWS):
        block = X[start : start + BLOCK_ROWS].astype(np.float64, copy=False)
        scores = np.asarray(block @ weights.T) + bias
        parts.append(_block_cross_entropy(scores, y[start : start + BLOCK_ROWS]))
    l2 = math.fsum((weights**2).ravel())
    l1 = math.fsum(np.abs(weights).ravel())
    penalty = 0.0 if math.isinf(C) else ((1 - l1_ratio) / 2 * l2 + l1_ratio * l1) / (C * n)
    return math.fsum(parts) / n + penalty


def _value_and_gradient(X, y, weights, bias, onehot_rows):
    """Plain-numpy value and gradient of the mean cross-entropy (the timing unit)."""
    scores = np.asarray(X @ weights.T) + bias
    if scores.shape[1] == 1:
        z = scores[:, 0]
        value = -log_expit(np.where(y == 1, z, -z)).sum()
        residual = (expit(z) - y)[:, None]
    else:
        log_proba = log_softmax(scores, axis=1)
        value = -log_proba[onehot_rows, y].sum()
        residual = np.exp(log_proba)
        residual[onehot_rows, y] -= 1
    gradient = np.asarray(X.T @ residual).T
    return value / len(y), gradient / len(y), residual.sum(axis=0) / len(y)


def gradient_time(X, y: np.ndarray, n_classes: int, *, repeats: int = 7) -> float:
    """Median wall time of one value + gradient evaluation with plain numpy.

    ``Z = X @ W.T + b``, the loss and residual via ``scipy.special`` (``log_expit`` /
    ``expit`` or ``log_softmax``), then ``X.T @ R``; in X's dtype, numpy's default BLAS
    threads. This is the unit of the "t/grad" column.
    """
    rng = np.random.default_rng(0)
    n_scores = 1 if n_classes == 2 else n_classes
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    weights = (rng.standard_normal((n_scores, X.shape[1])) * 0.01).astype(dtype)
    bias = np.zeros(n_scores, dtype=dtype)
    rows = np.arange(X.shape[0])
    y_cast = y.astype(dtype) if n_scores == 1 else y
    _value_and_gradient(X, y_cast, weights, bias, rows)  # warm caches and BLAS threads
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _value_and_gradient(X, y_cast, weights, bias, rows)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def describe_data(X) -> dict:
    """Shape, dtype, storage and non-zeros of X (for the report)."""
    info = {
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "dtype": str(X.dtype),
        "sparse": bool(sparse.issparse(X)),
    }
    if sparse.issparse(X):
        info["nnz"] = int(X.nnz)
        info["nnz_per_row"] = round(X.nnz / max(X.shape[0], 1), 1)
    return info
