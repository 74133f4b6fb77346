"""The penalty term of celr's objective: L2, L1 and their elastic-net mix.

For a flat coefficient vector (layout of :mod:`celr._objective`) the penalty is::

    alpha * ( (1 - l1_ratio)/2 * ||W||_2^2 + l1_ratio * ||W||_1 ),   alpha = 1 / (C S)

over the weights ``W`` only: intercepts are never penalised. ``C = inf`` gives
``alpha = 0``. The smooth part (the L2 term) has a gradient and a diagonal Hessian; the
non-smooth part (the L1 term) has a proximal operator and a subdifferential.
"""

from __future__ import annotations

import numpy as np


class ElasticNetPenalty:
    """``alpha * ((1 - l1_ratio)/2 ||W||^2 + l1_ratio ||W||_1)`` on the penalised entries.

    Parameters
    ----------
    alpha : float
        Overall strength, ``1 / (C * S)``; 0 disables the penalty.
    l1_ratio : float
        Share of the L1 term, in [0, 1].
    penalized : ndarray of bool, shape (n_params,)
        Which entries of the flat coefficient vector are penalised (all but intercepts).

    Examples
    --------
    >>> import numpy as np
    >>> pen = ElasticNetPenalty(1.0, 0.0, np.array([True, True, False]))
    >>> pen.value(np.array([3.0, 4.0, 100.0]))  # (9 + 16) / 2, intercept free
    12.5
    """

    def __init__(self, alpha: float, l1_ratio: float, penalized: np.ndarray) -> None:
        self.alpha = float(alpha)
        self.l1_ratio = float(l1_ratio)
        self.penalized = np.asarray(penalized, dtype=bool)
        self.l2_strength = self.alpha * (1.0 - self.l1_ratio)
        self.l1_strength = self.alpha * self.l1_ratio

    @classmethod
    def for_layout(cls, layout, C: float, l1_ratio: float, weight_sum: float) -> ElasticNetPenalty:
        """The objective's penalty, ``alpha = 1 / (C S)``, on the weights of ``layout``.

        Examples
        --------
        >>> from celr._objective import CoefLayout
        >>> pen = ElasticNetPenalty.for_layout(CoefLayout(2, 2, True), 0.5, 0.0, 4.0)
        >>> pen.alpha, pen.penalized.tolist()
        (0.5, [True, True, False])
        """
        # Subnormal weight sums make 1/(C S) overflow; the largest float is as good as
        # infinity for the optimum (every weight zero to within 1e-300) and keeps the
        # arithmetic finite.
        alpha = 0.0 if np.isinf(C) else min(1.0 / (C * weight_sum), np.finfo(np.float64).max)
        table = np.ones((layout.n_scores, layout.n_features + layout.fit_intercept), bool)
        if layout.fit_intercept:
            table[:, -1] = False
        return cls(alpha, l1_ratio, table.ravel())

    @property
    def is_smooth(self) -> bool:
        """True when there is no L1 part, so the whole objective is differentiable."""
        return self.l1_strength == 0.0

    def value(self, coef: np.ndarray) -> float:
        """Penalty value at ``coef``."""
        w = coef[self.penalized]
        return float(0.5 * self.l2_strength * (w @ w) + self.l1_strength * np.abs(w).sum())

    def nonsmooth_value(self, coef: np.ndarray) -> float:
        """Value of the L1 part alone, ``l1 * ||W||_1``."""
        if self.is_smooth:
            return 0.0
        return float(self.l1_strength * np.abs(coef[self.penalized]).sum())

    def smooth_value_grad(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        """Value and gradient of the L2 part, ``l2 * W`` on penalised entries."""
        grad = np.where(self.penalized, self.l2_strength * coef, 0.0)
        return float(0.5 * (grad @ coef)), grad

    def smooth_hessian_diag(self) -> np.ndarray:
        """Diagonal (and only non-zero part) of the L2 part's Hessian."""
        return np.where(self.penalized, self.l2_strength, 0.0)

    def prox(self, coef: np.ndarray, step: float, scale: np.ndarray | float = 1.0) -> np.ndarray:
        """Proximal operator of ``step * l1 * ||W||_1``: soft-thresholding of W.

        With ``scale``, of the same term in the units ``coef * scale`` (the standardised
        coordinates of gradient descent, :mod:`celr.solvers.gd`).

        Examples
        --------
        >>> import numpy as np
        >>> pen = ElasticNetPenalty(1.0, 1.0, np.array([True, True, False]))
        >>> pen.prox(np.array([0.5, -2.0, 5.0]), step=1.0).tolist()
        [0.0, -1.0, 5.0]
        """
        return soft_threshold(coef, step * self.l1_weights(scale))

    def subdiff_distance(self, coef: np.ndarray, smooth_grad: np.ndarray) -> np.ndarray:
        """Per-entry distance of ``-smooth_grad`` to the subdifferential of the L1 part.

        Zero everywhere exactly at an optimum; for a smooth penalty this is
        ``|smooth_grad|``, so its max-norm is the common stopping criterion of all solvers.
        """
        if self.is_smooth:
            return np.abs(smooth_grad)
        return l1_subdiff_distance(coef, smooth_grad, self.l1_weights())

    def l1_weights(self, scale: np.ndarray | float = 1.0) -> np.ndarray:
        """Per-entry L1 weights in the units ``coef * scale`` (0 where not penalised)."""
        return np.where(self.penalized, self.l1_strength / scale, 0.0)


def l1_subdiff_distance(x: np.ndarray, grad: np.ndarray, l1_weights: np.ndarray) -> np.ndarray:
    """Per-entry distance of ``-grad`` to the subdifferential of ``sum_j l1_j |x_j|``.

    Zero exactly at a minimiser of ``f + sum_j l1_j |x_j|`` when ``grad`` is ``f``'s
    gradient: ``|g_j + l1_j sign(x_j)|`` off zero, ``max(|g_j| - l1_j, 0)`` at zero.

    Examples
    --------
    >>> import numpy as np
    >>> l1_subdiff_distance(np.array([0.0, 0.0, 2.0]), np.array([0.5, 3.0, -1.0]), np.ones(3))
    array([0., 2., 0.])
    """
    at_zero = np.maximum(np.abs(grad) - l1_weights, 0.0)
    off_zero = np.abs(grad + l1_weights * np.sign(x))
    return np.where(x == 0.0, at_zero, off_zero)


def soft_threshold(x: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``argmin_z |z - x|^2 / 2 + sum_j t_j |z_j|``: each entry moved ``t_j`` toward 0.

    Examples
    --------
    >>> import numpy as np
    >>> soft_threshold(np.array([0.5, -2.0, 5.0]), np.array([1.0, 1.0, 0.0])).tolist()
    [0.0, -1.0, 5.0]
    """
    return np.sign(x) * np.maximum(np.abs(x) - thresholds, 0.0)
