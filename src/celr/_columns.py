"""X's columns for coordinate descent: a canonical CSC copy, made once per path.

Proximal Newton's coordinate descent (:mod:`celr.solvers._cd_model`) reads X by
columns. Converting 100k x 100k tf-idf rows to CSC costs 0.17 s, a tenth of a fit on
the L1 path; :func:`celr.regularization_path` fits the same X at every ``C``, so it
converts once and hands the columns to its fits with :func:`known_columns`. The hand-off
is by identity of the matrix object within the path call, which holds X throughout: a
fit on any other matrix (an offset-centred copy, another X) converts its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

import numpy as np
import scipy.sparse as sp

_KNOWN: ContextVar[tuple | None] = ContextVar("celr_known_columns", default=None)


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
    columns = sp.csc_matrix(X)  # shares the caller's arrays when X is CSC
    if not columns.has_canonical_format or columns.indices.dtype != columns.indptr.dtype:
        columns = sp.csc_matrix(
            (columns.data, columns.indices.astype(np.int64), columns.indptr.astype(np.int64)),
            shape=columns.shape,
            copy=True,
        )
        columns.sum_duplicates()
    return columns


@contextlib.contextmanager
def known_columns(X, columns: sp.csc_matrix) -> Iterator[None]:
    """Within the block, fits on the matrix object ``X`` use ``columns`` as its CSC form."""
    token = _KNOWN.set((X, columns))
    try:
        yield
    finally:
        _KNOWN.reset(token)


def columns_of(X) -> sp.csc_matrix:
    """The canonical CSC form of the sparse matrix ``X``: the known one, else a new one."""
    known = _KNOWN.get()
    if known is not None and known[0] is X:
        return known[1]
    return canonical_csc(X)
