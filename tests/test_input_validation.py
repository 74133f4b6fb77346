"""CrossEntropyLogisticRegression's inputs: clear errors on bad ones, every kind of good one.

Bad input gets a ValueError (or scikit-learn's own error) naming the argument and the fault;
the caller's data are never modified; lists, pandas, sparse matrices, float32 and labels of
any type are accepted and give the same model as the plain float64 arrays.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

import celr._estimator
from celr import CrossEntropyLogisticRegression
from tests.conftest import assert_same_model, read_only_dataset

Model = CrossEntropyLogisticRegression

PREDICT_METHODS = ["predict", "predict_proba", "predict_log_proba", "decision_function"]


def make_binary(n=60, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
    return X, y


def make_multiclass(n=90, d=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, d)) + y[:, None] * 0.7
    return X, y


def call(model, method, X, y):
    if method == "loss":
        return model.loss(X, y)
    return getattr(model, method)(X)


# -- non-finite values ---------------------------------------------------------------------
@pytest.mark.parametrize(("value", "fault"), [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_X_is_rejected(value, fault):
    X, y = make_binary()
    X[3, 1] = value
    with pytest.raises(ValueError, match=f"Input X contains {fault}"):
        CrossEntropyLogisticRegression().fit(X, y)


@pytest.mark.parametrize(("value", "fault"), [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_y_is_rejected(value, fault):
    X, y = make_binary()
    y = y.astype(float)
    y[5] = value
    with pytest.raises(ValueError, match=f"Input y contains {fault}"):
        CrossEntropyLogisticRegression().fit(X, y)


@pytest.mark.parametrize(("value", "fault"), [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_sample_weight_is_rejected(value, fault):
    X, y = make_binary()
    w = np.ones(len(y))
    w[7] = value
    with pytest.raises(ValueError, match=f"Input sample_weight contains {fault}"):
        CrossEntropyLogisticRegression().fit(X, y, sample_weight=w)


@pytest.mark.parametrize("method", [*PREDICT_METHODS, "loss"])
def test_non_finite_X_is_rejected_at_prediction(method):
    X, y = make_binary()
    model = CrossEntropyLogisticRegression().fit(X, y)
    X_bad = X.copy()
    X_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        call(model, method, X_bad, y)


# -- classes and lengths -------------------------------------------------------------------
@pytest.mark.parametrize("label", [0, "spam", 3.0, True])
def test_single_class_is_rejected(label):
    X, _ = make_binary()
    y = np.array([label] * len(X), dtype=object if isinstance(label, str) else None)
    with pytest.raises(ValueError, match="one class"):
        CrossEntropyLogisticRegression().fit(X, y)


def test_only_one_class_with_positive_weight_is_rejected():
    X, y = make_binary()
    w = np.where(y == 1, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"(?i)only one class has positive sample_weight"):
        CrossEntropyLogisticRegression().fit(X, y, sample_weight=w)


def test_class_weight_zeroing_all_but_one_class_is_rejected():
    X, y = make_binary()
    with pytest.raises(ValueError, match="one class has positive sample_weight"):
        CrossEntropyLogisticRegression(class_weight={0: 0.0, 1: 1.0}).fit(X, y)


def test_all_zero_sample_weight_is_rejected():
    X, y = make_binary()
    with pytest.raises(ValueError, match=r"[Ss]ample.weight"):
        CrossEntropyLogisticRegression().fit(X, y, sample_weight=np.zeros(len(y)))


def test_X_and_y_of_different_lengths_are_rejected():
    X, y = make_binary()
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[60, 59\]"):
        CrossEntropyLogisticRegression().fit(X, y[:-1])


@pytest.mark.parametrize("n_weights", [59, 61])
def test_sample_weight_of_wrong_length_is_rejected(n_weights):
    X, y = make_binary()
    with pytest.raises(ValueError, match=rf"sample_weight.shape == \({n_weights},\), expected"):
        CrossEntropyLogisticRegression().fit(X, y, sample_weight=np.ones(n_weights))


def test_negative_sample_weight_is_rejected():
    X, y = make_binary()
    w = np.ones(len(y))
    w[4] = -0.5
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        CrossEntropyLogisticRegression().fit(X, y, sample_weight=w)


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_non_finite_or_negative_class_weight_is_rejected(bad):
    X, y = make_multiclass()
    with pytest.raises(ValueError, match="class_weight"):
        CrossEntropyLogisticRegression(class_weight={0: bad, 1: 1.0, 2: 1.0}).fit(X, y)
    with pytest.raises(ValueError, match="class_weight must give every class a finite"):
        CrossEntropyLogisticRegression(class_weight={0: 1.0, 1: bad}).fit(*make_binary())


def test_continuous_y_is_rejected():
    X, _ = make_binary()
    y = np.linspace(0.0, 1.0, len(X))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        CrossEntropyLogisticRegression().fit(X, y)


def test_two_dimensional_y_is_rejected():
    X, y = make_binary()
    with pytest.raises(ValueError, match="y should be a 1d array"):
        CrossEntropyLogisticRegression().fit(X, np.c_[y, y])


def test_three_dimensional_X_is_rejected():
    X, y = make_binary()
    with pytest.raises(ValueError, match="Found array with dim 3"):
        CrossEntropyLogisticRegression().fit(X[:, :, None], y)


def test_empty_X_is_rejected():
    with pytest.raises(ValueError, match="0 sample"):
        CrossEntropyLogisticRegression().fit(np.empty((0, 3)), np.empty(0))


@pytest.mark.parametrize("method", [*PREDICT_METHODS, "loss"])
@pytest.mark.parametrize("n_features", [2, 4])
def test_n_features_must_match_fit(method, n_features):
    X, y = make_binary()
    model = CrossEntropyLogisticRegression().fit(X, y)
    X_other = np.random.default_rng(1).normal(size=(len(X), n_features))
    with pytest.raises(ValueError, match=f"X has {n_features} features, but .* expecting 3"):
        call(model, method, X_other, y)


# -- hyper-parameters ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"solver": "sag"}, "'solver' parameter .* Got 'sag'"),
        ({"solver": "liblinear"}, "'solver' parameter"),
        ({"l1_ratio": 1.5}, r"'l1_ratio' parameter .* range \[0.0, 1.0\]"),
        ({"l1_ratio": -0.1}, "'l1_ratio' parameter"),
        ({"C": 0.0}, "'C' parameter .* Got 0.0"),
        ({"C": -1.0}, "'C' parameter"),
        ({"tol": -1e-3}, "'tol' parameter"),
        ({"max_iter": -1}, "'max_iter' parameter"),
        ({"max_iter": 2.5}, "'max_iter' parameter"),
        ({"class_weight": "auto"}, "'class_weight' parameter"),
        ({"fit_intercept": "yes"}, "'fit_intercept' parameter"),
    ],
)
def test_invalid_hyper_parameters_are_rejected(params, match):
    X, y = make_binary()
    with pytest.raises(InvalidParameterError, match=match):
        CrossEntropyLogisticRegression(**params).fit(X, y)
    assert issubclass(InvalidParameterError, ValueError)


@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
def test_l1_penalty_refused_by_sgd(l1_ratio):
    X, y = make_binary()
    with pytest.raises(ValueError, match=r"solver='sgd' does not support l1_ratio > 0"):
        CrossEntropyLogisticRegression(l1_ratio=l1_ratio, solver="sgd").fit(X, y)


# -- not fitted, unknown labels ------------------------------------------------------------
@pytest.mark.parametrize("method", [*PREDICT_METHODS, "loss", "score"])
def test_not_fitted_error_before_fit(method):
    X, y = make_binary()
    model = CrossEntropyLogisticRegression()
    with pytest.raises(NotFittedError, match="not fitted yet"):
        if method == "score":
            model.score(X, y)
        else:
            call(model, method, X, y)


def test_loss_rejects_labels_not_seen_in_fit():
    X, y = make_binary()
    model = CrossEntropyLogisticRegression().fit(X, y)
    y_new = y.copy()
    y_new[:2] = [5, 7]
    with pytest.raises(ValueError, match=r"labels not seen in fit: \[5 7\]"):
        model.loss(X, y_new)
    with pytest.raises(ValueError, match="labels not seen in fit"):
        model.loss(X, y.astype(str))


def test_loss_rejects_y_and_weights_of_wrong_shape():
    X, y = make_binary()
    model = CrossEntropyLogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match=r"y must have shape \(60,\)"):
        model.loss(X, y[:-1])
    with pytest.raises(ValueError, match=r"y must have shape \(60,\)"):
        model.loss(X, y[:, None])
    with pytest.raises(ValueError, match=r"sample_weight\.shape"):
        model.loss(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        model.loss(X, y, sample_weight=-np.ones(len(y)))


# -- the caller's data are never modified --------------------------------------------------
@pytest.mark.parametrize("class_weight", [None, "balanced", {0: 2.0, 1: 0.5, 2: 1.0}])
@pytest.mark.parametrize("container", ["dense", "fortran", "csr", "csc", "float32"])
def test_fit_does_not_modify_inputs(container, class_weight):
    X, y = make_multiclass()
    X[::5, 1] = 0.0
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
    X_in = {
        "dense": lambda a: a,
        "fortran": np.asfortranarray,
        "csr": sp.csr_array,
        "csc": sp.csc_matrix,
        "float32": lambda a: a.astype(np.float32),
    }[container](X.copy())
    X_before = X_in.copy()
    y_before, w_before = y.copy(), w.copy()
    model = CrossEntropyLogisticRegression(class_weight=class_weight).fit(X_in, y, w)
    model.predict_proba(X_in)
    model.loss(X_in, y, sample_weight=w)
    if sp.issparse(X_in):
        assert (X_in != X_before).nnz == 0
        assert X_in.format == X_before.format
    else:
        np.testing.assert_array_equal(X_in, X_before)
    assert X_in.dtype == X_before.dtype
    np.testing.assert_array_equal(y, y_before)
    np.testing.assert_array_equal(w, w_before)


def test_fit_does_not_modify_pandas_input():
    X, y = make_multiclass()
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["b"] = df["b"].astype(np.float32)
    labels = pd.Series(np.array(["x", "y", "z"])[y], name="label")
    weights = pd.Series(np.linspace(0.5, 2.0, len(y)))
    df_before, labels_before, weights_before = df.copy(), labels.copy(), weights.copy()
    model = CrossEntropyLogisticRegression(class_weight="balanced").fit(df, labels, weights)
    model.predict(df)
    model.loss(df, labels, sample_weight=weights)
    pd.testing.assert_frame_equal(df, df_before)
    pd.testing.assert_series_equal(labels, labels_before)
    pd.testing.assert_series_equal(weights, weights_before)


# == input types ===========================================================================
def test_lists_are_accepted():
    X, y = read_only_dataset("multiclass")
    model = Model().fit(X.tolist(), y.tolist())
    assert_same_model(model, Model().fit(X, y), rtol=0, atol=0)
    assert_array_equal(model.predict(X[:5].tolist()), model.predict(X[:5]))


def test_dataframe_feature_names_follow_sklearn_rules():
    X, y = read_only_dataset("iris")
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = Model().fit(df, pd.Series(y))
    assert_array_equal(model.feature_names_in_, ["a", "b", "c", "d"])
    assert_array_equal(model.predict(df), Model().fit(X, y).predict(X))
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        model.predict(df[["b", "a", "c", "d"]])
    with pytest.raises(ValueError, match="Feature names unseen at fit time:\n- z"):
        model.predict_proba(df.rename(columns={"a": "z"}))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        model.decision_function(X)
    plain = Model().fit(X, y)
    assert not hasattr(plain, "feature_names_in_")
    with pytest.warns(UserWarning, match="X has feature names, but"):
        plain.predict(df)


LABEL_KINDS = {
    "str": lambda codes: np.array(["setosa", "versicolor", "virginica"])[codes],
    "object_series": lambda codes: pd.Series(np.array(["x", "y", "z"], dtype=object)[codes]),
    "categorical": lambda codes: pd.Categorical(np.array(["hi", "mid", "lo"])[codes]),
    "int_10_20_30": lambda codes: np.array([10, 20, 30])[codes],
    "negative_int": lambda codes: np.array([-7, 0, 42])[codes],
    "float": lambda codes: np.array([0.5, 1.5, 2.5])[codes] * 2,
    "int_series": lambda codes: pd.Series(codes + 100),
}


@pytest.mark.parametrize("kind", LABEL_KINDS)
def test_label_kinds_round_trip(kind):
    X, codes = read_only_dataset("multiclass")
    labels = LABEL_KINDS[kind](codes)
    model = Model().fit(X, labels)
    expected_classes = np.unique(np.asarray(labels))
    assert_array_equal(model.classes_, expected_classes)
    predicted = model.predict(X)
    assert predicted.dtype.kind == np.asarray(labels).dtype.kind
    assert set(predicted) <= set(expected_classes)
    # Same model as on codes 0..K-1 (np.unique order), up to the labels' names.
    coded = Model().fit(X, np.searchsorted(expected_classes, np.asarray(labels)))
    assert_same_model(model, coded, rtol=0, atol=0)
    assert_array_equal(predicted, expected_classes[coded.predict(X)])
    assert model.score(X, labels) == coded.score(X, np.searchsorted(expected_classes, labels))


def test_bool_labels():
    X, codes = read_only_dataset("binary")
    labels = codes.astype(bool)
    model = Model().fit(X, labels)
    assert_array_equal(model.classes_, [False, True])
    assert model.predict(X).dtype == bool
    assert_same_model(model, Model().fit(X, codes), rtol=0, atol=0)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("name", ["binary", "multiclass"])
@pytest.mark.parametrize(
    "container", [sp.csr_array, sp.csr_matrix, sp.csc_array, sp.csc_matrix, sp.coo_array]
)
def test_sparse_matches_dense(container, name, solver):
    X, y = read_only_dataset(name)
    X = np.where(np.abs(X) < 0.3, 0.0, X)
    dense = Model(solver=solver).fit(X, y)
    model = Model(solver=solver).fit(container(X), y)
    assert_same_model(model, dense, rtol=1e-8, atol=1e-8)
    assert_allclose(model.predict_proba(container(X)), dense.predict_proba(X), atol=1e-10)


@pytest.mark.parametrize("container", [sp.csr_array, sp.csr_matrix, sp.csc_array, np.asarray])
def test_float64_input_is_fitted_without_a_copy(container, monkeypatch):
    X, y = read_only_dataset("binary")
    X_in = container(np.where(np.abs(X) < 0.3, 0.0, X))
    seen = []
    original = celr._estimator.make_objective

    def spy(X_fit, *args, **kwargs):
        seen.append(X_fit)
        return original(X_fit, *args, **kwargs)

    monkeypatch.setattr(celr._estimator, "make_objective", spy)
    Model().fit(X_in, y)
    (X_fit,) = seen
    data = (lambda a: a.data) if sp.issparse(X_in) else np.asarray
    assert np.shares_memory(data(X_fit), data(X_in))


@pytest.mark.parametrize(
    ("name", "solver"),
    [
        ("binary", "auto"),
        ("multiclass", "auto"),
        ("iris", "auto"),
    ],
)
@pytest.mark.parametrize("container", [np.asarray, sp.csr_array])
def test_float32_is_fitted_in_float32(name, solver, container):
    X, y = read_only_dataset(name)
    X32 = container(X.astype(np.float32))
    model = Model(solver=solver).fit(X32, y)
    reference = Model(tol=1e-12).fit(X, y)
    for attribute in ["coef_", "intercept_"]:
        assert getattr(model, attribute).dtype == np.float32
        assert_allclose(getattr(model, attribute), getattr(reference, attribute), atol=1e-4)
    for method in ["predict_proba", "decision_function", "predict_log_proba"]:
        result = getattr(model, method)(X32)
        assert result.dtype == np.float32, method
        assert_allclose(result, getattr(reference, method)(X), rtol=1e-4, atol=1e-4)


def test_integer_X_becomes_float64():
    X, y = read_only_dataset("iris")
    model = Model().fit((X * 10).astype(np.int64), y)
    assert model.coef_.dtype == np.float64
    assert model.decision_function((X * 10).astype(np.int32)).dtype == np.float64
    assert_same_model(model, Model().fit(X * 10, y), rtol=0, atol=0)
