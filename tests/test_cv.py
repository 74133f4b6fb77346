"""CrossEntropyLogisticRegressionCV against GridSearchCV, direct fits and its own contract."""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.base import clone
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import get_scorer, log_loss
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import check_fit2d_1feature
from sklearn.utils.fixes import parse_version

from celr import (
    CrossEntropyLogisticRegression,
    CrossEntropyLogisticRegressionCV,
    regularization_path,
)
from tests.conftest import dataset

pytestmark = pytest.mark.filterwarnings("error")

# Moderate grids: far up an 8-decade grid the folds are nearly separated and held-out
# log-losses of warm- and cold-started fits differ by more than the solver tolerance.
CS = np.logspace(-2, 1, 4)


@cache
def _fitted(name, l1_ratios, refit=True):
    X, y = dataset(name)
    return CrossEntropyLogisticRegressionCV(
        Cs=CS, l1_ratios=l1_ratios, cv=StratifiedKFold(5), refit=refit
    ).fit(X, y)


def fitted(name, l1_ratios=(0.0,), refit=True):
    """A fitted model, shared between tests (never modify it)."""
    return _fitted(name, tuple(l1_ratios), refit)


# -- agreement with GridSearchCV ----------------------------------------------------------

GRID_CASES = [
    ("breast_cancer_scaled", (0.0,)),
    ("breast_cancer_scaled", (0.0, 0.5, 1.0)),
    ("wine_scaled", (0.0, 0.5, 1.0)),
    ("iris", (0.0,)),
]


@pytest.mark.parametrize(("name", "l1_ratios"), GRID_CASES, ids=lambda v: str(v))
def test_agrees_with_grid_search(name, l1_ratios):
    X, y = dataset(name)
    model = fitted(name, l1_ratios)
    search = GridSearchCV(
        CrossEntropyLogisticRegression(),
        {"C": model.Cs_, "l1_ratio": list(l1_ratios)},
        cv=StratifiedKFold(5),
        scoring="neg_log_loss",
    ).fit(X, y)
    assert model.C_ == search.best_params_["C"]
    assert model.l1_ratio_ == search.best_params_["l1_ratio"]
    ref = {
        (params["l1_ratio"], params["C"]): k
        for k, params in enumerate(search.cv_results_["params"])
    }
    results = model.cv_results_
    assert len(results["param_C"]) == len(ref)
    for i, pair in enumerate(zip(results["param_l1_ratio"], results["param_C"], strict=True)):
        k = ref[pair]
        # Warm-started path fits and GridSearchCV's cold fits stop at different points
        # within tol=1e-8: single held-out log-losses differ by up to ~1e-6.
        for key, tol in [("mean_test_score", 1e-6), ("std_test_score", 1e-5)] + [
            (f"split{f}_test_score", 1e-5) for f in range(5)
        ]:
            assert results[key][i] == pytest.approx(search.cv_results_[key][k], abs=tol), key
    # The refitted model is GridSearchCV's best estimator.
    np.testing.assert_allclose(model.coef_, search.best_estimator_.coef_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.intercept_, search.best_estimator_.intercept_, rtol=1e-12)


# -- attributes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "l1_ratios", "n_scores"),
    [("breast_cancer_scaled", (0.0, 0.5, 1.0), 1), ("wine_scaled", (0.0, 0.5, 1.0), 3)],
)
def test_attribute_shapes_and_results_table(name, l1_ratios, n_scores):
    X, _ = dataset(name)
    model = fitted(name, l1_ratios)
    n_l1, n_cs = len(l1_ratios), len(CS)
    np.testing.assert_array_equal(model.Cs_, CS)
    np.testing.assert_array_equal(model.l1_ratios_, l1_ratios)
    assert model.scores_.shape == (5, n_l1, n_cs)
    assert model.coefs_paths_.shape == (5, n_l1, n_cs, n_scores, X.shape[1] + 1)
    assert model.n_iter_paths_.shape == (5, n_l1, n_cs)
    assert model.coef_.shape == (n_scores, X.shape[1])
    assert model.intercept_.shape == (n_scores,)
    assert model.C_ in model.Cs_ and model.l1_ratio_ in model.l1_ratios_
    assert isinstance(model.C_, float) and isinstance(model.l1_ratio_, float)

    results = model.cv_results_
    for values in results.values():
        assert len(values) == n_l1 * n_cs
    np.testing.assert_array_equal(results["param_l1_ratio"], np.repeat(l1_ratios, n_cs))
    np.testing.assert_array_equal(results["param_C"], np.tile(CS, n_l1))
    np.testing.assert_allclose(results["mean_test_score"], model.scores_.mean(axis=0).ravel())
    np.testing.assert_allclose(results["std_test_score"], model.scores_.std(axis=0).ravel())
    np.testing.assert_allclose(results["mean_n_iter"], model.n_iter_paths_.mean(axis=0).ravel())
    for k in range(5):
        np.testing.assert_array_equal(results[f"split{k}_test_score"], model.scores_[k].ravel())
    best = np.flatnonzero(results["rank_test_score"] == 1)
    assert len(best) == 1
    assert results["param_C"][best[0]] == model.C_
    assert results["param_l1_ratio"][best[0]] == model.l1_ratio_
    assert results["mean_test_score"][best[0]] == results["mean_test_score"].max()
    # Ranks as GridSearchCV's: 1 + the number of strictly better pairs.
    mean = results["mean_test_score"]
    np.testing.assert_array_equal(results["rank_test_score"], [1 + np.sum(mean > m) for m in mean])
    table = pd.DataFrame(results)
    assert len(table) == n_l1 * n_cs
    assert {"param_C", "param_l1_ratio", "mean_test_score", "rank_test_score"} <= set(table)


def test_coefs_paths_are_the_folds_regularization_paths():
    X, y = dataset("wine_scaled")
    model = fitted("wine_scaled", (0.0, 0.5, 1.0))
    for k, (train, _) in enumerate(StratifiedKFold(5).split(X, y)):
        for j, l1_ratio in enumerate(model.l1_ratios_):
            path = regularization_path(X[train], y[train], Cs=model.Cs_, l1_ratio=l1_ratio)
            np.testing.assert_allclose(
                model.coefs_paths_[k, j, ..., :-1], path.coefs, rtol=1e-10, atol=1e-12
            )
            np.testing.assert_allclose(
                model.coefs_paths_[k, j, ..., -1], path.intercepts, rtol=1e-10, atol=1e-12
            )
            np.testing.assert_array_equal(model.n_iter_paths_[k, j], path.n_iter)


def test_scores_are_held_out_log_losses():
    X, y = dataset("wine_scaled")
    model = fitted("wine_scaled")
    train, test = next(iter(StratifiedKFold(5).split(X, y)))
    for c, C in enumerate(model.Cs_):
        direct = CrossEntropyLogisticRegression(C=C).fit(X[train], y[train])
        expected = -log_loss(y[test], direct.predict_proba(X[test]), labels=direct.classes_)
        assert model.scores_[0, 0, c] == pytest.approx(expected, abs=1e-6)


def test_default_grid_and_default_cv():
    X, y = dataset("wine_scaled")
    model = CrossEntropyLogisticRegressionCV(Cs=3).fit(X, y)
    np.testing.assert_allclose(model.Cs_, np.logspace(-4, 4, 3))
    assert model.scores_.shape == (5, 1, 3)  # 5-fold StratifiedKFold
    ref = CrossEntropyLogisticRegressionCV(Cs=3, cv=StratifiedKFold(5)).fit(X, y)
    np.testing.assert_array_equal(model.scores_, ref.scores_)


# -- refit --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "l1_ratios"),
    [("breast_cancer_scaled", (0.0, 0.5, 1.0)), ("wine_scaled", (0.0, 0.5, 1.0))],
)
def test_refit_equals_direct_fit_at_the_chosen_pair(name, l1_ratios):
    X, y = dataset(name)
    model = fitted(name, l1_ratios)
    direct = CrossEntropyLogisticRegression(C=model.C_, l1_ratio=model.l1_ratio_).fit(X, y)
    np.testing.assert_array_equal(model.coef_, direct.coef_)
    np.testing.assert_array_equal(model.intercept_, direct.intercept_)
    np.testing.assert_array_equal(model.classes_, direct.classes_)
    assert model.n_iter_ == direct.n_iter_
    assert model.solver_ == direct.solver_
    np.testing.assert_array_equal(model.predict_proba(X), direct.predict_proba(X))


@pytest.mark.parametrize(
    ("name", "l1_ratios"), [("breast_cancer_scaled", (0.0,)), ("wine_scaled", (0.0, 0.5, 1.0))]
)
def test_no_refit_averages_the_folds(name, l1_ratios):
    X, y = dataset(name)
    model = fitted(name, l1_ratios, refit=False)
    refitted = fitted(name, l1_ratios)
    np.testing.assert_array_equal(model.scores_, refitted.scores_)
    j = int(np.flatnonzero(model.l1_ratios_ == model.l1_ratio_)[0])
    c = int(np.flatnonzero(model.Cs_ == model.C_)[0])
    mean = model.coefs_paths_[:, j, c].mean(axis=0)
    np.testing.assert_allclose(model.coef_, mean[:, :-1], rtol=1e-14, atol=0)
    np.testing.assert_allclose(model.intercept_, mean[:, -1], rtol=1e-14, atol=0)
    assert model.n_iter_ == model.n_iter_paths_[:, j, c].max()
    np.testing.assert_array_equal(model.classes_, np.unique(y))
    scores = X @ model.coef_.T + model.intercept_
    codes = (scores[:, 0] > 0).astype(int) if scores.shape[1] == 1 else scores.argmax(axis=1)
    np.testing.assert_array_equal(model.predict(X), model.classes_[codes])
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0)
    assert model.score(X, y) > 0.9


def test_no_refit_without_intercept():
    X, y = dataset("wine_scaled")
    model = CrossEntropyLogisticRegressionCV(Cs=CS, fit_intercept=False, refit=False).fit(X, y)
    assert model.coefs_paths_.shape == (5, 1, len(CS), 3, X.shape[1])
    c = int(np.flatnonzero(model.Cs_ == model.C_)[0])
    np.testing.assert_allclose(model.coef_, model.coefs_paths_[:, 0, c].mean(axis=0))
    np.testing.assert_array_equal(model.intercept_, np.zeros(3))
    assert model.predict(X).shape == y.shape


# -- parallelism, pipelines, data frames --------------------------------------------------


def test_n_jobs_gives_identical_results():
    X, y = dataset("wine_scaled")
    # Small: the time goes into starting joblib's worker processes.
    params = {"Cs": [0.1, 1.0], "l1_ratios": [0.0, 1.0], "cv": 2}
    serial = CrossEntropyLogisticRegressionCV(n_jobs=1, **params).fit(X, y)
    parallel = CrossEntropyLogisticRegressionCV(n_jobs=2, **params).fit(X, y)
    np.testing.assert_array_equal(parallel.scores_, serial.scores_)
    np.testing.assert_array_equal(parallel.coefs_paths_, serial.coefs_paths_)
    np.testing.assert_array_equal(parallel.n_iter_paths_, serial.n_iter_paths_)
    assert (parallel.C_, parallel.l1_ratio_) == (serial.C_, serial.l1_ratio_)
    np.testing.assert_array_equal(parallel.coef_, serial.coef_)
    np.testing.assert_array_equal(parallel.intercept_, serial.intercept_)


def test_pipeline_data_frame_and_cross_val_score():
    X, y = dataset("wine")
    columns = [f"feature_{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=columns)
    pipe = make_pipeline(StandardScaler(), CrossEntropyLogisticRegressionCV(Cs=CS)).fit(frame, y)
    cv_model = pipe[-1]
    np.testing.assert_array_equal(pipe.feature_names_in_, columns)
    assert pipe.score(frame, y) > 0.95
    # Same as fitting on the scaled array.
    scaled = StandardScaler().fit_transform(X)
    np.testing.assert_allclose(cv_model.coef_, fitted("wine_scaled").coef_, atol=1e-10)

    model = CrossEntropyLogisticRegressionCV(Cs=CS).fit(
        pd.DataFrame(scaled, columns=columns), pd.Series(y)
    )
    np.testing.assert_array_equal(model.feature_names_in_, columns)
    assert model.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(
        model.predict(pd.DataFrame(scaled, columns=columns)), fitted("wine_scaled").predict(scaled)
    )

    scores = cross_val_score(
        make_pipeline(StandardScaler(), CrossEntropyLogisticRegressionCV(Cs=[0.1, 1.0], cv=3)),
        frame,
        y,
        cv=3,
    )
    assert scores.shape == (3,)
    assert np.all(scores > 0.85)


def test_clone_and_sparse_input():
    X, y = dataset("wine_scaled")
    model = clone(CrossEntropyLogisticRegressionCV(Cs=CS, l1_ratios=[0.0, 1.0]))
    dense = model.fit(X, y)
    sparse = clone(model).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.scores_, dense.scores_, atol=1e-10)
    assert (sparse.C_, sparse.l1_ratio_) == (dense.C_, dense.l1_ratio_)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-8)


# -- scoring, cv, sample weights ----------------------------------------------------------


def test_accuracy_scoring_breaks_ties_toward_small_c_then_small_l1_ratio():
    X, y = dataset("wine_scaled")
    model = CrossEntropyLogisticRegressionCV(
        Cs=CS, l1_ratios=[0.0, 0.5, 1.0], scoring="accuracy"
    ).fit(X, y)
    mean = model.scores_.mean(axis=0)  # (n_l1, n_Cs)
    # Accuracies are multiples of 1/n_test: check they really are accuracies.
    assert np.all((model.scores_ >= 0) & (model.scores_ <= 1))
    best = np.argwhere(mean == mean.max())  # rows (l1 index, C index)
    c = best[:, 1].min()
    j = best[best[:, 1] == c, 0].min()
    assert model.C_ == model.Cs_[c]
    assert model.l1_ratio_ == model.l1_ratios_[j]
    assert model.cv_results_["rank_test_score"][j * len(CS) + c] == 1


def test_callable_scoring():
    X, y = dataset("wine_scaled")

    def neg_brier(estimator, X_test, y_test):
        proba = estimator.predict_proba(X_test)
        onehot = y_test[:, None] == estimator.classes_[None, :]
        return -np.mean(np.sum((proba - onehot) ** 2, axis=1))

    model = CrossEntropyLogisticRegressionCV(Cs=CS, scoring=neg_brier).fit(X, y)
    assert np.all(model.scores_ <= 0)
    assert model.C_ == model.Cs_[np.argmax(model.scores_.mean(axis=0)[0])]


def test_custom_cv_iterable_equals_its_splitter():
    X, y = dataset("iris")
    splitter = StratifiedKFold(3, shuffle=True, random_state=0)
    splits = list(splitter.split(X, y))
    from_list = CrossEntropyLogisticRegressionCV(Cs=CS, cv=splits).fit(X, y)
    from_splitter = CrossEntropyLogisticRegressionCV(Cs=CS, cv=splitter).fit(X, y)
    assert from_list.scores_.shape == (3, 1, len(CS))
    np.testing.assert_array_equal(from_list.scores_, from_splitter.scores_)
    assert from_list.C_ == from_splitter.C_
    # A generator of (train, test) pairs too; and an int is a StratifiedKFold.
    from_generator = CrossEntropyLogisticRegressionCV(Cs=CS, cv=iter(splits)).fit(X, y)
    np.testing.assert_array_equal(from_generator.scores_, from_list.scores_)
    three_fold = CrossEntropyLogisticRegressionCV(Cs=CS, cv=3).fit(X, y)
    ref = CrossEntropyLogisticRegressionCV(Cs=CS, cv=StratifiedKFold(3)).fit(X, y)
    np.testing.assert_array_equal(three_fold.scores_, ref.scores_)


def test_sample_weight_changes_the_fit_and_the_scores():
    X, y = dataset("wine_scaled")
    weight = np.ones(len(y))
    weight[y == 2] = 20.0  # one class weighs much more
    unweighted = fitted("wine_scaled")
    weighted = CrossEntropyLogisticRegressionCV(Cs=CS, cv=StratifiedKFold(5)).fit(
        X, y, sample_weight=weight
    )
    assert np.max(np.abs(weighted.coefs_paths_ - unweighted.coefs_paths_)) > 1e-2
    assert np.max(np.abs(weighted.scores_ - unweighted.scores_)) > 1e-3
    direct = CrossEntropyLogisticRegression(C=weighted.C_).fit(X, y, sample_weight=weight)
    np.testing.assert_array_equal(weighted.coef_, direct.coef_)
    # Held-out scores are weighted by the held-out rows' weights.
    train, test = next(iter(StratifiedKFold(5).split(X, y)))
    for c, C in enumerate(weighted.Cs_):
        fold = CrossEntropyLogisticRegression(C=C).fit(X[train], y[train], weight[train])
        expected = -log_loss(y[test], fold.predict_proba(X[test]), sample_weight=weight[test])
        assert weighted.scores_[0, 0, c] == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("l1_ratio", [0.0, 1.0])
def test_integer_sample_weight_refit_equals_repeated_rows(l1_ratio):
    X, y = dataset("wine_scaled")
    counts = np.random.default_rng(0).integers(1, 4, len(y))
    Xr, yr = np.repeat(X, counts, axis=0), np.repeat(y, counts)
    # One C, so both choose it: the folds (and so the choice) differ otherwise.
    params = {"Cs": [0.3], "l1_ratios": [l1_ratio], "tol": 1e-10}
    weighted = CrossEntropyLogisticRegressionCV(**params).fit(X, y, sample_weight=counts)
    repeated = CrossEntropyLogisticRegressionCV(**params).fit(Xr, yr)
    assert weighted.C_ == repeated.C_ == 0.3
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, atol=1e-7, rtol=0)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, atol=1e-7, rtol=0)


def test_class_weight_is_used():
    X, y = dataset("wine_scaled")
    model = CrossEntropyLogisticRegressionCV(Cs=[1.0], class_weight={0: 1.0, 1: 1.0, 2: 10.0}).fit(
        X, y
    )
    direct = CrossEntropyLogisticRegression(C=1.0, class_weight={0: 1.0, 1: 1.0, 2: 10.0})
    np.testing.assert_array_equal(model.coef_, direct.fit(X, y).coef_)
    assert np.max(np.abs(model.coef_ - fitted("wine_scaled").coef_)) > 1e-2


# -- groups and metadata routing -----------------------------------------------------------

# wine's rows are sorted by class, so i % 6 puts every class in every group, and so in every
# training fold of GroupKFold(3).
WINE_GROUPS = np.arange(178) % 6
# With a one-C grid each fold's fit is a cold start: the same computation as the direct
# fit below, so the scores differ only by the rounding of the log-loss, a few ulp of
# |log p| < 20 (or of a squared error < 2) per row, < 1e-13 in the mean.
SCORE_ATOL = 1e-12


def held_out_mean_log_p(X, y, train, test, C, fit_weight=None, score_weight=None):
    """-log-loss on ``test`` of a direct fit on ``train``, from predict_proba."""
    direct = CrossEntropyLogisticRegression(C=C).fit(X[train], y[train], sample_weight=fit_weight)
    proba = direct.predict_proba(X[test])
    log_p = np.log(proba[np.arange(len(test)), np.searchsorted(direct.classes_, y[test])])
    return np.average(log_p, weights=score_weight)


def wine_weights():
    return np.random.default_rng(0).uniform(0.2, 3.0, 178)


@pytest.mark.parametrize("weighted", [False, True])
def test_group_kfold_scores_are_a_loop_over_its_splits(weighted):
    X, y = dataset("wine_scaled")
    weight = wine_weights() if weighted else None
    model = CrossEntropyLogisticRegressionCV(Cs=[0.3], cv=GroupKFold(3))
    model.fit(X, y, sample_weight=weight, groups=WINE_GROUPS)
    splits = list(GroupKFold(3).split(X, y, WINE_GROUPS))
    assert model.scores_.shape == (3, 1, 1)
    for k, (train, test) in enumerate(splits):
        assert set(WINE_GROUPS[train]).isdisjoint(WINE_GROUPS[test])
        fit_w, score_w = (None, None) if weight is None else (weight[train], weight[test])
        expected = held_out_mean_log_p(X, y, train, test, 0.3, fit_w, score_w)
        assert model.scores_[k, 0, 0] == pytest.approx(expected, rel=0, abs=SCORE_ATOL)


def test_routing_enabled_routes_groups_and_requested_weights():
    X, y = dataset("wine_scaled")
    weight, data = wine_weights(), {"groups": WINE_GROUPS}
    plain = CrossEntropyLogisticRegressionCV(Cs=CS, cv=GroupKFold(3))
    plain.fit(X, y, sample_weight=weight, **data)
    with sklearn.config_context(enable_metadata_routing=True):
        asks = get_scorer("neg_log_loss").set_score_request(sample_weight=True)
        routed = CrossEntropyLogisticRegressionCV(Cs=CS, cv=GroupKFold(3), scoring=asks)
        routed.fit(X, y, sample_weight=weight, **data)
        refuses = get_scorer("neg_log_loss").set_score_request(sample_weight=False)
        unweighted_scores = CrossEntropyLogisticRegressionCV(
            Cs=[0.3], cv=GroupKFold(3), scoring=refuses
        ).fit(X, y, sample_weight=weight, **data)
        # As LogisticRegressionCV, in whichever scikit-learn is installed: a scorer that
        # did not say whether it wants the weights (refused from 1.7 on, taken in 1.6).
        ours = CrossEntropyLogisticRegressionCV(Cs=CS, cv=GroupKFold(3))
        theirs = LogisticRegressionCV(Cs=CS, cv=GroupKFold(3))
        try:
            with warnings.catch_warnings():  # its l1_ratios default is changing
                warnings.simplefilter("ignore", FutureWarning)
                theirs.fit(X, y, sample_weight=weight, **data)
        except UnsetMetadataPassedError:
            with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
                ours.fit(X, y, sample_weight=weight, **data)
        else:
            ours.fit(X, y, sample_weight=weight, **data)
        with pytest.raises(TypeError, match="groups"):  # StratifiedKFold does not ask
            CrossEntropyLogisticRegressionCV(Cs=CS, cv=3).fit(X, y, **data)
        with pytest.raises(TypeError, match="not routed"):
            CrossEntropyLogisticRegressionCV(Cs=CS, cv=3).fit(X, y, bogus=WINE_GROUPS)
    # The same computation as without routing.
    np.testing.assert_array_equal(routed.scores_, plain.scores_)
    np.testing.assert_array_equal(routed.coef_, plain.coef_)
    for k, (train, test) in enumerate(GroupKFold(3).split(X, y, WINE_GROUPS)):
        expected = held_out_mean_log_p(X, y, train, test, 0.3, fit_weight=weight[train])
        assert unweighted_scores.scores_[k, 0, 0] == pytest.approx(expected, abs=SCORE_ATOL)


def test_set_fit_request_routes_weights_and_groups_through_a_pipeline():
    X, y = dataset("wine")
    weight = wine_weights()
    direct = CrossEntropyLogisticRegressionCV(Cs=CS, cv=GroupKFold(3)).fit(
        StandardScaler().fit_transform(X), y, sample_weight=weight, groups=WINE_GROUPS
    )
    with sklearn.config_context(enable_metadata_routing=True):
        routing = CrossEntropyLogisticRegressionCV(cv=GroupKFold(3)).get_metadata_routing()
        assert routing.consumes("fit", ["groups", "sample_weight"]) == {"groups"}
        with pytest.raises(TypeError, match="groups"):  # the splitter's, not the model's
            CrossEntropyLogisticRegressionCV().set_fit_request(groups=True)
        scorer = get_scorer("neg_log_loss").set_score_request(sample_weight=True)
        model = CrossEntropyLogisticRegressionCV(Cs=CS, cv=GroupKFold(3), scoring=scorer)
        pipe = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False),
            model.set_fit_request(sample_weight=True),
        ).fit(X, y, sample_weight=weight, groups=WINE_GROUPS)
    np.testing.assert_array_equal(pipe[-1].scores_, direct.scores_)
    np.testing.assert_array_equal(pipe[-1].coef_, direct.coef_)


@pytest.mark.parametrize("routing", [False, True])
def test_metadata_errors(routing):
    X, y = dataset("iris")
    model = CrossEntropyLogisticRegressionCV(Cs=[1.0], cv=GroupKFold(3))
    with sklearn.config_context(enable_metadata_routing=routing):
        with pytest.raises(ValueError, match="groups has 149 entries but X has 150 rows"):
            model.fit(X, y, groups=np.arange(149) % 5)
        with pytest.raises(ValueError, match="groups"):  # GroupKFold needs them
            model.fit(X, y)
        # A class in one group only: its fold's training rows lack it.
        with pytest.raises(ValueError, match=r"Training fold \d has no row of class"):
            model.fit(X, y, groups=y)
    if not routing:  # as LogisticRegressionCV: other metadata only with routing
        with pytest.raises(ValueError, match="enable_metadata_routing"):
            model.fit(X, y, groups=np.arange(150) % 5, bogus=y)


def test_fit_modifies_nothing_it_is_given():
    X, y = dataset("wine_scaled")
    weight = np.random.default_rng(0).integers(1, 4, 178)  # ints: converted, on a copy
    groups = WINE_GROUPS.copy()
    splits = list(GroupKFold(3).split(X, y, groups))
    given = [X.copy(), y.copy(), weight.copy(), groups.copy()]
    splits_given = [(train.copy(), test.copy()) for train, test in splits]
    scorer = get_scorer("neg_log_loss")
    for cv in (GroupKFold(3), splits):
        model = CrossEntropyLogisticRegressionCV(Cs=CS, cv=cv, scoring=scorer)
        params = model.get_params(deep=False)
        model.fit(X, y, sample_weight=weight, groups=groups)
        assert model.get_params(deep=False) == params
    for before, after in zip(given, [X, y, weight, groups], strict=True):
        np.testing.assert_array_equal(after, before)
        assert after.dtype == before.dtype
    for (train, test), (train0, test0) in zip(splits, splits_given, strict=True):
        np.testing.assert_array_equal(train, train0)
        np.testing.assert_array_equal(test, test0)
    assert scorer._kwargs == {}  # the classes went to a copy of the scorer


# -- held-out folds lacking classes ---------------------------------------------------------


def test_passes_check_fit2d_1feature_with_the_default_five_folds():
    # Its 10 rows are 7 of class 1 and 3 of class 2: two held-out folds have class 1 only.
    check_fit2d_1feature("CrossEntropyLogisticRegressionCV", CrossEntropyLogisticRegressionCV())


# brier_score_loss scores more than two classes from scikit-learn 1.7 on.
BRIER_MULTICLASS = parse_version(sklearn.__version__) >= parse_version("1.7")


@pytest.mark.parametrize(
    "scoring",
    [
        "neg_log_loss",
        pytest.param(
            "neg_brier_score",
            marks=pytest.mark.skipif(not BRIER_MULTICLASS, reason="scikit-learn < 1.7"),
        ),
    ],
)
def test_scores_held_out_folds_lacking_classes(scoring):
    X, y = dataset("iris")  # sorted by class, 50 rows each
    everything = np.arange(150)
    tests = [np.arange(0, 30), np.arange(30, 90), np.arange(90, 140)]  # 1, 2, 2 classes
    cv = [(np.setdiff1d(everything, test), test) for test in tests]
    model = CrossEntropyLogisticRegressionCV(Cs=[1.0], cv=cv, scoring=scoring).fit(X, y)
    for k, (train, test) in enumerate(cv):
        proba = (
            CrossEntropyLogisticRegression(C=1.0).fit(X[train], y[train]).predict_proba(X[test])
        )
        onehot = y[test][:, None] == np.arange(3)
        if scoring == "neg_log_loss":
            expected = np.mean(np.log(proba[onehot]))
        else:  # three classes: the multi-class Brier score, not halved
            expected = -np.mean(np.sum((proba - onehot) ** 2, axis=1))
        assert model.scores_[k, 0, 0] == pytest.approx(expected, rel=0, abs=SCORE_ATOL)


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("l1_ratios", [[], [1.5], [0.0, -0.1], [0.5, 2.0]])
def test_bad_l1_ratios_raise(l1_ratios):
    X, y = dataset("iris")
    with pytest.raises(ValueError, match="l1_ratios"):
        CrossEntropyLogisticRegressionCV(Cs=[1.0], l1_ratios=l1_ratios).fit(X, y)


def test_nan_l1_ratio_raises():
    X, y = dataset("iris")
    model = CrossEntropyLogisticRegressionCV(Cs=[1.0], l1_ratios=[0.0, np.nan], cv=2, max_iter=3)
    with pytest.raises(ValueError, match="l1_ratios"):
        model.fit(X, y)


def test_integer_cs_with_l1_when_no_feature_correlates():
    X = np.full((20, 3), 2.5)
    y = np.arange(20) % 2
    try:
        model = CrossEntropyLogisticRegressionCV(Cs=3, l1_ratios=[0.0, 1.0], cv=2).fit(X, y)
    except ValueError as exc:  # a clear refusal would do
        assert "nan" not in str(exc).lower()
    else:  # or a finite grid
        assert np.all(np.isfinite(model.Cs_))
        assert np.isfinite(model.C_)


@pytest.mark.parametrize("Cs", [0, -2, [], [0.0, 1.0], [-1.0]])
def test_bad_cs_raise(Cs):
    X, y = dataset("iris")
    with pytest.raises(ValueError, match="Cs"):
        CrossEntropyLogisticRegressionCV(Cs=Cs).fit(X, y)


def test_sgd_is_not_a_cv_solver():
    X, y = dataset("iris")
    with pytest.raises(InvalidParameterError, match="solver"):
        CrossEntropyLogisticRegressionCV(Cs=[1.0], solver="sgd").fit(X, y)
    # 'gd' is a CV solver, for L1 too (proximal gradient).
    model = CrossEntropyLogisticRegressionCV(Cs=[1.0], solver="gd", l1_ratios=[1.0], cv=2)
    assert model.fit(X, y).solver_ == "gd"


def test_gd_solver_works_for_l2():
    X, y = dataset("wine_scaled")
    model = CrossEntropyLogisticRegressionCV(Cs=[0.1, 1.0], solver="gd", max_iter=5000).fit(X, y)
    ref = CrossEntropyLogisticRegressionCV(Cs=[0.1, 1.0]).fit(X, y)
    np.testing.assert_allclose(model.scores_, ref.scores_, atol=1e-6)


def test_one_class_raises():
    X, y = dataset("iris")
    with pytest.raises(ValueError, match="class"):
        CrossEntropyLogisticRegressionCV(Cs=[1.0]).fit(X, np.zeros_like(y))
    with pytest.raises(ValueError, match="class"):
        CrossEntropyLogisticRegressionCV(Cs=3, l1_ratios=[1.0]).fit(X, np.zeros_like(y))


def test_has_no_partial_fit():
    assert not hasattr(CrossEntropyLogisticRegressionCV(), "partial_fit")
    assert not hasattr(CrossEntropyLogisticRegressionCV(solver="newton"), "partial_fit")
    assert not hasattr(fitted("wine_scaled"), "partial_fit")


def test_has_no_partial_fit_even_with_sgd():
    assert not hasattr(CrossEntropyLogisticRegressionCV(solver="sgd"), "partial_fit")
