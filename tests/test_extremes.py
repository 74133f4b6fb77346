"""Numerical extremes a hostile tester tried: huge and tiny columns, huge and subnormal
weights. Each gives the optimum (or a clear error), finite numbers and no numpy warning
(pytest turns RuntimeWarnings into errors for the whole suite)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from celr import CrossEntropyLogisticRegression
from tests.conftest import dataset, reference_gradient, reference_hessian, reference_objective

SOLVERS = ["newton", "lbfgs", "gd"]


def _binary_reference(X, y, penalized, C=1.0):
    """Tight optimum of the binary objective with an L2 penalty on ``penalized`` columns
    only, by scipy's trust-region Newton on the explicit objective (independent of celr)."""
    n, d = X.shape
    mask = np.asarray(penalized, float)

    def fun(theta):
        w, b = theta[:d], theta[d]
        return reference_objective(X, y, w, b, np.inf) + (mask * w) @ w / (2 * C * n)

    def grad(theta):
        grad_w, grad_b = reference_gradient(X, y, theta[:d], theta[d], np.inf)
        return np.append(grad_w[0] + mask * theta[:d] / (C * n), grad_b)

    def hess(theta):
        H = reference_hessian(X, y, np.ones(n), theta[:d], theta[d:])
        H[np.arange(d), np.arange(d)] += mask / (C * n)
        return H

    res = minimize(fun, np.zeros(d + 1), jac=grad, hess=hess, method="trust-exact", tol=1e-14)
    return res.x[:d], res.x[d]


@pytest.mark.parametrize("solver", SOLVERS)
def test_column_spread_above_1e154_is_not_dropped(solver):
    # sqrt(spread**2 + 4 l2) overflowed: coef_[0] came out 0 (newton) or NaN (lbfgs, gd).
    X, y = dataset("breast_cancer_scaled")
    X = X[:, :5]
    big = X.copy()
    big[:, 0] *= 1e160
    model = CrossEntropyLogisticRegression(solver=solver, tol=1e-10).fit(big, y)
    # Scaled by 1e160, column 0's weight is ~1e-160 and its penalty ~1e-320: unpenalised.
    ref_w, ref_b = _binary_reference(X, y, penalized=[False, True, True, True, True])
    assert np.all(np.isfinite(model.coef_))
    np.testing.assert_allclose(model.coef_[0, 0] * 1e160, ref_w[0], rtol=1e-6)
    np.testing.assert_allclose(model.coef_[0, 1:], ref_w[1:], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(model.intercept_[0], ref_b, rtol=1e-6)


@pytest.mark.parametrize("solver", SOLVERS)
def test_unpenalised_fit_on_features_of_1e_minus_300(solver):
    # The optimum (~1e300) is representable; scipy used to refuse the infinite scale.
    X, y = dataset("breast_cancer_scaled")
    X = X[:, :2]  # not separable: the unpenalised optimum is finite
    ref_w, ref_b = _binary_reference(X, y, penalized=[False, False])
    model = CrossEntropyLogisticRegression(C=np.inf, solver=solver, tol=1e-10).fit(X * 1e-300, y)
    np.testing.assert_allclose(model.coef_[0] * 1e-300, ref_w, rtol=1e-6)
    np.testing.assert_allclose(model.intercept_[0], ref_b, rtol=1e-6)


def test_weights_summing_past_the_float_maximum_are_refused():
    X, y = dataset("breast_cancer_scaled")
    with pytest.raises(ValueError, match="largest float64"):
        CrossEntropyLogisticRegression().fit(X, y, sample_weight=np.full(len(y), 1e308))
    with pytest.raises(ValueError, match="largest float64"):
        CrossEntropyLogisticRegression(class_weight={0: 1e300, 1: 1.0}).fit(
            X, y, sample_weight=np.full(len(y), 1e10)
        )


@pytest.mark.parametrize("solver", SOLVERS)
def test_subnormal_weights_give_the_fully_penalised_model(solver):
    # alpha = 1 / (C S) overflows for S ~ 3e-321: every weight's optimum is 0 (to 1e-300)
    # and the intercept the log-odds of the classes. It gave NaN and numpy warnings.
    X, y = dataset("breast_cancer_scaled")
    model = CrossEntropyLogisticRegression(solver=solver).fit(
        X, y, sample_weight=np.full(len(y), 5e-324)
    )
    assert np.all(np.abs(model.coef_) <= 1e-300)
    share = y.mean()
    np.testing.assert_allclose(model.intercept_[0], np.log(share / (1 - share)), rtol=1e-12)
