# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False
"""The Hessian of the mean cross-entropy over dense rows, compiled (two and K classes).

numpy's build (:meth:`celr._gram.GramMatrices.accumulate_hessian`) writes each chunk of
rows ``[X / scale, 1]``, times the square roots of their curvature, into a scratch and
hands it to BLAS ``syrk``; between the calls it holds the GIL, and a chunk's copies,
scalings and temporaries cost more than its ``syrk`` (the 125,000 x 101 row subsample of a
500,000-row Newton fit: ``syrk`` 29 ms of 128-131 ms). Here a row block is one call
without the GIL: scores by BLAS, curvature, scaled rows and ``syrk`` per chunk (57-74 ms).
Rows may be a strided subsample ``X[::k]``, read in place through BLAS's leading
dimension (Newton's Hessian is built from every k-th row).
"""

from cython cimport floating
from libc.math cimport exp, fabs, sqrt
from libc.stdlib cimport free, malloc

include "_blas.pxi"


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
    lead = _row_lead(X)
    if not 0 < chunk_rows < 2**31:
        raise ValueError(f"chunk_rows={chunk_rows}: out of range")
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
            _chunk_scores(1, <int>n_features, rows, &X[start, 0], lead,
                          &weights[0] if n_features else NULL, scores)
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
    cdef int rows, lead, n_k = <int>n_classes, n_p = <int>n_features
    cdef int n_size = <int>size, n_width = <int>width, ld_hess
    cdef char *upper = b"U"
    cdef char *plain = b"N"
    cdef double one = 1.0, minus_one = -1.0, norm, root, factor
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
    lead = _row_lead(X)
    if not 0 < chunk_rows < 2**31 or size >= 2**31:
        raise ValueError(f"chunk_rows={chunk_rows}, {size} parameters: out of range")
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
            _chunk_scores(n_k, n_p, rows, &X[start, 0], lead,
                          &weights[0, 0] if n_features else NULL, scores)
            for i in range(rows):
                _softmax_terms(&scores[i * n_classes], &intercept[0], n_classes,
                               &proba[i * n_classes])
                norm = 0.0
                for k in range(n_classes):
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
