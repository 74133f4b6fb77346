"""The compiled SGD pass over CSR rows (celr._sgd_kernel) against numpy's pass.

Both loops draw the same shuffled order from the state's generator, so they take the same
steps: their iterates agree to the rounding of the steps' sums, not to a fitted tolerance.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from celr import CrossEntropyLogisticRegression
from celr._objective import LogisticObjective
from celr._penalty import ElasticNetPenalty
from celr._sgd_kernel import sparse_binary_pass
from celr.solvers import sgd
from celr.solvers._sgd_state import init_state
from celr.solvers._sparse_pass import compiled_pass, compiled_rows


def sparse_problem(n=300, p=40, density=0.2, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, format="csr", random_state=seed, dtype=np.float64)
    X.data = 10.0 ** rng.uniform(-1, 1, X.nnz)  # columns of different scales
    coef = rng.normal(size=p)
    y = (X @ coef + rng.normal(size=n) > np.median(X @ coef)).astype(int)
    return X.astype(dtype), y


def state_and_objective(X, y, *, fit_intercept, weight, learning_rate, schedule, C=1.0):
    objective = LogisticObjective(X, y, weight, 2, fit_intercept)
    penalty = ElasticNetPenalty.for_layout(objective, C, 0.0, objective.weight_sum)
    state = init_state(
        objective, penalty, np.zeros(objective.n_params), sample=objective,
        n_total=X.shape[0], learning_rate=learning_rate, schedule=schedule, batch_size=32,
        average=X.shape[0] // 2 + 7, random_state=np.random.RandomState(0),
    )  # fmt: skip
    return state, objective


def rounding_bound(state, X) -> float:
    """A step's gradient entry sums ``B * nnz_per_row`` products and the step reads every
    coefficient: each step may differ by ``(B * row + p) eps`` relative, and ``n_steps``
    of them add up (``eps`` of X's dtype: numpy's pass multiplies in it)."""
    row = X.nnz / X.shape[0]
    eps = np.finfo(X.dtype).eps
    return state.n_steps * (state.batch_size * row + X.shape[1]) * eps


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(("learning_rate", "schedule"), [(None, "invsqrt"), (0.01, "constant")])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("dtype", "index"), [(np.float64, np.int32), (np.float32, np.int64)])
def test_compiled_pass_takes_numpy_s_steps(fit_intercept, learning_rate, schedule, weighted,
                                           dtype, index):  # fmt: skip
    X, y = sparse_problem(dtype=dtype)
    X.indices, X.indptr = X.indices.astype(index), X.indptr.astype(index)
    weight = np.random.default_rng(1).uniform(0.2, 3.0, len(y)) if weighted else np.ones(len(y))
    state, objective = state_and_objective(
        X, y, fit_intercept=fit_intercept, weight=weight, learning_rate=learning_rate,
        schedule=schedule,
    )  # fmt: skip
    twin = copy.deepcopy(state)
    rows = compiled_rows(state, objective)
    assert rows is not None
    for _ in range(3):  # the average starts halfway through the first
        compiled = compiled_pass(state, rows)
        expected = sgd._numpy_pass(twin, objective)
        bound = rounding_bound(state, X)
        scale = np.abs(twin.u).max()
        np.testing.assert_allclose(state.u, twin.u, rtol=bound, atol=bound * scale)
        np.testing.assert_allclose(state.u_average, twin.u_average, rtol=bound, atol=bound * scale)
        np.testing.assert_allclose(compiled[:2], expected[:2], rtol=bound)
        assert compiled[2] == expected[2] == X.shape[0]
        assert (state.n_seen, state.n_averaged, state.n_steps) == (
            twin.n_seen, twin.n_averaged, twin.n_steps,
        )  # fmt: skip
        np.testing.assert_allclose(state.reference_loss, twin.reference_loss, rtol=bound)
    assert state.n_averaged > 0
    # The generators drew the same orders and are in the same place.
    assert state.rng.randint(2**31) == twin.rng.randint(2**31)


def test_textbook_sgd_step():
    """Section 5.6.1's worked step: x = [3, 2], y = 1, w = b = 0, eta = 0.1 gives
    w = [0.15, 0.1], b = 0.05 (no penalty, one row per step, raw coordinates)."""
    X = sp.csr_matrix(np.array([[3.0, 2.0]]))
    w, w_average, intercept, scratch = np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2)
    sparse_binary_pass(
        X.data, X.indices, X.indptr, np.array([1.0]), np.array([1.0]), np.array([0]), 1,
        w, w_average, intercept, True, np.ones(2), np.zeros(2), 0.0, 0.1, False,
        0.0, 0.0, 1.0, np.inf, 0, scratch,
    )  # fmt: skip
    assert not scratch.any()  # the gradient's scratch is left zero for the next pass
    eps = np.finfo(float).eps
    np.testing.assert_allclose(w, [0.15, 0.1], rtol=4 * eps)
    np.testing.assert_allclose(intercept[0], 0.05, rtol=4 * eps)
    np.testing.assert_array_equal(w_average, w)  # not averaging yet: the average is w


@pytest.mark.parametrize(
    "case", ["adam", "three classes", "csc", "dense", "curvature", "unpenalised weight"]
)
def test_numpy_pass_where_the_compiled_one_does_not_apply(case):
    X, y = sparse_problem()
    schedule = "adam" if case == "adam" else "invsqrt"
    if case == "three classes":
        y = np.arange(len(y)) % 3
    if case == "csc":
        X = X.tocsc()
    if case == "dense":
        X = X.toarray()
    n_classes = len(np.unique(y))
    objective = LogisticObjective(X, y, np.ones(len(y)), n_classes, True)
    penalty = ElasticNetPenalty.for_layout(objective, 1.0, 0.0, objective.weight_sum)
    state = init_state(
        objective, penalty, np.zeros(objective.n_params), sample=objective, n_total=len(y),
        learning_rate=None, schedule=schedule, batch_size=32, average=True,
        random_state=np.random.RandomState(0),
    )  # fmt: skip
    if case == "curvature":
        assert state.whiten(objective, np.zeros(objective.n_params))
    if case == "unpenalised weight":
        state.penalty.penalized[0] = False
    assert compiled_rows(state, objective) is None


def fit(X, y, **params):
    model = CrossEntropyLogisticRegression(solver="sgd", random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def test_estimator_fits_csr_as_csc_and_dense(monkeypatch):
    X, y = sparse_problem(n=600)
    calls = []
    monkeypatch.setattr(sgd, "compiled_pass", lambda *a: calls.append(1) or compiled_pass(*a))
    csr = fit(X, y, max_iter=4)
    assert len(calls) == 4
    for other in (X.tocsc(), X.toarray()):
        twin = fit(other, y, max_iter=4)
        bound = 4 * 600 / 32 * (32 * X.nnz / 600 + 40) * np.finfo(float).eps
        np.testing.assert_allclose(csr.coef_, twin.coef_, rtol=bound, atol=bound)
        np.testing.assert_allclose(csr.intercept_, twin.intercept_, rtol=bound, atol=bound)


def test_partial_fit_streams_csr_chunks_as_csc_ones():
    X, y = sparse_problem(n=600)
    models = [CrossEntropyLogisticRegression(solver="sgd", random_state=0) for _ in range(2)]
    for rows in np.array_split(np.arange(600), 3):
        models[0].partial_fit(X[rows], y[rows], classes=[0, 1])
        models[1].partial_fit(X[rows].tocsc(), y[rows], classes=[0, 1])
    bound = 3 * 600 / 32 * (32 * X.nnz / 600 + 40) * np.finfo(float).eps
    np.testing.assert_allclose(models[0].coef_, models[1].coef_, rtol=bound, atol=bound)


def test_a_pass_that_runs_away_is_rolled_back_as_numpy_s():
    X, y = sparse_problem(n=600)
    fits = [fit(data, y, max_iter=3, learning_rate=1e6) for data in (X, X.tocsc())]
    for model in fits:
        assert np.all(np.isfinite(model.coef_))
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)  # both the start


def test_same_seed_same_bits():
    X, y = sparse_problem(n=600)
    first, second = fit(X, y, max_iter=3), fit(X, y, max_iter=3)
    np.testing.assert_array_equal(first.coef_, second.coef_)
    np.testing.assert_array_equal(first.intercept_, second.intercept_)


def test_read_only_rows_are_fitted_in_place():
    """GridSearchCV(n_jobs=...) hands workers memory-mapped, read-only arrays."""
    X, y = sparse_problem(n=600)
    expected = fit(X, y, max_iter=2)
    for part in (X.data, X.indices, X.indptr):
        part.flags.writeable = False
    y = y.copy()
    y.flags.writeable = False
    np.testing.assert_array_equal(fit(X, y, max_iter=2).coef_, expected.coef_)


def test_rows_the_compiled_pass_cannot_take_keep_numpy_s_pass():
    X, y = sparse_problem()
    mixed = sp.csr_matrix(X.shape)  # indices and indptr of two index types
    mixed.data, mixed.indices, mixed.indptr = X.data, X.indices.astype(np.int64), X.indptr
    strided = X.copy()
    strided.data = np.repeat(X.data, 2)[::2]  # the same values, not contiguous
    for rows in (mixed, strided):
        assert LogisticObjective(rows, y, np.ones(len(y)), 2, True).csr_binary_rows() is None
