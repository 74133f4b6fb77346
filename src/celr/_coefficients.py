"""Between the solvers' flat vector and ``coef_``/``intercept_``: offsets, softmax's
representation, warm starts.

Solvers work on ``(W, b')`` of the objective on centred columns (:mod:`celr._offsets`);
the estimator reports ``b = b' - W m``. These conversions, both ways, live here.
"""

from __future__ import annotations

import numpy as np

from celr._array_api import to_numpy
from celr._objective import CoefLayout, LogisticObjective, intercept_only_coef
from celr._offsets import CenteredModel, ColumnOffsets


class CoefficientsMixin:
    """``coef_``/``intercept_`` of :class:`celr.CrossEntropyLogisticRegression` to and
    from the objective's coefficient vector."""

    def _fitted_offsets(self) -> ColumnOffsets | None:
        """The offsets of the centred columns the model was fitted on, if it still is."""
        centered = getattr(self, "_centered_model", None)
        if centered is None or not centered.describes(self.coef_, self.intercept_):
            return None
        return centered.offsets

    def _host_coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        """``coef_, intercept_`` as float64 NumPy arrays: a fit on Array-API input keeps
        them on X's device (:mod:`celr._array_api_fit`), inference runs on the host."""
        return (
            to_numpy(self.coef_).astype(np.float64),
            to_numpy(self.intercept_).astype(np.float64),
        )

    def _objective_coef(self, layout: CoefLayout, offsets: ColumnOffsets | None) -> np.ndarray:
        """``coef_, intercept_`` as a flat vector of the objective on ``offsets``' columns.

        The centred intercept ``b'`` is taken as fitted when the offsets are the fit's:
        recomputing it from ``intercept_`` would add back the rounding of ``b = b' - W m``.
        """
        weights, intercept = self._host_coefficients()
        coef = layout.pack(weights, intercept)
        if offsets is None:
            return coef
        fitted = self._fitted_offsets()
        if fitted is not None and _same_offsets(fitted, offsets):
            return layout.pack(weights, self._centered_model.centered_intercept)
        return offsets.to_objective(layout, coef)

    def _initial_coef(
        self, objective: LogisticObjective, offsets: ColumnOffsets | None = None
    ) -> np.ndarray:
        """Previous coefficients under ``warm_start``; else zero weights and log-odds."""
        if self.warm_start and hasattr(self, "coef_"):
            if self.coef_.shape == (objective.n_scores, objective.n_features):
                return self._objective_coef(objective, offsets)
        return intercept_only_coef(objective)

    def _set_coefficients(
        self,
        layout: CoefLayout,
        coef: np.ndarray,
        dtype,
        center_weights: bool = True,
        offsets: ColumnOffsets | None = None,
    ) -> None:
        W, intercept = layout.unpack(coef)
        if layout.n_scores > 1:
            # Softmax is shift invariant; report the representation whose scores sum to 0.
            # An L1 term is not: its optimum is the representation it chose (with zeros).
            if center_weights:
                W = W - W.mean(axis=0)
            intercept = intercept - intercept.mean()
        self.coef_ = np.array(W, dtype=dtype)
        self._centered_model = None
        if offsets is None:
            self.intercept_ = np.array(intercept, dtype=dtype)
            return
        centered_intercept = np.array(intercept, dtype=np.float64)
        model_intercept = intercept - self.coef_[:, offsets.columns] @ offsets.values
        self.intercept_ = np.array(model_intercept, dtype=dtype)
        self._centered_model = CenteredModel(
            offsets, self.coef_.copy(), self.intercept_.copy(), centered_intercept
        )


def _same_offsets(first: ColumnOffsets, second: ColumnOffsets) -> bool:
    return np.array_equal(first.columns, second.columns) and np.array_equal(
        first.values, second.values
    )
