"""The value and gradient of dense rows in one compiled pass over X, chunk by chunk.

``f`` and its gradient need two products with X: the scores ``X @ W.T`` and the
gradient ``R.T @ X``. Done over all rows at once, each product streams X from memory,
and a fit on tall or wide dense data is bound by that traffic. Done per chunk of a few
hundred KB of X, the second product finds the chunk still in cache, so X is read once
per evaluation. The chunks depend on the data's shape only, so the bits of the sums do
not depend on the thread count.

:mod:`celr._dense_kernel` does it in one call per row block, without the GIL, so two
threads' blocks run side by side (numpy's chunks held the GIL between their BLAS calls
and temporaries). Measured, value and gradient: two classes on two threads (row blocks of
:mod:`celr._parallel`), 500,000 x 100, 111 ms in numpy's chunks -> 41 ms; 20,000 x 2,000,
28 -> 18 ms; float32 500,000 x 100, 49 -> 24 ms. Ten classes on one thread, 200,000 x 50,
123 -> 64 ms in float64 and 86 -> 52 ms in float32.
"""

from __future__ import annotations

import numpy as np

from celr._dense_kernel import binary_value_grad, multinomial_value_grad

# Bytes of X per chunk of the compiled pass. Measured on two threads (value and gradient):
# 500,000 x 100, 128 KB 50 ms, 256 KB 41 ms, 512 KB 41 ms; 20,000 x 2,000 (16 and 32 rows),
# 256 KB 18.4 ms, 1 MB 24 ms; one thread, 1 MB was slower on both. Ten classes, 200,000 x
# 50, one thread: 64 KB 49 ms, 256 KB 51 ms, 1 MB 73 ms.
KERNEL_CHUNK_BYTES = 2**18


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


def kernel_rows(X) -> int | None:
    """Rows per chunk of the compiled pass, or None where it does not apply (X it cannot
    read: sparse, not C-ordered, another dtype, no rows)."""
    if not compiled_reads(X):
        return None
    return max(1, KERNEL_CHUNK_BYTES // max(1, X.itemsize * X.shape[1]))


def kernel_value(objective, coef: np.ndarray, rows: int) -> float:
    """``objective.value(coef)`` by the compiled pass without its gradient product."""
    return kernel_value_grad(objective, coef, rows, with_gradient=False)[0]


def kernel_value_grad(
    objective, coef: np.ndarray, rows: int, *, with_gradient: bool = True
) -> tuple[float, np.ndarray]:
    """``objective.value_grad(coef)`` on dense C-ordered ``objective.X``: the textbook's
    gradient, eq. 5.29, ``(1/S) sum_i s_i (sigma(w . x_i + b) - y_i) x_i`` for two classes
    (:func:`celr._dense_kernel.binary_value_grad`), softmax's residual for K
    (:func:`celr._dense_kernel.multinomial_value_grad`)."""
    X = objective.X
    weights, intercept = objective.unpack(coef)
    row_weight = np.ascontiguousarray(objective.normalized_weight)
    if objective.n_scores > 1:
        grad_w = np.zeros((objective.n_scores, objective.n_features))
        grad_b = np.zeros(objective.n_scores)
        value = multinomial_value_grad(
            X, objective.y, row_weight, np.ascontiguousarray(weights, dtype=X.dtype),
            np.ascontiguousarray(intercept, dtype=np.float64), grad_w, grad_b, rows,
            with_gradient,
        )  # fmt: skip
        return value, objective.pack(grad_w, grad_b)
    grad = np.zeros(objective.n_params)
    value, residual_sum = binary_value_grad(
        X, objective.y, row_weight, np.ascontiguousarray(weights[0], dtype=X.dtype),
        float(intercept[0]), grad[: objective.n_features], rows, with_gradient,
    )  # fmt: skip
    if objective.fit_intercept:
        grad[-1] = residual_sum
    return value, grad
