"""solver='auto' against the faster of 'newton' and 'lbfgs', over n_params 500 to 5,000.

Issue 20's sweep: dense standardised Gaussian data of 20,000 rows, C = 1, with and
without intercept, 2 and 3 classes; each fit timed end to end (``fit``), best of
``--repeats``, one process, one BLAS thread (as celr's fits hold it). Reported: each
solver's time, what 'auto' chose (``solver_``, and its iterations), and 'auto' over the
faster of the two. Also the measured constants of ``celr.solvers._cost`` (``--calibrate``).

    python benchmarks/auto_solver.py              # about five minutes
    python benchmarks/auto_solver.py --quick      # three sizes
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from report import markdown_table, text_table, write_atomic
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from celr import CrossEntropyLogisticRegression
from celr._objective import LogisticObjective
from celr.solvers._cost import ProblemShape

N_ROWS = 20_000


def data(n_features: int, n_classes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_ROWS, n_features))
    scores = X[:, :n_classes] * 2.0 + rng.gumbel(size=(N_ROWS, n_classes))
    return X, np.argmax(scores, axis=1)


def best_fit(X, y, solver: str, fit_intercept: bool, repeats: int):
    times = []
    for _ in range(repeats):
        model = CrossEntropyLogisticRegression(solver=solver, fit_intercept=fit_intercept)
        start = time.perf_counter()
        model.fit(X, y)
        times.append(time.perf_counter() - start)
    return min(times), model


def sweep(sizes, repeats: int) -> list[list[str]]:
    rows = []
    for n_classes in (2, 3):
        n_scores = 1 if n_classes == 2 else n_classes
        for fit_intercept in (True, False):
            for n_params in sizes:
                d = n_params // n_scores - fit_intercept
                X, y = data(d, n_classes)
                shape = ProblemShape.of(X, n_classes, fit_intercept)
                newton, _ = best_fit(X, y, "newton", fit_intercept, repeats)
                lbfgs, _ = best_fit(X, y, "lbfgs", fit_intercept, repeats)
                auto, model = best_fit(X, y, "auto", fit_intercept, repeats)
                rows.append([
                    str(n_classes), "yes" if fit_intercept else "no", f"{shape.n_params:,}",
                    f"{shape.hessian_gradients():.1f}", f"{newton:.3f}", f"{lbfgs:.3f}",
                    f"{auto:.3f}", f"{model.solver_} ({model.n_iter_})",
                    f"{auto / min(newton, lbfgs):.2f}",
                ])  # fmt: skip
                print(" | ".join(rows[-1]), flush=True)
    return rows


def calibrate() -> list[list[str]]:
    """Seconds per unit of _cost's model, measured on this machine."""
    rng = np.random.default_rng(0)
    rows = []
    for n_classes, d in ((2, 500), (2, 2000), (3, 1000)):
        X = rng.standard_normal((N_ROWS, d))
        y = rng.integers(0, n_classes, N_ROWS)
        objective = LogisticObjective(X, y, np.ones(N_ROWS), n_classes, True)
        coef = np.full(objective.n_params, 0.01)
        shape = ProblemShape.of(X, n_classes, True)
        start = time.perf_counter()
        objective.value_grad(coef)
        gradient = time.perf_counter() - start
        start = time.perf_counter()
        objective.hessian(coef)
        hessian = time.perf_counter() - start
        rows.append([
            f"{n_classes}", f"{d}", f"{gradient:.4f}", f"{shape.gradient_seconds():.4f}",
            f"{hessian:.3f}", f"{shape.hessian_seconds():.3f}",
        ])  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    sizes = (500, 2000, 5000) if args.quick else (500, 1000, 1500, 2000, 2500, 3000, 4000, 5000)
    warnings.simplefilter("ignore", ConvergenceWarning)
    header = ["classes", "intercept", "n_params", "Hessian/gradient", "newton s", "lbfgs s",
              "auto s", "auto chose (iterations)", "auto / faster"]  # fmt: skip
    with threadpool_limits(1):
        rows = sweep(sizes, 1 if args.quick else args.repeats)
        calibration = calibrate()
    calibration_header = ["classes", "d", "gradient s", "predicted", "Hessian s", "predicted"]
    print(text_table(header, rows))
    print(text_table(calibration_header, calibration))
    if not args.quick:
        worst = max(float(row[-1]) for row in rows)
        text = (
            f"# solver='auto' over n_params (20,000 rows, dense standardised, C=1)\n\n"
            f"`python benchmarks/auto_solver.py`; worst auto / faster: {worst:.2f}\n\n"
            + markdown_table(header, rows)
            + "\n\nThe cost model's constants against a measurement (celr.solvers._cost):\n\n"
            + markdown_table(calibration_header, calibration)
            + "\n"
        )
        write_atomic(args.out / "auto_solver.md", text)


if __name__ == "__main__":
    main()
