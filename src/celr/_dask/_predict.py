"""Predictions on Dask collections: lazy Dask arrays, one task per chunk of X.

Each chunk is handed to the estimator's own in-memory method on the worker, so the
results are those of in-memory prediction, chunk by chunk. Only what prediction needs
travels with the tasks (coefficients, classes, feature names), not the statistics a fit
may keep for inference.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

# The fitted attributes a prediction reads.
_PREDICTION_ATTRIBUTES = ("coef_", "intercept_", "classes_", "n_features_in_", "feature_names_in_")


def predict_blocks(estimator, X, method: str) -> da.Array:
    """``estimator.<method>`` of every chunk of ``X``: a Dask array with X's row chunks.

    A Dask DataFrame's partitions are predicted as pandas DataFrames, so feature names
    are checked as in memory; its row chunks are then of unknown size, as the
    partitions' are.
    """
    check_is_fitted(estimator)
    predictor = clone(estimator)
    for name in _PREDICTION_ATTRIBUTES:
        if hasattr(estimator, name):
            setattr(predictor, name, getattr(estimator, name))
    columns = None
    if hasattr(X, "to_dask_array"):
        if getattr(X, "ndim", 2) != 2:
            raise ValueError("X must be 2-D (a Dask DataFrame or 2-D Array), got a Series.")
        columns = X.columns
        X = X.to_dask_array()  # lazy: row chunks of unknown size, like the partitions
    if not isinstance(X, da.Array) or X.ndim != 2:
        raise ValueError(f"X must be a 2-D Dask Array or a Dask DataFrame, got {type(X)}.")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})  # a prediction needs whole rows
    # One row of zeros through the in-memory method: the output's dtype and width, and
    # an error now (not at compute time) for a wrong number of features or names.
    sample = _predict_chunk(np.zeros((1, X.shape[1]), X.dtype), predictor, method, columns)
    if sample.ndim == 1:
        chunks, drop_axis = (X.chunks[0],), 1
    else:
        chunks, drop_axis = (X.chunks[0], (sample.shape[1],)), None
    return X.map_blocks(
        _predict_chunk,
        predictor,
        method,
        columns,
        chunks=chunks,
        drop_axis=drop_axis,
        dtype=sample.dtype,
        meta=np.empty((0,) * sample.ndim, dtype=sample.dtype),
    )


def _predict_chunk(chunk: np.ndarray, predictor, method: str, columns) -> np.ndarray:
    if columns is not None:
        chunk = pd.DataFrame(chunk, columns=columns, copy=False)
    return getattr(predictor, method)(chunk)
