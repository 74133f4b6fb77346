"""The estimator's side of Firth's penalised likelihood (``firth=True``): the fit's
attributes and the statistics inference reuses, and :meth:`FirthMixin.profile_ci`.

The math (the penalised log-likelihood, logistf's Newton-Raphson, the profile) is
:mod:`celr._firth`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import log_expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from celr._firth import (
    MAX_HALVINGS,
    Design,
    Point,
    build_design,
    maximize,
    profile,
)
from celr._inference import Information, Likelihood, checked_alpha, parametrization
from celr._inputs import FLOAT_DTYPES, encode_targets
from celr._objective import CoefLayout
from celr._offsets import choose_offsets


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
            short = (
                f"modified-score max-norm {fit.stop_crit:.2e} > tol={self.tol:g}"
                if fit.stop_crit > self.tol
                else f"Newton steps still above tol={self.tol:g}"
            )
            warnings.warn(
                f"firth=True: Newton-Raphson {cause} with {short}: increase max_iter or "
                "loosen tol.",
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
        checked_alpha(alpha)
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
