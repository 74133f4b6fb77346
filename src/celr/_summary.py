"""The estimator's inference methods: ``summary``, ``cov_params`` and ``lr_test``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import chi2
from sklearn.utils.validation import check_is_fitted

from celr._inference import (
    COV_TYPES,
    Likelihood,
    LRTestResult,
    check_at_optimum,
    checked_alpha,
    cluster_codes,
    covariance,
    information,
    parametrization,
    wald_columns,
)
from celr._objective import CoefLayout
from celr._results import ResultsMixin

PENALIZED_NOTE = (
    "Penalised fit (finite C): the estimates are shrunk toward 0, and the standard errors "
    "and intervals are conditional on the penalty. They are those of the Laplace "
    "approximation to the posterior under the Gaussian prior that the L2 penalty is, not "
    "frequentist confidence intervals for the unpenalised weights."
)
L1_ZEROS_REFUSAL = (
    "The L1 penalty set {n_zero} coefficients exactly to 0 ({examples}). Wald standard "
    "errors are meaningless there: the estimate sits at the kink of |w|, its sampling "
    "distribution has a point mass at 0, and which weights are zero was chosen from the "
    "same data. Fit with C=np.inf (or l1_ratio=0) for a coefficient table, or refit the "
    "selected features without L1 (intervals then ignore the selection)."
)


MULTINOMIAL_L1_REFUSAL = (
    "No coefficient table for multinomial fits with an L1 part: the L1 term chooses which "
    "of softmax's equivalent weight vectors is reported (the per-feature median, with "
    "zeros), so the Wald intervals would describe that choice. Use l1_ratio=0 or C=np.inf."
)


#: Largest optimality measure (``stop_crit_``) of a fit the likelihood-ratio test accepts:
#: float32 Newton fits stop near sqrt(float32 eps) = 3.5e-4; ``'sgd'`` fits stop far
#: above, at log-likelihoods off by more than the test resolves.
LR_TEST_OPTIMALITY = 1e-3


class InferenceMixin(ResultsMixin):
    """Coefficient tables and tests for :class:`~celr.CrossEntropyLogisticRegression`.

    They need the Hessian of the objective at the optimum, which depends on the training
    data: pass ``X, y, sample_weight`` as given to ``fit``, or fit with
    ``store_covariance=True`` to compute it once during ``fit``.
    """

    def cov_params(
        self,
        X: ArrayLike | None = None,
        y: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
        *,
        cov_type: str = "nonrobust",
        groups: ArrayLike | None = None,
    ) -> pd.DataFrame:
        """Covariance matrix of the fitted parameters, labelled as :meth:`summary`'s rows.

        Parameters
        ----------
        X, y, sample_weight : training data, optional
            The data passed to ``fit``; optional when ``fit`` kept what inference needs
            (``store_covariance=True``, or on its own where that is cheap: see
            :meth:`summary`), except for ``cov_type='cluster'``.
        cov_type : {'nonrobust', 'robust', 'HC0', 'HC1', 'cluster'}, default='nonrobust'
            ``'nonrobust'``: the inverse observed information ``(S H)^-1``.
            ``'robust'`` (the same as ``'HC0'``): the sandwich
            ``(S H)^-1 (sum_i s_i g_i g_i^T) (S H)^-1``, valid when the model's
            probabilities are misspecified. ``'HC1'``: HC0 times ``S / (S - k)``, ``k``
            the number of identified parameters (statsmodels' ``GLM`` and ``Logit``
            apply no such factor: their ``'HC1'`` equals their ``'HC0'``).
            ``'cluster'``: the sandwich with each cluster's scores summed, times
            ``G/(G-1) (S-1)/(S-k)`` for ``G`` clusters: statsmodels'
            ``cov_type='cluster'``; it needs the training data and ``groups``.
        groups : array-like of shape (n_samples,), optional
            With ``cov_type='cluster'``: the cluster label of each training row.

        Returns
        -------
        cov : pandas.DataFrame of shape (n_reported, n_reported)
        """
        info, params, cov = self._covariance(X, y, sample_weight, cov_type, groups)
        return self._covariance_frame(info, params, cov, cov_type)

    def _covariance_frame(self, info, params, cov, cov_type) -> pd.DataFrame:
        frame = pd.DataFrame(cov, index=params.labels, columns=params.labels)
        frame.attrs.update(self._table_attrs(info, params, cov_type))
        return frame

    def summary(
        self,
        X: ArrayLike | None = None,
        y: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
        *,
        alpha: float = 0.05,
        cov_type: str = "nonrobust",
        groups: ArrayLike | None = None,
    ) -> pd.DataFrame:
        """Coefficient table: estimates, standard errors, Wald z, p-values, intervals.

        One row per parameter, the intercept first, labelled by ``feature_names_in_``
        (``x0, x1, ...`` without names). Two classes: the weights of ``classes_[1]``'s
        log-odds, so ``odds_ratio`` is the factor on the odds per unit of the feature.
        K classes: rows indexed by (class, feature). Unpenalised (``C=np.inf``), only
        differences between classes are identified, so as in statsmodels' ``MNLogit``
        each class ``k > 0`` is reported against the reference class ``classes_[0]``
        (``coef_[k] - coef_[0]``, odds ratios of k versus the reference). Penalised, the
        penalty identifies ``coef_`` itself, which is reported as it is, every class.

        The table is refused (``ValueError``) where it would be meaningless: an
        unpenalised fit on (quasi-)separated classes, whose optimum is at infinity; an
        L1 fit with weights at exactly 0 (the estimate sits at the kink of ``|w|``, with
        a point mass at 0 in its distribution), or multinomial with any L1 part;
        collinear features. A penalised fit's table is
        given, with the note in ``attrs['note']`` that the intervals are conditional on
        the penalty (the estimates are shrunk, and the intervals are those of the
        Laplace approximation to the posterior of the Gaussian prior the L2 penalty is).

        No data are needed after a fit that kept its information: ``fit`` keeps it
        (the Hessian and score outer product at the optimum) with
        ``store_covariance=True``, and on its own after a converged full-batch fit
        without an L1 part, of at most 1,000 parameters, where it is predicted (from the
        shape and the iterations taken) to cost under 10% of the fit or under 5 ms:
        small and mid-sized data. Otherwise the error says why it was not kept.

        Parameters
        ----------
        X, y, sample_weight : training data, optional
            The data passed to ``fit``; optional when ``fit`` kept its information
            (above). Data on which the model is not at its optimum (other rows, labels
            or weights) are refused.
        alpha : float, default=0.05
            The intervals cover ``1 - alpha``.
        cov_type : {'nonrobust', 'robust', 'HC0', 'HC1', 'cluster'}, default='nonrobust'
            See :meth:`cov_params`.
        groups : array-like of shape (n_samples,), optional
            Cluster labels for ``cov_type='cluster'``.

        Returns
        -------
        table : pandas.DataFrame
            Columns ``estimate``, ``std_error``, ``z``, ``p_value``, ``ci_lower``,
            ``ci_upper``, ``odds_ratio``, ``odds_ratio_lower``, ``odds_ratio_upper``.
            ``attrs`` holds ``cov_type``, ``alpha``, ``parametrization`` ('binary',
            'reference' or 'sum-to-zero': ``coef_`` of a penalised multinomial fit, whose
            weights sum to 0 over the classes), ``reference_class``, ``penalized``, ``C``,
            ``l1_ratio``, ``n_obs`` (the weight sum), ``note`` and, unpenalised,
            ``log_likelihood``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_breast_cancer
        >>> from celr import CrossEntropyLogisticRegression
        >>> data = load_breast_cancer(as_frame=True)
        >>> X = data.data[["mean radius", "mean texture"]]
        >>> clf = CrossEntropyLogisticRegression(C=np.inf).fit(X, data.target)
        >>> table = clf.summary(X, data.target)
        >>> columns = ["estimate", "std_error", "z", "odds_ratio"]
        >>> table[columns].round(3).iloc[1:]  # doctest: +NORMALIZE_WHITESPACE
                      estimate  std_error       z  odds_ratio
        feature
        mean radius     -1.057      0.101 -10.417       0.347
        mean texture    -0.218      0.037  -5.885       0.804

        Each extra unit of mean radius multiplies the odds of ``classes_[1]`` (benign)
        by 0.347; statsmodels' ``Logit`` gives the same numbers.
        """
        checked_alpha(alpha)
        info, params, cov = self._covariance(X, y, sample_weight, cov_type, groups)
        return self._coefficient_table(info, params, cov, cov_type, alpha)

    def _coefficient_table(self, info, params, cov, cov_type, alpha) -> pd.DataFrame:
        """:meth:`summary`'s table from the covariance of the reported parameters."""
        estimate = params.estimates(self._flat_coef(), self._layout().n_scores)
        wald = wald_columns(estimate, np.sqrt(np.diag(cov)), alpha)
        with np.errstate(over="ignore"):  # exp of a weight > 709 is inf, and that is right
            odds = {
                "odds_ratio": np.exp(estimate),
                "odds_ratio_lower": np.exp(wald["ci_lower"]),
                "odds_ratio_upper": np.exp(wald["ci_upper"]),
            }
        # One frame from numpy columns: pandas' column-by-column insertion cost more than
        # the whole inference on small data.
        table = pd.DataFrame({"estimate": estimate, **wald, **odds}, index=params.labels)
        table.attrs.update(self._table_attrs(info, params, cov_type, alpha))
        return table

    def lr_test(self, restricted=None) -> LRTestResult:
        """Likelihood-ratio test of a nested, restricted model against this one.

        ``2 (l_this - l_restricted)`` is asymptotically chi-square with as many degrees
        of freedom as the restriction removes parameters, if the restriction holds. Both
        fits must be unpenalised (``C=np.inf``) maximum-likelihood fits on the same rows
        and weights, the restricted one on a subset of this one's features (checked by
        name when both have ``feature_names_in_``, else only by count).

        Parameters
        ----------
        restricted : CrossEntropyLogisticRegression or None, default=None
            The restricted fit; None tests against the model without features
            (intercept only, or every class at ``1/K`` without intercept).

        Returns
        -------
        LRTestResult
            ``statistic``, ``df`` and ``p_value``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_breast_cancer
        >>> from celr import CrossEntropyLogisticRegression
        >>> data = load_breast_cancer(as_frame=True)
        >>> X, y = data.data[["mean radius", "mean texture"]], data.target
        >>> full = CrossEntropyLogisticRegression(C=np.inf).fit(X, y)
        >>> small = CrossEntropyLogisticRegression(C=np.inf).fit(X[["mean radius"]], y)
        >>> result = full.lr_test(small)
        >>> result.df, round(result.statistic, 2), result.p_value < 1e-9
        (1, 38.89, True)
        """
        full = self._unpenalized_likelihood()
        if restricted is None:
            layout = self._layout()
            restricted_loglik = full.null
            df = layout.n_features * (1 if layout.n_scores == 1 else layout.n_scores - 1)
        else:
            other = restricted._unpenalized_likelihood()
            self._check_nested(restricted, other, full)
            restricted_loglik = other.log_likelihood
            df = self._n_identified() - restricted._n_identified()
        statistic = 2.0 * (full.log_likelihood - restricted_loglik)
        if statistic < -1e-6 * max(1.0, abs(full.log_likelihood)):
            raise ValueError(
                f"The restricted model fits better (log-likelihood {restricted_loglik:.6g} > "
                f"{full.log_likelihood:.6g}): the models are not nested or did not converge."
            )
        statistic = max(float(statistic), 0.0)
        return LRTestResult(statistic, int(df), float(chi2.sf(statistic, df)))

    # -- helpers --------------------------------------------------------------------------
    def _layout(self) -> CoefLayout:
        return CoefLayout(len(self.classes_), self.n_features_in_, self.fit_intercept)

    def _flat_coef(self) -> np.ndarray:
        return self._layout().pack(*self._host_coefficients())

    def _n_identified(self) -> int:
        layout = self._layout()
        width = layout.n_features + layout.fit_intercept
        return width * (1 if layout.n_scores == 1 else layout.n_scores - 1)

    def _feature_names(self) -> list[str]:
        if hasattr(self, "feature_names_in_"):
            return [str(name) for name in self.feature_names_in_]
        return [f"x{j}" for j in range(self.n_features_in_)]

    def _covariance(self, X, y, sample_weight, cov_type, groups):
        """Information, parametrisation and covariance of the reported parameters."""
        cov_type = _checked_cov_type(cov_type)
        if cov_type == "cluster" and X is None:
            raise ValueError(
                "cov_type='cluster' needs the training data: pass the X, y (and "
                "sample_weight) given to fit, and groups."
            )
        if cov_type != "cluster" and groups is not None:
            raise ValueError(f"groups is only used with cov_type='cluster', not {cov_type!r}.")
        info, params, objective, coef = self._inference_inputs(X, y, sample_weight)
        sums = None
        if cov_type == "cluster":
            codes, n_groups = cluster_codes(groups, objective.n_samples)
            _, spread = objective.feature_center_scale()
            sums = objective.cluster_score_sums(coef, codes, n_groups, column_scale=spread)
        return info, params, covariance(info, params, cov_type, sums)

    def _inference_inputs(self, X, y, sample_weight):
        """The information (stored, or computed from the data given), the reported
        parameters, the training objective (None without data) and its coefficients."""
        check_is_fitted(self)
        self._refuse_l1_zeros()
        # The objective's coefficients: those of the centred columns of the fit, if any.
        offsets = self._fitted_offsets()
        coef = self._objective_coef(self._layout(), offsets)
        names = self._feature_names()
        objective = None
        if X is None:
            info = getattr(self, "_information", None)
            if info is None:
                raise ValueError(self._no_information_message())
        else:
            if y is None:
                raise ValueError("y is required with X: pass the labels given to fit.")
            objective = self._training_objective(X, y, sample_weight)
            penalty = self._penalty(objective)
            info = information(objective, penalty, coef, names, offsets)
        if info.separation is not None:
            raise ValueError(
                f"{info.separation.describe()} Standard errors, z-values and intervals "
                "would be meaningless (they grow with the solver's iterations). Use a "
                "finite C (e.g. C=1; the table then says it is conditional on the penalty)."
            )
        if X is not None:
            check_at_optimum(objective, penalty, coef, self._optimality_limit())
        penalized = not np.isinf(self._regularization()[0])
        params = parametrization(self._layout(), self.classes_, names, penalized)
        return info, params, objective, coef

    def _no_information_message(self) -> str:
        skipped = getattr(self, "_information_skipped", None)
        why = (
            f"fit did not keep it because {skipped}"
            if skipped
            else "this model does not hold it (partial_fit, a CV model, or an older file)"
        )
        return (
            "Inference needs the Hessian at the optimum, from the training data, and "
            f"{why}: pass the X, y (and sample_weight) given to fit, or fit with "
            "store_covariance=True."
        )

    def _optimality_limit(self) -> float:
        """Gradient max-norm up to which given data count as the fit's own.

        A fit that did not measure its optimality (``partial_fit``'s NaN) is allowed the
        accuracy stochastic gradients reach; one with no optimum (None: a CV model averaged
        over folds) only rounding.
        """
        fitted = 0.0 if self.stop_crit_ is None else self.stop_crit_
        return max(100.0 * fitted, 1e-5) if np.isfinite(fitted) else 1e-3

    def _refuse_l1_zeros(self) -> None:
        C, l1_ratio = self._regularization()
        if np.isinf(C) or l1_ratio == 0:
            return
        if len(self.classes_) > 2:
            # Softmax's weights are identified only up to a shift per feature; an L2
            # penalty picks the centred one, L1 the per-feature median: no parametrisation
            # whose covariance the local quadratic describes.
            raise ValueError(MULTINOMIAL_L1_REFUSAL)
        zero = self._host_coefficients()[0] == 0
        if zero.any():
            names = self._feature_names()
            examples = ", ".join(repr(names[j]) for j in np.flatnonzero(zero.any(axis=0))[:5])
            raise ValueError(L1_ZEROS_REFUSAL.format(n_zero=int(zero.sum()), examples=examples))

    def _unpenalized_likelihood(self) -> Likelihood:
        check_is_fitted(self)
        C = self._regularization()[0]
        if not np.isinf(C):
            raise ValueError(
                "The likelihood-ratio test compares maximum-likelihood fits; this one is "
                f"penalised (C={C!r}), so its statistic has no chi-square distribution. "
                "Fit both models with C=np.inf."
            )
        if getattr(self, "solver_", None) == "firth":
            raise ValueError(
                "The likelihood-ratio test compares maximum-likelihood fits; this is a Firth "
                "fit (firth=True), whose penalised likelihood-ratio tests profile_ci gives."
            )
        stats = getattr(self, "_likelihood", None)
        if stats is None:
            raise ValueError(
                "This model's likelihood on its training data is unknown (partial_fit sees "
                "one chunk at a time): fit it with fit() for a likelihood-ratio test."
            )
        if stats.separation is not None:
            raise ValueError(f"{stats.separation.describe()} No likelihood-ratio test then.")
        if not self.stop_crit_ <= LR_TEST_OPTIMALITY:
            raise ValueError(
                f"The fit did not reach the maximum likelihood (gradient max-norm "
                f"{self.stop_crit_:.1e} > {LR_TEST_OPTIMALITY:g}), which the test assumes: "
                "refit with solver='newton' or a smaller tol."
            )
        return stats

    def _check_nested(self, restricted, other: Likelihood, full: Likelihood) -> None:
        if not np.array_equal(self.classes_, restricted.classes_):
            raise ValueError("The restricted model was fitted on other classes.")
        if not np.isclose(other.weight_sum, full.weight_sum, rtol=1e-9, atol=0):
            raise ValueError(
                "The models were fitted on different data (total weights "
                f"{full.weight_sum:g} and {other.weight_sum:g})."
            )
        if hasattr(self, "feature_names_in_") and hasattr(restricted, "feature_names_in_"):
            extra = sorted(set(restricted.feature_names_in_) - set(self.feature_names_in_))
            if extra:
                raise ValueError(f"The restricted model has features this one lacks: {extra}.")
        if restricted.fit_intercept and not self.fit_intercept:
            raise ValueError("The restricted model has an intercept this one lacks.")
        if restricted._n_identified() >= self._n_identified():
            raise ValueError(
                "The restricted model must have fewer parameters than this one "
                f"({restricted._n_identified()} >= {self._n_identified()})."
            )

    def _table_attrs(self, info, params, cov_type, alpha=None) -> dict:
        C, l1_ratio = self._regularization()
        penalized = not np.isinf(C)
        attrs = {
            "cov_type": "HC0" if cov_type == "robust" else cov_type,
            "parametrization": params.kind,
            "reference_class": params.reference,
            "penalized": penalized,
            "C": float(C),
            "l1_ratio": float(l1_ratio),
            "n_obs": info.weight_sum,
            "note": PENALIZED_NOTE if penalized else "",
        }
        if alpha is not None:
            attrs["alpha"] = alpha
        likelihood = getattr(self, "_likelihood", None)
        if likelihood is not None:
            attrs["log_likelihood"] = likelihood.log_likelihood
        return attrs


def _checked_cov_type(cov_type: str) -> str:
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type must be one of {COV_TYPES}, got {cov_type!r}.")
    return cov_type
