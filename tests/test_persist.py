"""celr.save / celr.load: safe model files (skops, no pickle), round trips and refusals."""

from __future__ import annotations

import io
import json
import pickle
import random
import re
import tempfile
import warnings
import zipfile
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import skops.io
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from celr import CrossEntropyLogisticRegression, CrossEntropyLogisticRegressionCV
from celr._objective import CoefLayout
from celr._parallel import RowBlockObjective
from celr._persist import FORMAT_VERSION, METADATA_NAME, SCHEMA_NAME, ModelFileError, load, save


class AddOne(TransformerMixin, BaseEstimator):
    """A transformer skops does not trust by default (it is not scikit-learn's)."""

    def fit(self, X, y=None):
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X):
        return np.asarray(X) + 1.0


# -- data and models ----------------------------------------------------------------------
@cache
def _binary():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@cache
def _iris():
    return load_iris(return_X_y=True)


@cache
def _frame():
    """Numeric and string-category columns with missing values, as the CLI reads them."""
    rng = np.random.RandomState(0)
    n = 300
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 1, n),
            "city": rng.choice(["Paris", "Lyon", "Nice", "Lille"], n),
            "plan": rng.choice(["basic", "pro"], n),
        }
    )
    frame.loc[rng.rand(n) < 0.05, "age"] = np.nan
    score = 0.05 * (frame["age"].fillna(40) - 40) + (frame["city"] == "Nice") - 0.5
    y = np.where(score + rng.logistic(size=n) > 0, "yes", "no")
    return frame, y


def _pipeline(solver="auto"):
    numeric = make_pipeline(SimpleImputer(), StandardScaler())
    columns = ColumnTransformer(
        [
            ("numeric", numeric, ["age", "income"]),
            ("category", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
        ]
    )
    return make_pipeline(columns, CrossEntropyLogisticRegression(solver=solver, random_state=0))


def _fit(model, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence / separation warnings are not tested here
        return model.fit(X, y, **kwargs)


def _sgd_streamed():
    X, y = _binary()
    model = CrossEntropyLogisticRegression(solver="sgd", batch_size=64, random_state=0)
    for chunk in np.array_split(np.arange(len(y)), 3):
        model.partial_fit(X[chunk], y[chunk], classes=[0, 1])
    return model, X, y


MODELS = {
    "binary": lambda: (CrossEntropyLogisticRegression(), *_binary()),
    "multinomial": lambda: (CrossEntropyLogisticRegression(), *_iris()),
    "sparse": lambda: (CrossEntropyLogisticRegression(), sp.csr_matrix(_iris()[0]), _iris()[1]),
    "float32": lambda: (
        CrossEntropyLogisticRegression(),
        _binary()[0].astype(np.float32),
        _binary()[1],
    ),
    "l1": lambda: (CrossEntropyLogisticRegression(C=0.05, l1_ratio=1.0), *_binary()),
    "sgd_fit": lambda: (
        CrossEntropyLogisticRegression(solver="sgd", max_iter=3, random_state=0),
        *_iris(),
    ),
    "sgd_whitened": lambda: (  # 40 short epochs: the step adapts, then in CurvatureCoordinates
        CrossEntropyLogisticRegression(solver="sgd", max_iter=40, random_state=0),
        *_iris(),
    ),
    "store_covariance": lambda: (CrossEntropyLogisticRegression(store_covariance=True), *_iris()),
    "C_inf": lambda: (
        CrossEntropyLogisticRegression(C=np.inf, store_covariance=True, max_iter=50),
        *_iris(),
    ),
    "C_inf_binary": lambda: (
        CrossEntropyLogisticRegression(C=np.inf, store_covariance=True),
        _binary()[0][:, :2],
        _binary()[1],
    ),
    "cv": lambda: (CrossEntropyLogisticRegressionCV(Cs=3, cv=3), *_iris()),
    "offset": lambda: (
        CrossEntropyLogisticRegression(store_covariance=True),
        _binary()[0] + np.r_[1e8, np.zeros(29)],  # fitted centred: celr._offsets
        _binary()[1],
    ),
    "named": lambda: (
        CrossEntropyLogisticRegression(),
        pd.DataFrame(_binary()[0][:, :3], columns=["radius", "texture", "perimeter"]),
        _binary()[1],
    ),
    "pipeline": lambda: (_pipeline(), *_frame()),
}


@cache
def fitted(name):
    """(model, X, y) of one test case, fitted once per session."""
    if name == "sgd_streamed":
        return _sgd_streamed()
    model, X, y = MODELS[name]()
    return _fit(model, X, y), X, y


def _round_trip(model, tmp_path, **kwargs):
    path = tmp_path / "model.skops"
    save(model, path)
    return load(path, **kwargs)


def assert_same_predictions(model, loaded, X):
    """Bit for bit: ``predict``, ``predict_proba`` and ``decision_function``."""
    for method in ("predict", "predict_proba", "decision_function"):
        assert_array_equal(getattr(loaded, method)(X), getattr(model, method)(X), err_msg=method)


def assert_same(a, b, where="model"):
    """Recursive equality of two object trees: arrays by value and dtype, objects by
    type and attributes (an SGD state's layout by its shape, as saved)."""
    if isinstance(a, CoefLayout | RowBlockObjective):
        assert isinstance(b, CoefLayout), where
        shape = ("n_classes", "n_features", "fit_intercept")
        assert [getattr(a, n) for n in shape] == [getattr(b, n) for n in shape], where
        return
    if isinstance(a, float | np.floating) and isinstance(b, float | np.floating):
        assert a == b or (np.isnan(a) and np.isnan(b)), where
        return
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, where
        assert_array_equal(a, b, err_msg=where)
    elif sp.issparse(a):
        assert a.format == b.format, where
        assert_array_equal(a.toarray(), b.toarray(), err_msg=where)
    elif isinstance(a, np.random.RandomState):
        assert_same(a.get_state(), b.get_state(), where)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif hasattr(a, "__dict__") and not isinstance(a, type):
        assert_same(vars(a), vars(b), where)
    else:
        assert a == b, where


# -- round trips --------------------------------------------------------------------------
@pytest.mark.parametrize("name", [*MODELS, "sgd_streamed"])
def test_round_trip_is_exact(name, tmp_path):
    model, X, y = fitted(name)
    loaded = _round_trip(model, tmp_path)
    assert type(loaded) is type(model)
    assert_same_predictions(model, loaded, X)
    assert_same(model.get_params(), loaded.get_params(), "get_params()")
    assert_same(model, loaded)  # every attribute, private ones included
    assert loaded.score(X, y) == model.score(X, y)


def test_private_types_of_fitted_models_are_saved(tmp_path):
    """The cases above do exercise celr's own types (so they are trusted, not absent)."""
    types = set()
    for name in ("sgd_streamed", "sgd_whitened", "store_covariance", "C_inf", "offset"):
        save(fitted(name)[0], tmp_path / "m.skops")
        types |= set(skops.io.get_untrusted_types(file=tmp_path / "m.skops"))
    assert {
        "celr.solvers._sgd_state.SGDState",
        "celr._objective.CoefLayout",
        "celr._penalty.ElasticNetPenalty",
        "celr.solvers._coordinates.StandardizedCoordinates",
        "celr.solvers._coordinates.CurvatureCoordinates",
        "celr._inference.Information",
        "celr._inference.Likelihood",
        "celr._separation.Separation",
        "celr._offsets.CenteredModel",
        "celr._offsets.ColumnOffsets",
    } <= types
    assert fitted("C_inf")[0]._likelihood.separation is not None  # a nested dataclass


def test_inference_after_load(tmp_path):
    model = fitted("store_covariance")[0]
    loaded = _round_trip(model, tmp_path)
    table, loaded_table = model.summary(), loaded.summary()
    pd.testing.assert_frame_equal(loaded_table, table, check_exact=True)
    assert loaded_table.attrs == table.attrs
    pd.testing.assert_frame_equal(loaded.cov_params(), model.cov_params(), check_exact=True)

    unpenalized = fitted("C_inf_binary")[0]
    loaded = _round_trip(unpenalized, tmp_path)
    assert loaded.lr_test() == unpenalized.lr_test()
    pd.testing.assert_frame_equal(loaded.summary(), unpenalized.summary(), check_exact=True)

    separated = fitted("C_inf")[0]
    loaded = _round_trip(separated, tmp_path)
    assert loaded._likelihood == separated._likelihood  # the Separation included
    assert_same(loaded._information, separated._information)
    for method in ("summary", "lr_test"):
        with pytest.raises(ValueError, match="separated") as expected:
            getattr(separated, method)()
        with pytest.raises(ValueError, match="separated") as got:
            getattr(loaded, method)()
        assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("name", ["sgd_streamed", "sgd_fit", "sgd_whitened"])
def test_partial_fit_continues_identically(name, tmp_path):
    model, X, y = fitted(name)
    loaded = _round_trip(model, tmp_path)
    model = _round_trip(model, tmp_path)  # a twin, so the cached fit stays as it was
    for chunk in np.array_split(np.arange(len(y)), 2):
        model.partial_fit(X[chunk], y[chunk])
        loaded.partial_fit(X[chunk], y[chunk])
    assert_same(model, loaded)
    assert_same_predictions(model, loaded, X)


def test_sgd_fit_saves_no_training_data(tmp_path):
    """An SGD state outlives the fit; it holds a bare layout, not the training objective
    (which, split into row blocks, also holds a thread pool skops could not write)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40_000, 2))
    y = (X[:, 0] + rng.logistic(size=len(X)) > 0).astype(int)
    model = _fit(CrossEntropyLogisticRegression(solver="sgd", max_iter=1, random_state=0), X, y)
    assert type(model._optimizer_state.layout) is CoefLayout
    save(model, tmp_path / "m.skops")
    with zipfile.ZipFile(tmp_path / "m.skops") as archive:
        stored = sum(info.file_size for info in archive.infolist())
    assert stored < X.nbytes / 10  # the training data is not in the file
    loaded = load(tmp_path / "m.skops")
    for estimator in (model, loaded):
        estimator.partial_fit(X[:5000], y[:5000])
    assert_same(model, loaded)


def test_pipeline_keeps_its_structure(tmp_path):
    model, X, _ = fitted("pipeline")
    loaded = _round_trip(model, tmp_path)
    assert [name for name, _ in loaded.steps] == [name for name, _ in model.steps]
    assert_array_equal(loaded[:-1].get_feature_names_out(), model[:-1].get_feature_names_out())
    unseen = X.head(5).assign(city="Berlin")  # an unknown category
    assert_same_predictions(model, loaded, unseen)


def test_file_is_a_skops_file_with_metadata(tmp_path):
    model, X, _ = fitted("multinomial")
    path = tmp_path / "m.skops"
    save(model, path)
    with zipfile.ZipFile(path) as archive:
        metadata = json.loads(archive.read(METADATA_NAME))
    assert metadata["format"] == "celr-model"
    assert metadata["format_version"] == "{}.{}".format(*FORMAT_VERSION)
    assert metadata["model"] == "celr._estimator.CrossEntropyLogisticRegression"
    assert metadata["skops_version"] == skops.__version__
    # skops itself reads it, given the types to trust.
    plain = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    assert_same_predictions(model, plain, X)


# -- trust --------------------------------------------------------------------------------
def test_untrusted_type_refused_then_accepted(tmp_path):
    X, y = _binary()
    model = _fit(make_pipeline(AddOne(), CrossEntropyLogisticRegression()), X, y)
    path = tmp_path / "m.skops"
    save(model, path)
    name = f"{AddOne.__module__}.AddOne"
    with pytest.raises(ModelFileError, match=r"untrusted types: \[.*AddOne'\]"):
        load(path)
    assert_same_predictions(model, load(path, trusted=[name]), X)
    assert_same_predictions(model, load(path, trusted=[AddOne]), X)


def test_celr_functions_are_not_trusted(tmp_path):
    """Only celr's classes are trusted by name, not any callable under ``celr.``."""
    X, y = _binary()
    classifier = _fit(CrossEntropyLogisticRegression(), X, y)
    model = make_pipeline(FunctionTransformer(save), classifier)
    save(model, tmp_path / "m.skops")
    with pytest.raises(ModelFileError, match=r"untrusted types: \['celr._persist.save'\]"):
        load(tmp_path / "m.skops")


@pytest.mark.parametrize("trusted", ["a.B", True, [1]])
def test_trusted_must_be_a_list_of_names(trusted, tmp_path):
    save(fitted("binary")[0], tmp_path / "m.skops")
    with pytest.raises(TypeError, match="trusted must"):
        load(tmp_path / "m.skops", trusted=trusted)


# -- what save refuses --------------------------------------------------------------------
def test_save_refuses_unfitted_and_foreign_objects(tmp_path):
    path = tmp_path / "m.skops"
    with pytest.raises(NotFittedError, match="not fitted yet"):
        save(CrossEntropyLogisticRegression(), path)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        save(make_pipeline(StandardScaler(), CrossEntropyLogisticRegression()), path)
    with pytest.raises(TypeError, match="writes celr models"):
        save(StandardScaler().fit(_binary()[0]), path)
    with pytest.raises(TypeError, match="writes celr models"):
        save({"model": fitted("binary")[0]}, path)
    assert not path.exists()


# -- what load refuses --------------------------------------------------------------------
def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _edited(data: bytes, name: str, edit) -> bytes:
    members = _members(data)
    members[name] = json.dumps(edit(json.loads(members[name]))).encode()
    return _zip(members)


@cache
def _saved(name="binary") -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        save(fitted(name)[0], Path(folder) / "m.skops")
        return (Path(folder) / "m.skops").read_bytes()


def _with_metadata(data: bytes) -> bytes:
    """A skops file made to look like a celr file (celr.json copied from a real one)."""
    members = _members(data)
    members[METADATA_NAME] = _members(_saved())[METADATA_NAME]
    return _zip(members)


def _bad_files():
    good = _saved()
    scaler = skops.io.dumps(StandardScaler().fit(_binary()[0]))
    unfitted = skops.io.dumps(CrossEntropyLogisticRegression())
    model = CrossEntropyLogisticRegression().fit(*_binary())
    model.coef_ = model.coef_[:, :3]
    wrong_shape = skops.io.dumps(model)
    os_system = {"__class__": "system", "__module__": "os", "__loader__": "FunctionNode"}

    def set_(key, value):
        return lambda content: {**content, key: value}

    return {
        "empty": (b"", "empty file"),
        "text": (b"coef = [1, 2, 3]\n", "not a zip file"),
        "truncated": (good[: len(good) // 2], "truncated or damaged zip archive"),
        "flipped": (
            good[:100] + bytes([good[100] ^ 0xFF]) + good[101:],
            "damaged|truncated",
        ),
        "foreign skops file": (scaler, "not a celr model file: the archive has no celr.json"),
        "foreign object": (_with_metadata(scaler), "not a celr model: the file holds a sklearn"),
        "unfitted": (_with_metadata(unfitted), "not a fitted model"),
        "wrong coef_ shape": (_with_metadata(wrong_shape), "inconsistent fitted attributes"),
        "other format": (
            _edited(good, METADATA_NAME, set_("format", "other")),
            "not a celr model file",
        ),
        "newer celr": (
            _edited(good, METADATA_NAME, set_("format_version", "2.0")),
            r"newer celr .* format 2.0; this celr .* reads format 1.x",
        ),
        "newer minor format": (
            _edited(good, METADATA_NAME, set_("format_version", "1.7")),
            None,  # loads: a new minor only adds to the file
        ),
        "bad version": (
            _edited(good, METADATA_NAME, set_("format_version", 1)),
            "schema problem: celr.json has no valid format_version",
        ),
        "newer skops": (_edited(good, SCHEMA_NAME, set_("protocol", 99)), "newer skops"),
        "metadata not JSON": ({**_members(good), METADATA_NAME: b"{"}, "celr.json is not JSON"),
        "schema not JSON": ({**_members(good), SCHEMA_NAME: b"[1, 2"}, "schema.json is not JSON"),
        "schema not an object": ({**_members(good), SCHEMA_NAME: b"[]"}, "not a JSON object"),
        "no schema": (
            {n: c for n, c in _members(good).items() if n != SCHEMA_NAME},
            "has no schema.json",
        ),
        "broken schema": (
            _edited(good, SCHEMA_NAME, lambda s: {**s, "__loader__": "NoSuchNode"}),
            "schema problem",
        ),
        "malicious type": (
            _edited(good, SCHEMA_NAME, lambda s: {**s, **os_system}),
            r"untrusted types: \['os.system'\]",
        ),
    }


@pytest.mark.parametrize("case", list(_bad_files()))
def test_load_refuses_bad_files(case, tmp_path):
    data, message = _bad_files()[case]
    path = tmp_path / "m.skops"
    path.write_bytes(_zip(data) if isinstance(data, dict) else data)
    if message is None:
        assert_same_predictions(fitted("binary")[0], load(path), _binary()[0])
        return
    with pytest.raises(ModelFileError, match=message) as error:
        load(path)
    assert str(error.value).startswith(f"{path}: ")


# -- what load refuses: intact files holding an inconsistent model ------------------------
# A hostile tester's damage: members edited and zipped again, so every checksum is valid.
def _node(schema: dict, path: tuple) -> dict:
    """The schema node at ``path``: attribute names of objects, keys of dicts, indices of
    lists and tuples, from the file's top-level object down."""
    node = schema
    for key in path:
        if node["__loader__"] == "ObjectNode":
            node = node["content"]  # the DictNode of the object's __dict__
        node = node["content"][key]
    return node


def _npy(value) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(value), allow_pickle=False)
    return buffer.getvalue()


DELETE = object()


def _tampered(data: bytes, edits: dict) -> bytes:
    """``data`` with each attribute ``path: value`` of ``edits`` replaced by ``value`` (an
    array in its ``.npy`` member, anything else as the JSON of its schema node) or
    removed (``DELETE``), and zipped again with valid checksums."""
    members = _members(data)
    schema = json.loads(members[SCHEMA_NAME])
    for path, value in edits.items():
        if value is DELETE:
            parent = _node(schema, path[:-1])
            attributes = parent["content"] if parent["__loader__"] == "ObjectNode" else parent
            index = list(attributes["content"]).index(path[-1])
            del attributes["content"][path[-1]], attributes["key_types"]["content"][index]
            continue
        node = _node(schema, path)
        if node["__loader__"] == "NdArrayNode":
            members[node["file"]] = _npy(value)
        else:
            assert node["__loader__"] == "JsonNode", (path, node["__loader__"])
            node["content"] = json.dumps(value)
            # skops rebuilds each __id__ once: an int shared with another node (Python's
            # small ints are) would otherwise come back as that node's value.
            node["__id__"] = -id(node)
    members[SCHEMA_NAME] = json.dumps(schema).encode()
    return _zip(members)


def _spoilt(array, value=np.nan):
    """A copy of ``array`` with its first entry replaced by ``value``."""
    array = np.array(array)
    array.flat[0] = value
    return array


def _inconsistent_files():
    """(model, edits, what the error names) per case: the tester's and their siblings."""

    def attr(name, attribute):
        model = fitted(name)[0]
        return getattr(model[-1] if name == "pipeline" else model, attribute)

    n_params = attr("store_covariance", "_information").hessian.shape[0]
    hyper = "invalid hyper-parameters of CrossEntropyLogisticRegression: The '{}' parameter"
    return {
        # -- non-finite parameters: predict would give class 0 for every row
        "coef_ NaN": ("binary", {("coef_",): _spoilt(attr("binary", "coef_"))}, "coef_ holds NaN"),
        "coef_ inf": (
            "multinomial",
            {("coef_",): _spoilt(attr("multinomial", "coef_"), np.inf)},
            "coef_ holds NaN or inf",
        ),
        "intercept_ NaN": (
            "binary",
            {("intercept_",): _spoilt(attr("binary", "intercept_"))},
            "intercept_ holds NaN",
        ),
        "intercept_ -inf": (
            "multinomial",
            {("intercept_",): _spoilt(attr("multinomial", "intercept_"), -np.inf)},
            "intercept_ holds NaN or inf",
        ),
        "coef_ integers": (
            "binary",
            {("coef_",): attr("binary", "coef_").astype(np.int64)},
            "coef_ has dtype int64",
        ),
        "pipeline coef_ NaN": (
            "pipeline",
            {("steps", 1, 1, "coef_"): _spoilt(attr("pipeline", "coef_"))},
            "coef_ holds NaN",
        ),
        # -- classes
        "classes_ duplicates": ("binary", {("classes_",): [1, 1]}, "classes_ has duplicates"),
        "classes_ NaN": ("binary", {("classes_",): [0.0, np.nan]}, r"classes_ holds NaN"),
        "classes_ unsorted": ("binary", {("classes_",): [1, 0]}, "classes_ is not sorted"),
        "classes_ 2-D": ("binary", {("classes_",): [[0, 1]]}, r"classes_ has shape \(1, 2\)"),
        "one class": ("binary", {("classes_",): [0]}, r"classes_ holds 1 class"),
        # -- shapes that disagree
        "n_features_in_ not coef_'s": (
            "binary",
            {("n_features_in_",): 29},
            r"coef_ has shape \(1, 30\), expected \(1, 29\) for 2 classes_ and n_features_in_=29",
        ),
        "n_features_in_ a float": (
            "binary",
            {("n_features_in_",): 30.0},
            r"n_features_in_ is 30.0, not an integer",
        ),
        "feature_names_in_ not coef_'s": (
            "named",
            {("n_features_in_",): 2, ("coef_",): attr("named", "coef_")[:, :2]},
            r"feature_names_in_ has shape \(3,\), expected \(2,\)",
        ),
        "classes_ not coef_'s": (
            "multinomial",
            {("classes_",): [0, 1]},
            r"coef_ has shape \(3, 4\), expected \(1, 4\)",
        ),
        # -- stored inference statistics: other standard errors than coef_'s
        "hessian of another size": (
            "store_covariance",
            {("_information", "hessian"): np.eye(n_params + 5)},
            rf"_information.hessian has shape \({n_params + 5}, {n_params + 5}\), expected "
            rf"\({n_params}, {n_params}\) for {n_params} coefficients",
        ),
        "score_outer of another size": (
            "store_covariance",
            {("_information", "score_outer"): np.eye(n_params - 1)},
            r"_information.score_outer has shape",
        ),
        "param_scale of another size": (
            "store_covariance",
            {("_information", "param_scale"): np.ones(n_params + 1)},
            r"_information.param_scale has shape",
        ),
        "hessian NaN": (
            "store_covariance",
            {
                ("_information", "hessian"): _spoilt(
                    attr("store_covariance", "_information").hessian
                )
            },
            r"_information.hessian holds NaN",
        ),
        "param_scale zero": (
            "store_covariance",
            {("_information", "param_scale"): np.zeros(n_params)},
            r"_information.param_scale holds entries <= 0",
        ),
        "information weight_sum NaN": (
            "store_covariance",
            {("_information", "weight_sum"): np.nan},
            r"_information.weight_sum is nan",
        ),
        "centred intercept off": (
            "offset",
            {
                ("_centered_model", "centered_intercept"): attr(
                    "offset", "_centered_model"
                ).centered_intercept
                + 1e-3
            },
            r"_centered_model.centered_intercept disagrees with intercept_",
        ),
        "offset NaN": (
            "offset",
            {("_centered_model", "offsets", "values"): np.array([np.nan])},
            r"_centered_model.offsets.values holds NaN",
        ),
        "information offsets shape": (
            "offset",
            {("_information", "offsets"): np.zeros(3)},
            r"_information.offsets has shape \(3,\)",
        ),
        "log-likelihood NaN": (
            "C_inf_binary",
            {("_likelihood", "log_likelihood"): np.nan},
            r"_likelihood.log_likelihood is nan",
        ),
        "likelihood weight_sum negative": (
            "C_inf_binary",
            {("_likelihood", "weight_sum"): -1.0},
            r"_likelihood.weight_sum is -1.0",
        ),
        "SGD state NaN": (
            "sgd_streamed",
            {("_optimizer_state", "u"): _spoilt(attr("sgd_streamed", "_optimizer_state").u)},
            r"_optimizer_state.u holds NaN",
        ),
        "SGD whitening factors shape": (
            "sgd_whitened",
            {("_optimizer_state", "coords", "factors"): np.eye(5)},
            r"_optimizer_state.coords.factors has shape \(5, 5\)",
        ),
        "SGD scale NaN": (
            "sgd_whitened",
            {("_optimizer_state", "coords", "base", "scale"): np.full(4, np.nan)},
            r"_optimizer_state.coords.base.scale holds NaN",
        ),
        # -- hyper-parameters (scikit-learn's constraints)
        "C NaN": ("binary", {("C",): np.nan}, hyper.format("C")),
        "C zero": ("binary", {("C",): 0.0}, hyper.format("C")),
        "l1_ratio 2": ("binary", {("l1_ratio",): 2.0}, hyper.format("l1_ratio")),
        "solver unknown": ("binary", {("solver",): "magic"}, hyper.format("solver")),
        "max_iter negative": ("binary", {("max_iter",): -1}, hyper.format("max_iter")),
        # -- other fitted attributes
        "solver_ unknown": ("binary", {("solver_",): "magic"}, r"solver_ is 'magic', not one of"),
        "n_iter_ negative": ("binary", {("n_iter_",): -1}, r"n_iter_ is -1"),
        "stop_crit_ negative": ("binary", {("stop_crit_",): -1.0}, r"stop_crit_ is -1.0"),
        "loss_curve_ text": (
            "binary",
            {("loss_curve_",): "x"},
            r"loss_curve_ has shape \(\)",
        ),
        # -- cross-validated models
        "CV C_ NaN": ("cv", {("C_",): np.nan}, r"CrossEntropyLogisticRegressionCV: C_ is nan"),
        "CV C_ off the grid": ("cv", {("C_",): 123.0}, r"C_ is 123.0, not in Cs_"),
        "CV l1_ratio_ 2": ("cv", {("l1_ratio_",): 2.0}, r"l1_ratio_ is 2.0, not a number in"),
        "CV Cs_ negative": (
            "cv",
            {("Cs_",): -attr("cv", "Cs_"), ("C_",): -attr("cv", "C_")},
            r"C_ is -[\d.e+-]+, not a number in \(0, inf\]",
        ),
        "CV scores_ shape": (
            "cv",
            {("scores_",): attr("cv", "scores_")[:, :, :2]},
            r"scores_ has shape \(3, 1, 2\), expected \(any, 1, 3\)",
        ),
        "CV Cs hyper-parameter": (
            "cv",
            {("Cs",): 0},
            "invalid hyper-parameters of CrossEntropyLogisticRegressionCV: The 'Cs' parameter",
        ),
    }


def _load_refused(data: bytes, message: str, tmp_path) -> ModelFileError:
    path = tmp_path / "m.skops"
    path.write_bytes(data)
    with pytest.raises(ModelFileError, match=message) as error:
        load(path)
    assert str(error.value).startswith(f"{path}: ")
    return error.value


@pytest.mark.parametrize("case", list(_inconsistent_files()))
def test_load_refuses_inconsistent_models(case, tmp_path):
    name, edits, message = _inconsistent_files()[case]
    error = _load_refused(_tampered(_saved(name), edits), message, tmp_path)
    if "hyper-parameters" in message:
        assert isinstance(error.__cause__, InvalidParameterError)


#: What predict, summary, lr_test and partial_fit read, set by every fit.
FITTED_ATTRIBUTES = [
    "classes_",
    "n_features_in_",
    "coef_",
    "intercept_",
    "n_iter_",
    "stop_crit_",
    "loss_curve_",
    "validation_loss_curve_",
    "solver_",
    "_likelihood",
    "_information",
]


@pytest.mark.parametrize(
    ("name", "attribute"),
    [("binary", attribute) for attribute in FITTED_ATTRIBUTES]
    + [("cv", attribute) for attribute in ("C_", "l1_ratio_", "Cs_", "coefs_paths_")],
)
def test_load_refuses_missing_fitted_attributes(name, attribute, tmp_path):
    data = _tampered(_saved(name), {(attribute,): DELETE})
    _load_refused(
        data, rf"inconsistent fitted attributes of \w+: {re.escape(attribute)} missing", tmp_path
    )


def test_tampering_helper_changes_only_what_it_is_told(tmp_path):
    """Rewriting a file's members unchanged gives the same model: the refusals above are
    the edits', not the re-zipping's."""
    model = fitted("store_covariance")[0]
    same = _tampered(_saved("store_covariance"), {("C",): 1.0})
    (tmp_path / "m.skops").write_bytes(same)
    assert_same(model, load(tmp_path / "m.skops"))


def test_unreadable_paths_raise_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.skops")
    with pytest.raises(IsADirectoryError):
        load(tmp_path)


# -- fuzz ---------------------------------------------------------------------------------
def _byte_mutations(data: bytes):
    """Deterministic damage: byte flips all over (denser in the zip directory at the
    end), truncations, appended and prepended garbage, zeroed ranges."""
    n = len(data)
    positions = sorted({*np.linspace(0, n - 1, 180).astype(int), *range(n - 240, n, 4)})
    for i, at in enumerate(positions):
        mask = (0xFF, 0x01, 0x80)[i % 3]
        yield f"flip {at}^{mask:#x}", data[:at] + bytes([data[at] ^ mask]) + data[at + 1 :]
    for length in sorted({*np.linspace(0, n - 1, 50).astype(int), n - 1, n - 2, n - 22, n - 23}):
        yield f"truncate {length}", data[:length]
    rng = np.random.RandomState(0)
    garbage = [b"\0", b"\0" * 100, b"garbage", rng.bytes(1000), data, b"PK\x05\x06" + b"\0" * 18]
    for i, extra in enumerate(garbage):
        yield f"append {i}", data + extra
        yield f"prepend {i}", extra + data
    for start in np.linspace(0, n - 8, 15).astype(int):
        for size in (8, 64, 512):
            yield f"zero {start}+{size}", data[:start] + b"\0" * size + data[start + size :]


def _check_mutant(mutant: bytes, path, model, X) -> str:
    """Load ``mutant``: the outcome's category, failing on anything but an identical
    model or a ModelFileError."""
    path.write_bytes(mutant)
    try:
        loaded = load(path)
    except ModelFileError as error:
        return str(error).split(": ", 1)[1].split(" (")[0].split(":")[0]
    assert_same_predictions(model, loaded, X)
    assert_same(model, loaded)
    return "identical model"


@pytest.mark.parametrize("name", ["pipeline", "sgd_streamed"])
def test_fuzz_damaged_files_never_load_as_another_model(name, tmp_path):
    model, X, _ = fitted(name)
    save(model, tmp_path / "good.skops")
    data = (tmp_path / "good.skops").read_bytes()
    outcomes = Counter()
    for label, mutant in _byte_mutations(data):
        kind = label.split()[0]
        outcome = _check_mutant(mutant, tmp_path / "mutant.skops", model, X)
        outcomes[kind, outcome] += 1
        if kind == "truncate":
            assert outcome != "identical model", label
    print(f"\n{name}: {len(data)} bytes, {sum(outcomes.values())} mutations:")
    for (kind, outcome), count in sorted(outcomes.items()):
        print(f"  {kind:8} {outcome:40} {count}")
    assert sum(outcomes.values()) > 300


def _dict_nodes(tree) -> list[dict]:
    """Every JSON object in ``tree``, depth first."""
    if isinstance(tree, dict):
        return [tree, *(node for value in tree.values() for node in _dict_nodes(value))]
    if isinstance(tree, list):
        return [node for value in tree for node in _dict_nodes(value)]
    return []


def _schema_mutations(schema: dict, count: int):
    """Tampered copies of ``schema``: one key of one object removed or replaced."""
    replacements = [None, 0, -1, 10**20, "x", [], {}, True, 1.5, "ObjectNode", "os", "CachedNode"]
    rng = random.Random(0)
    for _ in range(count):
        tampered = json.loads(json.dumps(schema))
        node = rng.choice(_dict_nodes(tampered))
        key = rng.choice(sorted(node))
        if rng.random() < 0.25:
            del node[key]
        else:
            node[key] = rng.choice(replacements)
        yield tampered


def test_fuzz_tampered_schema_raises_only_model_file_error(tmp_path):
    """A tampered file with valid checksums may load (celr files are not signed), but
    only ever raises ModelFileError, never another exception."""
    save(fitted("sgd_streamed")[0], tmp_path / "good.skops")
    members = _members((tmp_path / "good.skops").read_bytes())
    schema = json.loads(members[SCHEMA_NAME])
    outcomes = Counter()
    for tampered in _schema_mutations(schema, 120):
        path = tmp_path / "tampered.skops"
        path.write_bytes(_zip({**members, SCHEMA_NAME: json.dumps(tampered).encode()}))
        try:
            load(path)
            outcomes["loaded"] += 1
        except ModelFileError:
            outcomes["ModelFileError"] += 1
    print(f"\ntampered schemas: {dict(outcomes)}")
    assert outcomes["ModelFileError"] > 0


# -- no pickle ----------------------------------------------------------------------------
def test_no_pickle_on_save_or_load(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pickle used")

    for name in ("load", "loads", "dump", "dumps", "Pickler", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    for name in ("pipeline", "sgd_streamed", "C_inf", "cv"):
        model, X, _ = fitted(name)
        loaded = _round_trip(model, tmp_path)
        assert_same_predictions(model, loaded, X)
