"""Export to ONNX: a skl2onnx converter for celr's classifiers, and ``to_onnx``.

skl2onnx and onnx are optional (``pip install "celr[onnx]"``), so they are imported inside
the functions below, never at module level: ``import celr`` must work without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils.validation import check_is_fitted

if TYPE_CHECKING:
    import onnx

__all__ = ["register_onnx_converter", "to_onnx"]

# A runtime loads a model only if it knows its opset *and* its IR version, which skl2onnx
# derives from the opset: 17 -> IR 8, but 21 (onnx 1.16's default) -> IR 10, which
# onnxruntime < 1.18 cannot read. Opset 17 runs on every onnxruntime since 1.12, and the
# operators this converter emits (MatMul, Add, Sigmoid, Softmax on axis 1, ArgMax, Gather)
# mean the same in every opset since 13.
DEFAULT_OPSET = 17

# The name skl2onnx knows celr's classifiers by (its registry keys converters by name).
_ALIAS = "CelrCrossEntropyLogisticRegression"

# The options of skl2onnx's own linear classifiers (LogisticRegression), with the same
# defaults, so that a pipeline ending in celr converts as one ending in LogisticRegression.
_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "nocl": [True, False],
    "output_class_labels": [False, True],
    "raw_scores": [True, False],
}

_registered = False


def _import_skl2onnx():
    try:
        import skl2onnx
    except ImportError as error:
        raise ImportError(
            "Exporting to ONNX needs the optional dependency skl2onnx (and onnxruntime to run "
            'the result): pip install "celr[onnx]"'
        ) from error
    return skl2onnx


def register_onnx_converter() -> None:
    """Teach skl2onnx to convert celr's classifiers (idempotent).

    ``to_onnx`` calls it; call it yourself before ``skl2onnx.to_onnx`` or
    ``skl2onnx.convert_sklearn`` on a model or pipeline that contains a celr classifier.

    Raises
    ------
    ImportError
        If skl2onnx is not installed.

    Examples
    --------
    >>> import skl2onnx
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from celr import CrossEntropyLogisticRegression
    >>> from celr._onnx import register_onnx_converter
    >>> X, y = load_iris(return_X_y=True)
    >>> pipe = make_pipeline(StandardScaler(), CrossEntropyLogisticRegression()).fit(X, y)
    >>> register_onnx_converter()
    >>> onx = skl2onnx.to_onnx(pipe, X[:1].astype("float32"), target_opset=17)
    >>> [output.name for output in onx.graph.output]
    ['output_label', 'output_probability']
    """
    global _registered
    if _registered:
        return
    skl2onnx = _import_skl2onnx()
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    from celr._cv import CrossEntropyLogisticRegressionCV
    from celr._estimator import CrossEntropyLogisticRegression

    # skl2onnx looks converters up by exact type, so each class is registered.
    for cls in (CrossEntropyLogisticRegression, CrossEntropyLogisticRegressionCV):
        skl2onnx.update_registered_converter(
            cls,
            _ALIAS,
            calculate_linear_classifier_output_shapes,
            _convert,
            parser=_parse,
            options=_OPTIONS,
        )
    _registered = True


def to_onnx(
    model: Any,
    X_sample: ArrayLike,
    *,
    target_opset: int | dict[str, int] | None = None,
    options: dict | None = None,
) -> onnx.ModelProto:
    """Convert a fitted celr classifier, or a pipeline ending in one, to ONNX.

    The graph computes the scores ``X @ coef_.T + intercept_`` (MatMul + Add), then the
    probabilities: ``[sigma(-z), sigma(z)]`` for two classes, the softmax of the scores for
    more, and the label with the highest score, as an element of ``classes_`` (int64 or
    string; bool labels become 0/1). Outputs follow skl2onnx's conventions for
    ``LogisticRegression``: ``output_label`` and ``output_probability``, the latter a list
    of ``{label: probability}`` maps (a ZipMap, float32 whatever the input) unless
    ``options={"zipmap": False}``, which gives ``label`` and ``probabilities``, an
    ``(n_samples, n_classes)`` tensor in the input's float type.

    Parameters
    ----------
    model : CrossEntropyLogisticRegression, CrossEntropyLogisticRegressionCV or Pipeline
        A fitted classifier, or any fitted scikit-learn model that skl2onnx converts and
        that contains one (a ``Pipeline``, a ``ColumnTransformer`` before it, ...).
    X_sample : array-like or DataFrame
        A few input rows; only their types and column count are used. They set the
        input's type: float64 gives a ``double`` model (computed in float64), other
        numbers a ``float`` one (float32, ONNX's usual). A DataFrame gives one input
        per column, named as the columns (string columns as string tensors), for a
        ``ColumnTransformer`` that selects columns by name.
    target_opset : int or dict, optional
        ONNX opset (or ``{domain: opset}``). Default: 17, or the newest that the
        installed onnx and skl2onnx support if lower: opset 17 (IR version 8) runs on
        every onnxruntime since 1.12, where onnx's own default may not (opset 21 needs
        onnxruntime 1.18). skl2onnx may lower the opset to what the graph needs.
    options : dict, optional
        skl2onnx's conversion options: ``{name: value}`` for ``model`` (``zipmap``,
        ``nocl`` and ``output_class_labels`` reach a pipeline's final classifier), or
        ``{estimator, id(estimator) or class: {name: value}}``. For celr classifiers:
        ``zipmap`` (True, False or ``'columns'``), ``raw_scores`` (the probabilities
        output holds the scores, ``[-z, z]`` for two classes), ``nocl`` (labels are class
        indices), ``output_class_labels`` (an extra output with ``classes_``).

    Returns
    -------
    onnx.ModelProto
        Run it with ``onnxruntime.InferenceSession(onx.SerializeToString())``.

    Raises
    ------
    ImportError
        If skl2onnx is not installed (``pip install "celr[onnx]"``).
    sklearn.exceptions.NotFittedError
        If ``model`` is not fitted.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from sklearn.datasets import load_iris
    >>> from celr import CrossEntropyLogisticRegression
    >>> from celr import to_onnx
    >>> X, y = load_iris(return_X_y=True)
    >>> X = X.astype(np.float32)
    >>> clf = CrossEntropyLogisticRegression().fit(X, y)
    >>> onx = to_onnx(clf, X[:1], options={"zipmap": False})
    >>> session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    >>> labels, proba = session.run(None, {"X": X})
    >>> bool(np.all(labels == clf.predict(X)))
    True
    >>> bool(np.abs(proba - clf.predict_proba(X)).max() < 1e-5)
    True
    """
    skl2onnx = _import_skl2onnx()
    check_is_fitted(model)
    register_onnx_converter()
    if target_opset is None:
        target_opset = _default_opset()
    onx = skl2onnx.to_onnx(
        model, X_sample, target_opset=target_opset, options=options, name=type(model).__name__
    )
    from celr import __version__  # here: celr/__init__.py imports this module first

    onx.doc_string = f"{type(model).__name__} exported by celr {__version__} (celr.to_onnx)"
    return onx


def _default_opset() -> int:
    """``DEFAULT_OPSET``, or the newest opset that onnx and skl2onnx know, if lower."""
    import onnx
    from skl2onnx import get_latest_tested_opset_version

    return min(DEFAULT_OPSET, onnx.defs.onnx_opset_version(), get_latest_tested_opset_version())


# -- the parser and the converter: skl2onnx calls them for each celr classifier ---------------
def _parse(scope, model, inputs, custom_parsers=None):
    """skl2onnx's classifier parser, except that a float64 input keeps its ZipMap.

    ONNX's ZipMap takes float32 only, yet skl2onnx's own parser (``LogisticRegression``'s)
    gives a float64 input a ZipMap of doubles, a model no runtime loads. Here the
    probabilities are computed in float64 and cast to float32 for the ZipMap; with
    ``zipmap=False`` they stay float64.
    """
    # Private skl2onnx helpers, with the same signatures from 1.17 (our lowest) to 1.20.
    from skl2onnx._parse import (
        _apply_zipmap,
        _parse_sklearn_classifier,
        _parse_sklearn_simple_model,
    )
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    options = scope.get_options(model, dict(zipmap=True, output_class_labels=False))
    if (
        options["zipmap"] is False
        or options["output_class_labels"]
        or not isinstance(inputs[0].type, DoubleTensorType)
    ):
        return _parse_sklearn_classifier(scope, model, inputs, custom_parsers=custom_parsers)
    outputs = _parse_sklearn_simple_model(scope, model, inputs, custom_parsers=custom_parsers)
    outputs[1].set_type(FloatTensorType())
    return _apply_zipmap(options["zipmap"], scope, model, FloatTensorType(), outputs)


def _convert(scope, operator, container) -> None:
    """Emit the nodes of one fitted celr classifier (skl2onnx's converter signature)."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    model = operator.raw_operator
    x, (label, proba) = operator.inputs[0], operator.outputs[:2]
    proto = TensorProto.DOUBLE if isinstance(x.type, DoubleTensorType) else TensorProto.FLOAT
    x_name = x.full_name
    if not isinstance(x.type, (DoubleTensorType, FloatTensorType)):
        # MatMul wants both operands of one float type; int and bool inputs become float32.
        x_name = scope.get_unique_variable_name("cast_input")
        container.add_node("Cast", x.full_name, x_name, to=proto, name=_op_name(scope, "Cast"))
    scores = _emit_scores(scope, container, model, x_name, proto)
    proba_name = proba.full_name
    if proto == TensorProto.DOUBLE and isinstance(proba.type, FloatTensorType):
        # _parse declared float32 probabilities for a ZipMap: compute in float64, then cast.
        proba_name = scope.get_unique_variable_name("probabilities")
        container.add_node(
            "Cast", proba_name, proba.full_name, to=TensorProto.FLOAT, name=_op_name(scope, "Cast")
        )
    if container.get_options(model, dict(raw_scores=False))["raw_scores"]:
        container.add_node("Identity", scores, proba_name, name=_op_name(scope, "Identity"))
    elif len(model.classes_) == 2:
        # The scores are [-z, z], so Sigmoid gives [sigma(-z), sigma(z)]: what predict_proba
        # computes, without the cancellation of 1 - sigma(z).
        container.add_node("Sigmoid", scores, proba_name, name=_op_name(scope, "Sigmoid"))
    else:
        container.add_node("Softmax", scores, proba_name, axis=1, name=_op_name(scope, "Softmax"))
    _emit_labels(scope, container, model, scores, label.full_name)


def _emit_scores(scope, container, model, x_name: str, proto: int) -> str:
    """``X @ W.T + b`` (MatMul + Add) in the input's float type; returns the output's name.

    A model fitted on centred columns is exported centred: ``(X - m) @ W.T + b'``.

    celr keeps one row for two classes (the score z of ``classes_[1]``); it becomes the two
    rows ``-w, w`` so that both cases have one score per class, like skl2onnx's
    ``LogisticRegression`` (whose ``raw_scores`` are also ``[-z, z]``).
    """
    from onnx import TensorProto

    weights = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))
    intercept = np.broadcast_to(np.asarray(model.intercept_, np.float64), weights.shape[:1])
    dtype = np.float64 if proto == TensorProto.DOUBLE else np.float32
    offsets = model._fitted_offsets()
    if offsets is not None:
        # As celr predicts (celr._offsets): (X - m) @ W.T + b', since X @ W.T + b loses the
        # offsets' rounding. m is rounded to the graph's type, and b' adjusted to match.
        centers = offsets.full().astype(dtype)
        intercept = model._centered_model.centered_intercept - weights @ (
            centers.astype(np.float64) - offsets.full()
        )
        centers_name, centered = (
            scope.get_unique_variable_name(name) for name in ("offsets", "centered")
        )
        container.add_initializer(centers_name, proto, list(centers.shape), centers.tolist())
        container.add_node("Sub", [x_name, centers_name], centered, name=_op_name(scope, "Sub"))
        x_name = centered
    if weights.shape[0] == 1:
        weights, intercept = (
            np.vstack([-weights, weights]),
            np.concatenate([-intercept, intercept]),
        )
    coef_name, intercept_name, product, scores = (
        scope.get_unique_variable_name(name) for name in ("coef", "intercept", "product", "scores")
    )
    for name, value in ((coef_name, weights.T), (intercept_name, intercept)):
        value = np.asarray(value, dtype=dtype)
        container.add_initializer(name, proto, list(value.shape), value.ravel().tolist())
    container.add_node("MatMul", [x_name, coef_name], product, name=_op_name(scope, "MatMul"))
    container.add_node("Add", [product, intercept_name], scores, name=_op_name(scope, "Add"))
    return scores


def _emit_labels(scope, container, model, scores: str, label_name: str) -> None:
    """The label: the argmax of the scores (the first on ties, as ``predict``), as a class."""
    from onnx import TensorProto
    from skl2onnx.common.utils_classifier import get_label_classes

    # get_label_classes honours the option nocl (labels are then the class indices). Bool
    # and (integral) float labels become int64, as skl2onnx's shape calculator declares.
    classes = np.asarray(get_label_classes(scope, model))
    if classes.dtype.kind in "biuf":
        proto, values = TensorProto.INT64, classes.astype(np.int64).tolist()
    else:
        proto, values = TensorProto.STRING, [str(c).encode("utf-8") for c in classes]
    if values == list(range(len(values))):
        # Labels 0..K-1 are the argmax itself.
        container.add_node(
            "ArgMax", scores, label_name, axis=1, keepdims=0, name=_op_name(scope, "ArgMax")
        )
        return
    index_name, classes_name = (
        scope.get_unique_variable_name(name) for name in ("class_index", "classes")
    )
    container.add_node(
        "ArgMax", scores, index_name, axis=1, keepdims=0, name=_op_name(scope, "ArgMax")
    )
    container.add_initializer(classes_name, proto, [len(values)], values)
    container.add_node(
        "Gather", [classes_name, index_name], label_name, axis=0, name=_op_name(scope, "Gather")
    )


def _op_name(scope, op_type: str) -> str:
    return scope.get_unique_operator_name(op_type)
