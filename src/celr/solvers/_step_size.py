"""The automatic first step of SGD: the inverse of a mini-batch curvature bound."""

from __future__ import annotations

import numpy as np

from celr._penalty import ElasticNetPenalty
from celr.solvers._coordinates import StandardizedCoordinates
from celr.solvers._protocol import Objective


def expected_smoothness(
    sample: Objective,
    coords: StandardizedCoordinates,
    penalty: ElasticNetPenalty,
    batch_size: int,
    n_total: float,
) -> float:
    """Bound ``L(B)`` on the curvature seen by a size-``B`` mini-batch step, in ``coords``.

    The cross-entropy's Hessian is at most ``c xa xa^T`` per row (``xa`` the standardised
    row with a 1 for the intercept; ``c = 1/4`` for the sigmoid, ``1/2`` for softmax).
    With ``L`` the bound for the whole data (largest eigenvalue of the weighted mean of
    ``c xa xa^T``, by power iteration) and ``L_max`` the largest single row's, sampling
    ``B`` of ``n`` rows without replacement gives (Gower et al. 2019, Prop. 3.8)::

        L(B) = n (B - 1) / (B (n - 1)) L + (n - B) / (B (n - 1)) L_max

    both plus the penalty's curvature. The data's part is the objective's
    :meth:`~celr.solvers._protocol.Objective.expected_smoothness`
    (:func:`celr._curvature.mini_batch_smoothness`).

    Examples
    --------
    >>> import numpy as np
    >>> from celr._objective import LogisticObjective
    >>> from celr._penalty import ElasticNetPenalty
    >>> sample = LogisticObjective(np.array([[3.0, 2.0]]), np.array([1]), np.ones(1), 2, True)
    >>> free = ElasticNetPenalty(0.0, 0.0, np.array([True, True, False]))
    >>> identity = StandardizedCoordinates.identity(sample)
    >>> expected_smoothness(sample, identity, free, 1, 1)  # (9 + 4 + 1) / 4
    3.5
    """
    data = sample.expected_smoothness(coords.center, coords.scale, batch_size, n_total)
    if not penalty.l2_strength:
        return data
    return data + float(np.max(penalty.l2_strength * (1.0 / coords.scale) ** 2, initial=0.0))
