"""L-BFGS that hands over to Newton: ``solver='auto'`` where the conditioning decides.

L-BFGS needs ten iterations on well-conditioned data and hundreds on ill-conditioned
data; Newton about ten on both, each costing a Hessian. Which is faster cannot be told
from the shape alone (raw and standardised digits have the same shape: Newton is 4x
faster on the first, L-BFGS 2.3x on the second). So ``'auto'`` runs L-BFGS for as many
iterations as Newton's whole fit would cost (:func:`celr.solvers._cost.lbfgs_budget`)
and, if it has not converged by then, continues with Newton (proximal Newton with an L1
part) from where L-BFGS stopped: at most about twice the faster method's time, and the
faster method's time whenever L-BFGS is quick.
"""

from __future__ import annotations

import numpy as np

from celr.solvers import lbfgs, newton, prox_newton
from celr.solvers._base import Callback, IterationInfo, SolverResult


def solve(
    objective,
    penalty,
    coef0: np.ndarray,
    *,
    tol: float,
    max_iter: int,
    callback: Callback | None = None,
    budget: int,
) -> SolverResult:
    """L-BFGS for at most ``budget`` iterations, then (proximal) Newton.

    Parameters
    ----------
    objective, penalty, coef0, tol, max_iter, callback
        As every solver's; ``max_iter`` counts the iterations of both.
    budget : int
        L-BFGS iterations before Newton takes over.

    Returns
    -------
    SolverResult
        One record: ``history`` and the callback's numbering run on across the handover.
    """
    first = lbfgs.solve(
        objective, penalty, coef0, tol=tol, max_iter=min(budget, max_iter), callback=callback
    )
    if first.converged or first.n_iter >= max_iter:
        return first
    offset = first.n_iter

    def continued(info: IterationInfo) -> None:
        callback(IterationInfo(offset + info.n_iter, info.objective, info.stop_crit, info.coef))

    finish = newton.solve if penalty.is_smooth else prox_newton.solve
    second = finish(
        objective, penalty, first.coef, tol=tol, max_iter=max_iter - offset,
        callback=None if callback is None else continued,
    )  # fmt: skip
    second.n_iter += offset
    second.history = first.history + second.history[1:]
    return second
