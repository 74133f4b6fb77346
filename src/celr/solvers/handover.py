"""L-BFGS that hands over to Newton: ``solver='auto'`` where the conditioning decides.

L-BFGS needs ten iterations on well-conditioned data and hundreds on ill-conditioned
data; Newton about ten on both, each costing a Hessian. Which is faster cannot be told
from the shape alone (raw and standardised digits have the same shape: Newton is 4x
faster on the first, L-BFGS 2.3x on the second). So ``'auto'`` runs L-BFGS for as many
iterations as Newton's whole fit would cost (:func:`celr.solvers._cost.lbfgs_budget`)
and, if it has not converged by then, continues with Newton (proximal Newton with an L1
part) from where L-BFGS stopped: at most about twice the faster method's time, and the
faster method's time whenever L-BFGS is quick.

Past the budget L-BFGS goes on, up to ``EXTENSION`` times it, while its rate over the
last iterations says it reaches ``tol`` within that: a Newton step taken close to the
optimum costs about as much as one far from it (200,000 x 2^18 text at C=100: L-BFGS at
``stop_crit`` 5e-8 after its 60 iterations, falling a decade in 10; one Newton step by
conjugate gradients then took 4.7 s, 47 L-BFGS iterations' time).
"""

from __future__ import annotations

import numpy as np

from celr.solvers import lbfgs, newton, prox_newton
from celr.solvers._base import Callback, IterationInfo, SolverResult

#: L-BFGS may run to this many times its budget when it is about to converge.
EXTENSION = 1.5
#: The iterations over which L-BFGS's rate of convergence is measured.
RATE_WINDOW = 10


def iterations_to_tol(stop_crits: list[float], tol: float) -> float:
    """L-BFGS's iterations still needed to reach ``tol``, at the rate (decades of the
    best ``stop_crit`` so far per iteration) of its last ``RATE_WINDOW`` iterations;
    infinite where it did not improve.

    Examples
    --------
    >>> round(iterations_to_tol([10.0**-k for k in range(8)], 1e-8), 6)  # a decade each
    1.0
    >>> iterations_to_tol([1.0, 0.5, 0.5, 0.5], 1e-8)
    inf
    """
    best = np.minimum.accumulate(np.asarray(stop_crits, dtype=np.float64))
    window = min(RATE_WINDOW, (len(best) - 1) // 2)
    if window < 1 or not best[-1 - window] > best[-1] > 0.0:
        return np.inf
    rate = np.log(best[-1 - window] / best[-1]) / window
    return float(max(np.log(best[-1] / tol), 0.0) / rate)


def hands_over(stop_crits: list[float], budget: int, cap: int, tol: float) -> bool:
    """Whether L-BFGS, at the ``stop_crit`` of its start and iterations so far, should
    stop for Newton: once past ``budget``, unless its rate reaches ``tol`` by ``cap``.

    Examples
    --------
    >>> fast = [10.0 ** (-k / 5) for k in range(41)]  # a decade in 5: 1e-8 at 40
    >>> hands_over(fast[:20], 30, 45, 1e-8), hands_over(fast[:31], 30, 45, 1e-8)
    (False, False)
    >>> slow = [10.0 ** (-k / 50) for k in range(31)]
    >>> hands_over(slow, 30, 45, 1e-8)
    True
    """
    n_iter = len(stop_crits) - 1
    return n_iter >= budget and n_iter + iterations_to_tol(stop_crits, tol) > cap


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
    """L-BFGS for ``budget`` iterations (more when it is about to converge), then
    (proximal) Newton.

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
    cap = min(max_iter, max(budget, int(EXTENSION * budget)))
    first = lbfgs.solve(
        objective, penalty, coef0, tol=tol, max_iter=cap, callback=callback,
        give_up=lambda stop_crits: hands_over(stop_crits, budget, cap, tol),
    )  # fmt: skip
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
