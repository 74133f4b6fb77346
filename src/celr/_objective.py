"""The data term of celr's objective for in-memory data (numpy arrays or scipy.sparse).

For rows ``x_i`` with labels ``y_i`` and weights ``s_i`` (``S = sum_i s_i``)::

    f_data(W, b) = (1/S) sum_i s_i L_CE(x_i, y_i; W, b)

with ``L_CE`` the binary cross-entropy of eq. 5.24 (one score ``z = w . x + b``) for two
classes, and ``-log softmax(z)_y`` for ``K > 2`` classes (``K`` scores). The penalty
``(1/(C S)) * penalty(W)`` lives in :mod:`celr._penalty`; solvers add the two.

Coefficient layout: one flat vector, class-major, intercept last, i.e. the C-order
ravel of an array of shape ``(n_scores, n_features + fit_intercept)`` where
``n_scores`` is 1 for two classes and ``K`` otherwise.

Every data-dependent operation is a product with ``X`` (scores ``X @ W.T``, gradients
``X.T @ R``) or a weighted Gram matrix built in bounded row chunks, so ``X`` is never
copied, densified, centred or augmented with a column of ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

import numpy as np
import scipy.sparse as sp

from celr._column_stats import csr_center_scale_and_mean, entry_chunks, weighted_center_scale
from celr._columns import center_scale_of, columns_of, shared_last_evaluation
from celr._curvature import STEP_SAMPLE_ROWS, mini_batch_smoothness
from celr._fused import kernel_rows, kernel_value, kernel_value_grad
from celr._gram import GramMatrices
from celr._loss import (
    binary_hessian_weight,
    binary_loss_and_residual,
    multinomial_loss_and_residual,
    softmax,
)


class CoefLayout:
    """The flat coefficient layout: ``(n_scores, n_features + fit_intercept)``, C order.

    Parameters
    ----------
    n_classes : int
        Number of classes ``K >= 2``; two classes have one score, ``K > 2`` have ``K``.
    n_features : int
        Number of features.
    fit_intercept : bool
        Whether each score has an intercept (stored last in its row).

    Examples
    --------
    >>> layout = CoefLayout(3, 2, True)
    >>> layout.n_params
    9
    >>> layout.unpack(layout.pack([[1, 2]] * 3, [7, 8, 9]))[1].tolist()
    [7.0, 8.0, 9.0]
    """

    def __init__(self, n_classes: int, n_features: int, fit_intercept: bool) -> None:
        self.n_classes = int(n_classes)
        self.n_features = int(n_features)
        self.fit_intercept = bool(fit_intercept)
        self.n_scores = 1 if self.n_classes == 2 else self.n_classes
        self.n_params = self.n_scores * (self.n_features + self.fit_intercept)

    # -- layout ---------------------------------------------------------------------------
    def unpack(self, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split a flat vector into ``W`` (n_scores, n_features) and ``b`` (n_scores,)."""
        table = coef.reshape(self.n_scores, self.n_features + self.fit_intercept)
        weights = table[:, : self.n_features]
        intercept = table[:, -1] if self.fit_intercept else np.zeros(self.n_scores)
        return weights, intercept

    def pack(self, weights: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`unpack`; the intercept is dropped without ``fit_intercept``."""
        # Filled in place, not np.hstack: this runs once per SGD mini-batch.
        table = np.empty((self.n_scores, self.n_features + self.fit_intercept))
        table[:, : self.n_features] = np.reshape(weights, (self.n_scores, self.n_features))
        if self.fit_intercept:
            table[:, -1] = intercept
        return table.ravel()

    def remove_invariant(self, vector: np.ndarray) -> np.ndarray:
        """Project out the directions along which the objective is flat by construction.

        Softmax is unchanged when the same vector is added to every class's scores, so for
        K classes the data term is constant along ``W_k += c, b_k += c0`` for all k. The
        projection subtracts the class mean of every column; for two classes it is the
        identity.
        """
        if self.n_scores == 1:
            return vector
        table = vector.reshape(self.n_scores, -1)
        return (table - table.mean(axis=0)).ravel()

    # -- softmax's shift invariance -------------------------------------------------------
    def invariant_projector(self) -> np.ndarray | None:
        """Dense projector onto the flat directions of :meth:`remove_invariant`, or None."""
        if self.n_scores == 1:
            return None
        width = self.n_features + self.fit_intercept
        blocks = np.full((self.n_scores, self.n_scores), 1.0 / self.n_scores)
        return np.kron(blocks, np.eye(width))

    def add_invariant_curvature(self, hess: np.ndarray, amount: float) -> None:
        """``hess += amount * invariant_projector()``, in place, without building it."""
        if self.n_scores == 1:
            return
        width = self.n_features + self.fit_intercept
        offsets = np.arange(self.n_scores) * width
        rows = (offsets[:, None, None] + np.arange(width)).repeat(self.n_scores, axis=1)
        cols = (offsets[None, :, None] + np.arange(width)).repeat(self.n_scores, axis=0)
        hess[rows, cols] += amount / self.n_scores


class LogisticObjective(GramMatrices, CoefLayout):
    """Mean weighted cross-entropy of a linear model on in-memory data.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        float32 or float64; products are done in this dtype, reductions in float64.
    y : ndarray of shape (n_samples,)
        Integer class codes in ``[0, n_classes)``.
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights ``s_i`` with a positive sum.
    n_classes : int
        Number of classes ``K >= 2``.
    fit_intercept : bool
        Whether the model has an (unpenalised) intercept per score.
    weight_sum : float, optional
        Normaliser ``S``; by default ``sum(sample_weight)``. Row blocks of a larger
        problem pass the whole problem's sum.

    Examples
    --------
    >>> import numpy as np
    >>> obj = LogisticObjective(np.eye(2), np.array([0, 1]), np.ones(2), 2, True)
    >>> obj.n_params
    3
    >>> round(obj.value(np.zeros(3)), 4)  # log(2): both probabilities are 1/2
    0.6931
    """

    def __init__(
        self,
        X: np.ndarray | sp.sparray | sp.spmatrix,
        y: np.ndarray,
        sample_weight: np.ndarray,
        n_classes: int,
        fit_intercept: bool,
        *,
        weight_sum: float | None = None,
    ) -> None:
        self.X = X
        self.X_T = transpose_view(X)
        self.y = np.asarray(y, dtype=np.intp)
        # A row block of a larger problem normalises by the whole problem's weight sum, so
        # that the blocks' values and gradients add up to the whole one's.
        self.weight_sum = float(np.sum(sample_weight)) if weight_sum is None else weight_sum
        self.normalized_weight = np.asarray(sample_weight, dtype=np.float64)
        if self.weight_sum != 1.0:  # blocks pass views of weights normalised already
            self.normalized_weight = self.normalized_weight / self.weight_sum
        super().__init__(n_classes, X.shape[1], fit_intercept)
        self.n_samples = X.shape[0]
        self.sparse = sp.issparse(X)
        self.n_stored = int(X.nnz) if self.sparse else self.n_samples * self.n_features
        self._center_scale: tuple[np.ndarray, np.ndarray] | None = None
        self._mean: np.ndarray | None = None
        self._csr_rows: tuple | None = None
        self._csc_columns: tuple | None = None
        self._subsamples: dict[int, LogisticObjective] = {}
        self._kernel_rows = kernel_rows(X)
        # Row blocks and mini-batches (given their whole problem's weight sum) are parts:
        # the whole problem's objective remembers its evaluations, not each part.
        self.last_evaluation = (
            shared_last_evaluation(
                X, self.y, self.normalized_weight, ("whole", n_classes, fit_intercept)
            )
            if weight_sum is None
            else None
        )
        # Relative precision of a value computed from products in X's dtype.
        self.precision = float(np.finfo(X.dtype).eps)

    def row_subsample(self, stride: int) -> LogisticObjective:
        """The same objective on every ``stride``-th row (weights renormalised).

        Its curvature estimates this objective's curvature at ``1/stride`` of the cost;
        dense X is a strided view, not a copy.
        """
        if stride <= 1:
            return self
        sub = self._subsamples.get(stride)
        if sub is None:
            sub = LogisticObjective(
                self.X[::stride],
                self.y[::stride],
                self.normalized_weight[::stride],
                self.n_classes,
                self.fit_intercept,
            )
            sub._center_scale = self._center_scale
            sub._mean = self._mean
            self._subsamples[stride] = sub
        return sub

    def class_share(self) -> np.ndarray:
        """Share of the total weight carried by each class, shape (n_classes,)."""
        return np.bincount(self.y, weights=self.normalized_weight, minlength=self.n_classes)

    # -- what SGD and its step rule read of the rows -------------------------------------
    def minibatches(
        self, batch_size: int, rng: np.random.RandomState
    ) -> Iterator[LogisticObjective]:
        """One shuffled pass in mini-batches: see :class:`celr.solvers._protocol.Objective`.

        Each batch's weights are ``s_i / s_bar`` pre-divided by its rows, so its value and
        gradient are the batch mean of ``(s_i / s_bar) L_CE`` without a further division.
        """
        order = rng.permutation(self.n_samples)
        relative = self.normalized_weight * self.n_samples
        # ndarray.take gathers rows 2x faster than fancy indexing (200,000 x 50: 7 vs 16 ms
        # per epoch); sparse matrices have only indexing.
        gather = self.X.__getitem__ if sp.issparse(self.X) else partial(self.X.take, axis=0)
        for start in range(0, self.n_samples, batch_size):
            rows = order[start : start + batch_size]
            yield LogisticObjective(
                gather(rows), self.y.take(rows), relative.take(rows) / len(rows),
                self.n_classes, self.fit_intercept, weight_sum=1.0,
            )  # fmt: skip

    def csr_binary_rows(self) -> tuple | None:
        """See :class:`celr.solvers._protocol.Objective`: CSR rows of two classes."""
        if self.n_scores != 1 or not sp.issparse(self.X) or self.X.format != "csr":
            return None
        parts = (self.X.data, self.X.indices, self.X.indptr)
        # The compiled pass takes contiguous parts with one index type; anything else (a
        # hand-built matrix) keeps numpy's pass rather than being copied.
        if self.X.indices.dtype != self.X.indptr.dtype or not all(
            part.flags.c_contiguous for part in parts
        ):
            return None
        if self._csr_rows is None:
            relative = self.normalized_weight * self.n_samples
            self._csr_rows = (self.X, self.y.astype(np.float64), relative)
        return self._csr_rows

    def csc_binary_columns(self) -> tuple | None:
        """See :class:`celr.solvers._protocol.Objective`: CSC columns of two classes."""
        if self.n_scores != 1 or not sp.issparse(self.X):
            return None
        if self._csc_columns is None:
            X = columns_of(self.X)
            self._csc_columns = (X, self.y.astype(np.float64), self.normalized_weight)
        return self._csc_columns

    def expected_smoothness(
        self, center: np.ndarray, scale: np.ndarray, batch_size: int, n_total: float
    ) -> float:
        """:func:`celr._curvature.mini_batch_smoothness` from the first rows."""
        rows = slice(0, min(self.n_samples, STEP_SAMPLE_ROWS))
        return mini_batch_smoothness(
            self.X[rows], self.normalized_weight[rows], n_scores=self.n_scores,
            fit_intercept=self.fit_intercept, center=center, scale=scale,
            batch_size=batch_size, n_total=n_total,
        )  # fmt: skip

    def find_separation(self, coef: np.ndarray, feature_names: list[str], **options):
        """:func:`celr._separation.search_rows` on these rows."""
        from celr._separation import search_rows  # _separation reads objectives' rows

        return search_rows(self, coef, feature_names, **options)

    # -- products with X ------------------------------------------------------------------
    def scores(self, coef: np.ndarray) -> np.ndarray:
        """Scores ``X @ W.T + b`` in float64: shape (n,) for two classes, (n, K) else."""
        weights, intercept = self.unpack(coef)
        if not weights.any():
            # A cold start (no weights, or the intercepts alone): X's product is zero (X
            # is finite by now), and half of the first evaluation's pass over X.
            z = np.zeros((self.n_samples, self.n_scores))
            z += intercept
            return z[:, 0] if self.n_scores == 1 else z
        z = self.X @ weights.T.astype(self.X.dtype, copy=False)
        z = np.asarray(z, dtype=np.float64)
        z += intercept
        return z[:, 0] if self.n_scores == 1 else z

    def _gradient_from_residual(self, residual: np.ndarray) -> np.ndarray:
        """Flat gradient from per-sample score derivatives already multiplied by weight."""
        r2d = residual.reshape(self.n_samples, self.n_scores)
        grad_w = self.X_T @ r2d.astype(self.X.dtype, copy=False)
        grad_w = np.asarray(grad_w, dtype=np.float64).T
        return self.pack(grad_w, r2d.sum(axis=0))

    # -- value and derivatives ------------------------------------------------------------
    def _pointwise(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.pointwise_of(z, slice(None))

    def pointwise_of(self, z: np.ndarray, rows: slice) -> tuple[np.ndarray, np.ndarray]:
        """Per-row loss and residual ``dL/dz`` of the scores ``z`` of ``rows``."""
        if self.n_scores == 1:
            return binary_loss_and_residual(z, self.y[rows])
        return multinomial_loss_and_residual(z, self.y[rows])

    def value(self, coef: np.ndarray) -> float:
        """Mean weighted cross-entropy ``f_data`` at ``coef``."""
        known = None if self.last_evaluation is None else self.last_evaluation.recall(coef)
        if known is not None:
            return known
        if self._kernel_rows is not None:
            return kernel_value(self, coef, self._kernel_rows)
        loss, _ = self._pointwise(self.scores(coef))
        return float(loss @ self.normalized_weight)

    def value_grad(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        """``f_data`` and its gradient: ``(1/S) sum_i s_i (sigma(z_i) - y_i) x_i`` (binary).

        This is the textbook's gradient ``(sigma(w . x + b) - y) x_j`` averaged with the
        weights; for K classes the residual is ``softmax(z) - onehot(y)``. Dense rows are
        read once, in cache-sized chunks (:mod:`celr._fused`).
        """
        known = (
            None if self.last_evaluation is None else self.last_evaluation.recall_with_grad(coef)
        )
        if known is not None:
            return known
        if self._kernel_rows is not None:
            value, grad = kernel_value_grad(self, coef, self._kernel_rows)
        else:
            loss, residual = self._pointwise(self.scores(coef))
            value = float(loss @ self.normalized_weight)
            residual *= (
                self.normalized_weight if residual.ndim == 1 else self.normalized_weight[:, None]
            )
            grad = self._gradient_from_residual(residual)
        if self.last_evaluation is not None:
            self.last_evaluation.remember(coef, value, grad)
        return value, grad

    def gradient_error_bound(self, coef: np.ndarray) -> np.ndarray:
        """A bound on the rounding error of :meth:`value_grad`'s gradient, per entry.

        Entry ``j`` of the gradient is a sum of ``n`` products ``s_i r_i x_ij / S``; the
        residuals ``r_i`` are correct to a few units of rounding. Summed in any order
        (any BLAS kernel), the computed value is within
        ``(n + 4) u sum_i |s_i r_i x_ij| / S`` of the exact one (Higham, *Accuracy and
        Stability of Numerical Algorithms*, eq. 3.5), ``u`` the precision of X's dtype.
        A gradient entry below its bound is zero as far as the arithmetic can tell.

        Examples
        --------
        >>> import numpy as np
        >>> X, y = np.full((4, 1), 2.5), np.array([0, 1, 0, 1])
        >>> obj = LogisticObjective(X, y, np.ones(4), 2, True)
        >>> grad, bound = obj.value_grad(np.zeros(2))[1], obj.gradient_error_bound(np.zeros(2))
        >>> bool(np.all(np.abs(grad) <= bound))
        True
        """
        _, residual = self._pointwise(self.scores(coef))
        np.abs(residual, out=residual)
        residual *= (
            self.normalized_weight if residual.ndim == 1 else self.normalized_weight[:, None]
        )
        r2d = residual.reshape(self.n_samples, self.n_scores)
        if sp.issparse(self.X):
            # Stored entries read in place, as in hessian_diag: abs(X) would copy X.
            products = np.zeros((self.n_scores, self.n_features))
            for rows, cols, values in entry_chunks(self.X):
                for k in range(self.n_scores):
                    products[k] += np.bincount(
                        cols, r2d[rows, k] * np.abs(values), minlength=self.n_features
                    )
        else:
            products = np.zeros((self.n_scores, self.n_features))
            for rows in self._row_slices(8 * self.n_features):
                products += r2d[rows].T @ np.abs(np.asarray(self.X[rows], dtype=np.float64))
        terms = self.pack(products, r2d.sum(axis=0))
        return (self.n_samples + 4) * self.precision * terms

    def hessp_at(self, coef: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """Return ``v -> H v``, the Hessian of ``f_data`` at ``coef`` times a vector.

        The curvature weights (``s_i sigma(z_i)(1 - sigma(z_i)) / S``, or the softmax
        Jacobian for K classes) are computed once; each product then costs one ``X @ V``
        and one ``X.T @ T``.
        """
        z = self.scores(coef)
        if self.n_scores == 1:
            curvature = binary_hessian_weight(z) * self.normalized_weight

            def hessp(vector: np.ndarray) -> np.ndarray:
                return self._gradient_from_residual(curvature * self.scores(vector))

            return hessp

        proba = softmax(z)
        weight = self.normalized_weight[:, None]

        def hessp_multinomial(vector: np.ndarray) -> np.ndarray:
            zv = self.scores(vector)
            zv -= np.einsum("ik,ik->i", proba, zv)[:, None]
            zv *= proba
            zv *= weight
            return self._gradient_from_residual(zv)

        return hessp_multinomial

    def hessian_diag(self, coef: np.ndarray) -> np.ndarray:
        """Diagonal of the Hessian of ``f_data`` (a Jacobi preconditioner for CG)."""
        z = self.scores(coef)
        if self.n_scores == 1:
            curvature = (binary_hessian_weight(z) * self.normalized_weight)[:, None]
        else:
            proba = softmax(z)
            curvature = proba * (1.0 - proba) * self.normalized_weight[:, None]
        diag_w = np.zeros((self.n_scores, self.n_features))
        if sp.issparse(self.X):
            # Stored entries read in place: squaring a sparse X would copy all of it.
            for rows, cols, values in entry_chunks(self.X):
                for k in range(self.n_scores):
                    diag_w[k] += np.bincount(
                        cols, curvature[rows, k] * values**2, minlength=self.n_features
                    )
        else:
            for rows in self._row_slices(8 * self.n_features):
                chunk = np.asarray(self.X[rows], dtype=np.float64)
                diag_w += curvature[rows].T @ (chunk * chunk)
        return self.pack(diag_w, curvature.sum(axis=0))

    def feature_center_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """Weighted centre and spread of every column: how a solver standardises implicitly.

        With an intercept: the weighted mean and standard deviation. Without: zero and the
        root mean square (an intercept is needed to absorb a centring). Constant columns
        get scale 1. Computed once (see :mod:`celr._column_stats`) and cached.
        """
        if self._center_scale is None:
            self._center_scale = center_scale_of(
                self.X, self.normalized_weight, self.fit_intercept, self._read_center_scale
            )  # fmt: skip
        return self._center_scale

    def _read_center_scale(self) -> tuple[np.ndarray, np.ndarray]:
        if sp.issparse(self.X) and self.X.format == "csr":
            # The same read gives the means, which a fit without intercept needs too.
            center, scale, mean = csr_center_scale_and_mean(
                self.X, self.normalized_weight, self.fit_intercept
            )
            if self._mean is None:
                self._mean = mean
            return center, scale
        return weighted_center_scale(self.X, self.normalized_weight, self.fit_intercept)

    def feature_mean(self) -> np.ndarray:
        """Weighted mean of every column, with or without an intercept (cached): the
        direction a fit without intercept is ill-conditioned along (see
        :class:`celr.solvers._coordinates.MeanWhitenedCoordinates`)."""
        if self.fit_intercept:
            return self.feature_center_scale()[0]
        if self._mean is None:
            self.feature_center_scale()  # CSR: its read gives the means as well
        if self._mean is None:
            # Bounded by the column maximum: a weighted mean cannot overflow.
            weight = self.normalized_weight.astype(self.X.dtype)
            self._mean = np.asarray(weight @ self.X, dtype=np.float64).ravel()
        return self._mean


class LastEvaluation:
    """The value (and gradient) of ``f_data`` at the coefficients evaluated last.

    A fit ends at a point its solver has just evaluated, and the log-likelihood recorded
    there (:func:`celr._inference.likelihood`) is that value: remembered, it costs no pass
    over X (200,000 x 2^18 text: 38 ms of a 0.8 s fit). The next fit of a path starts
    there, warm: the fits of :func:`celr.regularization_path` on one X share one
    (:func:`celr._columns.shared_last_evaluation`), so its start's value and gradient
    cost no pass either (a third of the passes of a 100-point L1 path on sparse text).
    Only an exactly equal ``coef`` is answered.

    Examples
    --------
    >>> import numpy as np
    >>> last = LastEvaluation()
    >>> last.remember(np.array([1.0, 2.0]), 0.5, np.array([0.1, -0.2]))
    >>> last.recall(np.array([1.0, 2.0])), last.recall(np.array([1.0, 2.5]))
    (0.5, None)
    >>> value, grad = last.recall_with_grad(np.array([1.0, 2.0]))
    >>> value, grad.tolist()
    (0.5, [0.1, -0.2])
    """

    def __init__(self) -> None:
        self.coef: np.ndarray | None = None
        self.value: float | None = None
        self.grad: np.ndarray | None = None

    def remember(self, coef: np.ndarray, value: float, grad: np.ndarray | None = None) -> None:
        self.coef, self.value = np.array(coef, dtype=np.float64), float(value)
        self.grad = None if grad is None else np.array(grad, dtype=np.float64)

    def recall(self, coef: np.ndarray) -> float | None:
        coef = np.asarray(coef)
        if self.coef is None or coef.shape != self.coef.shape:
            return None
        return self.value if np.array_equal(coef, self.coef) else None

    def recall_with_grad(self, coef: np.ndarray) -> tuple[float, np.ndarray] | None:
        """The value and a copy of the gradient at ``coef``, if both are remembered."""
        if self.grad is None or self.recall(coef) is None:
            return None
        return self.value, self.grad.copy()


def intercept_only_coef(objective) -> np.ndarray:
    """Zero weights and the intercept-only model's optimum: each class's log-odds.

    The estimator's cold start and :func:`celr.l1_min_c`'s point: with an intercept
    the scores are ``log(share_k)`` (centred for softmax), without one all zero.
    """
    intercept = np.zeros(objective.n_scores)
    if objective.fit_intercept:
        log_share = np.log(np.maximum(objective.class_share(), np.finfo(float).tiny))
        if objective.n_scores == 1:
            intercept[0] = log_share[1] - log_share[0]
        else:
            intercept = log_share - log_share.mean()
    return objective.pack(np.zeros((objective.n_scores, objective.n_features)), intercept)


def transpose_view(X):
    """``X.T`` sharing X's arrays, for dense, CSR and CSC X.

    scipy's ``.T`` goes through its constructor, which copies arrays that are views of a
    larger buffer ("prune"): on a row block of CSR data every ``X.T @ r`` would copy the
    block. The transposed structure is the same three arrays read the other way.
    """
    if not sp.issparse(X) or X.format not in ("csr", "csc"):
        return X.T
    flipped = sp.csc_array if X.format == "csr" else sp.csr_array
    view = flipped((X.shape[1], X.shape[0]), dtype=X.dtype)
    view.data, view.indices, view.indptr = X.data, X.indices, X.indptr
    return view
