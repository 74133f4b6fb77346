"""CrossEntropyLogisticRegression with the first-order solvers: fit with solver='sgd' and
'gd', and streaming with partial_fit."""

from __future__ import annotations

import copy
import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from celr import CrossEntropyLogisticRegression
from tests.conftest import reference_objective, reference_problem_for

Model = CrossEntropyLogisticRegression


@cache
def standardised(n_rows=20_000, n_classes=2, n_features=10, seed=0):
    """A well-conditioned standardised problem (no redundant, collinear features);
    read-only, so that any in-place change by celr raises."""
    X, y = make_classification(n_rows, n_features, n_informative=min(n_features, 6), n_redundant=0,
                               n_classes=n_classes, random_state=seed)  # fmt: skip
    X = StandardScaler().fit_transform(X)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def relative_gap(X, y, model, reference, C=1.0, sample_weight=None, class_weight=None):
    """Relative objective gap of ``model`` to ``reference`` (the independent objective)."""
    f_model = reference_objective(X, y, model.coef_, model.intercept_, C, sample_weight,
                                  class_weight)  # fmt: skip
    f_ref = reference_objective(X, y, reference.coef_, reference.intercept_, C, sample_weight,
                                class_weight)  # fmt: skip
    return (f_model - f_ref) / f_ref


def stream(model, X, y, chunks, *, passes, classes, n_samples_total):
    for _ in range(passes):
        for rows in chunks:
            model.partial_fit(X[rows], y[rows], classes=classes, n_samples_total=n_samples_total)
    return model


# -- the textbook's step ------------------------------------------------------------------
def test_partial_fit_takes_the_textbooks_sgd_step():
    """Section 5.6.3: from zero, x = [3, 2], y = 1, eta = 0.1 gives w = [0.15, 0.1], b = 0.05."""
    model = Model(C=np.inf, solver="sgd", batch_size=1, learning_rate=0.1, schedule="constant")
    model.partial_fit([[3.0, 2.0]], [1], classes=[0, 1])
    assert_allclose(model.coef_, [[0.15, 0.1]], rtol=1e-12)
    assert_allclose(model.intercept_, [0.05], rtol=1e-12)
    assert model.n_iter_ == 1 and model.solver_ == "sgd"
    assert_allclose(model.loss_curve_, [np.log(2)])  # measured before the step
    assert np.isnan(model.stop_crit_)
    # A second call continues: sigma(0.15*3 + 0.1*2 + 0.05) = sigma(0.7), residual - 0.332.
    model.partial_fit([[3.0, 2.0]], [1])
    residual = 1 / (1 + np.exp(-0.7)) - 1
    assert_allclose(model.coef_, [[0.15 - 0.3 * residual, 0.1 - 0.2 * residual]], rtol=1e-12)
    assert_allclose(model.intercept_, [0.05 - 0.1 * residual], rtol=1e-12)
    assert model.n_iter_ == 2 and len(model.loss_curve_) == 2


# -- passes over chunks converge to fit ---------------------------------------------------
def _chunks(y, n_classes):
    """Ten chunks of the rows; with three classes, the fourth holds only classes 0 and 1.

    Every chunk size is a multiple of the batch size (250), so that every row weighs the
    same in a pass (see test_uneven_last_chunk_does_not_bias_partial_fit).
    """
    if n_classes == 2:
        return np.array_split(np.arange(len(y)), 10)
    rng = np.random.default_rng(0)
    two_classes = rng.permutation(np.flatnonzero(y != 2))[:250]
    rest = rng.permutation(np.setdiff1d(np.arange(len(y)), two_classes))
    chunks = np.split(rest, np.cumsum([2250] * 8))
    return [*chunks[:3], two_classes, *chunks[3:]]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_partial_fit_over_chunks_converges_to_fit(n_classes):
    X, y = standardised(n_classes=n_classes)
    chunks = _chunks(y, n_classes)
    assert sorted(np.concatenate(chunks).tolist()) == list(range(20_000))
    assert len(chunks) == 10 and all(len(rows) % 250 == 0 for rows in chunks)
    if n_classes == 3:
        assert set(y[chunks[3]].tolist()) == {0, 1}
    reference = Model(solver="newton", tol=1e-12).fit(X, y)
    model = Model(solver="sgd", batch_size=250, random_state=0)
    stream(model, X, y, chunks, passes=30, classes=np.arange(n_classes), n_samples_total=20_000)
    assert model.coef_.shape == (1 if n_classes == 2 else 3, 10)  # softmax, not one-vs-rest
    assert model.n_iter_ == 300 and len(model.loss_curve_) == 300
    gap = relative_gap(X, y, model, reference)
    proba_error = np.abs(model.predict_proba(X) - reference.predict_proba(X)).max()
    print(f"partial_fit K={n_classes}: relative gap {gap:.2e}, max |dP| {proba_error:.4f}")
    assert -1e-10 < gap < 1e-3  # measured: 1.1e-6 (binary), 1.2e-6 (3 classes)
    assert proba_error < 1e-2  # measured: 0.0017, 0.0019


@pytest.mark.parametrize(
    "n_rows",
    [
        20_000,
        20_010,
    ],
)
def test_uneven_last_chunk_does_not_bias_partial_fit(n_rows):
    """pandas.read_csv(chunksize=1000) leaves a short last chunk; partial_fit's docstring
    promises fit's model all the same."""
    X, y = make_classification(n_rows, 10, n_informative=6, n_redundant=0, random_state=0)
    X = StandardScaler().fit_transform(X)
    chunks = [np.arange(start, min(start + 1000, n_rows)) for start in range(0, n_rows, 1000)]
    reference = Model(solver="newton", tol=1e-12).fit(X, y)
    model = Model(solver="sgd", random_state=0)  # batch_size=1024: one step per chunk
    stream(model, X, y, chunks, passes=30, classes=[0, 1], n_samples_total=n_rows)
    assert relative_gap(X, y, model, reference) < 1e-3  # measured: 2e-6 with 20,000 rows
    assert_allclose(model.predict_proba(X), reference.predict_proba(X), atol=1e-2)


def test_partial_fit_from_pandas_read_csv_chunks(tmp_path):
    X, y = standardised(n_rows=2000, n_features=5, seed=1)
    columns = [f"feature_{j}" for j in range(5)]
    frame = pd.DataFrame(X, columns=columns)
    frame["label"] = np.where(y == 1, "spam", "ham")
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)

    model = Model(solver="sgd", batch_size=100, random_state=0)
    for _ in range(10):
        for chunk in pd.read_csv(path, chunksize=400):
            model.partial_fit(chunk[columns], chunk["label"], classes=["ham", "spam"],
                              n_samples_total=2000)  # fmt: skip
    assert model.n_iter_ == 50
    assert_array_equal(model.feature_names_in_, columns)
    assert_array_equal(model.classes_, ["ham", "spam"])
    test = pd.read_csv(path)
    predicted = model.predict(test[columns])
    assert set(predicted) <= {"ham", "spam"}
    reference = Model(solver="newton").fit(frame[columns], frame["label"])
    assert np.mean(predicted == reference.predict(test[columns])) > 0.98
    assert_allclose(model.predict_proba(test[columns]), reference.predict_proba(test[columns]),
                    atol=2e-2)  # fmt: skip
    with pytest.raises(ValueError, match="feature names"):
        model.predict(test[columns[::-1]])


# -- bad input ----------------------------------------------------------------------------
def _started(**params):
    X, y = standardised(n_rows=200, n_features=4, seed=2)
    return Model(solver="sgd", **params).partial_fit(X[:100], y[:100], classes=[0, 1]), X, y


def test_partial_fit_rejects_label_outside_classes():
    X, y = standardised(n_rows=200, n_features=4, seed=2)
    labels = np.where(np.arange(200) == 7, 5, y)
    with pytest.raises(ValueError, match=r"not in classes.*\[5\]"):
        Model(solver="sgd").partial_fit(X, labels, classes=[0, 1])
    model, _, _ = _started()
    with pytest.raises(ValueError, match=r"\[5\]"):
        model.partial_fit(X, labels)


def test_partial_fit_rejects_changed_number_of_features():
    model, X, y = _started()
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[100:, :3], y[100:])


def test_partial_fit_needs_classes_on_first_call():
    X, y = standardised(n_rows=200, n_features=4, seed=2)
    with pytest.raises(ValueError, match="classes"):
        Model(solver="sgd").partial_fit(X, y)


def test_partial_fit_rejects_classes_changed_between_calls():
    model, X, y = _started()
    with pytest.raises(ValueError, match="classes"):
        model.partial_fit(X[100:], y[100:], classes=[0, 1, 2])


def test_partial_fit_rejects_balanced_class_weight():
    X, y = standardised(n_rows=200, n_features=4, seed=2)
    with pytest.raises(ValueError, match="balanced"):
        Model(solver="sgd", class_weight="balanced").partial_fit(X, y, classes=[0, 1])


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "auto", "gd"])
def test_partial_fit_only_for_sgd(solver):
    model = Model(solver=solver)
    assert not hasattr(model, "partial_fit")
    with pytest.raises(AttributeError, match="partial_fit") as error:
        model.partial_fit([[0.0], [1.0]], [0, 1], classes=[0, 1])
    # The message itself (not only a chained cause) says which solver is needed.
    assert "solver='sgd'" in str(error.value)
    assert f"solver={solver!r}" in str(error.value)
    assert hasattr(Model(solver="sgd"), "partial_fit")


def test_partial_fit_rejects_nan():
    X, y = standardised(n_rows=200, n_features=4, seed=2)
    X = X.copy()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Model(solver="sgd").partial_fit(X, y, classes=[0, 1])
    model, _, _ = _started()
    with pytest.raises(ValueError, match="NaN"):
        model.partial_fit(X, y)


def test_inputs_are_not_modified():
    X, y = standardised(n_rows=300, n_classes=3, n_features=4, seed=3)
    weight = np.random.default_rng(0).uniform(0.5, 2.0, size=300)
    X_sparse = sp.csr_array(X)
    copies = X.copy(), y.copy(), weight.copy(), X_sparse.copy()
    for array in (X, y, weight, X_sparse.data, X_sparse.indices, X_sparse.indptr):
        array.setflags(write=False)  # an in-place change would raise
    params = dict(solver="sgd", random_state=0, max_iter=5, class_weight={0: 2.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for data in (X, X_sparse):
            Model(**params).fit(data, y, sample_weight=weight)
            Model(**params, early_stopping=True).fit(data, y, sample_weight=weight)
            model = Model(**params).partial_fit(data, y, classes=[0, 1, 2], sample_weight=weight)
            model.partial_fit(data, y, sample_weight=weight)
        Model(solver="gd", max_iter=5).fit(X, y, sample_weight=weight)
    assert_array_equal(X, copies[0])
    assert_array_equal(y, copies[1])
    assert_array_equal(weight, copies[2])
    assert_array_equal(X_sparse.toarray(), copies[3].toarray())


# -- divergence ---------------------------------------------------------------------------
def _raw_breast_cancer():
    return load_breast_cancer(return_X_y=True)  # features up to 4000: eta = 1e6 explodes


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="sgd", schedule="constant"),
        dict(solver="sgd", schedule="constant", batch_size=32),
        dict(solver="gd"),
    ],
    ids=["sgd-full-batch", "sgd-batch-32", "gd"],
)
def test_fit_with_too_large_learning_rate_warns_and_keeps_finite_weights(params):
    X, y = _raw_breast_cancer()
    model = Model(learning_rate=1e6, random_state=0, **params)
    with pytest.warns(ConvergenceWarning, match="learning_rate") as record:
        model.fit(X, y)
    assert any("diverged" in str(warning.message) for warning in record)
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))
    # The weights kept are from before the run-away: no worse than the start (zero
    # weights and the log-odds intercept, whose loss is below log 2).
    assert model.loss(X, y) <= np.log(2)


@pytest.mark.parametrize("batch_size", [1024, 32])
def test_partial_fit_with_too_large_learning_rate_warns(batch_size):
    X, y = _raw_breast_cancer()
    model = Model(solver="sgd", learning_rate=1e6, schedule="constant", batch_size=batch_size)
    with pytest.warns(ConvergenceWarning, match="learning_rate"):
        model.partial_fit(X, y, classes=[0, 1])
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))
    assert model.loss(X, y) == pytest.approx(np.log(2))  # rolled back to the start
    with pytest.warns(ConvergenceWarning, match="learning_rate"):
        model.partial_fit(X, y)
    assert np.all(np.isfinite(model.coef_))


def test_gd_divergence_keeps_loss_curve_contract():
    X, y = _raw_breast_cancer()
    model = Model(solver="gd", learning_rate=1e6)
    with pytest.warns(ConvergenceWarning, match="learning_rate"):
        model.fit(X, y)
    assert len(model.loss_curve_) == model.n_iter_ + 1


# -- fit with sgd -------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # max_iter=50
def test_sgd_fit_attributes_and_random_state():
    X, y = standardised(n_rows=5000, n_classes=3, seed=4)
    model = Model(solver="sgd", random_state=0, max_iter=12).fit(X, y)
    assert model.solver_ == "sgd"
    assert 1 <= model.n_iter_ <= 12
    assert model.loss_curve_.shape == (model.n_iter_ + 1,)
    assert np.isfinite(model.stop_crit_) and model.stop_crit_ > 0
    assert model.validation_loss_curve_ is None
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    again = Model(solver="sgd", random_state=0, max_iter=12).fit(X, y)
    assert_array_equal(again.coef_, model.coef_)
    assert_array_equal(again.intercept_, model.intercept_)
    other = Model(solver="sgd", random_state=1, max_iter=12).fit(X, y)
    assert not np.array_equal(other.coef_, model.coef_)
    assert_allclose(other.coef_, model.coef_, atol=0.05)  # the same optimum, up to noise


def test_early_stopping_records_held_out_curve():
    X, y = standardised()
    model = Model(solver="sgd", early_stopping=True, random_state=0, max_iter=1000).fit(X, y)
    curve = model.validation_loss_curve_
    assert curve is not None
    assert curve.shape == (model.n_iter_ + 1,) == model.loss_curve_.shape
    assert model.n_iter_ < 1000  # the held-out loss plateaus long before
    assert model.n_iter_ >= model.n_iter_no_change
    # Stopped because none of the last n_iter_no_change epochs beat the best before them.
    last = model.n_iter_no_change
    assert np.all(curve[-last:] > curve[:-last].min() - model.tol)
    assert np.all(np.isfinite(curve)) and curve.min() < curve[0]
    with pytest.warns(ConvergenceWarning, match="max_iter=5"):
        plain = Model(solver="sgd", random_state=0, max_iter=5).fit(X, y)
    assert plain.validation_loss_curve_ is None


def test_partial_fit_continues_a_sgd_fit():
    X, y = standardised(n_rows=5000, seed=5)
    reference = Model(solver="newton", tol=1e-12).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 30 epochs: max_iter
        model = Model(solver="sgd", random_state=0, max_iter=30).fit(X, y)
    coef, n_iter, curve = model.coef_.copy(), model.n_iter_, model.loss_curve_.copy()
    gap_before = relative_gap(X, y, model, reference)
    # The same model with its optimiser state dropped: partial_fit starts a new one there.
    restarted = copy.deepcopy(model)
    restarted._optimizer_state = None
    model.partial_fit(X, y)  # no classes: continues fit's classes_ and state
    restarted.partial_fit(X, y)
    assert model.n_iter_ == n_iter + 1
    assert model.loss_curve_.shape == (len(curve) + 1,)
    assert_array_equal(model.loss_curve_[:-1], curve)
    assert np.isnan(model.stop_crit_)
    # A little: the decayed step and the average continue (5,000 rows are 16 steps an
    # epoch, so fit adapted its step and handed partial_fit the decay and the average);
    # a new state's full first step moves it further and loses more of the fit.
    change = np.linalg.norm(model.coef_ - coef) / np.linalg.norm(coef)
    change_restarted = np.linalg.norm(restarted.coef_ - coef) / np.linalg.norm(coef)
    gap_after = relative_gap(X, y, model, reference)
    gap_restarted = relative_gap(X, y, restarted, reference)
    print(
        f"partial_fit after fit: change {change:.1e} (restarted {change_restarted:.1e}), "
        f"gap {gap_before:.1e} -> {gap_after:.1e} (restarted {gap_restarted:.1e})"
    )
    assert 0 < change < 0.5 * change_restarted
    assert gap_after < gap_restarted


def test_sgd_fit_with_sample_and_class_weights():
    X, y = standardised(seed=6)
    sample_weight = np.random.default_rng(6).uniform(0.0, 2.0, size=len(y))
    class_weight = {0: 1.0, 1: 3.0}
    params = dict(class_weight=class_weight)
    reference = Model(solver="newton", tol=1e-12, **params).fit(X, y, sample_weight=sample_weight)
    model = Model(solver="sgd", batch_size=256, random_state=0, **params)
    model.fit(X, y, sample_weight=sample_weight)
    gap = relative_gap(X, y, model, reference, 1.0, sample_weight, class_weight)
    print(f"sgd fit with sample and class weights: relative gap {gap:.2e}")
    assert -1e-10 < gap < 1e-3
    unweighted = Model(solver="newton", tol=1e-12).fit(X, y)
    assert relative_gap(X, y, unweighted, reference, 1.0, sample_weight, class_weight) > 10 * gap


@pytest.mark.parametrize("n_classes", [2, 3])
def test_float32_and_sparse_input(n_classes):
    X, y = standardised(n_rows=2000, n_classes=n_classes, seed=7)
    params = dict(solver="sgd", random_state=0, max_iter=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = Model(**params).fit(X, y)
        single = Model(**params).fit(X.astype(np.float32), y)
        sparse = Model(**params).fit(sp.csr_array(X), y)
    assert single.coef_.dtype == np.float32 and single.intercept_.dtype == np.float32
    assert dense.coef_.dtype == np.float64
    assert_allclose(single.coef_, dense.coef_, rtol=1e-4, atol=1e-5)
    assert_allclose(sparse.coef_, dense.coef_, rtol=1e-10, atol=1e-12)

    classes = np.arange(n_classes)
    streamed = {}
    for name, data in [("dense", X), ("float32", X.astype(np.float32)), ("csr", sp.csr_array(X))]:
        model = Model(solver="sgd", random_state=0, batch_size=100)
        for rows in np.array_split(np.arange(2000), 4):
            model.partial_fit(data[rows], y[rows], classes=classes)
        streamed[name] = model
    assert streamed["float32"].coef_.dtype == np.float32
    assert_allclose(streamed["csr"].coef_, streamed["dense"].coef_, rtol=1e-10, atol=1e-12)
    assert_allclose(streamed["float32"].coef_, streamed["dense"].coef_, rtol=1e-4, atol=1e-5)
    assert streamed["csr"].score(sp.csr_array(X), y) == streamed["dense"].score(X, y)


# -- gd through the estimator -------------------------------------------------------------
def test_gd_estimator_matches_newton():
    problem = reference_problem_for("breast_cancer_scaled", 1.0, False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        gd = Model(solver="gd", max_iter=20_000).fit(problem.X, problem.y)
        newton = Model(solver="newton").fit(problem.X, problem.y)
    assert gd.solver_ == "gd"
    assert gd.loss_curve_.shape == (gd.n_iter_ + 1,)
    assert gd.stop_crit_ <= gd.tol
    gap = relative_gap(problem.X, problem.y, gd, newton)
    assert abs(gap) < 1e-8
    assert problem.gap(gd) < 1e-8
