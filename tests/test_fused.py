"""The one-pass value and gradient of dense rows (celr._fused) against the two-pass one
and the independent reference, within their rounding bounds."""

from __future__ import annotations

import numpy as np
import pytest

from celr._fused import fused_rows
from celr._objective import LogisticObjective
from tests.conftest import reference_loss


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_fused_value_grad_matches_the_reference(n_classes, dtype):
    rng = np.random.default_rng(0)
    n, d = 6000, 60  # 1 MB chunks of 60 columns: 2184 (float64) or 4369 rows, 2-3 chunks
    X = (rng.normal(size=(n, d)) * rng.uniform(0.1, 10, d)).astype(dtype)
    y = rng.integers(0, n_classes, n)
    w = rng.uniform(0, 2, n)
    objective = LogisticObjective(X, y, w, n_classes, True)
    assert objective._fused_rows is not None and objective._fused_rows < n
    n_scores = objective.n_scores
    coef = rng.normal(scale=0.1, size=objective.n_params)
    value, grad = objective.value_grad(coef)
    W, b = objective.unpack(coef)
    X64 = X.astype(np.float64)
    ref_value, ref_W, ref_b = reference_loss(X64, y, w, W, b)
    # Both sum n products of d + 1 terms in X's precision u: at most (n + d + 4) u times
    # the sum of the terms' absolute values (Higham eq. 3.5), weighted as the sums are.
    u = np.finfo(dtype).eps
    share = w / w.sum()
    sizes = np.abs(X64) @ np.abs(W).T + np.abs(b)  # |z| per row and score
    assert abs(value - ref_value) <= (n + d + 4) * u * (share @ (1 + sizes.max(axis=1)))
    bound_W = (n + d + 4) * u * np.tile(share @ np.abs(X64), (n_scores, 1)) * (1 + sizes.max())
    got_W, got_b = objective.unpack(grad)
    assert np.all(np.abs(got_W - ref_W) <= bound_W)
    # the residuals come from scores computed in X's precision
    assert np.all(np.abs(got_b - ref_b) <= (n + d + 4) * u * (1 + sizes.max()))


def test_only_c_ordered_dense_rows_of_several_chunks_are_fused():
    X = np.zeros((10_000, 50))
    assert fused_rows(X) == 2**20 // (8 * 50)
    assert fused_rows(X[::2]) is None  # a strided subsample
    assert fused_rows(np.asfortranarray(X)) is None
    assert fused_rows(X[:100]) is None  # one chunk
    assert fused_rows(np.zeros((10_000, 2_000))) is None  # chunks too short to pay
