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
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from celr._objective import LogisticObjective, mirror_upper_triangle

# Below this many stored entries a block's work is too short to pay for a thread hand-off.
MIN_ENTRIES_PER_BLOCK = 500_000
# Per-row temporaries of one evaluation, measured: scores, signs, loss, residual and
# scratch, five to eight float64 values per score.
TEMP_BYTES_PER_SCORE = 64
TEMP_SHARE = 0.02
MIN_TEMP_BYTES = 2 * 2**20


@functools.cache
def _pool(n_threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="celr")


# A forked child inherits the pool object but not its threads: give it fresh pools.
os.register_at_fork(after_in_child=_pool.cache_clear)


def make_objective(
    X, y, sample_weight, n_classes: int, fit_intercept: bool, *, n_threads: int = 1
) -> LogisticObjective | RowBlockObjective:
    """The objective for in-memory data, split into row blocks when that pays.

    Blocks serve two ends. Parallelism: up to ``n_threads`` blocks, each of at least
    ``MIN_ENTRIES_PER_BLOCK`` entries. Memory: the per-row temporaries of one evaluation
    (scores, residuals, about ``TEMP_BYTES_PER_SCORE`` per score and row) are bounded per
    block by ``max(TEMP_SHARE * size of X, MIN_TEMP_BYTES)`` (2%, 2 MB), so that a fit's extra
    memory stays a small fraction of X (10 classes on 200,000 x 50: 64 MB of
    temporaries, 80% of X, in one block). CSC is never split (its rows are not
    contiguous).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.ones((10, 3)); y = np.arange(10) % 2
    >>> type(make_objective(X, y, np.ones(10), 2, True, n_threads=2)).__name__
    'LogisticObjective'
    """
    whole = LogisticObjective(X, y, sample_weight, n_classes, fit_intercept)
    if sp.issparse(X) and X.format != "csr":
        return whole
    n_samples = X.shape[0]
    entries = X.nnz if sp.issparse(X) else n_samples * X.shape[1]
    parallel_blocks = min(n_threads, entries // MIN_ENTRIES_PER_BLOCK)
    x_bytes = X.data.nbytes if sp.issparse(X) else X.nbytes
    temp_bytes = n_samples * whole.n_scores * TEMP_BYTES_PER_SCORE
    memory_blocks = -(-temp_bytes // max(int(TEMP_SHARE * x_bytes), MIN_TEMP_BYTES))
    n_blocks = min(max(parallel_blocks, memory_blocks), n_samples)
    if n_blocks < 2:
        return whole
    return RowBlockObjective(whole, n_blocks, n_threads=max(1, min(n_threads, n_blocks)))


class RowBlockObjective:
    """A :class:`LogisticObjective` evaluated as a sum over row blocks, in threads.

    Parameters
    ----------
    whole : LogisticObjective
        The objective on all rows; methods that are not sums over rows are its own.
    n_blocks : int
        Number of row blocks.
    n_threads : int, optional
        Threads evaluating them (default: one per block); with one, blocks run in turn.
    """

    def __init__(
        self, whole: LogisticObjective, n_blocks: int, n_threads: int | None = None
    ) -> None:
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
        self.n_threads = n_blocks if n_threads is None else n_threads
        self._pool = _pool(self.n_threads) if self.n_threads > 1 else None
        self._subsamples: dict[int, LogisticObjective | RowBlockObjective] = {}

    def __getattr__(self, name: str):
        # Layout, scores, column statistics, subsampling: the whole problem's.
        return getattr(self.whole, name)

    def _run(self, tasks: list) -> list:
        """Call every task (no arguments), on the pool when there is one."""
        if self._pool is None:
            return [task() for task in tasks]
        calls = [self._pool.submit(task) for task in tasks]
        return [call.result() for call in calls]

    def _sum(self, items: list, call: Callable):
        """``sum(call(item) for item in items)``, each thread adding up its own share.

        Only one partial result per thread is alive at a time: with many memory blocks,
        holding every block's Hessian (or gradient) before adding them would cost more
        than the temporaries the blocks exist to bound.
        """

        def add_up(share: list):
            total = None
            for item in share:
                total = _add(total, call(item))
            return total

        shares = [items[t :: self.n_threads] for t in range(self.n_threads)]
        totals = self._run([functools.partial(add_up, share) for share in shares if share])
        return functools.reduce(_add, totals)

    def value(self, coef: np.ndarray) -> float:
        return float(self._sum(self.blocks, lambda block: block.value(coef)))

    def value_grad(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = self._sum(self.blocks, lambda block: block.value_grad(coef))
        return float(value), grad

    def hessp_at(self, coef: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        products = self._run([functools.partial(block.hessp_at, coef) for block in self.blocks])
        return lambda vector: self._sum(products, lambda product: product(vector))

    def hessian(self, coef: np.ndarray, column_scale: np.ndarray | None = None) -> np.ndarray:
        def accumulate(share: list) -> np.ndarray:
            hess = np.zeros((self.whole.n_params,) * 2, order="F")
            for block in share:
                block.accumulate_hessian(coef, column_scale, hess)
            return hess

        shares = [self.blocks[t :: self.n_threads] for t in range(self.n_threads)]
        hess = functools.reduce(
            _add, self._run([functools.partial(accumulate, share) for share in shares if share])
        )
        mirror_upper_triangle(hess)
        return hess

    def hessian_diag(self, coef: np.ndarray) -> np.ndarray:
        return self._sum(self.blocks, lambda block: block.hessian_diag(coef))

    def score_outer(self, coef: np.ndarray, column_scale: np.ndarray | None = None) -> np.ndarray:
        return self._sum(self.blocks, lambda block: block.score_outer(coef, column_scale))

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
                n_threads=self.n_threads,
            )
            if isinstance(blocked, RowBlockObjective):
                blocked.whole = sub  # keeps the cached column statistics
            self._subsamples[stride] = blocked
        return self._subsamples[stride]


def _add(total, part):
    """``total + part`` for numbers, arrays (in place) and tuples of them; None is zero."""
    if total is None:
        return part
    if isinstance(total, tuple):
        return tuple(_add(a, b) for a, b in zip(total, part, strict=True))
    if isinstance(total, np.ndarray):
        total += part
        return total
    return total + part


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
