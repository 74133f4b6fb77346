"""The compiled Hessians of dense rows (celr._hessian_kernel, two and K classes) against
independent float64 references, within their rounding bounds; strided row subsamples,
huge scores and bad sizes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from celr._fused import compiled_reads
from celr._hessian_kernel import binary_hessian, multinomial_hessian
from celr._objective import LogisticObjective


def reference_hessian(X, weight, w, b, inverse_scale, fit_intercept):
    """``Xa^T diag(omega sigma(z) sigma(-z)) Xa``, ``Xa = [X / scale, 1]``, in float64."""
    X = np.asarray(X, dtype=np.float64)
    z = X @ w + b
    curvature = weight * expit(z) * expit(-z)
    Xa = X * inverse_scale
    if fit_intercept:
        Xa = np.column_stack([Xa, np.ones(len(X))])
    return Xa.T @ (Xa * curvature[:, None]), np.abs(Xa).T @ (np.abs(Xa) * curvature[:, None])


def relative_bound(X, w, b, chunk_rows, scratch_dtype) -> float:
    """Each entry sums n products c_i a_ij a_ik, the rows rounded to the scratch's precision
    u_s and summed in it (a chunk's rows at a time, then in float64): (chunk + 8) u_s
    relative to the sum of the terms' sizes. The curvature c_i moves with its score's
    rounding, at most (d + 2) u_X |z| (|z| the sum of the score's terms' sizes), and
    |dc/dz| <= c: that relative error again."""
    u_scratch, u_x = np.finfo(scratch_dtype).eps, np.finfo(X.dtype).eps
    score_size = np.abs(X.astype(np.float64)) @ np.abs(w) + abs(b)
    return (chunk_rows + 8) * u_scratch + (X.shape[1] + 2) * u_x * float(score_size.max())


def kernel_hessian(X, weight, w, b, inverse_scale, fit_intercept, single, chunk_rows):
    width = X.shape[1] + fit_intercept
    hess = np.zeros((width, width), order="F")
    binary_hessian(
        X, weight, w.astype(X.dtype), b, inverse_scale, fit_intercept, single, hess, chunk_rows
    )
    return hess


@pytest.mark.parametrize("stride", [1, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(
    "dtype, single", [(np.float64, False), (np.float32, False), (np.float32, True)]
)
def test_binary_hessian_matches_the_reference(dtype, single, fit_intercept, stride):
    rng = np.random.default_rng(0)
    n, d, chunk_rows = 900, 9, 128
    base = (rng.normal(size=(stride * n, d)) * rng.uniform(0.1, 10, d)).astype(dtype)
    X = base[::stride]  # a row subsample, as Newton's Hessian reads it
    weight = rng.uniform(0, 2, n) / n
    w, b = rng.normal(scale=0.3, size=d), 0.4
    inverse_scale = 1.0 / rng.uniform(0.1, 10, d)
    got = kernel_hessian(X, weight, w, b, inverse_scale, fit_intercept, single, chunk_rows)
    exact, sizes = reference_hessian(X, weight, w.astype(dtype), b, inverse_scale, fit_intercept)
    upper = np.triu_indices(len(got))
    assert np.all(np.tril(got, -1) == 0.0)  # only the upper triangle is written
    relative = relative_bound(X, w, b, chunk_rows, np.float32 if single else np.float64)
    assert np.all(np.abs(got[upper] - exact[upper]) <= relative * sizes[upper])


def test_strided_rows_read_as_their_copy():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(3000, 5))
    X = base[::4]
    weight, w, inverse_scale = np.full(750, 1 / 750), rng.normal(size=5), np.ones(5)
    strided = kernel_hessian(X, weight, w, -0.2, inverse_scale, True, False, 64)
    copied = kernel_hessian(
        np.ascontiguousarray(X), weight, w, -0.2, inverse_scale, True, False, 64
    )
    _, sizes = reference_hessian(X, weight, w, -0.2, inverse_scale, True)
    bound = 2 * relative_bound(X, w, -0.2, 64, np.float64) * sizes
    assert np.all(np.abs(np.triu(strided - copied)) <= bound)


def test_binary_hessian_is_finite_and_zero_at_huge_scores():
    # z = +-1000 (and huge columns scaled down first): sigma(z) sigma(-z) underflows to 0
    X = np.array([[1e300, 1.0], [-1e300, 1.0]])
    with np.errstate(all="raise"):
        got = kernel_hessian(
            X, np.ones(2), np.array([1e-297, 0.0]), 0.0, np.array([1e-300, 1.0]), True, False, 1
        )
    assert np.all(got == 0.0)
    # a score of 0: curvature 1/4 of each row's outer product, the 1e300 column in scale units
    got = kernel_hessian(X, np.ones(2), np.zeros(2), 0.0, np.array([1e-300, 1.0]), True, False, 1)
    np.testing.assert_allclose(
        np.triu(got), 0.25 * np.triu([[2.0, 0, 0], [0, 2, 2], [0, 0, 2]]), rtol=4e-16, atol=0
    )


@pytest.mark.parametrize(
    "X, weight, inverse_scale, hess_width, message",
    [
        (np.zeros((3, 2)), np.ones(2), np.ones(2), 3, "lengths"),
        (np.zeros((3, 2)), np.ones(3), np.ones(1), 3, "shapes"),
        (np.zeros((3, 2)), np.ones(3), np.ones(2), 2, "shapes"),
        (np.zeros((3, 4))[:, ::2], np.ones(3), np.ones(2), 3, "columns must be contiguous"),
    ],
)
def test_binary_hessian_rejects_bad_sizes(X, weight, inverse_scale, hess_width, message):
    # the kernel indexes in C without bounds checks: a mismatch would read past an array
    hess = np.zeros((hess_width, hess_width), order="F")
    with pytest.raises(ValueError, match=message):
        binary_hessian(X, weight, np.zeros(2), 0.0, inverse_scale, True, False, hess, 2)


def test_objective_hessian_reads_strided_rows_through_the_kernel():
    X = np.zeros((100, 5))
    assert compiled_reads(X[::3], strided_rows=True)
    assert not compiled_reads(X[::3])  # the value and gradient pass needs C order
    assert not compiled_reads(X[::-1], strided_rows=True)
    assert not compiled_reads(np.asfortranarray(X), strided_rows=True)
    assert not compiled_reads(X[:, ::2], strided_rows=True)
    # and the objective's Hessian of a row subsample is its copy's, to rounding
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2000, 5))
    y = rng.integers(0, 2, 2000)
    objective = LogisticObjective(X, y, np.ones(2000), 2, True)
    coef = rng.normal(size=6)
    sub = objective.row_subsample(4)
    copy = LogisticObjective(np.ascontiguousarray(X[::4]), y[::4], np.ones(500), 2, True)
    exact, sizes = reference_hessian(
        X[::4], np.full(500, 1 / 500), coef[:5], coef[5], np.ones(5), True
    )
    # one chunk at most (500 rows); the reference's own products add n + 8 u more
    bound = 2 * relative_bound(X[::4], coef[:5], coef[5], 500, np.float64) * sizes
    for hess in (sub.hessian(coef), copy.hessian(coef)):
        assert np.all(np.abs(hess - exact) <= bound)


def reference_multinomial_hessian(X, weight, W, b, inverse_scale, fit_intercept):
    """Block (k, l) = sum_i omega_i (p_ik delta_kl - p_ik p_il) xa_i xa_i^T, by einsum in
    float64, and the same sum of the terms' sizes."""
    X = np.asarray(X, dtype=np.float64)
    z = X @ W.T + b
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    Xa = X * inverse_scale
    if fit_intercept:
        Xa = np.column_stack([Xa, np.ones(len(X))])
    K, width = len(b), Xa.shape[1]
    curvature = weight[:, None, None] * (
        np.einsum("ik,kl->ikl", p, np.eye(K)) - p[:, :, None] * p[:, None, :]
    )
    hess = np.einsum("ikl,ia,ib->kalb", curvature, Xa, Xa).reshape(K * width, K * width)
    sizes = np.einsum("ikl,ia,ib->kalb", np.abs(curvature), np.abs(Xa), np.abs(Xa))
    return hess, sizes.reshape(K * width, K * width)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_multinomial_hessian_matches_the_reference(dtype, fit_intercept, stride):
    rng = np.random.default_rng(3)
    n, d, K, chunk_rows = 400, 4, 3, 64
    X = (rng.normal(size=(stride * n, d)) * rng.uniform(0.1, 10, d)).astype(dtype)[::stride]
    weight = rng.uniform(0, 2, n) / n
    W, b = rng.normal(scale=0.3, size=(K, d)), rng.normal(size=K)
    inverse_scale = 1.0 / rng.uniform(0.1, 10, d)
    size = K * (d + fit_intercept)
    got = np.zeros((size, size), order="F")
    multinomial_hessian(
        X, weight, W.astype(dtype), b, inverse_scale, fit_intercept, got, chunk_rows
    )
    exact, sizes = reference_multinomial_hessian(
        X, weight, W.astype(dtype), b, inverse_scale, fit_intercept
    )
    upper = np.triu_indices(size)
    assert np.all(np.tril(got, -1) == 0.0)
    # As for two classes (float64 scratch), plus the softmax's few roundings per p_ik and
    # its derivative: |dp/dz| <= 1 on each score, so (d + 2) u_X |z| again per factor.
    bound = 2 * relative_bound(X, np.abs(W).max(axis=0), np.abs(b).max(), chunk_rows, np.float64)
    assert np.all(
        np.abs(got[upper] - exact[upper]) <= (bound + 16 * np.finfo(float).eps) * sizes[upper]
    )


def test_multinomial_hessian_is_finite_at_huge_scores():
    X = np.array([[1.0], [-1.0]])
    W = np.array([[1000.0], [0.0], [-1000.0]])
    got = np.zeros((6, 6), order="F")
    multinomial_hessian(X, np.ones(2), W, np.zeros(3), np.ones(1), True, got, 1)
    assert np.all(got == 0.0)  # every row's softmax is a one-hot: p_k (1 - p_k) = 0


@pytest.mark.parametrize("hess_size, message", [(5, "shapes"), (6, None)])
def test_multinomial_hessian_rejects_bad_sizes(hess_size, message):
    hess = np.zeros((hess_size, hess_size), order="F")
    args = (np.zeros((3, 2)), np.ones(3), np.zeros((2, 2)), np.zeros(2), np.ones(2), True, hess, 2)
    if message is None:
        multinomial_hessian(*args)  # 2 classes x (2 features + 1)
        return
    with pytest.raises(ValueError, match=message):
        multinomial_hessian(*args)
