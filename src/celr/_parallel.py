"""Row-block parallel evaluation of the objective on the cores of one machine.

The objective is a sum over rows, so its value, gradient, Hessian and Hessian-vector
products are sums of the same quantities over row blocks. :class:`RowBlockObjective`
splits the rows into one block per thread, evaluates the blocks on a thread pool (numpy
and BLAS release the GIL) and adds the results; every other method is the whole
problem's. Solvers cannot tell it from a :class:`~celr._objective.LogisticObjective`.

Measured on 2 cores (value + gradient, one BLAS thread per block): 500,000 x 100
dense, 52 -> 33 ms; 20,000 x 2,000, 17 -> 10 ms. Idle pool threads block instead of
spinning, unlike OpenBLAS's own workers, which is why this beats BLAS threading here.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from celr._objective import LogisticObjective

# Below this many stored entries a block's work is too short to pay for a thread hand-off.
MIN_ENTRIES_PER_BLOCK = 500_000


@functools.cache
def _pool(n_threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="celr")


def make_objective(
    X, y, sample_weight, n_classes: int, fit_intercept: bool, *, n_threads: int = 1
) -> LogisticObjective | RowBlockObjective:
    """The objective for in-memory data, split into row blocks when that pays.

    Blocks are made when ``n_threads > 1``, X is dense or CSR (rows of CSC are not
    contiguous) and every block holds at least ``MIN_ENTRIES_PER_BLOCK`` entries.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.ones((10, 3)); y = np.arange(10) % 2
    >>> type(make_objective(X, y, np.ones(10), 2, True, n_threads=2)).__name__
    'LogisticObjective'
    """
    whole = LogisticObjective(X, y, sample_weight, n_classes, fit_intercept)
    entries = X.nnz if sp.issparse(X) else X.shape[0] * X.shape[1]
    n_blocks = min(n_threads, entries // MIN_ENTRIES_PER_BLOCK, X.shape[0])
    if n_blocks < 2 or (sp.issparse(X) and X.format != "csr"):
        return whole
    return RowBlockObjective(whole, n_blocks)


class RowBlockObjective:
    """A :class:`LogisticObjective` evaluated as a sum over row blocks, in threads.

    Parameters
    ----------
    whole : LogisticObjective
        The objective on all rows; methods that are not sums over rows are its own.
    n_blocks : int
        Number of row blocks and of threads.
    """

    def __init__(self, whole: LogisticObjective, n_blocks: int) -> None:
        self.whole = whole
        bounds = np.linspace(0, whole.n_samples, n_blocks + 1).astype(int)
        self.blocks = [
            LogisticObjective(
                _row_view(whole.X, start, stop),
                whole.y[start:stop],
                whole.normalized_weight[start:stop],
                whole.n_classes,
                whole.fit_intercept,
                weight_sum=1.0,  # the weights are already normalised by the whole sum
            )
            for start, stop in itertools.pairwise(bounds)
        ]
        self._pool = _pool(n_blocks)
        self._subsamples: dict[int, LogisticObjective | RowBlockObjective] = {}

    def __getattr__(self, name: str):
        # Layout, scores, column statistics, subsampling: the whole problem's.
        return getattr(self.whole, name)

    def _map(self, method: str, *args, **kwargs) -> list:
        calls = [
            self._pool.submit(getattr(block, method), *args, **kwargs) for block in self.blocks
        ]
        return [call.result() for call in calls]

    def value(self, coef: np.ndarray) -> float:
        return float(sum(self._map("value", coef)))

    def value_grad(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        parts = self._map("value_grad", coef)
        return float(sum(value for value, _ in parts)), sum(grad for _, grad in parts)

    def hessp_at(self, coef: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        products = self._map("hessp_at", coef)

        def hessp(vector: np.ndarray) -> np.ndarray:
            calls = [self._pool.submit(product, vector) for product in products]
            return sum(call.result() for call in calls)

        return hessp

    def hessian(self, coef: np.ndarray, column_scale: np.ndarray | None = None) -> np.ndarray:
        return sum(self._map("hessian", coef, column_scale))

    def hessian_diag(self, coef: np.ndarray) -> np.ndarray:
        return sum(self._map("hessian_diag", coef))

    def row_subsample(self, stride: int) -> LogisticObjective | RowBlockObjective:
        if stride <= 1:
            return self
        if stride not in self._subsamples:
            sub = self.whole.row_subsample(stride)
            blocked = make_objective(
                sub.X,
                sub.y,
                sub.normalized_weight,
                sub.n_classes,
                sub.fit_intercept,
                n_threads=len(self.blocks),
            )
            if isinstance(blocked, RowBlockObjective):
                blocked.whole = sub  # keeps the cached column statistics
            self._subsamples[stride] = blocked
        return self._subsamples[stride]


def _row_view(X, start: int, stop: int):
    """Rows ``start:stop`` of dense or CSR X without copying the stored entries."""
    if not sp.issparse(X):
        return X[start:stop]
    lo, hi = X.indptr[start], X.indptr[stop]
    # scipy's constructor copies views smaller than half their base ("prune"), so the
    # block is made empty and given the views, which are a valid CSR structure as is.
    block = sp.csr_array((stop - start, X.shape[1]), dtype=X.dtype)
    block.data, block.indices = X.data[lo:hi], X.indices[lo:hi]
    block.indptr = (X.indptr[start : stop + 1] - lo).astype(X.indices.dtype)
    return block
