"""Safe model files: :func:`save` and :func:`load`, on skops' persistence, without pickle.

A pickled model runs whatever code its file names when it is loaded; a celr model file
cannot. It is a zip archive written by ``skops.io``: a JSON description of the object
tree (``schema.json``) and the arrays as ``.npy`` members read with
``allow_pickle=False``, plus celr's own ``celr.json`` (the format version and the
versions that wrote the file). Loading rebuilds only types that are trusted: what skops
trusts by default (scikit-learn's estimators, numpy and scipy types, builtins), celr's
own classes, and the type names the caller lists in ``trusted=``. Nothing else is
imported, called or constructed.

A model file holds one fitted scikit-learn estimator that is, or contains, a celr
estimator: a ``CrossEntropyLogisticRegression(CV)`` or, for example, a ``Pipeline``
around one (what the command line tool saves). Anything else is refused, by
:func:`save` and :func:`load` alike.

What is (not) saved: every attribute of the model, private ones included, so a loaded
model predicts bit for bit as the saved one, keeps its inference statistics
(``store_covariance``, ``C=np.inf``) and continues ``partial_fit`` exactly where the
saved one stood.
"""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from celr._array_api_fit import host_model
from celr._estimator import CrossEntropyLogisticRegression
from celr._model_checks import ModelCheckError, check_fitted_model, is_fitted
from celr._model_file import (
    FORMAT,
    FORMAT_VERSION,
    METADATA_NAME,
    SAFE_TYPES,
    SCHEMA_NAME,
    ModelFileError,
    _celr_version,
    _check_metadata,
    _check_protocol,
    _describe,
    _open_archive,
    _read_json,
)


def save(model: BaseEstimator, path: str | os.PathLike[str]) -> None:
    """Write a fitted celr model to ``path`` in skops' safe format (no pickle).

    Parameters
    ----------
    model : estimator
        A fitted ``CrossEntropyLogisticRegression`` or
        ``CrossEntropyLogisticRegressionCV``, or a fitted scikit-learn estimator
        containing one (a ``Pipeline``, with ``ColumnTransformer``, ``OneHotEncoder``,
        ``StandardScaler``, ``SimpleImputer``, ...).
    path : str or path-like
        The file to write (replaced if it exists); ``.skops`` is the conventional
        extension. Nothing is written when the model cannot be saved.

    Raises
    ------
    TypeError
        When ``model`` is not a scikit-learn estimator containing a celr estimator, or
        holds an object skops cannot represent safely.
    sklearn.exceptions.NotFittedError
        When ``model`` is not fitted.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from celr import CrossEntropyLogisticRegression
    >>> from celr import load, save
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = CrossEntropyLogisticRegression().fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "iris.skops")
    ...     save(clf, path)
    ...     loaded = load(path)
    >>> np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    True
    """
    _check_model(model)
    import skops.io  # deferred: importing skops costs 0.25 s, which plain fits need not pay
    from skops.io.exceptions import UnsupportedTypeException

    model = host_model(model)  # a fit on a GPU's arrays is saved with NumPy's
    try:
        data = skops.io.dumps(model, compression=zipfile.ZIP_DEFLATED)
    except UnsupportedTypeException as error:
        raise TypeError(
            f"{type(model).__name__} holds an object skops cannot save safely: {error}"
        ) from error
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA_NAME, json.dumps(_metadata(model), indent=2))
    # Serialised in memory first, so a model that cannot be saved leaves an existing
    # file untouched.
    with open(path, "wb") as file:
        file.write(buffer.getbuffer())


def load(
    path: str | os.PathLike[str], *, trusted: Sequence[str | type] | None = None
) -> BaseEstimator:
    """Read a model written by :func:`save`, constructing only trusted types.

    Trusted are the types skops trusts by default (scikit-learn estimators, numpy and
    scipy types, builtins), celr's own classes (defined in an imported ``celr.*``
    module; celr's functions are not), and those listed in ``trusted``. A file
    holding any other type is refused before anything in it is constructed.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    trusted : list of str or type, optional
        Further types to construct, by their full name as
        ``skops.io.get_untrusted_types`` (and the ``untrusted types`` error) gives them,
        e.g. ``['mypackage.MyTransformer']``. List only types from sources you trust:
        loading one may run its code.

    Returns
    -------
    model : estimator
        The fitted model: a celr estimator, or an estimator containing one.

    Raises
    ------
    ModelFileError
        For every file that is not a trusted, intact celr model file: empty, not a zip
        archive, truncated or damaged, not written by :func:`save`, written by a newer
        celr or skops, holding untrusted types, or not a fitted celr model, or one whose
        hyper-parameters are invalid or whose fitted attributes are missing, not finite
        or do not agree with each other (see :mod:`celr._model_checks`).
    OSError
        When ``path`` cannot be read (missing, a directory, no permission).
    TypeError
        When ``trusted`` is not a list of type names.

    See Also
    --------
    save : Write a model file.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from celr import CrossEntropyLogisticRegression
    >>> from celr import load, save
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> pipe = make_pipeline(StandardScaler(), CrossEntropyLogisticRegression()).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "pipe.skops")
    ...     save(pipe, path)
    ...     loaded = load(path)
    >>> [name for name, _ in loaded.steps]
    ['standardscaler', 'crossentropylogisticregression']
    >>> bool((loaded.predict(X) == pipe.predict(X)).all())
    True
    """
    extra_trusted = _type_names(trusted)
    with open(path, "rb") as file:
        data = file.read()
    try:
        return _load_bytes(data, extra_trusted)
    except ModelFileError as error:
        raise ModelFileError(f"{os.fspath(path)}: {error}") from error.__cause__
    except Exception as error:
        # A damaged file can make zipfile, zlib, json, numpy or skops fail in any way
        # (KeyError, RecursionError, NotImplementedError, ...): one error for callers.
        raise ModelFileError(
            f"{os.fspath(path)}: damaged model file ({type(error).__name__}: {error})"
        ) from error


# -- loading, step by step ----------------------------------------------------------------
def _load_bytes(data: bytes, extra_trusted: list[str]) -> BaseEstimator:
    archive = _open_archive(data)
    metadata = _read_json(archive, METADATA_NAME, missing="not a celr model file")
    _check_metadata(metadata)
    schema = _read_json(archive, SCHEMA_NAME, missing="schema problem")
    _check_protocol(schema)

    import skops.io  # deferred, see save

    try:
        found = skops.io.get_untrusted_types(data=data)
    except Exception as error:
        raise ModelFileError(f"schema problem: {_describe(error)}") from error
    untrusted = [
        name
        for name in found
        if name not in extra_trusted and name not in SAFE_TYPES and not _is_celr_class(name)
    ]
    if untrusted:
        raise ModelFileError(
            f"untrusted types: {untrusted}. Load with trusted={untrusted} only if you trust "
            "the source of the file: constructing them may run their code."
        )
    try:
        model = skops.io.loads(data, trusted=found)
    except Exception as error:
        raise ModelFileError(f"schema problem: {_describe(error)}") from error
    _check_loaded(model)
    return model


def _check_loaded(model: Any) -> None:
    """The file's object must be a fitted celr model, consistent as a fit leaves it."""
    estimators = _celr_estimators(model) if isinstance(model, BaseEstimator) else []
    if not estimators:
        raise ModelFileError(
            f"not a celr model: the file holds a {type(model).__module__}."
            f"{type(model).__qualname__}, not a celr estimator or an estimator containing one"
        )
    try:
        check_is_fitted(model)
    except Exception as error:
        raise ModelFileError(f"not a fitted model ({error})") from error
    for estimator in estimators:
        if is_fitted(estimator):  # not e.g. the unfitted template of a fitted search
            try:
                check_fitted_model(estimator)
            except ModelCheckError as error:
                raise ModelFileError(str(error)) from error.__cause__


# -- what is a celr model, what is trusted -------------------------------------------------
def _check_model(model: Any) -> None:
    if not isinstance(model, BaseEstimator) or not _celr_estimators(model):
        raise TypeError(
            "celr.save writes celr models: a CrossEntropyLogisticRegression(CV) or a "
            f"scikit-learn estimator containing one (e.g. a Pipeline); got {type(model).__name__}."
        )
    try:
        check_is_fitted(model)
    except NotFittedError as error:
        raise NotFittedError(
            f"This {type(model).__name__} is not fitted yet: fit it before celr.save."
        ) from error


def _celr_estimators(root: Any) -> list[CrossEntropyLogisticRegression]:
    """The celr estimators reachable from ``root`` through estimators and containers."""
    found, seen, stack = [], set(), [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, CrossEntropyLogisticRegression):
            found.append(obj)
        elif isinstance(obj, BaseEstimator):
            stack.extend(vars(obj).values())
        elif isinstance(obj, list | tuple):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
    return found


def _is_celr_class(name: str) -> bool:
    """Whether ``name`` is a class defined in an imported celr module.

    Looked up, not imported: a file cannot make celr import anything. Functions and
    methods are not classes, and names celr merely imports (``celr._x.ZipFile``) are
    defined elsewhere, so neither is trusted by the ``celr.`` prefix alone.
    """
    module_name, _, attribute = name.rpartition(".")
    if not module_name.startswith("celr."):
        return False
    module = sys.modules.get(module_name)
    obj = getattr(module, attribute, None) if module is not None else None
    return isinstance(obj, type) and obj.__module__ == module_name


def _type_names(trusted: Sequence[str | type] | None) -> list[str]:
    if trusted is None:
        return []
    if isinstance(trusted, str | bytes | bool) or not isinstance(trusted, Sequence | set):
        raise TypeError(
            "trusted must be a list of type names such as ['mypackage.MyTransformer'] "
            f"(as skops.io.get_untrusted_types gives them); got {trusted!r}."
        )
    names = []
    for item in trusted:
        if isinstance(item, type):
            names.append(f"{item.__module__}.{item.__name__}")
        elif isinstance(item, str):
            names.append(item)
        else:
            raise TypeError(f"trusted must hold type names or types; got {item!r}.")
    return names


# -- saving -------------------------------------------------------------------------------
def _metadata(model: BaseEstimator) -> dict:
    import sklearn
    import skops

    return {
        "format": FORMAT,
        "format_version": f"{FORMAT_VERSION[0]}.{FORMAT_VERSION[1]}",
        "model": f"{type(model).__module__}.{type(model).__qualname__}",
        "celr_version": _celr_version(),
        "skops_version": skops.__version__,
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "python_version": ".".join(map(str, sys.version_info[:3])),
    }
