# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False
"""The columns' weighted sums over CSR rows, one compiled pass.

A solver's implicit standardisation needs every column's weighted mean and spread
(:mod:`celr._column_stats`). Over CSR rows each is a scatter into the columns, and numpy
or scipy can only do one sum a pass (the mean by ``w @ X``, then the squares, the stored
weight and the counts by three products of a rebuilt block). Here one read of the stored
entries adds all four (three for equal weights) into one row of a table per column
(one cache line touched per entry, not four): 200,000 x 2^18 tf-idf (16M entries), two
threads, 250-300 ms -> about 100 ms.
"""

from cython cimport floating

ctypedef fused index_t:
    int
    long long


def csr_column_sums(
    const floating[::1] data,
    const index_t[::1] indices,
    const index_t[::1] indptr,
    const double[::1] weight,
    Py_ssize_t start,
    Py_ssize_t stop,
    double[:, ::1] sums,
):
    """Add rows ``start:stop`` of CSR X into ``sums``, per column ``j``: ``sum w_i x_ij``,
    ``sum w_i x_ij^2``, ``sum w_i`` and the count, over the column's stored entries; with
    three columns in ``sums``, the unweighted ``sum x_ij``, ``sum x_ij^2`` and the count
    (``weight`` unread): equal weights need no stored weight, and a table row of 24 bytes
    instead of 32 is touched per entry (200,000 x 2^18 tf-idf, one thread: 120 -> 88 ms).

    Parameters
    ----------
    data, indices, indptr : ndarray
        X's CSR arrays (float32 or float64 values; int32 or int64 indices).
    weight : ndarray of shape (n_samples,)
        Row weights (unread for three columns).
    start, stop : int
        The rows to add.
    sums : ndarray of shape (n_features, 4) or (n_features, 3), float64, C-ordered
        Added to in place.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> X = sp.csr_array(np.array([[1.0, 0.0], [3.0, 2.0]]))
    >>> sums = np.zeros((2, 4))
    >>> csr_column_sums(X.data, X.indices, X.indptr, np.array([0.5, 0.5]), 0, 2, sums)
    >>> sums.tolist()  # column 0: 0.5 + 1.5, 0.5 + 4.5, 1.0, 2 entries
    [[2.0, 5.0, 1.0, 2.0], [1.0, 2.0, 0.5, 1.0]]
    >>> sums = np.zeros((2, 3))
    >>> csr_column_sums(X.data, X.indices, X.indptr, np.array([]), 0, 2, sums)
    >>> sums.tolist()
    [[4.0, 10.0, 2.0], [2.0, 4.0, 1.0]]
    """
    cdef Py_ssize_t i, k, j
    cdef double w, v, weighted
    cdef bint weighted_sums = sums.shape[1] == 4
    if sums.shape[1] not in (3, 4):
        raise ValueError(f"sums has {sums.shape[1]} columns, not 3 or 4")
    if not 0 <= start <= stop < indptr.shape[0] or (weighted_sums and weight.shape[0] < stop):
        raise ValueError(f"rows {start}:{stop} out of range")
    if indptr[stop] > data.shape[0] or indptr[stop] > indices.shape[0]:
        raise ValueError("indptr points past the stored entries")
    with nogil:
        for i in range(start, stop):
            if weighted_sums:
                w = weight[i]
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                if j < 0 or j >= sums.shape[0]:
                    with gil:
                        raise ValueError(f"column index {j} out of range")
                v = data[k]
                if weighted_sums:
                    weighted = w * v
                    sums[j, 0] += weighted
                    sums[j, 1] += weighted * v
                    sums[j, 2] += w
                    sums[j, 3] += 1.0
                else:
                    sums[j, 0] += v
                    sums[j, 1] += v * v
                    sums[j, 2] += 1.0


def csr_column_counts(
    const index_t[::1] indices,
    const index_t[::1] indptr,
    Py_ssize_t start,
    Py_ssize_t stop,
    long long[::1] counts,
):
    """Add the stored entries of rows ``start:stop`` to their columns' ``counts``: a
    lane's first half of :func:`celr._columns.csr_to_csc`.

    Examples
    --------
    >>> import numpy as np
    >>> counts = np.zeros(3, dtype=np.int64)
    >>> csr_column_counts(np.array([0, 2, 2]), np.array([0, 2, 3]), 0, 2, counts)
    >>> counts.tolist()
    [1, 0, 2]
    """
    cdef Py_ssize_t k, n_columns = counts.shape[0], first, last
    cdef size_t j
    if not 0 <= start <= stop < indptr.shape[0]:
        raise ValueError(f"rows {start}:{stop} out of range")
    first, last = indptr[start], indptr[stop]
    if not 0 <= first <= last <= indices.shape[0]:
        raise ValueError("indptr points outside the stored entries")
    with nogil:
        for k in range(first, last):
            j = <size_t>indices[k]
            if j >= <size_t>n_columns:
                with gil:
                    raise ValueError(f"column index {indices[k]} out of range")
            counts[j] += 1


def csr_scatter_columns(
    const floating[::1] data,
    const index_t[::1] indices,
    const index_t[::1] indptr,
    Py_ssize_t start,
    Py_ssize_t stop,
    long long[::1] position,
    floating[::1] column_data,
    index_t[::1] column_rows,
):
    """Write the entries of rows ``start:stop`` into CSC arrays, each at its column's
    next ``position`` (advanced): the second half of :func:`celr._columns.csr_to_csc`.
    Rows are taken in order, so each column's rows come out sorted."""
    cdef Py_ssize_t i, k, n_columns = position.shape[0], n_stored = column_data.shape[0]
    cdef long long at
    cdef size_t j
    if not 0 <= start <= stop < indptr.shape[0]:
        raise ValueError(f"rows {start}:{stop} out of range")
    if not 0 <= indptr[start] <= indptr[stop] <= min(indices.shape[0], data.shape[0]):
        raise ValueError("indptr points outside the stored entries")
    if column_rows.shape[0] != n_stored:
        raise ValueError("column_data and column_rows differ in length")
    with nogil:
        for i in range(start, stop):
            for k in range(indptr[i], indptr[i + 1]):
                j = <size_t>indices[k]
                if j >= <size_t>n_columns:
                    with gil:
                        raise ValueError(f"column index {indices[k]} out of range")
                at = position[j]
                if not 0 <= at < n_stored:
                    with gil:
                        raise ValueError("positions outside the column arrays")
                column_data[at] = data[k]
                column_rows[at] = <index_t>i
                position[j] = at + 1
