"""The results view (``results()``), inference without data after ``fit``, and the
covariance types, against statsmodels' ``Logit``, ``MNLogit`` and ``GLM``.

Tolerances: both sides are fitted to a gradient at rounding level (celr ``tol=1e-12``,
statsmodels Newton with ``tol=1e-14``), so estimates agree to about ``cond(H) * eps``
(cond below 1e5 on these data: 1e-11) and every derived figure to the same order; 1e-8
relative, the issue's bound, leaves three orders of margin for other BLAS kernels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import celr
from celr import CrossEntropyLogisticRegression

RTOL = 1e-8
FIGURES = ("llf", "llnull", "llr", "prsquared", "aic", "bic", "nobs")


def assert_llr_pvalue(res, reference):
    """A p-value far in the tail (1e-122 on breast cancer) has the relative error of its
    statistic times |d log sf / d llr| <= 1 (chi2's log-density slope beyond its mode):
    statsmodels' null fit stops at its own tol, 1e-10 relative off the exact shares."""
    rtol = RTOL + abs(res.llr - reference.llr)
    assert_allclose(res.llr_pvalue, reference.llr_pvalue, rtol=rtol)


def spector():
    data = sm.datasets.spector.load_pandas()
    return data.exog, data.endog


def anes96():
    data = sm.datasets.anes96.load_pandas().data
    X = data[["selfLR", "age", "educ", "income"]].copy()
    X.insert(0, "logpopul", np.log(data["popul"] + 0.1))
    return X, data["PID"].astype(int)


def cancer():
    data = load_breast_cancer(as_frame=True)
    return data.data, data.target


def cancer_columns():
    X, y = cancer()
    return X.iloc[:, [0, 1, 4, 8]], y


def fit_celr(X, y, **params):
    return CrossEntropyLogisticRegression(C=np.inf, tol=1e-12, **params).fit(X, y)


def sm_fit(model_class, X, y):
    return model_class(y, sm.add_constant(X)).fit(method="newton", tol=1e-14, disp=0)


@pytest.mark.filterwarnings("ignore:Maximum Likelihood optimization failed")  # sm, tol=1e-14
@pytest.mark.parametrize("data", [spector, cancer_columns])
def test_binary_results_equal_statsmodels_logit(data):
    X, y = data()
    res = fit_celr(X, y).results()  # no data: fit kept what inference needs
    reference = sm_fit(sm.Logit, X, y)
    for name in FIGURES:
        assert_allclose(getattr(res, name), getattr(reference, name), rtol=RTOL, err_msg=name)
    assert_llr_pvalue(res, reference)
    assert res.df_model == reference.df_model and res.df_resid == reference.df_resid
    assert res.converged and res.model == "Logit" and res.cov_type == "nonrobust"
    assert_allclose(res.params, reference.params, rtol=RTOL)
    assert_allclose(res.bse, reference.bse, rtol=RTOL)
    assert_allclose(res.pvalues, reference.pvalues, rtol=1e-6)  # p of |z| ~ 0.5: eps/p
    assert_allclose(res.conf_int(), reference.conf_int(), rtol=RTOL)
    assert list(res.params.index[1:]) == list(X.columns)


@pytest.mark.filterwarnings("ignore:Maximum Likelihood optimization failed")
def test_multinomial_results_equal_statsmodels_mnlogit():
    X, y = anes96()
    res = fit_celr(X, y).results()
    reference = sm_fit(sm.MNLogit, X, y)
    for name in FIGURES:
        # llnull: statsmodels fits the null model iteratively (its default tol, 1e-8 on
        # the gradient: a log-likelihood error of order 1e-16 * n), celr takes the shares.
        assert_allclose(getattr(res, name), getattr(reference, name), rtol=RTOL, err_msg=name)
    assert_llr_pvalue(res, reference)
    assert res.df_model == reference.df_model and res.df_resid == reference.df_resid
    assert res.model == "MNLogit"
    # statsmodels: (feature x class k > 0) against class 0; celr rows (class, feature).
    assert_allclose(res.params.to_numpy(), reference.params.T.to_numpy().ravel(), rtol=RTOL)
    assert_allclose(res.bse.to_numpy(), reference.bse.T.to_numpy().ravel(), rtol=RTOL)


def test_frequency_weights_equal_statsmodels_glm():
    X, y = spector()
    weight = np.arange(len(y)) % 3 + 1.0
    model = CrossEntropyLogisticRegression(C=np.inf, tol=1e-12).fit(X, y, sample_weight=weight)
    res = model.results()
    reference = sm.GLM(
        y, sm.add_constant(X), family=sm.families.Binomial(), freq_weights=weight
    ).fit(tol=1e-14)
    assert_allclose(res.nobs, weight.sum())
    assert_allclose(res.df_resid, reference.df_resid, rtol=RTOL)
    for name, sm_name in [("llf", "llf"), ("llnull", "llnull"), ("aic", "aic")]:
        assert_allclose(getattr(res, name), getattr(reference, sm_name), rtol=RTOL)
    assert_allclose(res.bic, reference.bic_llf, rtol=RTOL)
    assert_allclose(res.prsquared, reference.pseudo_rsquared("mcf"), rtol=RTOL)
    assert_allclose(res.bse, reference.bse, rtol=RTOL)


@pytest.mark.parametrize("data", [spector, cancer_columns])
def test_covariance_types_equal_statsmodels_glm(data):
    X, y = data()
    model = fit_celr(X, y)
    glm = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial())
    groups = np.arange(len(y)) % 7
    hc0 = glm.fit(cov_type="HC0", tol=1e-14).bse
    n, k = len(y), X.shape[1] + 1
    assert_allclose(model.summary(cov_type="HC0")["std_error"], hc0, rtol=RTOL)
    # statsmodels' GLM applies no small-sample factor under 'HC1' (it equals 'HC0');
    # celr's is MacKinnon and White's n / (n - k).
    assert_allclose(
        model.summary(cov_type="HC1")["std_error"], hc0 * np.sqrt(n / (n - k)), rtol=RTOL
    )
    cluster = glm.fit(cov_type="cluster", cov_kwds={"groups": groups}, tol=1e-14)
    table = model.summary(X, y, cov_type="cluster", groups=groups)
    assert_allclose(table["std_error"], cluster.bse, rtol=RTOL)
    assert table.attrs["cov_type"] == "cluster"
    # Labels of any kind, in any order, name the same clusters.
    names = np.array([f"g{g}" for g in (6 - groups)])
    same = model.cov_params(X, y, cov_type="cluster", groups=names)
    assert_allclose(same, model.cov_params(X, y, cov_type="cluster", groups=groups), rtol=1e-12)


def test_multinomial_cluster_covariance_equals_statsmodels():
    X, y = anes96()
    model = fit_celr(X, y)
    groups = np.arange(len(y)) % 11
    reference = sm.MNLogit(y, sm.add_constant(X)).fit(
        method="newton", tol=1e-14, disp=0, cov_type="cluster", cov_kwds={"groups": groups}
    )
    table = model.summary(X, y, cov_type="cluster", groups=groups)
    assert_allclose(table["std_error"].to_numpy(), reference.bse.T.to_numpy().ravel(), rtol=1e-7)


def test_summary_without_data_where_users_look_for_it(tmp_path):
    X, y = spector()
    direct = fit_celr(X, y).summary(X, y)
    pipeline = make_pipeline(StandardScaler(), CrossEntropyLogisticRegression(C=np.inf))
    pipeline.fit(X, y)
    assert pipeline[-1].summary().shape == direct.shape
    search = GridSearchCV(CrossEntropyLogisticRegression(), {"C": [0.1, 1.0]}, cv=3)
    assert search.fit(X, y).best_estimator_.summary().shape == direct.shape
    path = tmp_path / "model.skops"
    celr.save(fit_celr(X, y), path)
    pd.testing.assert_frame_equal(celr.load(path).summary(), direct, rtol=1e-12)
    # Penalised fits too, with their note.
    penalised = CrossEntropyLogisticRegression(C=1.0).fit(X, y).summary()
    assert "conditional on the penalty" in penalised.attrs["note"]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"solver": "sgd", "max_iter": 3}, "not at its optimum.*store_covariance=True"),
        ({"l1_ratio": 1.0, "C": 1.0}, "L1 penalty"),
    ],
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fits_that_keep_nothing_say_why(params, reason):
    X, y = cancer()
    model = CrossEntropyLogisticRegression(**{"C": np.inf, **params}).fit(X, y)
    with pytest.raises(ValueError, match=reason):
        model.results()


def test_many_parameters_are_not_kept():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 1001)), rng.integers(0, 2, 300)
    model = CrossEntropyLogisticRegression(C=0.1).fit(X, y)
    with pytest.raises(ValueError, match="1002 parameters"):
        model.cov_params()


def test_text_and_html_renderings():
    X, y = spector()
    res = fit_celr(X, y).results(alpha=0.1)
    text = str(res)
    assert "No. Observations:" in text and "Log-Likelihood:" in text
    assert f"{res.llf:.5g}" in text and f"{res.prsquared:.4f}" in text
    assert "[0.05" in text and "0.95]" in text
    for name in ["intercept", "GPA", "TUCE", "PSI"]:
        assert name in text
    assert all(len(line) <= 78 for line in text.splitlines())
    html = res._repr_html_()
    assert "<table" in html and "Pseudo R-squ." in html
    assert "MNLogit" in str(fit_celr(*anes96()).results())


def test_bad_cluster_input_is_refused():
    X, y = spector()
    model = fit_celr(X, y)
    cases = [
        (lambda: model.summary(cov_type="cluster", groups=np.zeros(32)), "training data"),
        (lambda: model.summary(X, y, cov_type="cluster"), "needs groups"),
        (lambda: model.summary(X, y, cov_type="cluster", groups=np.arange(5)), "one cluster"),
        (lambda: model.summary(X, y, cov_type="cluster", groups=np.zeros(32)), "2 clusters"),
        (lambda: model.summary(cov_type="HC0", groups=np.arange(32)), "only used with"),
        (lambda: model.summary(cov_type="HC2"), "cov_type must be"),
        (lambda: model.results(alpha=2.0), "alpha"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()
    groups = np.full(32, np.nan)
    with pytest.raises(ValueError, match="NaN"):
        model.summary(X, y, cov_type="cluster", groups=groups)
