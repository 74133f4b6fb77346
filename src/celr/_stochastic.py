"""What the estimator adds around the stochastic solver: held-out rows and streaming.

``fit`` with ``solver='sgd'`` and ``early_stopping=True`` holds out a stratified share of
the rows (:func:`validation_split`). ``partial_fit`` feeds chunks to the same
:func:`celr.solvers.sgd.update` that ``fit`` loops over; :func:`stream_pass` keeps the
bookkeeping that makes a stream of chunks minimise the same objective as ``fit``:

- the mean row weight ``s_bar`` over the rows seen, so each chunk's gradient is scaled as
  one drawn from the whole data set;
- the penalty ``1/(C S)`` with ``S = s_bar * N``, where ``N`` is the number of rows of the
  data set (``n_samples_total``; by default the rows seen so far: the objective of the
  data seen, right for a single pass over a stream).
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedShuffleSplit

from celr._objective import CoefLayout, LogisticObjective
from celr._penalty import ElasticNetPenalty
from celr.solvers import sgd


def validation_split(
    y_codes: np.ndarray, weights: np.ndarray, fraction: float, random_state
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train / held-out row indices for early stopping.

    Raises a ``ValueError`` when a class has too few rows to appear on both sides, or the
    held-out rows all weigh 0.
    """
    splitter = StratifiedShuffleSplit(test_size=fraction, random_state=random_state)
    try:
        train, held_out = next(splitter.split(np.zeros((len(y_codes), 1)), y_codes))
    except ValueError as error:
        raise ValueError(
            f"early_stopping could not hold out validation_fraction={fraction} of the rows "
            f"with every class on both sides: {error}"
        ) from error
    if not np.any(weights[held_out] > 0):
        raise ValueError(
            "early_stopping: the held-out rows all have zero weight; use another "
            "random_state or validation_fraction."
        )
    return train, held_out


def stream_pass(
    state: sgd.SGDState | None,
    X,
    y_codes: np.ndarray,
    weights: np.ndarray,
    *,
    layout: CoefLayout,
    coef0: np.ndarray,
    C: float,
    n_samples_total: int | None,
    options: dict,
) -> tuple[sgd.SGDState, float, bool]:
    """One ``partial_fit`` call: set up the state on the first chunk, then one pass.

    Parameters
    ----------
    state : SGDState or None
        The state to continue, or None to start one at ``coef0`` from this chunk.
    X, y_codes, weights
        The chunk: data, class codes, row weights ``s_i``.
    layout : CoefLayout
    coef0 : ndarray
        Starting coefficients of a new state.
    C : float
        Inverse penalty strength.
    n_samples_total : int or None
        Rows in the whole data set the chunks come from; None keeps the state's (``fit``'s
        number of rows, or an earlier call's value), else the rows seen so far.
    options : dict
        ``learning_rate``, ``schedule``, ``batch_size``, ``average``, ``random_state``.

    Returns
    -------
    state, mean_objective, diverged
        ``mean_objective`` is the mean of the mini-batch objectives of the pass.
    """
    rows = (state.weight_rows if state is not None else 0) + len(y_codes)
    total = (state.weight_total if state is not None else 0.0) + float(weights.sum())
    if total <= 0:
        raise ValueError("partial_fit: every row seen so far has zero sample weight.")
    mean_weight = total / rows
    if n_samples_total is None and state is not None:
        n_samples_total = state.n_total
    penalty = ElasticNetPenalty.for_layout(layout, C, 0.0, mean_weight * (n_samples_total or rows))
    if state is None:
        sample = LogisticObjective(X, y_codes, weights, layout.n_classes, layout.fit_intercept)
        state = sgd.init_state(
            layout, penalty, coef0, sample=sample, n_total=n_samples_total or len(y_codes),
            **options,
        )  # fmt: skip
    state.n_total = n_samples_total
    state.penalty = penalty
    state.weight_rows, state.weight_total = rows, total
    mean_objective, ran_away = sgd.update(state, X, y_codes, weights / mean_weight)
    return state, mean_objective, ran_away
