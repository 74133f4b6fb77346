"""How many threads celr may use, and the BLAS thread limit around fits."""

from __future__ import annotations

import functools

from threadpoolctl import ThreadpoolController


@functools.cache
def blas_controller() -> ThreadpoolController:
    """One controller for the process: building one scans the loaded libraries (~2 ms)."""
    return ThreadpoolController()


def thread_budget() -> int:
    """Threads a fit may use: as many as BLAS may, so that limits set by the caller or by
    joblib (one per worker in GridSearchCV(n_jobs=...)) hold for celr's threads too."""
    budgets = [
        info["num_threads"] for info in blas_controller().info() if info["user_api"] == "blas"
    ]
    return max(budgets, default=1)
