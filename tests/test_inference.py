"""Inference: ``summary``, ``cov_params`` and ``lr_test`` against independent references.

The references are statsmodels (``Logit``, ``MNLogit``, ``GLM(Binomial)``), fitted by
Newton's method to ``tol=1e-12``, and closed-form covariances built here with numpy from
the textbook formulas (observed information, sandwich, penalised Hessian).
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, softmax
from scipy.stats import chi2
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import log_loss

from celr import CrossEntropyLogisticRegression, SeparationWarning
from celr._inference import LRTestResult

sm = pytest.importorskip("statsmodels.api")

#: Unpenalised fits at celr's default tol against statsmodels' Newton at 1e-12: columns
#: agree to 1e-12 .. 3e-7 (celr's Newton stops at a gradient of ~1e-9); p-values in the
#: tail carry the relative error of z times z^2, hence their looser bound.
RTOL = 1e-6
P_RTOL = 1e-5
#: float32 data are fitted in float32.
F32_RTOL = 1e-4
COLUMNS = [
    "estimate",
    "std_error",
    "z",
    "p_value",
    "ci_lower",
    "ci_upper",
    "odds_ratio",
    "odds_ratio_lower",
    "odds_ratio_upper",
]
CANCER_COLUMNS = ["mean radius", "mean texture", "mean smoothness"]


def assert_close(actual, desired, rtol, what):
    """Elementwise relative agreement (no absolute slack), labelled for the failure."""
    assert_allclose(
        np.asarray(actual, dtype=float), np.asarray(desired, dtype=float), rtol=rtol, atol=0,
        err_msg=what,
    )  # fmt: skip


def assert_cov_close(actual, desired, rtol, what):
    """Covariances agree to ``rtol`` on the correlation scale: ``|a_ij - d_ij|`` against
    ``sqrt(d_ii d_jj)``, so near-zero covariances do not need an exact zero."""
    actual, desired = np.asarray(actual, dtype=float), np.asarray(desired, dtype=float)
    scale = np.sqrt(np.outer(np.diag(desired), np.diag(desired)))
    assert_allclose(actual / scale, desired / scale, rtol=0, atol=rtol, err_msg=what)


def unpenalized(**params):
    return CrossEntropyLogisticRegression(C=np.inf, **params)


def sm_fit(model, cov_type="nonrobust"):
    """statsmodels' maximum-likelihood fit, converged far beyond celr's default tol."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(disp=0, method="newton", tol=1e-12, maxiter=100, cov_type=cov_type)


# -- data --------------------------------------------------------------------------------
@cache
def _spector():
    data = sm.datasets.spector.load_pandas()
    return data.exog[["GPA", "TUCE", "PSI"]].astype(float), data.endog.astype(float)


def spector():
    X, y = _spector()
    return X.copy(), y.copy()


@cache
def _cancer():
    data = load_breast_cancer(as_frame=True)
    return data.data[CANCER_COLUMNS].copy(), data.target.copy()


def cancer(columns=CANCER_COLUMNS):
    X, y = _cancer()
    return X[list(columns)].copy(), y.copy()


def iris(columns=None):
    data = load_iris(as_frame=True)
    X = data.data if columns is None else data.data[columns]
    return X.copy(), data.target.to_numpy()


def synthetic_multiclass(n_classes=4, n_samples=400, seed=0):
    """Three overlapping Gaussian features, labels drawn from a softmax model."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 3))
    scores = X @ rng.normal(size=(3, n_classes)) + 0.5 * rng.normal(size=n_classes)
    proba = softmax(scores, axis=1)
    y = (proba.cumsum(axis=1) > rng.random(n_samples)[:, None]).argmax(axis=1)
    assert np.bincount(y, minlength=n_classes).min() >= 20
    return X, y


def multiclass_case(name):
    if name == "iris_sepal_length":
        X, y = iris(["sepal length (cm)"])
        return X.to_numpy(), y
    return synthetic_multiclass()


MULTICLASS_CASES = ["iris_sepal_length", "synthetic_4_classes"]


@cache
def mnlogit(name, cov_type):
    X, y = multiclass_case(name)
    return sm_fit(sm.MNLogit(y, sm.add_constant(X)), cov_type)


def flat(by_class):
    """statsmodels' (n_params, K - 1) layout in summary's order: class-major."""
    return np.asarray(by_class).T.ravel()


# -- 1. statsmodels Logit on the Spector data ------------------------------------------------
@cache
def spector_logit(cov_type="nonrobust"):
    X, y = spector()
    return sm_fit(sm.Logit(y, sm.add_constant(X)), cov_type)


def assert_matches_statsmodels(table, ref, alpha, rtol=RTOL, p_rtol=P_RTOL, what=""):
    conf_int = np.asarray(ref.conf_int(alpha)).reshape(-1, 2)
    params = np.asarray(ref.params).T.ravel()
    assert_close(table["estimate"], params, rtol, f"{what} estimate")
    assert_close(table["std_error"], flat(ref.bse), rtol, f"{what} std_error")
    assert_close(table["z"], flat(ref.tvalues), rtol, f"{what} z")
    assert_close(table["p_value"], flat(ref.pvalues), p_rtol, f"{what} p_value")
    assert_close(table["ci_lower"], conf_int[:, 0], rtol, f"{what} ci_lower")
    assert_close(table["ci_upper"], conf_int[:, 1], rtol, f"{what} ci_upper")
    assert_close(table["odds_ratio"], np.exp(params), rtol, f"{what} odds_ratio")
    assert_close(table["odds_ratio_lower"], np.exp(conf_int[:, 0]), rtol, f"{what} or_lower")
    assert_close(table["odds_ratio_upper"], np.exp(conf_int[:, 1]), rtol, f"{what} or_upper")


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_spector_matches_statsmodels_logit(alpha):
    X, y = spector()
    ref = spector_logit()
    model = unpenalized().fit(X, y)
    table = model.summary(X, y, alpha=alpha)

    assert list(table.columns) == COLUMNS
    assert list(table.index) == ["intercept", "GPA", "TUCE", "PSI"]
    assert table.index.name == "feature"
    assert_matches_statsmodels(table, ref, alpha, what="spector")
    assert table.attrs["alpha"] == alpha
    assert table.attrs["cov_type"] == "nonrobust"
    assert table.attrs["parametrization"] == "binary"
    assert table.attrs["reference_class"] is None
    assert table.attrs["penalized"] is False
    assert table.attrs["note"] == ""
    assert table.attrs["n_obs"] == 32
    assert np.isinf(table.attrs["C"])
    assert_close(table.attrs["log_likelihood"], ref.llf, RTOL, "log-likelihood")

    cov = model.cov_params(X, y)
    assert list(cov.index) == list(cov.columns) == list(table.index)
    assert_cov_close(cov, ref.cov_params(), RTOL, "spector cov_params")
    assert_close(np.sqrt(np.diag(cov)), table["std_error"], 1e-12, "std_error is sqrt(diag)")


def test_spector_float32_numpy():
    X, y = spector()
    X32 = X.to_numpy(dtype=np.float32)
    model = unpenalized().fit(X32, y.to_numpy())
    assert model.coef_.dtype == np.float32
    table = model.summary(X32, y.to_numpy())
    assert list(table.index) == ["intercept", "x0", "x1", "x2"]
    assert (table.dtypes == np.float64).all()
    assert_matches_statsmodels(table, spector_logit(), 0.05, F32_RTOL, F32_RTOL, "float32")


def test_spector_sparse_equals_dense():
    X, y = spector()
    dense = unpenalized().fit(X.to_numpy(), y).summary(X.to_numpy(), y)
    X_csr = sp.csr_matrix(X.to_numpy())
    table = unpenalized().fit(X_csr, y).summary(X_csr, y)
    assert_close(table, dense, 1e-8, "sparse vs dense")


def test_spector_without_intercept():
    X, y = spector()
    ref = sm_fit(sm.Logit(y, X))
    model = unpenalized(fit_intercept=False).fit(X, y)
    table = model.summary(X, y)
    assert list(table.index) == ["GPA", "TUCE", "PSI"]
    assert_matches_statsmodels(table, ref, 0.05, what="no intercept")
    robust = sm.GLM(y, X, family=sm.families.Binomial()).fit(cov_type="HC0", tol=1e-12)
    assert_close(model.summary(X, y, cov_type="HC0")["std_error"], robust.bse, RTOL, "HC0")
    # Without an intercept the model without features gives each class 1/2 (statsmodels'
    # llnull would refit a constant instead).
    result = model.lr_test()
    assert result.df == 3
    assert_close(result.statistic, 2 * (ref.llf - len(y) * np.log(0.5)), RTOL, "LR no icpt")


# -- 2. statsmodels Logit on breast-cancer columns, raw and rescaled --------------------------
@cache
def cancer_logit(columns=tuple(CANCER_COLUMNS), cov_type="nonrobust"):
    X, y = cancer(columns)
    return sm_fit(sm.Logit(y, sm.add_constant(X)), cov_type)


def test_breast_cancer_raw_features_match_statsmodels():
    X, y = cancer()
    model = unpenalized().fit(X, y)
    table = model.summary(X, y)
    assert list(table.index) == ["intercept", *CANCER_COLUMNS]
    assert_matches_statsmodels(table, cancer_logit(), 0.05, what="cancer")


@pytest.mark.parametrize("factor", [1e6, 1e-6])
@pytest.mark.parametrize("column", ["mean smoothness", "mean radius"])
def test_breast_cancer_rescaled_column(column, factor):
    """A column times ``factor`` divides its weight, error and interval by ``factor``."""
    X, y = cancer()
    X[column] *= factor
    table = unpenalized().fit(X, y).summary(X, y)
    ref = cancer_logit()
    row = table.index.get_loc(column)
    unit = np.ones(len(table))
    unit[row] = 1.0 / factor
    conf_int = np.asarray(ref.conf_int(0.05))
    assert_close(table["estimate"], np.asarray(ref.params) * unit, RTOL, "estimate")
    assert_close(table["std_error"], np.asarray(ref.bse) * unit, RTOL, "std_error")
    assert_close(table["ci_lower"], conf_int[:, 0] * unit, RTOL, "ci_lower")
    assert_close(table["ci_upper"], conf_int[:, 1] * unit, RTOL, "ci_upper")
    assert_close(table["z"], ref.tvalues, RTOL, "z")
    assert_close(table["p_value"], ref.pvalues, P_RTOL, "p_value")


# -- 3. statsmodels MNLogit ------------------------------------------------------------------
@pytest.mark.parametrize(
    "columns", [None, ["sepal length (cm)", "sepal width (cm)"]], ids=["all", "sepal"]
)
def test_separated_iris_is_refused(columns):
    X, y = iris(columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.MNLogit(y, sm.add_constant(X.to_numpy())).fit(disp=0)
    # What a table would say there: standard errors of a point on the way to infinity.
    assert np.nanmax(np.asarray(ref.bse)) > 1e3
    with pytest.warns(SeparationWarning, match="separated"):
        model = unpenalized().fit(X, y)
    for method in (model.summary, model.cov_params):
        with pytest.raises(ValueError, match="separated"):
            method(X, y)
    with pytest.raises(ValueError, match="separated"):
        model.lr_test()


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
@pytest.mark.parametrize("name", MULTICLASS_CASES)
def test_multinomial_matches_statsmodels_mnlogit(name, cov_type):
    X, y = multiclass_case(name)
    ref = mnlogit(name, cov_type)
    model = unpenalized().fit(X, y)
    table = model.summary(X, y, cov_type=cov_type)

    n_classes, width = len(np.unique(y)), X.shape[1] + 1
    assert table.index.names == ["class", "feature"]
    assert list(table.index.get_level_values("class")) == list(
        np.repeat(np.arange(1, n_classes), width)
    )
    assert list(table.index.get_level_values("feature")[:width]) == [
        "intercept", *[f"x{j}" for j in range(width - 1)]
    ]  # fmt: skip
    assert table.attrs["parametrization"] == "reference"
    assert table.attrs["reference_class"] == 0
    assert table.attrs["cov_type"] == cov_type
    assert_matches_statsmodels(table, ref, 0.05, what=f"{name} {cov_type}")
    cov = model.cov_params(X, y, cov_type=cov_type)
    assert_cov_close(cov, ref.cov_params(), RTOL, f"{name} {cov_type} cov_params")
    assert_close(table.attrs["log_likelihood"], ref.llf, RTOL, "log-likelihood")


@pytest.mark.parametrize("name", MULTICLASS_CASES)
def test_multinomial_lr_test_against_null_matches_mnlogit(name):
    X, y = multiclass_case(name)
    ref = mnlogit(name, "nonrobust")
    result = unpenalized().fit(X, y).lr_test()
    assert isinstance(result, LRTestResult)
    assert result.df == ref.df_model
    assert_close(result.statistic, ref.llr, RTOL, "llr")
    assert_close(result.p_value, ref.llr_pvalue, P_RTOL, "llr p-value")


def test_multinomial_conf_int_at_alpha_0_1():
    X, y = multiclass_case("synthetic_4_classes")
    table = unpenalized().fit(X, y).summary(X, y, alpha=0.1)
    conf_int = np.asarray(mnlogit("synthetic_4_classes", "nonrobust").conf_int(0.1))
    assert_close(table["ci_lower"], conf_int.reshape(-1, 2)[:, 0], RTOL, "ci_lower 0.1")
    assert_close(table["ci_upper"], conf_int.reshape(-1, 2)[:, 1], RTOL, "ci_upper 0.1")


# -- 4. robust (HC0) standard errors ---------------------------------------------------------
@pytest.mark.parametrize("data", ["spector", "cancer"])
def test_binary_hc0_matches_statsmodels_glm(data):
    X, y = spector() if data == "spector" else cancer()
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(
        cov_type="HC0", tol=1e-12
    )
    model = unpenalized().fit(X, y)
    table = model.summary(X, y, cov_type="HC0")
    assert table.attrs["cov_type"] == "HC0"
    assert_matches_statsmodels(table, ref, 0.05, what=f"{data} GLM HC0")
    assert_cov_close(model.cov_params(X, y, cov_type="HC0"), ref.cov_params(), RTOL, "HC0 cov")
    # 'robust' is another name for the same sandwich.
    robust = model.summary(X, y, cov_type="robust")
    assert robust.attrs["cov_type"] == "HC0"
    pd.testing.assert_frame_equal(robust, table)


# -- 5. weights ------------------------------------------------------------------------------
def weighted_case(kind):
    rng = np.random.default_rng(5)
    if kind == "binary":
        X, y = cancer()
        X, y = X.to_numpy(), y.to_numpy()
    else:
        X, y = synthetic_multiclass(n_classes=3, n_samples=200, seed=1)
    return X, y, rng.integers(0, 4, size=len(y)).astype(float)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
@pytest.mark.parametrize("kind", ["binary", "multinomial"])
def test_integer_weights_equal_repeated_rows(kind, cov_type):
    X, y, weight = weighted_case(kind)
    counts = weight.astype(int)
    X_rep, y_rep = np.repeat(X, counts, axis=0), np.repeat(y, counts)
    weighted = unpenalized().fit(X, y, sample_weight=weight)
    repeated = unpenalized().fit(X_rep, y_rep)

    table = weighted.summary(X, y, weight, cov_type=cov_type)
    expected = repeated.summary(X_rep, y_rep, cov_type=cov_type)
    assert_close(table, expected, 1e-7, "weighted vs repeated table")
    assert table.attrs["n_obs"] == expected.attrs["n_obs"] == counts.sum()
    assert_close(table.attrs["log_likelihood"], expected.attrs["log_likelihood"], 1e-9, "llf")
    assert_close(
        weighted.cov_params(X, y, weight, cov_type=cov_type),
        repeated.cov_params(X_rep, y_rep, cov_type=cov_type),
        1e-7,
        "weighted vs repeated cov_params",
    )
    assert_close(weighted.lr_test().statistic, repeated.lr_test().statistic, 1e-8, "LR")


@pytest.mark.parametrize("kind", ["binary", "multinomial"])
def test_zero_weights_equal_dropping_rows(kind):
    X, y, weight = weighted_case(kind)
    kept = weight > 0
    model = unpenalized().fit(X, y, sample_weight=weight)
    dropped = unpenalized().fit(X[kept], y[kept], sample_weight=weight[kept])
    for cov_type in ("nonrobust", "HC0"):
        assert_close(
            model.summary(X, y, weight, cov_type=cov_type),
            dropped.summary(X[kept], y[kept], weight[kept], cov_type=cov_type),
            1e-7,
            f"zero weights vs dropped rows ({cov_type})",
        )


@pytest.mark.parametrize(
    ("kind", "class_weight"),
    [
        ("binary", {0: 2.0, 1: 0.5}),
        ("multinomial", "balanced"),
        ("multinomial", {0: 3, 1: 1, 2: 2}),
    ],
)
def test_class_weight_equals_sample_weight(kind, class_weight):
    X, y, _ = weighted_case(kind)
    classes, counts = np.unique(y, return_counts=True)
    if class_weight == "balanced":
        per_class = len(y) / (len(classes) * counts)
    else:
        per_class = np.array([class_weight[c] for c in classes], dtype=float)
    weight = per_class[y]
    by_class = unpenalized(class_weight=class_weight).fit(X, y)
    by_sample = unpenalized().fit(X, y, sample_weight=weight)
    for cov_type in ("nonrobust", "HC0"):
        table = by_class.summary(X, y, cov_type=cov_type)
        assert_close(
            table, by_sample.summary(X, y, weight, cov_type=cov_type), 1e-7, "class weights"
        )
    assert_close(table.attrs["n_obs"], weight.sum(), 1e-12, "n_obs is the weight sum")


# -- 6. store_covariance ---------------------------------------------------------------------
@pytest.mark.parametrize("C", [np.inf, 1.0])
@pytest.mark.parametrize("kind", ["binary", "multinomial"])
def test_stored_covariance_equals_data(kind, C):
    X, y, weight = weighted_case(kind)
    model = CrossEntropyLogisticRegression(C=C, store_covariance=True).fit(X, y, weight)
    for cov_type in ("nonrobust", "HC0"):
        stored = model.summary(cov_type=cov_type, alpha=0.1)
        given = model.summary(X, y, weight, cov_type=cov_type, alpha=0.1)
        pd.testing.assert_frame_equal(stored, given, rtol=1e-12)
        assert stored.attrs == given.attrs
        pd.testing.assert_frame_equal(
            model.cov_params(cov_type=cov_type),
            model.cov_params(X, y, weight, cov_type=cov_type),
            rtol=1e-12,
        )


def test_stored_covariance_follows_a_refit():
    X, y = cancer()
    X1, y1, X2, y2 = X.iloc[:300], y.iloc[:300], X.iloc[300:], y.iloc[300:]
    model = unpenalized(store_covariance=True).fit(X1, y1)
    before = model.summary()
    model.fit(X2, y2)
    after = model.summary()
    assert not np.allclose(after["std_error"], before["std_error"], rtol=1e-3)
    pd.testing.assert_frame_equal(after, model.summary(X2, y2), rtol=1e-12)
    assert after.attrs["n_obs"] == len(y2)
    # Refitting without storing keeps them anyway on data this small (fit's own rule),
    # those of the new fit.
    model.set_params(store_covariance=False).fit(X1, y1)
    pd.testing.assert_frame_equal(model.summary(), model.summary(X1, y1), rtol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_partial_fit_clears_stored_statistics():
    X, y = cancer()
    X, y = X.to_numpy(), y.to_numpy()
    model = CrossEntropyLogisticRegression(
        C=1.0, solver="sgd", store_covariance=True, random_state=0, max_iter=20
    ).fit(X, y)
    assert model.summary().shape == (4, len(COLUMNS))
    model.partial_fit(X, y)
    for method in (model.summary, model.cov_params):
        with pytest.raises(ValueError, match="store_covariance"):
            method()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_lr_test_after_partial_fit_does_not_call_the_model_penalised():
    X, y = cancer()
    X, y = X.to_numpy(), y.to_numpy()
    model = unpenalized(solver="sgd", random_state=0, max_iter=5).fit(X, y)
    model.partial_fit(X, y)
    with pytest.raises(ValueError) as error:
        model.lr_test()
    assert "penalised" not in str(error.value)


# -- 7. penalised fits -----------------------------------------------------------------------
def binary_information(X, y, coef, intercept, weight):
    """Observed information of the weighted log-likelihood and the sum of s_i g_i g_i^T,
    in the table's order (intercept first)."""
    design = np.column_stack([np.ones(len(y)), X])
    p = expit(design @ np.r_[intercept, coef])
    hessian = design.T @ (design * (weight * p * (1 - p))[:, None])
    score = (p - y)[:, None] * design
    return hessian, score.T @ (score * weight[:, None])


@pytest.mark.parametrize(("C", "weighted"), [(1.0, False), (0.3, True)])
def test_penalized_binary_covariance_is_the_penalized_inverse_information(C, weighted):
    X, y = cancer()
    X, y = X.to_numpy(), y.to_numpy().astype(float)
    weight = np.random.default_rng(2).integers(1, 4, len(y)).astype(float)
    if not weighted:
        weight = np.ones(len(y))
    model = CrossEntropyLogisticRegression(C=C).fit(X, y, sample_weight=weight)
    table = model.summary(X, y, weight)

    hessian, meat = binary_information(X, y, model.coef_[0], model.intercept_[0], weight)
    hessian += np.diag([0.0, 1.0, 1.0, 1.0]) / C  # the intercept is not penalised
    expected = np.linalg.inv(hessian)
    assert_close(model.cov_params(X, y, weight), expected, 1e-8, "penalised cov")
    sandwich = expected @ meat @ expected
    assert_close(model.cov_params(X, y, weight, cov_type="HC0"), sandwich, 1e-8, "penalised HC0")

    assert_close(table["estimate"], np.r_[model.intercept_, model.coef_[0]], 1e-12, "coef_")
    assert_close(table["std_error"], np.sqrt(np.diag(expected)), 1e-8, "penalised std_error")
    assert table.attrs["penalized"] is True
    assert table.attrs["C"] == C
    assert "conditional on the penalty" in table.attrs["note"]
    # The data log-likelihood at the penalised estimate (no penalty term in it).
    mean_ce = log_loss(y, model.predict_proba(X), sample_weight=weight)
    assert_close(table.attrs["log_likelihood"], -mean_ce * weight.sum(), 1e-10, "llf")


@pytest.mark.parametrize("weighted", [False, True])
def test_penalized_multinomial_reports_coef_with_projected_inverse_information(weighted):
    X, y = iris()
    C = 2.0
    weight = np.random.default_rng(3).integers(1, 4, len(y)).astype(float)
    if not weighted:
        weight = np.ones(len(y))
    model = CrossEntropyLogisticRegression(C=C).fit(X, y, sample_weight=weight)
    table = model.summary(X, y, weight)

    assert table.attrs["parametrization"] == "sum-to-zero"
    assert table.attrs["penalized"] is True
    assert "conditional on the penalty" in table.attrs["note"]
    assert list(table.index.get_level_values("class").unique()) == [0, 1, 2]
    by_class = np.column_stack([model.intercept_, model.coef_])
    assert_close(table["estimate"], by_class.ravel(), 1e-12, "coef_ itself")
    assert np.all(np.isfinite(table["std_error"])) and np.all(table["std_error"] > 0)

    # Independent: the Hessian of the penalised total log-likelihood in coef_'s own
    # (over-complete) parametrisation, inverted on the sum-to-zero subspace.
    design = np.column_stack([np.ones(len(y)), X.to_numpy()])
    proba = softmax(design @ by_class.T, axis=1)
    n_classes, width = by_class.shape
    hessian = np.block(
        [
            [
                design.T @ (design * (weight * proba[:, k] * ((k == m) - proba[:, m]))[:, None])
                for m in range(n_classes)
            ]
            for k in range(n_classes)
        ]
    )
    hessian += np.diag(np.tile(np.r_[0.0, np.ones(width - 1)], n_classes)) / C
    complement = np.eye(n_classes * width) - np.kron(
        np.full((n_classes, n_classes), 1 / n_classes), np.eye(width)
    )
    expected = np.linalg.pinv(complement @ hessian @ complement)
    cov = model.cov_params(X, y, weight).to_numpy()
    assert_cov_close(cov, expected, 1e-9, "penalised multinomial cov")
    assert_close(table["std_error"], np.sqrt(np.diag(expected)), 1e-8, "multinomial std_error")

    score = np.hstack([(proba[:, [k]] - (y == k)[:, None]) * design for k in range(n_classes)])
    sandwich = expected @ (score.T @ (score * weight[:, None])) @ expected
    robust = model.cov_params(X, y, weight, cov_type="HC0").to_numpy()
    assert_cov_close(robust, sandwich, 1e-9, "penalised multinomial HC0")


def strong_signal(n_noise=0, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 3 + n_noise))
    y = (X[:, :3] @ [2.0, -1.5, 1.0] + rng.logistic(size=300) > 0).astype(int)
    return X, y


def test_elastic_net_without_zeros_gives_a_table():
    X, y = strong_signal()
    model = CrossEntropyLogisticRegression(C=1.0, l1_ratio=0.1).fit(X, y)
    assert np.all(model.coef_ != 0)
    table = model.summary(X, y)
    assert table.attrs["l1_ratio"] == 0.1
    assert table.attrs["penalized"] is True
    assert np.all(np.isfinite(table.to_numpy()))
    # The L1 part has no curvature off its kink: the covariance is that of the L2 part.
    hessian, _ = binary_information(X, y, model.coef_[0], model.intercept_[0], np.ones(len(y)))
    hessian += np.diag([0.0, 1.0, 1.0, 1.0]) * (1 - 0.1) / 1.0
    assert_close(model.cov_params(X, y), np.linalg.inv(hessian), 1e-7, "elastic-net cov")


def l1_model_with_zeros():
    X, y = strong_signal(n_noise=2)
    model = CrossEntropyLogisticRegression(C=0.05, l1_ratio=0.9).fit(X, y)
    assert np.any(model.coef_ == 0)
    return model, X, y


def test_elastic_net_with_zeros_is_refused():
    model, X, y = l1_model_with_zeros()
    for method in (model.summary, model.cov_params):
        with pytest.raises(ValueError, match="L1"):
            method(X, y)


def test_l1_refusal_names_features_plainly():
    model, X, y = l1_model_with_zeros()
    zero = [f"'x{j}'" for j in np.flatnonzero(model.coef_[0] == 0)]
    with pytest.raises(ValueError) as error:
        model.summary(X, y)
    assert "np.str_" not in str(error.value)
    assert all(name in str(error.value) for name in zero)


# -- 8. likelihood-ratio tests -----------------------------------------------------------------
@pytest.mark.parametrize(
    "restricted_columns",
    [("mean radius",), ("mean radius", "mean texture"), ("mean texture", "mean smoothness")],
)
def test_lr_test_of_nested_models_matches_statsmodels(restricted_columns):
    X, y = cancer()
    full = unpenalized().fit(X, y)
    restricted = unpenalized().fit(X[list(restricted_columns)], y)
    result = full.lr_test(restricted)

    ref_full, ref_small = cancer_logit(), cancer_logit(restricted_columns)
    statistic = 2 * (ref_full.llf - ref_small.llf)
    df = len(CANCER_COLUMNS) - len(restricted_columns)
    assert isinstance(result, LRTestResult)
    assert result.df == df
    assert_close(result.statistic, statistic, RTOL, "LR statistic")
    assert_close(result.p_value, chi2.sf(statistic, df), P_RTOL, "LR p-value")


def test_lr_test_of_nested_multinomial_models_matches_mnlogit():
    X, y = synthetic_multiclass()
    result = unpenalized().fit(X, y).lr_test(unpenalized().fit(X[:, :1], y))
    small = sm_fit(sm.MNLogit(y, sm.add_constant(X[:, :1])))
    statistic = 2 * (mnlogit("synthetic_4_classes", "nonrobust").llf - small.llf)
    assert result.df == 2 * 3
    assert_close(result.statistic, statistic, RTOL, "multinomial LR statistic")
    assert_close(result.p_value, chi2.sf(statistic, 6), P_RTOL, "multinomial LR p-value")


@pytest.mark.parametrize("data", ["spector", "cancer"])
def test_lr_test_against_null_matches_statsmodels_llr(data):
    X, y = spector() if data == "spector" else cancer()
    ref = spector_logit() if data == "spector" else cancer_logit()
    result = unpenalized().fit(X, y).lr_test()
    assert result.df == ref.df_model
    assert_close(result.statistic, ref.llr, RTOL, "llr")
    assert_close(result.p_value, ref.llr_pvalue, P_RTOL, "llr p-value")


@cache
def _cancer_full():
    X, y = cancer()
    return unpenalized().fit(X, y)


def other_labels(X):
    """Labels that ``mean radius`` alone predicts better than the full model predicts y."""
    noise = np.random.default_rng(0).logistic(size=len(X))
    return (X["mean radius"] + 0.3 * noise < 14).astype(int)


@pytest.mark.parametrize(
    ("make_restricted", "match"),
    [
        (lambda X, y: CrossEntropyLogisticRegression(C=1.0).fit(X[["mean radius"]], y), "penal"),
        (lambda X, y: unpenalized().fit(X[["mean radius", "worst area"]], y), "worst area"),
        (lambda X, y: unpenalized().fit(X[["mean radius"]][:300], y[:300]), "different data"),
        (lambda X, y: unpenalized().fit(X[CANCER_COLUMNS], y), "fewer parameters"),
        (lambda X, y: unpenalized().fit(X[["mean radius"]], other_labels(X)), "fits better"),
    ],
    ids=["penalized", "extra-feature", "other-rows", "same-size", "other-labels"],
)
def test_lr_test_refuses_a_bad_restricted_model(make_restricted, match):
    data = load_breast_cancer(as_frame=True)
    restricted = make_restricted(data.data, data.target)
    with pytest.raises(ValueError, match=match):
        _cancer_full().lr_test(restricted)


def test_lr_test_refusals_of_the_full_model():
    X, y = cancer()
    with pytest.raises(ValueError, match="penal"):
        CrossEntropyLogisticRegression(C=1.0).fit(X, y).lr_test()
    small = unpenalized().fit(X[["mean radius"]], y)
    with pytest.raises(ValueError, match="lacks"):
        small.lr_test(_cancer_full())
    # Without feature names only the number of parameters can be checked.
    with pytest.raises(ValueError, match="fewer parameters"):
        unpenalized().fit(X.to_numpy()[:, :1], y).lr_test(_cancer_numpy_model())
    with pytest.raises(ValueError, match="other classes"):
        three = np.where(np.random.default_rng(0).random(len(y)) < 0.2, 2, y)
        unpenalized().fit(X, three).lr_test(small)


def test_a_weightless_class_is_an_optimum_at_infinity_and_refused():
    """A class with zero total weight has its intercept driven to -inf at C=inf: the same
    failure of the maximum-likelihood estimate as separation, warned and refused alike
    (before the fix, lr_test counted the class's parameters: df 2 instead of 1)."""
    X, y = iris(["sepal length (cm)"])
    with pytest.warns(SeparationWarning, match="no rows of positive weight"):
        weighted = unpenalized(class_weight={0: 1.0, 1: 1.0, 2: 0.0}).fit(X, y)
    for method in (weighted.lr_test, lambda: weighted.summary(X, y)):
        with pytest.raises(ValueError, match="no rows of positive weight"):
            method()


def test_multinomial_l1_is_refused_even_without_zeros():
    X, y = iris(["sepal length (cm)"])
    model = CrossEntropyLogisticRegression(C=10.0, l1_ratio=0.1).fit(X, y)
    with pytest.raises(ValueError, match="multinomial fits with an L1 part"):
        model.summary(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_lr_test_refuses_a_fit_short_of_the_maximum():
    X, y = cancer()
    model = unpenalized(solver="sgd", random_state=0, max_iter=3).fit(X.to_numpy(), y)
    assert model.stop_crit_ > 1e-3
    with pytest.raises(ValueError, match="did not reach the maximum likelihood"):
        model.lr_test()


# -- 9. separation -------------------------------------------------------------------------------
def separated_data(kind, seed=0):
    rng = np.random.default_rng(seed)
    n = 200
    y = rng.integers(0, 2, n)
    if kind == "complete":
        column = np.where(y == 1, 1.0, -1.0) * rng.uniform(0.1, 2.0, n)
    else:  # positive only in (half of) class 1, zero everywhere else
        column = np.where((y == 1) & (rng.random(n) < 0.5), rng.uniform(0.5, 2.0, n), 0.0)
    noise = rng.normal(size=(n, 2))
    X = pd.DataFrame({"noise_a": noise[:, 0], "separator": column, "noise_b": noise[:, 1]})
    return X, y


@pytest.mark.parametrize("kind", ["complete", "quasi"])
def test_separation_warns_at_fit_and_refuses_inference(kind):
    X, y = separated_data(kind)
    with pytest.warns(SeparationWarning, match="separated") as record:
        model = unpenalized().fit(X, y)
    message = str(record[0].message)
    assert "'separator'" in message
    assert "'noise_a'" not in message and "'noise_b'" not in message
    assert ("quasi-completely" in message) == (kind == "quasi")
    for method in (model.summary, model.cov_params):
        with pytest.raises(ValueError, match=r"separated.*finite C"):
            method(X, y)
    with pytest.raises(ValueError, match="separated"):
        model.lr_test()
    with pytest.raises(ValueError, match="separated"):
        model.lr_test(unpenalized().fit(X[["noise_a"]], y))

    with pytest.warns(SeparationWarning):
        stored = unpenalized(store_covariance=True).fit(X, y)
    with pytest.raises(ValueError, match="separated"):
        stored.summary()


@pytest.mark.parametrize("kind", ["complete", "quasi"])
def test_separated_data_with_a_penalty_give_a_table(kind):
    X, y = separated_data(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = CrossEntropyLogisticRegression(C=1.0).fit(X, y)
        table = model.summary(X, y)
        model.cov_params(X, y, cov_type="HC0")
    assert np.all(np.isfinite(table.to_numpy()))
    assert table.attrs["penalized"] is True


def test_strong_overlapping_predictor_is_not_separation():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    X = pd.DataFrame(
        {"noise": rng.normal(size=200), "strong": 2.0 * (2 * y - 1) + rng.normal(size=200)}
    )
    assert 0.9 < np.mean((X["strong"] > 0) == y) < 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = unpenalized().fit(X, y)
        table = model.summary(X, y)
        model.lr_test()
    ref = sm_fit(sm.Logit(y, sm.add_constant(X)))
    assert_matches_statsmodels(table, ref, 0.05, what="strong predictor")


# -- 10. bad input -------------------------------------------------------------------------------
@cache
def _cancer_numpy_model():
    X, y = cancer()
    return unpenalized().fit(X.to_numpy(), y.to_numpy())


BAD_CALLS = {
    "bogus-cov_type": (lambda m, X, y: m.summary(X, y, cov_type="bogus"), "cov_type"),
    "bogus-cov_type-cov_params": (lambda m, X, y: m.cov_params(X, y, cov_type="HC3"), "cov_type"),
    "alpha-0": (lambda m, X, y: m.summary(X, y, alpha=0), "alpha"),
    "alpha-1": (lambda m, X, y: m.summary(X, y, alpha=1), "alpha"),
    "alpha-1.5": (lambda m, X, y: m.summary(X, y, alpha=1.5), "alpha"),
    "alpha-nan": (lambda m, X, y: m.summary(X, y, alpha=np.nan), "alpha"),
    "X-without-y": (lambda m, X, y: m.summary(X), "y is required"),
    # fit keeps no information where the fit is not at its optimum (sgd, 2 epochs).
    "no-data": (lambda m, X, y: _sgd_fit(m, X, y).summary(), "not at its optimum"),
    "no-data-cov_params": (lambda m, X, y: _sgd_fit(m, X, y).cov_params(), "store_covariance"),
    "first-half": (lambda m, X, y: m.summary(X[:280], y[:280]), "not the optimum"),
    "shuffled-labels": (lambda m, X, y: m.summary(X, y[::-1]), "not the optimum"),
    "other-weights": (
        lambda m, X, y: m.summary(X, y, np.r_[np.ones(500), np.full(len(y) - 500, 2.0)]),
        "not the optimum",
    ),
    "unknown-labels": (lambda m, X, y: m.summary(X, y + 5), "not seen in fit"),
    "wrong-feature-count": (lambda m, X, y: m.summary(X[:, :2], y), "features"),
}


def _sgd_fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clone(model).set_params(solver="sgd", max_iter=2).fit(X, y)


@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_bad_input_is_refused(name):
    call, match = BAD_CALLS[name]
    X, y = cancer()
    with pytest.raises(ValueError, match=match):
        call(_cancer_numpy_model(), X.to_numpy(), y.to_numpy())


@pytest.mark.parametrize("duplicate", ["copy", "constant"])
def test_collinear_features_are_named(duplicate):
    X, y = cancer()
    if duplicate == "copy":
        X["dup"], names = X["mean radius"], ["'dup'", "'mean radius'"]
    else:
        X["dup"], names = 3.0, ["'dup'", "'intercept'"]
    model = unpenalized().fit(X, y)
    for method in (model.summary, model.cov_params):
        with pytest.raises(ValueError, match="collinear") as error:
            method(X, y)
        assert all(name in str(error.value) for name in names)
        assert "'mean texture'" not in str(error.value)


def test_unfitted_estimator():
    X, y = cancer()
    model = unpenalized()
    with pytest.raises(NotFittedError):
        model.summary(X, y)
    with pytest.raises(NotFittedError):
        model.cov_params(X, y)
    with pytest.raises(NotFittedError):
        model.lr_test()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["binary", "multinomial"])
def test_inference_does_not_modify_its_inputs(kind, dtype):
    X, y, weight = weighted_case(kind)
    X = X.astype(dtype)
    model = unpenalized().fit(X, y, sample_weight=weight)
    coef = model.coef_.copy()
    originals = [array.copy() for array in (X, y, weight)]
    for array in (X, y, weight):
        array.setflags(write=False)
    for cov_type in ("nonrobust", "HC0"):
        model.summary(X, y, weight, cov_type=cov_type)
        model.cov_params(X, y, weight, cov_type=cov_type)
    for array, original in zip((X, y, weight), originals, strict=True):
        assert_array_equal(array, original)
    assert_array_equal(model.coef_, coef)


# -- 11. multinomial parametrisation -------------------------------------------------------------
def test_reference_estimates_are_differences_from_class_0():
    X, y = synthetic_multiclass()
    model = unpenalized().fit(X, y)
    table = model.summary(X, y)
    by_class = np.column_stack([model.intercept_, model.coef_])
    assert_close(table["estimate"], (by_class[1:] - by_class[0]).ravel(), 1e-9, "differences")

    cov = model.cov_params(X, y)
    assert cov.index.equals(table.index) and cov.columns.equals(table.index)
    for cov_type in ("nonrobust", "HC0"):
        matrix = model.cov_params(X, y, cov_type=cov_type).to_numpy()
        assert_array_equal(matrix, matrix.T)
        assert np.linalg.eigvalsh(matrix).min() > 0


def test_string_class_labels():
    X, codes = iris(["sepal length (cm)"])
    names = np.array(["setosa", "versicolor", "virginica"])
    model = unpenalized().fit(X, names[codes])
    table = model.summary(X, names[codes])
    assert list(table.index.levels[0]) == ["versicolor", "virginica"]
    assert table.attrs["reference_class"] == "setosa"
    assert list(table.index.get_level_values("feature")[:2]) == ["intercept", "sepal length (cm)"]
    assert_matches_statsmodels(table, mnlogit("iris_sepal_length", "nonrobust"), 0.05)
    assert model.cov_params(X, names[codes]).index.equals(table.index)
    penalized = CrossEntropyLogisticRegression(C=1.0).fit(X, names[codes])
    assert list(penalized.summary(X, names[codes]).index.levels[0]) == list(names)

    binary = names[1:][(codes == 2).astype(int)]
    table = unpenalized().fit(X, binary).summary(X, binary)
    assert list(table.index) == ["intercept", "sepal length (cm)"]
