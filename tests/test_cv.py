"""CrossEntropyLogisticRegressionCV against GridSearchCV, direct fits and its own contract."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

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
