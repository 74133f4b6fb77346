"""The automatic first step of SGD: the inverse of a mini-batch curvature bound."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from celr._objective import LogisticObjective
from celr._penalty import ElasticNetPenalty
from celr.solvers._coordinates import StandardizedCoordinates

# Rows used to estimate the curvature bounds behind the automatic step.
STEP_SAMPLE_ROWS = 4096
POWER_ITERATIONS = 30


def expected_smoothness(
    sample: LogisticObjective,
    coords: StandardizedCoordinates,
    penalty: ElasticNetPenalty,
    batch_size: int,
    n_total: float,
) -> float:
    """Bound ``L(B)`` on the curvature seen by a size-``B`` mini-batch step, in ``coords``.

    The cross-entropy's Hessian is at most ``c xa xa^T`` per row (``xa`` the standardised
    row with a 1 for the intercept; ``c = 1/4`` for the sigmoid, ``1/2`` for softmax).
    With ``L`` the bound for the whole data (largest eigenvalue of the weighted mean of
    ``c xa xa^T``, by power iteration) and ``L_max`` the largest single row's, sampling
    ``B`` of ``n`` rows without replacement gives (Gower et al. 2019, Prop. 3.8)::

        L(B) = n (B - 1) / (B (n - 1)) L + (n - B) / (B (n - 1)) L_max

    both plus the penalty's curvature. Estimated from the first ``STEP_SAMPLE_ROWS`` rows.

    Examples
    --------
    >>> import numpy as np
    >>> from celr._objective import LogisticObjective
    >>> from celr._penalty import ElasticNetPenalty
    >>> sample = LogisticObjective(np.array([[3.0, 2.0]]), np.array([1]), np.ones(1), 2, True)
    >>> free = ElasticNetPenalty(0.0, 0.0, np.array([True, True, False]))
    >>> identity = StandardizedCoordinates.identity(sample)
    >>> expected_smoothness(sample, identity, free, 1, 1)  # (9 + 4 + 1) / 4
    3.5
    """
    rows = slice(0, min(sample.n_samples, STEP_SAMPLE_ROWS))
    X = sample.X[rows]
    weight = sample.normalized_weight[rows]
    weight = weight / weight.sum()
    inverse_scale = 1.0 / coords.scale
    shift = coords.center * inverse_scale
    intercept = 1.0 if sample.fit_intercept else 0.0
    squares = X.multiply(X) if sp.issparse(X) else X * X
    row_norms = (
        np.asarray(squares @ inverse_scale**2).ravel()
        - 2.0 * np.asarray(X @ (shift * inverse_scale)).ravel()
        + shift @ shift
        + intercept
    )
    curvature = 0.25 if sample.n_scores == 1 else 0.5
    penalty_curvature = float(
        np.max(penalty.l2_strength * inverse_scale**2, initial=0.0) if penalty.l2_strength else 0.0
    )
    largest_row = curvature * float(np.max(weight * row_norms)) * len(weight)
    whole = curvature * _top_eigenvalue(X, weight, inverse_scale, shift, intercept)
    n, b = max(float(n_total), 1.0), float(batch_size)
    if b >= n or n <= 1:
        mixed = whole
    else:
        mixed = n * (b - 1) / (b * (n - 1)) * whole + (n - b) / (b * (n - 1)) * largest_row
    return mixed + penalty_curvature


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
