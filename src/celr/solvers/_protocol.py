"""The contract between an objective and the solvers: :class:`Objective`.

A solver sees the data term ``f_data(theta) = (1/S) sum_i s_i L_CE(x_i, y_i; theta)``
(textbook eq. 5.23, weighted) only through this protocol. Three classes implement it: the
in-memory :class:`celr._objective.LogisticObjective`, the threaded
:class:`celr._parallel.RowBlockObjective` and the distributed
:class:`celr._dask._objective.DaskObjective`. A solver that uses nothing else runs on all
three; ``tests/test_objective_protocol.py`` checks that each implements every member.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Objective(Protocol):
    """What a solver may use of the objective: nothing else.

    Layout (:class:`celr._objective.CoefLayout`): a flat coefficient vector holds
    ``n_scores`` blocks of ``n_features`` weights (plus one intercept each when
    ``fit_intercept``); ``n_scores`` is 1 for two classes, ``n_classes`` otherwise.

    Attributes
    ----------
    n_classes, n_features, n_scores, n_params : int
        Sizes of the layout.
    fit_intercept : bool
        Whether each score has an (unpenalised) intercept.
    n_samples : int
        Rows of the data.
    n_stored, sparse : int, bool
        Entries of X a pass reads (its non-zeros when sparse), and whether it is: what a
        pass costs (:mod:`celr.solvers._cost`).
    weight_sum : float
        ``S``, the sum of the row weights: the objective's normaliser.
    precision : float
        Relative rounding of a value computed in the data's dtype (``eps`` of X).

    Notes
    -----
    Values, gradients and curvature are sums over rows; every implementation returns
    float64 results of coefficient size, whatever the data's dtype and location. Methods
    are pure: none changes the objective (caches aside) or its arguments.
    """

    n_classes: int
    n_features: int
    n_scores: int
    n_params: int
    fit_intercept: bool
    n_samples: int
    n_stored: int
    sparse: bool
    weight_sum: float
    precision: float

    # -- layout ---------------------------------------------------------------------------
    def pack(self, weights: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        """Flat vector from ``(n_scores, n_features)`` weights and ``n_scores`` intercepts."""

    def unpack(self, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`pack`."""

    def remove_invariant(self, vector: np.ndarray) -> np.ndarray:
        """``vector`` without its component along softmax's flat directions."""

    def add_invariant_curvature(self, hess: np.ndarray, amount: float) -> None:
        """``hess += amount * (projector onto the flat directions)``, in place."""

    # -- value and derivatives ------------------------------------------------------------
    def value(self, coef: np.ndarray) -> float:
        """``f_data(coef)``, eq. 5.23 averaged with the row weights."""

    def value_grad(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        """``f_data`` and its gradient, ``(1/S) sum_i s_i (p_i - y_i) x_i`` (eq. 5.29)."""

    def hessp_at(self, coef: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """``v -> H(coef) v``, for any number of vectors at one point."""

    def hessian(
        self,
        coef: np.ndarray,
        column_scale: np.ndarray | None = None,
        *,
        working_precision: bool = False,
    ) -> np.ndarray:
        """Dense Hessian, Fortran order, of the columns divided by ``column_scale``.

        ``working_precision``: sums in X's own precision where that is faster (float32
        data), for a solver's Newton direction; inference asks for the default, float64.
        """

    def hessian_diag(self, coef: np.ndarray) -> np.ndarray:
        """Diagonal of the Hessian."""

    # -- what the data look like ------------------------------------------------------------
    def feature_center_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """Weighted mean and spread of every column (spread 1 for a constant column)."""

    def feature_mean(self) -> np.ndarray:
        """Weighted mean of every column, with or without an intercept."""

    def class_share(self) -> np.ndarray:
        """Share of the total weight carried by each class."""

    def row_subsample(self, stride: int) -> Objective:
        """The same objective on every ``stride``-th row, weights renormalised."""

    def expected_smoothness(
        self, center: np.ndarray, scale: np.ndarray, batch_size: int, n_total: float
    ) -> float:
        """Bound on the curvature of a ``batch_size``-row mini-batch gradient in the
        coordinates ``(x - center) / scale`` (see :mod:`celr.solvers._step_size`)."""

    def minibatches(self, batch_size: int, rng: np.random.RandomState) -> Iterator[Objective]:
        """One shuffled pass over the rows in mini-batches of ``batch_size`` rows.

        Each batch is an objective whose value and gradient are the mean over its rows of
        ``(s_i / s_bar) L_CE`` (``s_bar`` the mean row weight): unbiased estimates of
        :meth:`value_grad` (textbook section 5.6.4). Its ``n_samples`` is its rows.
        """

    def csr_binary_rows(self) -> tuple | None:
        """``(X, y, relative)`` for the compiled SGD pass (:mod:`celr.solvers._sparse_pass`):
        the CSR rows, float 0/1 labels and ``s_i / s_bar`` of a two-class objective held
        in memory; None for any other (K classes, dense or CSC rows, Dask, Array API)."""

    def csc_binary_columns(self) -> tuple | None:
        """``(X, y, weight)`` for proximal Newton's coordinate descent
        (:mod:`celr.solvers._cd_model`): X's columns as a canonical CSC matrix, float 0/1
        labels and ``s_i / S`` of a two-class objective on sparse rows held in memory;
        None for any other (K classes, dense rows, Dask, Array API)."""

    def find_separation(self, coef: np.ndarray, feature_names: list[str], **lp_options):
        """The separation ``coef`` proves, or None (:mod:`celr._separation`); the
        linear-program options of :func:`celr._separation.search_rows` where it has them."""
