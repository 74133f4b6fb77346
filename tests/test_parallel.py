"""Row-block parallel objective: the same sums as the whole problem, no copies."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import threadpoolctl
from numpy.testing import assert_allclose
from sklearn.datasets import make_classification

import celr._estimator
import celr._parallel
from celr import CrossEntropyLogisticRegression
from celr._objective import LogisticObjective
from celr._parallel import RowBlockObjective, make_objective


def problem(n_classes, container, n=301, d=7):
    X, y = make_classification(n, d, n_informative=5, n_classes=n_classes, random_state=0)
    X = np.where(np.abs(X) < 0.4, 0.0, X)
    weight = np.random.default_rng(0).integers(0, 3, n).astype(float)
    return container(X), y, weight


@pytest.mark.parametrize("container", [np.asarray, sp.csr_array])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("n_blocks", [2, 3])
def test_blocks_add_up_to_the_whole(container, n_classes, n_blocks):
    X, y, weight = problem(n_classes, container)
    whole = LogisticObjective(X, y, weight, n_classes, True)
    blocked = RowBlockObjective(LogisticObjective(X, y, weight, n_classes, True), n_blocks)
    rng = np.random.default_rng(1)
    coef, vector = rng.normal(size=(2, whole.n_params))
    scale = rng.uniform(0.5, 2.0, whole.n_features)
    assert blocked.value(coef) == pytest.approx(whole.value(coef), rel=1e-13)
    value, grad = blocked.value_grad(coef)
    assert value == pytest.approx(whole.value_grad(coef)[0], rel=1e-13)
    assert_allclose(grad, whole.value_grad(coef)[1], rtol=1e-12, atol=1e-15)
    assert_allclose(blocked.hessp_at(coef)(vector), whole.hessp_at(coef)(vector), atol=1e-14)
    assert_allclose(blocked.hessian(coef, scale), whole.hessian(coef, scale), atol=1e-14)
    assert_allclose(blocked.hessian_diag(coef), whole.hessian_diag(coef), atol=1e-15)
    sub = blocked.row_subsample(2)
    assert_allclose(sub.value(coef), whole.row_subsample(2).value(coef), rtol=1e-13)
    assert blocked.n_params == whole.n_params  # everything else is the whole problem's


def test_blocks_share_the_callers_memory():
    X, y, weight = problem(2, sp.csr_array)
    blocked = RowBlockObjective(LogisticObjective(X, y, weight, 2, True), 2)
    for block in blocked.blocks:
        assert np.shares_memory(block.X.data, X.data)
        assert np.shares_memory(block.X.indices, X.indices)
    X_dense = X.toarray()
    blocked = RowBlockObjective(LogisticObjective(X_dense, y, weight, 2, True), 2)
    assert all(np.shares_memory(block.X, X_dense) for block in blocked.blocks)


def test_small_or_csc_problems_stay_whole_whatever_the_threads():
    X, y, weight = problem(2, np.asarray)
    assert isinstance(make_objective(X, y, weight, 2, True, n_threads=8), LogisticObjective)
    big = np.zeros((1000, 1000))
    big_y = np.arange(1000) % 2
    ones = np.ones(1000)
    assert isinstance(make_objective(big, big_y, ones, 2, True, n_threads=2), RowBlockObjective)
    # The partition depends on the data only (same bits whatever the threads): one
    # thread evaluates the same blocks in turn.
    assert isinstance(make_objective(big, big_y, ones, 2, True, n_threads=1), RowBlockObjective)
    csc = sp.csc_array(big + np.eye(1000))
    assert isinstance(make_objective(csc, big_y, ones, 2, True, n_threads=2), LogisticObjective)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_fit_with_blocks_equals_fit_without(monkeypatch, solver, n_classes):
    X, y, weight = problem(n_classes, np.asarray, n=3000)
    serial = CrossEntropyLogisticRegression(solver=solver).fit(X, y, sample_weight=weight)
    monkeypatch.setattr(celr._parallel, "MIN_ENTRIES_PER_BLOCK", 100)
    monkeypatch.setattr(celr._estimator, "thread_budget", lambda: 2)
    blocked = CrossEntropyLogisticRegression(solver=solver).fit(X, y, sample_weight=weight)
    assert_allclose(blocked.coef_, serial.coef_, rtol=1e-7, atol=1e-9)
    assert_allclose(blocked.predict_proba(X), serial.predict_proba(X), atol=1e-9)


def test_fit_in_a_forked_child_after_a_parallel_fit_in_the_parent(monkeypatch):
    import multiprocessing

    monkeypatch.setattr(celr._parallel, "MIN_ENTRIES_PER_BLOCK", 100)
    monkeypatch.setattr(celr._estimator, "thread_budget", lambda: 2)
    X, y, _ = problem(2, np.asarray, n=2000)
    parent = CrossEntropyLogisticRegression().fit(X, y)  # creates the thread pool
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child_coef = pool.apply_async(_fit_coef, (X, y)).get(timeout=60)
    assert_allclose(child_coef, parent.coef_, rtol=1e-10)


def _fit_coef(X, y):
    celr._parallel.MIN_ENTRIES_PER_BLOCK = 100
    celr._estimator.thread_budget = lambda: 2
    return CrossEntropyLogisticRegression().fit(X, y).coef_


def test_sparse_block_products_do_not_copy_the_block():
    import tracemalloc

    X, y, weight = problem(2, sp.csr_array, n=20_000, d=50)
    blocked = RowBlockObjective(LogisticObjective(X, y, weight, 2, True), 4)
    coef = np.zeros(blocked.n_params)
    blocked.value_grad(coef)
    tracemalloc.start()
    blocked.value_grad(coef)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Per-row temporaries only: far below one block's stored entries.
    assert peak < X.data.nbytes / 4


@pytest.mark.parametrize("container", [np.asarray, sp.csr_array])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_thread_count_does_not_change_a_single_bit(container, n_classes):
    X, y, weight = problem(n_classes, container, n=3001, d=20)
    rng = np.random.default_rng(2)
    whole = LogisticObjective(X, y, weight, n_classes, True)
    coef, vector = rng.normal(size=(2, whole.n_params))
    scale = rng.uniform(0.5, 2.0, whole.n_features)
    results = []
    # One BLAS thread, as inside a fit: each block's own products are then deterministic.
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        for n_threads in (1, 2, 3):
            blocked = RowBlockObjective(
                LogisticObjective(X, y, weight, n_classes, True), 7, n_threads=n_threads
            )
            value, grad = blocked.value_grad(coef)
            results.append(
                [
                    blocked.value(coef),
                    value,
                    grad,
                    blocked.hessp_at(coef)(vector),
                    blocked.hessian(coef, scale),
                    blocked.hessian_diag(coef),
                    blocked.score_outer(coef, scale),
                ]
            )
    names = ["value", "value_grad value", "gradient", "hessp", "hessian", "diag", "outer"]
    for other in results[1:]:
        for name, a, b in zip(names, results[0], other, strict=True):
            assert np.array_equal(a, b), name


def test_the_partition_depends_on_the_data_only():
    X = np.zeros((3000, 400))
    y, ones = np.arange(3000) % 2, np.ones(3000)
    partitions = []
    for n_threads in (1, 2, 3, 8):
        blocked = make_objective(X, y, ones, 2, True, n_threads=n_threads)
        assert isinstance(blocked, RowBlockObjective)
        partitions.append([block.n_samples for block in blocked.blocks])
    assert all(partition == partitions[0] for partition in partitions)
