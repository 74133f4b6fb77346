"""The regularization path: the model along a grid of ``C``, each fit warm started.

Fits along a path start from the smallest ``C`` (the most regularised model, closest to
the zero-weight start) and hand each solution to the next ``C`` as its starting point,
so most fits take a few Newton steps. With an L1 part the grid can begin at the ``C``
below which every weight is exactly zero (:func:`l1_min_c`), computed from the
optimality condition at the zero-weight model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils.validation import check_X_y

from celr._columns import path_data
from celr._estimator import CrossEntropyLogisticRegression
from celr._inputs import FLOAT_DTYPES, encode_targets
from celr._objective import LogisticObjective, intercept_only_coef
from celr._offsets import choose_offsets

#: Decades spanned by a grid of ``Cs`` given as a number. L2 grids are
#: ``logspace(-4, 4)`` as in scikit-learn. L1 grids start where the first weight turns
#: non-zero and span 4 decades, glmnet's default ``lambda.min.ratio`` of 1e-4: further up
#: the model is barely penalised, as dense as L2 and slow to fit (on 15k tf-idf reviews
#: a 12-value, 8-decade CV took 397 s, most of it in the top 4 decades).
L1_GRID_DECADES = 4.0


@dataclass(frozen=True)
class RegularizationPath:
    """Coefficients along a grid of ``C``, in increasing ``C``.

    Attributes
    ----------
    Cs : ndarray of shape (n_Cs,)
        The grid, increasing.
    coefs : ndarray of shape (n_Cs, n_scores, n_features)
        ``coef_`` at each ``C`` (``n_scores`` is 1 for two classes).
    intercepts : ndarray of shape (n_Cs, n_scores)
        ``intercept_`` at each ``C``.
    n_iter : ndarray of shape (n_Cs,)
        Solver iterations at each ``C`` (few, thanks to the warm starts).
    classes : ndarray
        The class labels.
    l1_ratio : float
        The elastic-net mixing of the whole path.
    """

    Cs: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    n_iter: np.ndarray
    classes: np.ndarray
    l1_ratio: float

    @property
    def n_nonzero(self) -> np.ndarray:
        """Number of non-zero weights at each ``C``."""
        return np.count_nonzero(self.coefs.reshape(len(self.Cs), -1), axis=1)


def l1_min_c(
    X: ArrayLike,
    y: ArrayLike,
    *,
    l1_ratio: float = 1.0,
    sample_weight: ArrayLike | None = None,
    class_weight: dict | str | None = None,
    fit_intercept: bool = True,
) -> float:
    """The largest ``C`` at which the L1 (or elastic-net) fit has all weights zero.

    At the zero-weight model with its best intercepts (the log-odds of the weighted class
    shares), zero is optimal for weight ``j`` of class ``k`` exactly when the gradient of
    the mean cross-entropy satisfies ``|g_kj| <= l1_ratio / (C S)``. So every weight is
    zero for ``C <= l1_ratio / (S max |g|)``, and only there.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    l1_ratio : float, default=1.0
        Share of L1 in the penalty, in (0, 1].
    sample_weight : array-like of shape (n_samples,), default=None
    class_weight : dict, 'balanced' or None, default=None
    fit_intercept : bool, default=True

    Returns
    -------
    C : float
        ``np.inf`` when no feature is correlated with the labels at all: when every
        weight's gradient at the zero-weight model is within its rounding error bound
        (:meth:`~celr._objective.LogisticObjective.gradient_error_bound`).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from celr import CrossEntropyLogisticRegression
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> c_min = l1_min_c(X, y)
    >>> model = CrossEntropyLogisticRegression(C=c_min, l1_ratio=1.0).fit(X, y)
    >>> int((model.coef_ != 0).sum())
    0
    >>> model = CrossEntropyLogisticRegression(C=1.01 * c_min, l1_ratio=1.0).fit(X, y)
    >>> int((model.coef_ != 0).sum())
    1
    """
    if not 0 < l1_ratio <= 1:
        raise ValueError(f"l1_ratio must be in (0, 1] for l1_min_c, got {l1_ratio}.")
    X, y = check_X_y(X, y, accept_sparse=["csr", "csc"], dtype=FLOAT_DTYPES)
    targets = encode_targets(y, sample_weight, class_weight)
    y_codes, weights = targets.codes, targets.weights
    # Centred as fit centres them: the gradient of a column x + c at the intercept-only
    # model is sum_i r_i x_i + c sum_i r_i, whose second term is c times rounding noise.
    offsets = choose_offsets(X, weights / np.sum(weights), fit_intercept)
    if offsets is not None:
        X = offsets.centered(X)
    objective = LogisticObjective(X, y_codes, weights, len(targets.classes), fit_intercept)
    coef0 = intercept_only_coef(objective)
    _, grad = objective.value_grad(coef0)
    weight_grad = np.abs(objective.unpack(grad)[0])
    # Exactly zero in exact arithmetic (constant columns, balanced labels) comes out as
    # rounding noise of order n * eps * |x|: that is no correlation, not a tiny one.
    if np.all(weight_grad <= objective.unpack(objective.gradient_error_bound(coef0))[0]):
        return np.inf
    largest = float(np.max(weight_grad))
    return l1_ratio / (objective.weight_sum * largest)


def c_grid(Cs: int | ArrayLike, X, y, *, l1_ratio: float, **data) -> np.ndarray:
    """The increasing grid of ``C`` a path runs over.

    An integer ``Cs`` asks for that many log-spaced values: ``logspace(-4, 4, Cs)``
    without an L1 part, and from :func:`l1_min_c` over ``L1_GRID_DECADES`` decades with one.
    Explicit values are sorted.
    """
    if isinstance(Cs, Integral):
        if Cs < 1:
            raise ValueError(f"Cs must be a positive number of values or a list, got {Cs}.")
        if l1_ratio == 0:
            return np.logspace(-4.0, 4.0, Cs)
        c_min = l1_min_c(X, y, l1_ratio=l1_ratio, **data)
        if np.isinf(c_min):
            raise ValueError(
                "No feature is correlated with y, so every L1 fit has all weights zero and "
                "no grid of C can start where they turn non-zero; pass explicit Cs."
            )
        low = np.log10(c_min)
        return np.logspace(low, low + L1_GRID_DECADES, Cs)
    grid = np.sort(np.asarray(Cs, dtype=np.float64).ravel())
    if grid.size == 0 or not np.all(grid > 0):
        raise ValueError(f"Cs must be positive values, got {np.asarray(Cs).tolist()}.")
    return grid


def warm_path(
    estimator: CrossEntropyLogisticRegression, X, y, Cs: np.ndarray, sample_weight=None
) -> Iterator[CrossEntropyLogisticRegression]:
    """Fit ``estimator`` at each ``C`` of ``Cs`` in turn, each from the previous
    solution; yields the estimator after each fit (its state is overwritten next)."""
    estimator.set_params(warm_start=True)
    for C in Cs:
        yield estimator.set_params(C=float(C)).fit(X, y, sample_weight=sample_weight)


def regularization_path(
    X: ArrayLike,
    y: ArrayLike,
    *,
    Cs: int | ArrayLike = 10,
    l1_ratio: float = 0.0,
    sample_weight: ArrayLike | None = None,
    class_weight: dict | str | None = None,
    fit_intercept: bool = True,
    solver: str = "auto",
    tol: float = 1e-8,
    max_iter: int = 1000,
) -> RegularizationPath:
    """Fit the model along a grid of ``C``, from the smallest up, each fit warm started.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    Cs : int or array-like, default=10
        The grid (sorted increasing), or a number of values: ``logspace(-4, 4, Cs)`` for
        L2; with an L1 part, from :func:`l1_min_c` (all weights zero) up 4 decades.
    l1_ratio : float, default=0.0
        Elastic-net mixing, as in :class:`CrossEntropyLogisticRegression`.
    sample_weight : array-like of shape (n_samples,), default=None
    class_weight : dict, 'balanced' or None, default=None
    fit_intercept : bool, default=True
    solver : {'auto', 'newton', 'lbfgs', 'gd'}, default='auto'
    tol : float, default=1e-8
    max_iter : int, default=1000

    Returns
    -------
    RegularizationPath

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> path = regularization_path(X, y, Cs=5, l1_ratio=1.0)
    >>> path.n_nonzero.tolist()  # the grid starts where every weight is zero
    [0, 1, 2, 4, 5]
    >>> path.coefs.shape
    (5, 1, 30)
    """
    grid = c_grid(
        Cs, X, y, l1_ratio=l1_ratio, sample_weight=sample_weight, class_weight=class_weight,
        fit_intercept=fit_intercept,
    )  # fmt: skip
    estimator = CrossEntropyLogisticRegression(
        l1_ratio=l1_ratio,
        class_weight=class_weight,
        fit_intercept=fit_intercept,
        solver=solver,
        tol=tol,
        max_iter=max_iter,
    )
    coefs, intercepts, n_iter = [], [], []
    # Every fit of the path reads the same X: its columns (for coordinate descent) and
    # its column statistics once.
    with path_data(X):
        for fitted in warm_path(estimator, X, y, grid, sample_weight):
            coefs.append(fitted.coef_.copy())
            intercepts.append(fitted.intercept_.copy())
            n_iter.append(fitted.n_iter_)
    return RegularizationPath(
        grid, np.array(coefs), np.array(intercepts), np.array(n_iter), estimator.classes_,
        float(l1_ratio),
    )  # fmt: skip
