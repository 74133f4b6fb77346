"""Pointwise cross-entropy math of celr._loss against high-precision references."""

import warnings
from decimal import Decimal, localcontext

import numpy as np
import pytest

from celr import cross_entropy_loss
from celr._loss import (
    binary_hessian_weight,
    binary_loss_and_residual,
    log_softmax,
    multinomial_loss_and_residual,
    softmax,
)

EPS = np.finfo(np.float64).eps
MODERATE_Z = np.array([-35.0, -20.0, -7.3, -1.0, -1e-3, 0.0, 2e-8, 0.4, 3.0, 12.5, 30.0, 36.0])


def _hp_sigmoid(z):
    """sigma(z) = 1 / (1 + exp(-z)) in 60-digit decimal arithmetic."""
    return 1 / (1 + (-Decimal(float(z))).exp())


def hp_binary_loss(z, y):
    """-[y log s + (1 - y) log(1 - s)] with 60 significant digits."""
    with localcontext() as ctx:
        ctx.prec = 60
        s = _hp_sigmoid(z)
        y = Decimal(int(y))
        return float(-(y * s.ln() + (1 - y) * (1 - s).ln()))


def hp_sigmoid_product(z):
    with localcontext() as ctx:
        ctx.prec = 60
        s = _hp_sigmoid(z)
        return float(s * (1 - s))


def hp_log_softmax(row):
    with localcontext() as ctx:
        ctx.prec = 60
        row = [Decimal(float(v)) for v in row]
        log_norm = sum(v.exp() for v in row).ln()
        return np.array([float(v - log_norm) for v in row])


def fd_derivative(func, z, h):
    return (func(z + h) - func(z - h)) / (2 * h)


@pytest.mark.parametrize("label", [0.0, 1.0])
def test_binary_loss_matches_high_precision_formula(label):
    y = np.full(MODERATE_Z.shape, label)
    loss, residual = binary_loss_and_residual(MODERATE_Z.copy(), y)
    expected = np.array([hp_binary_loss(z, label) for z in MODERATE_Z])
    np.testing.assert_allclose(loss, expected, rtol=1e-14, atol=0)
    sigma = np.array([float(_hp_sigmoid(z)) for z in MODERATE_Z])
    # sigma(z) - y cannot be more accurate than eps in absolute terms.
    np.testing.assert_allclose(residual, sigma - label, rtol=1e-14, atol=EPS)


@pytest.mark.parametrize("magnitude", [1000.0, 1e6])
def test_binary_loss_at_extreme_scores(magnitude):
    z = np.array([magnitude, -magnitude, magnitude, -magnitude])
    y = np.array([0.0, 1.0, 1.0, 0.0])  # wrong, wrong, right, right
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        loss, residual = binary_loss_and_residual(z, y)
        weight = binary_hessian_weight(z)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(residual))
    np.testing.assert_array_equal(loss[:2], [magnitude, magnitude])
    np.testing.assert_array_equal(loss[2:], [0.0, 0.0])
    np.testing.assert_array_equal(residual, [1.0, -1.0, 0.0, 0.0])
    np.testing.assert_array_equal(weight, np.zeros(4))


@pytest.mark.parametrize("label", [0.0, 1.0])
def test_binary_residual_is_derivative_of_loss(label):
    z = np.linspace(-15.0, 15.0, 31)
    y = np.full(z.shape, label)
    _, residual = binary_loss_and_residual(z, y)
    numeric = fd_derivative(lambda t: binary_loss_and_residual(t, y)[0], z, 1e-5)
    np.testing.assert_allclose(residual, numeric, rtol=1e-7, atol=1e-9)


def test_binary_hessian_weight_is_derivative_of_residual():
    z = np.linspace(-15.0, 15.0, 31)
    y = np.zeros_like(z)
    numeric = fd_derivative(lambda t: binary_loss_and_residual(t, y)[1], z, 1e-5)
    # atol: the residual is near +-1 in the tails, so its FD carries eps / h of noise.
    np.testing.assert_allclose(binary_hessian_weight(z), numeric, rtol=1e-7, atol=1e-10)


def test_binary_hessian_weight_accurate_in_tails():
    z = np.array([-40.0, -30.0, -5.0, 0.0, 5.0, 30.0, 40.0])
    weight = binary_hessian_weight(z)
    assert np.all(weight > 0)
    expected = np.array([hp_sigmoid_product(t) for t in z])
    np.testing.assert_allclose(weight, expected, rtol=1e-13)
    assert binary_hessian_weight(np.array([0.0]))[0] == 0.25


@pytest.fixture
def scores():
    rng = np.random.default_rng(3)
    return rng.normal(scale=4.0, size=(12, 4)), rng.integers(0, 4, size=12)


def test_multinomial_loss_matches_high_precision_log_softmax(scores):
    z, y = scores
    loss, residual = multinomial_loss_and_residual(z.copy(), y)
    logp = np.array([hp_log_softmax(row) for row in z])
    np.testing.assert_allclose(loss, -logp[np.arange(len(y)), y], rtol=1e-13, atol=1e-14)
    onehot = np.eye(4)[y]
    np.testing.assert_allclose(residual, np.exp(logp) - onehot, rtol=1e-13, atol=4 * EPS)
    np.testing.assert_allclose(residual.sum(axis=1), 0.0, atol=1e-15)


def test_multinomial_residual_is_gradient_of_loss(scores):
    z, y = scores
    _, residual = multinomial_loss_and_residual(z, y)
    h = 1e-5
    numeric = np.empty_like(z)
    for k in range(z.shape[1]):
        step = np.zeros_like(z)
        step[:, k] = h
        plus = multinomial_loss_and_residual(z + step, y)[0]
        minus = multinomial_loss_and_residual(z - step, y)[0]
        numeric[:, k] = (plus - minus) / (2 * h)
    np.testing.assert_allclose(residual, numeric, rtol=1e-6, atol=1e-9)


def test_multinomial_extreme_scores():
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0], [1e6, -1e6, 0.0]])
    y = np.array([1, 2, 0])
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        loss, residual = multinomial_loss_and_residual(z, y)
    np.testing.assert_array_equal(loss, [2000.0, 0.0, 0.0])
    np.testing.assert_array_equal(residual, [[1.0, -1.0, 0.0], [0.0, 0.0, 0.0], [0.0] * 3])


def test_multinomial_shift_invariance(scores):
    z, y = scores
    shift = np.array([-700.0, 0.0, 3.5, 1e3, -2.0, 0.25, 50.0, 7.0, 1.0, -1.0, 9.0, 600.0])
    loss, residual = multinomial_loss_and_residual(z, y)
    loss_s, residual_s = multinomial_loss_and_residual(z + shift[:, None], y)
    np.testing.assert_allclose(loss_s, loss, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(residual_s, residual, rtol=1e-10, atol=1e-12)


def test_softmax_and_log_softmax(scores):
    z, _ = scores
    z = np.vstack([z, [1000.0, -1000.0, 0.0, 999.0], [-1e6, -1e6, -1e6, -1e6]])
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        proba = softmax(z)
        logp = log_softmax(z)
    assert np.all(np.isfinite(proba)) and np.all(np.isfinite(logp))
    expected = np.array([hp_log_softmax(row) for row in z])
    # z - logsumexp(z) is accurate to eps * max|z| in absolute terms (not better).
    atol = 4 * EPS * np.abs(z).max(axis=1, keepdims=True)
    assert np.all(np.abs(logp - expected) <= atol + 1e-13 * np.abs(expected))
    np.testing.assert_allclose(proba[:-1], np.exp(expected[:-1]), rtol=1e-13, atol=EPS)
    np.testing.assert_allclose(proba[:-1].sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(proba[-1], 0.25, rtol=1e-9)


def test_cross_entropy_textbook_example():
    loss = cross_entropy_loss([1, 0], [0.70, 0.70])
    np.testing.assert_array_equal(np.round(loss, 2), [0.36, 1.20])
    np.testing.assert_allclose(loss, [-np.log(0.7), -np.log(0.3)], rtol=1e-15)


def test_cross_entropy_multiclass():
    proba = np.array([[0.2, 0.3, 0.5], [0.7, 0.1, 0.2], [0.25, 0.25, 0.5]])
    loss = cross_entropy_loss([2, 1, 0], proba)
    np.testing.assert_allclose(loss, -np.log([0.5, 0.1, 0.25]), rtol=1e-15)
    assert round(float(loss[0]), 3) == 0.693


def test_cross_entropy_binary_equals_two_column_matrix():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.99, size=20)
    y = rng.integers(0, 2, size=20)
    matrix = np.column_stack([1 - p, p])
    np.testing.assert_allclose(cross_entropy_loss(y, p), cross_entropy_loss(y, matrix))


def test_cross_entropy_zero_probability_on_true_class_is_inf():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = cross_entropy_loss([1, 0, 0, 1], [0.0, 1.0, 0.0, 1.0])
        loss_k = cross_entropy_loss([0], [[0.0, 1.0, 0.0]])
    assert np.isposinf(loss[0]) and np.isposinf(loss[1])
    np.testing.assert_array_equal(loss[2:], [0.0, 0.0])
    assert np.isposinf(loss_k[0])


@pytest.mark.parametrize(
    ("y_true", "y_prob"),
    [
        ([1, 0, 1], [0.5, 0.5]),  # lengths differ
        ([1], [[0.5, 0.5], [0.5, 0.5]]),  # lengths differ, matrix
        ([1, 0], [0.5, 1.2]),  # above 1
        ([1, 0], [-0.1, 0.5]),  # below 0
        ([1, 0], [np.nan, 0.5]),  # NaN
        ([1, 0], [np.inf, 0.5]),  # inf
        ([1, 2], [0.5, 0.5]),  # label 2 for a binary problem
        ([-1, 0], [0.5, 0.5]),  # negative label
        ([0.5, 1], [0.5, 0.5]),  # non-integer label
        ([0, 3], [[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]),  # label 3 with 3 classes
        ([[1, 0]], [0.5, 0.5]),  # 2-D labels
    ],
)
def test_cross_entropy_invalid_input(y_true, y_prob):
    with pytest.raises(ValueError):
        cross_entropy_loss(y_true, y_prob)
