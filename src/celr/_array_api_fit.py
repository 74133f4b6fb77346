"""``fit`` and the predictions on Array-API input (see :mod:`celr._array_api`).

The estimator's attributes of such a fit (``coef_``, ``intercept_``, ``loss_curve_``)
are arrays of X's namespace, on X's device, in X's dtype, as scikit-learn's
``array_api_support`` tag asks; ``classes_`` stays a NumPy array (it may hold strings).
Predictions take X of the same namespace and return arrays of it.
"""

from __future__ import annotations

import copy

import numpy as np

from celr._array_api import (
    ARRAY_API_SOLVERS,
    ArrayAPIObjective,
    array_api_namespace,
    compat,
    to_numpy,
)
from celr._inputs import encode_targets
from celr.solvers import SOLVERS


def fit_array_api(estimator, X, y, sample_weight):
    """Fit ``estimator`` on X of an Array-API namespace; y and sample_weight follow X."""
    array_api_compat = compat()

    xp = array_api_compat.array_namespace(X)
    _check_options(estimator)
    X = _checked_X(xp, X)
    y_host = to_numpy(y)
    if y_host.ndim != 1 or len(y_host) != X.shape[0]:
        raise ValueError(
            f"y must be 1-d with one label per row of X ({X.shape[0]}); got shape {y_host.shape}."
        )
    weight_host = None if sample_weight is None else to_numpy(sample_weight)
    targets = encode_targets(y_host, weight_host, estimator.class_weight)
    estimator._record_input(targets.classes, X.shape[1], None)
    objective = ArrayAPIObjective(
        X, targets.codes, targets.weights, len(targets.classes), estimator.fit_intercept
    )
    if estimator.warm_start and hasattr(estimator, "coef_"):
        for name in ("coef_", "intercept_"):
            setattr(estimator, name, to_numpy(getattr(estimator, name)))
    name = estimator.solver
    if name == "auto":
        # Newton with a Cholesky factor while the Hessian is small, else L-BFGS.
        name = "newton" if objective.n_params <= 1000 else "lbfgs"
    estimator.solver_ = name
    spec = SOLVERS[name]
    options = estimator._solver_options(spec, None)
    estimator._fit_objective(objective, spec, options, objective.dtype)
    for attribute in ("coef_", "intercept_"):
        host = np.asarray(getattr(estimator, attribute), dtype=objective.dtype)
        setattr(estimator, attribute, xp.asarray(host, device=objective.device))
    # float64 as in the NumPy fit, unless the device has no float64 (Apple's MPS)
    estimator.loss_curve_ = _on_device(xp, estimator.loss_curve_, objective.device)
    return estimator


def _on_device(xp, values, device):
    try:
        return xp.asarray(np.asarray(values, dtype=np.float64), device=device)
    except (TypeError, RuntimeError):
        return xp.asarray(np.asarray(values, dtype=np.float32), device=device)


def refuse_array_api(estimator, X, method: str) -> None:
    """ValueError for Array-API X in a method that runs on NumPy input only."""
    xp = array_api_namespace(X)
    if xp is not None:
        raise ValueError(
            f"{type(estimator).__name__}.{method}() is not available on Array-API input "
            f"({xp.__name__}): pass NumPy arrays, or fit CrossEntropyLogisticRegression "
            f"with solver in {', '.join(map(repr, ARRAY_API_SOLVERS))}."
        )


def host_model(estimator):
    """``estimator`` itself, or for a fit on Array-API input a shallow copy whose arrays
    are NumPy's: what a model file holds (it loads on any machine, without the device)."""
    if not fitted_on_array_api(estimator):
        return estimator
    host = copy.copy(estimator)
    for name in ("coef_", "intercept_", "loss_curve_"):
        setattr(host, name, to_numpy(getattr(estimator, name)))
    return host


def _check_options(estimator) -> None:
    supported = ", ".join(repr(s) for s in ARRAY_API_SOLVERS)
    if estimator.solver not in ARRAY_API_SOLVERS:
        raise ValueError(
            f"solver={estimator.solver!r} is not available on Array-API input; use one of "
            f"{supported} (or NumPy input)."
        )
    if estimator.l1_ratio != 0:
        raise ValueError(
            f"l1_ratio={estimator.l1_ratio!r}: an L1 penalty is not available on Array-API "
            "input; use l1_ratio=0 (L2) or NumPy input."
        )
    if getattr(estimator, "firth", False):
        raise ValueError("firth=True is not available on Array-API input; use NumPy input.")


def _checked_X(xp, X):
    if X.ndim != 2:
        raise ValueError(f"X must be 2-d (n_samples, n_features); got {X.ndim} dimensions.")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X has shape {tuple(X.shape)}: at least one row and column needed.")
    if X.dtype == getattr(xp, "float16", None):
        raise TypeError(
            "X is float16: celr fits in float32 or float64 (float16's 3 decimal digits "
            "cannot resolve the gradient); convert X first."
        )
    if not xp.isdtype(X.dtype, "real floating"):
        if not xp.isdtype(X.dtype, ("integral", "bool")):
            raise TypeError(f"X has dtype {X.dtype}: real numbers are needed.")
        X = xp.astype(X, xp.float64)
    # NaN and infinity propagate through a sum: finite column sums prove X finite in one
    # reduction (isfinite writes an n x d mask, 2x the time); an overflowing sum of
    # finite entries is told apart by the full check.
    if not bool(xp.all(xp.isfinite(xp.sum(X, axis=0)))) and not bool(xp.all(xp.isfinite(X))):
        raise ValueError("Input X contains NaN or infinity.")
    return X


def check_same_namespace(estimator, X, method: str):
    """X of the namespace and device ``estimator`` was fitted on, else ValueError."""
    array_api_compat = compat()

    fitted = estimator.coef_
    fitted_xp = array_api_compat.array_namespace(fitted)
    try:
        xp = array_api_compat.array_namespace(X)
    except TypeError:
        xp = None
    name = f"{type(estimator).__name__}.{method}()"
    if xp is not fitted_xp:
        raise ValueError(
            f"Inputs passed to {name} must use the same namespace as the fitted "
            f"attributes ({fitted_xp.__name__}); got {getattr(xp, '__name__', type(X))}."
        )
    if array_api_compat.device(X) != array_api_compat.device(fitted):
        raise ValueError(
            f"Inputs passed to {name} must be on the device of the fitted attributes "
            f"({array_api_compat.device(fitted)}); got {array_api_compat.device(X)}."
        )


def fitted_on_array_api(estimator) -> bool:
    """Whether ``coef_`` is an array of a namespace other than NumPy's."""
    array_api_compat = compat()

    coef = getattr(estimator, "coef_", None)
    return (
        coef is not None
        and not isinstance(coef, np.ndarray)
        and array_api_compat.is_array_api_obj(coef)
    )


def scores_array_api(estimator, X, method: str):
    """``X @ coef_.T + intercept_`` in X's namespace: shape (n,) or (n, K)."""
    array_api_compat = compat()

    check_same_namespace(estimator, X, method)
    xp = array_api_compat.array_namespace(X)
    if X.ndim != 2 or X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has shape {tuple(X.shape)}; {type(estimator).__name__} was fitted on "
            f"{estimator.n_features_in_} features."
        )
    coef = estimator.coef_
    if X.dtype != coef.dtype:
        X = xp.astype(X, coef.dtype)
    scores = X @ xp.matrix_transpose(coef) + estimator.intercept_
    return scores[:, 0] if scores.shape[1] == 1 else scores


def proba_array_api(estimator, X, method: str, log: bool):
    """Class probabilities (or their logs) in X's namespace, finite in log space."""
    array_api_compat = compat()

    scores = scores_array_api(estimator, X, method)
    xp = array_api_compat.array_namespace(scores)
    if scores.ndim == 1:
        scores = xp.stack([-scores, scores], axis=1) / 2.0  # softmax of +-z/2 is sigma(+-z)
    top = xp.max(scores, axis=1, keepdims=True)
    log_norm = top + xp.log(xp.sum(xp.exp(scores - top), axis=1, keepdims=True))
    log_proba = scores - log_norm
    return log_proba if log else xp.exp(log_proba)


def predict_array_api(estimator, X):
    """Most probable class of each row, as an array of X's namespace."""
    array_api_compat = compat()

    scores = scores_array_api(estimator, X, "predict")
    xp = array_api_compat.array_namespace(scores)
    codes = xp.astype(scores > 0, xp.int64) if scores.ndim == 1 else xp.argmax(scores, axis=1)
    classes = estimator.classes_
    if classes.dtype.kind not in "biuf":  # labels that only NumPy holds
        return classes[to_numpy(codes)]
    device = array_api_compat.device(scores)
    return xp.take(xp.asarray(classes, device=device), codes, axis=0)


__all__ = [
    "check_same_namespace",
    "fit_array_api",
    "fitted_on_array_api",
    "host_model",
    "predict_array_api",
    "proba_array_api",
    "refuse_array_api",
    "scores_array_api",
]
