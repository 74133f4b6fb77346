"""Statistical inference on a fitted model: covariance, Wald table, likelihood-ratio test.

The weights ``theta`` of an unpenalised fit maximise the weighted log-likelihood
``l(theta) = -S f_data(theta)``: the mean cross-entropy (eq. 5.23) times
``S = sum_i s_i``. Weights count as frequencies, so a weight of 2 is the row twice. The
covariance of ``theta`` is the inverse observed information at the optimum::

    nonrobust:     (S H)^-1                   H = Hessian of f (data + L2 penalty)
    robust (HC0):  (S H)^-1 (S M) (S H)^-1    M = sum_i (s_i / S) g_i g_i^T

with ``g_i`` row i's gradient of ``L_CE``, the textbook's ``(sigma(w . x + b) - y) x``.
Each weight's Wald statistic is ``z = estimate / standard error``, as in the textbook's
section on interpreting models and statsmodels' ``Logit`` / ``MNLogit``.

Everything is computed in standardised-feature units and scaled back, so features of
wildly different scales lose no precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from celr._objective import LogisticObjective
from celr._offsets import ColumnOffsets
from celr._penalty import ElasticNetPenalty
from celr._separation import Separation, find_separation
from celr.solvers._base import SmoothProblem

#: Largest number of parameters whose dense covariance celr computes (200 MB of float64).
MAX_INFERENCE_PARAMS = 5000
#: Smallest eigenvalue of the standardised information, relative to the largest, below
#: which the features are reported as collinear instead of inverted into noise.
SINGULAR_RCOND = 1e-10
#: Budget of the separation LP during ``fit`` (entries of its constraint matrix; about
#: 0.5 s), spent only on suspected quasi-complete separation: a complete one is proven
#: by the fit itself, and the LP (17 ms on breast cancer) would triple a 7 ms fit.
#: Inference, as costly anyway, searches without a budget.
FIT_LP_ENTRIES = 500_000
COV_TYPES = ("nonrobust", "robust", "HC0")


@dataclass(frozen=True)
class Information:
    """What inference needs from the training data, at the fitted optimum.

    Attributes
    ----------
    hessian : ndarray of shape (n_params, n_params)
        Hessian of the objective (data term + L2 part of the penalty), standardised units.
    score_outer : ndarray of shape (n_params, n_params)
        ``sum_i (s_i / S) g_i g_i^T``, same units.
    param_scale : ndarray of shape (n_params,)
        The units: a raw weight times its scale is the weight in standardised units.
    weight_sum : float
        ``S``, the number of observations the weights stand for.
    separation : Separation or None
        Why the unpenalised optimum does not exist, when it does not.
    offsets : ndarray of shape (n_features,) or None
        The column offsets ``m`` the objective was centred by (:mod:`celr._offsets`):
        ``hessian`` and ``score_outer`` are then those of ``(W, b' = b + W m)``.
    """

    hessian: np.ndarray
    score_outer: np.ndarray
    param_scale: np.ndarray
    weight_sum: float
    separation: Separation | None
    offsets: np.ndarray | None = None


@dataclass(frozen=True)
class Likelihood:
    """The log-likelihood of an unpenalised fit, and of the model without features.

    ``null`` is the intercept-only model (its optimum is the log of the weighted class
    shares) or, without intercept, the model that gives every class ``1/K``.
    """

    log_likelihood: float
    null: float
    weight_sum: float
    separation: Separation | None


class LRTestResult(NamedTuple):
    """Likelihood-ratio test of a restricted model against a fuller one.

    Attributes
    ----------
    statistic : float
        ``2 (l_full - l_restricted)``, asymptotically chi-square under the restriction.
    df : int
        Number of restricted parameters.
    p_value : float
    """

    statistic: float
    df: int
    p_value: float


def information(
    objective: LogisticObjective,
    penalty: ElasticNetPenalty,
    coef: np.ndarray,
    feature_names: list[str],
    offsets: ColumnOffsets | None = None,
) -> Information:
    """The Hessian and score outer product of ``objective + penalty`` at ``coef``.

    An unpenalised fit is also searched for separation (see :mod:`celr._separation`),
    under which every standard error is meaningless. ``offsets``: the objective is on
    centred columns, and ``coef`` its coefficients ``(W, b')``.
    """
    if objective.n_params > MAX_INFERENCE_PARAMS:
        raise ValueError(
            f"Inference needs a dense {objective.n_params} x {objective.n_params} "
            f"covariance; celr computes it for at most {MAX_INFERENCE_PARAMS} parameters."
        )
    _, spread = objective.feature_center_scale()
    param_scale = objective.pack(
        np.broadcast_to(spread, (objective.n_scores, objective.n_features)),
        np.ones(objective.n_scores),
    )
    hessian = objective.hessian(coef, column_scale=spread)
    hessian[np.diag_indices_from(hessian)] += penalty.smooth_hessian_diag() / param_scale**2
    unpenalized = penalty.alpha == 0
    return Information(
        hessian=hessian,
        score_outer=objective.score_outer(coef, column_scale=spread),
        param_scale=param_scale,
        weight_sum=objective.weight_sum,
        separation=find_separation(objective, coef, feature_names) if unpenalized else None,
        offsets=None if offsets is None else offsets.full(),
    )


def likelihood(objective: LogisticObjective, coef: np.ndarray, feature_names: list[str]):
    """:class:`Likelihood` of an unpenalised fit (searching for separation on a budget)."""
    total = objective.weight_sum
    if objective.fit_intercept:
        shares = objective.class_share()
        shares = shares[shares > 0]
        null = total * float(shares @ np.log(shares))
    else:
        null = -total * np.log(objective.n_classes)
    return Likelihood(
        log_likelihood=-total * objective.value(coef),
        null=null,
        weight_sum=total,
        separation=find_separation(
            objective,
            coef,
            feature_names,
            max_lp_entries=FIT_LP_ENTRIES,
            prove_complete_by_lp=False,
        ),
    )


def check_at_optimum(
    objective: LogisticObjective, penalty: ElasticNetPenalty, coef: np.ndarray, limit: float
) -> None:
    """Refuse data on which ``coef`` is not the optimum: not the training data."""
    problem = SmoothProblem(objective, penalty)
    optimality = problem.stop_crit(coef, problem.value_grad(coef)[1])
    if not optimality <= limit:
        raise ValueError(
            "The fitted coefficients are not the optimum of the objective on the X, y and "
            f"sample_weight given (gradient max-norm {optimality:.2e} > {limit:.1e}): "
            "inference needs the data the model was fitted on (same rows, labels and "
            "weights) and a converged fit."
        )


@dataclass(frozen=True)
class Parametrization:
    """The identified parameters a table reports, picked from the flat layout.

    Attributes
    ----------
    labels : pandas.Index
        Row labels: feature (binary) or (class, feature), the intercept first per class.
    rows : ndarray of int
        Flat-layout indices of the reported parameters, in table order.
    kind : {'binary', 'sum-to-zero', 'reference'}
    reference : object
        The reference class of ``'reference'`` (its scores are fixed at 0).
    """

    labels: pd.Index
    rows: np.ndarray
    kind: str
    reference: object = None

    def estimates(self, coef: np.ndarray, n_scores: int) -> np.ndarray:
        """The reported parameters of flat ``coef`` (differences for ``'reference'``)."""
        if self.kind == "reference":
            table = coef.reshape(n_scores, -1)
            coef = (table - table[0]).ravel()
        return coef[self.rows]


def parametrization(layout, classes: np.ndarray, feature_names: list[str], penalized: bool):
    """Which parameters are identified, labelled with the intercept first in each class.

    Two classes: every weight and the intercept. K classes with a penalty: the K-vector
    of ``coef_`` (the penalty fixes the column sums of the weights, centring fixes the
    intercepts). K classes without: softmax is shift invariant, so only differences are
    identified; as in statsmodels' ``MNLogit``, each class ``k > 0`` is reported against
    the reference class ``classes_[0]``, as ``coef_[k] - coef_[0]``.
    """
    width = layout.n_features + layout.fit_intercept
    names = (["intercept"] if layout.fit_intercept else []) + list(feature_names)
    # In the flat layout the intercept is last in each class; tables put it first.
    within = np.roll(np.arange(width), 1) if layout.fit_intercept else np.arange(width)
    if layout.n_scores == 1:
        return Parametrization(pd.Index(names, name="feature"), within, "binary")
    first = 1 if not penalized else 0
    rows = (np.arange(first, layout.n_scores)[:, None] * width + within).ravel()
    labels = pd.MultiIndex.from_product([classes[first:], names], names=["class", "feature"])
    if penalized:
        return Parametrization(labels, rows, "sum-to-zero")
    return Parametrization(labels, rows, "reference", classes[0])


def covariance(info: Information, params: Parametrization, cov_type: str) -> np.ndarray:
    """Covariance of the reported parameters, in table order (nonrobust or HC0).

    ``'reference'``: the likelihood depends on score differences only, so with class 0's
    scores fixed at 0 the information of the others is their block of the Hessian.
    ``'sum-to-zero'``: the Hessian is singular along the shifts the penalty leaves free
    (the intercepts'); the covariance is its inverse on their orthogonal complement.
    """
    rows = params.rows
    hessian = info.hessian[np.ix_(rows, rows)]
    free = None
    if params.kind == "sum-to-zero":
        free = _shift_projector(rows, len(params.labels.levels[0]))
        hessian = hessian + np.trace(hessian) / len(rows) * free
    inverse = _checked_inverse(hessian, params.labels)
    if free is not None:
        complement = np.eye(len(rows)) - free
        inverse = complement @ inverse @ complement
    if cov_type != "nonrobust":
        inverse = inverse @ info.score_outer[np.ix_(rows, rows)] @ inverse
    scale = info.param_scale[rows]
    cov = inverse / scale / scale[:, None] / info.weight_sum
    if info.offsets is not None:
        to_model = _uncentering(rows, info.offsets)
        cov = to_model @ cov @ to_model.T
    return (cov + cov.T) / 2  # exactly symmetric; the products above round differently


def _uncentering(rows: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The Jacobian of ``b = b' - W m`` on the reported parameters ``rows``.

    Each class's intercept depends on that class's weights (differences of classes, for
    ``'reference'``, transform alike): entry ``(b_k, w_kj)`` is ``-m_j``.
    """
    width = len(offsets) + 1  # offsets exist only with an intercept, stored last
    jacobian = np.eye(len(rows))
    within, klass = rows % width, rows // width
    for position in np.flatnonzero(within == len(offsets)):
        same_class = (klass == klass[position]) & (within < len(offsets))
        jacobian[position, same_class] = -offsets[within[same_class]]
    return jacobian


def _shift_projector(rows: np.ndarray, n_classes: int) -> np.ndarray:
    """Projector onto adding the same amount to one parameter of every class."""
    per_class = len(rows) // n_classes
    return np.kron(np.full((n_classes, n_classes), 1.0 / n_classes), np.eye(per_class))


def _checked_inverse(hessian: np.ndarray, labels: pd.Index) -> np.ndarray:
    values, vectors = np.linalg.eigh(hessian)
    if values[0] > SINGULAR_RCOND * values[-1]:
        return (vectors / values) @ vectors.T
    # The flat direction says which parameters trade off against each other.
    direction = np.abs(vectors[:, 0])
    involved = labels[direction > 0.1 * direction.max()]
    shown = sorted({label[-1] if isinstance(label, tuple) else label for label in involved})
    raise ValueError(
        "The information matrix is singular: the parameters of "
        f"{', '.join(repr(name) for name in shown[:10])} are not identified (collinear or "
        "constant features, or a class the features cannot tell apart). Drop one of "
        "the collinear features or use a finite C."
    )
