"""L1 and elastic-net logistic regression: celr against six peers, from saga to adelie.

Every contender minimises, or is mapped onto, the same objective (n rows, unit weights)::

    f(W, b) = (1/n) sum_i CE_i + 1/(C n) ((1 - l1_ratio)/2 ||W||_2^2 + l1_ratio ||W||_1)

with the intercept unpenalised, binary (sigmoid) or multinomial (softmax) cross-entropy:

- celr ``CrossEntropyLogisticRegression(C, l1_ratio)``: f itself (solver='auto').
- scikit-learn ``LogisticRegression(solver='saga' | 'liblinear', C, l1_ratio)``:
  ``C n f``, same C. liblinear (L1 only, binary only) penalises the intercept: with
  ``intercept_scaling=100`` the intercept b costs ``|b| / 100`` in its L1 term, so its
  optimum is near f's, not on it.
- skglm ``SparseLogisticRegression(alpha, l1_ratio)``: mean log-loss
  ``+ alpha (l1_ratio ||w||_1 + (1 - l1_ratio)/2 ||w||^2)``: ``alpha = 1/(C n)``.
- glum ``GeneralizedLinearRegressor(family='binomial', alpha, l1_ratio)``: half the mean
  binomial deviance (the mean CE) plus the same elastic net: ``alpha = 1/(C n)``.
- celer (L1, no intercept: the ``(b = 0)`` case, f with b = 0, where celr also fits no
  intercept) and adelie (``lambda = 1/(C n)``, binary): see ``l1_peers.py``.

Both mappings are checked numerically (the last table): at ``alpha = 1/(C n)`` the gap
to celr's optimum falls to rounding as the tolerance tightens, at ``2/(C n)`` it does not.

Measured: the time for each contender to reach a relative objective gap
``(f - f*)/f* <= 1e-6``, with ``f*`` the lowest f that any fit reached (a celr fit at
``tol=1e-12`` included). Each contender runs a short ladder of tolerances, loosest first,
one fit each, in a forked child with a time limit (harness.py: untimed warm-up on 300
rows first, which is where skglm's numba compilation happens); a setting that times out
ends the ladder. Every solution is re-scored by ``objective.objective_value``, which
shares no code with any contender. The fastest setting that reaches the gap counts.

Problems (C = 1, each with l1_ratio = 1 and 0.5): a sparse tf-idf-like binary problem,
100,000 x 100,000 (``problems.text_like`` on 100,000 columns), a dense binary one
(``problems.tall``, 200,000 x 100, standardised) and ``problems.multinomial``, dense
200,000 x 50 with 10 classes, standardised. The binary problems also run with L1 and
b = 0, for celer.

    python benchmarks/l1.py                # about 25 minutes on 2 cores
    python benchmarks/l1.py --quick        # 10x fewer rows, short limits: a smoke test
    python benchmarks/l1.py --scale 0.5    # half the rows of both problems
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import problems
import psutil
from contenders import FitOutput
from harness import Job, Worker, memory_method
from l1_peers import adelie_fit, celer_fit, installed
from objective import objective_value
from problems import multinomial, tall, text_like
from report import (
    environment,
    environment_lines,
    fmt_gap,
    fmt_time,
    markdown_table,
    text_table,
    write_atomic,
)
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

C = 1.0
L1_RATIOS = (1.0, 0.5)
TARGET_GAP = 1e-6
N_FEATURES = 100_000
SPARSE_ROWS = 100_000
DENSE_BINARY_ROWS = 200_000
REFERENCE_TOL = 1e-12
RESULTS_NAME = "l1.md"


# -- problems -----------------------------------------------------------------------------
@dataclass
class Problem(problems.Problem):
    """A benchmark problem with its penalty mix (harness.Worker reads X, y and C)."""

    l1_ratio: float = 1.0
    fit_intercept: bool = True

    @property
    def penalty(self) -> str:
        mix = "L1" if self.l1_ratio == 1.0 else f"elastic net {self.l1_ratio:g}"
        return mix if self.fit_intercept else f"{mix}, b = 0"


def build_data(scale: float) -> list[tuple[str, object, np.ndarray, int, str]]:
    """(name, X, y, n_classes, description) of the two data sets."""
    X, y, text = text_like(SPARSE_ROWS, N_FEATURES)(scale)
    Xd, yd, dense_binary = tall(DENSE_BINARY_ROWS, standardised=True)(scale)
    Xm, ym, dense = multinomial(scale)
    return [
        ("sparse binary", X, y, 2, text),
        ("dense binary", Xd, np.asarray(yd, dtype=np.int64), 2, dense_binary),
        ("dense multinomial", Xm, np.asarray(ym, dtype=np.int64), 10, dense),
    ]


def cases_of(name: str, X, y, n_classes: int, description: str) -> list[Problem]:
    """Every penalty of L1_RATIOS with an intercept; for binary data also L1 with b = 0."""
    out = [Problem(name, X, y, C, n_classes, description, r) for r in L1_RATIOS]
    if n_classes == 2:
        out.append(Problem(name, X, y, C, n_classes, description, 1.0, fit_intercept=False))
    return out


# -- contenders ---------------------------------------------------------------------------
FitFn = Callable[..., FitOutput]


def celr_fit(l1_ratio: float, fit_intercept: bool = True, max_iter: int = 1000) -> FitFn:
    def fit(X, y, C, tol=None, tight=False):
        from celr import CrossEntropyLogisticRegression

        est = CrossEntropyLogisticRegression(
            C=C,
            l1_ratio=l1_ratio,
            tol=1e-8 if tol is None else tol,
            max_iter=max_iter,
            fit_intercept=fit_intercept,
        ).fit(X, y)
        info = {"solver_": est.solver_, "stop_crit_": float(est.stop_crit_)}
        return FitOutput(est.coef_, est.intercept_, int(est.n_iter_), info)

    return fit


def sklearn_fit(solver: str, l1_ratio: float) -> FitFn:
    def fit(X, y, C, tol=None, tight=False):
        from sklearn.linear_model import LogisticRegression

        params = {"solver": solver, "C": C, "l1_ratio": l1_ratio, "max_iter": 10_000}
        params["tol"] = 1e-4 if tol is None else tol
        if solver == "liblinear":
            params["intercept_scaling"] = 100.0
        else:
            params["random_state"] = 0
        est = LogisticRegression(**params).fit(X, y)
        return FitOutput(est.coef_, est.intercept_, int(np.max(est.n_iter_)))

    return fit


def skglm_fit(l1_ratio: float) -> FitFn:
    def fit(X, y, C, tol=None, tight=False):
        from skglm import SparseLogisticRegression

        est = SparseLogisticRegression(
            alpha=1.0 / (C * X.shape[0]),
            l1_ratio=l1_ratio,
            tol=1e-4 if tol is None else tol,
            max_iter=100,
            fit_intercept=True,
        ).fit(X, y)
        info = {"stop_crit_": float(np.max(est.stop_crit_))}
        return FitOutput(est.coef_, np.atleast_1d(est.intercept_), int(est.n_iter_), info)

    return fit


def glum_fit(l1_ratio: float, alpha_factor: float = 1.0) -> FitFn:
    def fit(X, y, C, tol=None, tight=False):
        from glum import GeneralizedLinearRegressor

        est = GeneralizedLinearRegressor(
            family="binomial",
            alpha=alpha_factor / (C * X.shape[0]),
            l1_ratio=l1_ratio,
            fit_intercept=True,
            gradient_tol=1e-4 if tol is None else tol,
            max_iter=1000,
        ).fit(X, y)
        return FitOutput(est.coef_, np.atleast_1d(est.intercept_), int(est.n_iter_))

    return fit


def _multiclass_ovr(library: str) -> Callable[[Problem], str | None]:
    def skip(problem: Problem) -> str | None:
        if problem.n_classes > 2:
            return f"not run: {library} fits K > 2 classes one-vs-rest (another objective)"
        return _with_intercept(problem)

    return skip


def _with_intercept(problem: Problem) -> str | None:
    """The (b = 0) cases are for the solvers that cannot fit an intercept."""
    if not problem.fit_intercept:
        return "not run: b = 0 is the case of celer, which fits no intercept"
    return None


def _celer_skip(problem: Problem) -> str | None:
    if not installed("celer"):
        return "not run: celer is not installed"
    if problem.fit_intercept:
        return "not run: celer fits no intercept (see the b = 0 case)"
    if problem.n_classes > 2 or problem.l1_ratio != 1.0:
        return "not run: celer's logistic regression is binary and L1 only"
    return None


def _adelie_skip(problem: Problem) -> str | None:
    if not installed("adelie"):
        return "not run: adelie is not installed (it needs numpy < 2)"
    if problem.n_classes > 2:
        return "not run: adelie's multinomial penalises each feature's K weights as a group"
    return None


def _liblinear_skip(problem: Problem) -> str | None:
    if not problem.fit_intercept:
        return _with_intercept(problem)
    if problem.n_classes > 2:
        return "not run: liblinear fits K > 2 classes one-vs-rest (another objective)"
    if problem.l1_ratio != 1.0:
        return "not run: liblinear has L1 or L2, no elastic net"
    return None


def _glum_skip(problem: Problem) -> str | None:
    if not problem.fit_intercept:
        return _with_intercept(problem)
    if problem.n_classes > 2:
        return "not run: glum has no multinomial family (binomial only)"
    n_params = problem.X.shape[1] + 1
    size = 8.0 * n_params**2
    if size > 0.5 * psutil.virtual_memory().available:
        return (
            "not run: irls-cd, glum's only solver with an L1 term, allocates a dense "
            f"(d+1)^2 Hessian: {size / 2**30:,.1f} GiB"
        )
    return None


@dataclass(frozen=True)
class Contender:
    """A solver under test: its fit for a given l1_ratio, its tolerance ladder."""

    name: str
    make: Callable[[float, bool], FitFn]  # (l1_ratio, fit_intercept) -> fit
    ladder: tuple[float, ...]
    knob: str
    settings: str
    skip: Callable[[Problem], str | None] = _with_intercept


CONTENDERS = [
    Contender(
        "celr",
        celr_fit,
        (1e-4, 1e-6, 1e-8, 1e-10),
        "tol",
        "solver='auto', max_iter=1000",
        lambda problem: None,
    ),
    Contender(
        "sklearn saga",
        lambda r, fit_intercept: sklearn_fit("saga", r),
        (1e-2, 1e-3, 1e-4),
        "tol",
        "max_iter=10,000 epochs, random_state=0",
    ),
    Contender(
        "sklearn liblinear",
        lambda r, fit_intercept: sklearn_fit("liblinear", r),
        (1e-1, 1e-2, 1e-3, 1e-4),
        "tol",
        "max_iter=10,000, intercept_scaling=100 (penalised intercept)",
        _liblinear_skip,
    ),
    Contender(
        "skglm",
        lambda r, fit_intercept: skglm_fit(r),
        (1e-4, 1e-5, 1e-6, 1e-8),
        "tol",
        "SparseLogisticRegression (ProxNewton), alpha=1/(C n), max_iter=100",
        _multiclass_ovr("skglm"),
    ),
    Contender(
        "glum",
        lambda r, fit_intercept: glum_fit(r),
        (1e-4, 1e-6, 1e-8),
        "gradient_tol",
        "family='binomial', alpha=1/(C n), solver='auto' (irls-cd), max_iter=1000",
        _glum_skip,
    ),
    Contender(
        "celer",
        celer_fit,
        (1e-2, 1e-4, 1e-6, 1e-8),
        "tol",
        "LogisticRegression(penalty='l1', fit_intercept=False), same C, max_iter=1000",
        _celer_skip,
    ),
    Contender(
        "adelie",
        adelie_fit,
        (1e-5, 1e-7, 1e-9, 1e-11),
        "tol=irls_tol",
        "grpnet(glm.binomial, lmda_path=[1/(C n)], early_exit=False, n_threads=1)",
        _adelie_skip,
    ),
]
# For --quick: the ladders cut to their two loosest settings but celr's.
QUICK_LADDER = 2


# -- running ------------------------------------------------------------------------------
@dataclass
class Fit:
    """One fit of the ladder, scored."""

    contender: str
    setting: str
    status: str  # 'ok', 'timeout', 'error', 'not run'
    time: float | None = None
    n_iter: int | None = None
    value: float | None = None
    gap: float | None = None
    coef: np.ndarray | None = None
    peak_mb: float | None = None
    notes: str = ""
    info: dict = field(default_factory=dict)

    @property
    def nnz(self) -> int | None:
        return None if self.coef is None else int(np.count_nonzero(self.coef))


@dataclass
class Case:
    """One (data, l1_ratio): the reference, every fit, the skipped contenders."""

    problem: Problem
    reference: Fit
    fits: list[Fit]
    skipped: dict[str, str]
    f_star: float = math.nan
    f_star_source: str = ""


def _notes(outcome) -> str:
    text = "; ".join(item[:110] for item in outcome.warnings)
    if outcome.status == "timeout":
        return f"time limit: {outcome.message}"
    if outcome.status == "error":
        return outcome.message
    return text


def _score(problem: Problem, contender: str, setting: str, outcome) -> Fit:
    peak = None if outcome.peak_bytes is None else outcome.peak_bytes / 2**20
    if outcome.status != "ok":
        return Fit(contender, setting, outcome.status, outcome.time, notes=_notes(outcome))
    out = outcome.output
    value = objective_value(
        problem.X, problem.y, out.coef, out.intercept, problem.C, problem.l1_ratio
    )
    coef = np.asarray(out.coef, dtype=np.float64).reshape(-1, problem.X.shape[1])
    return Fit(
        contender, setting, "ok", outcome.time, out.n_iter, value, None, coef, peak,
        _notes(outcome), dict(out.info),
    )  # fmt: skip


def run_case(problem: Problem, contenders, ladder_len, timeout, reference_timeout) -> Case:
    """The reference fit, then every contender's ladder, each in its own child."""
    reference_fit = celr_fit(problem.l1_ratio, problem.fit_intercept, max_iter=10_000)
    worker = Worker(problem, SimpleNamespace(fit=reference_fit))
    setting = f"tol={REFERENCE_TOL:g}, max_iter=10,000"
    reference = _score(
        problem, "reference", setting, worker.run(Job(setting, REFERENCE_TOL), reference_timeout)
    )
    worker.close()
    print(f"  reference (celr {setting}): {fmt_time(reference.time)}, f = {reference.value!r}")
    best = reference.value if reference.value is not None else math.inf
    fits, skipped = [], {}
    for contender in contenders:
        reason = contender.skip(problem)
        if reason:
            skipped[contender.name] = reason
            print(f"  {contender.name}: {reason}")
            continue
        ladder = contender.ladder if contender.name == "celr" else contender.ladder[:ladder_len]
        fit_fn = contender.make(problem.l1_ratio, problem.fit_intercept)
        worker = Worker(problem, SimpleNamespace(fit=fit_fn))
        ended = ""
        for tol in ladder:
            setting = f"{contender.knob}={tol:g}"
            if ended:
                fits.append(Fit(contender.name, setting, "not run", notes=ended))
                continue
            fit = _score(problem, contender.name, setting, worker.run(Job(setting, tol), timeout))
            fits.append(fit)
            if fit.status != "ok":
                ended = f"a looser setting ended with {fit.status}"
            else:
                best = min(best, fit.value)
            gap = None if fit.value is None else (fit.value - best) / best
            print(
                f"  {contender.name:<18} {setting:<18} {fit.status:<8} "
                f"{fmt_time(fit.time):>9}  gap so far {fmt_gap(gap):>8}  nnz {fit.nnz}",
                flush=True,
            )
        worker.close()
    case = Case(problem, reference, fits, skipped)
    scored = [f for f in [reference, *fits] if f.value is not None]
    best_fit = min(scored, key=lambda f: f.value)
    case.f_star = best_fit.value
    case.f_star_source = f"{best_fit.contender}, {best_fit.setting}"
    for fit in scored:
        fit.gap = (fit.value - case.f_star) / case.f_star
    return case


def reaching(case: Case, name: str) -> Fit | None:
    """The fastest of ``name``'s fits with gap <= TARGET_GAP (None if none)."""
    hits = [
        f for f in case.fits if f.contender == name and f.gap is not None and f.gap <= TARGET_GAP
    ]
    return min(hits, key=lambda f: f.time) if hits else None


# -- tables -------------------------------------------------------------------------------
MAIN_HEADER = [
    "problem",
    "penalty",
    "contender",
    "fastest setting to gap <= 1e-6",
    "time",
    "its gap",
    "time / celr's",
    "nnz",
]
SUPPORT_HEADER = [
    "problem",
    "penalty",
    "compared at",
    "celr fit",
    "fastest peer's fit",
    "nnz celr",
    "nnz peer",
    "non-zero in both",
    "only celr",
    "only peer",
    "max |w| where they differ",
    "nnz at f*",
]
DETAIL_HEADER = [
    "problem",
    "penalty",
    "contender",
    "setting",
    "status",
    "time",
    "iters",
    "gap",
    "nnz",
    "peak MB",
    "notes",
]


def main_rows(case: Case, contenders) -> list[list[str]]:
    celr = reaching(case, "celr")
    rows = []
    for contender in contenders:
        head = [case.problem.name, case.problem.penalty, contender.name]
        if contender.name in case.skipped:
            if "b = 0" not in case.skipped[contender.name]:  # not this case's contenders
                rows.append([*head, case.skipped[contender.name], "-", "-", "-", "-"])
            continue
        hit = reaching(case, contender.name)
        if hit is None:
            own = [f for f in case.fits if f.contender == contender.name]
            tried = [f for f in own if f.gap is not None]
            best = min(tried, key=lambda f: f.gap) if tried else None
            why = (
                f"not reached (best gap {fmt_gap(best.gap)} at {best.setting})"
                if best
                else f"not reached ({own[0].status if own else 'no fit'})"
            )
            rows.append([*head, why, "-", "-", "-", "-"])
            continue
        ratio = f"{hit.time / celr.time:.1f}x" if celr else "-"
        rows.append(
            [*head, hit.setting, fmt_time(hit.time), fmt_gap(hit.gap), ratio, str(hit.nnz)]
        )
    return rows


def _tightest(case: Case, name: str) -> Fit | None:
    """``name``'s ok fit with the lowest objective (its tightest setting that finished)."""
    done = [f for f in case.fits if f.contender == name and f.value is not None]
    return min(done, key=lambda f: f.value) if done else None


def support_rows(case: Case) -> list[list[str]]:
    """celr against the fastest peer to 1e-6: at both's fastest and at both's best fits."""
    head = [case.problem.name, case.problem.penalty]
    f_star_fit = min(
        (f for f in [case.reference, *case.fits] if f.value is not None), key=lambda f: f.value
    )
    at_f_star = f"{f_star_fit.nnz} ({f_star_fit.contender}, {f_star_fit.setting})"
    peers = [reaching(case, c.name) for c in CONTENDERS if c.name != "celr"]
    peers = [p for p in peers if p is not None]
    celr = reaching(case, "celr")
    if celr is None or not peers:
        why = "no peer reached 1e-6" if celr else "celr did not reach 1e-6"
        return [[*head, why, "-", "-", *["-"] * 6, at_f_star]]
    peer_name = min(peers, key=lambda f: f.time).contender
    pairs = [
        ("fastest to 1e-6", celr, reaching(case, peer_name)),
        ("lowest f reached", _tightest(case, "celr"), _tightest(case, peer_name)),
    ]
    rows = []
    for label, mine, theirs in pairs:
        a, b = mine.coef != 0, theirs.coef != 0
        differ = a != b
        largest = np.max(np.abs(np.where(differ, mine.coef + theirs.coef, 0.0)), initial=0.0)
        rows.append(
            [
                *head,
                label,
                f"{mine.setting}, gap {fmt_gap(mine.gap)}",
                f"{theirs.contender}, {theirs.setting}, gap {fmt_gap(theirs.gap)}",
                str(int(a.sum())),
                str(int(b.sum())),
                str(int((a & b).sum())),
                str(int((a & ~b).sum())),
                str(int((~a & b).sum())),
                f"{float(largest):.1e}" if differ.any() else "-",
                at_f_star,
            ]
        )
    return rows


def detail_rows(case: Case) -> list[list[str]]:
    rows = []
    for fit in [case.reference, *case.fits]:
        rows.append(
            [
                case.problem.name,
                case.problem.penalty,
                fit.contender,
                fit.setting,
                fit.status,
                fmt_time(fit.time),
                "-" if fit.n_iter is None else str(fit.n_iter),
                fmt_gap(fit.gap),
                "-" if fit.nnz is None else str(fit.nnz),
                "-" if fit.peak_mb is None else f"{fit.peak_mb:,.0f}",
                fit.notes,
            ]
        )
    return rows


def case_lines(case: Case) -> list[str]:
    ref = case.reference
    stop = ref.info.get("stop_crit_")
    reference = (
        f"{ref.status}, {fmt_time(ref.time)}, {ref.n_iter} iterations ({ref.info.get('solver_')})"
        + (f", stop_crit_ {stop:.1e}" if stop is not None else "")
    )
    return [
        f"{case.problem.name}, {case.problem.penalty}: {case.problem.description}; "
        f"f* = {case.f_star!r} (from {case.f_star_source}); reference celr fit at "
        f"tol={REFERENCE_TOL:g}: {reference}"
    ]


# -- the objective-scaling check ----------------------------------------------------------
CHECK_HEADER = ["penalty", "contender", "alpha", "setting", "time", "gap to celr's optimum", "nnz"]


def scaling_check(X, y, n_rows: int, n_cols: int) -> tuple[str, list[list[str]]]:
    """skglm, glum, adelie and celer at their mapped penalty and at twice it.

    The problem: the first ``n_rows`` rows and the ``n_cols`` most frequent columns of the
    sparse data (small enough for glum's dense Hessian). Gaps are to celr's fit at
    ``tol=1e-12`` (with b = 0 for celer's rows). In this process, after an untimed warm-up
    of each on 300 rows.
    """
    frequency = np.bincount(X.indices, minlength=X.shape[1])
    columns = np.sort(np.argsort(-frequency, kind="stable")[:n_cols])
    Xs = X[:n_rows][:, columns].tocsr()
    ys = y[:n_rows]
    n = Xs.shape[0]
    description = f"sparse CSR {n:,} x {Xs.shape[1]:,} (the most frequent columns)"
    rows = []
    for l1_ratio, fit_intercept in [(r, True) for r in L1_RATIOS] + [(1.0, False)]:
        penalty = Problem("", Xs, ys, C, 2, "", l1_ratio, fit_intercept).penalty
        ref = celr_fit(l1_ratio, fit_intercept, max_iter=10_000)(Xs, ys, C, tol=REFERENCE_TOL)
        f_star = objective_value(Xs, ys, ref.coef, ref.intercept, C, l1_ratio)
        runs = [
            ("skglm", "1/(C n)", skglm_fit(l1_ratio), "tol", (1e-4, 1e-8)),
            ("skglm", "2/(C n)", _doubled(skglm_fit(l1_ratio)), "tol", (1e-8,)),
            ("glum", "1/(C n)", glum_fit(l1_ratio), "gradient_tol", (1e-4, 1e-8)),
            ("glum", "2/(C n)", glum_fit(l1_ratio, alpha_factor=2.0), "gradient_tol", (1e-8,)),
        ]
        if not fit_intercept:
            runs = [
                ("celer", "C", celer_fit(l1_ratio), "tol", (1e-4, 1e-8)),
                ("celer", "C/2", _doubled(celer_fit(l1_ratio)), "tol", (1e-8,)),
            ] * installed("celer")
        if installed("adelie"):
            adelie = adelie_fit(l1_ratio, fit_intercept)
            runs += [
                ("adelie", "lambda=1/(C n)", adelie, "tol", (1e-7, 1e-11)),
                ("adelie", "lambda=2/(C n)", _doubled(adelie), "tol", (1e-11,)),
            ]
        for name, alpha, fit, knob, tols in runs:
            fit(Xs[:300], ys[:300], C)  # warm-up: imports, numba compilation
            for tol in tols:
                start = time.perf_counter()
                out = fit(Xs, ys, C, tol=tol)
                elapsed = time.perf_counter() - start
                value = objective_value(Xs, ys, out.coef, out.intercept, C, l1_ratio)
                gap = (value - f_star) / f_star
                nnz = int(np.count_nonzero(out.coef))
                rows.append(
                    [
                        penalty,
                        name,
                        alpha,
                        f"{knob}={tol:g}",
                        fmt_time(elapsed),
                        fmt_gap(gap),
                        str(nnz),
                    ]
                )
        rows.append(
            [
                penalty,
                "celr (f*)",
                "-",
                f"tol={REFERENCE_TOL:g}",
                "-",
                "0",
                str(int(np.count_nonzero(ref.coef))),
            ]
        )
    return description, rows


def _doubled(inner: FitFn) -> FitFn:
    """``inner`` at twice the mapped penalty: C/2."""

    def fit(X, y, C, tol=None, tight=False):
        return inner(X, y, C / 2.0, tol=tol)

    return fit


# -- main ---------------------------------------------------------------------------------
def markdown(env, command, settings, cases, check, total, contenders) -> str:
    title = "celr vs saga, liblinear, skglm, glum, celer, adelie"
    parts = [f"# L1 and elastic-net logistic regression: {title}", ""]
    parts += [f"- {line}" for line in environment_lines(env)]
    parts += [f"- Command: `{command}` (total run time {total / 60:.1f} min)"]
    parts += [f"- {line}" for line in settings]
    parts += ["", f"## Time to a relative gap (f - f*)/f* <= {TARGET_GAP:g}", ""]
    parts += [markdown_table(MAIN_HEADER, [r for c in cases for r in main_rows(c, contenders)])]
    parts += ["", "## Problems and f*", ""]
    parts += [f"- {line}" for c in cases for line in case_lines(c)]
    parts += [
        "",
        "## Support: celr against the fastest peer to 1e-6",
        "",
    ]
    parts += [markdown_table(SUPPORT_HEADER, [r for c in cases for r in support_rows(c)])]
    parts += ["", "## Every fit", ""]
    parts += [markdown_table(DETAIL_HEADER, [r for c in cases for r in detail_rows(c)])]
    description, check_rows = check
    parts += ["", f"## Objective scaling of skglm, glum, celer and adelie: {description}", ""]
    parts += [
        "alpha = 1/(C n) (celer: C) is the mapping used above; at twice the penalty the gap "
        "must stay large. "
        "Fitted in this process after a warm-up on 300 rows, one run each.",
        "",
        markdown_table(CHECK_HEADER, check_rows),
        "",
        "## Contender settings",
        "",
        markdown_table(
            ["contender", "ladder", "other settings"],
            [
                [c.name, ", ".join(f"{c.knob}={t:g}" for t in c.ladder), c.settings]
                for c in contenders
            ],
        ),
        "",
    ]
    return "\n".join(parts)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x fewer rows, short limits")
    parser.add_argument("--scale", type=float, default=None, help="multiplies every row count")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per fit")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    scale = args.scale if args.scale is not None else (0.1 if args.quick else 1.0)
    timeout = args.timeout if args.timeout is not None else (15.0 if args.quick else 120.0)
    reference_timeout = 60.0 if args.quick else 600.0
    ladder_len = QUICK_LADDER if args.quick else 99
    command = " ".join(["python benchmarks/l1.py", *argv])
    warnings.simplefilter("ignore", ConvergenceWarning)
    start = time.perf_counter()
    # One BLAS thread, as in sgd.py. celr sizes its own thread pool by the BLAS limit, so
    # it runs on one thread; saga, liblinear and skglm are single-threaded anyway.
    with threadpool_limits(1, user_api="blas"):
        env = environment(memory_method())
        cases = []
        data = build_data(scale)
        for name, X, y, n_classes, description in data:
            for problem in cases_of(name, X, y, n_classes, description):
                print(f"{name}, {problem.penalty}: {description}", flush=True)
                cases.append(run_case(problem, CONTENDERS, ladder_len, timeout, reference_timeout))
        X, y = data[0][1], data[0][2]
        print("objective-scaling check (skglm, glum, celer, adelie)", flush=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check = scaling_check(X, y, min(20_000, X.shape[0]), 2_000)
    total = time.perf_counter() - start
    settings = [
        f"C = {C:g}; target gap {TARGET_GAP:g}; f* = the lowest objective any fit reached, "
        f"a celr fit at tol={REFERENCE_TOL:g} included (the source is given per problem)",
        f"Per-fit time limit {timeout:g} s (reference {reference_timeout:g} s); each "
        "contender's ladder runs loosest first in one forked child, one fit per setting, "
        "after an untimed warm-up on 300 rows (skglm's numba compilation happens there); a "
        "setting that times out or fails ends the ladder. Times are wall clock of one fit.",
        "Threads: threadpool_limits(1, user_api='blas') as in sgd.py. celr follows the BLAS "
        "limit (one thread); saga, liblinear, skglm and celer are single-threaded, adelie "
        "runs with n_threads=1; glum's OpenMP pool is not limited.",
        "Objective re-scored by objective.py's objective_value (log_expit / logsumexp), "
        "shared with no contender. nnz counts exact zeros of coef_ (K x d for 10 classes).",
        "liblinear penalises its intercept (intercept_scaling=100: |b|/100 in its L1 term), "
        "so its optimum is close to f's but not on it. skglm converts CSR to CSC inside fit "
        "(counted in its time).",
    ]
    rows = [r for c in cases for r in main_rows(c, CONTENDERS)]
    print(text_table(MAIN_HEADER, rows))
    print(text_table(SUPPORT_HEADER, [r for c in cases for r in support_rows(c)]))
    print(text_table(CHECK_HEADER, check[1]))
    print(f"total run time {total:.0f} s")
    if not args.quick:
        text = markdown(env, command, settings, cases, check, total, CONTENDERS)
        write_atomic(args.out / RESULTS_NAME, text)
        print(f"wrote {args.out / RESULTS_NAME}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
