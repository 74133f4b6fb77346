"""How many threads celr may use, and the BLAS thread limit around fits.

A fit runs BLAS with one thread (its parallelism is its own row blocks, see
:mod:`celr._parallel`) and must leave the process as it found it, whatever runs beside
it. OpenBLAS's limit is process-wide, so threadpoolctl's ``limit`` context cannot do
this for fits in several Python threads at once: each saves the limit it finds on entry
and restores it on exit, so a fit that starts while another holds the limit at 1 saves
1, and restores 1 if it ends last (issue 15: four fits in a ``ThreadPoolExecutor`` left
every later numpy call single-threaded).

:func:`one_blas_thread` is one process-wide hold instead, counted under a lock: the first
fit to enter records every BLAS library's limit and sets 1, later ones only count, and
the last to leave restores the recorded limits, from whichever thread it runs in. It
restores a library only if its limit is still the 1 it set: a limit someone else changed
meanwhile (another library's ``threadpool_limits`` ending) is theirs, and stays.

threadpoolctl >= 3.8 lets only one "controlling" thread change OpenBLAS's limit (calls
from other threads do nothing) until that thread leaves its ``threadpool_limits``. celr
leaves that as it found it: it sets the limit, and hands control back if it took it. So
while a caller's ``threadpool_limits`` is open in another thread, fits there run under
the caller's limit, not one thread.

:func:`thread_budget` is the caller's: BLAS's limit as the caller set it (one per worker
in ``GridSearchCV(n_jobs=...)``, set by joblib), or the limits recorded by the first fit
while fits hold theirs, not the 1 they set.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import threading
from collections.abc import Iterator

import threadpoolctl
from threadpoolctl import ThreadpoolController


@functools.cache
def blas_controller() -> ThreadpoolController:
    """One controller for the process: building one scans the loaded libraries (~2 ms)."""
    return ThreadpoolController()


def _blas_libraries() -> list:
    return [lib for lib in blas_controller().lib_controllers if lib.user_api == "blas"]


_lock = threading.Lock()
# Open one_blas_thread() contexts per thread (an ident), and what the first one found.
_holds: collections.Counter[int] = collections.Counter()
_original_limits: list[int | None] = []


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with one BLAS thread; the last block to end (of those running at
    once, in any threads) restores the limits the first one found."""
    global _original_limits
    ident = threading.get_ident()
    with _lock:
        if not _holds:
            libraries = _blas_libraries()
            _original_limits = [lib.num_threads for lib in libraries]
            _set_limits(libraries, [1] * len(libraries))
        _holds[ident] += 1
    try:
        yield
    finally:
        with _lock:
            _holds[ident] -= 1
            if not _holds[ident]:
                del _holds[ident]
            if not _holds:
                _restore_limits()


def thread_budget() -> int:
    """Threads a fit may use: as many as BLAS may, so that limits set by the caller or by
    joblib (one per worker in GridSearchCV(n_jobs=...)) hold for celr's threads too.

    While fits hold BLAS at one thread, the limit they found, not their 1.
    """
    with _lock:
        if _holds:
            budgets = _original_limits
        else:
            budgets = [lib.num_threads for lib in _blas_libraries()]
    return max((budget for budget in budgets if budget), default=1)


def _restore_limits() -> None:
    """Put back the limits the first hold found, where they are still its 1."""
    libraries = _blas_libraries()
    restore = [
        (lib, limit)
        for lib, limit in zip(libraries, _original_limits, strict=True)
        if limit is not None and lib.num_threads == 1
    ]
    _set_limits([lib for lib, _ in restore], [limit for _, limit in restore])


def _set_limits(libraries: list, limits: list[int]) -> None:
    """Set each library's limit, leaving threadpoolctl's controlling thread as it was."""
    openblas = getattr(threadpoolctl, "OpenBLASController", None)
    shared = getattr(openblas, "_SHARED_STATE", None)  # threadpoolctl >= 3.8 only
    before = getattr(shared, "controlling_thread", None)
    for lib, limit in zip(libraries, limits, strict=True):
        lib.set_num_threads(limit)
    # Setting made this thread the only one allowed to set OpenBLAS's limit if no live
    # thread was: hand that back, or no other thread (the next fit to leave last, a
    # caller's threadpool_limits) could change the limit again.
    took_control = before is None or not before.is_alive()
    if took_control and getattr(shared, "controlling_thread", None) is threading.current_thread():
        openblas.clear_controlling_thread()


def _after_fork_in_child() -> None:
    """Only the forking thread lives on in a child: drop the other threads' holds (the
    lock may have been held by one of them), and restore the limits if none is left."""
    global _lock
    _lock = threading.Lock()
    own = _holds.pop(threading.get_ident(), 0)
    others = bool(_holds)
    _holds.clear()
    if own:
        _holds[threading.get_ident()] = own
    elif others:
        _restore_limits()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)
