"""Time celr against scikit-learn, glum, skglm and statsmodels on DESIGN.md's objective.

Usage::

    python benchmarks/run.py [--quick] [--problems P1 P1s ...] [--contenders celr ...]
                             [--repeats N] [--scale F] [--out DIR] [--timeout S]
                             [--sweep-budget S] [--no-sweep] [--list]

Per problem: build the data (parent process), time one plain-numpy value+gradient, fit the
reference optimum (celr Newton, tol=1e-12), then run every contender, one at a time, each
in its own forked child (harness.py): default settings and tight settings ``--repeats``
times, then a tolerance sweep. Every solution is re-scored with objective.py's f; the gap
is ``(f - f*) / f*`` with f* the lowest f anyone reached. Tables are printed and written
to ``DIR/latest.md`` and ``DIR/latest.json`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import math
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
from contenders import CONTENDERS, QUICK_CONTENDERS, REFERENCE, REFERENCE_NO_INTERCEPT
from harness import Job, Outcome, Worker, memory_method
from objective import describe_data, gradient_time, objective_value
from problems import FULL_SUITE, PROBLEMS, QUICK_SUITE, build_problem
from report import (
    COLUMNS,
    SUMMARY_COLUMNS,
    environment,
    environment_lines,
    problem_header,
    problem_rows,
    summary_rows,
    text_table,
    write_outputs,
)
from scoring import GAP_LEVELS, finalise

FULL_SWEEP = tuple(10.0**-k for k in range(1, 10))  # 1e-1 .. 1e-9; tight is 1e-10
QUICK_SWEEP = (1e-2, 1e-4, 1e-6, 1e-8)
RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Config:
    """What to run and the limits to run it under."""

    problems: list
    contenders: list
    repeats: int
    scale: float
    timeout: float
    reference_timeout: float
    sweep_tols: tuple
    sweep_budget: float
    out: Path
    hessian_limit: float

    def text(self) -> str:
        """One line for the report."""
        sweep = (
            f"tolerance sweep {', '.join(f'{t:g}' for t in self.sweep_tols)} "
            f"(budget {self.sweep_budget:g} s per contender and problem)"
            if self.sweep_tols
            else "no tolerance sweep"
        )
        return (
            f"scale {self.scale:g}, {self.repeats} repeat(s), time limit {self.timeout:g} s per "
            f"fit (reference {self.reference_timeout:g} s), {sweep}"
        )


def parse_args(argv=None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small suite, < 3 minutes")
    parser.add_argument("--problems", nargs="+", choices=sorted(PROBLEMS), metavar="P")
    parser.add_argument("--contenders", nargs="+", choices=list(CONTENDERS), metavar="C")
    parser.add_argument("--repeats", type=int, help="timed fits per setting (3; quick 1)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every n_samples")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="output directory")
    parser.add_argument("--timeout", type=float, help="seconds per fit (120; quick 15)")
    parser.add_argument("--reference-timeout", type=float, help="seconds (1800; quick 120)")
    parser.add_argument("--sweep-budget", type=float, help="seconds per sweep (240; quick 10)")
    parser.add_argument("--no-sweep", action="store_true", help="skip the tolerance sweep")
    parser.add_argument("--list", action="store_true", help="list problems and contenders")
    return parser.parse_args(argv)


def make_config(args: argparse.Namespace) -> Config:
    """Defaults of the full suite, or of --quick, overridden by explicit options."""
    quick = args.quick
    sweep = () if args.no_sweep else (QUICK_SWEEP if quick else FULL_SWEEP)
    return Config(
        problems=args.problems or (QUICK_SUITE if quick else FULL_SUITE),
        contenders=args.contenders or (QUICK_CONTENDERS if quick else list(CONTENDERS)),
        repeats=args.repeats or (1 if quick else 3),
        scale=args.scale,
        timeout=args.timeout or (15.0 if quick else 120.0),
        reference_timeout=args.reference_timeout or (120.0 if quick else 1800.0),
        sweep_tols=sweep,
        sweep_budget=args.sweep_budget or (10.0 if quick else 240.0),
        out=args.out,
        hessian_limit=min(4e9, 0.25 * psutil.virtual_memory().total),
    )


def import_libraries() -> None:
    """Import every library once in the parent: children inherit them, untimed."""
    modules = ("celr", "glum", "skglm.solvers", "sklearn.linear_model", "statsmodels.api")
    for module in (*modules, "snapml", "liblinear.liblinearutil"):
        importlib.import_module(module)


# -- fits ---------------------------------------------------------------------------------
def make_record(job: Job, outcome: Outcome, problem) -> dict:
    """A JSON-able record of one fit, with the solution re-scored by objective.py."""
    record = {
        "setting": job.setting,
        "tol": job.tol,
        "status": outcome.status,
        "time": outcome.time,
        "message": outcome.message,
        "warnings": outcome.warnings,
        "peak_mb": None if outcome.peak_bytes is None else outcome.peak_bytes / 1e6,
    }
    if outcome.status == "ok":
        out = outcome.output
        record["n_iter"] = out.n_iter
        record["info"] = out.info
        record["f"] = objective_value(problem.X, problem.y, out.coef, out.intercept, problem.C)
    return record


def provisional_gap(f: float | None, f_ref: float | None) -> float | None:
    """Gap against the reference alone (f* is only known once every contender ran).

    ``f_ref = 0`` stands for separable data (infimum 0): the gap is then f itself.
    """
    if f is None or f_ref is None:
        return None
    return f if f_ref <= 0 else (f - f_ref) / f_ref


def _progress(name: str, record: dict, f_ref: float | None) -> None:
    tol = "" if record["tol"] is None else f" tol={record['tol']:g}"
    if record["status"] == "ok":
        gap = provisional_gap(record["f"], f_ref)
        gap_text = "" if gap is None else f"  gap~{gap:.1e}"
        detail = f"{record['time']:.3g} s  {record['n_iter']} it{gap_text}"
    else:
        detail = f"{record['status']}: {record['message']}"
    print(f"    {name:<20} {record['setting']:<8}{tol:<11} {detail}", flush=True)


def run_settings(worker: Worker, problem, cfg: Config, name: str, f_ref) -> list[dict]:
    """Default then tight settings, ``cfg.repeats`` each (no more repeats after a failure)."""
    fits = []
    for setting in ("default", "tight"):
        if setting == "tight" and all(f["status"] == "timeout" for f in fits):
            skipped = Outcome("skipped", message="default settings exceeded the limit")
            fits.append(make_record(Job("tight", tight=True), skipped, problem))
            continue
        for _ in range(cfg.repeats):
            job = Job(setting, tight=setting == "tight")
            record = make_record(job, worker.run(job, cfg.timeout), problem)
            fits.append(record)
            _progress(name, record, f_ref)
            if record["status"] != "ok":
                break
    return fits


def best_time_to(level: float, fits: list[dict], f_ref) -> float:
    """Fastest fit so far whose provisional gap is at most ``level`` (inf if none)."""
    gaps = [(f["time"], provisional_gap(f["f"], f_ref)) for f in fits if f["status"] == "ok"]
    return min((t for t, gap in gaps if gap is not None and gap <= level), default=math.inf)


def run_sweep(worker: Worker, problem, cfg: Config, name: str, f_ref, done: list) -> list[dict]:
    """Tight max_iter with tol from loose to strict, to time each gap level.

    ``done`` are the fits already run (default, tight). Stops at the first failure or
    time-out, once a fit reaches the last level, or when the sweep budget is spent. Once
    some fit reached the last level in time T, a sweep fit still running after T cannot
    improve any time-to-gap: it is stopped there, and so is the sweep. Two fits in a row
    that end at the same point (both at max_iter, say) stop it too.
    """
    fits, budget = [], cfg.sweep_budget
    for tol in cfg.sweep_tols:
        if budget < 0.5:
            break
        useful = best_time_to(min(GAP_LEVELS), done + fits, f_ref)
        limit = min(cfg.timeout, budget, useful)
        job = Job("sweep", tol=tol, tight=True)
        outcome = worker.run(job, limit)
        record = make_record(job, outcome, problem)
        if outcome.status == "timeout" and limit == useful:
            record["message"] = f"stopped at {limit:.3g} s: a faster fit reached every level"
        fits.append(record)
        _progress(name, record, f_ref)
        budget -= outcome.time if outcome.time is not None else limit
        if record["status"] != "ok":
            break
        gap = provisional_gap(record["f"], f_ref)
        if (gap is not None and gap <= min(GAP_LEVELS)) or _stalled(fits):
            break
    return fits


def _stalled(fits: list[dict]) -> bool:
    """The last two sweep fits ended at the same point (e.g. both at max_iter)."""
    if len(fits) < 2 or fits[-2]["status"] != "ok":
        return False
    last, before = fits[-1], fits[-2]
    return last["n_iter"] == before["n_iter"] and last["f"] == before["f"]


def run_contender(problem, contender, cfg: Config, f_ref) -> dict:
    """All fits of one contender on one problem (or why it was skipped)."""
    entry = {
        "name": contender.name,
        "skipped": contender.skip_reason(problem, cfg.hessian_limit),
        "fit_intercept": contender.fit_intercept,
    }
    if entry["skipped"]:
        print(f"    {contender.name:<20} skipped: {entry['skipped']}", flush=True)
        return entry
    worker = Worker(problem, contender, warmup_timeout=max(cfg.timeout, 120.0))
    try:
        fits = run_settings(worker, problem, cfg, contender.name, f_ref)
        fits += run_sweep(worker, problem, cfg, contender.name, f_ref, fits)
    finally:
        worker.close()
    entry.update(fits=fits, warmup_seconds=worker.warmup_seconds)
    return entry


def run_reference(problem, cfg: Config, reference=REFERENCE) -> dict:
    """celr Newton at tol=1e-12 on float64 data: the reference optimum."""
    worker = Worker(problem, reference, warmup_timeout=max(cfg.reference_timeout, 120.0))
    try:
        job = Job("reference")
        record = make_record(job, worker.run(job, cfg.reference_timeout), problem)
    finally:
        worker.close()
    record["separable"] = any(w.startswith("SeparationWarning") for w in record["warnings"])
    if record["status"] == "ok":
        record["stop_crit"] = record["info"].get("stop_crit_")
    _progress(reference.name, record, None)
    return record


# -- a problem ----------------------------------------------------------------------------
def bench_problem(name: str, cfg: Config) -> dict:
    """Build one problem, run the reference and every contender, return its results."""
    start = time.perf_counter()
    problem = build_problem(name, cfg.scale)
    print(f"\n== {name}: {problem.description} (built in {time.perf_counter() - start:.1f} s)")
    t_grad = gradient_time(problem.X, problem.y, problem.n_classes)
    print(f"   one value+gradient: {t_grad * 1e3:.3g} ms", flush=True)
    result = {
        "name": name,
        "description": problem.description,
        "C": problem.C,
        "n_classes": problem.n_classes,
        "data": describe_data(problem.X),
        "gradient_time": t_grad,
        "warnings": [],
    }
    result["reference"] = run_reference(problem, cfg)
    result["separable"] = result["reference"]["separable"]
    without = [CONTENDERS[c] for c in cfg.contenders if not CONTENDERS[c].fit_intercept]
    if any(c.skip_reason(problem, cfg.hessian_limit) is None for c in without):
        result["reference_no_intercept"] = run_reference(problem, cfg, REFERENCE_NO_INTERCEPT)
    result["contenders"] = []
    for name in cfg.contenders:
        contender = CONTENDERS[name]
        ref = result.get("reference" if contender.fit_intercept else "reference_no_intercept")
        f_ref = None if ref is None else (0.0 if ref["separable"] else ref.get("f"))
        result["contenders"].append(run_contender(problem, contender, cfg, f_ref))
    finalise(result)
    result["seconds"] = time.perf_counter() - start
    return result


def print_problem(result: dict) -> None:
    """The problem's table on stdout."""
    print()
    print("\n".join(problem_header(result)))
    print(text_table(COLUMNS, problem_rows(result)), flush=True)


def list_choices() -> None:
    """--list: the problems and contenders."""
    print("problems:", ", ".join(PROBLEMS))
    print("  full suite:", " ".join(FULL_SUITE), "| quick:", " ".join(QUICK_SUITE))
    for c in CONTENDERS.values():
        print(f"  {c.name:<20} default: {c.default} | tight: {c.tight}")


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through the workers' ``finally: close()``


def main(argv=None) -> int:
    """Run the benchmark; returns the exit code."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = parse_args(argv)
    if args.list:
        list_choices()
        return 0
    cfg = make_config(args)
    start = time.perf_counter()
    import_libraries()
    env = environment(memory_method())
    print("\n".join(environment_lines(env)))
    print("Settings:", cfg.text())
    contenders = [CONTENDERS[c] for c in cfg.contenders]
    run = {
        "environment": env,
        "settings": asdict(cfg) | {"out": str(cfg.out), "gap_levels": GAP_LEVELS},
        "settings_text": cfg.text(),
        "problems": [],
    }
    for name in cfg.problems:
        run["problems"].append(bench_problem(name, cfg))
        print_problem(run["problems"][-1])
        run["elapsed_seconds"] = time.perf_counter() - start
        write_outputs(cfg.out, run, contenders)
        gc.collect()
    print("\nSummary (time to reach gap 1e-8)")
    print(text_table(SUMMARY_COLUMNS, summary_rows(run["problems"])))
    print(f"\nWrote {cfg.out / 'latest.md'} and {cfg.out / 'latest.json'}")
    print(f"Total {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
