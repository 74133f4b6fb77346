"""solver='sgd' with its defaults: batch_size='auto' and how close 200 epochs get to the
optimum on the shared test data sets (issue 15, part 4)."""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from celr import CrossEntropyLogisticRegression
from celr.solvers import sgd
from celr.solvers._coordinates import CurvatureCoordinates, StandardizedCoordinates
from celr.solvers._sgd_state import CURVATURE_MAX_PARAMS
from tests.conftest import dataset, reference_objective

Model = CrossEntropyLogisticRegression


# -- the rule -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n_rows", "expected"),
    [(1, 32), (150, 32), (527, 32), (528, 33), (569, 35), (1797, 112), (16_383, 1023),
     (16_384, 1024), (20_000, 1024), (10**8, 1024)],
)  # fmt: skip
def test_auto_batch_size_is_sixteen_steps_per_epoch_within_32_to_1024(n_rows, expected):
    assert sgd.auto_batch_size(n_rows) == expected
    assert sgd.auto_batch_size(n_rows) == min(1024, max(32, n_rows // 16))


def test_fit_resolves_auto_from_its_rows_and_keeps_integers():
    X, y = dataset("iris_scaled")
    assert Model().batch_size == "auto"
    fitted = Model(solver="sgd", max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted.fit(X, y)
        assert fitted._optimizer_state.batch_size == 32  # 150 rows: the floor
        given = Model(solver="sgd", max_iter=2, batch_size=7, random_state=0).fit(X, y)
    assert given._optimizer_state.batch_size == 7
    with pytest.raises(InvalidParameterError, match="batch_size"):
        Model(solver="sgd", batch_size="full").fit(X, y)


def test_partial_fit_sizes_auto_on_its_first_call():
    X, y = dataset("breast_cancer_scaled")
    chunks = np.array_split(np.arange(len(y)), 4)  # 143, 142, 142, 142 rows
    streamed = Model(solver="sgd", random_state=0)
    for rows in chunks:
        streamed.partial_fit(X[rows], y[rows], classes=[0, 1])
        assert streamed._optimizer_state.batch_size == 32  # max(32, 143 // 16), kept
    assert streamed.n_iter_ == 4 and streamed.score(X, y) > 0.9
    whole = Model(solver="sgd", random_state=0)
    for rows in chunks:
        whole.partial_fit(X[rows], y[rows], classes=[0, 1], n_samples_total=20_000)
        assert whole._optimizer_state.batch_size == 1024  # of the whole data set's rows
    assert whole.n_iter_ == 4


# -- 200 epochs with the defaults against the optimum ---------------------------------------
DATASETS = [
    "breast_cancer", "breast_cancer_scaled", "iris", "iris_scaled", "wine", "wine_scaled",
    "digits", "digits_scaled", "tall_raw",
]  # fmt: skip
# Training cross-entropy over the optimum's with the defaults (random_state=0; over seeds
# 0-5 the worst was 1.018, on digits); in brackets, with the step adaptation but without
# curvature whitening, with batch_size='auto' but no step adaptation, then with the
# former batch_size=1024 default.
MEASURED_RATIO = {
    "breast_cancer": 0.997,  # (1.013, 1.210, 1.303)
    "breast_cancer_scaled": 0.998,  # (1.003, 1.200, 1.421)
    "iris": 0.999,  # (0.998, 1.222, 1.462)
    "iris_scaled": 1.000,  # (0.993, 1.092, 1.284)
    "wine": 0.975,  # (0.990, 1.262, 1.530)
    "wine_scaled": 0.981,  # (0.978, 1.140, 1.408)
    "digits": 0.929,  # (3.203, 41.11, 46.28)
    "digits_scaled": 0.966,  # (1.000, 4.800, 5.066)
    "tall_raw": 1.001,  # (1.001, 1.001, 1.001): 20 steps an epoch, not adapted
}
BOUND = 1.05


def _cross_entropy(X, y, model) -> float:
    """Mean training cross-entropy, from conftest's scipy-only objective (C=inf: no penalty)."""
    return reference_objective(X, y, model.coef_, model.intercept_, np.inf)


@cache
def default_sgd_ratio(name: str) -> float:
    X, y = dataset(name)
    optimum = Model(solver="newton", tol=1e-12).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 200 epochs end at max_iter
        model = Model(solver="sgd", max_iter=200, random_state=0).fit(X, y)
    ratio = _cross_entropy(X, y, model) / _cross_entropy(X, y, optimum)
    print(f"{name}: batch size {model._optimizer_state.batch_size}, ratio {ratio:.4f}")
    return ratio


@pytest.mark.parametrize("name", DATASETS)
def test_default_sgd_cross_entropy_does_not_regress(name):
    assert default_sgd_ratio(name) <= max(BOUND, 1.02 * MEASURED_RATIO[name])


@pytest.mark.parametrize("name", DATASETS)
def test_default_sgd_cross_entropy_within_5_percent_of_optimum(name):
    assert default_sgd_ratio(name) <= BOUND


@pytest.mark.parametrize("seed", [1, 2])
def test_other_seeds_are_within_5_percent_too(seed):
    X, y = dataset("digits")  # the worst of seeds 0-5: 1.018 (seed 1)
    optimum = Model(solver="newton", tol=1e-12).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = Model(solver="sgd", max_iter=200, random_state=seed).fit(X, y)
    assert _cross_entropy(X, y, model) <= BOUND * _cross_entropy(X, y, optimum)
    # The penalised objective too, which the cross-entropy alone does not bound: its
    # relative gap was 3e-3 to 6e-3 over seeds 0-3 (without whitening 0.3 to 1.8).
    optimal = reference_objective(X, y, optimum.coef_, optimum.intercept_, 1.0)
    reached = reference_objective(X, y, model.coef_, model.intercept_, 1.0)
    assert reached <= 1.02 * optimal


# -- the step adaptation of short epochs ----------------------------------------------------
def _sgd_state(X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = Model(solver="sgd", max_iter=40, random_state=0, **params).fit(X, y)
    return model, model._optimizer_state


def test_short_epochs_adapt_the_step_and_hand_partial_fit_a_decaying_average():
    X, y = dataset("iris_scaled")  # 150 rows, 32 a batch: 5 steps an epoch
    model, state = _sgd_state(X, y)
    assert state.step_scale != 1.0 and not state.adapting
    assert isinstance(state.coords, CurvatureCoordinates)  # adapted twice: whitened
    assert state.horizon == sgd.ADAPT_HORIZON_STEPS * state.batch_size
    assert 0 < state.decay_start <= state.n_seen and state.n_averaged >= 1
    assert state.learning_rate() < state.eta0 * state.step_scale  # decaying
    coef = model.coef_.copy()
    model.partial_fit(X, y)
    assert model._optimizer_state.n_averaged > state.n_averaged - 1  # the average goes on
    assert np.linalg.norm(model.coef_ - coef) < 0.05 * np.linalg.norm(coef)


@pytest.mark.parametrize(
    "params",
    [dict(batch_size=4), dict(learning_rate=0.05), dict(schedule="constant"), dict(average=False)],
)
def test_long_epochs_and_user_steps_keep_the_plain_schedule(params):
    X, y = dataset("iris_scaled")  # batch_size=4: 38 steps an epoch, over ADAPT_MAX_STEPS
    _, state = _sgd_state(X, y, **params)
    assert state.step_scale == 1.0 and state.decay_start == 0.0 and not state.adapting
    assert isinstance(state.coords, StandardizedCoordinates)


def test_problems_of_many_coefficients_are_not_whitened():
    """Over CURVATURE_MAX_PARAMS coefficients the Hessian would dominate the fit's cost."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, CURVATURE_MAX_PARAMS))
    y = (X[:, 0] + rng.logistic(size=300) > 0).astype(int)
    model, state = _sgd_state(X, y)
    assert model.n_iter_ > 3 * sgd.ADAPT_PATIENCE  # the adaptation did end
    assert isinstance(state.coords, StandardizedCoordinates)
