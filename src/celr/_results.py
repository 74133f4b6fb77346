"""The results view of a fit: model-level figures, the coefficient table, and their text.

:meth:`ResultsMixin.results` gathers what statsmodels prints above and in its coefficient
table, computed from the weighted log-likelihood ``l = -S f_data`` (the mean
cross-entropy, eq. 5.23, times the weight sum ``S``)::

    llr = 2 (llf - llnull)          llr_pvalue = P(chi2(df_model) > llr)
    prsquared = 1 - llf / llnull    (McFadden)
    aic = -2 llf + 2 k              bic = -2 llf + k log(nobs)

with ``k`` the identified parameters (intercepts included), ``df_model`` those that are
not intercepts and ``nobs = S`` (weights count as frequencies).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import chi2

from celr._inference import checked_alpha, likelihood, wald_columns

#: Width of the text rendering, as statsmodels' (78 characters).
WIDTH = 78


@dataclass(frozen=True, repr=False)
class LogisticResults:
    """What a fit found, as statsmodels' ``LogitResults`` / ``MNLogitResults`` report it.

    Built by :meth:`CrossEntropyLogisticRegression.results`. ``str(results)`` (or
    :meth:`as_text`) is a plain-text report to print or paste: a header block of
    model-level figures above the coefficient table; notebooks render it as HTML.

    Attributes
    ----------
    table : pandas.DataFrame
        The coefficient table of :meth:`~CrossEntropyLogisticRegression.summary`.
    cov : pandas.DataFrame
        The covariance of its rows (:meth:`~CrossEntropyLogisticRegression.cov_params`).
    llf : float
        Log-likelihood at the estimate, ``-S`` times the mean cross-entropy.
    llnull : float
        Log-likelihood of the model without features that this one nests: the
        intercept-only model (its optimum gives each class its weighted share) or,
        without intercept, every class at ``1/K`` (statsmodels always uses the former).
    nobs : float
        Weight sum ``S`` (the number of rows when unweighted).
    df_model : int
        Identified parameters that are not intercepts.
    df_resid : float
        ``nobs`` minus all identified parameters.
    converged : bool
        Whether the solver reached ``tol``.
    n_iter : int
    cov_type : str
    alpha : float
        The intervals cover ``1 - alpha``.
    model : str
        ``'Logit'`` (two classes) or ``'MNLogit'``.
    method : str
        The solver that ran.
    penalty : str
        ``'none'``, or the L2 / elastic-net penalty with its ``C``.
    note : str
        Caveats of a penalised fit's intervals ('' when unpenalised).
    """

    table: pd.DataFrame
    cov: pd.DataFrame
    llf: float
    llnull: float
    nobs: float
    df_model: int
    df_resid: float
    converged: bool
    n_iter: int
    cov_type: str
    alpha: float
    model: str
    method: str
    penalty: str
    note: str = field(default="")

    # -- the figures derived from the log-likelihoods ------------------------------------
    @property
    def n_params(self) -> int:
        """Identified parameters, intercepts included (``k`` of AIC and BIC)."""
        return round(self.nobs - self.df_resid)

    @property
    def llr(self) -> float:
        """Likelihood-ratio statistic against the null model, ``2 (llf - llnull)``."""
        return 2.0 * (self.llf - self.llnull)

    @property
    def llr_pvalue(self) -> float:
        """``P(chi2(df_model) > llr)``."""
        return float(chi2.sf(self.llr, self.df_model))

    @property
    def prsquared(self) -> float:
        """McFadden's pseudo-R², ``1 - llf / llnull``."""
        return 1.0 - self.llf / self.llnull

    @property
    def aic(self) -> float:
        """Akaike's information criterion, ``-2 llf + 2 k``."""
        return -2.0 * self.llf + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        """Bayes' (Schwarz's) information criterion, ``-2 llf + k log(nobs)``."""
        return -2.0 * self.llf + self.n_params * np.log(self.nobs)

    # -- the table's columns, named as statsmodels' --------------------------------------
    @property
    def params(self) -> pd.Series:
        """The estimates."""
        return self.table["estimate"]

    @property
    def bse(self) -> pd.Series:
        """Their standard errors."""
        return self.table["std_error"]

    @property
    def zvalues(self) -> pd.Series:
        """Wald statistics, estimate over standard error."""
        return self.table["z"]

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values of the Wald statistics."""
        return self.table["p_value"]

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """Wald intervals covering ``1 - alpha`` (default: the results' ``alpha``)."""
        alpha = self.alpha if alpha is None else alpha
        wald = wald_columns(self.params.to_numpy(), self.bse.to_numpy(), alpha)
        return pd.DataFrame(
            {"lower": wald["ci_lower"], "upper": wald["ci_upper"]}, index=self.params.index
        )

    # -- renderings ----------------------------------------------------------------------
    def header(self) -> list[tuple[str, str, str, str]]:
        """The header block's rows: two (label, value) pairs each."""
        return [
            ("Model:", self.model, "No. Observations:", f"{self.nobs:g}"),
            ("Method:", self.method, "Df Residuals:", f"{self.df_resid:g}"),
            ("Penalty:", self.penalty, "Df Model:", f"{self.df_model}"),
            ("Converged:", str(self.converged), "Pseudo R-squ.:", f"{self.prsquared:.4f}"),
            ("Iterations:", f"{self.n_iter}", "Log-Likelihood:", f"{self.llf:.5g}"),
            ("Covariance Type:", self.cov_type, "LL-Null:", f"{self.llnull:.5g}"),
            ("AIC:", f"{self.aic:.5g}", "LLR p-value:", f"{self.llr_pvalue:.4g}"),
            ("BIC:", f"{self.bic:.5g}", "", ""),
        ]

    def as_text(self) -> str:
        """The report as plain text, statsmodels' layout: header, then coefficients."""
        half = WIDTH // 2
        lines = ["CrossEntropyLogisticRegression Results".center(WIDTH), "=" * WIDTH]
        for left, left_value, right, right_value in self.header():
            lines.append(
                f"{left:<17}{left_value:>{half - 20}}   {right:<19}{right_value:>{half - 19}}"
            )
        lines.append("=" * WIDTH)
        lower, upper = f"[{self.alpha / 2:g}", f"{1 - self.alpha / 2:g}]"
        columns = ["coef", "std err", "z", "P>|z|", lower, upper]
        names = [_label(index) for index in self.table.index]
        name_width = max(14, *(len(name) for name in names)) + 1
        lines.append(
            " " * name_width + "".join(f"{c:>{(WIDTH - name_width) // 6}}" for c in columns)
        )
        lines.append("-" * WIDTH)
        cell = (WIDTH - name_width) // 6
        values = self.table[["estimate", "std_error", "z", "p_value", "ci_lower", "ci_upper"]]
        for name, row in zip(names, values.to_numpy(), strict=True):
            p_value = f"{row[3]:.3f}"
            numbers = [_number(row[0]), _number(row[1]), f"{row[2]:.3f}", p_value]
            numbers += [_number(row[4]), _number(row[5])]
            lines.append(f"{name:<{name_width}}" + "".join(f"{n:>{cell}}" for n in numbers))
        lines.append("=" * WIDTH)
        if self.note:
            lines.append(self.note)
        return "\n".join(line.rstrip() for line in lines)

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return (
            f"<LogisticResults {self.model}: nobs={self.nobs:g}, llf={self.llf:.6g}, "
            f"{len(self.table)} parameters, cov_type={self.cov_type!r}>"
        )

    def _repr_html_(self) -> str:
        cells = "".join(
            "<tr>"
            + "".join(
                f"<th>{html.escape(a)}</th><td>{html.escape(b)}</td>"
                for a, b in ((left, lv), (right, rv))
            )
            + "</tr>"
            for left, lv, right, rv in self.header()
        )
        note = f"<p>{html.escape(self.note)}</p>" if self.note else ""
        return (
            "<div><p><b>CrossEntropyLogisticRegression Results</b></p>"
            f"<table>{cells}</table>{self.table.to_html(float_format='{:.4g}'.format)}"
            f"{note}</div>"
        )


def _label(index) -> str:
    return "[".join(map(str, index)) + "]" if isinstance(index, tuple) else str(index)


def _number(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 1e5 else f"{value:.4g}"


class ResultsMixin:
    """:meth:`results` for :class:`~celr.CrossEntropyLogisticRegression`."""

    def results(
        self,
        X: ArrayLike | None = None,
        y: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
        *,
        alpha: float = 0.05,
        cov_type: str = "nonrobust",
        groups: ArrayLike | None = None,
    ) -> LogisticResults:
        """The fit's results view: model-level figures with the coefficient table.

        ``llf``, ``llnull``, ``llr``, ``llr_pvalue``, ``prsquared``, ``aic``, ``bic``,
        ``nobs``, ``df_model``, ``df_resid``, ``converged``, ``n_iter``, ``cov_type``, as
        statsmodels' ``Logit`` / ``MNLogit`` results have them (and, with weights, its
        ``GLM(..., freq_weights=...)``); ``print(results)`` shows them as statsmodels'
        ``summary()`` text does. The arguments are :meth:`summary`'s.

        Returns
        -------
        LogisticResults

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_breast_cancer
        >>> from celr import CrossEntropyLogisticRegression
        >>> data = load_breast_cancer(as_frame=True)
        >>> X = data.data[["mean radius", "mean texture"]]
        >>> clf = CrossEntropyLogisticRegression(C=np.inf).fit(X, data.target)
        >>> res = clf.results()
        >>> round(res.llf, 3), round(res.llnull, 3), res.df_model, round(res.prsquared, 4)
        (-145.562, -375.72, 2, 0.6126)
        >>> print(res)
                            CrossEntropyLogisticRegression Results
        ==============================================================================
        Model:                         Logit   No. Observations:                   569
        Method:                       newton   Df Residuals:                       566
        Penalty:                        none   Df Model:                             2
        Converged:                      True   Pseudo R-squ.:                   0.6126
        Iterations:                        7   Log-Likelihood:                 -145.56
        Covariance Type:           nonrobust   LL-Null:                        -375.72
        AIC:                          297.12   LLR p-value:                 1.105e-100
        BIC:                          310.15
        ==============================================================================
                             coef   std err         z     P>|z|    [0.025    0.975]
        ------------------------------------------------------------------------------
        intercept         19.8494    1.7739    11.189     0.000   16.3725   23.3263
        mean radius       -1.0571    0.1015   -10.417     0.000   -1.2560   -0.8582
        mean texture      -0.2181    0.0371    -5.885     0.000   -0.2908   -0.1455
        ==============================================================================
        """
        checked_alpha(alpha)
        info, params, cov = self._covariance(X, y, sample_weight, cov_type, groups)
        table = self._coefficient_table(info, params, cov, cov_type, alpha)
        cov = self._covariance_frame(info, params, cov, cov_type)
        stats = getattr(self, "_likelihood", None)
        if stats is None:
            if X is None:
                raise ValueError(
                    "This model does not hold its log-likelihood (partial_fit, or a CV "
                    "model): pass the X, y (and sample_weight) given to fit."
                )
            objective = self._training_objective(X, y, sample_weight)
            coef = self._objective_coef(self._layout(), self._fitted_offsets())
            stats = likelihood(objective, coef, [], search_separation=False)
        # k: softmax identifies K - 1 classes' parameters (the penalised table's K rows
        # sum to zero over the classes), two classes one row.
        n_params = self._n_identified()
        n_intercepts = self.fit_intercept * max(1, len(self.classes_) - 1)
        C, l1_ratio = self._regularization()
        return LogisticResults(
            table=table,
            cov=cov,
            llf=float(stats.log_likelihood),
            llnull=float(stats.null),
            nobs=float(stats.weight_sum),
            df_model=int(n_params - n_intercepts),
            df_resid=float(stats.weight_sum - n_params),
            converged=bool(self._converged()),
            n_iter=int(np.max(self.n_iter_)),
            cov_type=table.attrs["cov_type"],
            alpha=alpha,
            model="Logit" if len(self.classes_) == 2 else "MNLogit",
            method=str(getattr(self, "solver_", "")),
            penalty=_penalty_name(C, l1_ratio),
            note=table.attrs.get("note", ""),
        )

    def _converged(self) -> bool:
        crit = self.stop_crit_
        return crit is not None and bool(np.isfinite(crit)) and crit <= self.tol


def _penalty_name(C: float, l1_ratio: float) -> str:
    if np.isinf(C):
        return "none"
    if l1_ratio == 0:
        return f"L2, C={C:g}"
    return f"elastic net, C={C:g}, l1_ratio={l1_ratio:g}"
