"""Row-block parallel evaluation of the objective on the cores of one machine.

The objective is a sum over rows, so its value, gradient, Hessian and Hessian-vector
products are sums of the same quantities over row blocks. :class:`RowBlockObjective`
splits the rows into blocks, evaluates them on a thread pool (numpy and BLAS release the
GIL) and adds the results; every other method is the whole problem's. Solvers cannot
tell it from a :class:`~celr._objective.LogisticObjective`.

Same bits whatever the threads: the blocks and the order in which their results are
added depend on the data only (its shape, stored entries, dtype and number of classes),
never on the number of threads or on what runs beside. Blocks are dealt round-robin to
a fixed number of lanes (at most ``MAX_LANES``); a lane adds its blocks' results in
block order, and the lanes' totals are added in lane order. Threads only choose which
lane runs where, so ``n_threads=1`` and ``n_threads=8`` give bitwise the same value,
gradient, Hessian and products, given deterministic products per block (fits run BLAS
with one thread, see :mod:`celr._threads`).

Memory: a lane holds one partial result, not one per block, and the lanes' partial
results together stay within ``max(PARTIAL_SHARE * size of X, two results)``: a Hessian
of 2,000 parameters (32 MB) is summed in two lanes on 20,000 x 2,000 data (320 MB), in
up to ``MAX_LANES`` when it is small next to X.

Measured on 2 cores (value + gradient, one BLAS thread per block): 500,000 x 100
dense, 52 -> 33 ms; 20,000 x 2,000, 17 -> 10 ms. Idle pool threads block instead of
spinning, unlike OpenBLAS's own workers, which is why this beats BLAS threading here.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from celr._columns import shared_last_evaluation
from celr._gram import mirror_upper_triangle
from celr._objective import CoefLayout, LogisticObjective

# Below this many stored entries a block's work is too short to pay for a thread hand-off.
MIN_ENTRIES_PER_BLOCK = 500_000
# Lanes, hence threads that can work on one evaluation. A constant, not the machine's
# core count: the sum's rounding must not depend on where it runs.
MAX_LANES = 8
# Partial results alive at once (one per lane): at most this share of X, or two results.
PARTIAL_SHARE = 0.25
# Per-row temporaries of one evaluation, measured: scores, signs, loss, residual and
# scratch, five to eight float64 values per score.
TEMP_BYTES_PER_SCORE = 64
TEMP_SHARE = 0.02
MIN_TEMP_BYTES = 2 * 2**20


def entry_ranges(indptr: np.ndarray, n_parts: int) -> list[tuple[int, int]]:
    """``n_parts`` consecutive ranges of a CSR or CSC matrix's rows (columns) holding about
    equal numbers of stored entries, from its ``indptr`` (fewer where ranges would be
    empty).

    Examples
    --------
    >>> entry_ranges(np.array([0, 5, 6, 7, 10]), 2)
    [(0, 1), (1, 4)]
    >>> entry_ranges(np.array([0, 0, 0]), 2)  # no entries: one range
    [(0, 2)]
    """
    n_major = len(indptr) - 1
    cuts = np.searchsorted(indptr, np.linspace(indptr[0], indptr[-1], n_parts + 1)[1:-1])
    bounds = np.unique(np.concatenate(([0], cuts, [n_major])))
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds)] or [(0, n_major)]


@functools.cache
def _pool(n_threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="celr")


# A forked child inherits the pool object but not its threads: give it fresh pools.
os.register_at_fork(after_in_child=_pool.cache_clear)


def make_objective(
    X,
    y,
    sample_weight,
    n_classes: int,
    fit_intercept: bool,
    *,
    n_threads: int = 1,
    center_scale: tuple[np.ndarray, np.ndarray] | None = None,
) -> LogisticObjective | RowBlockObjective:
    """The objective for in-memory data, split into row blocks when that pays.

    Blocks serve two ends. Parallelism: up to ``MAX_LANES`` blocks, each of at least
    ``MIN_ENTRIES_PER_BLOCK`` entries. Memory: the per-row temporaries of one evaluation
    (scores, residuals, about ``TEMP_BYTES_PER_SCORE`` per score and row) are bounded per
    block by ``max(TEMP_SHARE * size of X, MIN_TEMP_BYTES)`` (2%, 2 MB), so that a fit's extra
    memory stays a small fraction of X (10 classes on 200,000 x 50: 64 MB of
    temporaries, 80% of X, in one block). CSC is never split (its rows are not
    contiguous). The blocks depend on the data only: ``n_threads`` is the number of
    threads that evaluate them, never how many there are. ``center_scale``: the columns'
    weighted mean and spread, when the caller has computed them with these weights.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.ones((10, 3)); y = np.arange(10) % 2
    >>> type(make_objective(X, y, np.ones(10), 2, True, n_threads=2)).__name__
    'LogisticObjective'
    """
    whole = LogisticObjective(X, y, sample_weight, n_classes, fit_intercept)
    if center_scale is not None:  # computed by the caller, with the same weights
        whole._center_scale = center_scale
    if sp.issparse(X) and X.format != "csr":
        return whole
    n_samples = X.shape[0]
    entries = X.nnz if sp.issparse(X) else n_samples * X.shape[1]
    parallel_blocks = min(MAX_LANES, entries // MIN_ENTRIES_PER_BLOCK)
    temp_bytes = n_samples * whole.n_scores * TEMP_BYTES_PER_SCORE
    memory_blocks = -(-temp_bytes // max(int(TEMP_SHARE * _stored_bytes(X)), MIN_TEMP_BYTES))
    n_blocks = min(max(parallel_blocks, memory_blocks), n_samples)
    if n_blocks < 2:
        return whole
    return RowBlockObjective(whole, n_blocks, n_threads=max(1, n_threads))


class RowBlockObjective(CoefLayout):
    """A :class:`LogisticObjective` evaluated as a sum over row blocks, in threads.

    Blocks are dealt round-robin to lanes; each lane adds its blocks' results in block
    order, the lanes' totals are added in lane order, and threads take whole lanes. The
    result is therefore the same, bit for bit, for every ``n_threads``.

    Parameters
    ----------
    whole : LogisticObjective
        The objective on all rows; methods that are not sums over rows are its own.
    n_blocks : int
        Number of row blocks.
    n_threads : int, optional
        Threads evaluating them (default: one per lane); with one, lanes run in turn.
    """

    def __init__(
        self, whole: LogisticObjective, n_blocks: int, n_threads: int | None = None
    ) -> None:
        super().__init__(whole.n_classes, whole.n_features, whole.fit_intercept)
        self.whole = whole
        self.n_samples, self.weight_sum = whole.n_samples, whole.weight_sum
        self.sparse, self.n_stored = whole.sparse, whole.n_stored
        self.precision = whole.precision
        self.last_evaluation = shared_last_evaluation(
            whole.X, whole.y, whole.normalized_weight,
            ("blocks", n_blocks, whole.n_classes, whole.fit_intercept),
        )  # fmt: skip
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
        # Lanes for vector results (value, gradient, products) and for n_params^2 ones
        # (Hessian, score outer products): from the data alone, never from n_threads.
        x_bytes = _stored_bytes(whole.X)
        self.n_lanes = _n_lanes(len(self.blocks), 8 * whole.n_params, x_bytes)
        self.n_matrix_lanes = _n_lanes(len(self.blocks), 8 * whole.n_params**2, x_bytes)
        self.n_threads = self.n_lanes if n_threads is None else n_threads
        workers = min(self.n_threads, self.n_lanes)
        self._pool = _pool(workers) if workers > 1 else None
        self._subsamples: dict[int, LogisticObjective | RowBlockObjective] = {}

    # -- not sums over blocks: the whole problem's -----------------------------------------
    def feature_center_scale(self) -> tuple[np.ndarray, np.ndarray]:
        return self.whole.feature_center_scale()

    def feature_mean(self) -> np.ndarray:
        return self.whole.feature_mean()

    def class_share(self) -> np.ndarray:
        return self.whole.class_share()

    def gradient_error_bound(self, coef: np.ndarray) -> np.ndarray:
        return self.whole.gradient_error_bound(coef)

    def minibatches(
        self, batch_size: int, rng: np.random.RandomState
    ) -> Iterator[LogisticObjective]:
        return self.whole.minibatches(batch_size, rng)

    def csr_binary_rows(self) -> tuple | None:
        return self.whole.csr_binary_rows()

    def csc_binary_columns(self) -> tuple | None:
        return self.whole.csc_binary_columns()

    def expected_smoothness(
        self, center: np.ndarray, scale: np.ndarray, batch_size: int, n_total: float
    ) -> float:
        return self.whole.expected_smoothness(center, scale, batch_size, n_total)

    def find_separation(self, coef: np.ndarray, feature_names: list[str], **options):
        return self.whole.find_separation(coef, feature_names, **options)

    def _run(self, tasks: list) -> list:
        """Call every task (no arguments), on the pool when there is one."""
        if self._pool is None:
            return [task() for task in tasks]
        calls = [self._pool.submit(task) for task in tasks]
        return [call.result() for call in calls]

    def _lanes_total(self, lane_total: Callable[[int], object], n_lanes: int):
        """``lane_total(0) + lane_total(1) + ...``, added in lane order, lanes in threads.

        Totals are added as they arrive in lane order, so that only the lanes running or
        done but not yet added hold a partial result (a Hessian, a gradient).
        """
        lanes = range(min(n_lanes, len(self.blocks)))
        if self._pool is None:
            return functools.reduce(_add, (lane_total(lane) for lane in lanes))
        calls = [self._pool.submit(lane_total, lane) for lane in lanes]
        return functools.reduce(_add, (call.result() for call in calls))

    def _sum(self, items: list, call: Callable, n_lanes: int):
        """``sum(call(item) for item in items)``, in the lanes' order of addition."""

        def lane_total(lane: int):
            total = None
            for item in items[lane::n_lanes]:
                total = _add(total, call(item))
            return total

        return self._lanes_total(lane_total, n_lanes)

    def value(self, coef: np.ndarray) -> float:
        known = self.last_evaluation.recall(coef)
        if known is not None:
            return known
        return float(self._sum(self.blocks, lambda block: block.value(coef), self.n_lanes))

    def value_grad(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        known = self.last_evaluation.recall_with_grad(coef)
        if known is not None:
            return known
        value, grad = self._sum(self.blocks, lambda block: block.value_grad(coef), self.n_lanes)
        self.last_evaluation.remember(coef, value, grad)
        return float(value), grad

    def hessp_at(self, coef: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        products = self._run([functools.partial(block.hessp_at, coef) for block in self.blocks])
        return lambda vector: self._sum(products, lambda product: product(vector), self.n_lanes)

    def hessian(
        self,
        coef: np.ndarray,
        column_scale: np.ndarray | None = None,
        *,
        working_precision: bool = False,
    ) -> np.ndarray:
        n_lanes = self.n_matrix_lanes

        def lane_hessian(lane: int) -> np.ndarray:
            hess = np.zeros((self.whole.n_params,) * 2, order="F")
            for block in self.blocks[lane::n_lanes]:
                block.accumulate_hessian(coef, column_scale, hess, working_precision)
            return hess

        hess = self._lanes_total(lane_hessian, n_lanes)
        mirror_upper_triangle(hess)
        return hess

    def hessian_diag(self, coef: np.ndarray) -> np.ndarray:
        return self._sum(self.blocks, lambda block: block.hessian_diag(coef), self.n_lanes)

    def score_outer(self, coef: np.ndarray, column_scale: np.ndarray | None = None) -> np.ndarray:
        return self._sum(
            self.blocks,
            lambda block: block.score_outer(coef, column_scale),
            self.n_matrix_lanes,
        )

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


def _n_lanes(n_blocks: int, part_bytes: int, x_bytes: int) -> int:
    """Lanes for partial results of ``part_bytes`` each: at most ``MAX_LANES`` (and
    blocks), holding together at most ``PARTIAL_SHARE`` of X's bytes, or two results."""
    by_memory = max(2, int(PARTIAL_SHARE * x_bytes) // max(part_bytes, 1))
    return max(1, min(n_blocks, MAX_LANES, by_memory))


def _stored_bytes(X) -> int:
    """Bytes of X's values (its stored entries for sparse X)."""
    return X.data.nbytes if sp.issparse(X) else X.nbytes


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
