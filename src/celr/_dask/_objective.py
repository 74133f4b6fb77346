"""celr's objective on rows partitioned across a Dask cluster.

The objective is a sum over rows (DESIGN.md, "Objective -> data"), so its value,
gradient, Hessian, Hessian-vector products and column statistics are sums of the same
quantities over row chunks. :class:`DaskObjective` wraps each persisted chunk as an
in-memory :class:`~celr._objective.LogisticObjective` on the worker that holds it (the
weights are normalised by the whole sum already), calls the method there, and adds the
coefficient-sized results up with Dask's own tree reduction. Only those results reach the
client; solvers cannot tell it from an in-memory objective.

Whatever scheduler is active computes: a ``distributed.Client`` when one is the default,
the local threaded scheduler otherwise. A chunk lost with a worker is recomputed from its
graph by the scheduler, as for any Dask computation.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import dask
import dask.array as da
import numpy as np

from celr._column_stats import _centered_square_mean, column_scale
from celr._curvature import STEP_SAMPLE_ROWS, mini_batch_smoothness
from celr._objective import CoefLayout, LogisticObjective
from celr._separation import Separation, lone_separators, margins


class DaskObjective(CoefLayout):
    """Mean weighted cross-entropy of a linear model on persisted Dask arrays.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        float32 or float64, chunked along rows only (one chunk spans all columns),
        persisted.
    y : dask.array.Array of shape (n_samples,)
        Integer class codes, chunked like X's rows.
    normalized_weight : dask.array.Array of shape (n_samples,)
        Row weights divided by their sum ``S`` (float64), chunked like X's rows.
    n_classes : int
        Number of classes ``K >= 2``.
    fit_intercept : bool
        Whether the model has an (unpenalised) intercept per score.
    weight_sum : float
        ``S``, the sum of the row weights before normalising.
    class_share : ndarray of shape (n_classes,)
        Share of the total weight carried by each class.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> X = da.from_array(np.eye(4), chunks=(3, 4))
    >>> y = da.from_array(np.array([0, 1, 0, 1]), chunks=3)
    >>> w = da.full(4, 0.25, chunks=3)
    >>> obj = DaskObjective(X, y, w, 2, True, weight_sum=4.0, class_share=np.array([0.5, 0.5]))
    >>> round(obj.value(np.zeros(5)), 4)  # log(2), summed over two chunks
    0.6931
    """

    def __init__(
        self,
        X: da.Array,
        y: da.Array,
        normalized_weight: da.Array,
        n_classes: int,
        fit_intercept: bool,
        *,
        weight_sum: float,
        class_share: np.ndarray,
    ) -> None:
        self.X = X
        self.y = y
        self.normalized_weight = normalized_weight
        self.weight_sum = float(weight_sum)
        self._class_share = np.asarray(class_share, dtype=np.float64)
        super().__init__(n_classes, X.shape[1], fit_intercept)
        self.n_samples = X.shape[0]
        self.sparse, self.n_stored = False, int(X.shape[0]) * int(X.shape[1])
        self.precision = float(np.finfo(X.dtype).eps)
        # A row subsample takes every stride-th row of each chunk; its blocks normalise
        # their weights by the subsample's own sum.
        self._stride = 1
        self._block_weight_sum = 1.0
        self._center_scale: tuple[np.ndarray, np.ndarray] | None = None
        self._mean: np.ndarray | None = None
        self._subsamples: dict[int, DaskObjective] = {}

    # -- the one way to touch the rows ----------------------------------------------------
    def _reduce(self, call: Callable, size: int, *args, how: str = "sum") -> np.ndarray:
        """``call(chunk_objective, *args)`` on every row chunk, added up (or maxed) on the
        cluster: a float64 vector of ``size`` entries, the only thing the client receives."""
        per_chunk = da.blockwise(
            _on_chunk, "ik",
            self.X, "ij", self.y, "i", self.normalized_weight, "i",
            new_axes={"k": size},
            adjust_chunks={"i": 1},
            concatenate=True,
            dtype=np.float64,
            meta=np.empty((0, 0)),
            call=call,
            args=args,
            layout=(self.n_classes, self.fit_intercept, self._stride, self._block_weight_sum),
        )  # fmt: skip
        reduced = per_chunk.sum(axis=0) if how == "sum" else per_chunk.max(axis=0)
        # A private, writable copy: solvers update Hessians in place.
        return np.array(reduced.compute(), dtype=np.float64)

    # -- value and derivatives ------------------------------------------------------------
    def value(self, coef: np.ndarray) -> float:
        """Mean weighted cross-entropy ``f_data`` at ``coef``."""
        return float(self._reduce(operator.methodcaller("value", coef), 1)[0])

    def value_grad(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        """``f_data`` and its gradient, in one pass over the chunks."""
        result = self._reduce(operator.methodcaller("value_grad", coef), 1 + self.n_params)
        return float(result[0]), result[1:]

    def hessp_at(self, coef: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """Return ``v -> H v``; each product is one pass over the chunks.

        The chunks recompute their curvature at ``coef`` in every product (one more
        product with X than in memory) rather than keep n-sized state on the workers.
        """
        return lambda vector: self._reduce(_hessp, self.n_params, coef, vector)

    def hessian(
        self,
        coef: np.ndarray,
        column_scale: np.ndarray | None = None,
        *,
        working_precision: bool = False,
    ) -> np.ndarray:
        """The full Hessian of ``f_data`` (see :meth:`LogisticObjective.hessian`)."""
        p = self.n_params
        call = operator.methodcaller("hessian", coef, column_scale)
        return self._reduce(call, p * p).reshape(p, p)

    def score_outer(self, coef: np.ndarray, column_scale: np.ndarray | None = None) -> np.ndarray:
        """``sum_i (s_i / S) g_i g_i^T`` (see :meth:`LogisticObjective.score_outer`)."""
        p = self.n_params
        call = operator.methodcaller("score_outer", coef, column_scale)
        return self._reduce(call, p * p).reshape(p, p)

    def hessian_diag(self, coef: np.ndarray) -> np.ndarray:
        """Diagonal of the Hessian of ``f_data``."""
        return self._reduce(operator.methodcaller("hessian_diag", coef), self.n_params)

    # -- what solvers and inference need besides ------------------------------------------
    def class_share(self) -> np.ndarray:
        """Share of the total weight carried by each class (computed when the data were)."""
        return self._class_share

    def feature_center_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """Weighted centre and spread of every column, as in memory (two passes, cached)."""
        if self._center_scale is None:
            d = self.n_features
            center = np.zeros(d)
            if self.fit_intercept:
                center = self._reduce(_weighted_column_sum, d)

            def max_abs() -> np.ndarray:  # a third pass, only for features beyond 1e+-150
                largest = self._reduce(_column_max_abs, d, how="max")
                return np.where(largest > 0, largest, 1.0)

            scale = column_scale(
                center,
                np.full(d, self.n_samples),
                lambda unit: self._reduce(_centered_square_sum, d, center, unit),
                max_abs,
            )
            self._center_scale = (center, scale)
        return self._center_scale

    def feature_mean(self) -> np.ndarray:
        """Weighted mean of every column: one pass (cached)."""
        if self.fit_intercept:
            return self.feature_center_scale()[0]
        if self._mean is None:
            self._mean = self._reduce(_weighted_column_sum, self.n_features)
        return self._mean

    def row_subsample(self, stride: int) -> DaskObjective:
        """The same objective on every ``stride``-th row of each chunk (weights renormalised).

        Nothing is copied: the chunks are read with a stride where they are.
        """
        if stride <= 1:
            return self
        if stride not in self._subsamples:
            sub = copy.copy(self)
            sub._stride, sub._subsamples = stride, {}
            sub._block_weight_sum = float(sub._reduce(_weight_total, 1)[0])
            sub.n_samples = sum(-(-int(rows) // stride) for rows in self.X.chunks[0])
            self._subsamples[stride] = sub
        return self._subsamples[stride]

    # -- SGD: rows brought to the client one chunk at a time ------------------------------
    def minibatches(
        self, batch_size: int, rng: np.random.RandomState
    ) -> Iterator[LogisticObjective]:
        """One pass in mini-batches (:class:`celr.solvers._protocol.Objective`): the chunks
        in a shuffled order, each fetched to the client and shuffled there.

        Only one chunk is in the client's memory at a time; a batch does not span two
        chunks (a chunk's last batch is short, and SGD shortens its step to match).
        """
        for index in rng.permutation(self.X.numblocks[0]):
            X, y, weight = dask.compute(
                self.X.blocks[index], self.y.blocks[index], self.normalized_weight.blocks[index]
            )
            # Weights s_i / S rescaled so that the chunk's own s_i / s_bar are the whole's.
            scale = self.n_samples / max(len(y), 1)
            chunk = LogisticObjective(
                X, y, weight * scale, self.n_classes, self.fit_intercept, weight_sum=1.0
            )
            yield from chunk.minibatches(batch_size, rng)

    def csr_binary_rows(self) -> None:
        """None: a pass fetches one chunk at a time (:meth:`minibatches`)."""
        return None

    def csc_binary_columns(self) -> None:
        """None: the columns are spread over the chunks."""
        return None

    def expected_smoothness(
        self, center: np.ndarray, scale: np.ndarray, batch_size: int, n_total: float
    ) -> float:
        """:func:`celr._curvature.mini_batch_smoothness` from the first rows, fetched."""
        rows = slice(0, min(self.n_samples, STEP_SAMPLE_ROWS))
        X, weight = dask.compute(self.X[rows], self.normalized_weight[rows])
        return mini_batch_smoothness(
            X, weight, n_scores=self.n_scores, fit_intercept=self.fit_intercept,
            center=center, scale=scale, batch_size=batch_size, n_total=n_total,
        )  # fmt: skip

    def find_separation(
        self, coef: np.ndarray, feature_names: list[str], **lp_options
    ) -> Separation | None:
        """Complete separation, proven by ``coef`` and named by the features that separate
        alone; see :func:`celr._separation.find_separation`.

        Quasi-complete separation is not searched (``lp_options`` are unused): that takes
        a linear program over all rows, which celr solves only in memory.
        """
        lowest_margin = -self._reduce(_negated_lowest_margin, 1, coef, how="max")[0]
        if not lowest_margin > 0:
            return None
        # Every class's lowest and highest value of each feature: the extremes of all rows
        # are the extremes of the chunks' extremes, so the lone separators of these 2K rows
        # are those of all rows.
        K, d = self.n_classes, self.n_features
        extremes = self._reduce(_class_ranges, 2 * K * d, how="max").reshape(2, K, d)
        summary = SimpleNamespace(
            X=np.vstack([-extremes[0], extremes[1]]),
            y=np.tile(np.arange(K), 2),
            normalized_weight=np.ones(2 * K),
            n_classes=K,
            n_features=d,
        )
        alone = lone_separators(summary)
        return Separation(
            complete=True, features=tuple(feature_names[j] for j in alone), alone=True
        )


# -- what runs on the workers, one row chunk at a time ------------------------------------
def _on_chunk(X, y, weight, *, call, args, layout) -> np.ndarray:
    """One chunk as an in-memory objective, ``call`` on it, the result as one flat row."""
    n_classes, fit_intercept, stride, weight_sum = layout
    rows = slice(None, None, stride)
    chunk = LogisticObjective(
        X[rows], y[rows], weight[rows], n_classes, fit_intercept, weight_sum=weight_sum
    )
    result = call(chunk, *args)
    parts = result if isinstance(result, tuple) else (result,)
    return np.concatenate([np.ravel(np.asarray(part, dtype=np.float64)) for part in parts])[
        None, :
    ]


def _hessp(chunk: LogisticObjective, coef: np.ndarray, vector: np.ndarray) -> np.ndarray:
    return chunk.hessp_at(coef)(vector)


def _weight_total(chunk: LogisticObjective) -> float:
    return chunk.normalized_weight.sum()


def _weighted_column_sum(chunk: LogisticObjective) -> np.ndarray:
    # As weighted_center_scale does in memory: the product in X's dtype.
    return chunk.normalized_weight.astype(chunk.X.dtype) @ chunk.X


def _centered_square_sum(chunk: LogisticObjective, center, unit) -> np.ndarray:
    return _centered_square_mean(chunk.X, chunk.normalized_weight, center, unit, None)


def _column_max_abs(chunk: LogisticObjective) -> np.ndarray:
    return np.abs(chunk.X).max(axis=0, initial=0.0)


def _negated_lowest_margin(chunk: LogisticObjective, coef: np.ndarray) -> float:
    counted = chunk.normalized_weight > 0
    fitted = margins(chunk.scores(coef), chunk.y)[counted]
    return -np.min(fitted, initial=np.inf)


def _class_ranges(chunk: LogisticObjective) -> np.ndarray:
    """Minus the lowest and the highest value of every feature in each class's counted rows
    (``-inf`` for a class without such rows): shape (2, K, d), to be maxed over chunks."""
    counted = chunk.normalized_weight > 0
    ranges = np.full((2, chunk.n_classes, chunk.n_features), -np.inf)
    for k in range(chunk.n_classes):
        rows = chunk.X[counted & (chunk.y == k)]
        if len(rows):
            ranges[0, k] = -rows.min(axis=0)
            ranges[1, k] = rows.max(axis=0)
    return ranges
