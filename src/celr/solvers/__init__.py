"""Solvers by name, and the 'auto' choice.

Every solver has the signature ``solve(objective, penalty, coef0, *, tol, max_iter,
callback=None) -> SolverResult`` and sees nothing but the objective's methods and flat
vectors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from celr.solvers import gd, lbfgs, newton, prox_newton, sgd
from celr.solvers._base import IterationInfo, SolverResult
from celr.solvers._cost import ProblemShape, prefer_newton

__all__ = [
    "SOLVERS", "IterationInfo", "SolverResult", "SolverSpec", "choose_solver", "is_stochastic",
]  # fmt: skip


@dataclass(frozen=True)
class SolverSpec:
    """A registered solver and what it supports."""

    name: str
    solve: Callable[..., SolverResult]
    #: The method used when the penalty has an L1 part; None if the solver has none.
    solve_l1: Callable[..., SolverResult] | None
    #: Estimator parameters passed on to ``solve`` as keyword arguments.
    options: tuple[str, ...] = ()
    #: Epochs over shuffled rows: ``max_iter`` counts epochs, ``partial_fit`` and early
    #: stopping on held-out rows are available.
    stochastic: bool = False
    #: A stochastic solver's explicit state: ``init_state(layout, penalty, coef0, *,
    #: sample, n_total, **options)`` makes one, ``update(state, data)`` is one pass over
    #: an Objective's rows (``partial_fit`` calls these two).
    init_state: Callable | None = None
    update: Callable | None = None

    @property
    def supports_l1(self) -> bool:
        return self.solve_l1 is not None

    def solve_for(self, penalty) -> Callable[..., SolverResult]:
        """The method for ``penalty``: ``solve``, or ``solve_l1`` when it has an L1 part."""
        return self.solve if penalty.is_smooth else self.solve_l1


SOLVERS: dict[str, SolverSpec] = {
    "lbfgs": SolverSpec(
        "lbfgs",
        lbfgs.solve,
        lbfgs.solve,
    ),
    "newton": SolverSpec(
        "newton",
        newton.solve,
        prox_newton.solve,
    ),
    "gd": SolverSpec(
        "gd",
        gd.solve,
        gd.solve,
        options=("learning_rate",),
    ),
    "sgd": SolverSpec(
        "sgd",
        sgd.solve,
        None,
        options=(
            "learning_rate",
            "schedule",
            "batch_size",
            "average",
            "random_state",
            "n_iter_no_change",
        ),
        stochastic=True,
        init_state=sgd.init_state,
        update=sgd.update,
    ),
}


def choose_solver(shape: ProblemShape, l1_ratio: float = 0.0) -> str:
    """The solver 'auto' picks for a problem of this shape (any penalty).

    Newton where one Hessian (with its Cholesky factor) costs at most
    ``NEWTON_MAX_HESSIAN_GRADIENTS`` value-and-gradient evaluations
    (:func:`celr.solvers._cost.prefer_newton`): tall data, small ``n_params``. Else
    L-BFGS, which the estimator lets hand over to Newton after
    :func:`celr.solvers._cost.lbfgs_budget` iterations (:mod:`celr.solvers.handover`).
    The same rule holds with an L1 part (proximal Newton, L-BFGS-B on split weights),
    except on sparse two-class data: there proximal Newton solves its models by
    coordinate descent over the columns of a working set (:mod:`celr.solvers._cd_model`),
    which reads the set's columns instead of all of X (100k x 100k tf-idf, L1, C=1: 2x
    faster than L-BFGS-B's working sets). There is no cliff: the cost is continuous in
    the shape.

    Examples
    --------
    >>> from celr.solvers._cost import ProblemShape
    >>> choose_solver(ProblemShape(n_rows=500_000, n_params=101, n_scores=1, stored=5 * 10**7))
    'newton'
    >>> choose_solver(ProblemShape(n_rows=20_000, n_params=2000, n_scores=1, stored=4 * 10**7))
    'lbfgs'
    >>> text = ProblemShape(n_rows=10**5, n_params=10**5 + 1, n_scores=1, stored=8 * 10**6,
    ...                     sparse=True)
    >>> choose_solver(text), choose_solver(text, l1_ratio=1.0)
    ('lbfgs', 'newton')
    """
    if l1_ratio > 0 and shape.sparse and shape.n_scores == 1:
        return "newton"
    return "newton" if prefer_newton(shape) else "lbfgs"


def is_stochastic(name: str | None) -> bool:
    """Whether ``name`` is a registered stochastic solver (epochs, ``partial_fit``).

    Examples
    --------
    >>> is_stochastic("sgd"), is_stochastic("newton"), is_stochastic(None)
    (True, False, False)
    """
    return name in SOLVERS and SOLVERS[name].stochastic


def check_solver_supports(name: str, l1_ratio: float) -> None:
    """Raise a ``ValueError`` if ``name`` cannot handle the requested penalty."""
    if l1_ratio > 0 and not SOLVERS[name].supports_l1:
        raise ValueError(
            f"solver={name!r} does not support l1_ratio > 0 (got l1_ratio={l1_ratio}); "
            "use solver='newton', 'lbfgs', 'gd' or 'auto' for L1 and elastic-net penalties."
        )
