"""Standardised coordinates: how first-order solvers become insensitive to feature scales.

Gradient methods are not scale invariant: on raw features spanning orders of magnitude
they need thousands of iterations. Instead of scaling a copy of X, a solver can work in
the coordinates of standardised features, ``v = W * scale`` and ``c = b + W . center``,
and map back with the chain rule: the objective is evaluated on the original data and
coefficients, so the optimum is unchanged and X is never touched.
"""

from __future__ import annotations

import numpy as np
from numpy.linalg import LinAlgError
from scipy.linalg import cholesky, solve_triangular

from celr._objective import CoefLayout
from celr.solvers._base import weight_unit


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

    def keep_invariant(self, u: np.ndarray) -> np.ndarray:
        """``u`` itself: a step of a class-mean-free gradient keeps the class mean here."""
        return u


class CurvatureCoordinates:
    """Standardised coordinates whitened by each class's curvature: ``u_k = R_k a_k``.

    ``a_k`` are class ``k``'s standardised coefficients (:class:`StandardizedCoordinates`)
    and ``R_k`` the upper Cholesky factor of that class's diagonal block of the Hessian of
    the penalised objective at a point, ``H_kk = R_k^T R_k``. In ``u`` every block is the
    identity, so one step size fits every direction: a diagonal scaling cannot undo the
    correlation of neighbouring pixels or of a nearly separable fit's directions, along
    the flattest of which SGD (the same update, in these coordinates) crawls. On raw
    digits, one factor for all classes (their mean block) left the cross-entropy after
    200 epochs 1.5-1.9 times the optimum's; one each, 0.91-1.02 (seeds 0-5).

    Parameters
    ----------
    base : StandardizedCoordinates
        The standardisation the factors are taken in.
    factors : ndarray of shape (n_scores, width, width)
        ``R_k``, upper triangular with a positive diagonal (``width`` = features plus
        intercept).

    Examples
    --------
    >>> import numpy as np
    >>> from celr._objective import CoefLayout
    >>> layout = CoefLayout(2, 1, True)
    >>> base = StandardizedCoordinates(layout, np.array([10.0]), np.array([2.0]))
    >>> coords = CurvatureCoordinates(base, np.array([[[2.0, 1.0], [0.0, 1.0]]]))
    >>> coords.from_coef(np.array([1.0, 0.0])).tolist()  # R [2, 10] = [2*2 + 10, 10]
    [14.0, 10.0]
    >>> coords.to_coef(coords.from_coef(np.array([1.0, 0.0]))).tolist()
    [1.0, 0.0]
    """

    is_identity = False

    def __init__(self, base: StandardizedCoordinates, factors: np.ndarray) -> None:
        self.base = base
        self.layout = base.layout
        self.factors = np.asarray(factors, dtype=np.float64)
        eye = np.eye(self.factors.shape[1])
        self.inverse_factors = np.stack([solve_triangular(r, eye) for r in self.factors])

    @classmethod
    def at(cls, base: StandardizedCoordinates, objective, penalty, coef: np.ndarray):
        """Whiten ``base`` by the curvature of ``objective + penalty``'s smooth part at
        ``coef``; None when a class's block is not positive definite to working precision."""
        layout = base.layout
        width = layout.n_features + layout.fit_intercept
        # The Hessian in the units X / scale keeps huge columns from overflowing it; the
        # centring is then the unit lower-triangular map b = c - v . (center / scale).
        hess = objective.hessian(coef, column_scale=base.scale, working_precision=True)
        unit_scale = np.ones(layout.n_params)
        unit_scale.reshape(layout.n_scores, width)[:, : layout.n_features] = base.scale
        hess.flat[:: len(hess) + 1] += penalty.smooth_hessian_diag() / unit_scale**2
        uncenter = np.eye(width)
        if layout.fit_intercept:
            uncenter[-1, : layout.n_features] = -base.center / base.scale
        factors = []
        for k in range(layout.n_scores):
            block = hess[k * width : (k + 1) * width, k * width : (k + 1) * width]
            try:
                factors.append(cholesky(uncenter.T @ block @ uncenter, lower=False))
            except LinAlgError:
                return None
        # A diagonal near rounding would magnify the mini-batch noise in its direction.
        diagonals = np.abs([np.diag(factor) for factor in factors])
        if not np.all(diagonals > np.sqrt(width * np.finfo(float).eps) * diagonals.max()):
            return None
        return cls(base, np.stack(factors))

    def to_coef(self, u: np.ndarray) -> np.ndarray:
        return self.base.to_coef(self._per_class(self.inverse_factors, u))

    def from_coef(self, coef: np.ndarray) -> np.ndarray:
        return self._per_class(self.factors, self.base.from_coef(coef))

    def gradient_to_u(self, grad: np.ndarray) -> np.ndarray:
        """The gradient with respect to ``u``: ``R_k^{-T}`` times each ``a_k``-gradient."""
        table = self.base.gradient_to_u(grad).reshape(self.layout.n_scores, -1)
        return np.einsum("kji,kj->ki", self.inverse_factors, table).ravel()

    def keep_invariant(self, u: np.ndarray) -> np.ndarray:
        """``u`` with the class mean of its coefficients removed.

        Softmax is flat along the coefficients' class mean, the penalty is not: the
        gradient has no component there, but ``R_k^{-1} R_k^{-T}`` differs by class and
        would move the iterate along it, into a worse penalty than the same model's.
        """
        if self.layout.n_scores == 1:
            return u
        standardized = self._per_class(self.inverse_factors, u).reshape(self.layout.n_scores, -1)
        return self._per_class(self.factors, standardized - standardized.mean(axis=0))

    def _per_class(self, matrices: np.ndarray, vector: np.ndarray) -> np.ndarray:
        table = vector.reshape(self.layout.n_scores, -1)
        return np.einsum("kij,kj->ki", matrices, table).ravel()


class MeanWhitenedCoordinates:
    """Standardised coordinates of a fit without intercept, whitened along the mean.

    Without an intercept the columns cannot be centred, but they can be measured in
    units of their spread about the mean: there the Hessian is about ``S + m m^T``, ``m``
    the columns' means in those units and ``S`` their correlation, which is as well
    conditioned as a fit with intercept's. ``|m|^2`` is large (above the number of
    non-zeros per row for non-negative sparse data), and the rank-one map ``v = M u``,
    ``M = (I + m m^T)^(-1/2)``, undoes it (``M (S + m m^T) M`` has the eigenvalue
    ``(m.S.m / |m|^2 + |m|^2) / (1 + |m|^2)``, near 1, along ``m``) at the cost of two dot
    products per evaluation. Not separable, so not for an L1 term.

    Units of the root mean square (these coordinates before :meth:`without_intercept`)
    leave the near-constant columns (a text's frequent words, in nearly every row with nearly
    the same weight) nearly parallel: their differences have curvatures of a few times
    ``(spread / rms)^2`` (50,000 x 2^18 tf-idf at the optimum: 0.007, 0.014, 0.023, ...
    against 0.15-0.42 with an intercept), and L-BFGS needed 39 iterations on 200,000 x 2^18
    text instead of 12; in units of the spread, 12.

    Parameters
    ----------
    base : StandardizedCoordinates
        Scale-only standardisation (no centre).
    mean : ndarray of shape (n_features,)
        The columns' weighted means divided by ``base.scale``.

    Examples
    --------
    >>> import numpy as np
    >>> from celr._objective import CoefLayout
    >>> base = StandardizedCoordinates.identity(CoefLayout(2, 2, False))
    >>> coords = MeanWhitenedCoordinates(base, np.array([1.0, 1.0]))
    >>> u = coords.from_coef(np.array([1.0, 1.0]))  # along m: (1 + |m|^2)^(1/2) = sqrt(3)
    >>> np.allclose(u, np.sqrt(3.0)), np.allclose(coords.to_coef(u), [1.0, 1.0])
    (True, True)
    """

    is_identity = False

    # Spreads below this fraction of the root mean square are not resolved by
    # ``rms^2 - mean^2``'s rounding (eps / ratio^2 = 1.5e-8 relative at the floor).
    RESOLVED_SPREAD = np.finfo(float).eps ** 0.25

    def __init__(self, base: StandardizedCoordinates, mean: np.ndarray) -> None:
        self.base = base
        self.layout = base.layout
        self.mean = np.asarray(mean, dtype=np.float64)
        squared = float(self.mean @ self.mean)
        # M = I + shrink m m^T and M^-1 = I + grow m m^T, without cancellation for small m.
        half_log = 0.5 * np.log1p(squared)
        self.shrink = float(np.expm1(-half_log) / squared) if squared > 0 else 0.0
        self.grow = float(np.expm1(half_log) / squared) if squared > 0 else 0.0

    @classmethod
    def without_intercept(
        cls, layout: CoefLayout, mean: np.ndarray, root_mean_square: np.ndarray, l2: float
    ) -> MeanWhitenedCoordinates:
        """The coordinates of a fit without intercept, from its columns' weighted means and
        root mean squares and the L2 penalty's strength.

        The unit of each weight is :func:`celr.solvers._base.weight_unit`, as
        :class:`celr.solvers._base.SmoothProblem`'s but of the spread about the mean
        (``sqrt(rms^2 - mean^2)``, no pass over X; never below ``RESOLVED_SPREAD * rms``,
        so that constant columns without a penalty keep a unit).

        Examples
        --------
        >>> import numpy as np
        >>> from celr._objective import CoefLayout
        >>> layout = CoefLayout(2, 2, False)
        >>> coords = MeanWhitenedCoordinates.without_intercept(
        ...     layout, np.array([3.0, 0.0]), np.array([5.0, 2.0]), 0.0)
        >>> coords.base.scale.tolist(), coords.mean.tolist()  # spread sqrt(25 - 9) = 4
        ([4.0, 2.0], [0.75, 0.0])
        """
        rms = np.asarray(root_mean_square, dtype=np.float64)
        ratio = np.clip(np.asarray(mean, dtype=np.float64) / rms, -1.0, 1.0)
        spread = rms * np.maximum(np.sqrt((1.0 - ratio) * (1.0 + ratio)), cls.RESOLVED_SPREAD)
        scale = weight_unit(spread, l2)
        base = StandardizedCoordinates(layout, np.zeros_like(scale), scale)
        return cls(base, mean / scale)

    def to_coef(self, u: np.ndarray) -> np.ndarray:
        return self.base.to_coef(self._along_mean(u, self.shrink))

    def from_coef(self, coef: np.ndarray) -> np.ndarray:
        return self._along_mean(self.base.from_coef(coef), self.grow)

    def gradient_to_u(self, grad: np.ndarray) -> np.ndarray:
        """``M`` (symmetric) times the gradient in the base coordinates."""
        return self._along_mean(self.base.gradient_to_u(grad), self.shrink)

    def keep_invariant(self, u: np.ndarray) -> np.ndarray:
        return u

    def _along_mean(self, vector: np.ndarray, amount: float) -> np.ndarray:
        """``vector + amount * (m . v_k) m`` for every class's weights ``v_k``."""
        table = np.array(vector, dtype=np.float64).reshape(self.layout.n_scores, -1)
        weights = table[:, : self.layout.n_features]
        weights += amount * np.outer(weights @ self.mean, self.mean)
        return table.ravel()
