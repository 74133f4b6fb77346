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
from scipy.stats import norm

from celr._objective import LogisticObjective
from celr._offsets import ColumnOffsets
from celr._penalty import ElasticNetPenalty
from celr._separation import Separation, find_separation
from celr.solvers._base import SmoothProblem
from celr.solvers._cost import HESSIAN_PER_ENTRY, HESSIAN_PER_ENTRY_MULTINOMIAL, ProblemShape

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
COV_TYPES = ("nonrobust", "robust", "HC0", "HC1", "cluster")
#: ``fit`` keeps the information without ``store_covariance`` when it is predicted to
#: cost at most this share of the fit (issue 17: under 10% on every benchmark problem) ...
AUTO_SHARE = 0.1
#: ... or at most this many seconds, whatever the share: on small data a fit takes
#: milliseconds, so does the information (Spector, 32 x 4: 0.2 ms of a 2.9 ms fit; anes96,
#: 944 rows, 7 classes: 1.6 ms of 12 ms), which no user notices, and the first
#: ``summary()`` after such a fit is the one statsmodels users try.
AUTO_ANYWAY_SECONDS = 5e-3
#: ... and the model has at most this many parameters: its two P x P matrices are kept in
#: the model (and its files), 16 MB at this size.
AUTO_MAX_PARAMS = 1000
#: Fixed cost of :func:`information` besides its passes over the rows (measured: 0.22 ms
#: on Spector, 32 x 4; 0.39 ms on breast cancer, 569 x 31).
INFORMATION_OVERHEAD_SECONDS = 2e-4
#: Marks :func:`information`'s default: search the rows for separation.
SEARCH = object()


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
    *,
    separation: Separation | object | None = SEARCH,
) -> Information:
    """The Hessian and score outer product of ``objective + penalty`` at ``coef``.

    An unpenalised fit is also searched for separation (see :mod:`celr._separation`),
    under which every standard error is meaningless, unless ``separation`` gives the
    result of a search already made. ``offsets``: the objective is on centred columns,
    and ``coef`` its coefficients ``(W, b')``.
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
    # In two divisions, and 0 where there is no penalty: a column's spread of 1e-300 or
    # 1e160 squares out of range (the penalty's curvature in its units is then 0 or inf).
    curvature = penalty.smooth_hessian_diag()
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        hessian.flat[:: len(hessian) + 1] += np.where(
            curvature == 0, 0.0, curvature / param_scale / param_scale
        )
    if separation is SEARCH:
        separation = (
            find_separation(objective, coef, feature_names) if penalty.alpha == 0 else None
        )
    return Information(
        hessian=hessian,
        score_outer=objective.score_outer(coef, column_scale=spread),
        param_scale=param_scale,
        weight_sum=objective.weight_sum,
        separation=separation,
        offsets=None if offsets is None else offsets.full(),
    )


def information_seconds(shape: ProblemShape) -> float:
    """Predicted seconds of :func:`information`: two Gram matrices from every row, and
    the scores and residuals (about one value and gradient).

    Examples
    --------
    >>> shape = ProblemShape(n_rows=1797, n_params=650, n_scores=10, stored=1797 * 64)
    >>> round(information_seconds(shape), 3)  # digits: measured 0.062 s
    0.083
    """
    per_entry = HESSIAN_PER_ENTRY if shape.n_scores == 1 else HESSIAN_PER_ENTRY_MULTINOMIAL
    matrices = 2.0 * per_entry * shape.n_rows * shape.n_params**2
    return INFORMATION_OVERHEAD_SECONDS + shape.gradient_seconds() + matrices


def keep_information(shape: ProblemShape, n_iter: int, newton_exact: bool) -> bool:
    """Whether ``fit`` keeps the information on its own (``store_covariance=False``).

    Decided from the shape and the iterations the solver took, never from a clock, so the
    same data always give the same answer: the information's predicted cost against a
    lower bound of the fit's, one value and gradient per iteration (and one Hessian, when
    Newton built them exactly).
    """
    if shape.n_params > AUTO_MAX_PARAMS:
        return False
    cost = information_seconds(shape)
    per_iteration = shape.gradient_seconds() + (shape.hessian_seconds() if newton_exact else 0)
    return cost <= AUTO_ANYWAY_SECONDS or cost <= AUTO_SHARE * max(n_iter, 1) * per_iteration


def separation_searched_at_fit(objective) -> bool:
    """Whether :func:`likelihood`'s budgeted search was the full one: its LP fits the
    budget."""
    width = objective.n_features + objective.fit_intercept
    return objective.n_samples * (objective.n_classes - 1) * width <= FIT_LP_ENTRIES


def likelihood(
    objective: LogisticObjective,
    coef: np.ndarray,
    feature_names: list[str],
    *,
    search_separation: bool = True,
) -> Likelihood:
    """:class:`Likelihood` at ``coef`` (and a search for separation on a budget, for an
    unpenalised fit: ``search_separation``)."""
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
        )
        if search_separation
        else None,
    )


def checked_alpha(alpha: float) -> float:
    """``alpha`` of a ``1 - alpha`` interval, refused outside (0, 1)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}.")
    return alpha


def wald_columns(estimate: np.ndarray, std_error: np.ndarray, alpha: float) -> dict:
    """Wald statistics of estimates with standard errors: ``std_error``, ``z``, the
    two-sided normal ``p_value`` and the ``1 - alpha`` interval ``ci_lower``/``ci_upper``.

    A standard error of 0 gives ``z = inf`` (an estimate known exactly), not a warning.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        z = estimate / std_error
    half_width = norm.isf(checked_alpha(alpha) / 2) * std_error
    return {
        "std_error": std_error,
        "z": z,
        "p_value": 2 * norm.sf(np.abs(z)),
        "ci_lower": estimate - half_width,
        "ci_upper": estimate + half_width,
    }


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


def covariance(
    info: Information,
    params: Parametrization,
    cov_type: str,
    cluster_sums: np.ndarray | None = None,
) -> np.ndarray:
    """Covariance of the reported parameters, in table order.

    ``'nonrobust'``: the inverse information ``(S H)^-1``. ``'HC0'`` (``'robust'``): the
    sandwich ``(S H)^-1 (S M) (S H)^-1``; ``'HC1'`` times ``S / (S - k)`` for ``k``
    identified parameters (MacKinnon and White's small-sample factor); ``'cluster'``:
    the sandwich with the scores of each cluster summed first (``cluster_sums``, from
    :meth:`~celr._gram.GramMatrices.cluster_score_sums`), times ``G/(G-1) (S-1)/(S-k)``
    for ``G`` clusters, as statsmodels' ``cov_type='cluster'`` (CRV1).

    ``'reference'``: the likelihood depends on score differences only, so with class 0's
    scores fixed at 0 the information of the others is their block of the Hessian.
    ``'sum-to-zero'``: the Hessian is singular along the shifts the penalty leaves free
    (the intercepts'); the covariance is its inverse on their orthogonal complement.
    """
    rows = params.rows
    hessian = info.hessian[np.ix_(rows, rows)]
    free = None
    n_identified = len(rows)
    if params.kind == "sum-to-zero":
        n_classes = len(params.labels.levels[0])
        free = _shift_projector(rows, n_classes)
        n_identified -= len(rows) // n_classes
        hessian = hessian + np.trace(hessian) / len(rows) * free
    inverse = _checked_inverse(hessian, params.labels)
    if free is not None:
        complement = np.eye(len(rows)) - free
        inverse = complement @ inverse @ complement
    factor = 1.0
    total = info.weight_sum
    if cov_type == "cluster":
        sums = cluster_sums[:, rows]  # 'reference': class 0's scores are fixed, not summed
        meat = total * (sums.T @ sums)
        n_groups = len(cluster_sums)
        factor = n_groups / (n_groups - 1) * (total - 1) / _residual_df(total, n_identified)
    elif cov_type != "nonrobust":
        meat = info.score_outer[np.ix_(rows, rows)]
        if cov_type == "HC1":
            factor = total / _residual_df(total, n_identified)
    if cov_type != "nonrobust":
        inverse = factor * (inverse @ meat @ inverse)
    scale = info.param_scale[rows]
    cov = inverse / scale / scale[:, None] / total
    if info.offsets is not None:
        to_model = _uncentering(rows, info.offsets)
        cov = to_model @ cov @ to_model.T
    return (cov + cov.T) / 2  # exactly symmetric; the products above round differently


def _residual_df(total: float, n_identified: int) -> float:
    if not total > n_identified:
        raise ValueError(
            f"A small-sample corrected covariance needs more observations ({total:g}) "
            f"than parameters ({n_identified})."
        )
    return total - n_identified


def cluster_codes(groups, n_samples: int) -> tuple[np.ndarray, int]:
    """Cluster codes ``0..G-1`` of ``groups`` (one label per training row) and ``G``."""
    if groups is None:
        raise ValueError("cov_type='cluster' needs groups: one cluster label per row of X.")
    labels = np.asarray(groups)
    if labels.ndim != 1 or len(labels) != n_samples:
        raise ValueError(
            f"groups must hold one cluster label per row of X: got shape {labels.shape} "
            f"for {n_samples} rows."
        )
    if labels.dtype.kind == "f" and np.isnan(labels).any():
        raise ValueError("groups contains NaN: every row needs a cluster label.")
    _, codes = np.unique(labels, return_inverse=True)
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    if n_groups < 2:
        raise ValueError(f"cov_type='cluster' needs at least 2 clusters, got {n_groups}.")
    return codes.ravel(), n_groups


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
