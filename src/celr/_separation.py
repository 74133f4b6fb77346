"""Detecting when the unpenalised optimum lies at infinity."""

from __future__ import annotations

import numpy as np


class SeparationWarning(UserWarning):
    """The classes are linearly separable, so without a penalty no finite optimum exists.

    Any hyperplane that separates the training data can be scaled up to lower the
    cross-entropy further, forever; the fitted coefficients are then a point on the way to
    infinity, chosen by the solver's tolerance. A finite ``C`` gives a unique finite model.
    """


def separates(scores: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> bool:
    """Whether the linear model with these scores classifies every weighted row strictly.

    If it does, the model is itself a separating hyperplane, which proves the
    unpenalised cross-entropy has infimum 0 and no minimiser.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        Scores of the fitted model on its training rows.
    y : ndarray of shape (n_samples,)
        Class codes.
    sample_weight : ndarray of shape (n_samples,)
        Rows with zero weight do not count.

    Examples
    --------
    >>> import numpy as np
    >>> separates(np.array([-2.0, 3.0]), np.array([0, 1]), np.ones(2))
    True
    >>> separates(np.array([-2.0, -3.0]), np.array([0, 1]), np.ones(2))
    False
    """
    counted = sample_weight > 0
    if scores.ndim == 1:
        margins = np.where(y == 1, scores, -scores)
    else:
        rows = np.arange(len(y))
        own = scores[rows, y]
        rivals = scores.copy()
        rivals[rows, y] = -np.inf
        margins = own - rivals.max(axis=1)
    return bool(np.all(margins[counted] > 0))
