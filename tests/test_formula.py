"""celr.FormulaLogisticRegression and celr.logit against statsmodels' formula API."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from celr import CrossEntropyLogisticRegression, FormulaLogisticRegression, logit

pytest.importorskip("formulaic")
sm = pytest.importorskip("statsmodels.api")
smf = pytest.importorskip("statsmodels.formula.api")

# Both sides fitted to rounding. statsmodels by Newton with a step tolerance of 1e-12:
# its default (Newton, 1e-8 on the step) is already there, as Newton's last step is
# quadratically smaller than the one before (measured: default and 1e-12 fits differ by
# at most 2e-13 relative, in 7 iterations); celr by its Newton solver to tol=1e-12. The
# differences measured are at most 3e-12 (params and bse, binary and multinomial): the
# Hessians' condition numbers times float64 eps. 1e-8 leaves a wide margin above that.
RTOL = 1e-8
SM_FIT = {"method": "newton", "tol": 1e-12, "maxiter": 100, "disp": 0}
CELR = {"C": np.inf, "tol": 1e-12}


@pytest.fixture(scope="module")
def spector():
    return sm.datasets.spector.load_pandas().data


@pytest.fixture(scope="module")
def anes():
    return sm.datasets.anes96.load_pandas().data


def _binary_table(model, data):
    return model.summary().reindex(pd.Index(data, name="feature"))


@pytest.mark.parametrize(
    ("dataset", "formula"),
    [
        ("spector", "GRADE ~ GPA + TUCE + C(PSI)"),
        ("anes", "vote ~ np.log(popul + 0.1) + selfLR + age + C(educ)"),
        ("anes", "vote ~ selfLR + age + C(educ) - 1"),
    ],
)
def test_binary_matches_statsmodels(dataset, formula, request):
    data = request.getfixturevalue(dataset)
    expected = smf.logit(formula, data).fit(**SM_FIT)
    model = logit(formula, data, **CELR)
    table = model.summary()
    assert set(table.index) == set(expected.params.index)
    table = table.reindex(expected.params.index)
    np.testing.assert_allclose(table["estimate"], expected.params, rtol=RTOL)
    np.testing.assert_allclose(table["std_error"], expected.bse, rtol=RTOL)
    cov = model.cov_params().loc[expected.params.index, expected.params.index]
    np.testing.assert_allclose(cov, expected.cov_params(), rtol=RTOL)
    names = [name for name in expected.model.exog_names if name != "Intercept"]
    assert sorted(model.design_columns_) == sorted(names)
    assert model.estimator_.fit_intercept == ("Intercept" in expected.params.index)
    # New data: the same encoding, the same probabilities.
    new = data.sample(min(40, len(data) // 2), random_state=0)
    np.testing.assert_allclose(
        model.predict_proba(new)[:, 1], expected.predict(new), rtol=1e-9, atol=1e-12
    )


def test_spector_known_values(spector):
    model = FormulaLogisticRegression("GRADE ~ GPA + TUCE + C(PSI)").fit(spector)
    estimate = model.summary()["estimate"]
    known = {"Intercept": -13.021347, "C(PSI)[T.1.0]": 2.378688, "GPA": 2.826113}
    for name, value in known.items():
        assert estimate[name] == pytest.approx(value, abs=1e-6)
    assert model.estimator_.C == np.inf  # the default estimator is unpenalised
    assert list(model.classes_) == [0.0, 1.0]
    np.testing.assert_array_equal(model.coef_, model.estimator_.coef_)
    np.testing.assert_array_equal(model.intercept_, model.estimator_.intercept_)


def test_multinomial_matches_statsmodels(anes):
    formula = "PID ~ logpopul + selfLR + age + educ + income"
    data = anes.assign(logpopul=np.log(anes["popul"] + 0.1))
    expected = smf.mnlogit(formula, data).fit(**SM_FIT)
    model = logit(formula, data, **CELR)
    # fit did not keep this Hessian (42 parameters): the table from the data given.
    table = model.summary(data)
    assert list(model.classes_) == sorted(data["PID"].unique())
    # statsmodels: (features x classes 1..6) against class 0; celr: rows (class, feature).
    for k, column in enumerate(expected.params.columns, start=1):
        rows = table.xs(model.classes_[k], level=0)
        names = expected.params.index
        np.testing.assert_allclose(rows.loc[names, "estimate"], expected.params[column], rtol=RTOL)
        np.testing.assert_allclose(rows.loc[names, "std_error"], expected.bse[column], rtol=RTOL)
    new = data.sample(30, random_state=1)
    np.testing.assert_allclose(model.predict_proba(new), expected.predict(new), atol=1e-10)


def test_nan_rows_dropped_as_statsmodels(spector):
    data = spector.copy()
    data.loc[[2, 7], "GPA"] = np.nan
    data.loc[11, "GRADE"] = np.nan
    data.index = data.index * 3 + 5  # a non-positional index
    expected = smf.logit("GRADE ~ GPA + TUCE", data).fit(**SM_FIT)
    weight = np.ones(len(data))
    model = logit("GRADE ~ GPA + TUCE", data, sample_weight=weight, **CELR)
    assert model.results().nobs == expected.nobs == len(data) - 3
    np.testing.assert_allclose(
        model.summary()["estimate"].reindex(expected.params.index), expected.params, rtol=RTOL
    )
    # The same table from the data given again (rows dropped the same way).
    np.testing.assert_allclose(model.summary(data, sample_weight=weight), model.summary())


def test_string_and_boolean_response():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    label = np.where(x + rng.normal(size=200) > 0, "yes", "no")
    data = pd.DataFrame({"x": x, "label": label, "flag": label == "yes"})
    by_string = FormulaLogisticRegression("label ~ x").fit(data)
    by_flag = FormulaLogisticRegression("flag ~ x").fit(data)
    assert list(by_string.classes_) == ["no", "yes"]
    np.testing.assert_allclose(by_string.coef_, by_flag.coef_, rtol=1e-10)
    assert set(by_string.predict(data)) <= {"no", "yes"}
    assert by_string.score(data) == by_flag.score(data) > 0.6
    # One-sided formula with y; a two-sided one checks that y is its response.
    one_sided = FormulaLogisticRegression("~ x").fit(data, label)
    np.testing.assert_allclose(one_sided.coef_, by_string.coef_, rtol=1e-10)
    FormulaLogisticRegression("label ~ x").fit(data, label)
    with pytest.raises(ValueError, match="differs"):
        FormulaLogisticRegression("label ~ x").fit(data, label[::-1])


def test_no_intercept_and_estimator_parameters(spector):
    model = FormulaLogisticRegression(
        "GRADE ~ 0 + GPA + TUCE", CrossEntropyLogisticRegression(C=0.5)
    ).fit(spector)
    assert not model.estimator_.fit_intercept
    assert model.estimator_.C == 0.5
    assert "Intercept" not in model.summary().index
    assert model.design_columns_ == ["GPA", "TUCE"]
    assert not hasattr(model, "feature_names_in_")
    assert not hasattr(model, "n_features_in_")


def test_lr_test_delegates(spector):
    full = logit("GRADE ~ GPA + TUCE + C(PSI)", spector)
    small = logit("GRADE ~ GPA", spector)
    expected = smf.logit("GRADE ~ GPA + TUCE + C(PSI)", spector).fit(**SM_FIT)
    restricted = smf.logit("GRADE ~ GPA", spector).fit(**SM_FIT)
    result = full.lr_test(small)
    assert result.df == 2
    assert result.statistic == pytest.approx(2 * (expected.llf - restricted.llf), rel=1e-8)
    assert full.lr_test().statistic == pytest.approx(expected.llr, rel=1e-8)


def test_clone_get_params_pickle(spector):
    model = FormulaLogisticRegression("GRADE ~ np.log(GPA) + TUCE + C(PSI)")
    assert model.get_params()["formula"] == "GRADE ~ np.log(GPA) + TUCE + C(PSI)"
    assert clone(model).get_params() == model.get_params()
    model.fit(spector)
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict_proba(spector), model.predict_proba(spector))
    np.testing.assert_array_equal(
        copy.decision_function(spector), model.decision_function(spector)
    )
    np.testing.assert_allclose(
        copy.predict_log_proba(spector), np.log(model.predict_proba(spector))
    )


def test_bad_input(spector):
    with pytest.raises(ValueError, match="x9"):
        FormulaLogisticRegression("GRADE ~ GPA + x9").fit(spector)
    with pytest.raises(TypeError, match="DataFrame"):
        FormulaLogisticRegression("GRADE ~ GPA").fit(spector.to_numpy())
    with pytest.raises(ValueError, match="one-sided"):
        FormulaLogisticRegression("~ GPA").fit(spector)
    model = FormulaLogisticRegression("GRADE ~ GPA + C(PSI)").fit(spector)
    with pytest.raises(ValueError, match="GPA"):
        model.predict(spector.drop(columns="GPA"))
    new = spector.assign(PSI=spector["PSI"].replace(1.0, 2.0))
    with pytest.raises(ValueError, match=r"'PSI'.*2\.0"):
        model.predict_proba(new)


def test_predict_refuses_missing_values(spector):
    model = logit("GRADE ~ GPA + TUCE", spector)
    new = spector.head(3).copy()
    new.loc[1, "GPA"] = np.nan
    with pytest.raises(ValueError, match="GPA"):
        model.predict_proba(new)


def test_results_and_margeff_delegate(anes):
    model = logit("vote ~ selfLR + age + C(educ)", anes)
    expected = smf.logit("vote ~ selfLR + age + C(educ)", anes).fit(**SM_FIT)
    results = model.results()
    assert results.llf == pytest.approx(expected.llf, rel=1e-10)
    assert "Intercept" in results.table.index
    if not hasattr(model.estimator_, "margeff"):
        pytest.skip("CrossEntropyLogisticRegression.margeff is not there yet")
    effects = model.margeff(anes)
    frame = expected.get_margeff().summary_frame()
    assert set(frame.index) <= set(effects.index)


def test_model_selection(spector):
    from sklearn.model_selection import GridSearchCV, cross_val_score

    scores = cross_val_score(FormulaLogisticRegression("GRADE ~ GPA + C(PSI)"), spector, cv=3)
    assert scores.shape == (3,)
    search = GridSearchCV(
        FormulaLogisticRegression("GRADE ~ GPA + TUCE", CrossEntropyLogisticRegression()),
        {"estimator__C": [0.1, 1.0]},
        cv=3,
    ).fit(spector)
    assert search.best_estimator_.estimator_.C in (0.1, 1.0)
