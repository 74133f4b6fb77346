"""The worked numbers of Jurafsky & Martin, Speech and Language Processing, ch. 5."""

from __future__ import annotations

import numpy as np
import pytest

from celr import CrossEntropyLogisticRegression, cross_entropy_loss
from celr._loss import binary_loss_and_residual
from celr._objective import LogisticObjective
from celr._penalty import ElasticNetPenalty
from celr.solvers import gd

# Figure 5.2's sentiment example: six features of one review, the weights and the bias.
FEATURES = np.array([[3.0, 2.0, 1.0, 3.0, 0.0, np.log(66)]])
WEIGHTS = np.array([2.5, -5.0, -1.2, 0.5, 2.0, 0.7])
BIAS = 0.1


def textbook_model() -> CrossEntropyLogisticRegression:
    """The book's classifier as a fitted celr model (its coefficients set, not learned)."""
    model = CrossEntropyLogisticRegression()
    model.fit(np.vstack([FEATURES, -FEATURES]), [1, 0])  # any fit, to set the attributes
    model.coef_ = WEIGHTS[None, :].copy()
    model.intercept_ = np.array([BIAS])
    return model


def test_probability_of_positive_is_070():
    proba = textbook_model().predict_proba(FEATURES)
    assert proba[0, 1] == pytest.approx(0.70, abs=0.005)
    assert proba[0, 0] == pytest.approx(0.30, abs=0.005)
    assert textbook_model().decision_function(FEATURES)[0] == pytest.approx(0.833, abs=0.001)


def test_losses_036_and_120_from_the_formula():
    np.testing.assert_allclose(cross_entropy_loss([1, 0], [0.70, 0.70]), [0.36, 1.20], atol=0.005)
    assert -np.log(0.70) == pytest.approx(cross_entropy_loss([1], [0.70])[0])


@pytest.mark.parametrize(("label", "loss"), [(1, 0.36), (0, 1.20)])
def test_losses_036_and_120_from_the_model(label, loss):
    # The book rounds P(+) = 0.6969 to 0.70 before taking logs; unrounded, the losses are
    # 0.361 and 1.194, which the book's two decimals match within 0.01.
    model = textbook_model()
    assert model.loss(FEATURES, [label]) == pytest.approx(loss, abs=0.01)
    objective = LogisticObjective(FEATURES, np.array([label]), np.ones(1), 2, True)
    assert objective.value(np.append(WEIGHTS, BIAS)) == pytest.approx(
        model.loss(FEATURES, [label])
    )


def test_gradient_is_sigma_minus_y_times_x():
    """Eq. 5.29: dL/dw_j = (sigma(w.x + b) - y) x_j, and dL/db = sigma(w.x + b) - y."""
    objective = LogisticObjective(FEATURES, np.array([1]), np.ones(1), 2, True)
    _, grad = objective.value_grad(np.append(WEIGHTS, BIAS))
    y_hat = 1 / (1 + np.exp(-(FEATURES[0] @ WEIGHTS + BIAS)))
    np.testing.assert_allclose(grad, (y_hat - 1) * np.append(FEATURES[0], 1.0), rtol=1e-12)


def test_loss_runs_from_zero_to_infinity():
    loss, _ = binary_loss_and_residual(np.array([800.0, -800.0]), np.array([1.0, 1.0]))
    assert loss[0] == 0.0  # -log 1: a perfect prediction
    assert loss[1] == pytest.approx(800.0)  # grows without bound, yet finite for finite z
    assert cross_entropy_loss([1], [0.0])[0] == np.inf  # -log 0, as the book says


def test_worked_sgd_step_gives_w_015_01_and_b_005():
    """Section 5.6.3: from w = b = 0, x = [3, 2], y = 1 and eta = 0.1, one step gives
    w = [0.15, 0.1], b = 0.05 (the gradient is [-1.5, -1.0, -0.5])."""
    model = CrossEntropyLogisticRegression(
        C=np.inf, solver="sgd", batch_size=1, learning_rate=0.1, schedule="constant"
    )
    model.partial_fit([[3.0, 2.0]], [1], classes=[0, 1])
    np.testing.assert_allclose(model.coef_, [[0.15, 0.1]], rtol=1e-12)
    np.testing.assert_allclose(model.intercept_, [0.05], rtol=1e-12)
    assert model.n_iter_ == 1


def test_worked_step_is_one_full_batch_gradient_descent_step():
    objective = LogisticObjective(np.array([[3.0, 2.0]]), np.array([1]), np.ones(1), 2, True)
    no_penalty = ElasticNetPenalty(0.0, 0.0, np.array([True, True, False]))
    result = gd.solve(objective, no_penalty, np.zeros(3), tol=0.0, max_iter=1, learning_rate=0.1)
    np.testing.assert_allclose(result.coef, [0.15, 0.1, 0.05], rtol=1e-12)
