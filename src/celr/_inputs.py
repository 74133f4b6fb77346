"""Labels and row weights: the one way ``(y, sample_weight, class_weight)`` becomes the
class codes and the weights ``s_i`` of the objective.

``fit``, ``partial_fit``, inference on given data, :func:`celr.l1_min_c` and the Dask
path all call :func:`encode_targets`, so a label, a weight or a class weight means the
same thing everywhere, and is refused with the same message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight

#: The dtypes X is fitted and predicted in (float32 stays float32).
FLOAT_DTYPES = (np.float64, np.float32)


@dataclass(frozen=True)
class Targets:
    """What the objective needs of the labels.

    Attributes
    ----------
    classes : ndarray of shape (n_classes,)
        Sorted labels: ``classes_``.
    codes : ndarray of shape (n_rows,)
        Each row's index into ``classes``.
    weights : ndarray of shape (n_rows,)
        ``s_i``: the row's sample weight times its class's weight (a new array).
    """

    classes: np.ndarray
    codes: np.ndarray
    weights: np.ndarray


def encode_targets(
    y: ArrayLike,
    sample_weight: ArrayLike | None,
    class_weight,
    *,
    classes: np.ndarray | None = None,
    known_as: str = "seen in fit",
    need_two_weighted_classes: bool = True,
) -> Targets:
    """Class codes and row weights of ``y``; ``classes`` from ``y`` unless given.

    Parameters
    ----------
    y : array-like of shape (n_rows,)
        Labels (validated by ``validate_data`` already).
    sample_weight : array-like of shape (n_rows,) or None
        Non-negative, finite; None for ones.
    class_weight : dict, 'balanced' or None
        As the estimator's parameter.
    classes : ndarray, optional
        The labels of a model already fitted (``partial_fit``, inference on new data);
        a label outside them is an error. By default the labels of ``y``, at least two.
    known_as : str
        How that error names ``classes`` (``"seen in fit"``).
    need_two_weighted_classes : bool
        Whether rows of at least two classes must have positive weight (``fit``; not a
        chunk of ``partial_fit``, nor data a model is scored on).

    Examples
    --------
    >>> targets = encode_targets(["b", "a", "b"], [1.0, 2.0, 1.0], {"a": 1.0, "b": 3.0})
    >>> targets.classes.tolist(), targets.codes.tolist(), targets.weights.tolist()
    (['a', 'b'], [1, 0, 1], [3.0, 2.0, 3.0])
    """
    y = np.asarray(y)
    counted = _integer_label_codes(y) if classes is None else None
    # Integer labels are binary or multiclass by construction: scikit-learn's check could
    # only warn, when more than half the rows have a class of their own (then it runs).
    if counted is None or len(counted[0]) > round(0.5 * len(y)):
        check_classification_targets(y)
    if classes is None:
        classes, codes = counted or np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"y contains only one class ({classes[0]}); a classifier needs samples of "
                "at least two classes."
            )
    else:
        unknown = ~np.isin(y, classes)
        if unknown.any():
            raise ValueError(f"y contains labels not {known_as}: {np.unique(y[unknown])}.")
        codes = np.searchsorted(classes, y)
    weights = row_weights(sample_weight, class_weight, classes, y, codes)
    if need_two_weighted_classes:
        _check_weighted(weights, codes)
    return Targets(classes, codes, weights)


def _integer_label_codes(y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``np.unique(y, return_inverse=True)`` by counting, for 1-D integer labels spanning
    fewer values than there are rows (else None): 500,000 labels of two classes, 6 ms
    against 19 ms for numpy's sort-based unique and 14 ms more for scikit-learn's target
    check, together 5% of a Newton fit of 500,000 x 100 in float32."""
    if y.ndim != 1 or y.dtype.kind not in "iu" or len(y) == 0:
        return None
    low, high = int(y.min()), int(y.max())
    limits = np.iinfo(np.intp)
    if high - low >= len(y) or low < limits.min or high > limits.max:
        return None
    shifted = y.astype(np.intp)
    shifted -= low
    present = np.bincount(shifted) > 0
    classes = (np.flatnonzero(present) + low).astype(y.dtype)
    return classes, (np.cumsum(present) - 1)[shifted]


def row_weights(sample_weight, class_weight, classes, y, codes) -> np.ndarray:
    """``s_i``: ``sample_weight`` (validated, copied) times the class weight of ``y_i``.

    The rows may stand for more than rows: the Dask path passes each class's total
    weight as one row of a ``K``-row problem, whose ``s_i`` are then the weighted totals.
    """
    # scikit-learn's validation takes the row count from an X: a shape is all it reads.
    weights = _check_sample_weight(
        sample_weight, np.empty((len(codes), 0)), dtype=np.float64,
        ensure_non_negative=True, copy=True,
    )  # fmt: skip
    if class_weight is not None:
        per_class = class_weights(class_weight, classes, y, codes, weights)
        if not np.all(np.isfinite(per_class)) or np.any(per_class < 0):
            raise ValueError(
                "class_weight must give every class a finite, non-negative weight; "
                f"got {dict(zip(classes.tolist(), per_class.tolist(), strict=True))}."
            )
        with np.errstate(over="ignore"):  # an overflow is reported by _check_weighted
            weights *= per_class[codes]
    return weights


def class_weights(class_weight, classes, y, codes, sample_weight) -> np.ndarray:
    """Per-class weights; 'balanced' as scikit-learn >= 1.7 does, with sample weights.

    ``'balanced'`` gives class k the weight ``sum(s) / (K * sum_{y_i = k} s_i)``, so every
    class carries the same total weight; a class whose rows all weigh 0 gets 0 (its
    rows do not count either way) instead of scikit-learn's division by zero.
    """
    if isinstance(class_weight, str):  # 'balanced', the only string allowed
        totals = np.bincount(codes, weights=sample_weight, minlength=len(classes))
        share = totals.sum() / len(classes)
        return np.divide(share, totals, out=np.zeros(len(classes)), where=totals > 0)
    return compute_class_weight(class_weight, classes=classes, y=y)


def _check_weighted(weights: np.ndarray, codes: np.ndarray) -> None:
    with np.errstate(over="ignore"):
        total = np.sum(weights)
    if not np.isfinite(total):
        raise ValueError(
            "sample_weight (times class_weight) sums to more than the largest float64 "
            f"({np.finfo(np.float64).max:.3g}): divide the weights by a constant and "
            "multiply C by the same constant; the model is the same."
        )
    if np.count_nonzero(np.bincount(codes, weights=weights > 0)) < 2:
        raise ValueError(
            "Only one class has positive sample_weight (times class_weight); a "
            "classifier needs samples of at least two classes with positive weight."
        )
