"""Weighted Gram matrices of the rows: the dense Hessian and the score outer product.

Both are sums over rows of ``c_i xa_i xa_i^T`` (``xa_i`` the row with a 1 for the
intercept), built in cache-sized row chunks with BLAS ``syrk`` into one Fortran array,
so X is never copied whole, densified or augmented. :class:`GramMatrices` is a mixin of
:class:`celr._objective.LogisticObjective`, whose rows, scores and weights it reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import dsyrk, ssyrk

from celr._fused import KERNEL_CHUNK_BYTES, compiled_reads
from celr._hessian_kernel import binary_hessian, multinomial_hessian
from celr._loss import binary_hessian_weight, softmax

# Row chunks are sized so their float64 scratch stays in cache (measured: 32 MB chunks made
# the Hessian build 2x slower than the syrk inside it).
_CHUNK_BYTES = 2**20


class GramMatrices:
    """The Hessian and score outer product of a :class:`~celr._objective.LogisticObjective`.

    The host provides ``X``, ``normalized_weight``, ``n_samples``, the layout and
    ``scores`` / ``_pointwise``.
    """

    def hessian(
        self,
        coef: np.ndarray,
        column_scale: np.ndarray | None = None,
        *,
        working_precision: bool = False,
    ) -> np.ndarray:
        """The full Hessian of ``f_data``, shape (n_params, n_params).

        With ``column_scale``, the Hessian in the coordinates of the rescaled features
        ``X / column_scale`` (i.e. ``D H D`` with ``D = diag(1 / scale)`` on weights, 1 on
        intercepts): what a Newton solver factorises, free of overflow and of the feature
        scales' effect on conditioning.

        Built as ``Xa.T D Xa`` (``Xa`` = X with a virtual column of ones for the
        intercept) over row chunks of bounded size with BLAS ``syrk``. For K classes,
        block (k, l) is ``Xa.T diag(s (p_k delta_kl - p_k p_l) / S) Xa``. Meant for
        ``n_params`` up to a few thousand.
        """
        hess = self.accumulate_hessian(
            coef, column_scale, np.zeros((self.n_params,) * 2, order="F"), working_precision
        )
        mirror_upper_triangle(hess)
        return hess

    def accumulate_hessian(
        self,
        coef: np.ndarray,
        column_scale: np.ndarray | None,
        hess: np.ndarray,
        working_precision: bool = False,
    ) -> np.ndarray:
        """Add this objective's Hessian (upper triangle only) into ``hess``, in place.

        ``hess`` is a Fortran-ordered (n_params, n_params) float64 array; row blocks of a
        larger problem add into one per thread instead of allocating their own.
        """
        if compiled_reads(self.X, strided_rows=True):
            return self._accumulate_hessian_compiled(coef, column_scale, hess, working_precision)
        z = self.scores(coef)
        p = self.n_params
        width = self.n_features + self.fit_intercept
        scratch = np.empty((self._chunk_rows(8 * p), p)) if self.n_scores > 1 else None
        if working_precision and self.n_scores == 1 and self.X.dtype == np.float32:
            return self._accumulate_binary_hessian_float32(z, column_scale, hess)
        if self.n_scores == 1:
            root = np.sqrt(binary_hessian_weight(z) * self.normalized_weight)
            for _, chunk in self._augmented_chunks(column_scale, 8 * p, row_factor=root):
                hess = syrk_rows(dsyrk, 1.0, chunk, hess)
            return hess
        for rows, chunk in self._augmented_chunks(column_scale, extra_bytes_per_row=8 * p):
            weight = self.normalized_weight[rows]
            proba = softmax(z[rows])
            # -sum_i s_i p_ik p_il xa_i xa_i^T over all (k, l) pairs in one syrk ...
            stacked = scratch[: len(chunk)].reshape(len(chunk), self.n_scores, width)
            np.multiply(
                (proba * np.sqrt(weight)[:, None])[:, :, None], chunk[:, None, :], out=stacked
            )
            hess = syrk_rows(dsyrk, -1.0, stacked.reshape(len(chunk), p), hess)
            # ... plus the diagonal blocks sum_i s_i p_ik xa_i xa_i^T.
            for k in range(self.n_scores):
                block = slice(k * width, (k + 1) * width)
                np.multiply(chunk, np.sqrt(proba[:, k] * weight)[:, None], out=stacked[:, 0, :])
                hess[block, block] = syrk_rows(
                    dsyrk, 1.0, stacked[:, 0, :], hess[block, block], overwrite=False
                )
        return hess

    def _accumulate_hessian_compiled(
        self, coef: np.ndarray, column_scale, hess: np.ndarray, working_precision: bool
    ) -> np.ndarray:
        """The Hessian of dense rows (a strided row subsample too) by
        :func:`celr._hessian_kernel.binary_hessian` or ``multinomial_hessian``: scores, row
        factors, scaled rows and ``syrk`` per chunk in one call without the GIL, so two
        threads' row blocks run side by side (numpy's chunks held it between calls).
        Measured on one thread: the 125,000 x 101 rows a 500,000-row binary fit's Newton
        Hessian reads, 128-131 -> 57-74 ms; the 10,527 x 51 rows of a 200,000 x 50,
        10-class fit's, 101 -> 86 ms (P4 fit 0.87-1.07 -> 0.68-0.73 s)."""
        X = self.X
        weights, intercept = self.unpack(coef)
        inverse_scale = np.ones(self.n_features) if column_scale is None else 1.0 / column_scale
        inverse_scale = np.ascontiguousarray(inverse_scale, dtype=np.float64)
        row_weight = np.ascontiguousarray(self.normalized_weight)
        weights = np.ascontiguousarray(weights, dtype=X.dtype)
        if self.n_scores > 1:
            chunk_rows = self._chunk_rows(8 * self.n_params)
            multinomial_hessian(
                X, row_weight, weights, np.ascontiguousarray(intercept, dtype=np.float64),
                inverse_scale, self.fit_intercept, hess, chunk_rows,
            )  # fmt: skip
            return hess
        single = working_precision and X.dtype == np.float32
        width = self.n_features + self.fit_intercept
        chunk_rows = self._chunk_rows((4 if single else 8) * width, KERNEL_CHUNK_BYTES)
        binary_hessian(
            X, row_weight, weights[0], float(intercept[0]), inverse_scale,
            self.fit_intercept, single, hess, chunk_rows,
        )  # fmt: skip
        return hess

    def _accumulate_binary_hessian_float32(self, z, column_scale, hess: np.ndarray):
        """The binary Hessian of float32 sparse rows by single-precision ``syrk`` per chunk
        (half of double's time, and no float64 copy of the chunk), each chunk's sum added
        into the float64 total. Its rounding, a few thousand float32 terms per chunk, is
        far below what a Newton direction needs; the gradient is float32's already."""
        partial = np.zeros_like(hess, dtype=np.float32)
        width = self.n_features + self.fit_intercept
        for rows, chunk in self._augmented_chunks(
            column_scale, extra_bytes_per_row=4 * width, dtype=np.float32
        ):
            root = np.sqrt(binary_hessian_weight(z[rows]) * self.normalized_weight[rows])
            chunk *= root.astype(np.float32)[:, None]
            partial = syrk_rows(ssyrk, 1.0, chunk, partial, beta=0.0)
            hess += partial
        return hess

    def score_outer(self, coef: np.ndarray, column_scale: np.ndarray | None = None) -> np.ndarray:
        """``sum_i (s_i / S) g_i g_i^T``, with ``g_i`` row i's gradient of ``L_CE``.

        The "meat" of the sandwich (HC0) covariance: ``g_i = (sigma(z_i) - y_i) xa_i``
        for two classes (the textbook's per-example gradient), ``(softmax(z_i) -
        onehot(y_i)) (x) xa_i`` for K. ``column_scale`` as in :meth:`hessian`. Built over
        row chunks with ``syrk``, like the Hessian.
        """
        _, residual = self._pointwise(self.scores(coef))
        root_weight = np.sqrt(self.normalized_weight)
        residual *= root_weight if residual.ndim == 1 else root_weight[:, None]
        p = self.n_params
        outer = np.zeros((p, p), order="F")
        binary = self.n_scores == 1
        for rows, chunk in self._augmented_chunks(
            column_scale, 8 * p, row_factor=residual if binary else None
        ):
            if binary:
                stacked = chunk
            else:
                stacked = (residual[rows, :, None] * chunk[:, None, :]).reshape(len(chunk), p)
            outer = syrk_rows(dsyrk, 1.0, stacked, outer)
        mirror_upper_triangle(outer)
        return outer

    def cluster_score_sums(
        self, coef: np.ndarray, groups: np.ndarray, n_groups: int, column_scale=None
    ) -> np.ndarray:
        """``U_g = sum_{i in g} (s_i / S) g_i`` for each cluster g, shape (n_groups, P).

        The cluster-robust meat is ``S sum_g U_g U_g^T``: the score outer product of
        :meth:`score_outer` with the rows of one cluster summed first. ``groups`` holds
        cluster codes ``0..n_groups-1`` per row.
        """
        _, residual = self._pointwise(self.scores(coef))
        weight = self.normalized_weight
        residual *= weight if residual.ndim == 1 else weight[:, None]
        sums = np.zeros((n_groups, self.n_params))
        for rows, chunk in self._augmented_chunks(
            column_scale, extra_bytes_per_row=8 * self.n_params
        ):
            if self.n_scores == 1:
                scores = chunk * residual[rows, None]
            else:
                scores = (residual[rows, :, None] * chunk[:, None, :]).reshape(len(chunk), -1)
            count = len(chunk)
            member = sp.csr_matrix(
                (np.ones(count), (groups[rows], np.arange(count))), shape=(n_groups, count)
            )
            sums += member @ scores
        return sums

    # -- row chunks -----------------------------------------------------------------------
    def _chunk_rows(self, bytes_per_row: int, chunk_bytes: int = _CHUNK_BYTES) -> int:
        """Rows per chunk so that a chunk's scratch stays cache sized, and no more rows
        than X has: a chunk-sized scratch for small X (2 MB against breast cancer's
        140 KB) is a fresh mapping and its page faults at every Hessian."""
        return min(max(64, chunk_bytes // max(bytes_per_row, 1)), max(self.n_samples, 1))

    def _row_slices(self, bytes_per_row: int) -> Iterator[slice]:
        step = self._chunk_rows(bytes_per_row)
        for start in range(0, self.n_samples, step):
            yield slice(start, min(start + step, self.n_samples))

    def _augmented_chunks(
        self,
        column_scale: np.ndarray | None,
        extra_bytes_per_row: int = 0,
        dtype=np.float64,
        row_factor: np.ndarray | None = None,
    ) -> Iterator[tuple[slice, np.ndarray]]:
        """Row chunks of ``[X / column_scale, 1]`` (no 1 without intercept), in ``dtype``,
        each row times ``row_factor`` (one number per row of X) when given.

        Each chunk is written into one reused scratch buffer, which the caller may
        overwrite: one pass over the rows, no allocation per chunk.
        """
        d = self.n_features
        width = d + self.fit_intercept
        bytes_per_row = np.dtype(dtype).itemsize * width + extra_bytes_per_row
        scratch = np.empty((self._chunk_rows(bytes_per_row), width), dtype=dtype)
        if row_factor is not None and len(scratch) >= self.n_samples:
            # Small data, one chunk: [X / column_scale, 1] is kept between calls (Newton
            # asks for it at every iteration), so a chunk is one product with the factor.
            chunk = scratch[: self.n_samples]
            np.multiply(self._augmented_rows(column_scale, dtype), row_factor[:, None], out=chunk)
            yield slice(0, self.n_samples), chunk
            return
        if self.fit_intercept:
            scratch[:, d] = 1.0
        inverse_scale = None if column_scale is None else 1.0 / column_scale
        for rows in self._row_slices(bytes_per_row):
            chunk = scratch[: rows.stop - rows.start]
            part = self.X[rows]
            if sp.issparse(part):
                part = part.toarray()
            if inverse_scale is None:
                np.copyto(chunk[:, :d], part)
            else:
                np.multiply(part, inverse_scale, out=chunk[:, :d])
            if self.fit_intercept:
                chunk[:, d] = 1.0
            if row_factor is not None:
                chunk *= row_factor[rows, None]
            yield rows, chunk

    def _augmented_rows(self, column_scale: np.ndarray | None, dtype) -> np.ndarray:
        """``[X / column_scale, 1]`` of all rows, built once per scale and dtype."""
        key = (np.dtype(dtype).str, None if column_scale is None else column_scale.tobytes())
        cached = getattr(self, "_augmented_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        rows = next(self._augmented_chunks(column_scale, dtype=dtype))[1]
        if len(rows) < self.n_samples:  # more rows than one chunk: the caller checks
            raise ValueError("_augmented_rows is for data of one chunk")
        self._augmented_cache = (key, rows)
        return rows


def syrk_rows(syrk, alpha, rows, c, *, beta=1.0, overwrite=True):
    """``beta c + alpha rows^T rows`` (upper triangle) by BLAS ``syrk``.

    ``rows`` is C-ordered: handed over as its transpose, which is Fortran-ordered, with
    ``trans=0``. Given as is with ``trans=1``, f2py first copies it to Fortran order:
    1,300 x 101 rows took 318 us instead of 233 us, breast cancer's 569 x 31 29 instead
    of 23 us.
    """
    operand = rows.T if rows.flags.c_contiguous else rows
    trans = 0 if rows.flags.c_contiguous else 1
    return syrk(alpha, operand, trans=trans, beta=beta, c=c, overwrite_c=int(overwrite))


# Up to this size the lower triangle is filled through cached index arrays in one
# vectorised copy (31 x 31: 10 -> 2 us); above, a loop over columns (no p^2 temporaries).
_INDEXED_MIRROR_MAX = 256


@lru_cache(maxsize=8)
def _lower_indices(size: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tril_indices(size, -1)


def mirror_upper_triangle(matrix: np.ndarray) -> None:
    """Copy the upper triangle onto the lower, in place."""
    size = len(matrix)
    if size <= _INDEXED_MIRROR_MAX:
        rows, columns = _lower_indices(size)
        matrix[rows, columns] = matrix[columns, rows]
        return
    for column in range(size - 1):
        matrix[column + 1 :, column] = matrix[column, column + 1 :]
