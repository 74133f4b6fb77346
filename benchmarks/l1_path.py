"""A 100-point L1 regularisation path: ``celr.regularization_path`` against adelie and celer.

Every contender fits the same grid: celr's default L1 grid, 100 values of C log-spaced
from ``l1_min_c`` (all weights zero) up ``L1_GRID_DECADES`` decades, on l1.py's data
(with or without the intercept, as the objective fits it).
Per point the objective is l1.py's f at that C (``lambda = 1/(C n)`` for adelie; celer's
``alpha = 1/C`` on the summed loss is the same point); see ``l1_peers.py`` for the mappings.
celer fits no intercept, so it is compared with celr's path at ``fit_intercept=False``
(the ``b = 0`` rows), adelie with both.

Measured: the wall time of the whole path (one call, in a forked child after an untimed
warm-up on 300 rows, one BLAS thread as in l1.py), and its accuracy: per point, the gap
``(f_k - f_k*) / f_k*`` to the lowest f any path reached at that point, whose largest
value over the path is reported. Each contender runs a ladder of tolerances, loosest
first; the fastest path whose largest gap is at most ``TARGET_GAP`` counts.

The child times the path call alone, then scores every point itself and sends back only
the values, nnz counts and the time (harness.py's own timer would include the scoring).
Its warm-up runs a 3-point path over a quarter decade from the 300 rows' own
``l1_min_c``: the full grid on 300 rows of 100,000 columns goes deep into separable
territory, where celr's path takes more than the harness's 600 s warm-up limit.

    python benchmarks/l1_path.py               # the sparse 100,000 x 100,000 problem
    python benchmarks/l1_path.py --scale 0.1   # 10x fewer rows
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from contenders import FitOutput
from harness import Job, Worker, memory_method
from l1 import N_FEATURES, SPARSE_ROWS, Problem
from l1_peers import adelie_matrix, installed
from objective import objective_value
from problems import text_like
from report import (
    environment,
    environment_lines,
    fmt_gap,
    fmt_time,
    markdown_table,
    text_table,
    write_atomic,
)
from scipy import sparse
from threadpoolctl import threadpool_limits

N_POINTS = 100
TARGET_GAP = 1e-6
RESULTS_NAME = "l1_path.md"
WARMUP_POINTS = 3  # the warm-up's own short grid: l1_min_c of its 300 rows, up 1/4 decade


# Each path adapter makes the library's one path call and returns a function that unpacks
# its result into (coefs (n_points, d) dense or sparse, intercepts (n_points,), n_iter);
# the clock stops between the two, so the timed region is the path call alone.
def celr_path(X, y, grid, fit_intercept, tol):
    from celr import regularization_path

    path = regularization_path(
        X, y, Cs=grid, l1_ratio=1.0, fit_intercept=fit_intercept,
        tol=1e-8 if tol is None else tol,
    )  # fmt: skip
    return lambda: (path.coefs[:, 0, :], path.intercepts[:, 0], int(path.n_iter.sum()))


def adelie_path(X, y, grid, fit_intercept, tol):
    import adelie as ad

    tol = 1e-7 if tol is None else tol
    lmdas = 1.0 / (grid * X.shape[0])  # decreasing lambda = increasing C, adelie's order
    state = ad.grpnet(
        adelie_matrix(X),
        ad.glm.binomial(np.asarray(y, dtype=np.float64)),
        alpha=1.0,
        lmda_path=lmdas,
        intercept=fit_intercept,
        tol=tol,
        irls_tol=tol,
        early_exit=False,
        progress_bar=False,
        n_threads=1,
    )

    def unpack():
        _same_points("adelie", np.asarray(state.lmdas), lmdas)
        intercepts = np.asarray(state.intercepts, dtype=np.float64).reshape(-1)
        return sparse.csr_matrix(state.betas), intercepts, -1

    return unpack


def celer_path_fit(X, y, grid, fit_intercept, tol):
    from celer import celer_path

    signs = np.where(np.asarray(y) == np.max(y), 1.0, -1.0)
    alphas = 1.0 / grid  # celer sorts its alphas decreasing: increasing C, grid's order
    returned, coefs, _ = celer_path(
        X, signs, "logreg", alphas=alphas, tol=1e-4 if tol is None else tol
    )

    def unpack():
        _same_points("celer", np.asarray(returned), alphas)
        return np.asarray(coefs).T, np.zeros(len(alphas)), -1

    return unpack


def _same_points(library: str, returned: np.ndarray, asked: np.ndarray) -> None:
    """Fail loudly if a library's path is not at the asked penalties, in the asked order."""
    if returned.shape != asked.shape or not np.allclose(returned, asked, rtol=1e-10):
        raise RuntimeError(
            f"{library} returned {returned.size} path points that are not the "
            f"{asked.size} asked for (first {returned[:2]}, asked {asked[:2]})"
        )


@dataclass(frozen=True)
class PathContender:
    name: str
    path: object  # (X, y, grid, fit_intercept, tol) -> unpack
    ladder: tuple[float, ...]
    intercepts: tuple[bool, ...]
    module: str


CONTENDERS = [
    PathContender("celr", celr_path, (1e-4, 1e-6, 1e-8), (True, False), "celr"),
    PathContender("adelie", adelie_path, (1e-5, 1e-7, 1e-9), (True, False), "adelie"),
    PathContender("celer", celer_path_fit, (1e-4, 1e-6, 1e-8), (False,), "celer"),
]


def path_values(X, y, grid, coefs, intercepts) -> np.ndarray:
    """l1.py's f at every point of the path."""
    rows = (coefs[k].toarray() if sparse.issparse(coefs) else coefs[k][None, :] for k in
            range(len(grid)))  # fmt: skip
    return np.array(
        [
            objective_value(X, y, coef, intercepts[k : k + 1], C, 1.0)
            for k, (coef, C) in enumerate(zip(rows, grid, strict=True))
        ]
    )


def warmup_grid(X, y, fit_intercept: bool, grid: np.ndarray) -> np.ndarray:
    """A few points from where the warm-up rows' weights turn non-zero: the full grid on
    300 rows of 100,000 columns runs deep into separable territory and takes minutes."""
    from celr import l1_min_c

    low = l1_min_c(X, y, l1_ratio=1.0, fit_intercept=fit_intercept)
    if not np.isfinite(low):
        return grid[:WARMUP_POINTS]
    return np.geomspace(low, 10**0.25 * low, WARMUP_POINTS)


def path_fit(path, grid: np.ndarray, fit_intercept: bool):
    """A harness fit: the path call timed alone, then the objective at every point, in the
    child, so only small arrays go back through the pipe."""

    def fit(X, y, C, tol=None, tight=False):
        # tol is None only in the harness's untimed warm-up: every Job here carries one
        points = warmup_grid(X, y, fit_intercept, grid) if tol is None else grid
        start = time.perf_counter()
        unpack = path(X, y, points, fit_intercept, tol)
        elapsed = time.perf_counter() - start
        coefs, intercepts, n_iter = unpack()
        if coefs.shape != (len(points), X.shape[1]) or intercepts.shape != (len(points),):
            raise RuntimeError(f"path of shape {coefs.shape}, {intercepts.shape}")
        nnz = coefs.getnnz(axis=1) if sparse.issparse(coefs) else np.count_nonzero(coefs, 1)
        values = path_values(X, y, points, coefs, intercepts)
        info = {"path_time": elapsed, "values": values, "nnz": np.asarray(nnz)}
        return FitOutput(np.empty(0), np.empty(0), n_iter, info)

    return fit


def run(X, y, grid, fit_intercept: bool, timeout: float) -> list[dict]:
    """Every contender's ladder on one objective; gaps against the best f per point."""
    problem = Problem("path", X, y, float(grid[0]), 2, "", 1.0, fit_intercept)
    fits = []
    for contender in CONTENDERS:
        if fit_intercept not in contender.intercepts:
            continue
        if not installed(contender.module):
            fits.append({"name": contender.name, "status": "not installed"})
            continue
        fit = path_fit(contender.path, grid, fit_intercept)
        worker = Worker(problem, SimpleNamespace(fit=fit), warmup_timeout=timeout)
        for tol in contender.ladder:
            outcome = worker.run(Job(f"tol={tol:g}", tol), timeout)
            record = {"name": contender.name, "tol": tol, "status": outcome.status,
                      "time": outcome.time, "message": outcome.message}  # fmt: skip
            if outcome.status == "ok":
                info = outcome.output.info
                record.update(time=info["path_time"], values=info["values"], nnz=info["nnz"])
            fits.append(record)
            print(f"  {contender.name:<8} tol={tol:<8g} {outcome.status:<8} "
                  f"{fmt_time(record['time'])} {outcome.message[:200]}", flush=True)  # fmt: skip
            if outcome.status != "ok":
                break
        worker.close()
    done = [f for f in fits if "values" in f]
    if done:
        best = np.min([f["values"] for f in done], axis=0)
        for f in done:
            gaps = (f["values"] - best) / best
            f["max_gap"], f["median_gap"] = float(gaps.max()), float(np.median(gaps))
    return fits


HEADER = ["intercept", "contender", "setting", "status", "path time", "max gap", "median gap",
          "nnz at the last C", "fastest to max gap <= 1e-6", "note"]  # fmt: skip


def rows_of(fits: list[dict], fit_intercept: bool) -> list[list[str]]:
    label = "fitted" if fit_intercept else "b = 0"
    fastest = {}
    for f in fits:
        if f.get("max_gap", math.inf) <= TARGET_GAP:
            if f["name"] not in fastest or f["time"] < fastest[f["name"]]["time"]:
                fastest[f["name"]] = f
    rows = []
    for f in fits:
        if "tol" not in f:
            rows.append([label, f["name"], "-", f["status"], *["-"] * 5, ""])
            continue
        mark = "yes" if fastest.get(f["name"]) is f else ""
        rows.append([
            label, f["name"], f"tol={f['tol']:g}", f["status"], fmt_time(f["time"]),
            fmt_gap(f.get("max_gap")), fmt_gap(f.get("median_gap")),
            str(int(f["nnz"][-1])) if "nnz" in f else "-", mark, f["message"][:160],
        ])  # fmt: skip
    return rows


def peer_versions() -> str:
    """adelie's and celer's versions (report.environment does not list them)."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("adelie", "celer"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} not installed")
    return ", ".join(found)


def markdown(env, command, description, ranges, total, rows, complete: bool) -> str:
    """The results file."""
    status = "" if complete else " (incomplete: the run is still going or was stopped)"
    return "\n".join([
        "# A 100-point L1 regularisation path: celr vs adelie and celer", "",
        *[f"- {line}" for line in environment_lines(env)],
        f"- Peers: {peer_versions()}",
        f"- Command: `{command}` (run time {total / 60:.1f} min{status})",
        f"- Data: {description}; C on celr's default L1 grid ({ranges})",
        "- Gaps per point against the lowest f any path reached there; one BLAS thread, "
        "adelie n_threads=1, celer single-threaded; each path one call in a forked child "
        "after an untimed warm-up (a 3-point path on 300 rows); path time is that call "
        "alone (adelie's includes the CSR-to-CSC copy its matrix type needs).", "",
        markdown_table(HEADER, rows), "",
    ])  # fmt: skip


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the row count")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per path")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    from celr._path import c_grid

    X, y, description = text_like(SPARSE_ROWS, N_FEATURES)(args.scale)
    y = np.asarray(y, dtype=np.int64)
    grids = {b: c_grid(N_POINTS, X, y, l1_ratio=1.0, fit_intercept=b) for b in (True, False)}
    ranges = "; ".join(
        f"{'fitted' if b else 'b = 0'}: {g[0]:.4g} .. {g[-1]:.4g}" for b, g in grids.items()
    )
    print(f"{description}; C {ranges}, {N_POINTS} points")
    start = time.perf_counter()
    warnings.simplefilter("ignore")
    command = " ".join(["python benchmarks/l1_path.py", *argv])
    with threadpool_limits(1, user_api="blas"):
        env = environment(memory_method())
        rows = []
        for fit_intercept, grid in grids.items():
            new_rows = rows_of(run(X, y, grid, fit_intercept, args.timeout), fit_intercept)
            rows += new_rows
            print(text_table(HEADER, new_rows), flush=True)
            # written after each objective, so a run stopped later keeps what finished
            total = time.perf_counter() - start
            complete = fit_intercept is list(grids)[-1]
            text = markdown(env, command, description, ranges, total, rows, complete)
            write_atomic(args.out / RESULTS_NAME, text)
    print(f"wrote {args.out / RESULTS_NAME}; total {total:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
