"""celr against adelie (and celer without intercept) on ``l1.py``'s sparse problem only.

``l1.py`` runs every peer on three data sets (saga alone takes minutes); this runs the
fastest peers of its sparse tf-idf problem (100k x 100k, C = 1), in one process, one BLAS
thread as ``l1.py`` does, with the same adapters: L1 and elastic net 0.5 with an
intercept, L1 without. Gaps are relative to celr at ``tol=1e-12``. Needs adelie and
celer (``benchmarks/README.md``, "Running it": the numpy < 2 environment).

    python benchmarks/l1_sparse.py
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from l1 import N_FEATURES, SPARSE_ROWS, C, celr_fit
from l1_peers import adelie_fit, celer_fit
from problems import text_like

REPEATS = 2
# (l1_ratio, fit_intercept): the sparse cases of l1.py.
CASES = [(1.0, True), (0.5, True), (1.0, False)]


def objective(X, y, coef, intercept, l1_ratio: float, fit_intercept: bool) -> float:
    """Mean cross-entropy plus the elastic net over ``C n``, as ``l1.py`` scores it."""
    z = X @ np.ravel(coef) + (intercept[0] if fit_intercept else 0.0)
    w = np.ravel(coef)
    penalty = (l1_ratio * np.abs(w).sum() + (1 - l1_ratio) / 2 * (w @ w)) / (C * len(y))
    return float(np.mean(np.logaddexp(0, z) - y * z) + penalty)


def main() -> None:
    warnings.simplefilter("ignore")
    X, y, description = text_like(SPARSE_ROWS, N_FEATURES)(1.0)
    y = np.asarray(y, dtype=np.int64)
    print(f"{description}; C = {C:g}; best of {REPEATS}; one BLAS thread", flush=True)
    with threadpool_limits(1, user_api="blas"):
        for l1_ratio, fit_intercept in CASES:
            reference = celr_fit(l1_ratio, fit_intercept, max_iter=10_000)(X, y, C, tol=1e-12)
            f_star = objective(X, y, reference.coef, reference.intercept, l1_ratio, fit_intercept)
            runs = [
                ("celr", celr_fit(l1_ratio, fit_intercept), (1e-4, 1e-6)),
                ("adelie", adelie_fit(l1_ratio, fit_intercept), (1e-5, 1e-7)),
            ]
            if not fit_intercept:  # celer fits no intercept
                runs.append(("celer", celer_fit(l1_ratio, fit_intercept), (1e-4, 1e-6)))
            for name, fit, tols in runs:
                for tol in tols:
                    times = []
                    for _ in range(REPEATS):
                        start = time.perf_counter()
                        out = fit(X, y, C, tol=tol)
                        times.append(time.perf_counter() - start)
                    f = objective(X, y, out.coef, out.intercept, l1_ratio, fit_intercept)
                    print(
                        f"l1_ratio={l1_ratio:g} b={'fit' if fit_intercept else 0} "
                        f"{name:7s} tol={tol:g} best {min(times):.3f} s "
                        f"gap {(f - f_star) / abs(f_star):.1e}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
