# BLAS for the compiled passes: scipy's (the functions ``scipy.linalg.cython_blas`` exports),
# reached through its capsules at import, so no BLAS headers or scipy are needed to build.
# Included by _dense_kernel.pyx and _hessian_kernel.pyx.

from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer
from cython cimport floating

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
