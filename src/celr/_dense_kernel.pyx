# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False
"""The value and gradient of dense rows, one compiled pass (eq. 5.23; softmax for K
classes), and the columns' weighted moments in one read.

numpy's chunked pass read X once, but held the GIL between its per-chunk BLAS calls and
temporaries: two threads evaluating row blocks waited for each other (500,000 x 100, two
classes, value and gradient on two threads: 111 ms, against 88 ms for one thread), and
wide rows, whose cache-sized chunks are a few dozen rows, could not be chunked at all.
Here a row block is one call without the GIL: per chunk of rows, the scores by one BLAS
product (``gemv``; ``gemm`` for K classes), the loss and residual in one loop, and the
gradient by a second product while the chunk is still in cache (the same measurement:
41 ms on two threads; 20,000 x 2,000: 28 -> 18 ms; 200,000 x 50, 10 classes, one thread,
123 -> 64 ms). BLAS is scipy's (``_blas.pxi``).
"""

from cython cimport floating
from libc.math cimport exp, fabs, isfinite, log, log1p, sqrt
from libc.stdlib cimport free, malloc

import numpy as np

include "_blas.pxi"


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
            _chunk_scores(1, <int>n_features, rows, &X[start, 0], <int>n_features,
                          &weights[0] if n_features else NULL, scores)
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
            _chunk_scores(n_k, n_p, rows, &X[start, 0], n_p,
                          &weights[0, 0] if n_features else NULL, scores)
            for i in range(rows):
                w_i = weight[start + i]
                label = y[start + i]
                top = _softmax_terms(&scores[i * n_classes], &intercept[0], n_classes, shifted)
                norm = 0.0
                for k in range(n_classes):
                    norm += shifted[k]
                # -log softmax(z)_y = log(sum_k exp(z_k - top)) - (z_y - top)
                label_score = scores[i * n_classes + label] + intercept[label] - top
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
    d^2 W_a W_c / (W_a + W_c)`` with ``d = m_c - m_a``. Rows of zero weight add nothing,
    but a NaN or inf in them still makes its column's mean NaN (``0 * inf`` is NaN); the
    rare chunk of zero weight only, skipped by the merge, is scanned for them instead: so
    the means are finite only where X is (the caller's finite check, in the same read).

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
    unweighted_finite : bool
        Whether every value in chunks of zero total weight is finite.
    """
    cdef Py_ssize_t n_samples = X.shape[0], n_features = X.shape[1]
    cdef Py_ssize_t start = 0, stop, i, j
    cdef double total = 0.0, chunk_total, share, delta, w
    cdef bint unweighted_finite = True
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
            else:
                for i in range(start, stop):
                    for j in range(n_features):
                        unweighted_finite &= isfinite(X[i, j])
            start = stop
    return total, mean_out, square_out, unweighted_finite
