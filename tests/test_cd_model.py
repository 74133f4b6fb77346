"""Proximal Newton with coordinate descent on sparse two-class data (celr.solvers._cd_model).

Each optimum is checked against an independent tight fit (scikit-learn's saga, which
minimises the same objective with the same C), the kernel's model solve against the
model's own optimality conditions, and the path's shared columns against fits without.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils.fixes import parse_version

import celr._estimator
import celr._path
from celr import CrossEntropyLogisticRegression, regularization_path
from celr._cd_kernel import column_moments, model_sweeps
from celr._columns import (
    canonical_csc,
    center_scale_of,
    columns_of,
    path_data,
    shared_last_evaluation,
)
from celr._objective import LogisticObjective
from celr.solvers import _cd_model, prox_newton


def text_problem(n=300, p=120, density=0.06, seed=0, dtype=np.float64):
    """Non-negative tf-idf-like rows: every column correlates with the intercept's."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, format="csr", random_state=seed, dtype=np.float64)
    X.data = rng.uniform(0.05, 1.0, X.nnz)
    truth = rng.normal(size=p) * (rng.random(p) < 0.2)
    y = (X @ truth + 0.2 * rng.logistic(size=n) > np.median(X @ truth)).astype(int)
    return X.astype(dtype), y


def objective(X, y, coef, intercept, C, l1_ratio, weight=None):
    """The mean weighted cross-entropy plus the elastic net, in float64 (DESIGN.md)."""
    weight = np.ones(len(y)) if weight is None else weight
    z = np.asarray(X @ coef.ravel(), dtype=np.float64) + intercept[0]
    loss = np.logaddexp(0.0, z) - y * z
    S = weight.sum()
    penalty = (l1_ratio * np.abs(coef).sum() + (1 - l1_ratio) / 2 * coef @ coef.T) / (C * S)
    return float(weight @ loss / S + np.sum(penalty))


def fit(X, y, **params):
    params = {"solver": "newton", "tol": 1e-10, "max_iter": 1000, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return CrossEntropyLogisticRegression(**params).fit(X, y)


@pytest.fixture(autouse=True)
def coordinate_descent_on_small_data(monkeypatch):
    """The small test problems would have their models solved with the Hessian matrix;
    here coordinate descent solves them, as it does on wide data."""
    monkeypatch.setattr(prox_newton, "model_matrix_pays", lambda shape: False)


def test_wide_sparse_two_class_l1_takes_coordinate_descent(monkeypatch):
    monkeypatch.undo()  # the real choice
    X, y = text_problem(n=300, p=25_000, density=0.002)  # over EXACT_MAX_PARAMS
    calls = []
    monkeypatch.setattr(
        _cd_model, "solve_model", lambda *a, **k: calls.append(1) or SOLVE(*a, **k)
    )
    model = fit(X, y, C=20.0, l1_ratio=1.0, solver="auto", tol=1e-8)
    assert model.solver_ == "newton" and calls
    assert model.stop_crit_ <= 1e-8
    working_sets = fit(X, y, C=20.0, l1_ratio=1.0, solver="lbfgs", tol=1e-8, max_iter=100_000)
    f = objective(X, y, model.coef_, model.intercept_, 20.0, 1.0)
    f_ws = objective(X, y, working_sets.coef_, working_sets.intercept_, 20.0, 1.0)
    assert f <= f_ws * (1 + 1e-9)


SOLVE = _cd_model.solve_model


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(("C", "l1_ratio"), [(0.5, 1.0), (5.0, 1.0), (2.0, 0.5)])
def test_reaches_saga_optimum(C, l1_ratio, fit_intercept):
    X, y = text_problem()
    model = fit(X, y, C=C, l1_ratio=l1_ratio, fit_intercept=fit_intercept)
    params = dict(C=C, l1_ratio=l1_ratio, tol=1e-13, max_iter=200_000, random_state=0)
    if parse_version(sklearn.__version__) < parse_version("1.8"):
        params["penalty"] = "elasticnet"  # before 1.8, l1_ratio alone is ignored
    reference = LogisticRegression(solver="saga", fit_intercept=fit_intercept, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference.fit(X, y)
    assert reference.n_iter_.max() < 200_000, "the reference itself did not converge"
    f = objective(X, y, model.coef_, model.intercept_, C, l1_ratio)
    f_ref = objective(X, y, reference.coef_, np.atleast_1d(reference.intercept_), C, l1_ratio)
    # saga stops at tol=1e-13 on the weights' change: its objective is within ~1e-12.
    assert f <= f_ref + 1e-11 * f_ref
    np.testing.assert_allclose(model.coef_, reference.coef_, atol=1e-5)
    assert 0 < np.count_nonzero(model.coef_) < X.shape[1]
    assert model.stop_crit_ <= 1e-10


def test_agrees_with_lbfgs_working_sets_to_rounding():
    X, y = text_problem(seed=3)
    newton = fit(X, y, C=3.0, l1_ratio=1.0, tol=1e-12)
    lbfgs = fit(X, y, C=3.0, l1_ratio=1.0, solver="lbfgs", tol=1e-12, max_iter=100_000)
    f_newton = objective(X, y, newton.coef_, newton.intercept_, 3.0, 1.0)
    f_lbfgs = objective(X, y, lbfgs.coef_, lbfgs.intercept_, 3.0, 1.0)
    # Both at stop_crit <= 1e-12: f agrees to its rounding, ~n eps.
    assert abs(f_newton - f_lbfgs) <= 100 * len(y) * np.finfo(float).eps * f_lbfgs
    np.testing.assert_array_equal(newton.coef_ != 0, lbfgs.coef_ != 0)


@pytest.mark.parametrize("C", [0.5, 5.0])
def test_a_column_in_every_row_pivots_the_sweeps_without_intercept(C, monkeypatch):
    # Imbalanced classes: without an intercept the column of every row takes its part.
    X, _ = text_problem(seed=5)
    rng = np.random.default_rng(5)
    y = (rng.random(X.shape[0]) < 0.25 + 0.5 * (X[:, 0].toarray().ravel() > 0)).astype(int)
    X = sp.hstack([X, rng.uniform(0.2, 1.0, (X.shape[0], 1))]).tocsr()
    pivots = []
    original = _cd_model.pivot_of
    monkeypatch.setattr(
        _cd_model, "pivot_of", lambda *a: pivots.append(original(*a)) or pivots[-1]
    )
    params = dict(C=C, l1_ratio=1.0, fit_intercept=False, tol=1e-12)
    newton = fit(X, y, **params)
    assert newton.coef_[0, -1] != 0 and any(p is not None for p in pivots)
    lbfgs = fit(X, y, solver="lbfgs", max_iter=100_000, **params)
    no_intercept = np.zeros(1)
    f_newton = objective(X, y, newton.coef_, no_intercept, C, 1.0)
    f_lbfgs = objective(X, y, lbfgs.coef_, no_intercept, C, 1.0)
    # Both at stop_crit <= 1e-12: f agrees to its rounding, ~n eps.
    assert abs(f_newton - f_lbfgs) <= 100 * len(y) * np.finfo(float).eps * f_lbfgs
    np.testing.assert_array_equal(newton.coef_ != 0, lbfgs.coef_ != 0)


def test_integer_weights_equal_repeated_rows():
    X, y = text_problem(seed=1)
    counts = np.random.default_rng(2).integers(1, 4, size=len(y))
    weighted = CrossEntropyLogisticRegression(solver="newton", C=2.0, l1_ratio=1.0, tol=1e-11)
    weighted.fit(X, y, sample_weight=counts)
    rows = np.repeat(np.arange(len(y)), counts)
    repeated = fit(X[rows], y[rows], C=2.0, l1_ratio=1.0, tol=1e-11)
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, atol=1e-8)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, atol=1e-8)


def test_csc_csr_and_float32_inputs():
    X, y = text_problem(seed=4)
    csr = fit(X, y, C=2.0, l1_ratio=1.0)
    csc = fit(X.tocsc(), y, C=2.0, l1_ratio=1.0)
    np.testing.assert_allclose(csc.coef_, csr.coef_, atol=1e-9)
    single = CrossEntropyLogisticRegression(solver="newton", C=2.0, l1_ratio=1.0)
    single.fit(X.astype(np.float32), y)
    assert single.coef_.dtype == np.float32
    f32 = objective(X, y, single.coef_.astype(float), single.intercept_.astype(float), 2.0, 1.0)
    f64 = objective(X, y, csr.coef_, csr.intercept_, 2.0, 1.0)
    # float32 data: f is resolved to about sqrt(eps32) relative (converged_when_stalled).
    assert (f32 - f64) / f64 <= 10 * np.sqrt(np.finfo(np.float32).eps)


def test_non_canonical_input_is_not_modified():
    X, y = text_problem(seed=5)
    coo = X.tocoo()
    # The same entries split in two halves: duplicates, columns unsorted.
    half = coo.data / 2
    doubled = sp.csc_matrix(
        (np.r_[half, half], (np.r_[coo.row, coo.row], np.r_[coo.col, coo.col])), shape=X.shape
    )
    before = [part.copy() for part in (doubled.data, doubled.indices, doubled.indptr)]
    model = fit(doubled, y, C=2.0, l1_ratio=1.0)
    for part, kept in zip((doubled.data, doubled.indices, doubled.indptr), before, strict=True):
        np.testing.assert_array_equal(part, kept)
    np.testing.assert_allclose(model.coef_, fit(X, y, C=2.0, l1_ratio=1.0).coef_, atol=1e-9)


def test_max_iter_warns_and_says_why():
    X, y = text_problem(seed=6)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        CrossEntropyLogisticRegression(solver="newton", C=5.0, l1_ratio=1.0, max_iter=1).fit(X, y)


def test_path_shares_its_columns_and_matches_separate_fits(monkeypatch):
    X, y = text_problem(seed=7)
    conversions = []
    original = canonical_csc
    monkeypatch.setattr(
        "celr._columns.canonical_csc", lambda M: conversions.append(1) or original(M)
    )
    path = regularization_path(X, y, Cs=4, l1_ratio=1.0, tol=1e-10)
    assert len(conversions) == 1  # once for the path, not once per C
    for C, coef in zip(path.Cs, path.coefs, strict=True):
        np.testing.assert_allclose(coef, fit(X, y, C=C, l1_ratio=1.0).coef_, atol=1e-8)


def test_path_data_only_for_that_matrix_and_those_weights():
    X, _ = text_problem()
    other = X.copy()
    columns = canonical_csc(X)
    weight, calls = np.full(X.shape[0], 1.0 / X.shape[0]), []

    def statistics():
        calls.append(1)
        return np.zeros(3), np.ones(3)

    with path_data(X, columns):
        assert columns_of(X) is columns
        assert columns_of(other) is not columns
        first = center_scale_of(X, weight, True, statistics)
        assert center_scale_of(X, weight.copy(), True, statistics) is first
        assert not first[0].flags.writeable  # shared between fits: nobody may change it
        center_scale_of(X, weight, False, statistics)
        center_scale_of(X, 2 * weight, True, statistics)
        center_scale_of(other, weight, True, statistics)
        assert len(calls) == 4
    assert columns_of(X) is not columns
    center_scale_of(X, weight, True, statistics)
    assert len(calls) == 5


def test_path_fits_share_statistics_and_start_evaluations(monkeypatch):
    """A path's fits on one X compute the column statistics once (with an intercept the
    estimator asks for them itself, for its offsets), and each warm start's value and
    gradient are the previous fit's last evaluation, not a new pass: the path is the
    same, bit for bit, as without the sharing."""
    X, y = text_problem()
    statistics_calls, products = [], []
    original_stats = celr._estimator.weighted_center_scale
    monkeypatch.setattr(
        celr._estimator, "weighted_center_scale",
        lambda *a, **k: statistics_calls.append(1) or original_stats(*a, **k),
    )  # fmt: skip
    original_scores = LogisticObjective.scores
    monkeypatch.setattr(
        LogisticObjective, "scores", lambda self, c: products.append(1) or original_scores(self, c)
    )
    shared = regularization_path(X, y, Cs=6, l1_ratio=1.0, tol=1e-8)
    assert len(statistics_calls) == 1
    shared_products = len(products)
    statistics_calls.clear(), products.clear()
    # The same fits without the path's sharing: every fit computes its own.
    monkeypatch.setattr(celr._path, "path_data", lambda X: contextlib.nullcontext())
    alone = regularization_path(X, y, Cs=6, l1_ratio=1.0, tol=1e-8)
    assert len(statistics_calls) == 6
    # Five warm starts: at least one product each (a fit on small data is one block).
    assert shared_products <= len(products) - 5
    np.testing.assert_array_equal(shared.coefs, alone.coefs)
    np.testing.assert_array_equal(shared.intercepts, alone.intercepts)
    np.testing.assert_array_equal(shared.n_iter, alone.n_iter)


def test_shared_last_evaluation_only_for_those_rows_and_evaluator():
    X, y = text_problem()
    labels, weight = (y > 0).astype(np.intp), np.full(X.shape[0], 1.0 / X.shape[0])
    key = ("whole", 2, True)
    with path_data(X):
        first = shared_last_evaluation(X, labels, weight, key)
        assert shared_last_evaluation(X, labels.copy(), weight.copy(), key) is first
        assert shared_last_evaluation(X, 1 - labels, weight, key) is not first
        assert shared_last_evaluation(X, labels, 2 * weight, key) is not first
        assert shared_last_evaluation(X, labels, weight, ("whole", 2, False)) is not first
        assert shared_last_evaluation(X.copy(), labels, weight, key) is not first
    assert shared_last_evaluation(X, labels, weight, key) is not first


def test_model_sweeps_solve_the_model():
    """At the kernel's answer every model coordinate satisfies its optimality condition:
    ``|m_j| <= l1_j`` at zero, ``m_j = -l1_j sign(w_j + d_j)`` elsewhere (m the model's
    gradient, computed here from a dense Hessian), and ``m_b = 0``."""
    X, y = text_problem(n=80, p=30, density=0.2, seed=8)
    rng = np.random.default_rng(9)
    columns = canonical_csc(X)
    h = rng.uniform(0.01, 0.25, len(y)) / len(y)
    grad, coef = rng.normal(size=30) * 1e-2, rng.normal(size=30) * (rng.random(30) < 0.5)
    l1, l2, unit = np.full(30, 2e-3), np.full(30, 1e-3), np.ones(30)
    working = np.arange(30, dtype=np.intp)
    moments, total = column_moments(
        columns.data, columns.indices, columns.indptr, working, h, l2, True
    )
    step, xstep = np.zeros(30), np.zeros(len(y))
    d_b, n_sweeps, change = model_sweeps(
        columns.data, columns.indices, columns.indptr, working, h, grad, coef, l1, l2, unit,
        moments, total, step, xstep, True, 0.01, 0.0, 1e-13, 10_000,
    )  # fmt: skip
    assert change <= 1e-13 and n_sweeps < 10_000
    A = np.column_stack([X.toarray(), np.ones(len(y))])
    np.testing.assert_allclose(xstep, A @ np.r_[step, d_b], atol=1e-14)
    hess = A.T @ (h[:, None] * A) + np.diag(np.r_[l2, 0.0])
    model_grad = np.r_[grad, 0.01] + hess @ np.r_[step, d_b]
    new = coef + step
    bound = 1e-11  # change <= 1e-13 per coordinate, times the Hessian's couplings
    assert abs(model_grad[-1]) <= bound
    zero = new == 0
    assert np.all(np.abs(model_grad[:-1][zero]) <= l1[zero] + bound)
    np.testing.assert_allclose(
        model_grad[:-1][~zero], -l1[~zero] * np.sign(new[~zero]), atol=bound
    )


def test_model_sweeps_with_a_pivot_column_solve_the_model():
    """Without an intercept, a dense column as the pivot: at the kernel's answer every
    coordinate satisfies its optimality condition, the pivot's with its L1 term's slope
    at its (kept) sign, and ``xstep`` is ``X d`` with the pivot's step in it."""
    X, y = text_problem(n=80, p=30, density=0.2, seed=8)
    rng = np.random.default_rng(9)
    dense = rng.uniform(0.5, 1.5, len(y))  # column 0: stored in every row
    X = sp.hstack([sp.csc_matrix(dense[:, None]), X[:, 1:]]).tocsc()
    columns = canonical_csc(X)
    h = rng.uniform(0.01, 0.25, len(y)) / len(y)
    grad, coef = rng.normal(size=30) * 1e-2, rng.normal(size=30) * (rng.random(30) < 0.5)
    coef[0] = -2.0
    l1, l2, unit = np.full(30, 2e-3), np.full(30, 1e-3), np.full(30, 0.5)
    working = np.arange(1, 30, dtype=np.intp)
    g0 = grad[0] + l1[0] * np.sign(coef[0])
    moments, total = column_moments(
        columns.data, columns.indices, columns.indptr, working, h, l2[1:], False, dense, l2[0]
    )
    step, xstep = np.zeros(29), np.zeros(len(y))
    d0, n_sweeps, change = model_sweeps(
        columns.data, columns.indices, columns.indptr, working, h, grad[1:], coef[1:],
        l1[1:], l2[1:], unit[1:], moments, total, step, xstep, False, g0, 0.0, 1e-13,
        10_000, dense, l2[0], unit[0],
    )  # fmt: skip
    assert change <= 1e-13 and n_sweeps < 10_000
    full_step = np.r_[d0, step]
    A = X.toarray()
    np.testing.assert_allclose(xstep, A @ full_step, atol=1e-14)
    model_grad = grad + (A.T @ (h[:, None] * A) + np.diag(l2)) @ full_step
    new = coef + full_step
    assert np.sign(new[0]) == np.sign(coef[0])
    bound = 1e-11  # change <= 1e-13 per coordinate (unit 0.5), times the couplings
    zero = new == 0
    assert np.all(np.abs(model_grad[zero]) <= l1[zero] + bound)
    np.testing.assert_allclose(model_grad[~zero], -l1[~zero] * np.sign(new[~zero]), atol=bound)


def test_working_set_keeps_support_and_takes_the_worst_violators():
    weights = np.zeros(500)
    weights[:3] = 1.0
    optimality = np.linspace(0.0, 1.0, 500)
    l1 = np.ones(500)
    l1[10] = 0.0  # unpenalised: always in
    working = _cd_model.working_set(weights, optimality, l1)
    assert {0, 1, 2, 10} <= set(working.tolist())
    new = np.setdiff1d(working, [0, 1, 2, 10])
    assert new.size == _cd_model.MIN_NEW_ENTRIES
    assert new.min() == 500 - _cd_model.MIN_NEW_ENTRIES  # the largest measures


def _objective_and_penalty(X, y, C=2.0, l1_ratio=1.0, n_threads=1):
    from celr._objective import intercept_only_coef
    from celr._parallel import make_objective
    from celr._penalty import ElasticNetPenalty

    objective = make_objective(X, y, np.ones(len(y)), 2, True, n_threads=n_threads)
    penalty = ElasticNetPenalty.for_layout(objective, C, l1_ratio, objective.weight_sum)
    return objective, penalty, intercept_only_coef(objective)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scored_evaluation_is_the_objectives_to_rounding(dtype):
    from celr.solvers._base import SmoothProblem

    X, y = text_problem(dtype=dtype)
    objective, penalty, _ = _objective_and_penalty(X, y, C=3.0, l1_ratio=0.5)
    problem = SmoothProblem(objective, penalty)
    columns, labels, weight = objective.csc_binary_columns()
    coef = np.random.default_rng(3).normal(size=objective.n_params)
    value, grad = _cd_model.ScoredEvaluation(problem, columns, labels, weight, 1)(
        coef, objective.scores(coef)
    )
    ref_value, ref_grad = problem.value_grad(coef)
    # The same scores, loss and weights: the same value; each gradient entry is the same
    # sum in another order, both within the objective's own rounding bound of the truth.
    assert value == ref_value
    bound = 2 * objective.gradient_error_bound(coef) + 4 * np.finfo(float).eps * np.abs(grad)
    assert np.all(np.abs(grad - ref_grad) <= bound)


def test_scored_evaluation_bits_do_not_depend_on_threads(monkeypatch):
    from celr.solvers._base import SmoothProblem

    X, y = text_problem(n=2000, p=400, density=0.05)
    objective, penalty, _ = _objective_and_penalty(X, y)
    problem = SmoothProblem(objective, penalty)
    columns, labels, weight = objective.csc_binary_columns()
    coef = np.random.default_rng(4).normal(size=objective.n_params)
    scores = objective.scores(coef)
    monkeypatch.setattr(_cd_model, "MIN_ENTRIES_PER_BLOCK", 1000)  # several column ranges
    results = {}
    for n_threads in (1, 2, 3):
        scored = _cd_model.ScoredEvaluation(problem, columns, labels, weight, n_threads)
        assert len(scored.parts) == n_threads
        results[n_threads] = scored(coef, scores)
    for value, grad in results.values():
        assert value == results[1][0]
        np.testing.assert_array_equal(grad, results[1][1])


@pytest.mark.parametrize("tol", [1e-6, 1e-10])
def test_stop_crit_is_measured_from_scratch(tol, monkeypatch):
    # The line search evaluates from carried scores; the fit's stop_crit must be the true
    # optimality at its last point, computed as a fresh evaluation computes it. (Without
    # the polish, which evaluates afresh anyway.)
    from celr.solvers._base import SmoothProblem

    monkeypatch.setattr(_cd_model, "finish_converged", lambda *a, converged, **k: converged)
    X, y = text_problem(n=400, p=300)
    objective, penalty, coef0 = _objective_and_penalty(X, y, C=5.0)
    result = _cd_model.solve(objective, penalty, coef0, tol=tol, max_iter=100)
    problem = SmoothProblem(objective, penalty)
    fresh = problem.stop_crit(result.coef, problem.value_grad(result.coef)[1])
    assert result.converged and result.stop_crit == fresh  # at 1e-10: a stall at rounding
