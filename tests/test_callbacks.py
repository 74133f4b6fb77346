"""scikit-learn's callback API (sklearn.callback, scikit-learn >= 1.9) on every solver."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from celr import CrossEntropyLogisticRegression, CrossEntropyLogisticRegressionCV
from celr.solvers import SOLVERS
from tests.conftest import reference_objective

callback = pytest.importorskip("sklearn.callback")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

UNSUPPORTED = "does not support callbacks"


class Recorder:
    """A FitCallback recording every hook call; the model of each ended task."""

    def __init__(self):
        self.calls, self.ended = [], []

    def setup(self, estimator, context):
        self.calls.append(("setup", context.task_name))

    def teardown(self, estimator, context):
        self.calls.append(("teardown", context.task_name))

    def on_fit_task_begin(self, estimator, context):
        self.calls.append(("begin", context.task_name, context.task_id))

    def on_fit_task_end(self, estimator, context, *, X=None, y=None, fitted_estimator=None):
        self.calls.append(("end", context.task_name, context.task_id))
        self.ended.append((context, X, fitted_estimator))

    def iterations(self):
        """(task_id, model) of the iteration tasks, in order."""
        return [(ctx.task_id, model) for ctx, _, model in self.ended if ctx.task_name != "fit"]


class PropagatedRecorder(Recorder):
    """The same, propagated by meta-estimators to their sub-estimators."""

    max_propagation_depth = None


def shifted_problem(n_classes=2):
    """Columns with large means, so that fit centres them (the offsets are undone)."""
    X, y = make_classification(
        n_samples=200, n_features=5, n_informative=3, n_classes=n_classes, random_state=0
    )
    return X + np.array([100.0, -50.0, 0.0, 3.0, 1e3]), y


SOLVER_CASES = [(name, 0.0) for name in SOLVERS] + [
    (name, 0.5) for name, spec in SOLVERS.items() if spec.supports_l1
]


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(("solver", "l1_ratio"), SOLVER_CASES)
def test_every_iteration_is_a_task(solver, l1_ratio, n_classes):
    X, y = shifted_problem(n_classes)
    recorder = Recorder()
    assert isinstance(recorder, callback.FitCallback)
    clf = CrossEntropyLogisticRegression(
        C=0.5, l1_ratio=l1_ratio, solver=solver, max_iter=40, random_state=0
    ).set_callbacks(recorder)
    clf.fit(X, y)
    assert clf.n_iter_ >= 1
    iterations = recorder.iterations()
    # As LogisticRegression's lbfgs: task_ids from 0, one task per iteration and a last
    # one (begun after the last iteration) that ends empty.
    assert [task_id for task_id, _ in iterations] == list(range(clf.n_iter_ + 1))
    assert iterations[-1][1] is None
    models = [model for _, model in iterations[:-1]]
    assert [model.n_iter_ for model in models] == list(range(1, clf.n_iter_ + 1))
    assert [model.loss_curve_[-1] for model in models] == list(clf.loss_curve_[1:])
    # The start's objective, evaluated apart from the solver's: equal up to the rounding
    # of two sums over the rows (n eps |f|, n = 200 here).
    for model in models:
        assert model.loss_curve_[0] == pytest.approx(clf.loss_curve_[0], rel=1e-12)
    last = models[-1]
    np.testing.assert_array_equal(last.coef_, clf.coef_)
    np.testing.assert_array_equal(last.intercept_, clf.intercept_)
    fitted = reference_objective(X, y, clf.coef_, clf.intercept_, 0.5, l1_ratio=l1_ratio)
    assert last.loss_curve_[-1] == pytest.approx(fitted, rel=1e-9)
    # Each intermediate model is the model of its iterate (offsets undone).
    for model in models[:: max(1, len(models) // 5)]:
        value = reference_objective(X, y, model.coef_, model.intercept_, 0.5, l1_ratio=l1_ratio)
        assert model.loss_curve_[-1] == pytest.approx(value, rel=1e-9)
    assert recorder.calls[0] == ("setup", "fit")
    assert recorder.calls[1] == ("begin", "fit", 0)
    assert recorder.calls[-2] == ("end", "fit", 0)
    assert recorder.calls[-1] == ("teardown", "fit")
    assert recorder.ended[-1][2] is not clf  # a (shallow) copy of the fitted model


def test_same_task_tree_as_logistic_regression():
    def tree(n_iter):
        iterations = [
            (hook, "lbfgs-iter", k) for k in range(n_iter + 1) for hook in ("begin", "end")
        ]
        return [("setup", "fit"), ("begin", "fit", 0), *iterations, ("end", "fit", 0),
                ("teardown", "fit")]  # fmt: skip

    X, y = load_iris(return_X_y=True)
    ours, theirs = Recorder(), Recorder()
    clf = CrossEntropyLogisticRegression(solver="lbfgs").set_callbacks(ours).fit(X, y)
    lr = LogisticRegression(max_iter=1000).set_callbacks(theirs).fit(X, y)
    assert theirs.calls == tree(int(lr.n_iter_[0]))
    assert ours.calls == tree(clf.n_iter_)


def test_sample_weight_reaches_the_hooks_as_metadata():
    X, y = load_iris(return_X_y=True)
    weights = np.linspace(0.5, 2.0, len(y))
    seen = []

    class Metadata(Recorder):
        def on_fit_task_end(self, estimator, context, *, metadata=None):
            seen.append(metadata)

    CrossEntropyLogisticRegression().set_callbacks(Metadata()).fit(X, y, sample_weight=weights)
    assert len(seen) > 2
    assert seen[-2] is None  # the last iteration task, which no iteration filled
    assert all(meta["sample_weight"] is weights for meta in seen[:-2] + seen[-1:])


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_scoring_monitor_scores_every_iteration(solver):
    X, y = load_iris(return_X_y=True)
    monitor = callback.ScoringMonitor(scoring="accuracy")
    clf = CrossEntropyLogisticRegression(solver=solver, max_iter=30, random_state=0)
    clf.set_callbacks(monitor).fit(X, y)
    rows = monitor.get_logs().data
    iterations = [row for row in rows if row["task_name"] != "fit"]
    assert len(iterations) == clf.n_iter_  # the empty last task is not scored
    assert [row["task_id"] for row in iterations] == list(range(clf.n_iter_))
    (root,) = [row for row in rows if row["task_name"] == "fit"]
    assert root["accuracy"] == clf.score(X, y)
    assert iterations[-1]["accuracy"] == clf.score(X, y)


def test_progress_bar_runs(capsys):
    pytest.importorskip("rich")
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), CrossEntropyLogisticRegression())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.set_callbacks(callback.ProgressBar(max_propagation_depth=None)).fit(X, y)
        CrossEntropyLogisticRegression(solver="sgd", max_iter=5).set_callbacks(
            callback.ProgressBar()
        ).fit(X, y)
    assert "CrossEntropyLogisticRegression - fit" in capsys.readouterr().out


def _fit_without_unsupported_warning(meta, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        meta.fit(X, y)
    messages = [str(w.message) for w in caught if not issubclass(w.category, ConvergenceWarning)]
    assert not [m for m in messages if UNSUPPORTED in m], messages


def test_pipeline_propagates_to_every_iteration():
    X, y = load_iris(return_X_y=True)
    recorder = PropagatedRecorder()
    pipe = make_pipeline(StandardScaler(), CrossEntropyLogisticRegression())
    _fit_without_unsupported_warning(pipe.set_callbacks(recorder), X, y)
    final = pipe[-1]
    ours = [ctx for ctx, _, _ in recorder.ended if ctx.estimator_name == final.__class__.__name__]
    iterations = [ctx for ctx in ours if ctx.task_name == "newton-iter"]
    assert len(iterations) == final.n_iter_ + 1
    # The celr fit is merged into the pipeline's task tree.
    root = ours[-1]
    assert root.task_name == "fit" and root.source_estimator_name == "Pipeline"
    assert all(ctx.parent is root for ctx in iterations)


def test_grid_search_reaches_a_step_callbacks():
    X, y = load_iris(return_X_y=True)
    recorder = Recorder()
    step = CrossEntropyLogisticRegression().set_callbacks(recorder)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), step),
        {"crossentropylogisticregression__C": [0.1, 1.0]},
        cv=2,
    )
    _fit_without_unsupported_warning(search.set_callbacks(PropagatedRecorder()), X, y)
    roots = [ctx for ctx, _, _ in recorder.ended if ctx.task_name == "fit"]
    assert len(roots) == 2 * 2 + 1  # every candidate and split, and the refit
    assert all(ctx.root_uuid == roots[0].root_uuid for ctx in roots)  # one search
    best = search.best_estimator_[-1]
    last_iterations = recorder.iterations()[-(best.n_iter_ + 1) :]
    assert last_iterations[-2][1].n_iter_ == best.n_iter_


def test_cv_estimator_does_not_support_callbacks_yet():
    # Its fit is its own: no set_callbacks, so scikit-learn says so instead of the
    # callbacks being ignored silently.
    X, y = load_iris(return_X_y=True)
    assert not hasattr(CrossEntropyLogisticRegressionCV(), "set_callbacks")
    pipe = make_pipeline(StandardScaler(), CrossEntropyLogisticRegressionCV(Cs=2, cv=2))
    with pytest.warns(UserWarning, match=UNSUPPORTED):
        pipe.set_callbacks(PropagatedRecorder()).fit(X, y)


def test_dask_fit_reports_every_iteration():
    da = pytest.importorskip("dask.array")
    X, y = shifted_problem()
    recorder = Recorder()
    clf = CrossEntropyLogisticRegression(solver="lbfgs").set_callbacks(recorder)
    clf.fit(da.from_array(X, chunks=50), da.from_array(y, chunks=50))
    models = [model for _, model in recorder.iterations()[:-1]]
    assert [model.n_iter_ for model in models] == list(range(1, clf.n_iter_ + 1))
    assert models[-1].loss_curve_[-1] == clf.loss_curve_[-1]


def test_no_callbacks_no_tasks():
    X, y = load_iris(return_X_y=True)
    clf = CrossEntropyLogisticRegression().fit(X, y)
    assert not hasattr(clf, "_callback_fit_ctx")  # torn down by _fit_context
    with pytest.raises(TypeError, match="FitCallback protocol"):
        clf.set_callbacks(object())


def test_without_sklearn_callback_nothing_changes():
    code = textwrap.dedent(
        """
        import sys
        import sklearn.linear_model, sklearn.metrics, sklearn.model_selection
        import sklearn.pipeline, sklearn.preprocessing
        sys.modules["sklearn.callback"] = None  # as scikit-learn < 1.9
        import celr._callbacks
        from celr import CrossEntropyLogisticRegression
        del sys.modules["sklearn.callback"]  # scikit-learn's own fit wrapper imports it
        from sklearn.datasets import load_iris
        clf = CrossEntropyLogisticRegression()
        assert not celr._callbacks.HAS_SKLEARN_CALLBACKS
        assert not hasattr(clf, "set_callbacks")
        print(clf.fit(*load_iris(return_X_y=True)).n_iter_)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 0
