"""Contenders: one small adapter per (library, solver), all minimising DESIGN.md's objective.

An adapter is ``fit(X, y, C, tol, tight) -> FitOutput``. ``tol=None, tight=False`` is the
library's default (only C is mapped); ``tight=True`` raises ``max_iter`` and uses ``tol``
(1e-10 when None). The objective of every library, and the mapping to
``f = mean CE + ||W||^2 / (2 C n)`` (n rows, unit weights, intercept unpenalised):

- celr: f itself, same C.
- scikit-learn ``LogisticRegression``: ``C * sum CE + ||W||^2 / 2`` = ``C n f``: same C.
  liblinear penalises the intercept: with ``intercept_scaling=1e3`` the intercept b costs
  ``(b / 1e3)^2 / 2``, so its optimum differs (slightly) from f's.
- glum ``GeneralizedLinearRegressor(family='binomial')``: ``deviance / (2 n) + alpha/2
  ||w||^2`` with binomial unit deviance ``2 CE``, i.e. ``mean CE + alpha/2 ||w||^2``:
  ``alpha = 1 / (C n)``; intercept unpenalised.
- skglm ``Logistic()`` datafit ``mean log(1 + exp(-y z))`` (labels mapped to -1/+1 by the
  estimator) + ``L1_plus_L2(alpha, l1_ratio=0)`` = ``alpha/2 ||w||^2``: ``alpha = 1/(C n)``;
  the intercept (``fit_intercept=True`` on the solver) is unpenalised. (skglm's ``L2``
  penalty has no prox / subdifferential, so ProxNewton and AndersonCD refuse it; its
  LBFGS solver has no intercept.)
- statsmodels ``Logit``: unpenalised maximum likelihood (sum CE): only for C = inf.
- Snap ML ``snapml.LogisticRegression(regularizer=1/C)``: ``sum CE + ||w||^2 / (2 C)`` =
  ``C n f``, with labels 0/1. It penalises an intercept when it fits one (and its primal
  solver ignores one): it runs without intercept (``fit_intercept=False``), against f with
  b = 0, whose optimum is the ``reference (no intercept)``'s.
- LIBLINEAR's own binding (``liblinear-official``): ``-s 0`` (primal trust-region Newton) and
  ``-s 7`` (dual coordinate descent) minimise ``C sum CE + ||w||^2 / 2``: same C, labels
  -1/+1. ``-s 0 -B 1 -R`` appends a bias column of ones and leaves it unregularised: f
  exactly. ``-R`` is not offered for ``-s 7``, which runs without intercept. The binding's
  conversion of X to LIBLINEAR's feature nodes is part of the timed fit, as it is of every
  call to ``train``.

A contender with ``fit_intercept=False`` is scored against f restricted to b = 0: its gap
is relative to that problem's optimum, and it is compared with ``celr-no-intercept``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

TIGHT_TOL = 1e-10


@dataclass
class FitOutput:
    """What an adapter returns: coefficients, intercept, iterations, extra info."""

    coef: np.ndarray
    intercept: np.ndarray
    n_iter: int
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Contender:
    """A solver under test and what it supports."""

    name: str
    fit: Callable[..., FitOutput]
    default: str
    tight: str
    binary_only: bool = False
    penalised: bool = True
    unpenalised: bool = True
    dense_hessian: bool = False
    fit_intercept: bool = True
    note: str = ""

    def skip_reason(self, problem, hessian_limit_bytes: float) -> str | None:
        """Why this contender does not run on ``problem`` (None when it does)."""
        if self.binary_only and problem.n_classes > 2:
            return "binary only"
        if math.isinf(problem.C) and not self.unpenalised:
            return "needs a finite C"
        if not math.isinf(problem.C) and not self.penalised:
            return "unpenalised only"
        if self.dense_hessian:
            n_params = problem.n_scores * (problem.X.shape[1] + 1)
            size = 8.0 * n_params**2
            if size > hessian_limit_bytes:
                return f"dense Hessian of {n_params:,}^2 would need {size / 1e9:,.0f} GB"
        return None


def _tight(tol: float | None) -> float:
    return TIGHT_TOL if tol is None else tol


# -- celr ---------------------------------------------------------------------------------
def celr_fit(solver: str, fit_intercept: bool = True) -> Callable[..., FitOutput]:
    """Adapter for ``celr.CrossEntropyLogisticRegression(solver=solver)``."""

    def fit(X, y, C, tol=None, tight=False):
        from celr import CrossEntropyLogisticRegression

        params = {"C": C, "solver": solver, "fit_intercept": fit_intercept}
        if tight:
            params.update(tol=_tight(tol), max_iter=10_000)
        elif tol is not None:
            params["tol"] = tol
        est = CrossEntropyLogisticRegression(**params).fit(X, y)
        info = {"solver_": est.solver_, "stop_crit_": float(est.stop_crit_)}
        return FitOutput(est.coef_, est.intercept_, int(est.n_iter_), info)

    return fit


def reference_fit(X, y, C, tol=None, tight=False, fit_intercept=True):
    """celr Newton at tol=1e-12, max_iter=200, on X upcast to float64: the f* reference."""
    from celr import CrossEntropyLogisticRegression

    X = X.astype(np.float64, copy=False)
    est = CrossEntropyLogisticRegression(
        C=C, solver="newton", tol=1e-12, max_iter=200, fit_intercept=fit_intercept
    )
    est.fit(X, y)
    info = {"solver_": est.solver_, "stop_crit_": float(est.stop_crit_)}
    return FitOutput(est.coef_, np.atleast_1d(est.intercept_), int(est.n_iter_), info)


def reference_no_intercept_fit(X, y, C, tol=None, tight=False):
    """The reference with b = 0: f* of the contenders that fit no intercept."""
    return reference_fit(X, y, C, tol, tight, fit_intercept=False)


# -- scikit-learn -------------------------------------------------------------------------
def sklearn_fit(solver: str) -> Callable[..., FitOutput]:
    """Adapter for scikit-learn's ``LogisticRegression(solver=solver, C=C)``."""

    def fit(X, y, C, tol=None, tight=False):
        from sklearn.linear_model import LogisticRegression

        params = {"C": C, "solver": solver}
        if solver == "liblinear":
            params["intercept_scaling"] = 1e3
        if tight:
            params.update(tol=_tight(tol), max_iter=10_000)
        elif tol is not None:
            params["tol"] = tol
        est = LogisticRegression(**params).fit(X, y)
        return FitOutput(est.coef_, est.intercept_, int(np.max(est.n_iter_)))

    return fit


# -- glum ---------------------------------------------------------------------------------
def glum_fit(solver: str) -> Callable[..., FitOutput]:
    """Adapter for glum's binomial ``GeneralizedLinearRegressor`` with alpha = 1/(C n)."""

    def fit(X, y, C, tol=None, tight=False):
        from glum import GeneralizedLinearRegressor

        alpha = 0.0 if math.isinf(C) else 1.0 / (C * X.shape[0])
        params = {"family": "binomial", "alpha": alpha, "l1_ratio": 0.0, "solver": solver}
        if tight:
            params.update(gradient_tol=_tight(tol), max_iter=10_000)
        elif tol is not None:
            params["gradient_tol"] = tol
        est = GeneralizedLinearRegressor(**params).fit(X, y)
        info = {"solver_": getattr(est, "_solver", solver)}
        return FitOutput(est.coef_, np.atleast_1d(est.intercept_), int(est.n_iter_), info)

    return fit


# -- skglm --------------------------------------------------------------------------------
def skglm_fit(solver: str) -> Callable[..., FitOutput]:
    """Adapter for skglm's ``GeneralizedLinearEstimator(Logistic(), L1_plus_L2(1/(C n), 0))``."""

    def fit(X, y, C, tol=None, tight=False):
        from skglm import GeneralizedLinearEstimator
        from skglm.datafits import Logistic
        from skglm.penalties import L1_plus_L2
        from skglm.solvers import AndersonCD, ProxNewton

        alpha = 0.0 if math.isinf(C) else 1.0 / (C * X.shape[0])
        params = {"fit_intercept": True}
        if tight:
            params.update(tol=_tight(tol), max_iter=1_000)
        elif tol is not None:
            params["tol"] = tol
        if solver == "prox-newton":
            algo = ProxNewton(**params)
        else:
            algo = AndersonCD(**params, **({"max_epochs": 1_000_000} if tight else {}))
        est = GeneralizedLinearEstimator(
            datafit=Logistic(), penalty=L1_plus_L2(alpha, 0.0), solver=algo
        )
        est.fit(X, y)
        info = {"stop_crit_": float(np.max(est.stop_crit_))}
        return FitOutput(est.coef_, np.atleast_1d(est.intercept_), int(est.n_iter_), info)

    return fit


# -- statsmodels --------------------------------------------------------------------------
def statsmodels_fit(X, y, C, tol=None, tight=False):
    """statsmodels ``Logit(y, add_constant(X)).fit(method='newton')``: unpenalised only."""
    import statsmodels.api as sm

    kwargs = {"disp": 0, "method": "newton"}
    if tight:
        kwargs.update(maxiter=1_000, tol=_tight(tol))
    elif tol is not None:
        kwargs["tol"] = tol
    result = sm.Logit(y, sm.add_constant(X, has_constant="add")).fit(**kwargs)
    params = np.asarray(result.params)
    info = {"converged": bool(result.mle_retvals.get("converged", False))}
    return FitOutput(params[1:], params[:1], int(result.mle_retvals["iterations"]), info)


# -- Snap ML -------------------------------------------------------------------------------
def snapml_fit(dual: bool) -> Callable[..., FitOutput]:
    """Adapter for ``snapml.LogisticRegression(regularizer=1/C, fit_intercept=False)``."""

    def fit(X, y, C, tol=None, tight=False):
        from snapml import LogisticRegression

        params = {"regularizer": 1.0 / C, "fit_intercept": False, "dual": dual, "n_jobs": 2}
        if tight:
            params.update(tol=_tight(tol), max_iter=100_000)
        elif tol is not None:
            params["tol"] = tol
        est = LogisticRegression(**params).fit(X, y)
        coef = np.asarray(est.coef_, dtype=np.float64).reshape(1, -1)
        n_iter = int(np.max(getattr(est, "n_iter_", -1)))
        return FitOutput(coef, np.zeros(1), n_iter)

    return fit


# -- LIBLINEAR's own binding ------------------------------------------------------------
def liblinear_fit(solver_type: int, unregularised_bias: bool) -> Callable[..., FitOutput]:
    """Adapter for ``liblinear.liblinearutil.train`` with ``-s solver_type``.

    With ``unregularised_bias``, ``-B 1 -R``: a bias feature of ones, not regularised.
    """

    def fit(X, y, C, tol=None, tight=False):
        from liblinear.liblinearutil import parameter, problem, train

        signs = np.where(y == np.max(y), 1.0, -1.0)
        options = f"-s {solver_type} -c {C!r} -q"
        if unregularised_bias:
            options += " -B 1 -R"
        if tight:
            options += f" -e {_tight(tol)!r}"
        elif tol is not None:
            options += f" -e {tol!r}"
        data = problem(signs, X, bias=1.0 if unregularised_bias else -1.0)
        model = train(data, parameter(options))
        weights, bias = model.get_decfun()
        sign = 1.0 if model.get_labels()[0] == 1 else -1.0
        coef = sign * np.asarray(weights, dtype=np.float64).reshape(1, -1)
        return FitOutput(coef, np.array([sign * bias]), -1)

    return fit


_SK_DEFAULT = "tol=1e-4, max_iter=100"
_SK_TIGHT = "tol=1e-10, max_iter=10,000"
CONTENDERS: dict[str, Contender] = {
    c.name: c
    for c in [
        Contender(
            "celr", celr_fit("auto"), "tol=1e-8, max_iter=1000", "tol=1e-10, max_iter=10,000"
        ),
        Contender(
            "celr-no-intercept",
            celr_fit("auto", fit_intercept=False),
            "tol=1e-8, max_iter=1000, fit_intercept=False",
            "tol=1e-10, max_iter=10,000",
            binary_only=True,
            fit_intercept=False,
            note="celr's default without intercept: the side-by-side for Snap ML and -s 7",
        ),
        Contender(
            "celr-newton",
            celr_fit("newton"),
            "tol=1e-8, max_iter=1000",
            "tol=1e-10, max_iter=10,000",
        ),
        Contender(
            "celr-lbfgs",
            celr_fit("lbfgs"),
            "tol=1e-8, max_iter=1000",
            "tol=1e-10, max_iter=10,000",
        ),
        Contender("sk-lbfgs", sklearn_fit("lbfgs"), _SK_DEFAULT, _SK_TIGHT),
        Contender("sk-newton-cg", sklearn_fit("newton-cg"), _SK_DEFAULT, _SK_TIGHT),
        Contender(
            "sk-newton-cholesky",
            sklearn_fit("newton-cholesky"),
            _SK_DEFAULT,
            _SK_TIGHT,
            dense_hessian=True,
        ),
        Contender("sk-sag", sklearn_fit("sag"), "tol=1e-4, max_iter=100 epochs", _SK_TIGHT),
        Contender("sk-saga", sklearn_fit("saga"), "tol=1e-4, max_iter=100 epochs", _SK_TIGHT),
        Contender(
            "sk-liblinear",
            sklearn_fit("liblinear"),
            "tol=1e-4, max_iter=100, intercept_scaling=1e3",
            _SK_TIGHT + ", intercept_scaling=1e3",
            binary_only=True,
            unpenalised=False,
            note="penalises the intercept (scaled by 1e3): its optimum is not f's",
        ),
        Contender(
            "liblinear-s0",
            liblinear_fit(0, unregularised_bias=True),
            "-s 0 -B 1 -R (-e 0.01)",
            "-s 0 -B 1 -R -e 1e-10",
            binary_only=True,
            unpenalised=False,
            note="LIBLINEAR's primal trust-region Newton; -R leaves the bias unregularised",
        ),
        Contender(
            "liblinear-s7",
            liblinear_fit(7, unregularised_bias=False),
            "-s 7 (-e 0.1)",
            "-s 7 -e 1e-10",
            binary_only=True,
            unpenalised=False,
            fit_intercept=False,
            note="LIBLINEAR's dual coordinate descent; no intercept (-R is -s 0's only)",
        ),
        Contender(
            "snapml-dual",
            snapml_fit(dual=True),
            "dual=True, tol=1e-3, max_iter=1000, n_jobs=2",
            "tol=1e-10, max_iter=100,000",
            binary_only=True,
            unpenalised=False,
            fit_intercept=False,
            note="Snap ML's default (dual SDCA); no intercept (it would penalise one)",
        ),
        Contender(
            "snapml-primal",
            snapml_fit(dual=False),
            "dual=False, tol=1e-3, max_iter=1000, n_jobs=2",
            "tol=1e-10, max_iter=100,000",
            binary_only=True,
            unpenalised=False,
            fit_intercept=False,
            note="Snap ML's primal solver; no intercept (it ignores one)",
        ),
        Contender(
            "glum-auto",
            glum_fit("auto"),
            "solver='auto' (IRLS-LS for L2), gradient_tol=1e-4, max_iter=100",
            "gradient_tol=1e-10, max_iter=10,000",
            binary_only=True,
            dense_hessian=True,
        ),
        Contender(
            "glum-irls-cd",
            glum_fit("irls-cd"),
            "gradient_tol=1e-4, max_iter=100",
            "gradient_tol=1e-10, max_iter=10,000",
            binary_only=True,
            dense_hessian=True,
        ),
        Contender(
            "glum-lbfgs",
            glum_fit("lbfgs"),
            "gradient_tol=1e-4, max_iter=100",
            "gradient_tol=1e-10, max_iter=10,000",
            binary_only=True,
        ),
        Contender(
            "skglm-prox-newton",
            skglm_fit("prox-newton"),
            "ProxNewton(fit_intercept=True): tol=1e-4, max_iter=20",
            "tol=1e-10, max_iter=1,000",
            binary_only=True,
        ),
        Contender(
            "skglm-anderson-cd",
            skglm_fit("anderson-cd"),
            "AndersonCD(fit_intercept=True), the estimator's default: tol=1e-4, max_iter=50",
            "tol=1e-10, max_iter=1,000, max_epochs=1e6",
            binary_only=True,
        ),
        Contender(
            "statsmodels",
            statsmodels_fit,
            "Logit.fit(method='newton'): tol=1e-8, maxiter=35",
            "tol=1e-10, maxiter=1,000",
            binary_only=True,
            penalised=False,
            dense_hessian=True,
            note="unpenalised maximum likelihood: only on C=inf problems",
        ),
    ]
}
REFERENCE = Contender(
    "reference", reference_fit, "celr newton, tol=1e-12, max_iter=200, float64", "-"
)
REFERENCE_NO_INTERCEPT = Contender(
    "reference (no intercept)",
    reference_no_intercept_fit,
    "celr newton, tol=1e-12, max_iter=200, float64, fit_intercept=False",
    "-",
    fit_intercept=False,
)
QUICK_CONTENDERS = ["celr", "sk-lbfgs", "sk-newton-cholesky", "glum-auto"]
