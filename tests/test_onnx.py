"""celr.to_onnx: onnxruntime must reproduce predict_proba and predict on held-out rows."""

from __future__ import annotations

import sys
from functools import cache

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_iris, make_classification
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from celr import CrossEntropyLogisticRegression, CrossEntropyLogisticRegressionCV
from celr._onnx import DEFAULT_OPSET, register_onnx_converter, to_onnx

skl2onnx = pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

PROBA_ATOL = 1e-5
NO_ZIPMAP = {"zipmap": False}


# -- problems and helpers ----------------------------------------------------------------------
@cache
def dataset(name: str) -> tuple[np.ndarray, ...]:
    """Train and held-out test rows (float64) with integer labels."""
    if name == "iris":
        X, y = load_iris(return_X_y=True)
    elif name == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)
    else:  # four classes
        X, y = make_classification(
            n_samples=600, n_features=8, n_informative=6, n_classes=4, random_state=0
        )
    return tuple(train_test_split(X, y, test_size=0.3, random_state=0, stratify=y))


def string_labels(y: np.ndarray) -> np.ndarray:
    return np.array(["setosa", "versicolor", "virginica", "other"])[y]


def session(onx):
    return ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])


def run(onx, X) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities (n_samples, n_classes), with or without a ZipMap."""
    sess = session(onx)
    if isinstance(X, pd.DataFrame):
        feeds = {c: X[[c]].to_numpy() for c in X.columns}
        feeds = {c: v.astype(str) if v.dtype == object else v for c, v in feeds.items()}
    else:
        feeds = {sess.get_inputs()[0].name: X}
    labels, proba = sess.run(None, feeds)[:2]
    if isinstance(proba, list):  # ZipMap: one {label: probability} per row
        proba = np.array([list(row.values()) for row in proba])
    return np.asarray(labels), np.asarray(proba)


def assert_same_predictions(model, onx, X, X_onnx=None) -> float:
    """onnxruntime's probabilities within PROBA_ATOL of predict_proba; same labels but
    where the two highest probabilities are within PROBA_ATOL. Returns the max difference."""
    labels, proba = run(onx, X if X_onnx is None else X_onnx)
    expected = model.predict_proba(X)
    assert proba.shape == expected.shape
    diff = float(np.abs(proba - expected).max())
    assert diff < PROBA_ATOL
    top2 = np.sort(expected, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > PROBA_ATOL
    np.testing.assert_array_equal(labels[clear], model.predict(X)[clear])
    return diff


# -- one classifier ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["iris", "breast_cancer", "four_classes"])
@pytest.mark.parametrize("label_kind", ["int", "str"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("zipmap", [True, False])
def test_matches_predict_proba(name, label_kind, dtype, zipmap):
    X_train, X_test, y_train, _ = dataset(name)
    y_train = string_labels(y_train) if label_kind == "str" else y_train
    clf = CrossEntropyLogisticRegression().fit(X_train, y_train)
    onx = to_onnx(clf, X_train[:1].astype(dtype), options={"zipmap": zipmap})
    assert_same_predictions(clf, onx, X_test, X_test.astype(dtype))
    labels, _ = run(onx, X_test[:3].astype(dtype))
    assert labels.dtype == (object if label_kind == "str" else np.int64)


def test_float64_input_computes_in_float64():
    X_train, X_test, y_train, _ = dataset("iris")
    clf = CrossEntropyLogisticRegression().fit(X_train, y_train)
    onx = to_onnx(clf, X_train[:1], options=NO_ZIPMAP)
    assert onx.graph.input[0].type.tensor_type.elem_type == 11  # DOUBLE
    _, proba = run(onx, X_test)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba, clf.predict_proba(X_test), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["breast_cancer", "four_classes"])
def test_model_fitted_on_centred_columns_is_exported_centred(name):
    """A column with offset 1e9 (celr._offsets): the graph subtracts it as predict does;
    X @ coef_.T + intercept_ would lose about 1e9 * eps * |w| (1e-7) in the scores."""
    X_train, X_test, y_train, _ = dataset(name)
    scaler = StandardScaler().fit(X_train)
    offset = np.r_[1e9, np.zeros(X_train.shape[1] - 1)]
    X_train, X_test = scaler.transform(X_train) + offset, scaler.transform(X_test) + offset
    clf = CrossEntropyLogisticRegression().fit(X_train, y_train)
    assert clf._centered_model is not None
    _, proba = run(to_onnx(clf, X_train[:1], options=NO_ZIPMAP), X_test)
    np.testing.assert_allclose(proba, clf.predict_proba(X_test), rtol=0, atol=1e-12)
    # float32 cannot hold x + 1e9 (spacing 64); at 1e4 (spacing 1e-3) it can, and the
    # float32 graph matches predict_proba on the same rounded rows.
    X_train, X_test = X_train - offset + offset / 1e5, X_test - offset + offset / 1e5
    rounded = X_test.astype(np.float32)
    clf = CrossEntropyLogisticRegression().fit(X_train, y_train)
    assert clf._centered_model is not None
    onx = to_onnx(clf, X_train[:1].astype(np.float32))
    assert_same_predictions(clf, onx, rounded.astype(np.float64), rounded)


@pytest.mark.parametrize("name", ["breast_cancer", "four_classes"])
def test_l1_model(name):
    X_train, X_test, y_train, _ = dataset(name)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    clf = CrossEntropyLogisticRegression(C=0.05, l1_ratio=1.0).fit(X_train, y_train)
    assert np.any(clf.coef_ == 0)
    onx = to_onnx(clf, X_train[:1].astype(np.float32))
    assert_same_predictions(clf, onx, X_test, X_test.astype(np.float32))


@pytest.mark.parametrize("name", ["breast_cancer", "iris"])
def test_without_intercept_and_cv_subclass(name):
    X_train, X_test, y_train, _ = dataset(name)
    X_train, X_test = X_train / X_train.std(axis=0), X_test / X_train.std(axis=0)
    for clf in (
        CrossEntropyLogisticRegression(fit_intercept=False),
        CrossEntropyLogisticRegressionCV(Cs=3, cv=3),
    ):
        clf.fit(X_train, y_train)
        onx = to_onnx(clf, X_train[:1].astype(np.float32))
        assert_same_predictions(clf, onx, X_test, X_test.astype(np.float32))


def test_other_labels_and_inputs():
    X_train, X_test, y_train, _ = dataset("iris")
    # Labels that are not 0..K-1 go through a lookup table; bool labels become 0/1.
    for y in (y_train * 10 - 7, y_train == 1):
        clf = CrossEntropyLogisticRegression().fit(X_train, y)
        labels, _ = run(to_onnx(clf, X_train[:1].astype(np.float32)), X_test.astype(np.float32))
        np.testing.assert_array_equal(labels, clf.predict(X_test).astype(np.int64))
    # Integer columns are cast to float32 inside the graph.
    X_int = np.round(X_train * 10).astype(np.int64)
    clf = CrossEntropyLogisticRegression().fit(X_int, y_train)
    assert_same_predictions(clf, to_onnx(clf, X_int[:1]), X_int)


def test_options():
    X_train, X_test, y_train, _ = dataset("breast_cancer")
    X_test = X_test.astype(np.float32)
    clf = CrossEntropyLogisticRegression().fit(X_train, string_labels(y_train))
    sample = X_train[:1].astype(np.float32)
    # raw_scores: the scores [-z, z], as skl2onnx's LogisticRegression.
    _, scores = run(to_onnx(clf, sample, options={"zipmap": False, "raw_scores": True}), X_test)
    z = clf.decision_function(X_test)
    np.testing.assert_allclose(scores, np.column_stack([-z, z]), rtol=1e-4, atol=1e-3)
    # nocl: labels are class indices.
    labels, _ = run(to_onnx(clf, sample, options={"zipmap": False, "nocl": True}), X_test)
    np.testing.assert_array_equal(labels, np.searchsorted(clf.classes_, clf.predict(X_test)))
    # zipmap="columns": one output per class; options keyed by class work too.
    onx = to_onnx(clf, sample, options={CrossEntropyLogisticRegression: {"zipmap": "columns"}})
    assert [o.name for o in onx.graph.output] == ["output_label", "ssetosa", "sversicolor"]


# -- pipelines -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["iris", "breast_cancer"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scaler_pipeline(name, dtype):
    X_train, X_test, y_train, _ = dataset(name)
    pipe = make_pipeline(StandardScaler(), CrossEntropyLogisticRegression(C=10.0))
    pipe.fit(X_train, string_labels(y_train))
    onx = to_onnx(pipe, X_train[:1].astype(dtype))
    assert_same_predictions(pipe, onx, X_test, X_test.astype(dtype))
    # Once registered, skl2onnx itself converts pipelines that contain celr.
    register_onnx_converter()
    onx = skl2onnx.to_onnx(pipe, X_train[:1].astype(dtype), target_opset=DEFAULT_OPSET)
    assert_same_predictions(pipe, onx, X_test, X_test.astype(dtype))


def mixed_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """String and numeric columns and three string classes that depend on both."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "city": rng.choice(["paris", "rome", "oslo"], n),
            "pet": rng.choice(["cat", "dog"], n),
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 1, n),
            "kids": rng.integers(0, 4, n),
        }
    )
    z = (
        0.05 * (frame["age"] - 40)
        + (frame["city"] == "rome")
        - 0.7 * (frame["pet"] == "dog")
        + 0.3 * frame["kids"]
        + rng.normal(size=n)
    )
    return frame, np.where(z > 0.8, "high", np.where(z > -0.2, "mid", "low"))


@pytest.mark.parametrize("zipmap", [True, False])
def test_column_transformer_pipeline_on_dataframe(zipmap):
    train, y_train = mixed_frame(400, seed=0)
    test, _ = mixed_frame(200, seed=1)
    columns = ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="ignore"), ["city", "pet"]),
            ("numbers", StandardScaler(), ["age", "income", "kids"]),
        ]
    )
    pipe = make_pipeline(columns, CrossEntropyLogisticRegression()).fit(train, y_train)
    # A plain {"zipmap": ...} on a pipeline reaches its final classifier.
    onx = to_onnx(pipe, train[:1], options={"zipmap": zipmap})
    assert [i.name for i in onx.graph.input] == list(train.columns)
    assert_same_predictions(pipe, onx, test)


# -- the model file and errors --------------------------------------------------------------------
def test_model_metadata_and_names():
    X_train, X_test, y_train, _ = dataset("iris")
    clf = CrossEntropyLogisticRegression().fit(X_train, y_train)
    onx = to_onnx(clf, X_train[:1].astype(np.float32))
    onnx.checker.check_model(onx, full_check=True)
    assert onx.graph.name == "CrossEntropyLogisticRegression"
    assert "celr" in onx.doc_string
    assert [i.name for i in onx.graph.input] == ["X"]
    assert [o.name for o in onx.graph.output] == ["output_label", "output_probability"]
    # Loadable by onnxruntime >= 1.12 (skl2onnx may lower the opset to what the graph needs).
    main_opset = next(o.version for o in onx.opset_import if o.domain in ("", "ai.onnx"))
    assert main_opset <= DEFAULT_OPSET
    assert onx.ir_version <= 8
    onx = to_onnx(clf, X_train[:1].astype(np.float32), options=NO_ZIPMAP)
    assert [o.name for o in onx.graph.output] == ["label", "probabilities"]
    # Registering again changes nothing.
    register_onnx_converter()
    register_onnx_converter()
    assert_same_predictions(clf, to_onnx(clf, X_train[:1]), X_test)


def test_unfitted_model_raises():
    X = np.zeros((1, 3), dtype=np.float32)
    with pytest.raises(NotFittedError):
        to_onnx(CrossEntropyLogisticRegression(), X)
    with pytest.raises(NotFittedError):
        to_onnx(make_pipeline(StandardScaler(), CrossEntropyLogisticRegression()), X)


def test_missing_skl2onnx_names_the_extra(monkeypatch):
    X_train, _, y_train, _ = dataset("iris")
    clf = CrossEntropyLogisticRegression().fit(X_train, y_train)
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # makes `import skl2onnx` fail
    with pytest.raises(ImportError, match=r'pip install "celr\[onnx\]"'):
        to_onnx(clf, X_train[:1])
