"""What a fitted model predicts: scores, labels, probabilities and the mean loss."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit, log_expit
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from celr._array_api import array_api_namespace
from celr._array_api_fit import (
    fitted_on_array_api,
    predict_array_api,
    proba_array_api,
    scores_array_api,
)
from celr._dask import is_dask_collection, predict_dask
from celr._inputs import FLOAT_DTYPES
from celr._loss import (
    binary_loss_and_residual,
    log_softmax,
    multinomial_loss_and_residual,
    softmax,
)


class PredictionMixin:
    """Predictions of :class:`celr.CrossEntropyLogisticRegression` from ``coef_`` and
    ``intercept_`` (and, for columns fitted centred, ``_centered_model``)."""

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Scores ``X @ coef_.T + intercept_`` (for columns fitted centred, computed as
        ``(X - m) @ coef_.T + b'``, which avoids the offsets' rounding).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask Array or DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, the log-odds of ``classes_[1]``. For dask ``X``, a lazy dask
            Array with X's row chunks (likewise for every prediction method).
        """
        check_is_fitted(self)
        if is_dask_collection(X):
            return predict_dask(self, X, "decision_function")
        if self._array_api_input(X):
            return scores_array_api(self, X, "decision_function")
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=FLOAT_DTYPES, reset=False)
        scores = self._validated_scores(X)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def _array_api_input(self, X) -> bool:
        """Whether the Array-API path predicts: a model fitted on such arrays, or such X
        under ``array_api_dispatch`` (which then must match the fit's namespace)."""
        check_is_fitted(self)
        return fitted_on_array_api(self) or array_api_namespace(X) is not None

    def _validated_scores(self, X) -> np.ndarray:
        """Scores (n, n_scores) of validated ``X``; for columns fitted centred as fitted,
        since ``X @ coef_.T`` would add the rounding of the columns' offsets."""
        offsets = self._fitted_offsets()
        if offsets is None:
            return np.asarray(X @ self.coef_.T) + self.intercept_
        scores = offsets.scores(X, self.coef_, self._centered_model.centered_intercept)
        return scores.astype(self.coef_.dtype, copy=False)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Most probable class for each row.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask Array or DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        if is_dask_collection(X):  # lazy, chunk by chunk on the cluster
            return predict_dask(self, X, "predict")
        if self._array_api_input(X):
            return predict_array_api(self, X)
        scores = self.decision_function(X)
        codes = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[codes]

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities: ``sigma`` of the score (binary) or its softmax.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask Array or DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        if is_dask_collection(X):  # lazy, chunk by chunk on the cluster
            return predict_dask(self, X, "predict_proba")
        if self._array_api_input(X):
            return proba_array_api(self, X, "predict_proba", log=False)
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([expit(-scores), expit(scores)])
        return softmax(scores)

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Log class probabilities, computed in log space.

        Finite even where ``predict_proba`` rounds to 0 (e.g. a score of -1000 gives
        -1000, not ``-inf``).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask Array or DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        if is_dask_collection(X):  # lazy, chunk by chunk on the cluster
            return predict_dask(self, X, "predict_log_proba")
        if self._array_api_input(X):
            return proba_array_api(self, X, "predict_log_proba", log=True)
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([log_expit(-scores), log_expit(scores)])
        return log_softmax(scores)

    def loss(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """The model's mean cross-entropy on ``(X, y)``: the textbook's L_CE (eq. 5.23).

        Computed from the scores, so it is finite for every finite score. Weighted by
        ``sample_weight`` only (no class weights, no penalty).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels, all among ``classes_``.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        loss : float
        """
        scores = self.decision_function(X)
        y = np.asarray(y)
        if y.shape != (scores.shape[0],):
            raise ValueError(f"y must have shape ({scores.shape[0]},) to match X, got {y.shape}.")
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            raise ValueError(f"y contains labels not seen in fit: {np.unique(y[unknown])}.")
        codes = np.searchsorted(self.classes_, y)
        weights = _check_sample_weight(sample_weight, scores, ensure_non_negative=True)
        scores = scores.astype(np.float64)
        if scores.ndim == 1:
            per_sample, _ = binary_loss_and_residual(scores, codes.astype(np.float64))
        else:
            per_sample, _ = multinomial_loss_and_residual(scores, codes)
        return float(np.average(per_sample, weights=weights))
