"""Weighted column statistics of X (dense or sparse) without copying X.

Solvers standardise implicitly: they need each column's weighted mean and spread once per
fit. These are computed in bounded chunks (rows of dense X, stored entries of CSR/CSC),
fast in the common case and exact for features of any magnitude: when squares would
overflow or underflow (values beyond about 1e+-150), the pass is redone with every column
divided by its maximum.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import numpy as np
import scipy.sparse as sp
from sklearn.utils import assert_all_finite

from celr._fused import compiled_reads

# Bytes of float64 scratch per chunk: small enough to stay in cache.
CHUNK_BYTES = 2 * 2**20
# Bytes of X per chunk of the compiled moments (read twice while in cache).
MOMENTS_CHUNK_BYTES = 2**18
# Sparse spreads from uncentred squares while their cancellation loses at most 10 bits.
CANCELLATION_LIMIT = 2.0**10


def weighted_center_scale(
    X, weight: np.ndarray, center_columns: bool, *, check_finite_for: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean (or 0) and spread of every column; constant columns get scale 1.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    weight : ndarray of shape (n_samples,)
        Non-negative weights summing to 1.
    center_columns : bool
        True: centre = weighted mean, spread = weighted standard deviation. False:
        centre = 0, spread = weighted root mean square.
    check_finite_for : str, optional
        Also check X as scikit-learn's ``check_array`` does, with its ``ValueError``
        naming this estimator where X holds NaN or inf: in the same read where X is
        dense and C-ordered (its finite means prove it finite), which saves
        ``check_array``'s own read (33 ms of a 0.57 s fit on 20,000 x 2,000).

    Returns
    -------
    center, scale : ndarray of shape (n_features,)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 5.0], [3.0, 5.0]])
    >>> weighted_center_scale(X, np.array([0.5, 0.5]), True)
    (array([2., 5.]), array([1., 1.]))
    """
    found, proven_finite = None, False
    if center_columns and compiled_reads(X):
        found, proven_finite = _dense_center_scale(X, weight)
    if check_finite_for is not None and not proven_finite:
        assert_all_finite(X, input_name="X", estimator_name=check_finite_for)
    if found is not None:
        return found
    if sp.issparse(X) and X.format == "csr":
        return csr_center_scale_and_mean(X, weight, center_columns)[:2]
    center = np.zeros(X.shape[1])
    if center_columns:
        # A weighted mean cannot overflow: it is bounded by the column maximum.
        center = np.asarray(weight.astype(X.dtype) @ X, dtype=np.float64)
    counts = stored_counts(X)
    scale = column_scale(
        center,
        counts,
        lambda unit: _centered_square_mean(X, weight, center, unit, counts),
        lambda: column_max_abs(X),
    )
    return center, scale


def _dense_center_scale(
    X, weight: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray] | None, bool]:
    """Mean and spread of dense C-ordered X in one read (instead of a mean's pass and a
    centred squares' pass): chunk moments merged pairwise (Chan et al.), in lanes of
    row blocks without the GIL, merged in block order (bits independent of the threads).
    Measured on two threads, numpy's two passes -> this: 500,000 x 100, 112-120 -> 32-47 ms;
    float32, 103-111 -> 25-33 ms; 20,000 x 2,000, 70-89 -> 34-47 ms. Non-finite or
    underflowing squares (values beyond about 1e+-150) take the two-pass path with every
    column in units of its maximum; None where a merged mean overflowed (the caller's
    two passes then). Second: whether the read proved every value finite."""
    from celr._dense_kernel import weighted_moments
    from celr._parallel import MAX_LANES, MIN_ENTRIES_PER_BLOCK

    weight = np.ascontiguousarray(weight, dtype=np.float64)
    n_samples, n_features = X.shape
    chunk_rows = max(1, MOMENTS_CHUNK_BYTES // (X.itemsize * max(n_features, 1)))
    # As many blocks as the objective's (from the shape only); small X is one block, read
    # on the caller's thread: a hand-off to the pool costs more than breast cancer's read.
    n_blocks = min(MAX_LANES, max(1, n_samples * n_features // MIN_ENTRIES_PER_BLOCK))
    bounds = np.unique(np.linspace(0, n_samples, n_blocks + 1).astype(int))
    blocks = [(X[a:b], weight[a:b]) for a, b in itertools.pairwise(bounds)]
    moments = _run_lanes(lambda i: weighted_moments(*blocks[i], chunk_rows), len(blocks))
    total, center, square_sum, _ = moments[0]
    unweighted_finite = all(block[3] for block in moments)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # checked below
        for block_total, block_mean, block_square, _ in moments[1:]:  # block order
            if block_total > 0.0:
                share = block_total / (total + block_total)
                delta = block_mean - center
                center = center + delta * share
                square_sum = square_sum + block_square + delta * delta * (total * share)
                total += block_total
    if not np.all(np.isfinite(center)):  # NaN or inf in X, or means near the float64 limit
        return None, False
    counts = stored_counts(X)
    scale = column_scale(
        center,
        counts,
        lambda unit: (
            square_sum if unit is None else _centered_square_mean(X, weight, center, unit, counts)
        ),
        lambda: column_max_abs(X),
    )
    return (center, scale), unweighted_finite


def column_scale(
    center: np.ndarray,
    counts: np.ndarray | Callable[[], np.ndarray],
    square_mean: Callable[[np.ndarray | None], np.ndarray],
    max_abs: Callable[[], np.ndarray],
) -> np.ndarray:
    """Each column's spread around ``center`` from two passes over the rows, given as calls.

    ``square_mean(unit)`` is ``sum_i w_i ((x_ij - c_j) / u_j)^2`` (``u = 1`` for None) and
    ``max_abs()`` the columns' largest absolute values (1 for all-zero columns), wherever
    the rows are (in memory here, on a Dask cluster in :mod:`celr._dask`). ``counts`` are
    the stored entries per column, or a call that gives them once ``square_mean`` has run.
    Constant columns get scale 1.
    """
    unit = np.ones(len(center))
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        spread = square_mean(None)
    counts = counts() if callable(counts) else counts
    if not np.all(np.isfinite(spread)) or np.any((counts > 0) & (spread < 1e-280)):
        unit = max_abs()
        spread = square_mean(unit)
    scale = unit * np.sqrt(spread)
    # A column whose spread is at rounding level of its magnitude is constant.
    magnitude = np.maximum(np.where(unit == 1.0, 0.0, unit), np.abs(center) + scale)
    constant = scale <= 1e3 * np.finfo(np.float64).eps * magnitude
    return np.where(constant, 1.0, scale)


def _centered_square_mean(X, weight, center, unit, counts) -> np.ndarray:
    """``sum_i w_i ((x_ij - c_j) / u_j)^2`` per column (``u = 1`` when None)."""
    n_features = X.shape[1]
    if not sp.issparse(X):
        return _dense_centered_square_mean(X, weight, center, unit)
    # Stored entries contribute their centred square; implicit zeros contribute
    # (c_j / u_j)^2 times their total weight.
    unit = np.ones(n_features) if unit is None else unit
    if X.format == "csr":
        return _csr_centered_square_mean(X, weight, center, unit)[0]
    stored_square = np.zeros(n_features)
    stored_weight = np.zeros(n_features)
    for rows, cols, values in entry_chunks(X):
        row_weight = weight[rows]
        deviation = (values - center[cols]) / unit[cols]
        stored_square += np.bincount(cols, row_weight * deviation**2, minlength=n_features)
        stored_weight += np.bincount(cols, row_weight, minlength=n_features)
    return _with_implicit_zeros(stored_square, stored_weight, counts, X.shape[0], center, unit)


def _with_implicit_zeros(stored_square, stored_weight, counts, n_rows, center, unit):
    """The stored entries' centred squares plus the implicit zeros' ``(c_j / u_j)^2``
    times their weight."""
    # 1 - stored_weight leaves a rounding residue (~1e-15) for fully stored columns, which
    # would give a constant column a spurious spread: count instead.
    fully_stored = counts == n_rows
    zero_weight = np.where(fully_stored, 0.0, np.maximum(1.0 - stored_weight, 0.0))
    return stored_square + zero_weight * (center / unit) ** 2


def _csr_centered_square_mean(X, weight, center, unit) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_centered_square_mean` of CSR X (each entry centred: any ``center``), and
    the stored entries per column."""
    unit = np.ones(X.shape[1]) if unit is None else unit
    stored_square, stored_weight, counts = _csr_stored_square_weight(X, weight, center, unit)
    spread = _with_implicit_zeros(stored_square, stored_weight, counts, X.shape[0], center, unit)
    return spread, counts


def csr_center_scale_and_mean(
    X, weight: np.ndarray, center_columns: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`weighted_center_scale` of CSR X, and the columns' weighted means (which a
    fit without intercept whitens along) from the same read.

    The mean, the squares, the stored weight and the counts of every column come from
    one compiled pass (:func:`csr_column_sums`), the spread from them while that is
    exact enough (:func:`_spread_about_mean`), else from the centred pass.
    """
    value_sum, squares, stored_weight, counts = csr_column_sums(X, weight)
    # A weighted mean cannot overflow: it is bounded by the column maximum.
    center = value_sum if center_columns else np.zeros(X.shape[1])
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # column_scale checks
        uncentred = _spread_about_mean(squares, stored_weight, counts, X.shape[0], center)

    def square_mean(unit: np.ndarray | None) -> np.ndarray:
        if unit is None and uncentred is not None:
            return uncentred
        return _csr_centered_square_mean(X, weight, center, unit)[0]

    scale = column_scale(center, counts, square_mean, lambda: column_max_abs(X))
    return center, scale, value_sum


def csr_column_sums(X, weight: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per column of CSR X: ``sum w x``, ``sum w x^2``, ``sum w`` over its stored entries,
    and their count, by :func:`celr._sparse_kernel.csr_column_sums` in lanes of row
    blocks on the fit's threads, summed in lane order (the bits depend on the data only).
    Equal weights (no ``sample_weight``) are sums of the values, times the weight.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> X = sp.csr_array(np.array([[1.0, 0.0], [3.0, 2.0]]))
    >>> [part.tolist() for part in csr_column_sums(X, np.array([0.5, 0.5]))]
    [[2.0, 1.0], [5.0, 2.0], [1.0, 0.5], [2, 1]]
    >>> [part.tolist() for part in csr_column_sums(X, np.array([0.5, 1.0]))]
    [[3.5, 2.0], [9.5, 4.0], [1.5, 1.0], [2, 1]]
    """
    from celr._parallel import MAX_LANES  # _parallel builds on this module
    from celr._sparse_kernel import csr_column_sums as add_rows

    n_features = X.shape[1]
    weight = np.ascontiguousarray(weight, dtype=np.float64)
    equal = weight.size > 0 and bool(np.all(weight == weight[0]))
    width = 3 if equal else 4
    # Each lane adds into a table of its own (24 or 32 bytes a column): at least 16
    # entries a column per block keeps the tables' merge a small part (2^18 columns, 16M
    # entries: 4 lanes, 100 ms; 8 lanes were no faster).
    blocks = list(major_blocks(X, max(CHUNK_BYTES // 8, 16 * n_features)))
    n_lanes = min(MAX_LANES, len(blocks))
    data, indices, indptr = X.data, X.indices, X.indptr
    if indices.dtype != indptr.dtype:
        indices, indptr = indices.astype(np.int64), indptr.astype(np.int64)

    def lane(index: int) -> np.ndarray:
        sums = np.zeros((n_features, width))
        for start, stop, _, _ in blocks[index::n_lanes]:
            add_rows(data, indices, indptr, weight, start, stop, sums)
        return sums

    lanes = _run_lanes(lane, n_lanes)
    total = lanes[0] if lanes else np.zeros((n_features, width))
    for sums in lanes[1:]:  # the lanes' order, whatever ran them
        total += sums
    if equal:
        value_sum, squares, counts = total.T.copy()
        value_sum *= weight[0]
        squares *= weight[0]
        stored_weight = counts * weight[0]
    else:
        value_sum, squares, stored_weight, counts = total.T.copy()
    # Exact: counts stay far below 2^53.
    return value_sum, squares, stored_weight, counts.astype(np.int64)


def _spread_about_mean(squares, stored_weight, counts, n_rows, mean) -> np.ndarray | None:
    """``sum_i w_i (x_ij - c_j)^2`` about ``c``, the columns' weighted mean (or 0
    without centring), from the stored entries' uncentred squares; None where they
    would cancel.

    With ``sum_i w_i x_ij = c_j`` the stored entries' centred squares are
    ``sum w x^2 - c^2 (2 - W)`` (``W`` their weight), which needs no centre per stored
    entry. Where the offset dominates a column's spread that difference cancels:
    ``sum w x^2 + 3 c^2`` above ``CANCELLATION_LIMIT`` times the spread (a constant
    column, a large offset) returns None, and the caller centres each entry, so a result
    keeps the centred pass's accuracy within 10 bits (the margin by which
    :func:`column_scale` tells a constant column, ``1e3 eps``).
    """
    stored_square = squares - mean**2 * (2.0 - stored_weight)
    ones = np.ones(len(mean))
    spread = _with_implicit_zeros(stored_square, stored_weight, counts, n_rows, mean, ones)
    if np.all(squares + 3.0 * mean**2 <= CANCELLATION_LIMIT * spread):
        return spread
    return None


def _csr_stored_square_weight(X, weight, center, unit) -> tuple[np.ndarray, ...]:
    """The stored entries' weighted centred squares (in units ``unit``, None for 1),
    weights and counts per column, for CSR X.

    Row blocks of about ``CHUNK_BYTES`` of entries, each summed over its rows by scipy's
    compiled transposed product (``w @ block``) instead of ``np.bincount`` over gathered
    row weights, in lanes of fixed blocks on the fit's threads as for dense X (the bits
    depend on the data only). The centred pass, for the columns whose uncentred squares
    would cancel (:func:`csr_column_sums` is the common case's one pass).
    """
    from celr._parallel import MAX_LANES  # _parallel builds on this module

    n_features = X.shape[1]
    scaled = unit is not None and not np.all(unit == 1.0)
    # A block's sums are vectors of every column: blocks of at least 4 entries per column
    # keep adding them below a fifth of the work (2^18 columns, 16M entries: 61 -> 16 blocks).
    blocks = list(major_blocks(X, max(CHUNK_BYTES // 8, 4 * n_features)))
    n_lanes = min(MAX_LANES, len(blocks))

    def lane(index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        stored_square, stored_weight, counts = (np.zeros(n_features) for _ in range(3))
        for start, stop, lo, hi in blocks[index::n_lanes]:
            cols = X.indices[lo:hi]
            deviation = np.array(X.data[lo:hi], dtype=np.float64)
            deviation -= center[cols]
            if scaled:
                deviation /= unit[cols]
            deviation *= deviation
            indptr = X.indptr[start : stop + 1] - lo
            shape = (stop - start, n_features)
            row_weight = weight[start:stop]
            # One matrix per block, its values swapped: building one checks its indices,
            # which cost more than the product (a pass of its own for the counts: 0.15 s
            # on 200,000 x 2^18 tf-idf, against 0.04 s for its product).
            block = sp.csr_array((deviation, cols, indptr), shape=shape)
            stored_square += row_weight @ block
            block.data.fill(1.0)
            stored_weight += row_weight @ block
            counts += np.ones(stop - start) @ block
        return stored_square, stored_weight, counts

    lanes = _run_lanes(lane, n_lanes)
    stored_square, stored_weight, counts = (np.zeros(n_features) for _ in range(3))
    for square, weight_sum, count in lanes:  # the lanes' order, whatever ran them
        stored_square += square
        stored_weight += weight_sum
        counts += count
    # Exact: counts stay far below 2^53.
    return stored_square, stored_weight, counts.astype(np.int64)


def _dense_centered_square_mean(X, weight, center, unit) -> np.ndarray:
    """The dense case, in lanes of whole chunks on the fit's threads (up to ``MAX_LANES``,
    a constant). The chunks and the order of their sum depend on the data only, so the
    bits do not depend on the thread count (500,000 x 100 on 2 threads: 2x faster)."""
    from celr._parallel import MAX_LANES  # _parallel builds on this module

    n_samples, n_features = X.shape
    rows_per_chunk = max(64, CHUNK_BYTES // (8 * n_features))
    starts = range(0, n_samples, rows_per_chunk)
    n_lanes = min(MAX_LANES, len(starts))

    def lane(index: int) -> list[np.ndarray]:
        scratch = np.empty((min(rows_per_chunk, n_samples), n_features))
        parts = []
        for start in starts[index::n_lanes]:
            rows = slice(start, start + rows_per_chunk)
            chunk = scratch[: len(X[rows])]
            np.subtract(X[rows], center, out=chunk)
            if unit is not None:
                chunk /= unit
            chunk *= chunk
            parts.append(chunk.T @ weight[rows])
        return parts

    lanes = _run_lanes(lane, n_lanes)
    spread = np.zeros(n_features)
    for position in range(len(starts)):  # the chunks' order, whatever ran them
        spread += lanes[position % n_lanes][position // n_lanes]
    return spread


def _run_lanes(lane: Callable[[int], object], n_lanes: int) -> list:
    """``[lane(0), ..., lane(n_lanes - 1)]``, on the fit's threads when it has several.

    The lanes are fixed by the data, so their results (summed in lane order by the
    caller) do not depend on how many threads ran them.
    """
    from celr._parallel import _pool
    from celr._threads import thread_budget

    n_threads = min(thread_budget(), n_lanes)
    if n_threads > 1:
        return list(_pool(n_threads).map(lane, range(n_lanes)))
    return [lane(index) for index in range(n_lanes)]


def column_max_abs(X) -> np.ndarray:
    """Largest absolute value of every column (1 for all-zero columns)."""
    max_abs = np.zeros(X.shape[1])
    if sp.issparse(X):
        for _, cols, values in entry_chunks(X):
            np.maximum.at(max_abs, cols, np.abs(values))
    else:
        rows_per_chunk = max(64, CHUNK_BYTES // (8 * X.shape[1]))
        for start in range(0, X.shape[0], rows_per_chunk):
            chunk = np.abs(X[start : start + rows_per_chunk]).max(axis=0, initial=0.0)
            np.maximum(max_abs, chunk, out=max_abs)
    return np.where(max_abs > 0, max_abs, 1.0)


def stored_counts(X) -> np.ndarray:
    """Stored entries per column (dense: every row)."""
    if not sp.issparse(X):
        return np.full(X.shape[1], X.shape[0])
    if X.format == "csc":
        return np.diff(X.indptr)
    if X.format != "csr":
        X = sp.csr_array(X)
    # scipy's compiled transposed product on a pattern of ones: half np.bincount's time
    # (which first converts int32 indices); exact, as counts stay far below 2^53.
    counts = np.zeros(X.shape[1])
    for start, stop, lo, hi in major_blocks(X):
        pattern = sp.csr_array(
            (np.ones(hi - lo), X.indices[lo:hi], X.indptr[start : stop + 1] - lo),
            shape=(stop - start, X.shape[1]),
        )
        counts += np.ones(stop - start) @ pattern
    return counts.astype(np.int64)


def entry_chunks(X) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(row, column, value) of the stored entries of sparse X, a bounded chunk at a time.

    CSR and CSC are read in place along their major axis; other formats go through CSR.
    Values are float64.
    """
    if X.format not in ("csr", "csc"):
        X = sp.csr_array(X)
    indptr = X.indptr
    for start, stop, lo, hi in major_blocks(X):
        major = np.repeat(np.arange(start, stop), np.diff(indptr[start : stop + 1]))
        minor = X.indices[lo:hi]
        values = np.asarray(X.data[lo:hi], dtype=np.float64)
        yield (major, minor, values) if X.format == "csr" else (minor, major, values)


def major_blocks(
    X, entries_per_chunk: int = CHUNK_BYTES // 8
) -> Iterator[tuple[int, int, int, int]]:
    """``(start, stop, lo, hi)``: rows (CSR) or columns (CSC) ``start:stop`` of X, whose
    stored entries are ``lo:hi``, about ``entries_per_chunk`` entries a block (one long
    row or column may exceed it)."""
    major_count = X.shape[0] if X.format == "csr" else X.shape[1]
    indptr = X.indptr
    start = 0
    while start < major_count:
        stop = int(np.searchsorted(indptr, indptr[start] + entries_per_chunk, side="right"))
        stop = min(max(stop - 1, start + 1), major_count)
        yield start, stop, int(indptr[start]), int(indptr[stop])
        start = stop
