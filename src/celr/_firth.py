"""Firth's bias-reduced logistic regression (``firth=True``), as R's ``logistf``.

Two classes, rows ``x_i`` with an intercept column, labels ``y_i`` in {0, 1} and
frequency weights ``s_i``. Firth (1993) maximises the penalised log-likelihood (a
Jeffreys prior)::

    l*(beta) = sum_i s_i log p_i(y_i) + 1/2 log det (I(beta) + R) - ||w||^2 / (2 C)
    I(beta)  = X^T W X,   W = diag(s_i p_i (1 - p_i)),   R = diag(1/C, ..., 1/C, 0)

(``C=np.inf``, logistf's model, drops ``R`` and the last term; the intercept is never in
them. With finite C the Jeffreys term is that of the penalised information, which stays
finite when the features outnumber the weighted rows.)
Its gradient is the modified score (Heinze & Schemper 2002, eq. 2)::

    U*_j = sum_i (s_i (y_i - p_i) + h_i (1/2 - p_i)) x_ij - w_j / C

with ``h_i`` the diagonal of the weighted hat matrix ``W^1/2 X (I + R)^-1 X^T W^1/2``, which
holds ``s_i``: a row of weight 2 is the row twice. The fit is logistf's Newton-Raphson
``beta <- beta + I^-1 U*`` (Fisher scoring: ``I`` is positive definite, so every step
ascends), each step at most ``MAX_STEP`` long and halved until ``l*`` does not fall.
The estimates are finite even on separated classes, where maximum likelihood diverges.

Everything is computed on a standardised design ``Z = [(x - mu) / sd, 1]`` (without
intercept ``x / sd``): an affine change of the columns only adds a constant to
``log det I``, so the maximiser is the same model, and offsets in the columns cost no
precision (celr's offsets are taken out first, :mod:`celr._offsets`). ``X`` is dense
float64 here: a sparse ``X`` is densified up to ``MAX_DENSE_ENTRIES`` entries, else
refused (the hat matrix needs ``X``'s rows against a dense ``q x q`` factor anyway).

Profile penalised-likelihood intervals (logistf's default ``pl=TRUE``) are
``{beta_j : 2 (l*(beta_hat) - max_{beta_-j} l*(beta_j, beta_-j)) <= chi2_1(1 - alpha)}``,
their ends found by ``scipy.optimize.brentq``; the p-value is that statistic at
``beta_j = 0`` against chi-square with one degree of freedom.

Examples
--------
>>> import numpy as np
>>> from celr import CrossEntropyLogisticRegression
>>> X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
>>> y = np.array([0, 0, 0, 1, 1, 1])  # completely separated: no ML estimate
>>> clf = CrossEntropyLogisticRegression(C=np.inf, firth=True).fit(X, y)
>>> clf.solver_, np.round(clf.coef_, 4).tolist(), np.round(clf.intercept_, 4).tolist()
('firth', [[1.1289]], [-2.8223])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg import LinAlgError, cho_solve, cholesky, null_space, solve_triangular
from scipy.optimize import brentq
from scipy.special import expit
from scipy.stats import chi2

from celr._column_stats import weighted_center_scale
from celr._offsets import ColumnOffsets

#: logistf's ``maxstep``: no coefficient moves more than this per step (here in
#: standardised units, where 5 is already a factor e^5 on the odds per standard deviation).
MAX_STEP = 5.0
#: Step halvings before a step counts as unable to increase ``l*`` (logistf's old maxhs).
MAX_HALVINGS = 25
#: Largest sparse X densified (80 MB of float64); beyond, Firth's fit refuses it.
MAX_DENSE_ENTRIES = 10_000_000
SINGULAR = (
    "Firth's penalty needs a nonsingular Fisher information X^T W X (log det I is -inf "
    "otherwise): the features with the intercept are collinear or constant, or there are "
    "fewer weighted rows than parameters. Drop the redundant features."
)


@dataclass(frozen=True)
class Design:
    """The standardised training data: ``Z`` (n, q), intercept column last.

    ``theta`` (Z's coefficients) relate to the model's by ``w = theta_w / scale`` and
    ``b = theta_b - sum_j mean_j w_j``, ``mean`` the raw columns' weighted means
    (offsets included) or 0 without intercept.
    """

    Z: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    ridge: np.ndarray  # curvature of ||w||^2 / (2C) in theta units, 0 for the intercept
    center: np.ndarray  # mu: means of the offset-centred columns
    scale: np.ndarray
    mean: np.ndarray  # means of the raw columns: mu + offsets
    fit_intercept: bool

    def to_model(self, theta: np.ndarray) -> np.ndarray:
        """The reported parameters ``[intercept b, w_1..w_p]`` (table order) of ``theta``."""
        w = theta[: len(self.scale)] / self.scale
        b = theta[-1] - self.mean @ w if self.fit_intercept else None
        return w if b is None else np.concatenate([[b], w])

    def model_rows(self) -> np.ndarray:
        """The matrix ``T`` of ``to_model`` (rows: reported parameters, columns: theta)."""
        return np.array([self.to_model(e) for e in np.eye(self.Z.shape[1])]).T

    def objective_coef(self, theta: np.ndarray) -> np.ndarray:
        """The flat ``(W, b')`` of the objective on offset-centred columns."""
        w = theta[: len(self.scale)] / self.scale
        return np.append(w, theta[-1] - self.center @ w) if self.fit_intercept else w

    def theta_of(self, coef: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`objective_coef`."""
        w = coef[: len(self.scale)]
        theta = w * self.scale
        return np.append(theta, coef[-1] + self.center @ w) if self.fit_intercept else theta

    def to_objective_units(self) -> np.ndarray:
        """``A`` with ``theta = A theta_obj``, theta_obj the objective's standardised
        coefficients ``(w * scale, b')``: gradients map by ``A^T``, curvatures by
        ``A^T C A``."""
        A = np.eye(self.Z.shape[1])
        if self.fit_intercept:
            A[-1, :-1] = self.center / self.scale
        return A


def build_design(X, codes, weight, fit_intercept, offsets: ColumnOffsets | None, C):
    """:class:`Design` of validated ``X`` (offsets not yet subtracted), codes, weights."""
    if sp.issparse(X):
        if X.shape[0] * X.shape[1] > MAX_DENSE_ENTRIES:
            raise ValueError(
                f"firth=True computes on dense X; this sparse X of shape {X.shape} has more "
                f"than {MAX_DENSE_ENTRIES} entries. Select features or use firth=False."
            )
        X = X.toarray()
    X = np.asarray(X, dtype=np.float64)
    if offsets is not None:
        X = X - offsets.full()  # exact (celr._offsets)
    weight = np.asarray(weight, dtype=np.float64)
    center, scale = weighted_center_scale(X, weight / weight.sum(), fit_intercept)
    Z = (X - center) / scale
    if fit_intercept:
        Z = np.column_stack([Z, np.ones(len(Z))])
    ridge = np.zeros(Z.shape[1])
    ridge[: len(scale)] = 0.0 if np.isinf(C) else 1.0 / (C * scale**2)
    mean = center + (0.0 if offsets is None else offsets.full())
    y = np.asarray(codes, dtype=np.float64)
    return Design(Z, y, weight, ridge, center, scale, mean, fit_intercept)


@dataclass(frozen=True)
class Point:
    """``l*`` and its derivatives at ``theta`` (Z units); ``value`` is -inf if I is singular."""

    theta: np.ndarray
    value: float
    score: np.ndarray | None = None  # U*
    curvature: np.ndarray | None = None  # I + diag(ridge)
    row_score: np.ndarray | None = None  # per unit weight: y - p + (h_i / s_i)(1/2 - p)


def evaluate(design: Design, theta: np.ndarray) -> Point:
    """``l*``, ``U*`` and ``I`` at ``theta`` (the module docstring's equations)."""
    Z, y, s = design.Z, design.y, design.weight
    eta = Z @ theta
    # Both tails accurately: p(1-p) = sigma(eta) sigma(-eta), y - p from the right side.
    p, q = expit(eta), expit(-eta)
    # With finite C the Jeffreys term is of the penalised information I + diag(1/C): it
    # stays finite where features outnumber the weighted rows (C=inf: logistf's).
    curvature = Z.T @ ((s * p * q)[:, None] * Z) + np.diag(design.ridge)
    try:
        factor = cholesky(curvature, lower=True)
    except LinAlgError:
        return Point(theta, -np.inf)
    diag = np.diag(factor)
    if not np.all(diag > 1e-150):  # numerically singular: W underflowed on every row
        return Point(theta, -np.inf)
    loglik = -s @ np.logaddexp(0.0, np.where(y == 1, -eta, eta))
    value = loglik + np.sum(np.log(diag)) - 0.5 * design.ridge @ theta**2
    # h_i / s_i = p_i (1 - p_i) ||L^-1 z_i||^2: the hat without its weight, kept finite
    # for zero-weight rows (their h_i is 0).
    whitened = solve_triangular(factor, Z.T, lower=True)
    leverage = np.einsum("ij,ij->j", whitened, whitened)
    row_score = np.where(y == 1, q, -p) + p * q * leverage * 0.5 * np.tanh(-eta / 2)
    score = Z.T @ (s * row_score) - design.ridge * theta
    return Point(theta, float(value), score, curvature, row_score)


@dataclass(frozen=True)
class FirthResult:
    """A maximisation's end: the point, its optimality, iterations, why it stopped."""

    point: Point
    stop_crit: float
    n_iter: int
    converged: bool
    reason: str
    history: list


def maximize(design, theta0, tol, max_iter, basis=None, anchor=None) -> FirthResult:
    """Newton-Raphson with step-halving on ``l*`` (logistf's), over ``anchor + basis phi``.

    ``basis`` (q, q-1) orthonormal and ``anchor``: the profile's constraint; None: all
    of ``theta``. Stops when the max-norm of the gradient of ``-l*/S`` (in the objective's
    standardised units for the full fit, in ``phi`` for a constrained one) and of the
    Newton step are both at most ``tol``, or when no halved step increases ``l*``
    (rounding level; short of ``tol``, a full step that keeps ``l*`` within its rounding
    and shrinks the score is taken instead), or after ``max_iter`` steps.
    """
    total = design.weight.sum()
    to_units = design.to_objective_units().T if basis is None else basis.T
    if basis is not None:
        theta0 = anchor + basis @ (basis.T @ (theta0 - anchor))
    point = evaluate(design, theta0)
    if not np.isfinite(point.value):
        raise ValueError(SINGULAR)
    history, n_iter, reason = [-point.value / total], 0, "max_iter"
    while True:
        crit = float(np.max(np.abs(to_units @ point.score), initial=0.0)) / total
        step = _newton_step(point, basis)
        if crit <= tol and np.max(np.abs(step), initial=0.0) <= tol:
            reason = "converged"
            break
        if n_iter >= max_iter:
            break
        step *= min(1.0, MAX_STEP / max(np.max(np.abs(step)), 1e-300))
        full = trial = evaluate(design, point.theta + step)
        halvings = 0
        while trial.value < point.value and halvings < MAX_HALVINGS:
            halvings += 1
            trial = evaluate(design, point.theta + step * 0.5**halvings)
        if trial.value < point.value:
            # Near the maximum l* is flat to its rounding, and a halving's comparison is
            # noise: short of tol, the full Newton step is kept if it leaves l* within that
            # rounding and shrinks the score (the weighted and the repeated rows of one
            # problem stalled at 1.3e-8 and 1e-8 apart without it). At tol, no increase
            # is convergence (below).
            slack = 4 * (len(design.y) + len(step)) * np.finfo(float).eps * abs(point.value)
            full_crit = float(np.max(np.abs(to_units @ full.score), initial=0.0)) / total
            if crit <= tol or not (full.value >= point.value - slack and full_crit < crit):
                reason = "no increase"
                break
            trial = full
        if np.array_equal(trial.theta, point.theta):
            # The step halved below theta's rounding: nothing moves, and the Newton step
            # test (in theta's units, not scale free) would be retried up to max_iter
            # (breast cancer's three raw columns: 1000 no-op steps of 3.5e-8 at a score
            # of 5e-11).
            reason = "no increase"
            break
        point, n_iter = trial, n_iter + 1
        history.append(-point.value / total)
    converged = reason == "converged" or (reason == "no increase" and crit <= tol)
    return FirthResult(point, crit, n_iter, converged, reason, history)


def _newton_step(point: Point, basis) -> np.ndarray:
    if basis is None:
        return cho_solve((cholesky(point.curvature, lower=True), True), point.score)
    reduced = basis.T @ point.curvature @ basis
    return basis @ np.linalg.solve(reduced, basis.T @ point.score)


def profile(design, fit: FirthResult, alpha, tol, max_iter):
    """Profile intervals and penalised LR p-values of every reported parameter.

    Returns ``lower, upper, p_value`` in table order (intercept first) and the count of
    constrained fits that did not converge.
    """
    quantile = chi2.isf(alpha, 1)
    rows = design.model_rows()
    estimate = rows @ fit.point.theta
    # Wald standard errors of the reported parameters: the first bracket's width.
    cov = rows @ np.linalg.inv(fit.point.curvature) @ rows.T
    std_error = np.sqrt(np.diag(cov))
    top, failures = fit.point.value, [0]

    def deviance(j, value, start):
        a = rows[j]
        anchor = value * a / (a @ a)
        result = maximize(design, start, tol, max_iter, null_space(a[None, :]), anchor)
        failures[0] += not result.converged
        return max(2.0 * (top - result.point.value), 0.0), result.point.theta

    lower, upper, p_value = (np.empty(len(estimate)) for _ in range(3))
    for j in range(len(estimate)):
        p_value[j] = chi2.sf(deviance(j, 0.0, fit.point.theta)[0], 1)
        for sign, out in ((-1.0, lower), (1.0, upper)):
            out[j] = _interval_end(
                lambda v, j=j: deviance(j, v, fit.point.theta)[0] - quantile,
                estimate[j], sign * std_error[j] * np.sqrt(quantile),
            )  # fmt: skip
    return lower, upper, p_value, failures[0]


def _interval_end(excess, estimate, width) -> float:
    """Where ``excess`` (negative at ``estimate``) crosses 0 beyond it along ``width``."""
    inner = estimate
    for _ in range(60):  # doubling: a finite end is bracketed within 2^60 Wald widths
        outer = estimate + width
        if excess(outer) > 0:
            return brentq(excess, inner, outer, xtol=1e-10 * abs(width), rtol=1e-15)
        inner, width = outer, 2 * width
    return float(np.copysign(np.inf, width))
