"""Curvature bounds of the cross-entropy from the rows: the data behind SGD's first step.

The cross-entropy's Hessian is at most ``c xa xa^T`` per row (``xa`` the row in the
coordinates ``(x - center) / scale`` with a 1 for the intercept; ``c = 1/4`` for the
sigmoid, ``1/2`` for softmax). :func:`mini_batch_smoothness` turns that into the
expected smoothness of a mini-batch gradient (Gower et al., "SGD: general analysis and
improved rates", 2019, Prop. 3.8); :mod:`celr.solvers._step_size` adds the penalty's.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# Rows used to estimate the curvature bounds behind the automatic step.
STEP_SAMPLE_ROWS = 4096
POWER_ITERATIONS = 30


def mini_batch_smoothness(
    X,
    weight: np.ndarray,
    *,
    n_scores: int,
    fit_intercept: bool,
    center: np.ndarray,
    scale: np.ndarray,
    batch_size: int,
    n_total: float,
) -> float:
    """``L(B)``: the curvature a size-``B`` mini-batch step sees, from sample rows.

    With ``L`` the bound for the whole data (largest eigenvalue of the weighted mean of
    ``c xa xa^T``, by power iteration) and ``L_max`` the largest single row's, sampling
    ``B`` of ``n`` rows without replacement gives::

        L(B) = n (B - 1) / (B (n - 1)) L + (n - B) / (B (n - 1)) L_max

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (m, n_features)
        Sample rows (the first :data:`STEP_SAMPLE_ROWS` of the data).
    weight : ndarray of shape (m,)
        Their weights (any positive scale).
    n_scores : int
        1 for two classes (``c = 1/4``), else ``K`` (``c = 1/2``).
    fit_intercept : bool
    center, scale : ndarray of shape (n_features,)
        The coordinates ``(x - center) / scale`` of the steps.
    batch_size : int
    n_total : float
        Rows of the whole data set.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[3.0, 2.0]])
    >>> mini_batch_smoothness(X, np.ones(1), n_scores=1, fit_intercept=True,
    ...     center=np.zeros(2), scale=np.ones(2), batch_size=1, n_total=1)  # (9 + 4 + 1) / 4
    3.5
    """
    weight = weight / weight.sum()
    inverse_scale = 1.0 / scale
    shift = center * inverse_scale
    intercept = 1.0 if fit_intercept else 0.0
    squares = X.multiply(X) if sp.issparse(X) else X * X
    row_norms = (
        np.asarray(squares @ inverse_scale**2).ravel()
        - 2.0 * np.asarray(X @ (shift * inverse_scale)).ravel()
        + shift @ shift
        + intercept
    )
    curvature = 0.25 if n_scores == 1 else 0.5
    largest_row = curvature * float(np.max(weight * row_norms)) * len(weight)
    whole = curvature * _top_eigenvalue(X, weight, inverse_scale, shift, intercept)
    n, b = max(float(n_total), 1.0), float(batch_size)
    if b >= n or n <= 1:
        return whole
    return n * (b - 1) / (b * (n - 1)) * whole + (n - b) / (b * (n - 1)) * largest_row


def _top_eigenvalue(X, weight, inverse_scale, shift, intercept) -> float:
    """Largest eigenvalue of ``sum_i w_i xa_i xa_i^T`` by power iteration."""
    vector = np.random.default_rng(0).standard_normal(X.shape[1] + 1)
    eigenvalue = 0.0
    for _ in range(POWER_ITERATIONS):
        vector /= np.linalg.norm(vector)
        z = np.asarray(X @ (vector[:-1] * inverse_scale)).ravel()
        z += intercept * vector[-1] - shift @ vector[:-1]
        z *= weight
        image = np.empty_like(vector)
        image[:-1] = np.asarray(X.T @ z).ravel() * inverse_scale - shift * z.sum()
        image[-1] = intercept * z.sum()
        eigenvalue = float(np.linalg.norm(image))
        vector = image
    return eigenvalue
