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

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike
from scipy.linalg import LinAlgError, cho_solve, cholesky, null_space, solve_triangular
from scipy.optimize import brentq
from scipy.special import expit, log_expit
from scipy.stats import chi2
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from celr._column_stats import weighted_center_scale
from celr._inference import Information, Likelihood, parametrization
from celr._inputs import FLOAT_DTYPES, encode_targets
from celr._objective import CoefLayout
from celr._offsets import ColumnOffsets, choose_offsets

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
    (rounding level), or after ``max_iter`` steps.
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
        for _ in range(MAX_HALVINGS + 1):
            trial = evaluate(design, point.theta + step)
            if trial.value >= point.value:
                break
            step *= 0.5
        else:
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


class FirthMixin:
    """Firth's fit (``firth=True``) and its profile intervals, for
    :class:`~celr.CrossEntropyLogisticRegression`."""

    def _check_firth_parameters(self) -> None:
        if self.l1_ratio != 0:
            raise ValueError(
                f"firth=True with l1_ratio={self.l1_ratio!r}: Firth's penalised likelihood "
                "takes no L1 part (its Newton-Raphson needs a smooth objective); use "
                "l1_ratio=0 (optionally a finite C for an L2 part)."
            )
        if self.solver not in ("auto", "newton"):
            raise ValueError(
                f"firth=True is fitted by its own Newton-Raphson; solver={self.solver!r} "
                "cannot fit it. Use solver='auto' or 'newton'."
            )

    def _fit_firth(self, X, codes, weight, stacklevel: int = 4):
        """``fit`` with ``firth=True``, after ``validate_data`` and ``encode_targets``."""
        if len(self.classes_) != 2:
            raise ValueError(
                "Only binary classification is supported. Firth's penalty is implemented "
                f"for two classes; y has {len(self.classes_)}."
            )
        normalized = weight / weight.sum()
        offsets = choose_offsets(
            X, normalized, self.fit_intercept, getattr(self, "feature_names_in_", None),
            stacklevel=stacklevel + 1,
        )  # fmt: skip
        design = build_design(X, codes, weight, self.fit_intercept, offsets, self.C)
        theta0 = np.zeros(design.Z.shape[1])
        if self.fit_intercept:  # the intercept-only optimum without penalty
            share = np.clip(normalized @ design.y, 1e-12, 1 - 1e-12)
            theta0[-1] = np.log(share / (1 - share))
        fit = maximize(design, theta0, self.tol, self.max_iter)
        layout = CoefLayout(2, X.shape[1], self.fit_intercept)
        coef = design.objective_coef(fit.point.theta)
        self._set_coefficients(layout, coef, X.dtype, True, offsets)
        self.n_iter_ = int(fit.n_iter)
        self.stop_crit_ = fit.stop_crit
        self.loss_curve_ = np.asarray(fit.history)
        self.validation_loss_curve_ = None
        self._optimizer_state = None
        # The ordinary log-likelihood at Firth's estimate, for results(); lr_test refuses
        # Firth fits (its statistic is for maximum-likelihood fits).
        self._likelihood = firth_likelihood(design, fit.point.theta)
        self._information = firth_information(design, fit.point, offsets)
        self.solver_ = "firth"
        if not fit.converged:
            cause = (
                f"reached max_iter={self.max_iter}"
                if fit.reason == "max_iter"
                else f"could not increase the penalised likelihood in {MAX_HALVINGS} halvings"
            )
            warnings.warn(
                f"firth=True: Newton-Raphson {cause} with modified-score max-norm "
                f"{fit.stop_crit:.2e} > tol={self.tol:g}: increase max_iter or loosen tol.",
                ConvergenceWarning,
                stacklevel=stacklevel,
            )
        return self

    def profile_ci(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        *,
        alpha: float = 0.05,
    ) -> pd.DataFrame:
        """Profile penalised-likelihood intervals and penalised LR p-values (logistf's).

        For each parameter ``beta_j`` (the intercept first, as in :meth:`summary`), the
        interval ``{beta_j : 2 (l*(beta_hat) - max_{others} l*(beta_j, ...)) <=
        chi2_1(1 - alpha)}`` of the penalised log-likelihood ``l*`` of the fit, and the
        p-value of that statistic at ``beta_j = 0`` (chi-square, one degree of freedom).
        Each end costs a root search over constrained Newton-Raphson fits.

        Parameters
        ----------
        X, y, sample_weight : the training data
            As given to ``fit`` (the fit must be Firth's optimum on them).
        alpha : float, default=0.05
            The intervals cover ``1 - alpha``.

        Returns
        -------
        table : pandas.DataFrame
            Columns ``estimate``, ``ci_lower``, ``ci_upper``, ``p_value``; ``attrs``
            holds ``alpha`` and ``penalized_log_likelihood`` (logistf's ``loglik``).

        Examples
        --------
        >>> import numpy as np
        >>> from celr import CrossEntropyLogisticRegression
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
        >>> y = np.array([0, 0, 0, 1, 1, 1])
        >>> clf = CrossEntropyLogisticRegression(C=np.inf, firth=True).fit(X, y)
        >>> clf.profile_ci(X, y).round(3)  # doctest: +NORMALIZE_WHITESPACE
                   estimate  ci_lower  ci_upper  p_value
        feature
        intercept    -2.822   -15.634     0.414    0.099
        x0            1.129     0.002     6.070    0.050
        """
        check_is_fitted(self)
        if not getattr(self, "firth", False) or self.solver_ != "firth":
            raise ValueError("profile_ci needs a model fitted with firth=True.")
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}.")
        design = self._firth_design(X, y, sample_weight)
        fitted = design.theta_of(self._objective_coef(self._layout(), self._fitted_offsets()))
        fit = maximize(design, fitted, self.tol, self.max_iter)
        limit = max(100.0 * self.stop_crit_, 1e-5)
        at_fitted = maximize(design, fitted, np.inf, 0).stop_crit
        if not at_fitted <= limit:
            raise ValueError(
                "The fitted coefficients are not Firth's optimum on the X, y and "
                f"sample_weight given (modified-score max-norm {at_fitted:.2e} > "
                f"{limit:.1e}): profile_ci needs the data the model was fitted on."
            )
        lower, upper, p_value, failures = profile(design, fit, alpha, self.tol, self.max_iter)
        if failures:
            warnings.warn(
                f"profile_ci: {failures} constrained fits did not converge; the ends or "
                "p-values they bound may be inaccurate. Increase max_iter.",
                ConvergenceWarning,
                stacklevel=2,
            )
        params = parametrization(self._layout(), self.classes_, self._feature_names(), False)
        table = pd.DataFrame(
            {
                "estimate": design.to_model(fit.point.theta),
                "ci_lower": lower,
                "ci_upper": upper,
                "p_value": p_value,
            },
            index=params.labels,
        )
        table.attrs.update(
            alpha=alpha,
            penalized_log_likelihood=fit.point.value + float(np.sum(np.log(design.scale))),
        )
        return table

    def _firth_design(self, X, y, sample_weight) -> Design:
        """The fit's :class:`Design` rebuilt from the training data."""
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], dtype=FLOAT_DTYPES, reset=False
        )
        targets = encode_targets(y, sample_weight, self.class_weight, classes=self.classes_)
        return build_design(
            X, targets.codes, targets.weights, self.fit_intercept, self._fitted_offsets(),
            self.C,
        )  # fmt: skip


def firth_likelihood(design: Design, theta: np.ndarray) -> Likelihood:
    """``sum_i s_i log p_i(y_i)`` at ``theta`` and of the intercept-only (or ``1/2``) model."""
    z = design.Z @ theta
    signed = np.where(design.y == 1, z, -z)
    total = float(design.weight.sum())
    if design.fit_intercept:
        share = float(design.weight @ design.y) / total
        shares = np.array([share, 1 - share])
        shares = shares[shares > 0]
        null = total * float(shares @ np.log(shares))
    else:
        null = -total * np.log(2.0)
    return Likelihood(float(design.weight @ log_expit(signed)), null, total, None)


def firth_information(design: Design, point: Point, offsets) -> Information:
    """:class:`~celr._inference.Information` at Firth's estimate, for ``summary()``.

    ``hessian`` is ``(I + ridge) / S`` in the objective's standardised units, so that
    ``summary`` and ``cov_params`` give logistf's Wald covariance ``(X^T W X)^-1``;
    ``score_outer`` is the outer product of the rows' modified scores (whose sum is 0 at
    the estimate), for the sandwich. No separation: the estimate is finite by design.
    """
    total = design.weight.sum()
    A = design.to_objective_units()
    Z_obj = design.Z @ A  # columns (x - m) / scale, then the intercept
    meat = Z_obj.T @ ((design.weight * point.row_score**2)[:, None] * Z_obj) / total
    scale = np.append(design.scale, 1.0) if design.fit_intercept else design.scale
    return Information(
        hessian=A.T @ point.curvature @ A / total,
        score_outer=meat,
        param_scale=scale.copy(),
        weight_sum=float(total),
        separation=None,
        offsets=None if offsets is None else offsets.full(),
    )
