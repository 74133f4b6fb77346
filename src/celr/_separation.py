"""Detecting when the unpenalised optimum lies at infinity (complete or quasi-complete separation).

Without a penalty the maximum-likelihood estimate exists exactly when no direction ``d``
in coefficient space moves every training row's margin the right way or not at all
(Albert & Anderson, 1984). Such a direction is found, or ruled out, by a linear program
(Konis, 2007): maximise the sum of the weighted margins of ``d`` subject to every margin
being >= 0 and ``-1 <= d_j <= 1`` in max-abs-scaled features. The optimum is 0 exactly
when the estimate exists; otherwise the LP's ``d`` names features that separate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from celr._column_stats import column_max_abs

#: Own-class margin (score minus the best rival) beyond which a fitted row is suspected to
#: be separated: its probability is within 3e-7 of 1, about where an unpenalised solver
#: stops chasing a diverging weight at the default tol.
SUSPECT_MARGIN = 15.0
#: Sum of weighted LP margins (weights of mean 1, features scaled to max-abs 1) above which
#: a direction counts as separating: HiGHS's feasibility tolerance is 1e-7 per row, and a
#: single separated row contributes about 1.
SEPARATION_THRESHOLD = 1e-5


class SeparationWarning(UserWarning):
    """The classes are (quasi-)completely separable, so without a penalty no finite optimum exists.

    Any hyperplane that separates the training data can be scaled up to lower the
    cross-entropy further, forever; the fitted coefficients are then a point on the way to
    infinity, chosen by the solver's tolerance. A finite ``C`` gives a unique finite model.
    """


@dataclass(frozen=True)
class Separation:
    """Proof that the unpenalised optimum lies at infinity.

    Attributes
    ----------
    complete : bool
        Whether some linear model classifies every weighted row strictly correctly
        (complete separation) rather than only with ties (quasi-complete).
    features : tuple of str
        Features along which the weights diverge.
    alone : bool
        Whether ``features`` are those that separate some class on their own (found
        without an LP; empty when only a combination separates).
    weightless_class : bool
        Whether the cause is a class without rows of positive weight (its intercept
        runs to minus infinity).
    """

    complete: bool
    features: tuple[str, ...] = ()
    alone: bool = False
    weightless_class: bool = False

    def describe(self) -> str:
        """One sentence saying what separates, for warnings and errors."""
        if self.weightless_class:
            return (
                "A class has no rows of positive weight (sample_weight times class_weight), "
                "so without a penalty (C=inf) the optimum is at infinity: its intercept "
                "falls without bound and is finite only because the solver stopped."
            )
        kind = "completely" if self.complete else "quasi-completely"
        where = ""
        if self.alone:
            where = (
                f" (by {_listed(self.features)} alone)"
                if self.features
                else " (by a combination of features, none alone)"
            )
        elif self.features:
            where = f" (along {_listed(self.features)})"
        return (
            f"The classes are {kind} separated on the training data{where}, so without a "
            "penalty (C=inf) the optimum is at infinity: some coefficients grow without bound "
            "and are finite only because the solver stopped."
        )


def _listed(features: tuple[str, ...], limit: int = 10) -> str:
    shown = ", ".join(repr(name) for name in features[:limit])
    more = f" and {len(features) - limit} more" if len(features) > limit else ""
    return f"feature{'s' if len(features) > 1 else ''} {shown}{more}"


def margins(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Own-class score minus the best rival's, per row (binary: the signed score).

    A model whose margins are all positive separates the rows: it proves the unpenalised
    cross-entropy has infimum 0 and no minimiser.

    Examples
    --------
    >>> import numpy as np
    >>> margins(np.array([-2.0, 3.0]), np.array([0, 1])).tolist()
    [2.0, 3.0]
    >>> margins(np.array([[1.0, 4.0, 0.0]]), np.array([1])).tolist()
    [3.0]
    """
    if scores.ndim == 1:
        return np.where(y == 1, scores, -scores)
    rows = np.arange(len(y))
    own = scores[rows, y]
    rivals = scores.copy()
    rivals[rows, y] = -np.inf
    return own - rivals.max(axis=1)


def find_separation(
    objective, coef: np.ndarray, feature_names: list[str], **lp_options
) -> Separation | None:
    """Whether the unpenalised optimum of ``objective`` is at infinity, and along what.

    Cheap evidence first: the fitted ``coef`` separates every row (complete separation,
    proven without an LP), or some rows' margins exceed :data:`SUSPECT_MARGIN`. Only
    then is the linear program solved, and only when its constraint matrix has at most
    ``max_lp_entries`` entries. A complete separation over that budget, or with
    ``prove_complete_by_lp=False``, names the features that separate some class on their
    own (an O(n d) pass); a suspected quasi-complete one over budget is not reported.

    Parameters
    ----------
    objective : Objective
        The training data. Its ``find_separation`` method searches its rows: in memory
        :func:`search_rows`; on a Dask cluster, where the rows are
        (:mod:`celr._dask._objective`), complete separation only.
    coef : ndarray
        Flat coefficients of the unpenalised fit.
    feature_names : list of str
        Names used to report the separating features.
    **lp_options
        ``max_lp_entries`` and ``prove_complete_by_lp`` of :func:`search_rows`.

    Returns
    -------
    Separation or None
        None when the maximum-likelihood estimate exists (or, over budget, is not
        disproved).
    """
    if np.any(objective.class_share() == 0):
        return Separation(complete=False, weightless_class=True)
    return objective.find_separation(coef, feature_names, **lp_options)


def search_rows(
    objective,
    coef: np.ndarray,
    feature_names: list[str],
    *,
    max_lp_entries: float = np.inf,
    prove_complete_by_lp: bool = True,
) -> Separation | None:
    """:func:`find_separation` on in-memory rows (``X``, ``y``, ``normalized_weight``).

    Parameters
    ----------
    objective, coef, feature_names
        As :func:`find_separation`'s.
    max_lp_entries : float, default=inf
        Budget for the linear programs (two HiGHS solves: 17 ms on 569 x 31, 7.5 s on
        100,000 x 31 with a quasi-separating feature).
    prove_complete_by_lp : bool, default=True
        Whether a complete separation, already proven by ``coef``, is also searched by LP
        for the (sparsest) combination of features that separates.
    """
    counted = objective.normalized_weight > 0
    fitted_margins = margins(objective.scores(coef), objective.y)[counted]
    complete = bool(np.all(fitted_margins > 0))
    if not complete and not np.any(fitted_margins > SUSPECT_MARGIN):
        return None
    width = objective.n_features + objective.fit_intercept
    lp_entries = np.count_nonzero(counted) * (objective.n_classes - 1) * width
    if complete and (lp_entries > max_lp_entries or not prove_complete_by_lp):
        alone = lone_separators(objective)
        return Separation(
            complete=True, features=tuple(feature_names[j] for j in alone), alone=True
        )
    if lp_entries > max_lp_entries:
        return None
    direction = separating_direction(objective)
    if direction is None:
        return None
    moving = np.flatnonzero(np.any(direction[:, : objective.n_features] != 0, axis=0))
    return Separation(complete=complete, features=tuple(feature_names[j] for j in moving))


def lone_separators(objective) -> np.ndarray:
    """Features whose values alone put some class strictly above or below all others."""
    counted = objective.normalized_weight > 0
    present = [k for k in range(objective.n_classes) if np.any(counted & (objective.y == k))]
    lows, highs = [], []
    for k in present:
        rows = objective.X[counted & (objective.y == k)]
        if sp.issparse(rows):
            lows.append(rows.min(axis=0).toarray().ravel())
            highs.append(rows.max(axis=0).toarray().ravel())
        else:
            lows.append(rows.min(axis=0))
            highs.append(rows.max(axis=0))
    lows, highs = np.array(lows), np.array(highs)
    alone = np.zeros(objective.n_features, dtype=bool)
    for k in range(len(present)):
        others = np.arange(len(present)) != k
        alone |= (lows[k] > highs[others].max(axis=0)) | (highs[k] < lows[others].min(axis=0))
    return np.flatnonzero(alone)


def separating_direction(objective) -> np.ndarray | None:
    """Solve the separation LP; return ``d`` of shape (n_scores, n_features + intercept).

    For two classes ``d`` scores class 1; for K classes class 0's row is 0 (softmax is
    shift invariant, so the LP fixes it as the reference). None when the optimum is 0.
    """
    counted = objective.normalized_weight > 0
    X = objective.X[counted]
    y = objective.y[counted]
    weight = objective.normalized_weight[counted]
    weight = weight / weight.mean()
    scale = column_max_abs(X)
    design = _scaled_design(X, 1.0 / scale, objective.fit_intercept)
    if objective.n_classes == 2:
        constraints = _diagonal(np.where(y == 1, 1.0, -1.0)) @ design
        row_weight = weight
    else:
        blocks, row_weight = [], []
        for rival in range(objective.n_classes):
            rows = y != rival
            part = design[rows]
            # margin of d against ``rival``: (d_{y_i} - d_rival) . xa_i, d_0 = 0.
            blocks.append(
                sp.hstack(
                    [
                        _diagonal((y[rows] == k).astype(float) - float(k == rival)) @ part
                        for k in range(1, objective.n_classes)
                    ]
                )
            )
            row_weight.append(weight[rows])
        constraints = sp.vstack(blocks).tocsr()
        row_weight = np.concatenate(row_weight)
    gain = np.asarray(constraints.T @ row_weight).ravel()
    found = linprog(
        -gain, A_ub=-constraints, b_ub=np.zeros(constraints.shape[0]), bounds=(-1.0, 1.0)
    )
    best_gain = -found.fun
    if found.status != 0 or best_gain <= SEPARATION_THRESHOLD:
        return None
    # Any separating direction mixes in whatever features keep the margins >= 0; the
    # sparsest one (least L1 norm with the same order of gain) names the features that
    # actually separate. d = u - v with u, v >= 0.
    split = sp.hstack([constraints, -constraints]).tocsr()
    sparsest = linprog(
        np.ones(split.shape[1]),
        A_ub=sp.vstack([-split, -np.concatenate([gain, -gain])[None, :]]),
        b_ub=np.append(np.zeros(split.shape[0]), -0.5 * best_gain),
        bounds=(0.0, None),
    )
    solution = found.x
    if sparsest.status == 0:
        half = len(solution)
        solution = sparsest.x[:half] - sparsest.x[half:]
    solution = np.where(np.abs(solution) > 1e-9 * np.abs(solution).max(), solution, 0.0)
    direction = solution.reshape(-1, design.shape[1])
    direction[:, : objective.n_features] /= scale
    if objective.n_classes > 2:
        direction = np.vstack([np.zeros(design.shape[1]), direction])
    return direction


def _scaled_design(X, inverse_scale: np.ndarray, fit_intercept: bool) -> sp.csr_array:
    """``[X * inverse_scale, 1]`` as a sparse matrix, the LP's constraint rows."""
    design = sp.csr_array(X, dtype=np.float64) @ _diagonal(inverse_scale)
    if fit_intercept:
        design = sp.hstack([design, np.ones((X.shape[0], 1))])
    return sp.csr_array(design)


def _diagonal(values: np.ndarray) -> sp.dia_array:
    return sp.dia_array((values[None, :], [0]), shape=(len(values), len(values)))
