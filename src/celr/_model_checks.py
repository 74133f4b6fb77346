"""What a celr estimator rebuilt from a model file must satisfy for :func:`celr.load`.

A model file's checksums prove only that it was not damaged by accident: anyone can edit
its members and zip them again. Such a file must not load as a model that predicts
nonsense without a word (NaN weights give every row class 0), fails later in an unrelated
place (a missing ``coef_`` raises AttributeError in ``predict``) or reports other
standard errors than its coefficients have (a Hessian of another shape). So the
estimator is checked as a fitted one is: valid hyper-parameters; every fitted attribute
present; classes, weights and feature counts of shapes that agree; finite parameters;
stored inference statistics that belong to these coefficients.

What cannot be checked is whether finite, consistent numbers are the ones that were
saved: celr model files are not signed.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils._param_validation import InvalidParameterError

from celr._cv import CrossEntropyLogisticRegressionCV
from celr._estimator import CrossEntropyLogisticRegression
from celr._inference import Information, Likelihood
from celr._inputs import FLOAT_DTYPES
from celr._objective import CoefLayout
from celr._offsets import CenteredModel, ColumnOffsets
from celr._separation import Separation
from celr.solvers import SOLVERS
from celr.solvers._coordinates import CurvatureCoordinates, StandardizedCoordinates
from celr.solvers.sgd import SGDState

#: Set by every fit (``fit``, ``partial_fit``, a CV fit with or without refit) and read
#: by ``predict``, ``summary``, ``lr_test`` or ``partial_fit``. ``_optimizer_state`` is
#: not among them: a CV model has none, and ``partial_fit`` starts afresh without one.
FITTED_ATTRIBUTES = (
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
)
#: Set by ``CrossEntropyLogisticRegressionCV.fit`` on top of the above.
CV_ATTRIBUTES = (
    "C_",
    "l1_ratio_",
    "Cs_",
    "l1_ratios_",
    "scores_",
    "n_iter_paths_",
    "coefs_paths_",
    "cv_results_",
)


#: What a NaN label can be: a Python float (numpy's float64 is one), or another numpy float.
_FLOATS = (float, complex, np.floating, np.complexfloating)


class ModelCheckError(ValueError):
    """A rebuilt estimator that is not a consistent fitted model; the message says why."""


def is_fitted(estimator: CrossEntropyLogisticRegression) -> bool:
    """Whether ``estimator`` claims to be fitted: has any attribute ending in ``_``.

    scikit-learn's own test (``check_is_fitted``). An estimator without one is an unfitted
    template (e.g. the ``estimator`` of a fitted ``GridSearchCV``); one with some is
    checked for all of them, so deleting ``coef_`` does not pass it off as a template.
    """
    return any(name.endswith("_") and not name.startswith("__") for name in vars(estimator))


def check_fitted_model(estimator: CrossEntropyLogisticRegression) -> None:
    """Refuse a fitted celr estimator whose parameters or attributes do not fit together.

    Parameters
    ----------
    estimator : CrossEntropyLogisticRegression or CrossEntropyLogisticRegressionCV
        A fitted estimator (see :func:`is_fitted`), as rebuilt from a model file.

    Raises
    ------
    ModelCheckError
        ``invalid hyper-parameters of <class>: ...`` (scikit-learn's parameter
        validation, chained as ``__cause__``) or ``inconsistent fitted attributes of
        <class>: <attribute> ...``, naming the first attribute found wrong.
    """
    kind = type(estimator).__name__
    try:
        estimator._validate_params()
    except InvalidParameterError as error:
        raise ModelCheckError(f"invalid hyper-parameters of {kind}: {error}") from error
    try:
        _check_attributes(estimator)
    except _Fault as fault:
        raise ModelCheckError(f"inconsistent fitted attributes of {kind}: {fault}") from None


class _Fault(Exception):
    """One attribute found wrong: ``<attribute> <what is wrong>``."""

    def __init__(self, attribute: str, problem: str) -> None:
        super().__init__(f"{attribute} {problem}")


def _check_attributes(estimator: CrossEntropyLogisticRegression) -> None:
    attributes = vars(estimator)
    is_cv = isinstance(estimator, CrossEntropyLogisticRegressionCV)
    required = FITTED_ATTRIBUTES + (CV_ATTRIBUTES if is_cv else ())
    missing = [name for name in required if name not in attributes]
    if missing:
        raise _Fault(", ".join(missing), "missing")
    n_classes = _check_classes(attributes["classes_"])
    n_features = _check_count("n_features_in_", attributes["n_features_in_"], minimum=1)
    if "feature_names_in_" in attributes:
        names = attributes["feature_names_in_"]
        _check_array("feature_names_in_", names, (n_features,), f"n_features_in_={n_features}")
    n_scores = 1 if n_classes == 2 else n_classes
    given = f"{n_classes} classes_ and n_features_in_={n_features}"
    for name, shape in (("coef_", (n_scores, n_features)), ("intercept_", (n_scores,))):
        _check_parameters(name, attributes[name], shape, given)
    _check_count("n_iter_", attributes["n_iter_"], minimum=0)
    _check_stop_crit(attributes["stop_crit_"])
    solvers = sorted([*SOLVERS, "firth"])  # 'firth': Firth's own fit (celr._firth)
    if not isinstance(attributes["solver_"], str) or attributes["solver_"] not in solvers:
        raise _Fault("solver_", f"is {_show(attributes['solver_'])}, not one of {solvers}")
    for name in ("loss_curve_", "validation_loss_curve_"):
        if attributes[name] is not None:
            _check_array(name, attributes[name], (None,))
    # Every coefficient, the intercepts included (class-major, intercept last): the
    # order of the stored statistics' rows and columns.
    n_params = n_scores * (n_features + bool(estimator.fit_intercept))
    given = f"{n_params} coefficients: coef_ {(n_scores, n_features)} and the intercepts"
    _check_information(attributes["_information"], n_params, given)
    _check_offsets(attributes["_information"], n_features)
    _check_centered_model(attributes.get("_centered_model"), attributes, n_scores, n_features)
    _check_likelihood(attributes["_likelihood"])
    _check_optimizer_state(attributes.get("_optimizer_state"), n_classes, n_features)
    if is_cv:
        _check_cv(attributes, n_scores, n_features + bool(estimator.fit_intercept))


# -- one attribute each --------------------------------------------------------------------
def _check_classes(classes: Any) -> int:
    _check_array("classes_", classes, (None,))
    if len(classes) < 2:
        raise _Fault("classes_", f"holds {len(classes)} class(es); a classifier has at least 2")
    if any(isinstance(label, _FLOATS) and np.isnan(label) for label in classes.tolist()):
        raise _Fault("classes_", f"holds NaN: {_show(classes)}")
    try:
        unique = np.unique(classes)
    except TypeError as error:
        raise _Fault("classes_", f"cannot be sorted ({error})") from None
    if len(unique) < len(classes):
        raise _Fault("classes_", f"has duplicates: {_show(classes)}")
    # fit stores np.unique(y), and partial_fit and loss look labels up by binary search.
    if not np.array_equal(unique, classes):
        raise _Fault("classes_", f"is not sorted: {_show(classes)}")
    return len(classes)


def _check_count(name: str, value: Any, *, minimum: int) -> int:
    if not isinstance(value, Integral) or isinstance(value, bool) or value < minimum:
        raise _Fault(name, f"is {_show(value)}, not an integer >= {minimum}")
    return int(value)


def _check_array(
    name: str, value: Any, shape: tuple[int | None, ...], given: str = ""
) -> np.ndarray:
    """``value`` is an ndarray of ``shape`` (None: any length along that axis), which
    ``given`` explains (the attributes it follows from)."""
    if not isinstance(value, np.ndarray):
        raise _Fault(name, f"is {_show(value)}, not an array")
    if value.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(value.shape, shape, strict=True)
    ):
        wanted = ", ".join("any" if want is None else str(want) for want in shape)
        wanted = f"({wanted},)" if len(shape) == 1 else f"({wanted})"
        because = f" for {given}" if given else ""
        raise _Fault(name, f"has shape {value.shape}, expected {wanted}{because}")
    return value


def _check_parameters(name: str, value: Any, shape: tuple[int, ...], given: str) -> None:
    _check_array(name, value, shape, given)
    if value.dtype not in FLOAT_DTYPES:
        raise _Fault(name, f"has dtype {value.dtype}, not float64 or float32")
    _check_finite(name, value)


def _check_finite(name: str, value: np.ndarray) -> None:
    if value.dtype.kind not in "biuf":
        raise _Fault(name, f"has dtype {value.dtype}, not a number")
    if not np.all(np.isfinite(value)):
        bad = int(np.count_nonzero(~np.isfinite(value)))
        raise _Fault(name, f"holds NaN or inf ({bad} of {value.size} entries)")


def _check_stop_crit(value: Any) -> None:
    # None: a CV model averaged over folds; NaN: partial_fit, which cannot measure it.
    if value is None:
        return
    if not isinstance(value, Real) or isinstance(value, bool) or value < 0:
        raise _Fault("stop_crit_", f"is {_show(value)}, not a non-negative number, NaN or None")


def _check_real(name: str, value: Any, *, positive: bool = False) -> None:
    if (
        not isinstance(value, Real)
        or isinstance(value, bool)
        or not np.isfinite(value)
        or (positive and not value > 0)
    ):
        what = "a finite positive number" if positive else "a finite number"
        raise _Fault(name, f"is {_show(value)}, not {what}")


def _check_separation(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, Separation):
        raise _Fault(name, f"is {_show(value)}, not a Separation or None")


# -- stored statistics ---------------------------------------------------------------------
def _check_information(info: Any, n_params: int, given: str) -> None:
    """``store_covariance``'s matrices: ``summary`` picks its rows and columns by the
    coefficients' layout, so one of another size gives other standard errors, silently."""
    if info is None:
        return
    if not isinstance(info, Information):
        raise _Fault("_information", f"is {_show(info)}, not an Information or None")
    for field, shape in (
        ("hessian", (n_params, n_params)),
        ("score_outer", (n_params, n_params)),
        ("param_scale", (n_params,)),
    ):
        name = f"_information.{field}"
        _check_finite(name, _check_array(name, getattr(info, field, None), shape, given))
    if not np.all(info.param_scale > 0):
        raise _Fault("_information.param_scale", "holds entries <= 0")
    _check_real("_information.weight_sum", getattr(info, "weight_sum", None), positive=True)
    _check_separation("_information.separation", getattr(info, "separation", None))


def _check_offsets(info: Any, n_features: int) -> None:
    offsets = getattr(info, "offsets", None)
    if offsets is not None:
        name = "_information.offsets"
        _check_finite(name, _check_array(name, offsets, (n_features,), "n_features_in_"))


def _check_centered_model(centered: Any, attributes: dict, n_scores: int, n_features: int):
    """The centred form ``predict`` uses: offsets of real columns, and an intercept ``b'``
    that gives the same scores as ``intercept_`` up to the rounding of ``b = b' - W m``."""
    if centered is None:
        return
    if not isinstance(centered, CenteredModel) or not isinstance(centered.offsets, ColumnOffsets):
        raise _Fault("_centered_model", f"is {_show(centered)}, not a CenteredModel or None")
    offsets = centered.offsets
    columns = _check_array("_centered_model.offsets.columns", offsets.columns, (None,))
    if (
        columns.dtype.kind not in "iu"
        or offsets.n_features != n_features
        or len(np.unique(columns)) < len(columns)
        or np.any((columns < 0) | (columns >= n_features))
    ):
        raise _Fault("_centered_model.offsets", f"names no distinct columns of {n_features}")
    values = _check_array("_centered_model.offsets.values", offsets.values, (len(columns),))
    _check_finite("_centered_model.offsets.values", values)
    for field, shape in (("coef", (n_scores, n_features)), ("intercept", (n_scores,))):
        _check_parameters(f"_centered_model.{field}", getattr(centered, field), shape, "")
    intercept = centered.centered_intercept
    _check_parameters("_centered_model.centered_intercept", intercept, (n_scores,), "")
    if not centered.describes(attributes["coef_"], attributes["intercept_"]):
        return  # edited coefficients: predict uses coef_ and intercept_ as they are
    shift = centered.coef[:, columns].astype(np.float64) @ values
    bound = (
        8
        * np.finfo(centered.intercept.dtype).eps
        * (np.abs(intercept) + np.abs(centered.coef[:, columns]) @ np.abs(values))
    )
    if np.any(np.abs(intercept - shift - centered.intercept) > bound + np.finfo(float).tiny):
        raise _Fault("_centered_model.centered_intercept", "disagrees with intercept_")


def _check_likelihood(stats: Any) -> None:
    if stats is None:
        return
    if not isinstance(stats, Likelihood):
        raise _Fault("_likelihood", f"is {_show(stats)}, not a Likelihood or None")
    for field in ("log_likelihood", "null"):
        _check_real(f"_likelihood.{field}", getattr(stats, field, None))
    _check_real("_likelihood.weight_sum", getattr(stats, "weight_sum", None), positive=True)
    _check_separation("_likelihood.separation", getattr(stats, "separation", None))


def _check_optimizer_state(state: Any, n_classes: int, n_features: int) -> None:
    """``partial_fit`` continues from the SGD state's iterate when its size fits."""
    if state is None:
        return
    if not isinstance(state, SGDState):
        raise _Fault("_optimizer_state", f"is {_show(state)}, not an SGDState or None")
    layout = state.layout
    if not isinstance(layout, CoefLayout):
        raise _Fault("_optimizer_state.layout", f"is {_show(layout)}, not a CoefLayout")
    expected = CoefLayout(n_classes, n_features, layout.fit_intercept)
    if (layout.n_classes, layout.n_features, layout.n_params) != (
        n_classes,
        n_features,
        expected.n_params,
    ):
        raise _Fault(
            "_optimizer_state.layout",
            f"is for {layout.n_classes} classes and {layout.n_features} features, the "
            f"model has {n_classes} and {n_features}",
        )
    for field in ("u", "u_average"):
        name = f"_optimizer_state.{field}"
        _check_finite(name, _check_array(name, getattr(state, field, None), (layout.n_params,)))
    _check_coordinates(getattr(state, "coords", None), layout)


def _check_coordinates(coords: Any, layout: CoefLayout) -> None:
    """The map from the SGD iterate to coefficients: finite, of the layout's sizes."""
    name = "_optimizer_state.coords"
    whitened = isinstance(coords, CurvatureCoordinates)
    base = getattr(coords, "base", None) if whitened else coords
    if not isinstance(base, StandardizedCoordinates):
        raise _Fault(name, f"is {_show(coords)}, not celr's SGD coordinates")
    prefix = f"{name}.base" if whitened else name
    for field in ("center", "scale"):
        value = _check_array(f"{prefix}.{field}", getattr(base, field, None), (layout.n_features,))
        _check_finite(f"{prefix}.{field}", value)
    if not np.all(base.scale > 0):
        raise _Fault(f"{prefix}.scale", "has entries that are not positive")
    if whitened:
        width = layout.n_features + layout.fit_intercept
        for field in ("factors", "inverse_factors"):
            shape = (layout.n_scores, width, width)
            value = _check_array(f"{name}.{field}", getattr(coords, field, None), shape)
            _check_finite(f"{name}.{field}", value)


def _check_cv(attributes: dict, n_scores: int, n_coef: int) -> None:
    """The chosen ``C_`` and ``l1_ratio_``, among grids the search results agree with."""
    C, l1_ratio = attributes["C_"], attributes["l1_ratio_"]
    if not isinstance(C, Real) or isinstance(C, bool) or not C > 0:  # NaN too
        raise _Fault("C_", f"is {_show(C)}, not a number in (0, inf]")
    if not isinstance(l1_ratio, Real) or isinstance(l1_ratio, bool) or not 0 <= l1_ratio <= 1:
        raise _Fault("l1_ratio_", f"is {_show(l1_ratio)}, not a number in [0, 1]")
    Cs = _check_array("Cs_", attributes["Cs_"], (None,))
    l1_ratios = _check_array("l1_ratios_", attributes["l1_ratios_"], (None,))
    if Cs.dtype.kind != "f" or not np.all(Cs > 0):
        raise _Fault("Cs_", f"is {_show(Cs)}, not positive numbers")
    if l1_ratios.dtype.kind != "f" or not np.all((l1_ratios >= 0) & (l1_ratios <= 1)):
        raise _Fault("l1_ratios_", f"is {_show(l1_ratios)}, not numbers in [0, 1]")
    if C not in Cs:
        raise _Fault("C_", f"is {_show(C)}, not in Cs_")
    if l1_ratio not in l1_ratios:
        raise _Fault("l1_ratio_", f"is {_show(l1_ratio)}, not in l1_ratios_")
    scores = _check_array("scores_", attributes["scores_"], (None, len(l1_ratios), len(Cs)))
    grid = scores.shape
    _check_array("n_iter_paths_", attributes["n_iter_paths_"], grid)
    _check_array("coefs_paths_", attributes["coefs_paths_"], (*grid, n_scores, n_coef))
    if not isinstance(attributes["cv_results_"], dict):
        raise _Fault("cv_results_", f"is {_show(attributes['cv_results_'])}, not a dict")


def _show(value: Any) -> str:
    """A short description of ``value`` for a message (an array's dtype and shape; a small
    array also its values, so NaN or duplicates show)."""
    if isinstance(value, np.ndarray):
        shown = f" {value.tolist()!r}" if value.size <= 10 else ""
        return f"a {value.dtype} array of shape {value.shape}{shown}"
    if value is None or isinstance(value, bool | int | float | str | np.number):
        return repr(value)
    return f"a {type(value).__module__}.{type(value).__qualname__}"
