"""Solvers by name, and the 'auto' choice.

Every solver has the signature ``solve(objective, penalty, coef0, *, tol, max_iter,
callback=None) -> SolverResult`` and sees nothing but the objective's methods and flat
vectors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from celr.solvers import gd, lbfgs, newton, sgd
from celr.solvers._base import IterationInfo, SolverResult

__all__ = ["SOLVERS", "IterationInfo", "SolverResult", "SolverSpec", "choose_solver"]


@dataclass(frozen=True)
class SolverSpec:
    """A registered solver and what it supports."""

    name: str
    solve: Callable[..., SolverResult]
    supports_l1: bool
    summary: str
    #: Estimator parameters passed on to ``solve`` as keyword arguments.
    options: tuple[str, ...] = ()
    #: Epochs over shuffled rows: ``max_iter`` counts epochs, ``partial_fit`` and early
    #: stopping on held-out rows are available.
    stochastic: bool = False


SOLVERS: dict[str, SolverSpec] = {
    "lbfgs": SolverSpec(
        "lbfgs", lbfgs.solve, False, "scipy's L-BFGS-B on implicitly standardised coefficients"
    ),
    "newton": SolverSpec(
        "newton",
        newton.solve,
        False,
        "Newton with line search: Cholesky on the exact Hessian when small, CG otherwise",
    ),
    "gd": SolverSpec(
        "gd",
        gd.solve,
        False,
        "full-batch gradient descent: a fixed step, or a line search in standardised units",
        options=("learning_rate",),
    ),
    "sgd": SolverSpec(
        "sgd",
        sgd.solve,
        False,
        "mini-batch SGD with a decaying step and iterate averaging; partial_fit",
        options=(
            "learning_rate",
            "schedule",
            "batch_size",
            "average",
            "random_state",
            "n_iter_no_change",
        ),
        stochastic=True,
    ),
}


def choose_solver(*, n_params: int, l1_ratio: float) -> str:
    """The solver 'auto' picks for a problem.

    Exact Newton when its Hessian is small (``n_params`` up to
    ``newton.EXACT_HESSIAN_MAX_PARAMS``): about ten iterations whatever the feature
    scales. L-BFGS above that, where the Hessian would cost more than it saves.

    Examples
    --------
    >>> choose_solver(n_params=31, l1_ratio=0.0)
    'newton'
    >>> choose_solver(n_params=262_145, l1_ratio=0.0)
    'lbfgs'
    """
    if n_params <= newton.EXACT_HESSIAN_MAX_PARAMS:
        return "newton"
    return "lbfgs"


def check_solver_supports(name: str, l1_ratio: float) -> None:
    """Raise a ``ValueError`` if ``name`` cannot handle the requested penalty."""
    if l1_ratio > 0 and not SOLVERS[name].supports_l1:
        raise ValueError(
            f"solver={name!r} does not support l1_ratio > 0 (got l1_ratio={l1_ratio}); "
            "L1 and elastic-net penalties are not supported yet."
        )
