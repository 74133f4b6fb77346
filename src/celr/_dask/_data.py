"""Dask input to ``fit``: validated with Dask reductions, persisted once, never collected.

What the in-memory ``fit`` does with ``validate_data`` and ``encode_targets`` is done
here where the rows are: shapes and lengths from the chunk sizes, NaN and infinity, the
classes (``da.unique``), negative weights and the weighted class totals (``da.bincount``)
are Dask reductions, and only their small results reach the client. The class weights,
'balanced' included, follow from the class totals through :func:`celr._inputs.row_weights`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _get_feature_names

from celr._dask._objective import DaskObjective
from celr._inputs import row_weights


@dataclass(frozen=True)
class DaskTraining:
    """What ``fit`` learns of Dask input: the objective, and what the estimator records
    as ``validate_data`` and :func:`celr._inputs.encode_targets` would in memory."""

    objective: DaskObjective
    classes: np.ndarray
    feature_names: np.ndarray | None


def training_objective(X, y, sample_weight, *, class_weight, fit_intercept: bool) -> DaskTraining:
    """The objective of ``fit(X, y, sample_weight)`` on Dask collections, validated."""
    names = _feature_names(X)
    # Persisted as given first, so that reading files or generating data happens once;
    # the conversions below then work on what the workers hold.
    X, y, sample_weight = dask.persist(X, y, sample_weight)
    X = _feature_array(X)
    y = _row_array(y, X, "y")
    weight = None if sample_weight is None else _row_array(sample_weight, X, "sample_weight")
    X, y, weight = dask.persist(X, y, None if weight is None else weight.astype(np.float64))
    _check_values(X, weight)
    classes = _classes(y)
    codes = da.map_blocks(np.searchsorted, classes, y, dtype=np.intp)
    totals = _class_totals(codes, weight, len(classes))
    # The class totals are the rows of a K-row problem: its row weights (sample_weight
    # times class_weight, validated as in memory) are the weighted totals.
    weighted = row_weights(totals, class_weight, classes, classes, np.arange(len(classes)))
    if np.count_nonzero(weighted > 0) < 2:
        raise ValueError(
            "Only one class has positive sample_weight (times class_weight); a "
            "classifier needs samples of at least two classes with positive weight."
        )
    weight_sum = float(weighted.sum())
    # Each row's s_i / S: its sample weight times its class's weight, over the total.
    factor = np.divide(weighted, totals * weight_sum, out=np.zeros_like(totals), where=totals > 0)
    normalized = da.map_blocks(_row_weight, codes, weight, factor, dtype=np.float64)
    codes, normalized = dask.persist(codes, normalized)
    objective = DaskObjective(
        X, codes, normalized, len(classes), fit_intercept, weight_sum=weight_sum,
        class_share=weighted / weight_sum,
    )  # fmt: skip
    return DaskTraining(objective, classes, names)


def _feature_names(X):
    """Column names of a Dask DataFrame (as ``validate_data`` takes them), else None."""
    if getattr(X, "ndim", None) != 2 or not hasattr(X, "columns"):
        return None
    # Its empty pandas meta frame has the same columns, in a type scikit-learn reads.
    return _get_feature_names(X._meta)


def _feature_array(X) -> da.Array:
    """X as a float Dask array with known row chunks and one chunk across the columns."""
    if hasattr(X, "to_dask_array"):
        if getattr(X, "ndim", 2) != 2:
            raise ValueError("X must be 2-D (a Dask DataFrame or 2-D Array), got a Series.")
        X = X.to_dask_array(lengths=True)  # cheap on persisted partitions
    if not isinstance(X, da.Array):
        raise ValueError(
            f"X must be a Dask Array or DataFrame, got {type(X).__name__}; compute it or "
            "convert it with dask.array.from_delayed."
        )
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got a Dask array of shape {X.shape}.")
    if not isinstance(X._meta, np.ndarray):
        raise ValueError(
            f"X's chunks must be numpy arrays, got {type(X._meta).__name__} chunks; "
            "convert them with X.map_blocks(np.asarray)."
        )
    if np.isnan(X.shape[0]):
        X = X.compute_chunk_sizes()  # cheap on persisted chunks
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X has shape {X.shape}: at least one row and one feature needed.")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X must hold numbers, got dtype {X.dtype}.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if len(X.chunks[1]) > 1:
        # Each objective evaluation needs whole rows: features split across chunks are
        # joined, and the row chunks resized so that a chunk keeps Dask's usual size.
        X = X.rechunk({0: "auto", 1: -1})
    return X


def _row_array(values, X: da.Array, name: str) -> da.Array:
    """``y`` or ``sample_weight`` as a 1-D Dask array chunked like X's rows."""
    n = X.shape[0]
    if hasattr(values, "to_dask_array"):
        if getattr(values, "ndim", 1) == 2 and len(values.columns) == 1:
            values = values[values.columns[0]]
        if name == "sample_weight" and not isinstance(values.dtype, np.dtype):
            values = values.astype(np.float64)  # a nullable float or integer dtype
        with warnings.catch_warnings():
            # Labels of a pandas extension dtype (strings) become objects, as they should.
            warnings.filterwarnings("ignore", "Dask currently has limited support", UserWarning)
            values = values.to_dask_array(lengths=True)
    elif not isinstance(values, da.Array):
        values = np.asarray(values)
        if values.ndim == 0 and name == "sample_weight":
            values = np.full(n, float(values))
        values = da.from_array(values, chunks=(X.chunks[0], *values.shape[1:]))
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got a Dask array of shape {values.shape}.")
    if np.isnan(values.shape[0]):
        values = values.compute_chunk_sizes()
    if values.shape[0] != n:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: X has {n} rows, "
            f"{name} has {values.shape[0]}."
        )
    return values.rechunk((X.chunks[0],))


def _check_values(X: da.Array, weight: da.Array | None) -> None:
    """NaN and infinity in X, bad sample weights: one pass of Dask reductions (a second one
    only to tell NaN from infinity in an X that has either)."""
    checks = {"X": ~da.isfinite(X).all()}
    if weight is not None:
        checks["weight"] = ~da.isfinite(weight).all()
        checks["negative"] = (weight < 0).any()
    (found,) = dask.compute(checks)
    where = "(found by a Dask reduction over the rows)"
    if found["X"]:
        problem = "NaN" if da.isnan(X).any().compute() else "infinity"
        raise ValueError(f"Input X contains {problem} {where}.")
    if found.get("weight"):
        raise ValueError(f"Input sample_weight contains NaN or infinity {where}.")
    if found.get("negative"):
        raise ValueError(f"Negative values in data passed to `sample_weight` {where}.")


def _classes(y: da.Array) -> np.ndarray:
    """The sorted class labels, by ``da.unique``; one class is an error, as in memory."""
    classes = da.unique(y).compute()
    check_classification_targets(classes)
    if len(classes) < 2:
        raise ValueError(
            f"y contains only one class ({classes[0]}); a classifier needs samples of at "
            "least two classes."
        )
    return classes


def _class_totals(codes: da.Array, weight: da.Array | None, n_classes: int) -> np.ndarray:
    """Sum of the sample weights (or the count) of each class, by ``da.bincount``."""
    totals = da.bincount(codes, weights=weight, minlength=n_classes)
    return np.asarray(totals.compute(), dtype=np.float64)


def _row_weight(codes: np.ndarray, weight: np.ndarray | None, factor: np.ndarray) -> np.ndarray:
    scaled = factor[codes]
    return scaled if weight is None else scaled * weight
