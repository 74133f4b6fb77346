"""Marginal effects ``dP(class)/dx_j`` with delta-method standard errors (``margeff``).

For a row ``x`` with class probabilities ``P = softmax(W x + b)`` (two classes: the
scores ``(0, w . x + b)``, so ``P_1 = sigma(w . x + b)``), the effect of feature ``j`` on
class ``k`` is::

    M_kj(x) = dP_k/dx_j = P_k (W_kj - sum_l P_l W_lj)        (binary: p (1 - p) w_j)

and its derivative with respect to class ``m``'s parameters ``theta_m = (b_m, W_m)``,
``x~ = (1, x)`` (without intercept: ``x``), with ``D_kj = W_kj - sum_l P_l W_lj``::

    dM_kj/dtheta_ma = x~_a (P_k (d_km - P_m) D_kj - P_k P_m D_mj) + [a = j] P_k (d_km - P_m)

Softmax depends on score differences only, so these derivatives are the same at every
representative ``W + c``: the columns of classes ``k > 0`` are the derivatives with
respect to ``coef_[k] - coef_[0]`` (the ``'reference'`` and ``'binary'``
parametrisations of :func:`celr._inference.parametrization`), all ``K`` classes' those
with respect to ``coef_`` (``'sum-to-zero'``). The covariance of the effects is
``J Cov J^T`` (delta method), ``J`` the Jacobian averaged over the rows like the effects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from celr._inference import checked_alpha, wald_columns
from celr._inputs import FLOAT_DTYPES
from celr._loss import softmax

AT_OPTIONS = ("overall", "mean")
#: Entries of the largest per-chunk intermediate ``(rows, K, p, K)`` (32 MB of float64).
CHUNK_ENTRIES = 1 << 22


class MarginsMixin:
    """Marginal effects for :class:`~celr.CrossEntropyLogisticRegression`."""

    def margeff(
        self,
        X: ArrayLike,
        y: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
        *,
        at: str = "overall",
        cov_type: str = "nonrobust",
        alpha: float = 0.05,
        groups: ArrayLike | None = None,
    ) -> pd.DataFrame:
        """Marginal effects ``dP(class)/dx_j`` with delta-method standard errors.

        statsmodels' ``get_margeff(at=..., method='dydx')`` of ``Logit`` and ``MNLogit``
        (continuous features: ``dummy=False``, ``count=False``). For a row ``x`` the
        effect of feature ``j`` on the probability of class ``k`` is, by softmax,
        ``dP_k/dx_j = P_k (W_kj - sum_l P_l W_lj)``; for two classes, on
        ``P = P(classes_[1])``, ``p (1 - p) w_j``. ``at='overall'`` reports the average
        marginal effect (AME), e.g. ``mean_i p_i (1 - p_i) w_j`` for two classes, over
        the rows of ``X``; ``at='mean'`` the effect at the mean row of ``X`` (MEM). Both
        are weighted by ``sample_weight`` when given (class weights do not enter the
        average). The standard errors are ``sqrt(diag(J Cov J^T))``, ``J`` the exact
        Jacobian of the effects with respect to the parameters of :meth:`cov_params`.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            The rows to average over (``'overall'``) or whose mean to evaluate at
            (``'mean'``); validated as by :meth:`predict`.
        y : array-like of shape (n_samples,), default=None
            The training labels. Given, the covariance is computed on ``X, y,
            sample_weight``, which must then be the training data
            (``cov_params(X, y, sample_weight)``); else the covariance stored by ``fit``
            is used (``store_covariance=True``).
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights of the average (frequencies: a weight of 2 is the row twice).
        at : {'overall', 'mean'}, default='overall'
        cov_type : {'nonrobust', 'robust', 'HC0', 'HC1', 'cluster'}, default='nonrobust'
            The parameters' covariance; see :meth:`cov_params`.
        alpha : float, default=0.05
            The intervals cover ``1 - alpha`` (normal).
        groups : array-like of shape (n_samples,), optional
            With ``cov_type='cluster'`` (which needs ``y``): passed to :meth:`cov_params`.

        Returns
        -------
        effects : pandas.DataFrame
            Columns ``dydx``, ``std_error``, ``z``, ``p_value``, ``ci_lower``,
            ``ci_upper``. Two classes: one row per feature (index ``feature``), the
            effects on ``P(classes_[1])``. K classes: rows indexed by (``class``,
            ``feature``), class-major, every class including the reference
            ``classes_[0]``: the layout of statsmodels' ``MNLogit`` ``summary_frame``
            (whose classes are ``0..K-1``). ``attrs``: ``at``, ``cov_type``, ``alpha``,
            ``method='dydx'``, ``parametrization`` and ``note`` of :meth:`cov_params`.

        Raises
        ------
        ValueError
            For ``at`` or ``alpha`` out of range, ``X`` of the wrong shape or features,
            and where :meth:`cov_params` refuses (e.g. L1 weights at exactly 0,
            separation, no stored covariance and no ``y``).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_breast_cancer
        >>> from celr import CrossEntropyLogisticRegression
        >>> data = load_breast_cancer(as_frame=True)
        >>> X = data.data[["mean radius", "mean texture"]]
        >>> clf = CrossEntropyLogisticRegression(C=np.inf, store_covariance=True)
        >>> clf = clf.fit(X, data.target)
        >>> effects = clf.margeff(X)
        >>> effects[["dydx", "std_error", "z"]].round(4)  # doctest: +NORMALIZE_WHITESPACE
                        dydx  std_error        z
        feature
        mean radius  -0.0829     0.0037 -22.1064
        mean texture -0.0171     0.0025  -6.8589

        One more unit of mean radius lowers the probability of benign by 0.083 on
        average over the rows; statsmodels' ``Logit(...).get_margeff()`` agrees.
        """
        if at not in AT_OPTIONS:
            raise ValueError(f"at must be one of {AT_OPTIONS}, got {at!r}.")
        checked_alpha(alpha)
        check_is_fitted(self)
        data = validate_data(
            self, X, accept_sparse=["csr", "csc"], dtype=FLOAT_DTYPES, reset=False
        )
        weights = _check_sample_weight(sample_weight, data, ensure_non_negative=True)
        total = float(np.sum(weights, dtype=np.float64))
        if not total > 0:
            raise ValueError("sample_weight must have a positive sum.")
        weights = np.asarray(weights, dtype=np.float64) / total
        data_given = (X, y, sample_weight) if y is not None else ()
        try:
            cov = self.cov_params(*data_given, cov_type=cov_type, groups=groups)
        except ValueError as error:
            raise ValueError(f"No standard errors for the marginal effects: {error}") from error
        if at == "mean":
            data = np.asarray(data.T @ weights, dtype=np.float64)[None, :]
            weights = np.ones(1)
        W = self._softmax_weights()
        effects, jacobian = _effects_and_jacobian(
            data, weights, W, self.fit_intercept, self._row_scores
        )
        return self._margins_table(effects, jacobian, cov, at, cov_type, alpha)

    # -- helpers --------------------------------------------------------------------------
    def _softmax_weights(self) -> np.ndarray:
        """``W`` (K, p) of softmax; two classes: class 0's weights at 0."""
        W = np.asarray(self.coef_, dtype=np.float64)
        return np.vstack([np.zeros_like(W), W]) if len(self.classes_) == 2 else W

    def _row_scores(self, rows: np.ndarray) -> np.ndarray:
        """Softmax scores (n, K) of validated dense rows (two classes: class 0's at 0)."""
        scores = np.asarray(self._validated_scores(rows), dtype=np.float64)
        return np.column_stack([np.zeros(len(rows)), scores]) if scores.shape[1] == 1 else scores

    def _margins_table(self, effects, jacobian, cov, at, cov_type, alpha) -> pd.DataFrame:
        K = effects.shape[0]
        names = self._feature_names()
        kind = cov.attrs["parametrization"]
        first = 0 if kind == "sum-to-zero" else 1  # parameters of classes k >= first
        width = jacobian.shape[-1]
        if cov.shape != ((K - first) * width,) * 2:
            raise RuntimeError(f"cov_params has shape {cov.shape}, expected {K - first} x {width}")
        rows = slice(1, None) if kind == "binary" else slice(None)  # binary: P(classes_[1])
        effects = effects[rows].ravel()
        jacobian = jacobian[rows, :, first:].reshape(len(effects), -1)
        std_error = np.sqrt(np.diag(jacobian @ cov.to_numpy() @ jacobian.T))
        if kind == "binary":
            index = pd.Index(names, name="feature")
        else:
            index = pd.MultiIndex.from_product([self.classes_, names], names=["class", "feature"])
        table = pd.DataFrame(
            {"dydx": effects, **wald_columns(effects, std_error, alpha)}, index=index
        )
        table.attrs.update(
            at=at, cov_type=cov.attrs["cov_type"], alpha=alpha, method="dydx",
            parametrization=kind, note=cov.attrs.get("note", ""),
        )  # fmt: skip
        return table


def _effects_and_jacobian(X, weights, W, fit_intercept, row_scores):
    """Weighted means of the effects (K, p) and of their Jacobian (K, p, K, q).

    ``q = p + 1`` with an intercept (its column first, as in :meth:`cov_params`), else
    ``p``; ``weights`` sum to 1. Rows are taken in chunks, so memory is bounded by
    :data:`CHUNK_ENTRIES` whatever the number of rows.
    """
    K, p = W.shape
    intercept = int(bool(fit_intercept))
    q = p + intercept
    effects = np.zeros((K, p))
    jacobian = np.zeros((K, p, K, q))
    step = max(1, CHUNK_ENTRIES // (K * K * p))
    for start in range(0, X.shape[0], step):
        chunk = X[start : start + step]
        chunk = np.asarray(chunk.toarray() if sp.issparse(chunk) else chunk, dtype=np.float64)
        s = weights[start : start + step]
        P = softmax(row_scores(chunk))
        D = W[None, :, :] - (P @ W)[:, None, :]  # D_ikj = W_kj - sum_l P_il W_lj
        M = P[:, :, None] * D  # M_ikj = dP_ik / dx_ij
        x = np.column_stack([np.ones(len(chunk)), chunk]) if intercept else chunk
        effects += np.einsum("i,ikj->kj", s, M)
        sP = s[:, None] * P
        jacobian[np.arange(K), :, np.arange(K), :] += np.einsum(
            "ikj,ia->kja", sP[:, :, None] * D, x
        )
        jacobian -= np.einsum("ikj,im,ia->kjma", s[:, None, None] * M, P, x, optimize=True)
        jacobian -= np.einsum("ik,imj,ia->kjma", sP, M, x, optimize=True)
        shares = np.diag(sP.sum(axis=0)) - sP.T @ P  # sum_i s_i P_ik (d_km - P_im)
        jacobian[:, np.arange(p), :, np.arange(p) + intercept] += shares
    return effects, jacobian
