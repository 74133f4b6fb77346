"""Columns with a large offset (timestamps, years, IDs): fitted on a centred copy.

With an intercept, a column ``x_j + c`` gives the same model as ``x_j``: the intercept
absorbs ``c w_j``, and the penalty does not touch it. In floating point it does not: the
scores ``X @ w`` then carry a rounding error of ``u c |w_j|`` (``u`` the unit roundoff),
and the gradient ``X.T r`` one of ``u c sum |r_i|``, which swamps the gradient's true size
near the optimum. Solvers stop at a wrong answer and the optimality measure, computed
from the same sums, says it is right.

So a column whose weighted mean ``m_j`` exceeds ``OFFSET_RATIO`` times its spread is fitted
centred: ``x_ij - m_j``, with ``m_j`` rounded to X's dtype. That subtraction is exact
(Sterbenz's lemma: the values lie within a factor 2 of ``m_j``), so the centred copy holds
exactly the information X holds, and the objective is evaluated as accurately as on
data without offset. The solvers see the coefficients ``(W, b')`` of the centred columns;
the model's intercept is ``b = b' - W m`` (the estimator sets it from the fitted
``coef_``). Predictions of the fitted model use the centred form too
(:meth:`ColumnOffsets.scores`), since ``X @ w + b`` loses ``u c |w_j|`` again.

Dense columns are centred in a copy of X (only when some column needs it). Sparse columns
are centred only where every entry is stored (then the copy is of the stored values and
the sparsity is kept); a sparse column with implicit zeros cannot be centred without
densifying it, and is fitted as given. It needs no centring either: ``k`` zeros among
``n`` rows give it a spread of at least ``|m| sqrt(k / n)``, so ``|m| / spread <=
sqrt(n / k)`` and its offset costs at most ``u sqrt(n)`` of relative precision.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from celr._column_stats import stored_counts, weighted_center_scale

#: A column is centred when ``|mean| > OFFSET_RATIO * spread``. Below, the rounding an
#: offset adds is under ``OFFSET_RATIO u`` relative, and Newton's Hessian conditioning
#: under ``OFFSET_RATIO**2`` (measured on breast cancer: exact to 1e-14 up to 100).
OFFSET_RATIO = 32.0
#: A centred column whose spread is under this many float units (ulp) of its offset has
#: lost its signal to rounding: it takes only a few distinct values.
RESOLUTION_ULPS = 64.0


class PrecisionWarning(UserWarning):
    """A column's variation is below the floating-point resolution of its values.

    Raised when a column is of the form ``c + x`` with ``x`` under about 64 float units of
    ``c`` (e.g. ``1e17 + x`` with ``x`` of order 1 in float64, whose spacing there is 16):
    the stored values keep only a few distinct levels of ``x``. celr fits the values as
    they are; centre the column before converting it to floats to keep its signal.
    """


@dataclass(frozen=True)
class ColumnOffsets:
    """The offsets subtracted from some columns before fitting.

    Attributes
    ----------
    columns : ndarray of int
        The centred columns.
    values : ndarray of float64
        Their offsets ``m_j``, exactly representable in the fitted data's dtype.
    n_features : int
        Columns of X.
    """

    columns: np.ndarray
    values: np.ndarray
    n_features: int

    def full(self) -> np.ndarray:
        """The offsets of every column (0 where not centred), shape (n_features,)."""
        offsets = np.zeros(self.n_features)
        offsets[self.columns] = self.values
        return offsets

    def centered(self, X):
        """A copy of X with the offsets subtracted (sparse: of its stored values)."""
        offsets = self.full().astype(X.dtype)
        if not sp.issparse(X):
            return X - offsets
        centered = X.copy()
        minor = centered.indices
        if centered.format == "csc":  # the column of every stored entry
            minor = np.repeat(np.arange(X.shape[1]), np.diff(centered.indptr))
        centered.data -= offsets[minor]
        return centered

    def to_objective(self, layout, coef: np.ndarray) -> np.ndarray:
        """The centred columns' coefficients from the model's: ``b' = b + W m``."""
        weights, intercept = layout.unpack(coef)
        return layout.pack(weights, intercept + weights[:, self.columns] @ self.values)

    def scores(self, X, weights: np.ndarray, centered_intercept: np.ndarray) -> np.ndarray:
        """``(X - m) @ W.T + b'``, shape (n, n_scores), without copying X.

        The centred columns' part is computed from ``X[:, columns] - m`` (exact, as at
        fit), the others' by one product with X in which the centred columns' weights
        are zero (``0 * x`` adds nothing, however large ``x``).
        """
        others = np.array(weights, copy=True)
        others[:, self.columns] = 0
        scores = np.asarray(X @ others.T, dtype=np.float64)
        part = X[:, self.columns]
        part = part.toarray() if sp.issparse(part) else part
        scores += (np.asarray(part, dtype=np.float64) - self.values) @ np.asarray(
            weights[:, self.columns], dtype=np.float64
        ).T
        scores += centered_intercept
        return scores


def choose_offsets(
    X,
    normalized_weight: np.ndarray,
    fit_intercept: bool,
    feature_names=None,
    *,
    center_scale: tuple[np.ndarray, np.ndarray] | None = None,
    stacklevel: int = 3,
) -> ColumnOffsets | None:
    """The columns to fit centred (see the module docstring), or None.

    ``center_scale``: the columns' weighted mean and spread
    (:func:`~celr._column_stats.weighted_center_scale`), if already computed. Warns with
    :class:`PrecisionWarning`, naming the column, when a centred column's variation is
    below ``RESOLUTION_ULPS`` units of its offset, ``stacklevel`` frames above this call
    (to point at the user's line: ``fit`` passes its own depth).
    """
    if not fit_intercept or X.shape[0] < 2:
        return None
    if center_scale is None:
        center_scale = weighted_center_scale(X, normalized_weight, True)
    center, scale = center_scale
    offset = np.abs(center) > OFFSET_RATIO * scale
    if sp.issparse(X) and offset.any():  # implicit zeros: not without densifying
        offset &= stored_counts(X) == X.shape[0]
    if not offset.any():
        return None
    columns = np.flatnonzero(offset)
    values = center[columns].astype(X.dtype).astype(np.float64)
    offsets = ColumnOffsets(columns, values, X.shape[1])
    _warn_below_resolution(X, normalized_weight, offsets, feature_names, stacklevel + 1)
    return offsets


def _warn_below_resolution(
    X, normalized_weight, offsets: ColumnOffsets, feature_names, stacklevel: int
):
    part = X[:, offsets.columns]
    part = np.asarray(part.toarray() if sp.issparse(part) else part, dtype=np.float64)
    part -= offsets.values
    varies = np.ptp(part, axis=0) > 0  # an exactly constant column is no loss
    mean = normalized_weight @ part
    spread = np.sqrt(normalized_weight @ (part - mean) ** 2)
    unit = np.spacing(np.abs(offsets.values).astype(X.dtype)).astype(np.float64)
    lost = varies & (spread < RESOLUTION_ULPS * unit)
    for position in np.flatnonzero(lost):
        column = offsets.columns[position]
        name = f"{feature_names[column]!r}" if feature_names is not None else f"{column}"
        warnings.warn(
            f"Column {name} varies by {spread[position]:.3g} around "
            f"{offsets.values[position]:.17g}, where {X.dtype} values are spaced "
            f"{unit[position]:.3g} apart: its signal is below the resolution of its "
            "offset, so it holds only a few rounded levels. celr fits them as they are; "
            "subtract the offset before converting the column to floats to keep more.",
            PrecisionWarning,
            stacklevel=stacklevel,
        )


@dataclass(frozen=True)
class CenteredModel:
    """How a model fitted on centred columns scores rows: its offsets and ``b'``.

    ``coef`` and ``intercept`` are copies of the fitted ``coef_`` and ``intercept_``:
    once the user changes those, the centred form no longer describes the model, and
    scores are computed from ``coef_`` and ``intercept_`` as given.
    """

    offsets: ColumnOffsets
    coef: np.ndarray
    intercept: np.ndarray
    centered_intercept: np.ndarray

    def describes(self, coef: np.ndarray, intercept: np.ndarray) -> bool:
        """Whether ``coef_, intercept_`` are still the fitted ones."""
        return np.array_equal(coef, self.coef) and np.array_equal(intercept, self.intercept)
