"""The L1 path solvers of l1.py and l1_path.py: celer and adelie, mapped onto f.

f (l1.py's objective, n rows, unit weights)::

    f(w, b) = (1/n) sum_i CE_i + 1/(C n) ((1 - l1_ratio)/2 ||w||_2^2 + l1_ratio ||w||_1)

- celer ``LogisticRegression(C, penalty='l1')`` (working sets, Anderson-accelerated dual
  extrapolation): ``sum_i CE_i + ||w||_1 / C`` = ``n f`` with the same C, L1 only, binary
  only, and no intercept (``fit_intercept=True`` raises NotImplementedError): it runs on
  the ``(b = 0)`` cases, f with b held at 0.
- adelie ``grpnet(X, glm.binomial(y), alpha, lmda_path)`` (screening, active sets,
  coordinate descent inside IRLS): ``sum_i w_i CE_i + lambda (alpha ||w||_1 + (1 -
  alpha)/2 ||w||^2)`` with the default weights ``w_i = 1/n`` and singleton groups of
  penalty factor 1: ``lambda = 1/(C n)``, ``alpha = l1_ratio``, intercept unpenalised.
  adelie's multinomial penalises each feature's K coefficients as one group (a group
  lasso, another objective), so it is run on binary data only. adelie 1.1 requires
  ``numpy < 2``: in an environment without it, it is reported as not installed.

Both mappings were checked numerically (benchmarks/README.md): tight fits of each land
on celr's optimum to a relative gap of 1e-14 or less, and at twice the mapped penalty
they do not.
"""

from __future__ import annotations

import importlib.util

import numpy as np
from contenders import FitOutput
from scipy import sparse


def installed(module: str) -> bool:
    """Whether ``module`` can be imported here (adelie needs numpy < 2)."""
    return importlib.util.find_spec(module) is not None


def celer_fit(l1_ratio: float, fit_intercept: bool = False):
    """Adapter for ``celer.LogisticRegression(C, tol, fit_intercept=False)``."""

    def fit(X, y, C, tol=None, tight=False):
        from celer import LogisticRegression

        est = LogisticRegression(
            C=C, penalty="l1", tol=1e-4 if tol is None else tol, max_iter=1000
        ).fit(X, y)
        return FitOutput(est.coef_, np.zeros(1), int(np.max(getattr(est, "n_iter_", -1))))

    return fit


def adelie_matrix(X):
    """X in adelie's naive matrix types (CSC for sparse, Fortran order for dense)."""
    import adelie as ad

    if sparse.issparse(X):
        return ad.matrix.sparse(X.tocsc(), method="naive")
    return ad.matrix.dense(np.asfortranarray(X), method="naive")


def adelie_fit(l1_ratio: float, fit_intercept: bool = True):
    """Adapter for ``adelie.grpnet`` at the single lambda ``1/(C n)``."""

    def fit(X, y, C, tol=None, tight=False):
        import adelie as ad

        tol = 1e-7 if tol is None else tol
        state = ad.grpnet(
            adelie_matrix(X),
            ad.glm.binomial(np.asarray(y, dtype=np.float64)),
            alpha=l1_ratio,
            lmda_path=np.array([1.0 / (C * X.shape[0])]),
            intercept=fit_intercept,
            tol=tol,
            irls_tol=tol,
            early_exit=False,
            progress_bar=False,
            n_threads=1,
        )
        coef = state.betas[-1].toarray().reshape(1, -1)
        intercept = np.atleast_1d(np.asarray(state.intercepts[-1], dtype=np.float64))
        return FitOutput(coef, intercept, -1)

    return fit
