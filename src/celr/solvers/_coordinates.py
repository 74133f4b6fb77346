"""Standardised coordinates: how first-order solvers become insensitive to feature scales.

Gradient methods are not scale invariant: on raw features spanning orders of magnitude
they need thousands of iterations. Instead of scaling a copy of X, a solver can work in
the coordinates of standardised features, ``v = W * scale`` and ``c = b + W . center``,
and map back with the chain rule: the objective is evaluated on the original data and
coefficients, so the optimum is unchanged and X is never touched.
"""

from __future__ import annotations

import numpy as np

from celr._objective import CoefLayout


class StandardizedCoordinates:
    """The linear change of variables between ``coef`` and standardised coordinates ``u``.

    Parameters
    ----------
    layout : CoefLayout
        The coefficient layout (an objective is one).
    center : ndarray of shape (n_features,)
        Subtracted from each feature (zeros without an intercept to absorb it).
    scale : ndarray of shape (n_features,)
        Each feature's unit.

    Examples
    --------
    >>> import numpy as np
    >>> from celr._objective import CoefLayout
    >>> coords = StandardizedCoordinates(CoefLayout(2, 1, True), np.array([10.0]), np.array([2.0]))
    >>> coords.from_coef(np.array([1.0, 0.0])).tolist()  # v = 1 * 2, c = 0 + 1 * 10
    [2.0, 10.0]
    >>> coords.to_coef(coords.from_coef(np.array([1.0, 0.0]))).tolist()
    [1.0, 0.0]
    """

    def __init__(self, layout: CoefLayout, center: np.ndarray, scale: np.ndarray) -> None:
        self.layout = layout
        self.center = np.asarray(center, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.is_identity = not self.center.any() and bool(np.all(self.scale == 1.0))

    @classmethod
    def identity(cls, layout: CoefLayout) -> StandardizedCoordinates:
        """``u = coef``: the raw coordinates, as the textbook's updates use them."""
        return cls(layout, np.zeros(layout.n_features), np.ones(layout.n_features))

    def to_coef(self, u: np.ndarray) -> np.ndarray:
        if self.is_identity:
            return u.copy()
        v, c = self.layout.unpack(u)
        weights = v / self.scale
        return self.layout.pack(weights, c - weights @ self.center)

    def from_coef(self, coef: np.ndarray) -> np.ndarray:
        if self.is_identity:
            return coef.copy()
        weights, intercept = self.layout.unpack(coef)
        return self.layout.pack(weights * self.scale, intercept + weights @ self.center)

    def gradient_to_u(self, grad: np.ndarray) -> np.ndarray:
        """The gradient with respect to ``u`` of a function whose ``coef``-gradient is given."""
        if self.is_identity:
            return grad
        grad_w, grad_b = self.layout.unpack(grad)
        grad_v = (grad_w - grad_b[:, None] * self.center) / self.scale
        return self.layout.pack(grad_v, grad_b)
