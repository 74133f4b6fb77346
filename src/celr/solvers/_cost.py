"""What a fit's building blocks cost, predicted from the problem's shape: the choices
between an exact Hessian and gradients only.

Measured on the 2-core machine celr is developed on (one BLAS thread, float64, OpenBLAS
Haswell kernel; ``benchmarks/auto_solver.py`` measures them)::

    value + gradient   T_g = K_s (1.6e-7 n + 7e-10 nnz)    (sparse entries: 4e-9)
    Hessian            T_H = c_H m P^2 + 5.5e-11 P^3 / 3   (c_H = 2.8e-11, K > 2: 5.2e-11)

for ``n`` rows, ``nnz`` stored entries, ``K_s`` scores (1 for two classes), ``P``
parameters and ``m`` the rows the Hessian is built from (every ``row_stride``-th,
:func:`hessian_row_stride`); ``T_H`` includes its Cholesky factor.
Only the ratio ``T_H / T_g`` matters: it says how many gradients one Hessian costs.

Newton needs about ten iterations whatever the data's conditioning, L-BFGS from ten
(well conditioned, standardised) to many hundreds (raw digits: 852). So ``'auto'`` takes
Newton where its Hessian costs at most ``NEWTON_MAX_HESSIAN_GRADIENTS`` gradients, and
otherwise L-BFGS, handing over to Newton (by conjugate gradients there) after as many
iterations as Newton's whole fit would cost (:func:`lbfgs_budget`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

SUBSAMPLE_ROWS_PER_PARAM = 20
# Seconds per unit, measured (module docstring).
GRADIENT_PER_ROW = 1.6e-7
GRADIENT_PER_ENTRY = 7e-10
GRADIENT_PER_SPARSE_ENTRY = 4e-9
HESSIAN_PER_ENTRY = 2.8e-11
HESSIAN_PER_ENTRY_MULTINOMIAL = 5.2e-11
CHOLESKY_PER_FLOP = 5.5e-11
#: 'auto' picks Newton, and Newton its exact Hessian, when one Hessian costs at most this
#: many gradients. Above, Newton by conjugate gradients was faster on every problem
#: measured (20,000 rows, 250-3,000 parameters, Hessian at 1.8-190 gradients: 1.5-10x;
#: raw digits at 12: 0.31 s against 0.42 s), and L-BFGS faster still where it converges
#: in tens of iterations.
NEWTON_MAX_HESSIAN_GRADIENTS = 1.5
#: ... or when a Hessian costs under this many seconds whatever the ratio: on small data
#: Newton's exact step is what makes equivalent problems agree to rounding (scikit-learn's
#: weight-equivalence checks), and a millisecond is no cost.
NEWTON_ANYWAY_SECONDS = 1e-3
#: Newton's fit in gradients with the exact Hessian: this many Hessians and evaluations
#: (measured: 8-15 iterations, the Hessian rebuilt only while steps stop contracting);
#: by conjugate gradients, about this many gradients in all (measured 37-82).
NEWTON_HESSIANS = 3
NEWTON_EVALUATIONS = 25
NEWTON_CG_GRADIENTS = 60
#: Proximal Newton solves its model with the matrix up to this many gradients a Hessian:
#: the model's solver needs 25-500 products, each costing about a gradient.
MODEL_MAX_HESSIAN_GRADIENTS = 100
#: Above this many parameters the P^2 matrix itself is too large (3.2 GB).
EXACT_MAX_PARAMS = 20_000


def hessian_row_stride(n_samples: int, n_params: int) -> int:
    """Every how many rows the Hessian is built from (1: all of them).

    A Hessian costs about ``n p^2`` and a gradient ``25 n p`` in the same units
    (measured: one Hessian = 4.4 gradients at p = 101), so a Hessian from
    ``m = 25 n / p`` rows costs about one gradient. Its relative error is about
    ``sqrt(p / m)``, so Newton still shrinks the gradient by that factor per step; at
    least ``20 p`` rows are kept so the estimate stays well conditioned.

    Examples
    --------
    >>> hessian_row_stride(500_000, 101), hessian_row_stride(1797, 650)
    (4, 1)
    """
    rows = max(SUBSAMPLE_ROWS_PER_PARAM * n_params, 25 * n_samples // max(n_params, 1))
    return max(1, n_samples // rows)


@dataclass(frozen=True)
class ProblemShape:
    """What the costs depend on.

    Examples
    --------
    >>> shape = ProblemShape(n_rows=20_000, n_params=2001, n_scores=1, stored=40_000_000)
    >>> round(shape.hessian_gradients())  # one Hessian costs ~80 gradients: L-BFGS
    77
    """

    n_rows: int
    n_params: int
    n_scores: int
    stored: int
    sparse: bool = False

    @classmethod
    def of(cls, X, n_classes: int, fit_intercept: bool) -> ProblemShape:
        """The shape of a fit on ``X`` (a numpy, scipy.sparse or Dask array)."""
        n_rows, n_features = X.shape
        n_scores = 1 if n_classes == 2 else n_classes
        sparse = sp.issparse(X)
        stored = int(X.nnz) if sparse else int(n_rows) * int(n_features)
        n_params = n_scores * (n_features + fit_intercept)
        return cls(int(n_rows), n_params, n_scores, stored, sparse)

    @classmethod
    def of_objective(cls, objective) -> ProblemShape:
        """The shape of an :class:`~celr.solvers._protocol.Objective`."""
        return cls(
            objective.n_samples, objective.n_params, objective.n_scores, objective.n_stored,
            objective.sparse,
        )  # fmt: skip

    def gradient_seconds(self) -> float:
        per_entry = GRADIENT_PER_SPARSE_ENTRY if self.sparse else GRADIENT_PER_ENTRY
        return self.n_scores * (GRADIENT_PER_ROW * self.n_rows + per_entry * self.stored)

    def hessian_seconds(self) -> float:
        rows = self.n_rows // hessian_row_stride(self.n_rows, self.n_params)
        per_entry = HESSIAN_PER_ENTRY if self.n_scores == 1 else HESSIAN_PER_ENTRY_MULTINOMIAL
        p = float(self.n_params)
        return per_entry * rows * p * p + CHOLESKY_PER_FLOP * p**3 / 3.0

    def hessian_gradients(self) -> float:
        """One Hessian (with its Cholesky factor) in units of one value + gradient."""
        return self.hessian_seconds() / max(self.gradient_seconds(), np.finfo(float).tiny)


def prefer_newton(shape: ProblemShape) -> bool:
    """Whether ``'auto'`` takes Newton: its Hessian costs a gradient or so."""
    return exact_hessian_pays(shape)


def exact_hessian_pays(shape: ProblemShape) -> bool:
    """Whether Newton should build the Hessian rather than use Hessian-vector products."""
    if shape.n_params > EXACT_MAX_PARAMS:
        return False
    if shape.hessian_seconds() <= NEWTON_ANYWAY_SECONDS:
        return True
    return shape.hessian_gradients() <= NEWTON_MAX_HESSIAN_GRADIENTS


def model_matrix_pays(shape: ProblemShape) -> bool:
    """Whether proximal Newton should solve its model with the Hessian matrix."""
    return (
        shape.n_params <= EXACT_MAX_PARAMS
        and shape.hessian_gradients() <= MODEL_MAX_HESSIAN_GRADIENTS
    )


def lbfgs_budget(shape: ProblemShape) -> int:
    """L-BFGS iterations after which ``'auto'`` hands over to Newton: as many as Newton's
    whole fit costs in gradients (exact Hessian or conjugate gradients)."""
    if exact_hessian_pays(shape):
        return int(NEWTON_HESSIANS * shape.hessian_gradients() + NEWTON_EVALUATIONS)
    return NEWTON_CG_GRADIENTS
