"""The columns' sums over CSR rows and CSR to CSC (celr._sparse_kernel, through
_column_stats and _columns), checked against dense numpy sums and scipy's tocsc."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import threadpoolctl

from celr._column_stats import csr_column_sums
from celr._columns import canonical_csc, csr_to_csc
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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_equal_weights_sum_the_values_and_match_the_weighted_pass(dtype, index_dtype):
    # Equal weights take the kernel's unweighted table (three columns), scaled after.
    X, _ = _csr(dtype, index_dtype)
    n = X.shape[0]
    equal = np.full(n, 1.0 / n)
    value_sum, squares, stored_weight, counts = csr_column_sums(X, equal)
    nearly = equal.copy()
    nearly[0] *= 1.0 + 2**-40  # not equal: the weighted table (four columns)
    weighted = csr_column_sums(X, nearly)
    dense = X.toarray().astype(np.float64)
    stored = dense != 0
    # The sums differ from the weighted ones only in rounding: n eps relative (all terms
    # non-negative), plus the 2^-40 of one row's weight.
    bound = n * np.finfo(float).eps + 2**-40
    for mine, reference in zip((value_sum, squares, stored_weight), weighted[:3], strict=True):
        np.testing.assert_allclose(mine, reference, rtol=bound, atol=0)
    np.testing.assert_allclose(value_sum, dense.mean(axis=0), rtol=bound, atol=0)
    np.testing.assert_allclose(stored_weight, stored.mean(axis=0), rtol=bound, atol=0)
    np.testing.assert_array_equal(counts, stored.sum(axis=0))
    np.testing.assert_array_equal(weighted[3], counts)


def test_sums_do_not_depend_on_the_thread_count():
    X, weight = _csr(np.float64, np.int32, n=100_000, d=300)  # 600,000 entries: 3 lanes
    for weights in (weight, np.full(X.shape[0], 1.0 / X.shape[0])):
        with threadpoolctl.threadpool_limits(1):
            one = csr_column_sums(X, weights)
        two = csr_column_sums(X, weights)
        for a, b in zip(one, two, strict=True):
            np.testing.assert_array_equal(a, b)


def test_the_kernel_refuses_what_would_write_out_of_bounds():
    X, weight = _csr(np.float64, np.int32, n=10, d=5)
    sums = np.zeros((5, 4))
    with pytest.raises(ValueError, match="out of range"):
        add_rows(X.data, X.indices, X.indptr, weight, 0, 11, sums)
    for width in (2, 5):
        with pytest.raises(ValueError, match="not 3 or 4"):
            add_rows(X.data, X.indices, X.indptr, weight, 0, 10, np.zeros((5, width)))
    bad = X.indices.copy()
    bad[0] = 5
    with pytest.raises(ValueError, match="column index 5"):
        add_rows(X.data, bad, X.indptr, weight, 0, 10, sums)


# -- CSR to CSC in lanes (celr._columns.csr_to_csc) -----------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("n_lanes", [1, 3])
def test_csr_to_csc_is_scipys_tocsc(dtype, index_dtype, n_lanes, monkeypatch):
    import celr._parallel
    import celr._sparse_kernel

    # Lanes of at least this many entries: 1 or 3 lanes over about 42,000 entries.
    monkeypatch.setattr(celr._parallel, "MIN_ENTRIES_PER_BLOCK", 40_000 // n_lanes)
    lanes, count = [], celr._sparse_kernel.csr_column_counts
    monkeypatch.setattr(
        celr._sparse_kernel, "csr_column_counts", lambda *a: lanes.append(a[2:4]) or count(*a)
    )
    X, _ = _csr(dtype, index_dtype)
    X.data[X.indptr[5] : X.indptr[6]] = 0.0  # an empty row
    X.eliminate_zeros()
    X.indices, X.indptr = X.indices.astype(index_dtype), X.indptr.astype(index_dtype)
    with threadpoolctl.threadpool_limits(n_lanes):
        columns = csr_to_csc(X)
    reference = sp.csc_matrix(X)
    reference.sort_indices()
    assert len(lanes) == n_lanes
    assert columns.format == "csc" and columns.dtype == dtype
    assert columns.indices.dtype == columns.indptr.dtype  # scipy may narrow int64 to int32
    assert columns.has_canonical_format
    for mine, theirs in [
        (columns.indptr, reference.indptr),
        (columns.indices, reference.indices),
        (columns.data, reference.data),
    ]:
        np.testing.assert_array_equal(mine, theirs)


def test_csr_to_csc_keeps_duplicates_for_canonical_csc_to_sum():
    data, indices, indptr = np.array([1.0, 2.0, 4.0]), np.array([2, 0, 2]), np.array([0, 3])
    X = sp.csr_matrix((data, indices, indptr), shape=(1, 3))  # unsorted, a duplicate
    columns = csr_to_csc(X)
    assert not columns.has_canonical_format
    canonical = canonical_csc(X)
    assert canonical.has_canonical_format
    np.testing.assert_array_equal(canonical.toarray(), [[2.0, 0.0, 5.0]])
    np.testing.assert_array_equal(X.data, data)  # the caller's arrays as they were


def test_csr_to_csc_refuses_indices_out_of_range():
    X, _ = _csr(np.float64, np.int32, n=10, d=5)
    X.indices[0] = 5  # past the last column: would write outside the column arrays
    with pytest.raises(ValueError, match="column index 5 out of range"):
        csr_to_csc(X)
    assert csr_to_csc(sp.csr_matrix((3, 4))) is None  # no entries: scipy's own
