"""celr's default fit in float32 against float64 on the same problem, side by side.

The issue's goal is a ratio of two celr fits (float64 time / float32 time), which
``run.py`` measures in separate forked children minutes apart: on a shared host the two
drift by more than the effect. Here the two fits alternate in one process, ``--repeats``
times each, and the ratio of the best and of the median times is reported, with each
fit's relative objective gap to the float64 fit (float32 data stops at its own rounding).

    python benchmarks/float32.py                 # P1s and P3, about two minutes
    python benchmarks/float32.py --problems P1s  # one problem
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from objective import objective_value
from problems import build_problem
from report import markdown_table, text_table, write_atomic

from celr import CrossEntropyLogisticRegression

HEADER = [
    "problem", "float64 best", "float64 median", "float32 best", "float32 median",
    "ratio of best", "ratio of medians", "float32 gap to float64",
]  # fmt: skip


def run(name: str, repeats: int) -> list[str]:
    problems = {bits: build_problem(name if bits == 64 else f"{name}-f32") for bits in (64, 32)}
    seconds: dict[int, list[float]] = {64: [], 32: []}
    models = {}
    for _ in range(repeats):
        for bits, problem in problems.items():
            start = time.perf_counter()
            models[bits] = CrossEntropyLogisticRegression(C=problem.C, tol=1e-8).fit(
                problem.X, problem.y
            )
            seconds[bits].append(time.perf_counter() - start)
    wide = problems[64]
    values = {
        bits: objective_value(wide.X, wide.y, model.coef_, model.intercept_, wide.C)
        for bits, model in models.items()
    }
    best = {bits: min(times) for bits, times in seconds.items()}
    median = {bits: float(np.median(times)) for bits, times in seconds.items()}
    return [
        name, f"{best[64]:.3f} s", f"{median[64]:.3f} s", f"{best[32]:.3f} s",
        f"{median[32]:.3f} s", f"{best[64] / best[32]:.2f}x", f"{median[64] / median[32]:.2f}x",
        f"{(values[32] - values[64]) / values[64]:.1e}",
    ]  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=["P1s", "P3"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    rows = []
    for name in args.problems:
        rows.append(run(name, args.repeats))
        print(text_table(HEADER, rows[-1:]), flush=True)
    table = markdown_table(HEADER, rows)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(
        args.out / "float32.md", "# float32 against float64, one process\n\n" + table + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
