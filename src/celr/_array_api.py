"""The objective on Array-API arrays (PyTorch, CuPy, array-api-strict): data stay on device.

Under ``sklearn.config_context(array_api_dispatch=True)``, ``fit`` on an array that is not
NumPy's builds an :class:`ArrayAPIObjective`: a fourth implementation of the solvers'
contract (:class:`celr.solvers._protocol.Objective`, beside the in-memory, threaded and
Dask ones). Every pass over the rows (value, gradient, Hessian-vector products, the small
Hessian) runs in the array's own namespace and device, in its dtype; only
coefficient-sized float64 vectors (and the ``n_params``-square Hessian) come to the host,
where celr's Newton and L-BFGS solvers run unchanged, as scikit-learn's array-API
``LogisticRegression`` hands its gradients to scipy's L-BFGS.

The labels and row weights are encoded on the host (n entries, beside X's n x d), with
the same validation as every fit, and then moved to X's device: y and sample_weight
follow X, as scikit-learn's ``check_array_api_mixed_inputs`` asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache

import numpy as np
from sklearn import get_config

from celr._column_stats import column_scale
from celr._objective import CoefLayout, LogisticObjective
from celr._separation import SUSPECT_MARGIN, Separation

#: What ``fit`` supports on Array-API input; everything else is refused by name.
ARRAY_API_SOLVERS = ("auto", "newton", "lbfgs")


def array_api_namespace(*arrays):
    """The Array-API namespace of ``arrays`` when dispatch is on and they are not NumPy's
    (nor sparse, pandas or Dask, which celr handles itself), else None."""
    if not get_config().get("array_api_dispatch", False):
        return None
    array_api_compat = compat()
    present = [a for a in arrays if a is not None]
    if not present or any(array_api_compat.is_numpy_array(a) for a in present[:1]):
        return None
    if not all(hasattr(a, "__array_namespace__") or _is_array(a) for a in present[:1]):
        return None
    return array_api_compat.array_namespace(present[0])


@cache
def dispatch_available() -> bool:
    """Whether this scikit-learn can dispatch on Array-API input at all: its own rule
    (array-api-compat importable, SciPy >= 1.14 for scikit-learn 1.6, ...), the
    ``SCIPY_ARRAY_API`` switch aside, which is the user's to set."""
    try:
        from sklearn.utils._array_api import _check_array_api_dispatch
    except ImportError:  # a scikit-learn that moved it: trust its config_context
        return True
    try:
        _check_array_api_dispatch(True)
    except ImportError:
        return False
    except RuntimeError:  # SCIPY_ARRAY_API unset
        return True
    return True


def compat():
    """The ``array_api_compat`` package: the installed one, else scikit-learn's copy
    (scikit-learn vendors it from 1.7 on)."""
    try:
        import array_api_compat
    except ImportError:
        try:
            from sklearn.externals import array_api_compat
        except ImportError:
            raise ImportError(
                "Array-API input needs the array-api-compat package with this "
                "scikit-learn: pip install 'celr[array-api]'"
            ) from None
    return array_api_compat


def _is_array(value) -> bool:
    array_api_compat = compat()

    return array_api_compat.is_array_api_obj(value) and not array_api_compat.is_numpy_array(value)


def to_numpy(array) -> np.ndarray:
    """A host NumPy copy of an array of any namespace and device."""
    array_api_compat = compat()

    if array_api_compat.is_numpy_array(array) or not array_api_compat.is_array_api_obj(array):
        return np.asarray(array)
    if array_api_compat.is_torch_array(array):
        return array.detach().cpu().numpy()
    if array_api_compat.is_cupy_array(array):
        return array.get()
    xp = array_api_compat.array_namespace(array)
    if hasattr(xp, "Device") and array_api_compat.device(array) != xp.Device("CPU_DEVICE"):
        array = array_api_compat.to_device(array, xp.Device("CPU_DEVICE"))  # array_api_strict
    return np.from_dlpack(array)


class ArrayAPIObjective(CoefLayout):
    """Mean weighted cross-entropy (textbook eq. 5.23, softmax for K classes) on device.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        float32 or float64, in any Array-API namespace, on any device.
    y : ndarray of shape (n_samples,)
        Integer class codes (host).
    weight : ndarray of shape (n_samples,)
        Non-negative row weights (host), normalised here by their sum ``S``.
    n_classes : int
    fit_intercept : bool

    Examples
    --------
    >>> import numpy as np, array_api_strict as xp
    >>> obj = ArrayAPIObjective(xp.asarray(np.eye(4)), np.array([0, 1, 0, 1]), np.ones(4), 2, True)
    >>> round(obj.value(np.zeros(5)), 4)  # log 2
    0.6931
    """

    def __init__(self, X, y, weight, n_classes: int, fit_intercept: bool) -> None:
        array_api_compat = compat()

        self.xp = array_api_compat.array_namespace(X)
        self.device = array_api_compat.device(X)
        self.X = X
        super().__init__(n_classes, X.shape[1], fit_intercept)
        self.n_samples = int(X.shape[0])
        self.sparse, self.n_stored = False, self.n_samples * self.n_features
        self.dtype = np.float32 if X.dtype == self.xp.float32 else np.float64
        self.precision = float(np.finfo(self.dtype).eps)
        self.codes = np.asarray(y, dtype=np.intp)
        weight = np.asarray(weight, dtype=np.float64)
        self.weight_sum = float(weight.sum())
        self._normalized = weight / self.weight_sum
        self._class_share = np.bincount(self.codes, self._normalized, minlength=n_classes)
        self._w = self._on_device(self._normalized)
        onehot = np.zeros((self.n_samples, self.n_scores))
        if self.n_scores == 1:
            onehot[:, 0] = self.codes == 1
        else:
            onehot[np.arange(self.n_samples), self.codes] = 1.0
        self._onehot = self._on_device(onehot)
        self._center_scale: tuple[np.ndarray, np.ndarray] | None = None
        self._mean: np.ndarray | None = None

    # -- moving coefficient-sized vectors ---------------------------------------------------
    def _on_device(self, array: np.ndarray):
        return self.xp.asarray(np.asarray(array, dtype=self.dtype), device=self.device)

    def _host(self, array) -> np.ndarray:
        return np.array(to_numpy(array), dtype=np.float64)

    def _scores(self, coef: np.ndarray):
        weights, intercept = self.unpack(np.asarray(coef, dtype=np.float64))
        return self.X @ self._on_device(weights.T) + self._on_device(intercept)

    def _curvature_rows(self, coef):
        """Per-row probabilities: sigma(z) (n, 1) for two classes, else softmax (n, K)."""
        xp, z = self.xp, self._scores(coef)
        if self.n_scores == 1:
            e = xp.exp(-xp.abs(z))
            return z, xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        shifted = z - xp.max(z, axis=1, keepdims=True)
        exp = xp.exp(shifted)
        return z, exp / xp.sum(exp, axis=1, keepdims=True)

    def _loss(self, z):
        """Per-row cross-entropy, finite for every finite score (log-sum-exp)."""
        xp = self.xp
        if self.n_scores == 1:
            z = z[:, 0]
            y = self._onehot[:, 0]
            return xp.log1p(xp.exp(-xp.abs(z))) + xp.maximum(z, 0.0) - y * z
        top = xp.max(z, axis=1, keepdims=True)
        lse = top[:, 0] + xp.log(xp.sum(xp.exp(z - top), axis=1))
        return lse - xp.sum(self._onehot * z, axis=1)

    def _gradient(self, weighted_residual) -> np.ndarray:
        """``X_a^T (s r) / S`` in the flat layout (the textbook's (sigma - y) x_j, summed)."""
        grad_w = self._host(self.xp.matrix_transpose(weighted_residual) @ self.X)
        grad_b = self._host(self.xp.sum(weighted_residual, axis=0))
        return self.pack(grad_w, grad_b)

    # -- value and derivatives --------------------------------------------------------------
    def value(self, coef: np.ndarray) -> float:
        """Mean weighted cross-entropy ``f_data`` at ``coef`` (eq. 5.23)."""
        return float(self._host(self.xp.sum(self._w * self._loss(self._scores(coef)))))

    def value_grad(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        """``f_data`` and its gradient, in one pass over the rows."""
        z, proba = self._curvature_rows(coef)
        value = float(self._host(self.xp.sum(self._w * self._loss(z))))
        return value, self._gradient(self._w[:, None] * (proba - self._onehot))

    def hessp_at(self, coef: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """Return ``v -> H v`` at ``coef``: two products with X per call, no n-square state."""
        xp = self.xp
        _, proba = self._curvature_rows(coef)

        def hessp(vector: np.ndarray) -> np.ndarray:
            weights, intercept = self.unpack(np.asarray(vector, dtype=np.float64))
            dz = self.X @ self._on_device(weights.T) + self._on_device(intercept)
            if self.n_scores == 1:
                change = proba * (1.0 - proba) * dz
            else:
                change = proba * (dz - xp.sum(proba * dz, axis=1, keepdims=True))
            return self._gradient(self._w[:, None] * change)

        return hessp

    def hessian(
        self,
        coef: np.ndarray,
        column_scale: np.ndarray | None = None,
        *,
        working_precision: bool = False,
    ) -> np.ndarray:
        """The full Hessian of ``f_data`` (see :meth:`LogisticObjective.hessian`), blocks
        ``X_a^T diag(s (p_k delta_kl - p_k p_l) / S) X_a`` built on device."""
        _, proba = self._curvature_rows(coef)

        def row_weight(k, j):
            if self.n_scores == 1:
                return self._w * proba[:, 0] * (1.0 - proba[:, 0])
            return self._w * proba[:, k] * ((1.0 if j == k else 0.0) - proba[:, j])

        return self._block_grams(row_weight, column_scale)

    def score_outer(self, coef: np.ndarray, column_scale: np.ndarray | None = None) -> np.ndarray:
        """``sum_i (s_i / S) g_i g_i^T`` of the per-row gradients ``g_i``."""
        _, proba = self._curvature_rows(coef)
        residual = proba - self._onehot
        return self._block_grams(
            lambda k, j: self._w * residual[:, k] * residual[:, j], column_scale
        )

    def _block_grams(self, row_weight, column_scale) -> np.ndarray:
        """The symmetric matrix of blocks ``X_a^T diag(row_weight(k, j)) X_a`` (k <= j),
        with ``X_a = [X / column_scale, 1]``; the column of ones is never materialised."""
        xp, width = self.xp, self.n_features + self.fit_intercept
        Xs = self.X if column_scale is None else self.X / self._on_device(column_scale)
        matrix = np.empty((self.n_params, self.n_params))
        for k in range(self.n_scores):
            for j in range(k, self.n_scores):
                weight = row_weight(k, j)
                weighted = Xs * weight[:, None]
                block = np.empty((width, width))
                block[: self.n_features, : self.n_features] = self._host(
                    xp.matrix_transpose(Xs) @ weighted
                )
                if self.fit_intercept:
                    block[-1, : self.n_features] = self._host(xp.sum(weighted, axis=0))
                    block[: self.n_features, -1] = block[-1, : self.n_features]
                    block[-1, -1] = float(self._host(xp.sum(weight)))
                rows, cols = slice(k * width, (k + 1) * width), slice(j * width, (j + 1) * width)
                matrix[rows, cols] = block
                matrix[cols, rows] = block.T
        return matrix

    def hessian_diag(self, coef: np.ndarray) -> np.ndarray:
        """Diagonal of the Hessian of ``f_data``."""
        _, proba = self._curvature_rows(coef)
        curvature = self._w[:, None] * proba * (1.0 - proba)
        grad_w = self._host(self.xp.matrix_transpose(curvature) @ (self.X * self.X))
        return self.pack(grad_w, self._host(self.xp.sum(curvature, axis=0)))

    # -- what solvers and inference need besides --------------------------------------------
    def class_share(self) -> np.ndarray:
        """Share of the total weight carried by each class."""
        return self._class_share

    def feature_center_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """Weighted centre and spread of every column, reduced on device (cached)."""
        if self._center_scale is None:
            xp = self.xp
            center = np.zeros(self.n_features)
            if self.fit_intercept:
                center = self._host(self._w @ self.X)

            def square_mean(unit):
                unit = np.ones(self.n_features) if unit is None else unit
                # The per-column unit divides after the reduction: one n x d pass fewer.
                deviation = self.X - self._on_device(center)
                return self._host(self._w @ (deviation * deviation)) / unit**2

            def max_abs():
                largest = self._host(xp.max(xp.abs(self.X), axis=0))
                return np.where(largest > 0, largest, 1.0)

            counts = np.full(self.n_features, self.n_samples)
            self._center_scale = (center, column_scale(center, counts, square_mean, max_abs))
        return self._center_scale

    def feature_mean(self) -> np.ndarray:
        """Weighted mean of every column, reduced on device (cached)."""
        if self.fit_intercept:
            return self.feature_center_scale()[0]
        if self._mean is None:
            self._mean = self._host(self._w @ self.X)
        return self._mean

    def row_subsample(self, stride: int) -> ArrayAPIObjective:
        """The objective on every ``stride``-th row (weights renormalised)."""
        if stride <= 1:
            return self
        rows = slice(None, None, stride)
        return ArrayAPIObjective(
            self.X[rows, :], self.codes[rows], self._normalized[rows], self.n_classes,
            self.fit_intercept,
        )  # fmt: skip

    def minibatches(self, batch_size: int, rng: np.random.RandomState) -> Iterator:
        raise NotImplementedError("SGD is not available on Array-API input")

    def csr_binary_rows(self) -> None:
        return None

    def csc_binary_columns(self) -> None:
        return None

    def expected_smoothness(self, center, scale, batch_size: int, n_total: float) -> float:
        raise NotImplementedError("SGD is not available on Array-API input")

    def find_separation(self, coef: np.ndarray, feature_names: list[str], **lp_options):
        """Separation as in memory (:func:`celr._separation.search_rows`): the margins are
        computed on the device, and only when they suggest separation and the linear
        program is within ``max_lp_entries`` are the rows copied to the host for it; over
        the budget, complete separation (every row on its class's side) only."""
        xp, z = self.xp, self._scores(coef)
        if self.n_scores == 1:
            margin = (2.0 * self._onehot - 1.0) * z
        else:
            own = xp.sum(self._onehot * z, axis=1, keepdims=True)
            others = xp.where(self._onehot > 0, -xp.inf, z)
            margin = own - xp.max(others, axis=1, keepdims=True)
        counted = self._w[:, None] > 0.0
        lowest = float(self._host(xp.min(xp.where(counted, margin, xp.inf))))
        highest = float(self._host(xp.max(xp.where(counted, margin, -xp.inf))))
        if not (lowest > 0 or highest > SUSPECT_MARGIN):
            return None
        width = self.n_features + self.fit_intercept
        lp_entries = self.n_samples * (self.n_classes - 1) * width  # as search_rows counts
        if lp_entries <= lp_options.get("max_lp_entries", np.inf):
            return self._on_host().find_separation(coef, feature_names, **lp_options)
        if not lowest > 0:
            return None
        return Separation(complete=True, features=(), alone=False)

    def _on_host(self) -> LogisticObjective:
        return LogisticObjective(
            to_numpy(self.X), self.codes, self._normalized, self.n_classes, self.fit_intercept
        )
