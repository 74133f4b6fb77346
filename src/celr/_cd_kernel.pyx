# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False
"""Coordinate descent on proximal Newton's local model, over CSC columns, compiled.

The model of a two-class fit at ``(W, b)`` (:mod:`celr.solvers.prox_newton`) is, in the
step ``(d, d_b)``::

    m(d) = g . d + g_b d_b + 1/2 sum_i h_i q_i^2 + 1/2 sum_j l2_j d_j^2
           + sum_j l1_j |W_j + d_j|,          q = X d + d_b,

with ``g`` the smooth gradient (the textbook's ``(sigma(w . x + b) - y) x_j`` averaged
with the weights, eq. 5.29, plus the L2 term) and ``h_i = s_i p_i (1 - p_i) / S`` the
curvature of row ``i``'s cross-entropy. One coordinate's exact minimiser is a soft
threshold (Friedman, Hastie & Tibshirani 2010)::

    W_j + d_j <- S(W_j + d_j - m_j / a_j, l1_j / a_j),   a_j = sum_i h_i x_ij^2 + l2_j,

with ``m_j = g_j + l2_j d_j + sum_i h_i x_ij q_i`` the model's partial derivative; it
reads column ``j`` twice (its product with ``h q`` and the update of ``q``), so a sweep
over a working set costs the set's stored entries, not the whole of X. numpy cannot
take one coordinate at a time (a Python call per coordinate: 2 us against 0.1 us for
a 77-entry column).
"""

import numpy as np

from cython cimport floating
from libc.math cimport fabs, fmax

ctypedef fused index_t:
    int
    long long

_NO_PIVOT = np.zeros(0)


cdef inline double _soft_threshold(double x, double threshold) noexcept nogil:
    if x > threshold:
        return x - threshold
    if x < -threshold:
        return x + threshold
    return 0.0


ctypedef struct Sweep:
    double total_curvature    # H = sum_i h_i c_i^2 (c the pivot: ones for b)
    double grad_intercept     # g_b (the pivot's g_0, its L1 term's slope included)
    double intercept_step     # d_b (d_0)
    double curved_sum         # sum_i h_i c_i s_i, s = X d
    double pivot_l2           # the pivot's L2 curvature (0 for an intercept)
    bint centred              # coordinates move along e_j - mu_j e_b (an intercept)


cdef inline double _coordinate(
    Py_ssize_t k,
    Sweep *state,
    const floating[::1] data,
    const index_t[::1] indices,
    const index_t[::1] indptr,
    const Py_ssize_t[::1] working,
    const double[::1] curvature,
    const double[::1] grad,
    const double[::1] coef,
    const double[::1] l1,
    const double[::1] l2,
    const double[::1] unit,
    const double[:, ::1] moments,
    double[::1] step,
    double[::1] xstep,
) noexcept nogil:
    """Working entry ``k``'s exact step; returns its ``a |delta| / param_scale``."""
    cdef double a = moments[k, 0], mean = moments[k, 1], partial, value, delta
    cdef Py_ssize_t j = working[k]
    cdef index_t entry
    if a <= 0.0:
        return 0.0  # a column without curvature or L2: the model is flat along it
    partial = grad[k] + l2[k] * step[k]
    for entry in range(indptr[j], indptr[j + 1]):
        partial += curvature[indices[entry]] * data[entry] * xstep[indices[entry]]
    if state.centred:
        # Along (e_j - mean e_b), where the intercept's partial derivative is ~0 and the
        # move keeps it so: the partial of the uncentred model minus mean times b's.
        partial += mean * state.total_curvature * state.intercept_step
        partial -= mean * (
            state.grad_intercept + state.curved_sum
            + (state.total_curvature + state.pivot_l2) * state.intercept_step
        )
    value = coef[k] + step[k]
    delta = _soft_threshold(value - partial / a, l1[k] / a) - value
    if delta == 0.0:
        return 0.0
    step[k] += delta
    for entry in range(indptr[j], indptr[j + 1]):
        xstep[indices[entry]] += delta * data[entry]
    if state.centred:
        state.curved_sum += delta * mean * state.total_curvature
        state.intercept_step -= mean * delta
    return a * fabs(delta) * unit[k]


def column_moments(
    const floating[::1] data,
    const index_t[::1] indices,
    const index_t[::1] indptr,
    const Py_ssize_t[::1] working,
    const double[::1] curvature,
    const double[::1] l2,
    bint fit_intercept,
    const double[::1] pivot=None,
    double pivot_l2=0.0,
):
    """The working columns' moments under ``h``, for :func:`model_sweeps`.

    Returns
    -------
    moments : ndarray of shape (n_working, 2)
        Per column the curvature ``a_j`` of its coordinate's move and its ``h``-weighted
        mean ``mu_j = sum_i h_i x_ij / H``. With an intercept (and ``H > 0``) a move is
        along ``e_j - mu_j e_b``, which keeps the intercept's partial derivative and
        decouples the column from the column of ones (non-negative tf-idf columns are
        all correlated with it: plain coordinate descent then took 200 sweeps and still
        had not converged), with curvature ``sum_i h_i x_ij^2 - H mu_j^2 + l2_j``;
        without, along ``e_j``: ``sum_i h_i x_ij^2 + l2_j`` and ``mu_j = 0``.
        With a ``pivot`` column ``c`` instead (no intercept), the same with ``c`` for the
        column of ones: ``mu_j = sum_i h_i x_ij c_i / H`` and the curvature of
        ``e_j - mu_j e_0`` is ``sum_i h_i x_ij^2 - H mu_j^2 + l2_j + mu_j^2 pivot_l2``.
    total_curvature : float
        ``H = sum_i h_i`` (with a pivot ``sum_i h_i c_i^2``).
    """
    cdef Py_ssize_t i, n_rows = curvature.shape[0]
    cdef double total = 0.0
    if pivot is None:
        pivot = _NO_PIVOT
    cdef bint pivoted = pivot.shape[0] > 0
    with nogil:
        if pivoted:
            for i in range(n_rows):
                total += curvature[i] * pivot[i] * pivot[i]
        else:
            for i in range(n_rows):
                total += curvature[i]
    moments = _moments(
        data, indices, indptr, working, curvature, l2,
        total if (fit_intercept or pivoted) and total > 0.0 else 0.0,
        pivot, pivot_l2,
    )
    return np.asarray(moments), total


def model_sweeps(
    const floating[::1] data,
    const index_t[::1] indices,
    const index_t[::1] indptr,
    const Py_ssize_t[::1] working,
    const double[::1] curvature,
    const double[::1] grad,
    const double[::1] coef,
    const double[::1] l1,
    const double[::1] l2,
    const double[::1] unit,
    const double[:, ::1] moments,
    double total_curvature,
    double[::1] step,
    double[::1] xstep,
    bint fit_intercept,
    double grad_intercept,
    double intercept_step,
    double tol,
    Py_ssize_t max_sweeps,
    const double[::1] pivot=None,
    double pivot_l2=0.0,
    double pivot_unit=1.0,
):
    """Sweeps of coordinate descent on the model over ``working``'s columns (and ``b``).

    Parameters
    ----------
    data, indices, indptr
        X in CSC form.
    working : ndarray of intp
        The columns the step may change (the others keep ``d_j = 0``).
    curvature : ndarray of shape (n_samples,)
        ``h_i``.
    grad, coef, l1, l2, unit
        Per working column: the smooth gradient ``g_j``, ``W_j``, the L1 weight, the L2
        curvature and ``1 / param_scale_j`` (the unit of the stopping test).
    moments, total_curvature
        From :func:`column_moments`.
    step : ndarray of shape (n_working,)
        ``d``, changed in place (zeros, or where earlier sweeps left it).
    xstep : ndarray of shape (n_samples,)
        ``q = X d + d_b`` of the given ``step`` and ``intercept_step``, kept so.
    fit_intercept : bool
        Whether ``b`` moves too (unpenalised, every row's column of ones).
    grad_intercept, intercept_step : float
        ``g_b`` and ``d_b``.
    tol : float
        Stop after a sweep whose largest ``a_j |delta_j| / param_scale_j`` (the model's
        partial derivative before the coordinate's step, in standardised units, as
        ``stop_crit``) is at most ``tol``.
    max_sweeps : int
    pivot : ndarray of shape (n_samples,), optional
        Without an intercept, a column ``c`` (dense, not in ``working``) that takes the
        intercept's part: its weight's step ``d_0`` is ``intercept_step``, its
        gradient (with its L1 term's slope at its sign) ``grad_intercept``, and every
        other coordinate moves along ``e_j - mu_j e_0``. A column stored in every row is
        nearly an intercept, and plain coordinate descent is as slow against it as
        against the column of ones. Exact while the pivot's weight keeps its sign.
    pivot_l2, pivot_unit : float
        The pivot's L2 curvature and ``1 / param_scale`` (the intercept's unit is 1).

    Returns
    -------
    intercept_step : float
        ``d_b`` after the sweeps.
    n_sweeps : int
    last_change : float
        The last sweep's largest ``a_j |delta_j| / param_scale_j``.

    Examples
    --------
    One row ``x = 1``, ``h = 1/4``, ``g = -1/2`` and no penalty: the model's minimiser is
    Newton's step ``-g / h = 2``.

    >>> import numpy as np, scipy.sparse as sp
    >>> X = sp.csc_matrix(np.array([[1.0]]))
    >>> args = (X.data, X.indices, X.indptr, np.array([0], dtype=np.intp), np.array([0.25]))
    >>> moments, total = column_moments(*args, np.zeros(1), False)
    >>> step, xstep = np.zeros(1), np.zeros(1)
    >>> model_sweeps(*args, np.array([-0.5]), np.zeros(1), np.zeros(1), np.zeros(1),
    ...     np.ones(1), moments, total, step, xstep, False, 0.0, 0.0, 1e-12, 10)[1], step
    (2, array([2.]))
    """
    cdef Py_ssize_t k, i, n_working = working.shape[0], n_rows = curvature.shape[0]
    cdef Py_ssize_t sweep = 0
    cdef double change = 0.0, intercept_partial
    cdef Sweep state
    if pivot is None:
        pivot = _NO_PIVOT
    cdef bint pivoted = pivot.shape[0] > 0
    state.total_curvature = total_curvature
    state.centred = (fit_intercept or pivoted) and total_curvature > 0.0
    state.grad_intercept = grad_intercept
    state.intercept_step = intercept_step
    state.curved_sum = 0.0
    state.pivot_l2 = pivot_l2
    with nogil:
        # q = s + d_b with s = X d kept sparse: a centred coordinate's move shifts the
        # intercept, a scalar, not every row's q.
        if fit_intercept:
            for i in range(n_rows):
                xstep[i] -= intercept_step
                state.curved_sum += curvature[i] * xstep[i]
        elif pivoted:
            for i in range(n_rows):
                xstep[i] -= intercept_step * pivot[i]
                state.curved_sum += curvature[i] * pivot[i] * xstep[i]
        while sweep < max_sweeps:
            sweep += 1
            change = 0.0
            for k in range(n_working):
                change = fmax(change, _coordinate(
                    k, &state, data, indices, indptr, working, curvature, grad, coef, l1,
                    l2, unit, moments, step, xstep))
            if state.centred:
                intercept_partial = (
                    state.grad_intercept + state.curved_sum
                    + (state.total_curvature + state.pivot_l2) * state.intercept_step
                )
                state.intercept_step -= intercept_partial / (
                    state.total_curvature + state.pivot_l2
                )
                change = fmax(change, fabs(intercept_partial) * pivot_unit)
            if change <= tol:
                break
        if fit_intercept:
            for i in range(n_rows):
                xstep[i] += state.intercept_step
        elif pivoted:
            for i in range(n_rows):
                xstep[i] += state.intercept_step * pivot[i]
    return state.intercept_step, sweep, change


cdef double[:, ::1] _moments(
    const floating[::1] data,
    const index_t[::1] indices,
    const index_t[::1] indptr,
    const Py_ssize_t[::1] working,
    const double[::1] curvature,
    const double[::1] l2,
    double total_curvature,
    const double[::1] pivot,
    double pivot_l2,
):
    """Per working column: the curvature ``a_j`` of the coordinate's move and the column's
    ``h``-weighted mean ``mu_j = sum_i h_i x_ij / H`` (``H = sum_i h_i``). With
    ``total_curvature`` 0 (no intercept) the move is along ``e_j`` alone:
    ``a_j = sum_i h_i x_ij^2 + l2_j``, ``mu_j = 0``; else along ``e_j - mu_j e_b``, whose
    curvature is ``sum_i h_i x_ij^2 - H mu_j^2 + l2_j`` (with a ``pivot`` ``c``,
    ``mu_j = sum_i h_i x_ij c_i / H`` and ``mu_j^2 pivot_l2`` more)."""
    cdef Py_ssize_t n_working = working.shape[0], k, j
    cdef index_t entry
    cdef double squares, first, mean
    cdef double[:, ::1] moments = cython_zeros((n_working, 2))
    cdef bint pivoted = pivot.shape[0] > 0
    with nogil:
        for k in range(n_working):
            j = working[k]
            squares = 0.0
            first = 0.0
            if pivoted:
                for entry in range(indptr[j], indptr[j + 1]):
                    squares += curvature[indices[entry]] * data[entry] * data[entry]
                    first += curvature[indices[entry]] * data[entry] * pivot[indices[entry]]
            else:
                for entry in range(indptr[j], indptr[j + 1]):
                    squares += curvature[indices[entry]] * data[entry] * data[entry]
                    first += curvature[indices[entry]] * data[entry]
            mean = first / total_curvature if total_curvature > 0.0 else 0.0
            moments[k, 0] = fmax(squares - mean * first, 0.0) + l2[k] + mean * mean * pivot_l2
            moments[k, 1] = mean
    return moments


cdef cython_zeros(shape, dtype=np.float64):
    return np.zeros(shape, dtype=dtype)
