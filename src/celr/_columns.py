"""What the fits of one path share about X: its CSC columns and its column statistics.

Proximal Newton's coordinate descent (:mod:`celr.solvers._cd_model`) reads X by
columns. Converting 100k x 100k tf-idf rows to CSC costs 0.11 s (two threads), and the column
statistics of the implicit standardisation 0.1 s, together a fifth of a warm-started fit
on the L1 path; :func:`celr.regularization_path` fits the same X at every ``C``, so
within :func:`path_data` its fits compute each once. The hand-off is by identity of the
matrix object within the path call, which holds X throughout (and statistics also by the
row weights' values): a fit on any other matrix (an offset-centred copy, another X)
computes its own.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from contextvars import ContextVar

import numpy as np
import scipy.sparse as sp

_KNOWN: ContextVar[_PathData | None] = ContextVar("celr_known_columns", default=None)


def canonical_csc(X) -> sp.csc_matrix:
    """X as a CSC matrix with sorted, summed entries and one index dtype; it shares X's
    arrays only when X is such a matrix already (nothing of the caller's is changed).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> X = sp.csr_matrix(np.array([[1.0, 0.0], [2.0, 3.0]]))
    >>> columns = canonical_csc(X)
    >>> columns.format, columns.indptr.tolist()
    ('csc', [0, 2, 3])
    """
    columns = csr_to_csc(X)
    if columns is None:
        columns = sp.csc_matrix(X)  # shares the caller's arrays when X is CSC
    if not columns.has_canonical_format or columns.indices.dtype != columns.indptr.dtype:
        columns = sp.csc_matrix(
            (columns.data, columns.indices.astype(np.int64), columns.indptr.astype(np.int64)),
            shape=columns.shape,
            copy=True,
        )
        columns.sum_duplicates()
    return columns


def csr_to_csc(X) -> sp.csc_matrix | None:
    """CSR X as a new CSC matrix, in row lanes on the fit's threads; None where X is not
    CSR of float32 or float64 values and int32 or int64 indices.

    scipy's ``tocsc`` is one thread: 100k x 100k tf-idf (7.7M entries) 0.17 s. Here each
    lane counts its rows' entries per column, the counts give every lane its start in
    each column (lanes in row order), and each lane then writes its entries there: the
    same arrays as scipy's, rows sorted within each column. The lanes are fixed by the
    data (their number by the thread budget only decides where they split; every entry
    lands at the same place), so the result does not depend on the threads.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> X = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 4.0]]))
    >>> columns = csr_to_csc(X)
    >>> columns.indptr.tolist(), columns.indices.tolist(), columns.data.tolist()
    ([0, 1, 2, 4], [0, 1, 0, 1], [1.0, 3.0, 2.0, 4.0])
    """
    from celr._column_stats import _run_lanes
    from celr._parallel import MAX_LANES, MIN_ENTRIES_PER_BLOCK, entry_ranges
    from celr._sparse_kernel import csr_column_counts, csr_scatter_columns
    from celr._threads import thread_budget

    if not (
        sp.issparse(X)
        and X.format == "csr"
        and X.dtype in (np.float32, np.float64)
        and X.indices.dtype in (np.int32, np.int64)
        and X.indptr.dtype == X.indices.dtype
        and X.nnz > 0
    ):
        return None
    n_columns = X.shape[1]
    indices, indptr, data = X.indices, X.indptr, X.data
    n_lanes = max(1, min(thread_budget(), MAX_LANES, X.nnz // MIN_ENTRIES_PER_BLOCK))
    lanes = entry_ranges(indptr, n_lanes)
    counts = [np.zeros(n_columns, dtype=np.int64) for _ in lanes]
    _run_lanes(lambda i: csr_column_counts(indices, indptr, *lanes[i], counts[i]), len(lanes))
    column_ptr = np.zeros(n_columns + 1, dtype=np.int64)
    np.cumsum(functools.reduce(np.add, counts), out=column_ptr[1:])
    positions, start = [], column_ptr[:-1].copy()
    for lane_counts in counts:
        positions.append(start.copy())
        start += lane_counts
    n_stored = int(column_ptr[-1])
    column_data = np.empty(n_stored, dtype=X.dtype)
    column_rows = np.empty(n_stored, dtype=indices.dtype)
    _run_lanes(
        lambda i: csr_scatter_columns(
            data, indices, indptr, *lanes[i], positions[i], column_data, column_rows
        ),
        len(lanes),
    )
    columns = sp.csc_matrix(
        (column_data, column_rows, column_ptr.astype(indices.dtype)), shape=X.shape, copy=False
    )
    if X.has_canonical_format:  # sorted rows and no duplicates: so are the columns
        columns.has_canonical_format = True
    return columns


class _PathData:
    """One path's X, its CSC columns (None until asked for), statistics computed and
    last evaluations (one per rows and layout)."""

    def __init__(self, X, columns: sp.csc_matrix | None) -> None:
        self.X, self.columns = X, columns
        self.statistics: list[tuple[np.ndarray, bool, tuple]] = []
        self.evaluations: list[tuple[np.ndarray, np.ndarray, tuple, object]] = []


@contextlib.contextmanager
def path_data(X, columns: sp.csc_matrix | None = None) -> Iterator[None]:
    """Within the block, fits on the matrix object ``X`` share ``columns`` (its CSC form,
    or made by the first fit that needs it) and their column statistics."""
    token = _KNOWN.set(_PathData(X, columns))
    try:
        yield
    finally:
        _KNOWN.reset(token)


def columns_of(X) -> sp.csc_matrix:
    """The canonical CSC form of the sparse matrix ``X``: the path's, else a new one."""
    known = _KNOWN.get()
    if known is None or known.X is not X:
        return canonical_csc(X)
    if known.columns is None:
        known.columns = canonical_csc(X)
    return known.columns


def center_scale_of(X, weight: np.ndarray, fit_intercept: bool, compute: Callable) -> tuple:
    """``compute()`` (the column statistics of ``X`` under ``weight``), or the path's
    earlier result for the same X, weights and intercept; shared arrays are read-only."""
    known = _KNOWN.get()
    if known is None or known.X is not X:
        return compute()
    for seen_weight, seen_intercept, result in known.statistics:
        if seen_intercept == fit_intercept and np.array_equal(seen_weight, weight):
            return result
    result = compute()
    for array in result:
        array.flags.writeable = False
    known.statistics.append((weight.copy(), fit_intercept, result))
    return result


def shared_last_evaluation(X, labels: np.ndarray, weight: np.ndarray, evaluator: tuple):
    """A :class:`celr._objective.LastEvaluation` for an objective on ``X``: the path's,
    shared by its fits with the same labels, weights and ``evaluator`` (layout and how
    the value is summed, so that a recalled value has the bits a new one would), else a
    new one. Only the data term is remembered, which does not depend on ``C``."""
    from celr._objective import LastEvaluation

    known = _KNOWN.get()
    if known is None or known.X is not X:
        return LastEvaluation()
    for seen_labels, seen_weight, seen_evaluator, last in known.evaluations:
        if (
            seen_evaluator == evaluator
            and np.array_equal(seen_labels, labels)
            and np.array_equal(seen_weight, weight)
        ):
            return last
    last = LastEvaluation()
    known.evaluations.append((labels.copy(), weight.copy(), evaluator, last))
    return last
