"""Fitting and predicting on Dask arrays and DataFrames, on whatever Dask scheduler is active.

The rows stay where they are, partitioned on the workers (persisted once); only
coefficient-sized vectors travel. :class:`~celr._dask._objective.DaskObjective` has the
methods of :class:`~celr._objective.LogisticObjective`: each evaluation maps the in-memory
objective over the row chunks on the workers and adds the results up in a tree, so the
full-batch solvers run unchanged on the client and reach the in-memory optimum.

This module never imports dask itself: :func:`is_dask_collection` answers False unless
dask is already imported (a Dask collection cannot exist otherwise), and the modules that
do import it are loaded only when a Dask collection is met.
"""

from __future__ import annotations

import sys


def is_dask_collection(obj) -> bool:
    """Whether ``obj`` is a Dask collection, without importing dask.

    Examples
    --------
    >>> import numpy as np
    >>> is_dask_collection(np.zeros(3))
    False
    """
    if "dask" not in sys.modules:
        return False
    import dask

    return dask.is_dask_collection(obj)


def dask_training(X, y, sample_weight, *, class_weight, fit_intercept: bool):
    """The objective of ``fit(X, y, sample_weight)`` on Dask collections, and the classes
    and feature names the estimator records (:class:`celr._dask._data.DaskTraining`).

    Validates the input with Dask reductions and returns a
    :class:`~celr._dask._objective.DaskObjective` on the persisted rows.
    """
    from celr._dask._data import training_objective

    return training_objective(
        X, y, sample_weight, class_weight=class_weight, fit_intercept=fit_intercept
    )


def partitions(X, y, sample_weight=None):
    """``(X, y, sample_weight)`` partition by partition, each fetched to memory in turn:
    Dask DataFrames by their partitions, arrays by X's row chunks (``y`` and
    ``sample_weight`` rechunked to match)."""
    import dask

    if hasattr(X, "npartitions"):
        parts = [X.partitions[i] for i in range(X.npartitions)]
        ys = [y.partitions[i] for i in range(X.npartitions)]
        weights = [None if sample_weight is None else sample_weight.partitions[i]
                   for i in range(X.npartitions)]  # fmt: skip
    else:
        rows = X.chunks[0]
        y = y.rechunk((rows,))
        parts = [X.blocks[i] for i in range(len(rows))]
        ys = [y.blocks[i] for i in range(len(rows))]
        if sample_weight is not None:
            sample_weight = sample_weight.rechunk((rows,))
        weights = [None if sample_weight is None else sample_weight.blocks[i]
                   for i in range(len(rows))]  # fmt: skip
    for part, labels, weight in zip(parts, ys, weights, strict=True):
        yield dask.compute(part, labels, weight)


def predict_dask(estimator, X, method: str):
    """``estimator.<method>(X)`` on a Dask collection: a lazy Dask array, chunk by chunk."""
    from celr._dask._predict import predict_blocks

    return predict_blocks(estimator, X, method)
