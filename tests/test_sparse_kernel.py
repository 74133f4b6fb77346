"""The columns' sums over CSR rows (celr._sparse_kernel, through _column_stats), checked
against dense numpy sums."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import threadpoolctl

from celr._column_stats import csr_column_sums
from celr._sparse_kernel import csr_column_sums as add_rows


def _csr(dtype, index_dtype, n=3_000, d=700, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.02, random_state=seed, format="csr", dtype=np.float64)
    X.data = rng.lognormal(size=X.nnz)
    X = X.astype(dtype)
    X.indices, X.indptr = X.indices.astype(index_dtype), X.indptr.astype(index_dtype)
    weight = rng.uniform(0.1, 3.0, size=n)
    return X, weight / weight.sum()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_sums_match_dense_sums(dtype, index_dtype):
    X, weight = _csr(dtype, index_dtype)
    value_sum, squares, stored_weight, counts = csr_column_sums(X, weight)
    dense = X.toarray().astype(np.float64)
    stored = dense != 0
    # Sums of at most n terms in float64 (float32 values are exact in it): n eps relative
    # to the sum of the terms' magnitudes, all non-negative here.
    bound = X.shape[0] * np.finfo(float).eps
    np.testing.assert_allclose(value_sum, weight @ dense, rtol=bound, atol=0)
    np.testing.assert_allclose(squares, weight @ dense**2, rtol=bound, atol=0)
    np.testing.assert_allclose(stored_weight, weight @ stored, rtol=bound, atol=0)
    np.testing.assert_array_equal(counts, stored.sum(axis=0))


def test_sums_do_not_depend_on_the_thread_count():
    X, weight = _csr(np.float64, np.int32, n=100_000, d=300)  # 600,000 entries: 3 lanes
    with threadpoolctl.threadpool_limits(1):
        one = csr_column_sums(X, weight)
    two = csr_column_sums(X, weight)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_kernel_refuses_what_would_write_out_of_bounds():
    X, weight = _csr(np.float64, np.int32, n=10, d=5)
    sums = np.zeros((5, 4))
    with pytest.raises(ValueError, match="out of range"):
        add_rows(X.data, X.indices, X.indptr, weight, 0, 11, sums)
    with pytest.raises(ValueError, match="not 4"):
        add_rows(X.data, X.indices, X.indptr, weight, 0, 10, np.zeros((5, 3)))
    bad = X.indices.copy()
    bad[0] = 5
    with pytest.raises(ValueError, match="column index 5"):
        add_rows(X.data, bad, X.indptr, weight, 0, 10, sums)
