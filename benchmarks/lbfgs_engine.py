"""celr's smooth L-BFGS fit on its own compact-form engine against scipy's L-BFGS-B.

``solver='lbfgs'`` minimises a smooth objective with :mod:`celr.solvers._compact_lbfgs`;
before that it called scipy's L-BFGS-B with the same history, ftol and callback. Here the
two engines alternate in one process on the same problem (scipy's is put back into
:mod:`celr.solvers.lbfgs` for its fits), ``--repeats`` pairs of fits, and the table gives
each engine's median time, iterations and evaluations of the data term, and the median of
the per-pair time ratios (scipy / own): back-to-back pairs, because this host's speed
drifts by more than the effect between batches.

    python benchmarks/lbfgs_engine.py                       # P3 both ways, P3-C100, P5b
    python benchmarks/lbfgs_engine.py --problems P2 --repeats 5
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from problems import build_problem
from report import markdown_table, text_table, write_atomic
from scipy.optimize import minimize

import celr.solvers.lbfgs as lbfgs_module
from celr import CrossEntropyLogisticRegression

HEADER = [
    "problem", "b", "own median", "L-BFGS-B median", "ratio (median of pairs)",
    "iterations own / L-BFGS-B", "evaluations own / L-BFGS-B",
]  # fmt: skip
OWN = lbfgs_module.minimize_lbfgs


def scipy_engine(fun_grad, x0, *, history_size, max_iter, ftol, on_iteration):
    """The engine before: scipy's L-BFGS-B, unbounded, stopped by ``on_iteration``."""

    def callback(intermediate_result):
        if on_iteration(intermediate_result.x):
            raise StopIteration

    options = {"maxiter": max_iter, "maxcor": history_size, "ftol": ftol, "gtol": 0.0}
    minimize(fun_grad, x0, jac=True, method="L-BFGS-B", callback=callback, options=options)


def timed_fit(engine, problem, fit_intercept: bool, tol: float):
    """One fit with ``engine``: seconds, iterations and evaluations of the data term."""
    lbfgs_module.minimize_lbfgs = engine
    evaluations = 0
    original = lbfgs_module._InU.value_and_grad

    def counted(self, u):
        nonlocal evaluations
        evaluations += not self._is_last(u)
        return original(self, u)

    lbfgs_module._InU.value_and_grad = counted
    try:
        model = CrossEntropyLogisticRegression(
            C=problem.C, fit_intercept=fit_intercept, tol=tol, solver="lbfgs"
        )
        start = time.perf_counter()
        model.fit(problem.X, problem.y)
        seconds = time.perf_counter() - start
    finally:
        lbfgs_module.minimize_lbfgs = OWN
        lbfgs_module._InU.value_and_grad = original
    return seconds, model.n_iter_, evaluations


def run(name: str, fit_intercept: bool, repeats: int, tol: float) -> list[str]:
    problem = build_problem(name)
    timed_fit(OWN, problem, fit_intercept, tol)  # warm caches and thread pools
    own, theirs = [], []
    for _ in range(repeats):
        own.append(timed_fit(OWN, problem, fit_intercept, tol))
        theirs.append(timed_fit(scipy_engine, problem, fit_intercept, tol))
    ratios = [t[0] / o[0] for o, t in zip(own, theirs, strict=True)]
    median = lambda fits: float(np.median([f[0] for f in fits]))  # noqa: E731
    return [
        name, str(int(fit_intercept)), f"{median(own):.3f} s", f"{median(theirs):.3f} s",
        f"{np.median(ratios):.2f}x", f"{own[-1][1]} / {theirs[-1][1]}",
        f"{own[-1][2]} / {theirs[-1][2]}",
    ]  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=["P3", "P3-C100", "P5b"])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    rows = []
    for name in args.problems:
        for fit_intercept in (True, False):
            rows.append(run(name, fit_intercept, args.repeats, args.tol))
            print(text_table(HEADER, rows[-1:]), flush=True)
    table = markdown_table(HEADER, rows)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    title = f"# solver='lbfgs' (tol {args.tol:g}): own compact L-BFGS against L-BFGS-B\n\n"
    write_atomic(args.out / "lbfgs_engine.md", title + table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
