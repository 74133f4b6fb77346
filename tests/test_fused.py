"""The one-pass value and gradient of dense rows (celr._fused and its compiled passes for two
and K classes, celr._dense_kernel) against the independent reference, within their
rounding bounds, and the textbook's worked numbers."""

from __future__ import annotations

import numpy as np
import pytest

from celr._dense_kernel import binary_value_grad, multinomial_value_grad
from celr._fused import KERNEL_CHUNK_BYTES, kernel_rows
from celr._objective import LogisticObjective
from tests.conftest import reference_loss


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_fused_value_grad_matches_the_reference(n_classes, dtype):
    rng = np.random.default_rng(0)
    # Chunks of 60 columns, 256 KB: 546 (float64) or 1092 rows, 6-11 chunks.
    n, d = 6000, 60
    X = (rng.normal(size=(n, d)) * rng.uniform(0.1, 10, d)).astype(dtype)
    y = rng.integers(0, n_classes, n)
    w = rng.uniform(0, 2, n)
    objective = LogisticObjective(X, y, w, n_classes, True)
    chunk_rows = objective._kernel_rows
    assert chunk_rows is not None and chunk_rows < n
    n_scores = objective.n_scores
    coef = rng.normal(scale=0.1, size=objective.n_params)
    value, grad = objective.value_grad(coef)
    W, b = objective.unpack(coef)
    X64 = X.astype(np.float64)
    ref_value, ref_W, ref_b = reference_loss(X64, y, w, W, b)
    # Both sum n products of d + 1 terms in X's precision u: at most (n + d + 4) u times
    # the sum of the terms' absolute values (Higham eq. 3.5), weighted as the sums are.
    u = np.finfo(dtype).eps
    share = w / w.sum()
    sizes = np.abs(X64) @ np.abs(W).T + np.abs(b)  # |z| per row and score
    assert abs(value - ref_value) <= (n + d + 4) * u * (share @ (1 + sizes.max(axis=1)))
    bound_W = (n + d + 4) * u * np.tile(share @ np.abs(X64), (n_scores, 1)) * (1 + sizes.max())
    got_W, got_b = objective.unpack(grad)
    assert np.all(np.abs(got_W - ref_W) <= bound_W)
    # the residuals come from scores computed in X's precision
    assert np.all(np.abs(got_b - ref_b) <= (n + d + 4) * u * (1 + sizes.max()))


def test_only_c_ordered_float_rows_take_the_compiled_pass():
    X = np.zeros((100, 50))
    assert kernel_rows(X) == KERNEL_CHUNK_BYTES // (8 * 50)
    assert kernel_rows(X.astype(np.float32)) == KERNEL_CHUNK_BYTES // (4 * 50)
    assert kernel_rows(np.zeros((10, 10**6))) == 1  # a row wider than a chunk
    assert kernel_rows(X[::2]) is None
    assert kernel_rows(np.asfortranarray(X)) is None
    assert kernel_rows(X.astype(np.float16)) is None
    assert kernel_rows(np.zeros((0, 5))) is None


# The textbook's sentiment example (section 5.2): w . x + b = 0.833, P(+) = 0.70; the loss
# is 0.36 for y = 1 and 1.20 for y = 0 (eq. 5.23, section 5.5). The book rounds P(+) =
# 0.6969 before taking logs; unrounded, the losses are 0.361 and 1.194.
BOOK_X = np.array([[3.0, 2.0, 1.0, 3.0, 0.0, 4.19]])
BOOK_W = np.array([2.5, -5.0, -1.2, 0.5, 2.0, 0.7])
BOOK_B = 0.1


@pytest.mark.parametrize("label, loss", [(1, 0.36), (0, 1.20)])
def test_compiled_pass_gives_the_textbook_losses_and_gradient(label, loss):
    grad = np.zeros(6)
    value, residual = binary_value_grad(
        BOOK_X, np.array([label]), np.ones(1), BOOK_W, BOOK_B, grad, 1
    )
    assert value == pytest.approx(loss, abs=0.01)
    p_positive = 1.0 / (1.0 + np.exp(-(BOOK_X[0] @ BOOK_W + BOOK_B)))
    assert round(p_positive, 2) == 0.70
    p_label = p_positive if label == 1 else 1.0 - p_positive
    assert value == pytest.approx(-np.log(p_label), rel=8 * np.finfo(float).eps)
    # the gradient (sigma(w . x + b) - y) x_j, eq. 5.29
    np.testing.assert_allclose(residual, p_positive - label, rtol=4 * np.finfo(float).eps)
    np.testing.assert_allclose(
        grad, (p_positive - label) * BOOK_X[0], rtol=8 * np.finfo(float).eps
    )


def test_compiled_pass_is_finite_and_exact_at_huge_scores():
    # margins of +-1000: exp(-1000) underflows to 0, and the loss is the margin itself
    X = np.array([[1.0], [1.0], [-1.0]])
    y = np.array([0, 1, 1])  # at z = 1000, 1000, -1000
    grad = np.zeros(1)
    with np.errstate(all="raise"):
        value, residual = binary_value_grad(X, y, np.ones(3), np.array([1000.0]), 0.0, grad, 2)
    assert value == 2000.0  # 1000 + log1p(0) + 1000
    assert residual == 0.0  # 1 (y = 0, sigma = 1) + 0 + -1 (y = 1, sigma = 0)
    assert grad.tolist() == [2.0]  # 1 * 1 + 0 * 1 + (-1) * (-1)


def test_compiled_pass_without_features_is_the_intercepts_fit():
    grad = np.zeros(0)
    y = np.array([1, 0, 1])
    value, residual = binary_value_grad(np.zeros((3, 0)), y, np.ones(3), np.zeros(0), 0.0, grad, 2)
    assert abs(value - 3 * np.log(2.0)) <= 4 * np.finfo(float).eps
    assert residual == -0.5  # (1/2 - 1) + 1/2 + (1/2 - 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_pass_chunking_moves_only_rounding(dtype):
    rng = np.random.default_rng(3)
    n, d = 1000, 7
    X = rng.normal(size=(n, d)).astype(dtype)
    y = rng.integers(0, 2, n)
    weight = rng.uniform(0, 2, n) / n
    coef = rng.normal(size=d).astype(dtype)
    results = []
    for chunk in (1, 7, 999, n, 5 * n):
        grad = np.zeros(d)
        value, residual = binary_value_grad(X, y, weight, coef, 0.3, grad, chunk)
        results.append((value, residual, grad))
    # Each sum adds n terms of size at most weight * (1 + |z|) |x| in X's precision u:
    # orders differ by at most 2 (n + d) u times the sum of those sizes.
    u = np.finfo(dtype).eps
    size = weight @ (1 + np.abs(X.astype(float)) @ np.abs(coef.astype(float)) + 0.3)
    size_grad = (weight * (1 + np.abs(X.astype(float)) @ np.abs(coef.astype(float)))) @ np.abs(X)
    for value, residual, grad in results[1:]:
        assert abs(value - results[0][0]) <= 2 * (n + d) * u * size
        assert abs(residual - results[0][1]) <= 2 * (n + d) * u * size
        assert np.all(np.abs(grad - results[0][2]) <= 2 * (n + d) * u * size_grad)


@pytest.mark.parametrize(
    "n_rows, n_labels, n_weights, chunk_rows, message",
    [
        (2, 2, 2, 0, "chunk_rows=0"),
        (3, 2, 2, 1, "lengths"),  # unchecked indexing in C: y would be read past its end
        (3, 3, 1, 1, "lengths"),  # and so would the coefficients
    ],
)
def test_compiled_pass_rejects_bad_sizes(n_rows, n_labels, n_weights, chunk_rows, message):
    X, y = np.zeros((n_rows, 2)), np.ones(n_labels, dtype=np.intp)
    with pytest.raises(ValueError, match=message):
        binary_value_grad(X, y, np.ones(n_rows), np.zeros(n_weights), 0.0, np.zeros(2), chunk_rows)


def multinomial(X, y, weight, W, b, chunk_rows):
    grad_w, grad_b = np.zeros(W.shape), np.zeros(len(b))
    value = multinomial_value_grad(X, y, weight, W.astype(X.dtype), b, grad_w, grad_b, chunk_rows)
    return value, grad_w, grad_b


def test_multinomial_pass_is_softmax_cross_entropy():
    # one row whose scores are z itself (x = 1, W = z as a column): the loss is
    # -log softmax(z)_y and the residual softmax(z) - onehot(y)
    z = np.array([0.6, 1.1, -1.5, 1.2, 3.2, -1.1])
    softmax = np.exp(z) / np.exp(z).sum()
    value, grad_w, grad_b = multinomial(
        np.ones((1, 1)), np.array([4]), np.ones(1), z[:, None], np.zeros(6), 1
    )
    eps = np.finfo(float).eps
    assert abs(value + np.log(softmax[4])) <= 16 * eps
    residual = softmax - np.eye(6)[4]
    np.testing.assert_allclose(grad_b, residual, rtol=16 * eps, atol=16 * eps)
    np.testing.assert_allclose(grad_w[:, 0], residual, rtol=16 * eps, atol=16 * eps)


def test_multinomial_pass_is_finite_and_exact_at_huge_scores():
    # scores 1000 apart: exp underflows to 0, the loss of the wrong class is the gap itself
    X = np.array([[1.0], [1.0]])
    W = np.array([[1000.0], [0.0], [-1000.0]])
    value, grad_w, grad_b = multinomial(X, np.array([0, 2]), np.ones(2), W, np.zeros(3), 1)
    assert value == 2000.0  # 0 for the first row, 1000 - (-1000) for the second
    assert grad_b.tolist() == [1.0, 0.0, -1.0]  # (1, 0, 0) - onehot(2) for the second row
    assert grad_w[:, 0].tolist() == [1.0, 0.0, -1.0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_multinomial_pass_chunking_moves_only_rounding(dtype):
    rng = np.random.default_rng(4)
    n, d, K = 900, 7, 4
    X = rng.normal(size=(n, d)).astype(dtype)
    y = rng.integers(0, K, n)
    weight = rng.uniform(0, 2, n) / n
    W, b = rng.normal(size=(K, d)), rng.normal(size=K)
    results = [multinomial(X, y, weight, W, b, chunk) for chunk in (1, 7, 899, n, 5 * n)]
    # As for two classes: each sum adds n terms of size at most weight (2 + |z|_max) |x|,
    # with |z|_max the largest sum of a score's terms' sizes, in X's precision u.
    u = np.finfo(dtype).eps
    z_size = (np.abs(X.astype(float)) @ np.abs(W).T + np.abs(b)).max(axis=1)
    size = weight @ (2 + z_size)
    size_grad = (weight * (2 + z_size)) @ np.abs(X.astype(float))
    for value, grad_w, grad_b in results[1:]:
        assert abs(value - results[0][0]) <= 2 * (n + d + K) * u * size
        assert np.all(np.abs(grad_b - results[0][2]) <= 2 * (n + d + K) * u * size)
        assert np.all(np.abs(grad_w - results[0][1]) <= 2 * (n + d + K) * u * size_grad)


@pytest.mark.parametrize(
    "n_labels, n_classes, label, chunk_rows, message",
    [
        (2, 3, 0, 1, "lengths"),
        (3, 3, 3, 1, "not a class code"),  # shifted[y] would be read past its end
        (3, 3, -1, 1, "not a class code"),
        (3, 3, 0, 0, "chunk_rows=0"),
    ],
)
def test_multinomial_pass_rejects_bad_sizes(n_labels, n_classes, label, chunk_rows, message):
    X, y = np.zeros((3, 2)), np.full(n_labels, label, dtype=np.intp)
    with pytest.raises(ValueError, match=message):
        multinomial_value_grad(
            X, y, np.ones(3), np.zeros((n_classes, 2)), np.zeros(n_classes),
            np.zeros((n_classes, 2)), np.zeros(n_classes), chunk_rows,
        )  # fmt: skip


@pytest.mark.parametrize("n_classes", [2, 3])
def test_value_alone_is_the_value_of_value_grad(n_classes):
    # the same pass without its gradient product: the same operations on the value
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3000, 40))
    objective = LogisticObjective(
        X, rng.integers(0, n_classes, 3000), np.ones(3000), n_classes, True
    )
    coef = rng.normal(size=objective.n_params)
    assert objective._kernel_rows is not None
    assert objective.value(coef) == objective.value_grad(coef)[0]
