"""What the estimator adds around the stochastic solver: held-out rows and streaming.

:class:`PartialFitMixin` gives ``CrossEntropyLogisticRegression`` its ``partial_fit``
(present only when ``solver`` is a stochastic solver).

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

import functools
import warnings
from types import MethodType

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import _check_partial_fit_first_call
from sklearn.utils.validation import validate_data

from celr._array_api_fit import refuse_array_api
from celr._dask import is_dask_collection
from celr._inputs import FLOAT_DTYPES, encode_targets
from celr._objective import CoefLayout, LogisticObjective
from celr._penalty import ElasticNetPenalty
from celr._threads import one_blas_thread
from celr.solvers import SOLVERS, SolverSpec, sgd


def validation_split(
    y_codes: np.ndarray, weights: np.ndarray, fraction: float, random_state
) -> np.ndarray:
    """Indices of the rows early stopping holds out (stratified); the rest train.

    Raises a ``ValueError`` when a class has too few rows to appear on both sides, or the
    held-out rows all weigh 0.
    """
    splitter = StratifiedShuffleSplit(test_size=fraction, random_state=random_state)
    try:
        _, held_out = next(splitter.split(np.zeros((len(y_codes), 1)), y_codes))
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
    return held_out


def stream_pass(
    spec: SolverSpec,
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
    spec : SolverSpec
        The stochastic solver (its ``init_state`` and ``update``).
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
        A new state resolves ``batch_size='auto'`` from ``n_samples_total``, else this
        chunk's rows (:func:`celr.solvers.sgd.auto_batch_size`); a continued state keeps
        its size.

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
        state = spec.init_state(
            layout, penalty, coef0, sample=sample, n_total=n_samples_total or len(y_codes),
            **options,
        )  # fmt: skip
    state.n_total = n_samples_total
    state.penalty = penalty
    state.weight_rows, state.weight_total = rows, total
    # Normalised by the running mean weight: the chunk's rows count s_i / s_bar.
    chunk = LogisticObjective(
        X, y_codes, weights, layout.n_classes, layout.fit_intercept,
        weight_sum=mean_weight * len(y_codes),
    )  # fmt: skip
    mean_objective, ran_away = spec.update(state, chunk)
    return state, mean_objective, ran_away


class _OnlyWhenStochastic:
    """A method that exists on an instance only while ``instance._stochastic()`` holds.

    Like scikit-learn's ``available_if``, so ``hasattr`` stays false for the other
    solvers, but the ``AttributeError`` is the host's own message (which says what
    ``solver`` is needed) rather than a generic "has no attribute", with the reason
    only in the chained cause.
    """

    def __init__(self, method):
        self.method = method
        functools.update_wrapper(self, method)

    def __get__(self, instance, owner=None):
        if instance is None:
            return self.method
        instance._stochastic()  # raises the AttributeError that explains why not
        return MethodType(self.method, instance)


class PartialFitMixin:
    """``partial_fit`` for an estimator whose ``solver`` may be stochastic.

    The host estimator provides ``_solver_options``, ``_set_coefficients`` and the
    parameters of :mod:`celr.solvers.sgd`.
    """

    def _stochastic(self) -> bool:
        spec = SOLVERS.get(self.solver)
        if spec is None or not spec.stochastic:
            raise AttributeError(
                f"partial_fit needs a stochastic solver such as solver='sgd' (got "
                f"solver={self.solver!r}): only SGD can continue from one chunk of data."
            )
        return True

    # Looked up on the instance, so a subclass can take partial_fit away.
    @_OnlyWhenStochastic
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        classes: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
        *,
        n_samples_total: int | None = None,
    ):
        """One pass of mini-batch SGD over ``(X, y)``, continuing from the current state.

        For data that does not fit in memory: call it on each chunk (e.g. of
        ``pandas.read_csv(..., chunksize=...)``), for as many passes over the chunks as
        wanted. Each call shuffles its rows and makes ``ceil(n / batch_size)`` steps of
        the update of :mod:`celr.solvers.sgd` (the textbook's SGD, section 5.6),
        continuing the learning-rate schedule and the iterate average. It continues a
        fit with ``solver='sgd'`` too. ``batch_size='auto'`` is sized on the first call,
        from ``n_samples_total`` (else that chunk's rows), and kept for later chunks.

        The objective is the one ``fit`` minimises on the whole data set, so repeated
        passes converge to ``fit``'s model (within SGD's noise, which the decaying step
        and the averaging shrink), provided the penalty ``1 / (C S)`` uses the whole data
        set's weight ``S``: pass ``n_samples_total`` when making several passes over a
        data set (without it, ``S`` is that of the rows seen so far, which is right for a
        single pass over a stream). Only available with ``solver='sgd'``.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask Array or DataFrame} of shape (n_samples, n_features)
            One chunk of rows; a Dask collection is a loop over its partitions (each
            fetched in turn, one call each, ``y`` and ``sample_weight`` partitioned
            alike), with ``n_samples_total`` its rows unless given.
        y : array-like of shape (n_samples,)
            Their labels, each among ``classes``.
        classes : array-like of shape (n_classes,), default=None
            All the labels of the problem: required on the first call (a chunk may hold
            only some of them), optional (and checked) later.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights.
        n_samples_total : int, default=None
            Rows in the whole data set the chunks come from (see above).

        Returns
        -------
        self : CrossEntropyLogisticRegression

        Examples
        --------
        The textbook's worked SGD step (section 5.6.3): from zero weights, the example
        ``x = [3, 2]``, ``y = 1`` and ``eta = 0.1`` give ``w = [0.15, 0.1]``, ``b = 0.05``.

        >>> import numpy as np
        >>> from celr import CrossEntropyLogisticRegression
        >>> clf = CrossEntropyLogisticRegression(
        ...     C=np.inf, solver="sgd", batch_size=1, learning_rate=0.1, schedule="constant"
        ... )
        >>> clf = clf.partial_fit([[3.0, 2.0]], [1], classes=[0, 1])
        >>> clf.coef_.round(3).tolist(), clf.intercept_.round(3).tolist()
        ([[0.15, 0.1]], [0.05])
        """
        refuse_array_api(self, X, "partial_fit")
        if is_dask_collection(X):
            return self._partial_fit_partitions(X, y, classes, sample_weight, n_samples_total)
        first_call = _check_partial_fit_first_call(self, classes)
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], dtype=FLOAT_DTYPES, reset=first_call
        )
        y_codes, weights = self._encode_chunk(X, y, sample_weight)
        layout = CoefLayout(len(self.classes_), X.shape[1], self.fit_intercept)
        state = None if first_call else getattr(self, "_optimizer_state", None)
        if state is not None and state.layout.n_params != layout.n_params:
            state = None
        if state is None:
            self.n_iter_, self.loss_curve_ = 0, np.empty(0)
        spec = SOLVERS[self.solver]  # stochastic: partial_fit exists only then
        options = self._solver_options(spec, check_random_state(self.random_state))
        options.pop("n_iter_no_change")
        # As in fit: one BLAS thread, and a hold shared with fits running beside.
        with one_blas_thread():
            state, mean_objective, ran_away = stream_pass(
                spec, state, X, y_codes, weights, layout=layout,
                coef0=self._stream_start(layout, first_call), C=self.C,
                n_samples_total=n_samples_total, options=options,
            )  # fmt: skip
        self._optimizer_state = state
        self._set_coefficients(layout, state.coef, X.dtype)
        self.solver_ = spec.name
        self.n_iter_ += 1
        self.loss_curve_ = np.append(self.loss_curve_, mean_objective)
        self.stop_crit_ = np.nan  # one chunk cannot measure the whole gradient
        self.validation_loss_curve_ = None
        # A chunk says nothing about the whole data's likelihood: inference needs X, y.
        self._likelihood = self._information = None
        if ran_away:
            self._warn_diverged()
        return self

    def _partial_fit_partitions(self, X, y, classes, sample_weight, n_samples_total):
        """``partial_fit`` on each partition of Dask collections in turn."""
        from celr._dask import partitions  # only with Dask input

        n_total = n_samples_total
        if n_total is None:  # a DataFrame's length is counted on the workers
            n_total = len(X) if hasattr(X, "npartitions") else int(X.shape[0])
        for index, (X_part, y_part, weight_part) in enumerate(partitions(X, y, sample_weight)):
            self.partial_fit(
                X_part, y_part, classes=classes if index == 0 else None,
                sample_weight=weight_part, n_samples_total=n_total,
            )  # fmt: skip
        return self

    def _encode_chunk(self, X, y, sample_weight) -> tuple[np.ndarray, np.ndarray]:
        """Class codes and row weights of one ``partial_fit`` chunk, against ``classes_``."""
        if len(self.classes_) < 2:
            raise ValueError(
                f"classes must hold at least two labels for a classifier; got {self.classes_}."
            )
        if isinstance(self.class_weight, str):
            raise ValueError(
                "class_weight='balanced' needs the class counts of the whole data set, which "
                "partial_fit does not see; pass a dict {class: weight} instead."
            )
        targets = encode_targets(
            y, sample_weight, self.class_weight, classes=self.classes_,
            known_as=f"in classes={self.classes_.tolist()}", need_two_weighted_classes=False,
        )  # fmt: skip
        return targets.codes, targets.weights

    def _stream_start(self, layout: CoefLayout, first_call: bool) -> np.ndarray:
        """Where a new optimiser state starts: the fitted coefficients, else zeros (the
        textbook's start: a chunk's class shares need not be the data set's)."""
        if not first_call and getattr(self, "coef_", np.empty(0)).shape == (
            layout.n_scores,
            layout.n_features,
        ):
            return layout.pack(self.coef_, self.intercept_)
        return np.zeros(layout.n_params)

    def _warn_diverged(self) -> None:
        warnings.warn(
            f"solver={self.solver_!r} diverged with learning_rate={self.learning_rate}: the "
            "objective ran away, so the weights from before that were kept. Use a smaller "
            "learning_rate, or learning_rate=None to let celr choose the step.",
            ConvergenceWarning,
            stacklevel=3,
        )
