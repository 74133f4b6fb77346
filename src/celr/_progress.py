"""What a fit reports while it runs: progress bars, text lines, and the weights kept on Ctrl-C.

Every solver calls ``callback(IterationInfo)`` after each iteration. :class:`FitMonitor`
is that callback for every fit: it keeps a copy of the best weights seen, so that an
interrupted fit (Ctrl-C) ends with them instead of nothing, and it draws what the user
asked for: a tqdm progress bar (``verbose=1``, or inside :func:`show_progress`), or one
printed line per iteration (``verbose >= 2``). It also forwards each iteration to
scikit-learn's callbacks (:mod:`celr._callbacks`), when the estimator has some.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
from tqdm import tqdm

from celr.solvers._base import IterationInfo, SolverResult

_PROGRESS_DELAY: ContextVar[float | None] = ContextVar("celr_progress_delay", default=None)


@contextmanager
def show_progress(delay: float = 1.0) -> Iterator[None]:
    """Show a progress bar for every celr fit inside the block that runs over ``delay`` s.

    For applications (the ``celr`` command line tool): a short fit prints nothing, a
    long one shows its iterations, objective and optimality measure on stderr.

    Parameters
    ----------
    delay : float, default=1.0
        Seconds a fit runs before its bar appears.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from celr import CrossEntropyLogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> with show_progress(delay=1.0):  # a fit of milliseconds: no bar
    ...     clf = CrossEntropyLogisticRegression().fit(X, y)
    """
    token = _PROGRESS_DELAY.set(float(delay))
    try:
        yield
    finally:
        _PROGRESS_DELAY.reset(token)


class FitMonitor:
    """The callback of one fit: progress display and the best weights seen so far.

    Parameters
    ----------
    coef0 : ndarray
        The starting point, kept in case the fit is interrupted before one iteration.
    verbose : int
        0: quiet (unless inside :func:`show_progress`); 1: a progress bar; 2 or more: a
        printed line per iteration.
    description : str
        The bar's label (e.g. the solver's name).
    unit : str
        What one step is ("iter" or "epoch").
    tasks : callable, optional
        Called with each :class:`IterationInfo` after the monitor's own book-keeping, and
        its ``close()`` at the end: the fit's scikit-learn callback sub-tasks
        (:class:`celr._callbacks.IterationTasks`).
    """

    def __init__(
        self, coef0: np.ndarray, verbose: int, description: str, unit: str, tasks=None
    ) -> None:
        self.best_coef = np.array(coef0, dtype=np.float64)
        self.best_objective = np.inf
        self.best_stop_crit = np.nan
        self.history: list[float] = []
        self.n_iter = 0
        self.verbose = verbose
        self.tasks = tasks
        delay = 0.0 if verbose == 1 else _PROGRESS_DELAY.get()
        self.bar = None
        if delay is not None and verbose < 2:
            # A bar asked for stays; one an application shows for long fits goes.
            self.bar = tqdm(
                desc=f"celr {description}",
                unit=unit,
                delay=delay,
                leave=verbose == 1,
                file=sys.stderr,
            )

    def __call__(self, info: IterationInfo) -> None:
        self.n_iter = info.n_iter
        self.history.append(info.objective)
        # Solvers may update their iterate in place: a copy survives an interrupt.
        if not info.objective > self.best_objective:
            self.best_objective = info.objective
            self.best_coef = np.array(info.coef, dtype=np.float64)
            self.best_stop_crit = info.stop_crit
        if self.bar is not None:
            self.bar.update(1)
            postfix = {"objective": f"{info.objective:.10g}"}
            if np.isfinite(info.stop_crit):
                postfix["optimality"] = f"{info.stop_crit:.2e}"
            self.bar.set_postfix(postfix, refresh=False)
        elif self.verbose >= 2:
            measured = ""
            if np.isfinite(info.stop_crit):
                measured = f"  gradient max-norm {info.stop_crit:.3e}"
            print(f"[celr] iter {info.n_iter:4d}  objective {info.objective:.12g}{measured}")
        if self.tasks is not None:
            self.tasks(info)

    def interrupted_result(self) -> SolverResult:
        """The best point seen, as the result of a fit stopped by Ctrl-C."""
        return SolverResult(
            coef=self.best_coef,
            n_iter=self.n_iter,
            converged=False,
            stop_crit=self.best_stop_crit,
            history=self.history,
            interrupted=True,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.tasks is not None:
            self.tasks.close()
