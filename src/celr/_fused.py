"""The value and gradient of dense rows in one pass over X, chunk by cache-sized chunk.

``f`` and its gradient need two products with X: the scores ``X @ W.T`` and the
gradient ``R.T @ X``. Done over all rows at once, each product streams X from memory,
and a fit on tall or wide dense data is bound by that traffic. Done per chunk of a few
hundred KB of X, the second product finds the chunk still in cache, so X is read once
per evaluation. The chunks depend on the data's shape only, so the bits of the sums do
not depend on the thread count.

Two classes take the compiled pass (:mod:`celr._dense_kernel`: one call per row block,
without the GIL, so two threads' blocks run side by side). Measured, value and gradient
of a binary problem on two threads (row blocks of :mod:`celr._parallel`): 500,000 x 100,
111 ms in numpy's chunks -> 41 ms; 20,000 x 2,000 (not chunked in numpy), 28 -> 18 ms;
float32 500,000 x 100, 49 -> 24 ms. K classes keep numpy's chunks (below), whose
per-chunk Python work holds the GIL: single-threaded, 500,000 x 100 from 98 to 42 ms;
wide rows (2,000 columns, 65-row chunks) gain less than the chunks' overhead costs on
two threads, and are not fused.
"""

from __future__ import annotations

import numpy as np

from celr._dense_kernel import binary_value_grad

# Bytes of X per chunk of the compiled pass. Measured on two threads (value and gradient):
# 500,000 x 100, 128 KB 50 ms, 256 KB 41 ms, 512 KB 41 ms; 20,000 x 2,000 (16 and 32 rows),
# 256 KB 18.4 ms, 1 MB 24 ms; one thread, 1 MB was slower on both.
KERNEL_CHUNK_BYTES = 2**18
# Bytes of X per chunk. Measured on 500,000 x 100: 256 KB 74 ms, 512 KB 60 ms, 1 MB 42 ms,
# 4 MB 55 ms (the second product no longer finds the chunk in cache).
CHUNK_BYTES = 2**20
MIN_ROWS = 256


def compiled_reads(X, *, strided_rows: bool = False) -> bool:
    """Whether :mod:`celr._dense_kernel` reads X: a C-ordered float32 or float64 array
    with rows (not sparse); with ``strided_rows``, also rows a multiple of the item size
    apart with contiguous columns (a row subsample ``X[::k]``, which the Hessian reads)."""
    if not (
        isinstance(X, np.ndarray)
        and X.ndim == 2
        and X.dtype in (np.float32, np.float64)
        and X.shape[0] > 0
    ):
        return False
    if X.flags.c_contiguous or not strided_rows:
        return bool(X.flags.c_contiguous)
    row_stride, column_stride = X.strides
    return (
        (X.shape[1] <= 1 or column_stride == X.itemsize)
        and row_stride >= X.itemsize * X.shape[1]
        and row_stride % X.itemsize == 0
    )


def kernel_rows(X, n_scores: int) -> int | None:
    """Rows per chunk of the compiled pass, or None where it does not apply (K classes,
    or X it cannot read)."""
    if n_scores != 1 or not compiled_reads(X):
        return None
    return max(1, KERNEL_CHUNK_BYTES // max(1, X.itemsize * X.shape[1]))


def kernel_value_grad(objective, coef: np.ndarray, rows: int) -> tuple[float, np.ndarray]:
    """``objective.value_grad(coef)`` of two classes on dense C-ordered ``objective.X``,
    by :func:`celr._dense_kernel.binary_value_grad` (the textbook's gradient, eq. 5.29:
    ``(1/S) sum_i s_i (sigma(w . x_i + b) - y_i) x_i``)."""
    weights, intercept = objective.unpack(coef)
    grad = np.zeros(objective.n_params)
    value, residual_sum = binary_value_grad(
        objective.X,
        objective.y,
        np.ascontiguousarray(objective.normalized_weight),
        np.ascontiguousarray(weights[0], dtype=objective.X.dtype),
        float(intercept[0]),
        grad[: objective.n_features],
        rows,
    )
    if objective.fit_intercept:
        grad[-1] = residual_sum
    return value, grad


def fused_rows(X) -> int | None:
    """Rows per chunk for a fused pass over ``X``, or None where one does not pay: sparse,
    not C-contiguous (a strided row subsample), or a single chunk."""
    if not isinstance(X, np.ndarray) or not X.flags.c_contiguous:
        return None
    rows = CHUNK_BYTES // max(1, X.itemsize * X.shape[1])
    # Below MIN_ROWS a chunk's Python and BLAS-call overhead (about 20 us) outweighs the
    # traffic saved, and two threads' chunks contend for the GIL: 20,000 x 2,000 on 2
    # threads (65-row chunks) fitted in 1.10 s against 0.74 s unfused.
    return rows if rows >= MIN_ROWS and X.shape[0] > rows else None


def fused_value_grad(objective, coef: np.ndarray, rows: int) -> tuple[float, np.ndarray]:
    """``objective.value_grad(coef)`` of a dense C-ordered ``objective.X``, chunk by chunk.

    The gradient is the textbook's ``(1/S) sum_i s_i (sigma(z_i) - y_i) x_i`` (softmax's
    residual for K classes); each chunk's part is computed in X's dtype and summed in
    float64 (float32 data: sums of a chunk's rows in float32, not of all rows).
    """
    X, n_scores = objective.X, objective.n_scores
    weights, intercept = objective.unpack(coef)
    weights_t = weights.T.astype(X.dtype, copy=False)
    value = 0.0
    grad_w = np.zeros((n_scores, objective.n_features))
    grad_b = np.zeros(n_scores)
    for start in range(0, objective.n_samples, rows):
        chunk = slice(start, start + rows)
        block = X[chunk]
        z = np.asarray(block @ weights_t, dtype=np.float64)
        z += intercept
        loss, residual = objective.pointwise_of(z[:, 0] if n_scores == 1 else z, chunk)
        row_weight = objective.normalized_weight[chunk]
        value += float(loss @ row_weight)
        residual = residual.reshape(len(row_weight), n_scores)
        residual *= row_weight[:, None]
        grad_w += np.asarray(residual.T.astype(X.dtype, copy=False) @ block, dtype=np.float64)
        grad_b += residual.sum(axis=0)
    return value, objective.pack(grad_w, grad_b)
