# BLAS for the compiled passes: scipy's (the functions ``scipy.linalg.cython_blas`` exports),
# reached through its capsules at import, so no BLAS headers or scipy are needed to build.
# Included by _dense_kernel.pyx and _hessian_kernel.pyx.

from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer
from cython cimport floating
from libc.math cimport exp

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


cdef inline void _chunk_scores(
    int n_scores, int n_features, int rows, const floating *X, int lead,
    const floating *weights, floating *scores,
) noexcept nogil:
    """The scores of a chunk of ``rows`` rows without intercept, C-ordered (rows,
    n_scores): ``gemv`` for one score (``weights`` the n_features of w), ``gemm`` for K
    (``weights`` C-ordered (K, n_features): W^T column-major, and the chunk X^T with
    leading dimension ``lead``); zeros without features."""
    cdef Py_ssize_t i
    if n_features == 0:
        for i in range(rows * n_scores):
            scores[i] = 0.0
    elif n_scores == 1:
        _gemv(b"T", n_features, rows, X, weights, 0.0, scores, lead)
    else:
        _gemm(b"T", b"N", n_scores, rows, n_features, weights, n_features, X, lead, 0.0,
              scores, n_scores)


cdef inline double _softmax_terms(
    const floating *scores, const double *intercept, Py_ssize_t n_classes, double *terms,
) noexcept nogil:
    """``terms[k] = exp(z_k - max z)`` for one row's ``z = scores + intercept`` (no
    overflow, and the largest term is 1, so no ``log 0``); returns ``max z``. Their sum is
    the softmax's normaliser in units of ``exp(max z)``."""
    cdef Py_ssize_t k
    cdef double top = scores[0] + intercept[0]
    for k in range(n_classes):
        terms[k] = scores[k] + intercept[k]
        if terms[k] > top:
            top = terms[k]
    for k in range(n_classes):
        terms[k] = exp(terms[k] - top)
    return top


cdef int _row_lead(const floating[:, :] X) except -1:
    """The rows' leading dimension for BLAS (elements from one row to the next): X's
    columns must be contiguous and its rows a positive multiple of the item size apart
    (a row subsample ``X[::k]``); ValueError otherwise."""
    cdef Py_ssize_t n_rows = X.shape[0], n_features = X.shape[1]
    cdef Py_ssize_t step = X.strides[0] // sizeof(floating) if n_rows > 1 else n_features
    if n_features > 1 and X.strides[1] != sizeof(floating):
        raise ValueError("X's columns must be contiguous")
    if X.strides[0] % sizeof(floating) or step < n_features:
        raise ValueError("X's rows must be a positive multiple of the item size apart")
    if step >= 2**31:
        raise ValueError(f"row stride {step}: out of range")
    return <int>max(step, 1)
