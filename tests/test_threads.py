"""Fits leave no process-wide state behind, and their result ignores the thread count."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import threadpoolctl
from sklearn.datasets import make_classification

from celr import CrossEntropyLogisticRegression
from celr._parallel import RowBlockObjective, make_objective
from celr._threads import one_blas_thread, thread_budget


def blas_threads() -> list[int]:
    return [
        info["num_threads"]
        for info in threadpoolctl.threadpool_info()
        if info["user_api"] == "blas"
    ]


def release_blas_control() -> None:
    """threadpoolctl >= 3.8 lets only the thread that set OpenBLAS's limit last (while
    it holds a threadpool_limits) set it again; calls from other threads do nothing."""
    openblas = getattr(threadpoolctl, "OpenBLASController", None)
    if hasattr(openblas, "clear_controlling_thread"):
        openblas.clear_controlling_thread()


@pytest.fixture
def blas_unheld():
    """BLAS allowed two threads where it can run two, as in a program that holds no
    threadpoolctl limit (conftest holds one thread for the session); put back after.

    Yields the BLAS thread counts; skips when they are all 1 (a limit of 1 left behind
    would not show).
    """
    libraries = [
        lib for lib in threadpoolctl.ThreadpoolController().lib_controllers
        if lib.user_api == "blas"
    ]  # fmt: skip
    saved = [lib.num_threads for lib in libraries]
    for lib in libraries:
        lib.set_num_threads(2)
    release_blas_control()
    try:
        before = blas_threads()
        if max(before, default=1) < 2:
            pytest.skip("BLAS runs a single thread here")
        yield before
    finally:
        for lib, limit in zip(libraries, saved, strict=True):
            lib.set_num_threads(limit)


def test_concurrent_fits_leave_the_blas_limit_as_they_found_it(blas_unheld):
    # Fits of different lengths, started together: they overlap and end in any order.
    X, y = make_classification(20_000, 20, n_informative=10, random_state=0)
    sizes = [5_000, 10_000, 15_000, 20_000]

    def fit(n: int):
        return CrossEntropyLogisticRegression().fit(X[:n], y[:n])

    with ThreadPoolExecutor(4) as pool:
        for _ in range(6):
            list(pool.map(fit, sizes))
            assert blas_threads() == blas_unheld
        # ... and no thread of theirs kept threadpoolctl's control of the limit.
        with threadpoolctl.threadpool_limits(1, user_api="blas"):
            assert max(blas_threads()) == 1
        assert blas_threads() == blas_unheld


def test_thread_budget_is_the_callers_not_the_one_thread_of_a_running_fit(blas_unheld):
    assert thread_budget() == max(blas_unheld)
    entered, leave = threading.Event(), threading.Event()

    def hold():
        with one_blas_thread():
            entered.set()
            leave.wait(10)

    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(hold)
        assert entered.wait(10)
        assert max(blas_threads()) == 1  # the other thread's fit runs one BLAS thread,
        assert thread_budget() == max(blas_unheld)  # but the budget is still the caller's
        with one_blas_thread():
            assert max(blas_threads()) == 1
        assert max(blas_threads()) == 1  # the other fit still runs
        leave.set()
        held.result()
    assert blas_threads() == blas_unheld
    # With no fit running, a limit set by the caller (as joblib does) is the budget.
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        assert thread_budget() == 1
        with one_blas_thread():
            assert thread_budget() == 1
        assert max(blas_threads()) == 1
    assert blas_threads() == blas_unheld


@pytest.mark.parametrize(
    ("n_classes", "solver"), [(2, "newton"), (2, "lbfgs"), (3, "newton"), (3, "lbfgs")]
)
def test_same_model_bits_whatever_the_threads_and_whatever_runs_beside(
    blas_unheld, n_classes, solver
):
    # 1.2 million entries: several row blocks, the same for every fit below.
    X, y = make_classification(12_000, 100, n_informative=10, n_classes=n_classes, random_state=0)
    weight = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    for n_threads in (1, 2):
        objective = make_objective(X, y, weight, n_classes, True, n_threads=n_threads)
        assert isinstance(objective, RowBlockObjective) and len(objective.blocks) > 1

    def fit(_=None):
        model = CrossEntropyLogisticRegression(solver=solver, tol=1e-8)
        return model.fit(X, y, sample_weight=weight)

    reference = fit()
    with ThreadPoolExecutor(3) as pool:
        models = list(pool.map(fit, range(3)))
    # Last: leaving threadpool_limits keeps this thread in control of OpenBLAS's limit
    # (threadpoolctl >= 3.8) while conftest's session limit is open, so that fits in
    # other threads could not set theirs.
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        models.append(fit())
    for model in models:
        assert np.array_equal(model.coef_, reference.coef_)
        assert np.array_equal(model.intercept_, reference.intercept_)
