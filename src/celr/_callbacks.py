"""scikit-learn's callback API (``sklearn.callback``, scikit-learn >= 1.9) for every solver.

A fit is one task of scikit-learn's callback context, with one sub-task per solver
iteration (``'<solver>-iter'``, ``'sgd-epoch'``), as ``LogisticRegression``'s L-BFGS:

- :func:`fit_task`, the first statement of ``fit``, opens the fit's root context (merged
  into a meta-estimator's task tree inside a ``Pipeline`` or ``GridSearchCV``) and calls
  ``on_fit_task_begin``; its ``end`` calls ``on_fit_task_end`` with the fitted model.
  scikit-learn's ``_fit_context`` tears the callbacks down. :func:`reports_to_callbacks`
  marks such a ``fit``.
- :class:`IterationTasks` is fed by :class:`celr._progress.FitMonitor`, the one callback
  every solver reports each iteration to: the sub-task of iteration ``k`` begins when
  iteration ``k - 1`` ends and ends when the solver reports ``k``. Its
  ``reconstruction_attributes`` (evaluated only if a hook asks for ``fitted_estimator``)
  make the model as if the fit had stopped there: ``coef_``, ``intercept_``, ``n_iter_``
  (``k``), ``stop_crit_`` and ``loss_curve_`` (the objective after each iteration; its
  first entry the start's, computed only then). As in scikit-learn, one
  last sub-task, begun after the last iteration, ends empty: the fit has
  ``n_iter_ + 1`` sub-tasks, numbered (``task_id``) from 0.

The hooks get the training data as given to ``fit`` (``X``, ``y``) and
``metadata={'sample_weight': ...}`` when weights are given, so ``ScoringMonitor`` scores
each iteration's model on them. Without ``sklearn.callback`` (scikit-learn < 1.9) nothing
changes: ``set_callbacks`` does not exist, as on every estimator of those versions.
"""

from __future__ import annotations

import copy
import functools
import weakref

import numpy as np
from sklearn.utils.metaestimators import available_if

from celr.solvers._base import IterationInfo

try:
    from sklearn.callback import CallbackSupportMixin as _SklearnCallbackSupport
except ImportError:  # scikit-learn < 1.9
    _SklearnCallbackSupport = None

HAS_SKLEARN_CALLBACKS = _SklearnCallbackSupport is not None

# (X, y, metadata) of each running fit, by its root context (dropped with the context).
_FIT_DATA: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

_FITTED_MARK = "_celr_reports_to_callbacks"


def _fit_reports_to_callbacks(estimator) -> bool:
    """Whether the class's ``fit`` is marked by :func:`reports_to_callbacks`."""
    return getattr(type(estimator).fit, _FITTED_MARK, False)


if HAS_SKLEARN_CALLBACKS:

    class CallbackSupportMixin(_SklearnCallbackSupport):
        """scikit-learn's ``CallbackSupportMixin``, where ``fit`` reports to callbacks.

        ``set_callbacks`` exists only on classes whose ``fit`` is marked by
        :func:`reports_to_callbacks`: a subclass with a ``fit`` of its own (the CV
        estimator) has none, so a meta-estimator warns that it does not support
        callbacks instead of the callbacks being ignored silently.
        """

        set_callbacks = available_if(_fit_reports_to_callbacks)(
            _SklearnCallbackSupport.set_callbacks
        )

else:

    class CallbackSupportMixin:
        """Nothing on scikit-learn < 1.9, which has no ``sklearn.callback``."""


def reports_to_callbacks(fit):
    """Mark ``fit`` as one that reports to callbacks (it calls :func:`fit_task`).

    Only marked: a wrapper would add a frame between the caller and ``fit``'s warnings.
    ``set_callbacks`` exists on the classes whose ``fit`` is marked.

    Parameters
    ----------
    fit : callable
        The estimator's ``fit``.

    Returns
    -------
    fit : callable
        ``fit`` itself.
    """
    setattr(fit, _FITTED_MARK, True)
    return fit


def fit_task(estimator, X, y, sample_weight=None) -> FitTask:
    """Open the root callback task of a fit: the first statement of ``fit``.

    Parameters
    ----------
    estimator : CrossEntropyLogisticRegression
        The estimator being fitted.
    X, y, sample_weight
        ``fit``'s arguments, passed to the hooks (``sample_weight`` as ``metadata``).

    Returns
    -------
    task : FitTask
        Its ``end(estimator)`` ends the task with the fitted model and returns it. Without
        ``sklearn.callback``, one that does nothing.
    """
    if not HAS_SKLEARN_CALLBACKS:
        return FitTask(None, None)
    # With lbfgs's convention: one sub-task per iteration, and one that ends empty.
    context = estimator._init_callback_context(max_subtasks=max(estimator.max_iter, 1) + 1)
    metadata = None if sample_weight is None else {"sample_weight": sample_weight}
    context.call_on_fit_task_begin(estimator=estimator, X=X, y=y, metadata=metadata)
    # Kept as long as the context: scikit-learn's _fit_context drops it after fit.
    _FIT_DATA[context] = (X, y, metadata)
    return FitTask(estimator, context)


class FitTask:
    """The root callback task of one fit (see :func:`fit_task`).

    Parameters
    ----------
    estimator : estimator instance or None
        The estimator being fitted; None without callbacks.
    context : sklearn.callback.CallbackContext or None
        Its root context.
    """

    def __init__(self, estimator, context) -> None:
        self._estimator, self._context = estimator, context

    def end(self, fitted):
        """Call ``on_fit_task_end`` with the fitted model; return ``fitted``.

        Parameters
        ----------
        fitted : estimator instance
            What ``fit`` returns.

        Returns
        -------
        fitted : estimator instance
            The same.
        """
        if self._context is not None:
            X, y, metadata = _FIT_DATA.pop(self._context, (None, None, None))
            self._context.call_on_fit_task_end(
                estimator=self._estimator, X=X, y=y, metadata=metadata,
                reconstruction_attributes={},
            )  # fmt: skip
        return fitted


def iteration_tasks(estimator, objective, penalty, offsets, coef0, task_name: str):
    """The per-iteration bridge of the fit running now, or None without callbacks.

    Parameters
    ----------
    estimator : CrossEntropyLogisticRegression
        The estimator being fitted (its ``fit`` opened a :func:`fit_task`).
    objective : LogisticObjective
        The objective the solver minimises (its coefficients' layout and precision).
    penalty : ElasticNetPenalty
        The penalty (whether softmax weights are reported centred, as ``fit`` does).
    offsets : ColumnOffsets or None
        The column offsets of a centred fit, undone for the reported models.
    coef0 : ndarray
        The solver's starting point: the model of the first sub-task's beginning.
    task_name : str
        Name of each iteration's sub-task, e.g. ``'newton-iter'``.

    Returns
    -------
    tasks : IterationTasks or None
        None when no callback is set, or outside a ``fit`` that opened a task.
    """
    context = getattr(estimator, "_callback_fit_ctx", None)
    data = None if context is None else _FIT_DATA.get(context)
    if data is None or not getattr(estimator, "_skl_callbacks", None):
        return None
    coef0 = np.array(coef0, dtype=np.float64)
    # The objective at the start: one more pass over the data, made only if a hook asks
    # for a model (it is each model's loss_curve_[0]).
    start_value = _Lazy(lambda: float(objective.value(coef0) + penalty.value(coef0)))
    snapshot = functools.partial(
        _intermediate_model, estimator, objective, penalty, offsets, start_value
    )
    start = _Lazy(snapshot, coef0, 0, np.nan, [])
    return IterationTasks(estimator, context, data, snapshot, task_name, start)


class IterationTasks:
    """One callback sub-task per solver iteration, as scikit-learn's L-BFGS bridge.

    Parameters
    ----------
    estimator : estimator instance
        The estimator calling the hooks.
    context : sklearn.callback.CallbackContext
        The fit's root context.
    data : tuple
        ``(X, y, metadata)`` passed to every hook.
    snapshot : callable
        ``snapshot(coef, n_iter, stop_crit, values)``: the reconstruction attributes of
        the model after ``n_iter`` iterations.
    task_name : str
        Name of each sub-task.
    start : callable
        The reconstruction attributes of the starting point.
    """

    def __init__(self, estimator, context, data, snapshot, task_name: str, start) -> None:
        self._estimator, self._context = estimator, context
        self._X, self._y, self._metadata = data
        self._snapshot, self._task_name = snapshot, task_name
        self._values: list[float] = []
        self._task = None
        self._begin(start)

    def __call__(self, info: IterationInfo) -> None:
        """End the sub-task of iteration ``info.n_iter`` and begin the next one."""
        self._values.append(float(info.objective))
        attributes = _Lazy(
            self._snapshot, info.coef, info.n_iter, info.stop_crit, list(self._values)
        )
        task, self._task = self._task, None
        if task is not None:
            self._hooks(task.call_on_fit_task_end, attributes)
        self._begin(attributes)

    def close(self) -> None:
        """End the last sub-task, which no iteration filled, without data."""
        task, self._task = self._task, None
        if task is not None:
            task.call_on_fit_task_end(estimator=self._estimator)

    def _begin(self, attributes) -> None:
        # A solver never reports more than max_iter iterations; should one, its extra
        # iterations are not reported rather than the fit failing on a full context.
        if len(self._context._children_map) >= self._context.max_subtasks:
            return
        self._task = self._context.subcontext(task_name=self._task_name)
        self._hooks(self._task.call_on_fit_task_begin, attributes)

    def _hooks(self, call, attributes) -> None:
        call(
            estimator=self._estimator, X=self._X, y=self._y, metadata=self._metadata,
            reconstruction_attributes=attributes,
        )  # fmt: skip


class _Lazy:
    """A callable computing ``function(*args)`` once, when first called."""

    def __init__(self, function, *args) -> None:
        self._function, self._args, self._result = function, args, None

    def __call__(self):
        if self._result is None:
            self._result = self._function(*self._args)
        return self._result


def _intermediate_model(
    estimator, objective, penalty, offsets, start_value, coef, n_iter, stop_crit, values
):
    """The fitted attributes of the model as if the fit had stopped after ``n_iter``.

    ``coef`` is the solver's flat vector, converted by the estimator's own
    ``_set_coefficients`` (on a copy: the estimator being fitted is left as it is).
    """
    scratch = copy.copy(estimator)
    dtype = np.float32 if objective.precision == np.finfo(np.float32).eps else np.float64
    scratch._set_coefficients(objective, coef, dtype, penalty.is_smooth, offsets)
    return {
        "coef_": scratch.coef_,
        "intercept_": scratch.intercept_,
        "_centered_model": scratch._centered_model,
        "n_iter_": int(n_iter),
        "stop_crit_": float(stop_crit),
        "loss_curve_": np.array([start_value(), *values]),
        "validation_loss_curve_": None,
        "_optimizer_state": None,
        "_likelihood": None,
        "_information": None,
    }
