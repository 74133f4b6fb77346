"""Marginal effects (``margeff``) against statsmodels' ``get_margeff``.

Both fits reach their optimum to rounding (celr ``tol=1e-12``; statsmodels Newton with
``tol=1e-14``), so effects and delta-method errors agree to about ``cond(H) * eps``
(1e-11 here); the issue's 1e-6 is the bound, far above it on any BLAS.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose
from sklearn.datasets import load_breast_cancer

from celr import CrossEntropyLogisticRegression

RTOL = 1e-6
COLUMNS = {
    "dydx": "dy/dx",
    "std_error": "Std. Err.",
    "z": "z",
    "ci_lower": "Conf. Int. Low",
    "ci_upper": "Cont. Int. Hi.",
}


def spector():
    data = sm.datasets.spector.load_pandas()
    return data.exog, data.endog, sm.Logit


def cancer():
    data = load_breast_cancer(as_frame=True)
    return data.data.iloc[:, [0, 1, 4, 8]], data.target, sm.Logit


def anes96():
    data = sm.datasets.anes96.load_pandas().data
    X = data[["selfLR", "age", "educ", "income"]].copy()
    X.insert(0, "logpopul", np.log(data["popul"] + 0.1))
    return X, data["PID"].astype(int), sm.MNLogit


def fit(X, y, **params):
    return CrossEntropyLogisticRegression(C=np.inf, tol=1e-12, **params).fit(X, y)


@pytest.mark.filterwarnings("ignore:Maximum Likelihood optimization failed")
@pytest.mark.parametrize("data", [spector, cancer, anes96])
@pytest.mark.parametrize("at", ["overall", "mean"])
def test_effects_equal_statsmodels(data, at):
    X, y, model_class = data()
    ours = fit(X, y).margeff(X, at=at)
    reference = model_class(y, sm.add_constant(X)).fit(method="newton", tol=1e-14, disp=0)
    frame = reference.get_margeff(at=at).summary_frame()
    for column, sm_column in COLUMNS.items():
        assert_allclose(ours[column].to_numpy(), frame[sm_column].to_numpy(), rtol=RTOL)
    # Far-in-the-tail p-values carry the relative error of z times |z| (d log p / dz).
    p_rtol = RTOL * max(1.0, float(np.max(np.abs(ours["z"]))) ** 2)
    assert_allclose(ours["p_value"].to_numpy(), frame["Pr(>|z|)"].to_numpy(), rtol=p_rtol)
    assert ours.attrs["at"] == at and ours.attrs["method"] == "dydx"


def test_frequency_weights_equal_repeated_rows():
    X, y, _ = spector()
    counts = np.arange(len(y)) % 3 + 1
    weighted = fit(X, y, store_covariance=True)
    weighted.fit(X, y, sample_weight=counts.astype(float))
    repeated = fit(X.loc[X.index.repeat(counts)], y.loc[y.index.repeat(counts)])
    ours = weighted.margeff(X, sample_weight=counts.astype(float))
    theirs = repeated.margeff(X.loc[X.index.repeat(counts)])
    # Two fits of the same optimum, each to tol=1e-12: differences of order 1e-10.
    assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-7)


def test_penalised_multinomial_effects_are_finite_and_sum_to_zero():
    X, y, _ = anes96()
    model = CrossEntropyLogisticRegression(C=1.0, tol=1e-10).fit(X, y)
    effects = model.margeff(X)
    assert np.isfinite(effects.to_numpy()).all()
    assert effects.index.names == ["class", "feature"]
    # The probabilities sum to one, so a feature's effects sum to zero over the classes:
    # rounding of K sums of n terms each of size max|effect|.
    totals = effects["dydx"].groupby(level="feature").sum()
    bound = 10 * len(y) * np.finfo(float).eps * effects["dydx"].abs().max()
    assert np.all(np.abs(totals) <= bound)


def test_nothing_passed_is_modified():
    X, y, _ = spector()
    model = fit(X, y)
    before = X.copy()
    weight = np.ones(len(y))
    model.margeff(X, sample_weight=weight)
    pd.testing.assert_frame_equal(X, before)
    assert np.all(weight == 1)


def test_bad_input_is_refused():
    X, y, _ = spector()
    model = fit(X, y)
    cases = [
        (lambda: model.margeff(X, at="median"), "at"),
        (lambda: model.margeff(X, alpha=1.5), "alpha"),
        (lambda: model.margeff(X.iloc[:, :2]), "missing:\n- PSI"),
        (lambda: model.margeff(X.to_numpy()[:, :2]), "features"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()
    Xc, yc, _ = cancer()
    sparse = CrossEntropyLogisticRegression(C=0.01, l1_ratio=1.0).fit(Xc, yc)
    assert (sparse.coef_ == 0).any()
    with pytest.raises(ValueError, match="L1 penalty set"):
        sparse.margeff(Xc)
