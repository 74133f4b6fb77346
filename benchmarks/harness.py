"""One contender's fits in a forked child process: time limit, wall time, peak memory.

The parent builds the problem, then forks one child per (problem, contender). The child
inherits the data (copy-on-write, never pickled), warms the contender up on the first 300
rows (imports, JIT compilation, thread pools: not timed), then runs the fits the parent
sends it, one at a time. A fit that is not back within the time limit is killed with its
child; the next fit starts a fresh child.

Peak memory is measured in the child: the kernel's high-water mark of the resident set
(``VmHWM``, reset through ``/proc/self/clear_refs`` just before the fit) minus the
resident set just before the fit, so it counts every page the fit touched that was not
resident already (copies of X, Hessians, temporaries), whoever allocated it, and costs
nothing during the fit. Where ``clear_refs`` is not writable, a thread samples psutil's
RSS every 5 ms instead.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import resource
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field

import psutil

WARMUP_ROWS = 300
_SHARED: dict = {}  # what the child needs, set by the parent just before forking


@dataclass(frozen=True)
class Job:
    """One fit: ``tol=None, tight=False`` are the library defaults."""

    setting: str
    tol: float | None = None
    tight: bool = False


@dataclass
class Outcome:
    """What came back from one fit."""

    status: str  # 'ok', 'timeout', 'error' or 'skipped'
    time: float | None = None
    output: object = None  # contenders.FitOutput when ok
    peak_bytes: int | None = None
    warnings: list = field(default_factory=list)
    message: str = ""


# -- memory -------------------------------------------------------------------------------
def _status_bytes(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _reset_high_water_mark() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def memory_method() -> str:
    """How peak memory is measured on this machine (for the report)."""
    if _reset_high_water_mark():
        return "VmHWM (peak RSS, reset per fit) minus RSS before the fit"
    return "psutil RSS sampled every 5 ms in a thread, minus RSS before the fit"


class PeakMemory:
    """Peak extra resident memory of this process between ``start`` and ``stop``."""

    def start(self) -> None:
        """Release freed heap memory, then record the resident set as the baseline."""
        gc.collect()
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass
        self._hwm = _reset_high_water_mark()
        self._baseline = psutil.Process().memory_info().rss
        self._peak = self._baseline
        self._running = not self._hwm
        if self._running:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def _sample(self) -> None:
        process = psutil.Process()
        while self._running:
            self._peak = max(self._peak, process.memory_info().rss)
            time.sleep(0.005)

    def stop(self) -> int:
        """Peak resident bytes above the baseline."""
        if self._hwm:
            return max(0, _status_bytes("VmHWM") - self._baseline)
        self._running = False
        self._thread.join()
        return max(0, self._peak - self._baseline)


# -- the child ----------------------------------------------------------------------------
def _limit_address_space() -> None:
    """Make a runaway allocation a MemoryError in this child, not a machine-wide OOM kill."""
    limit = _status_bytes("VmSize") + int(0.85 * psutil.virtual_memory().available)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _summarise_warnings(caught) -> list[str]:
    counts: dict[str, list] = {}
    for item in caught:
        key = item.category.__name__
        counts.setdefault(key, [0, str(item.message).splitlines()[0][:160]])[0] += 1
    return [f"{key} x{n}: {message}" for key, (n, message) in counts.items()]


def _fit_once(contender, problem, job: Job) -> Outcome:
    memory = PeakMemory()
    memory.start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        try:
            output = contender.fit(problem.X, problem.y, problem.C, tol=job.tol, tight=job.tight)
        except Exception as exc:  # a failing library is a result, not a crash
            elapsed = time.perf_counter() - start
            message = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            return Outcome("error", elapsed, message=message, peak_bytes=memory.stop())
        elapsed = time.perf_counter() - start
    return Outcome("ok", elapsed, output, memory.stop(), _summarise_warnings(caught))


def _warm_up(contender, problem) -> None:
    """One untimed default fit on the first rows (errors ignored: the real fit reports)."""
    rows = slice(0, WARMUP_ROWS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            contender.fit(problem.X[rows], problem.y[rows], problem.C)
        except Exception:
            pass


def _die_with_parent() -> None:
    """Linux: SIGKILL this child when the parent dies (no orphan keeps the CPU busy)."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _child_main(conn) -> None:
    _die_with_parent()
    problem, contender = _SHARED["problem"], _SHARED["contender"]
    _limit_address_space()
    start = time.perf_counter()
    _warm_up(contender, problem)
    conn.send(("ready", time.perf_counter() - start))
    while True:
        try:
            job = conn.recv()
        except EOFError:  # the parent went away
            return
        if job is None:
            return
        conn.send(_fit_once(contender, problem, job))


# -- the parent ---------------------------------------------------------------------------
class Worker:
    """A forked child that runs one contender's fits on one problem, one at a time."""

    def __init__(self, problem, contender, *, warmup_timeout: float = 600.0):
        self.problem = problem
        self.contender = contender
        self.warmup_timeout = warmup_timeout
        self._proc = None
        self._conn = None
        self.warmup_seconds: list[float] = []

    def _start(self) -> str | None:
        """Fork and warm up a child; an error message if that failed."""
        _SHARED.update(problem=self.problem, contender=self.contender)
        ctx = multiprocessing.get_context("fork")
        self._conn, child_conn = ctx.Pipe()
        self._proc = ctx.Process(target=_child_main, args=(child_conn,), daemon=True)
        self._proc.start()
        child_conn.close()
        _SHARED.clear()
        if not self._conn.poll(self.warmup_timeout):
            self._kill()
            return f"warm-up took more than {self.warmup_timeout:g} s"
        try:
            self.warmup_seconds.append(self._conn.recv()[1])
        except EOFError:
            code = self._proc.exitcode
            self._kill()
            return f"child died during warm-up (exit code {code})"
        return None

    def run(self, job: Job, timeout: float) -> Outcome:
        """Run one fit; kill the child if it is not back within ``timeout`` seconds."""
        if self._proc is None:
            failure = self._start()
            if failure:
                return Outcome("error", message=failure)
        self._conn.send(job)
        if not self._conn.poll(timeout + 0.5):
            self._kill()
            return Outcome("timeout", message=f"> {timeout:g} s")
        try:
            return self._conn.recv()
        except EOFError:
            self._proc.join(1)
            code = self._proc.exitcode
            self._kill()
            return Outcome("error", message=f"child died (exit code {code})")

    def _kill(self) -> None:
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join()
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def close(self) -> None:
        """Ask the child to exit; kill it if it does not."""
        if self._proc is not None:
            try:
                self._conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            self._proc.join(5)
        self._kill()
