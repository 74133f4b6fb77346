# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False
"""The value and gradient of a two-class fit on dense rows, one compiled pass (eq. 5.23).

numpy's chunked pass (:func:`celr._fused.fused_value_grad`) reads X once, but holds the
GIL between its per-chunk BLAS calls and temporaries: two threads evaluating row blocks
wait for each other (500,000 x 100, value and gradient on two threads: 111 ms, against
88 ms for one thread), and wide rows, whose cache-sized chunks are a few dozen rows,
could not be chunked at all. Here a row block is one call without the GIL: per chunk of
rows, the scores by one BLAS ``gemv``, the loss and residual in one loop, and the
gradient by a second ``gemv`` while the chunk is still in cache (the same measurement:
41 ms on two threads; 20,000 x 2,000: 28 -> 18 ms).

BLAS is scipy's (the functions ``scipy.linalg.cython_blas`` exports), reached through
its capsules at import: no BLAS headers or scipy are needed to build this module.
"""

from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer
from cython cimport floating
from libc.math cimport exp, fabs, log, log1p, sqrt
from libc.stdlib cimport free, malloc

import numpy as np
from scipy.linalg import cython_blas

ctypedef void (*dgemv_t)(
    char *, int *, int *, double *, double *, int *, double *, int *, double *, double *,
    int *,
) noexcept nogil
ctypedef void (*sgemv_t)(
    char *, int *, int *, float *, float *, int *, float *, int *, float *, float *, int *,
) noexcept nogil
ctypedef void (*dgemm_t)(
    char *, char *, int *, int *, int *, double *, double *, int *, double *, int *,
    double *, double *, int *,
) noexcept nogil
ctypedef void (*sgemm_t)(
    char *, char *, int *, int *, int *, float *, float *, int *, float *, int *,
    float *, float *, int *,
) noexcept nogil
ctypedef void (*dsyrk_t)(
    char *, char *, int *, int *, double *, double *, int *, double *, double *, int *,
) noexcept nogil
ctypedef void (*ssyrk_t)(
    char *, char *, int *, int *, float *, float *, int *, float *, float *, int *,
) noexcept nogil


cdef void *_blas(name: str) except NULL:
    capsule = cython_blas.__pyx_capi__[name]
    return PyCapsule_GetPointer(capsule, PyCapsule_GetName(capsule))


cdef dgemv_t _dgemv = <dgemv_t>_blas("dgemv")
cdef sgemv_t _sgemv = <sgemv_t>_blas("sgemv")
cdef dgemm_t _dgemm = <dgemm_t>_blas("dgemm")
cdef sgemm_t _sgemm = <sgemm_t>_blas("sgemm")
cdef dsyrk_t _dsyrk = <dsyrk_t>_blas("dsyrk")
cdef ssyrk_t _ssyrk = <ssyrk_t>_blas("ssyrk")


cdef inline void _gemv(
    char *transpose, int n_cols, int n_rows, const floating *matrix, const floating *vector,
    floating beta, floating *out, int lead=0,
) noexcept nogil:
    """``out = M^T v + beta out`` ('T') or ``out = M v + beta out`` ('N'), where ``M`` is
    the column-major ``n_cols x n_rows`` matrix that a C-ordered block of rows is (rows
    ``lead`` elements apart: more than ``n_cols`` for a strided row subsample)."""
    cdef int one = 1
    if lead < n_cols:
        lead = n_cols
    if lead < 1:
        lead = 1
    cdef floating alpha = 1.0
    if floating is double:
        _dgemv(transpose, &n_cols, &n_rows, &alpha, <double *>matrix, &lead,
               <double *>vector, &one, &beta, out, &one)
    else:
        _sgemv(transpose, &n_cols, &n_rows, &alpha, <float *>matrix, &lead,
               <float *>vector, &one, &beta, out, &one)


def binary_value_grad(
    const floating[:, ::1] X,
    const Py_ssize_t[::1] y,
    const double[::1] weight,
    const floating[::1] weights,
    double intercept,
    double[::1] grad,
    Py_ssize_t chunk_rows,
    bint with_gradient=True,
):
    """Add ``sum_i omega_i (sigma(z_i) - y_i) x_i`` to ``grad``; return the weighted loss
    ``sum_i omega_i L_CE(z_i)`` and ``sum_i omega_i (sigma(z_i) - y_i)``.

    ``z_i = x_i . w + b`` in X's dtype (then float64), ``L_CE = -log sigma(s_i z_i)``
    with ``s_i = 2 y_i - 1`` (eq. 5.23), and the residual is the textbook gradient's
    factor of ``x_j``, ``sigma(z) - y = -s sigma(-s z)``, computed as
    :func:`celr._loss.binary_loss_and_residual` does (no cancellation for huge scores).
    Each chunk's gradient is a product in X's dtype, added to ``grad`` in float64.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C-ordered float32 or float64
    y : ndarray of shape (n_samples,), intp
        Labels in {0, 1}.
    weight : ndarray of shape (n_samples,)
        Each row's weight ``omega_i``.
    weights : ndarray of shape (n_features,), X's dtype
        ``w``.
    intercept : float
        ``b``.
    grad : ndarray of shape (n_features,), float64
        Added to in place.
    chunk_rows : int
        Rows per chunk (from X's shape only, so the sums' bits do not depend on the
        thread count).
    with_gradient : bool
        False: the value and residual sum only (``grad`` untouched), one product with X
        per chunk instead of two.

    Returns
    -------
    value : float
    residual_sum : float
    """
    cdef Py_ssize_t n_samples = X.shape[0], n_features = X.shape[1]
    cdef Py_ssize_t start = 0, stop, i, j
    cdef int rows
    cdef double value = 0.0, residual_sum = 0.0, sign, margin, tail, residual
    cdef floating *scores
    cdef floating *chunk_grad = NULL
    if y.shape[0] != n_samples or weight.shape[0] != n_samples:
        raise ValueError(f"lengths: X has {n_samples} rows, y {y.shape[0]}, weight {weight.shape[0]}")
    if weights.shape[0] != n_features or grad.shape[0] != n_features:
        raise ValueError(
            f"lengths: X has {n_features} columns, weights {weights.shape[0]}, grad {grad.shape[0]}"
        )
    if n_samples == 0:
        return 0.0, 0.0
    if not 0 < chunk_rows < 2**31 or n_features >= 2**31:
        raise ValueError(f"chunk_rows={chunk_rows}, n_features={n_features}: out of range")
    scores = <floating *>malloc(chunk_rows * sizeof(floating))
    if floating is float:
        chunk_grad = <floating *>malloc(max(n_features, 1) * sizeof(floating))
    if scores == NULL or (floating is float and chunk_grad == NULL):
        free(scores)
        free(chunk_grad)
        raise MemoryError()
    with nogil:
        while start < n_samples:
            stop = min(start + chunk_rows, n_samples)
            rows = <int>(stop - start)
            if n_features > 0:
                _gemv(b"T", <int>n_features, rows, &X[start, 0], &weights[0], 0.0, scores)
            else:
                for i in range(rows):
                    scores[i] = 0.0
            for i in range(rows):
                sign = 2.0 * y[start + i] - 1.0
                margin = sign * (scores[i] + intercept)
                tail = exp(-margin if margin > 0 else margin)  # exp(-|m|), in (0, 1]
                value += weight[start + i] * (log1p(tail) + (-margin if margin < 0 else 0.0))
                residual = -sign * weight[start + i] * (
                    (tail if margin > 0 else 1.0) / (1.0 + tail)
                )
                residual_sum += residual
                scores[i] = <floating>residual
            if n_features > 0 and with_gradient:
                if floating is double:
                    _gemv(b"N", <int>n_features, rows, &X[start, 0], scores, 1.0, &grad[0])
                else:
                    _gemv(b"N", <int>n_features, rows, &X[start, 0], scores, 0.0, chunk_grad)
                    for j in range(n_features):
                        grad[j] += chunk_grad[j]
            start = stop
    free(scores)
    free(chunk_grad)
    return value, residual_sum


cdef inline void _gemm(
    char *transa, char *transb, int m, int n, int k, const floating *a, int lda,
    const floating *b, int ldb, floating beta, floating *c, int ldc,
) noexcept nogil:
    """BLAS ``c = op(a) op(b) + beta c``, column-major, in X's precision."""
    cdef floating alpha = 1.0
    if floating is double:
        _dgemm(transa, transb, &m, &n, &k, &alpha, <double *>a, &lda, <double *>b, &ldb,
               &beta, c, &ldc)
    else:
        _sgemm(transa, transb, &m, &n, &k, &alpha, <float *>a, &lda, <float *>b, &ldb,
               &beta, c, &ldc)


def multinomial_value_grad(
    const floating[:, ::1] X,
    const Py_ssize_t[::1] y,
    const double[::1] weight,
    const floating[:, ::1] weights,
    const double[::1] intercept,
    double[:, ::1] grad_w,
    double[::1] grad_b,
    Py_ssize_t chunk_rows,
    bint with_gradient=True,
):
    """Add ``sum_i omega_i (softmax(z_i) - onehot(y_i)) x_i^T`` to ``grad_w`` and its row
    sums to ``grad_b``; return ``sum_i omega_i L_CE(z_i)``, ``L_CE = -log softmax(z_i)_y``
    (the textbook's cross-entropy with softmax for K classes).

    Per chunk of rows, without the GIL: the scores ``Z = X W^T + b`` by one BLAS ``gemm``
    in X's dtype, the loss and residual per row in float64 as
    :func:`celr._loss.multinomial_loss_and_residual` computes them (scores shifted by
    their row maximum: no overflow, no ``log 0``), and the gradient ``R^T X`` by a second
    ``gemm`` while the chunk is in cache, added to ``grad_w`` in float64.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C-ordered float32 or float64
    y : ndarray of shape (n_samples,), intp
        Class codes in ``[0, K)``.
    weight : ndarray of shape (n_samples,)
    weights : ndarray of shape (K, n_features), C-ordered, X's dtype
    intercept : ndarray of shape (K,)
    grad_w : ndarray of shape (K, n_features), float64, added to
    grad_b : ndarray of shape (K,), float64, added to
    chunk_rows : int
    with_gradient : bool
        False: the value only (``grad_w`` and ``grad_b`` untouched).
    """
    cdef Py_ssize_t n_samples = X.shape[0], n_features = X.shape[1]
    cdef Py_ssize_t n_classes = weights.shape[0]
    cdef Py_ssize_t start = 0, stop, i, k, j
    cdef int rows, n_k = <int>n_classes, n_p = <int>n_features
    cdef Py_ssize_t label
    cdef double value = 0.0, top, norm, w_i, label_score, residual
    cdef floating *scores = NULL
    cdef floating *chunk_grad = NULL
    cdef double *shifted = NULL
    if y.shape[0] != n_samples or weight.shape[0] != n_samples:
        raise ValueError(f"lengths: X has {n_samples} rows, y {y.shape[0]}, weight {weight.shape[0]}")
    if (
        weights.shape[1] != n_features or grad_w.shape[0] != n_classes
        or grad_w.shape[1] != n_features or intercept.shape[0] != n_classes
        or grad_b.shape[0] != n_classes
    ):
        raise ValueError(
            f"shapes: X has {n_features} columns; weights {weights.shape[0]} x "
            f"{weights.shape[1]}, grad_w {grad_w.shape[0]} x {grad_w.shape[1]}, intercept "
            f"{intercept.shape[0]}, grad_b {grad_b.shape[0]}"
        )
    if n_samples == 0:
        return 0.0
    if n_classes < 1 or not 0 < chunk_rows < 2**31 or n_features >= 2**31:
        raise ValueError(f"chunk_rows={chunk_rows}, {n_classes} classes: out of range")
    for i in range(n_samples):
        if not 0 <= y[i] < n_classes:
            raise ValueError(f"y[{i}] = {y[i]} is not a class code in [0, {n_classes})")
    scores = <floating *>malloc(chunk_rows * n_classes * sizeof(floating))
    shifted = <double *>malloc(n_classes * sizeof(double))
    if floating is float:
        chunk_grad = <floating *>malloc(max(n_classes * n_features, 1) * sizeof(floating))
    if scores == NULL or shifted == NULL or (floating is float and chunk_grad == NULL):
        free(scores)
        free(shifted)
        free(chunk_grad)
        raise MemoryError()
    with nogil:
        while start < n_samples:
            stop = min(start + chunk_rows, n_samples)
            rows = <int>(stop - start)
            if n_features > 0:
                # Z^T (K x rows, column-major) = W (K x p) X_chunk^T: a C-ordered (K, p) W
                # is W^T column-major, lda p; the chunk is X_chunk^T, ldb p.
                _gemm(b"T", b"N", n_k, rows, n_p, &weights[0, 0], n_p, &X[start, 0], n_p,
                      0.0, scores, n_k)
            else:
                for i in range(rows * n_classes):
                    scores[i] = 0.0
            for i in range(rows):
                w_i = weight[start + i]
                top = scores[i * n_classes] + intercept[0]
                for k in range(n_classes):
                    shifted[k] = scores[i * n_classes + k] + intercept[k]
                    if shifted[k] > top:
                        top = shifted[k]
                label = y[start + i]
                label_score = shifted[label] - top
                norm = 0.0
                for k in range(n_classes):
                    shifted[k] = exp(shifted[k] - top)
                    norm += shifted[k]
                value += w_i * (log(norm) - label_score)
                if not with_gradient:
                    continue
                for k in range(n_classes):
                    residual = w_i * (shifted[k] / norm - (1.0 if k == label else 0.0))
                    grad_b[k] += residual
                    scores[i * n_classes + k] = <floating>residual
            if n_features > 0 and with_gradient:
                # G^T (p x K, column-major) += X_chunk^T (p x rows) R (rows x K): R is
                # C-ordered (rows, K), so R^T column-major with ldb K, transposed.
                if floating is double:
                    _gemm(b"N", b"T", n_p, n_k, rows, &X[start, 0], n_p, scores, n_k, 1.0,
                          &grad_w[0, 0], n_p)
                else:
                    _gemm(b"N", b"T", n_p, n_k, rows, &X[start, 0], n_p, scores, n_k, 0.0,
                          chunk_grad, n_p)
                    for k in range(n_classes):
                        for j in range(n_features):
                            grad_w[k, j] += chunk_grad[k * n_features + j]
            start = stop
    free(scores)
    free(shifted)
    free(chunk_grad)
    return value


def weighted_moments(
    const floating[:, ::1] X,
    const double[::1] weight,
    Py_ssize_t chunk_rows,
):
    """Each column's weighted sum of weights, mean and centred sum of squares over X's
    rows, one read of X (chunks of ``chunk_rows`` rows, read twice while in cache).

    Per chunk, the mean ``m_c`` and ``M2_c = sum_i w_i (x_ij - m_c)^2`` are computed about
    the chunk's own mean (no cancellation: no uncentred squares), then merged into the
    running ones by Chan, Golub and LeVeque's pairwise update, ``M2 = M2_a + M2_c +
    d^2 W_a W_c / (W_a + W_c)`` with ``d = m_c - m_a``. Rows of zero weight add nothing.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C-ordered float32 or float64
    weight : ndarray of shape (n_samples,)
        Non-negative row weights.
    chunk_rows : int
        Rows per chunk.

    Returns
    -------
    total_weight : float
    mean, square_sum : ndarray of shape (n_features,), float64
        NaN or inf where a value or a square is not finite (the caller falls back).
    """
    cdef Py_ssize_t n_samples = X.shape[0], n_features = X.shape[1]
    cdef Py_ssize_t start = 0, stop, i, j
    cdef double total = 0.0, chunk_total, share, delta, w
    if weight.shape[0] != n_samples:
        raise ValueError(f"lengths: X has {n_samples} rows, weight {weight.shape[0]}")
    if chunk_rows <= 0:
        raise ValueError(f"chunk_rows={chunk_rows}: out of range")
    mean_out = np.zeros(n_features)
    square_out = np.zeros(n_features)
    chunk_mean_out = np.empty(n_features)
    chunk_square_out = np.empty(n_features)
    cdef double[::1] mean = mean_out, square = square_out
    cdef double[::1] chunk_mean = chunk_mean_out, chunk_square = chunk_square_out
    with nogil:
        while start < n_samples:
            stop = min(start + chunk_rows, n_samples)
            chunk_total = 0.0
            for j in range(n_features):
                chunk_mean[j] = 0.0
                chunk_square[j] = 0.0
            for i in range(start, stop):
                w = weight[i]
                chunk_total += w
                for j in range(n_features):
                    chunk_mean[j] += w * X[i, j]
            if chunk_total > 0.0:
                for j in range(n_features):
                    chunk_mean[j] /= chunk_total
                for i in range(start, stop):
                    w = weight[i]
                    for j in range(n_features):
                        delta = X[i, j] - chunk_mean[j]
                        chunk_square[j] += w * delta * delta
                share = chunk_total / (total + chunk_total)
                for j in range(n_features):
                    delta = chunk_mean[j] - mean[j]
                    mean[j] += delta * share
                    square[j] += chunk_square[j] + delta * delta * total * share
                total += chunk_total
            start = stop
    return total, mean_out, square_out


def binary_hessian(
    const floating[:, :] X,
    const double[::1] weight,
    const floating[::1] weights,
    double intercept,
    const double[::1] inverse_scale,
    bint fit_intercept,
    bint single,
    double[::1, :] hess,
    Py_ssize_t chunk_rows,
):
    """Add the upper triangle of ``sum_i omega_i sigma(z_i) sigma(-z_i) xa_i xa_i^T`` to
    ``hess``: the Hessian of eq. 5.23's mean loss for two classes, ``xa_i`` row i of
    ``[X / scale, 1]`` (the 1 only with ``fit_intercept``).

    Per chunk of rows, in one call without the GIL: the scores ``z_i = x_i . w + b`` by
    BLAS ``gemv`` (rows may be a strided subsample: ``lda`` is their stride), the rows of
    ``sqrt(omega_i sigma sigma') xa_i`` written into a cache-sized scratch, and one
    ``syrk`` of it. The scale is applied before squaring, so huge columns do not overflow.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        Columns contiguous; rows any positive multiple of the item size apart.
    weight : ndarray of shape (n_samples,)
        Each row's weight ``omega_i``.
    weights : ndarray of shape (n_features,), X's dtype
        ``w``.
    intercept : float
        ``b``.
    inverse_scale : ndarray of shape (n_features,)
        ``1 / scale`` (ones for X's own units).
    fit_intercept : bool
        Whether ``xa`` ends with a 1.
    single : bool
        float32 X only: the scratch and ``syrk`` in float32 (half of double's time), each
        chunk's sum added in float64; else both in float64.
    hess : ndarray of shape (width, width), Fortran-ordered float64
        ``width = n_features + fit_intercept``; its upper triangle is added to.
    chunk_rows : int
        Rows per chunk (from X's shape only, so the bits do not depend on threads).
    """
    cdef Py_ssize_t n_samples = X.shape[0], n_features = X.shape[1]
    cdef Py_ssize_t width = n_features + (1 if fit_intercept else 0)
    cdef Py_ssize_t start = 0, stop, i, j, k
    cdef Py_ssize_t row_step = X.strides[0] // sizeof(floating) if n_samples > 1 else n_features
    cdef int rows, lead, n_width = <int>width, ld_hess
    cdef char *upper = b"U"
    cdef char *plain = b"N"
    cdef double one = 1.0, root, e
    cdef float single_one = 1.0, single_zero = 0.0
    cdef floating *scores = NULL
    cdef double *scratch = NULL
    cdef float *single_scratch = NULL
    cdef float *partial = NULL
    cdef const floating *row
    cdef bint use_single = single and floating is float
    if weight.shape[0] != n_samples or weights.shape[0] != n_features:
        raise ValueError(
            f"lengths: X is {n_samples} x {n_features}, weight {weight.shape[0]}, "
            f"weights {weights.shape[0]}"
        )
    if inverse_scale.shape[0] != n_features or hess.shape[0] != width or hess.shape[1] != width:
        raise ValueError(
            f"shapes: {n_features} features, inverse_scale {inverse_scale.shape[0]}, "
            f"hess {hess.shape[0]} x {hess.shape[1]}"
        )
    if n_samples == 0 or width == 0:
        return
    if n_features > 1 and X.strides[1] != sizeof(floating):
        raise ValueError("X's columns must be contiguous")
    if X.strides[0] % sizeof(floating) or row_step < n_features:
        raise ValueError("X's rows must be a positive multiple of the item size apart")
    if not 0 < chunk_rows < 2**31 or row_step >= 2**31:
        raise ValueError(f"chunk_rows={chunk_rows}, row stride {row_step}: out of range")
    lead = <int>max(row_step, 1)
    ld_hess = <int>hess.strides[1] // sizeof(double)
    scores = <floating *>malloc(chunk_rows * sizeof(floating))
    if use_single:
        single_scratch = <float *>malloc(chunk_rows * width * sizeof(float))
        partial = <float *>malloc(width * width * sizeof(float))
    else:
        scratch = <double *>malloc(chunk_rows * width * sizeof(double))
    if scores == NULL or (scratch == NULL and (single_scratch == NULL or partial == NULL)):
        free(scores)
        free(scratch)
        free(single_scratch)
        free(partial)
        raise MemoryError()
    with nogil:
        while start < n_samples:
            stop = min(start + chunk_rows, n_samples)
            rows = <int>(stop - start)
            if n_features > 0:
                _gemv(b"T", <int>n_features, rows, &X[start, 0], &weights[0], 0.0, scores,
                      lead)
            else:
                for i in range(rows):
                    scores[i] = 0.0
            for i in range(rows):
                # sigma(z) sigma(-z) = e / (1 + e)^2, e = exp(-|z|): exact for huge |z|.
                e = exp(-fabs(scores[i] + intercept))
                root = sqrt(weight[start + i] * e) / (1.0 + e)
                row = &X[start + i, 0] if n_features > 0 else NULL
                if use_single:
                    for j in range(n_features):
                        single_scratch[i * width + j] = <float>(row[j] * inverse_scale[j] * root)
                    if fit_intercept:
                        single_scratch[i * width + n_features] = <float>root
                else:
                    for j in range(n_features):
                        scratch[i * width + j] = row[j] * inverse_scale[j] * root
                    if fit_intercept:
                        scratch[i * width + n_features] = root
            if use_single:
                _ssyrk(upper, plain, &n_width, &rows, &single_one, single_scratch, &n_width,
                       &single_zero, partial, &n_width)
                for k in range(width):
                    for j in range(k + 1):
                        hess[j, k] += partial[k * width + j]
            else:
                _dsyrk(upper, plain, &n_width, &rows, &one, scratch, &n_width, &one,
                       &hess[0, 0], &ld_hess)
            start = stop
    free(scores)
    free(scratch)
    free(single_scratch)
    free(partial)


def multinomial_hessian(
    const floating[:, :] X,
    const double[::1] weight,
    const floating[:, ::1] weights,
    const double[::1] intercept,
    const double[::1] inverse_scale,
    bint fit_intercept,
    double[::1, :] hess,
    Py_ssize_t chunk_rows,
):
    """Add the upper triangle of the K-class Hessian of the mean cross-entropy to ``hess``:
    block ``(k, l)`` is ``sum_i omega_i (p_ik delta_kl - p_ik p_il) xa_i xa_i^T``, ``p_i``
    the softmax of row i's scores and ``xa_i`` row i of ``[X / scale, 1]``.

    Per chunk of rows, in one call without the GIL: the scores by BLAS ``gemm`` (rows may
    be a strided subsample), the softmax, then the ``-p p^T`` part of every block by one
    ``syrk`` of the rows ``sqrt(omega_i) p_ik xa_i`` side by side, and each diagonal block's
    ``p_ik`` part by a ``syrk`` of ``sqrt(omega_i p_ik) xa_i``: the same sums as numpy's
    chunks (:meth:`celr._gram.GramMatrices.accumulate_hessian`), in float64.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        Columns contiguous; rows any positive multiple of the item size apart.
    weight : ndarray of shape (n_samples,)
    weights : ndarray of shape (K, n_features), C-ordered, X's dtype
    intercept : ndarray of shape (K,)
    inverse_scale : ndarray of shape (n_features,)
    fit_intercept : bool
    hess : ndarray of shape (K width, K width), Fortran-ordered float64
        ``width = n_features + fit_intercept``; its upper triangle is added to.
    chunk_rows : int
    """
    cdef Py_ssize_t n_samples = X.shape[0], n_features = X.shape[1]
    cdef Py_ssize_t n_classes = weights.shape[0]
    cdef Py_ssize_t width = n_features + (1 if fit_intercept else 0)
    cdef Py_ssize_t size = n_classes * width
    cdef Py_ssize_t start = 0, stop, i, j, k, offset
    cdef Py_ssize_t row_step = X.strides[0] // sizeof(floating) if n_samples > 1 else n_features
    cdef int rows, lead, n_k = <int>n_classes, n_p = <int>n_features
    cdef int n_size = <int>size, n_width = <int>width, ld_hess
    cdef char *upper = b"U"
    cdef char *plain = b"N"
    cdef double one = 1.0, minus_one = -1.0, top, norm, root, factor
    cdef floating *scores = NULL
    cdef double *proba = NULL
    cdef double *stacked = NULL
    cdef const floating *row
    if weight.shape[0] != n_samples or weights.shape[1] != n_features:
        raise ValueError(
            f"lengths: X is {n_samples} x {n_features}, weight {weight.shape[0]}, "
            f"weights {weights.shape[0]} x {weights.shape[1]}"
        )
    if (
        intercept.shape[0] != n_classes or inverse_scale.shape[0] != n_features
        or hess.shape[0] != size or hess.shape[1] != size
    ):
        raise ValueError(
            f"shapes: {n_classes} classes, {n_features} features; intercept "
            f"{intercept.shape[0]}, inverse_scale {inverse_scale.shape[0]}, hess "
            f"{hess.shape[0]} x {hess.shape[1]}"
        )
    if n_samples == 0 or size == 0:
        return
    if n_features > 1 and X.strides[1] != sizeof(floating):
        raise ValueError("X's columns must be contiguous")
    if X.strides[0] % sizeof(floating) or row_step < n_features:
        raise ValueError("X's rows must be a positive multiple of the item size apart")
    if not 0 < chunk_rows < 2**31 or row_step >= 2**31 or size >= 2**31:
        raise ValueError(f"chunk_rows={chunk_rows}, row stride {row_step}: out of range")
    lead = <int>max(row_step, 1)
    ld_hess = <int>hess.strides[1] // sizeof(double)
    scores = <floating *>malloc(chunk_rows * n_classes * sizeof(floating))
    proba = <double *>malloc(chunk_rows * n_classes * sizeof(double))
    stacked = <double *>malloc(chunk_rows * size * sizeof(double))
    if scores == NULL or proba == NULL or stacked == NULL:
        free(scores)
        free(proba)
        free(stacked)
        raise MemoryError()
    with nogil:
        while start < n_samples:
            stop = min(start + chunk_rows, n_samples)
            rows = <int>(stop - start)
            if n_features > 0:
                _gemm(b"T", b"N", n_k, rows, n_p, &weights[0, 0], n_p, &X[start, 0], lead,
                      0.0, scores, n_k)
            else:
                for i in range(rows * n_classes):
                    scores[i] = 0.0
            for i in range(rows):
                top = scores[i * n_classes] + intercept[0]
                for k in range(n_classes):
                    proba[i * n_classes + k] = scores[i * n_classes + k] + intercept[k]
                    if proba[i * n_classes + k] > top:
                        top = proba[i * n_classes + k]
                norm = 0.0
                for k in range(n_classes):
                    proba[i * n_classes + k] = exp(proba[i * n_classes + k] - top)
                    norm += proba[i * n_classes + k]
                for k in range(n_classes):
                    proba[i * n_classes + k] /= norm
                # the rows sqrt(omega_i) p_ik xa_i, K of them side by side
                root = sqrt(weight[start + i])
                row = &X[start + i, 0] if n_features > 0 else NULL
                for k in range(n_classes):
                    factor = root * proba[i * n_classes + k]
                    offset = i * size + k * width
                    for j in range(n_features):
                        stacked[offset + j] = row[j] * inverse_scale[j] * factor
                    if fit_intercept:
                        stacked[offset + n_features] = factor
            _dsyrk(upper, plain, &n_size, &rows, &minus_one, stacked, &n_size, &one,
                   &hess[0, 0], &ld_hess)
            for k in range(n_classes):
                # each diagonal block's sum_i omega_i p_ik xa_i xa_i^T
                for i in range(rows):
                    factor = sqrt(weight[start + i] * proba[i * n_classes + k])
                    row = &X[start + i, 0] if n_features > 0 else NULL
                    offset = i * width
                    for j in range(n_features):
                        stacked[offset + j] = row[j] * inverse_scale[j] * factor
                    if fit_intercept:
                        stacked[offset + n_features] = factor
                _dsyrk(upper, plain, &n_width, &rows, &one, stacked, &n_width, &one,
                       &hess[k * width, k * width], &ld_hess)
            start = stop
    free(scores)
    free(proba)
    free(stacked)
