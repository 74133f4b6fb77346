"""The first-order solvers, celr.solvers.gd and celr.solvers.sgd, against the textbook's
updates written out by hand and against tight reference optima."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from celr._objective import LogisticObjective
from celr._penalty import ElasticNetPenalty
from celr.solvers import gd, sgd
from celr.solvers._base import IterationInfo
from celr.solvers._coordinates import StandardizedCoordinates
from celr.solvers._step_size import expected_smoothness
from tests.conftest import (
    assert_reports_every_iteration,
    coef_gap,
    objective_and_penalty,
    reference_gradient,
    reference_loss,
    reference_objective,
    reference_problem_for,
)


def _problem(X, y, weight, C, fit_intercept=True):
    objective = LogisticObjective(X, y, weight, len(np.unique(y)), fit_intercept)
    return objective, ElasticNetPenalty.for_layout(objective, C, 0.0, objective.weight_sum)


def _small_data(n_classes, n=50, d=4, seed=0):
    """Rows with one dominant direction (so power iteration converges fast), an offset
    (so centring matters) and non-uniform weights."""
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(n, 1))
    X = 3.0 * factor * np.array([1.0, 0.5, -0.3, 0.8])[:d] + rng.normal(size=(n, d))
    X += np.array([2.0, -1.0, 0.5, 4.0])[:d]
    y = np.arange(n) % n_classes
    weight = rng.uniform(0.2, 3.0, size=n)
    return X, y, weight


# -- gd -----------------------------------------------------------------------------------
GD_CASES = [
    ("breast_cancer_scaled", False),
    ("breast_cancer_scaled", True),
    ("iris", False),
    ("iris", True),
    ("wine", False),
    ("wine", True),
    ("wine_scaled", False),
    ("wine_scaled", True),
    ("tall_raw", False),
    ("tall_raw", True),
]


@pytest.mark.parametrize(("name", "weighted"), GD_CASES, ids=lambda case: str(case))
def test_gd_line_search_reaches_reference_optimum(name, weighted):
    problem = reference_problem_for(name, 1.0, weighted)
    objective, penalty = objective_and_penalty(problem)
    result = gd.solve(objective, penalty, np.zeros(objective.n_params), tol=1e-8, max_iter=20_000)
    assert result.converged and not result.diverged
    assert result.stop_crit <= 1e-8
    gap = coef_gap(problem, objective, result.coef)
    assert gap < 1e-8
    assert gap > -1e-10  # the reference is tight


# The line search's history and callbacks: tests/test_solver_contract.py.
@pytest.mark.parametrize("name", ["iris", "breast_cancer"])
def test_gd_fixed_step_history_and_callback_contract(name):
    objective, penalty = objective_and_penalty(reference_problem_for(name, 1.0, False))
    seen: list[IterationInfo] = []
    result = gd.solve(
        objective,
        penalty,
        np.zeros(objective.n_params),
        tol=1e-6,
        max_iter=300,
        callback=seen.append,
        learning_rate=1e-6,
    )
    assert result.n_iter > 0
    assert_reports_every_iteration(result, seen)
    assert [info.objective for info in seen] == result.history[1:]
    assert_allclose(seen[-1].coef, result.coef)
    assert result.history[0] == pytest.approx(np.log(objective.n_classes))
    # A small fixed step on raw data: monotone, not done.
    assert np.all(np.diff(result.history) < 0)
    assert result.n_iter == 300 and not result.converged


def test_gd_fixed_step_is_the_textbooks_step():
    """Section 5.6.3: from zero, x = [3, 2], y = 1, eta = 0.1 gives w = [0.15, 0.1], b = 0.05."""
    X, y = np.array([[3.0, 2.0]]), np.array([1])
    objective, penalty = _problem(X, y, np.ones(1), np.inf)
    assert penalty.alpha == 0.0
    result = gd.solve(objective, penalty, np.zeros(3), tol=0.0, max_iter=1, learning_rate=0.1)
    assert result.n_iter == 1 and not result.diverged
    assert_allclose(result.coef, [0.15, 0.1, 0.05], rtol=1e-15, atol=0)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_gd_fixed_steps_equal_handwritten_gradient_descent(n_classes):
    X, y, weight = _small_data(n_classes)
    C, eta, steps = 0.05, 0.02, 7
    objective, penalty = _problem(X, y, weight, C)
    result = gd.solve(objective, penalty, np.zeros(objective.n_params), tol=0.0,
                      max_iter=steps, learning_rate=eta)  # fmt: skip
    n_scores = 1 if n_classes == 2 else n_classes
    W, b = np.zeros((n_scores, X.shape[1])), np.zeros(n_scores)
    for _ in range(steps):
        grad_W, grad_b = reference_gradient(X, y, W, b, C, 0.0, weight)
        W, b = W - eta * grad_W, b - eta * grad_b
    assert result.n_iter == steps
    assert_allclose(result.coef, np.column_stack([W, b]).ravel(), rtol=1e-12, atol=1e-15)


def test_gd_too_large_step_diverges_and_keeps_best_point():
    problem = reference_problem_for("breast_cancer", 1.0, False)  # raw features up to 4000
    objective, penalty = objective_and_penalty(problem)
    start = np.zeros(objective.n_params)
    result = gd.solve(objective, penalty, start, tol=1e-8, max_iter=100, learning_rate=1e4)
    assert result.diverged and not result.converged
    assert np.all(np.isfinite(result.coef))
    start_value = objective.value(start) + penalty.value(start)
    assert objective.value(result.coef) + penalty.value(result.coef) <= start_value


# -- sgd: the automatic step --------------------------------------------------------------
def _brute_force_smoothness(X, weight, center, scale, n_scores, l2, batch_size, n):
    xa = np.column_stack([(X - center) / scale, np.ones(len(X))])
    w = weight / weight.sum()
    c = 0.25 if n_scores == 1 else 0.5
    whole = c * np.linalg.eigvalsh((xa * w[:, None]).T @ xa).max()
    largest_row = c * np.max(len(X) * w * np.einsum("ij,ij->i", xa, xa))
    if batch_size >= n:
        mixed = whole
    else:
        mixed = (
            n * (batch_size - 1) / (batch_size * (n - 1)) * whole
            + (n - batch_size) / (batch_size * (n - 1)) * largest_row
        )
    return mixed + np.max(l2 / scale**2)


@pytest.mark.parametrize("batch_size", [1, 7, 50])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("coordinates", ["identity", "standardised"])
def test_expected_smoothness_matches_brute_force(coordinates, n_classes, batch_size):
    X, y, weight = _small_data(n_classes)
    objective, penalty = _problem(X, y, weight, C=0.01)
    assert penalty.l2_strength > 0
    if coordinates == "identity":
        coords = StandardizedCoordinates.identity(objective)
    else:
        center, spread = objective.feature_center_scale()
        coords = StandardizedCoordinates(objective, center, np.sqrt(spread**2 + 1.5))
        assert not coords.is_identity
    expected = _brute_force_smoothness(X, weight, coords.center, coords.scale,
                                       objective.n_scores, penalty.l2_strength,
                                       batch_size, len(X))  # fmt: skip
    value = expected_smoothness(objective, coords, penalty, batch_size, len(X))
    assert value == pytest.approx(expected, rel=1e-9)
    # CSR data gives the same bound.
    sparse, _ = _problem(sp.csr_array(X), y, weight, C=0.01)
    csr_value = expected_smoothness(sparse, coords, penalty, batch_size, len(X))
    assert csr_value == pytest.approx(value, rel=1e-12)


def test_expected_smoothness_falls_with_batch_size():
    X, y, weight = _small_data(2)
    objective, penalty = _problem(X, y, weight, C=np.inf)
    coords = StandardizedCoordinates.identity(objective)
    values = [expected_smoothness(objective, coords, penalty, b, len(X)) for b in range(1, 51)]
    assert np.all(np.diff(values) < 0)
    # B = 1 is the largest single row's bound: max_i n w_i ||xa_i||^2 / 4.
    row_norms = np.sum(X**2, axis=1) + 1.0
    assert values[0] == pytest.approx(0.25 * np.max(len(X) * weight / weight.sum() * row_norms))


# -- sgd.update against the textbook's update written by hand ----------------------------
def _handwritten_pass(u, X, y, relative_weight, order, batch_size, eta_of, seen, alpha, K):
    """The update of sgd's module docstring with penalty ``alpha ||W||^2 / 2``, in raw
    coordinates, from iterate ``u`` after ``seen`` rows; returns the new iterate and the
    mean of the batch objectives."""
    n_scores = 1 if K == 2 else K
    table = u.reshape(n_scores, -1).copy()
    total = 0.0
    for start in range(0, len(y), batch_size):
        rows = order[start : start + batch_size]
        W, b = table[:, :-1], table[:, -1]
        w = relative_weight[rows]
        # The batch's loss is (1/B) sum_i w_i CE_i; the reference's (1/sum w) sum_i w_i CE_i.
        loss, grad_W, grad_b = reference_loss(X[rows], y[rows], w, W, b)
        per_row = w.sum() / len(rows)
        grad_W = per_row * grad_W + alpha * W
        grad_b = per_row * grad_b
        total += len(rows) * (per_row * loss + 0.5 * alpha * np.sum(W**2))
        # A short (remainder) batch steps in proportion to its size: each row moves the
        # weights by eta / B times its gradient.
        eta = eta_of(seen) * len(rows) / batch_size
        table = np.column_stack([W - eta * grad_W, b - eta * grad_b])
        seen += len(rows)
    return table.ravel(), total / len(y)


def _raw_state(objective, penalty, *, batch_size, eta, schedule="constant", seed=3, average=False):
    return sgd.init_state(
        objective, penalty, np.zeros(objective.n_params), sample=objective,
        n_total=objective.n_samples, learning_rate=eta, schedule=schedule,
        batch_size=batch_size, average=average, random_state=np.random.RandomState(seed),
    )  # fmt: skip


@pytest.mark.parametrize("schedule", ["constant", "invsqrt"])
@pytest.mark.parametrize(("n_classes", "batch_size"), [(2, 1), (2, 3), (3, 4), (3, 1000)])
def test_update_is_the_textbooks_minibatch_step(n_classes, batch_size, schedule):
    n, eta, seed, C = 23, 0.05, 3, 0.2
    X, y, sample_weight = _small_data(n_classes, n=n)
    objective, penalty = _problem(X, y, sample_weight, C)
    alpha = 1.0 / (C * sample_weight.sum())
    assert penalty.l2_strength == pytest.approx(alpha)
    relative = sample_weight / sample_weight.mean()  # s_i / s_bar, as fit passes them
    state = _raw_state(objective, penalty, batch_size=batch_size, eta=eta, schedule=schedule)
    assert state.coords.is_identity
    B = min(batch_size, n)
    horizon = max(n, sgd.MIN_HORIZON_STEPS * B)

    def eta_of(seen):  # the step after ``seen`` rows
        return eta if schedule == "constant" else eta / np.sqrt(1 + seen / horizon)

    rng = np.random.RandomState(seed)  # the state's shuffles, replayed
    expected_u = np.zeros(objective.n_params)
    for _ in range(2):  # two passes: the second continues the first's state
        order = rng.permutation(n)
        expected_u, expected_mean = _handwritten_pass(
            expected_u, X, y, relative, order, B, eta_of, state.n_seen, alpha, n_classes
        )
        mean_objective, ran_away = sgd.update(state, objective)
        assert not ran_away
        assert mean_objective == pytest.approx(expected_mean, rel=1e-12)
        assert_allclose(state.u, expected_u, rtol=1e-11, atol=1e-14)
        assert_allclose(state.coef, expected_u, rtol=1e-11, atol=1e-14)
    assert state.n_seen == 2 * n
    assert state.n_steps == 2 * int(np.ceil(n / B))


def test_update_one_multinomial_step_is_softmax_residual():
    """One full-batch step from zero: every class starts at 1/K, residual p - onehot(y)."""
    X, y, sample_weight = _small_data(3, n=12)
    objective, penalty = _problem(X, y, sample_weight, np.inf)
    relative = sample_weight / sample_weight.mean()
    state = _raw_state(objective, penalty, batch_size=12, eta=0.5)
    sgd.update(state, objective)
    residual = np.full((12, 3), 1 / 3) - np.eye(3)[y]
    residual *= relative[:, None] / 12
    expected = -0.5 * np.column_stack([residual.T @ X, residual.sum(axis=0)])
    assert_allclose(state.coef, expected.ravel(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("n_total", "batch_size"), [(50, 1), (50, 2), (1000, 5)])
def test_invsqrt_learning_rate_decays_with_rows_seen(n_total, batch_size):
    X, y, weight = _small_data(2)
    objective, penalty = _problem(X, y, weight, 1.0)
    state = sgd.init_state(
        objective, penalty, np.zeros(objective.n_params), sample=objective, n_total=n_total,
        learning_rate=0.3, schedule="invsqrt", batch_size=batch_size, average=False,
        random_state=np.random.RandomState(0),
    )  # fmt: skip
    horizon = max(n_total, sgd.MIN_HORIZON_STEPS * batch_size)
    assert state.horizon == horizon
    assert state.learning_rate() == 0.3
    for passes in range(1, 4):
        sgd.update(state, objective)
        assert state.n_seen == 50 * passes
        assert state.learning_rate() == pytest.approx(0.3 / np.sqrt(1 + 50 * passes / horizon))
    constant = _raw_state(objective, penalty, batch_size=batch_size, eta=0.3)
    sgd.update(constant, objective)
    assert constant.learning_rate() == 0.3


@pytest.mark.parametrize("learning_rate", [None, 0.05], ids=["automatic", "given"])
def test_adam_first_step_moves_each_coordinate_by_eta(learning_rate):
    """Adam's bias-corrected first step is ``eta * g / (|g| + eps)``: eta per coordinate."""
    X, y, weight = _small_data(2, n=40)
    objective, penalty = _problem(X, y, weight, 1.0)
    state = sgd.init_state(
        objective, penalty, np.zeros(objective.n_params), sample=objective, n_total=40,
        learning_rate=learning_rate, schedule="adam", batch_size=40, average=False,
        random_state=np.random.RandomState(0),
    )  # fmt: skip
    eta = sgd.ADAM_DEFAULT_RATE if learning_rate is None else learning_rate
    assert state.eta0 == eta
    assert state.coords.is_identity == (learning_rate is not None)
    u0 = state.u.copy()
    coef0 = state.coords.to_coef(u0)
    _, grad = objective.value_grad(coef0)
    grad += penalty.smooth_value_grad(coef0)[1]
    grad_u = state.coords.gradient_to_u(grad)
    assert np.min(np.abs(grad_u)) > 1e-3  # so that eps = 1e-8 is negligible
    sgd.update(state, objective)
    move = state.u - u0
    assert_allclose(move, -eta * np.sign(grad_u), rtol=1e-4)
    assert_allclose(move, -eta * grad_u / (np.abs(grad_u) + sgd.ADAM_EPSILON), rtol=1e-10)


# -- averaging ----------------------------------------------------------------------------
@pytest.mark.parametrize("average", [True, 120], ids=["one-horizon", "after-120-rows"])
def test_average_is_mean_of_iterates_since_average_start(average, monkeypatch):
    X, y, weight = _small_data(3, n=50)
    objective, penalty = _problem(X, y, weight, 1.0)
    state = sgd.init_state(
        objective, penalty, np.zeros(objective.n_params), sample=objective, n_total=50,
        learning_rate=None, schedule="invsqrt", batch_size=5, average=average,
        random_state=np.random.RandomState(0),
    )  # fmt: skip
    assert not state.coords.is_identity
    expected_start = 500.0 if average is True else 120.0  # max(n, 100 B) rows, or the int
    assert state.average_start == expected_start
    iterates, seen = [], []
    original = sgd._step

    def recording_step(state, grad_u, n_rows):
        original(state, grad_u, n_rows)
        iterates.append(state.u.copy())
        seen.append(state.n_seen)

    monkeypatch.setattr(sgd, "_step", recording_step)
    sgd.update(state, objective)  # 50 rows: averaging has not begun
    assert state.n_averaged == 0
    assert_allclose(state.coef, state.coords.to_coef(state.u), rtol=1e-14)
    for _ in range(14):
        sgd.update(state, objective)
    averaged = np.array([u for u, n_seen in zip(iterates, seen, strict=True)
                         if n_seen > expected_start])  # fmt: skip
    assert state.n_averaged == len(averaged) > 0
    assert_allclose(state.u_average, averaged.mean(axis=0), rtol=1e-12, atol=1e-14)
    assert_allclose(state.coef, state.coords.to_coef(averaged.mean(axis=0)), rtol=1e-12,
                    atol=1e-14)  # fmt: skip
    assert not np.allclose(state.coef, state.coords.to_coef(state.u))  # really an average


# -- sgd.solve ----------------------------------------------------------------------------
@pytest.mark.parametrize("n_classes", [2, 3])
def test_sgd_solve_reaches_sklearn_optimum(n_classes):
    X, y = make_classification(20_000, 20, n_informative=10, n_classes=n_classes,
                               random_state=0)  # fmt: skip
    X = StandardScaler().fit_transform(X)
    weight = np.random.default_rng(0).uniform(0.0, 2.0, size=len(y))
    C = 1.0
    reference = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    reference.fit(X, y, sample_weight=weight)
    f_star = reference_objective(X, y, reference.coef_, reference.intercept_, C, weight)
    objective, penalty = _problem(X, y, weight, C)
    result = sgd.solve(objective, penalty, np.zeros(objective.n_params), tol=0.0, max_iter=30,
                       batch_size=256, random_state=np.random.RandomState(0))  # fmt: skip
    assert not result.diverged
    assert 1 <= result.n_iter <= 30
    assert len(result.history) == result.n_iter + 1
    W, b = objective.unpack(result.coef)
    gap = (reference_objective(X, y, W, b, C, weight) - f_star) / f_star
    print(f"sgd.solve K={n_classes}: relative gap {gap:.2e} after {result.n_iter} epochs")
    assert -1e-10 < gap < 1e-4  # measured: 4e-6 (binary), 1.3e-5 (3 classes)
    # The history's last entry is the objective at the reported coefficients.
    value = objective.value(result.coef) + penalty.value(result.coef)
    assert result.history[-1] == pytest.approx(value, rel=1e-12)


def test_sgd_solve_keeps_best_weights_on_validation():
    """Few noisy rows and almost no penalty: the held-out loss turns up after an epoch or
    two, and the returned weights are those of its minimum."""
    rng = np.random.default_rng(0)
    beta = 0.3 * rng.normal(size=40)

    def draw(m):
        X = rng.normal(size=(m, 40))
        return X, (X @ beta + rng.logistic(size=m) > 0).astype(int)

    (X, y), (X_held, y_held) = draw(150), draw(3000)
    objective, penalty = _problem(X, y, np.ones(150), 1e4)
    held_out = LogisticObjective(X_held, y_held, np.ones(3000), 2, True)
    result = sgd.solve(objective, penalty, np.zeros(objective.n_params), tol=0.0, max_iter=200,
                       batch_size=10, random_state=np.random.RandomState(0),
                       n_iter_no_change=5, validation=held_out)  # fmt: skip
    curve = np.asarray(result.validation_history)
    assert len(curve) == result.n_iter + 1 == len(result.history)
    assert curve.argmin() < len(curve) - 1  # the held-out loss did turn up
    assert held_out.value(result.coef) == pytest.approx(curve.min(), rel=1e-14)
    assert result.converged and result.n_iter < 200  # stopped by the plateau
    assert_allclose(result.state.coef, result.coef, rtol=1e-12)  # continues from the best


@pytest.mark.parametrize("learning_rate", [None, 0.02], ids=["automatic", "given"])
def test_sgd_full_batch_weights_equal_repeated_rows(learning_rate):
    X, y, _ = _small_data(3, n=60)
    counts = np.random.default_rng(1).integers(0, 4, size=60)
    assert counts.min() == 0 and counts.max() == 3
    repeated = np.repeat(np.arange(60), counts)
    kwargs = dict(tol=0.0, max_iter=40, learning_rate=learning_rate, batch_size=10_000)
    weighted_objective, weighted_penalty = _problem(X, y, counts.astype(float), 0.5)
    weighted = sgd.solve(weighted_objective, weighted_penalty, np.zeros(15),
                         random_state=np.random.RandomState(0), **kwargs)  # fmt: skip
    again = sgd.solve(weighted_objective, weighted_penalty, np.zeros(15),
                      random_state=np.random.RandomState(1), **kwargs)  # fmt: skip
    repeated_objective, repeated_penalty = _problem(X[repeated], y[repeated],
                                                    np.ones(len(repeated)), 0.5)  # fmt: skip
    copies = sgd.solve(repeated_objective, repeated_penalty, np.zeros(15),
                       random_state=np.random.RandomState(2), **kwargs)  # fmt: skip
    assert not weighted.diverged and not copies.diverged
    assert weighted.n_iter == copies.n_iter > 10
    assert_allclose(weighted.coef, again.coef, rtol=1e-10, atol=1e-12)  # no randomness
    assert_allclose(weighted.coef, copies.coef, rtol=1e-10, atol=1e-12)
    assert_allclose(weighted.history, copies.history, rtol=1e-10)
