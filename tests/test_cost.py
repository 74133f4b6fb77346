"""'auto' by predicted cost (celr.solvers._cost) and L-BFGS's hand-over to Newton."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from celr._parallel import make_objective
from celr._penalty import ElasticNetPenalty
from celr.solvers import _cost as cost
from celr.solvers import choose_solver, handover, lbfgs
from celr.solvers._cost import ProblemShape, hessian_row_stride
from tests.conftest import dataset, reference_minimum, reference_objective


def test_costs_follow_their_formulas():
    shape = ProblemShape(n_rows=20_000, n_params=2001, n_scores=1, stored=40_000_000)
    gradient = 1.6e-7 * 20_000 + 7e-10 * 40_000_000
    assert shape.gradient_seconds() == pytest.approx(gradient, rel=1e-12)
    rows = 20_000 // hessian_row_stride(20_000, 2001)
    hessian = 2.8e-11 * rows * 2001**2 + 5.5e-11 * 2001**3 / 3
    assert shape.hessian_seconds() == pytest.approx(hessian, rel=1e-12)
    three = ProblemShape(n_rows=20_000, n_params=3003, n_scores=3, stored=20_000_000)
    assert three.gradient_seconds() == pytest.approx(3 * (1.6e-7 * 2e4 + 7e-10 * 2e7))


def test_shape_of_arrays_and_objectives_agree():
    X = np.ones((40, 5))
    assert ProblemShape.of(X, 3, True) == ProblemShape(40, 18, 3, 200, False)
    sparse = sp.random(40, 5, density=0.2, format="csr", random_state=0)
    assert ProblemShape.of(sparse, 2, False) == ProblemShape(40, 5, 1, sparse.nnz, True)
    objective = make_objective(X, np.arange(40) % 3, np.ones(40), 3, True)
    assert ProblemShape.of_objective(objective) == ProblemShape.of(X, 3, True)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_no_cliff_at_any_parameter_count(fit_intercept, n_classes):
    """The issue's cliff: 2,000 vs 2,001 parameters at 20,000 rows chose 10x apart. The
    choice is now a function of a cost continuous in the shape: it switches once, from
    Newton (small P) to L-BFGS, and never back as P grows."""
    n_scores = 1 if n_classes == 2 else n_classes
    choices = []
    for d in range(5, 5001, 5):
        n_params = n_scores * (d + fit_intercept)
        shape = ProblemShape(20_000, n_params, n_scores, 20_000 * d)
        choices.append(choose_solver(shape))
    switches = [i for i in range(1, len(choices)) if choices[i] != choices[i - 1]]
    assert choices[0] == "newton" and choices[-1] == "lbfgs" and len(switches) == 1
    for d in (1999, 2000, 2010):  # the shapes, each side of the old threshold
        shape = ProblemShape(20_000, n_scores * (d + fit_intercept), n_scores, 20_000 * d)
        assert choose_solver(shape) == "lbfgs"


def test_tall_and_tiny_problems_take_newton():
    assert choose_solver(ProblemShape(500_000, 101, 1, 50_000_000)) == "newton"  # P1
    assert choose_solver(ProblemShape(569, 31, 1, 569 * 30)) == "newton"  # breast cancer
    # Tiny whatever the ratio: a Hessian under a millisecond.
    tiny = ProblemShape(30, 200, 1, 30 * 199)
    assert tiny.hessian_gradients() > cost.NEWTON_MAX_HESSIAN_GRADIENTS
    assert tiny.hessian_seconds() < cost.NEWTON_ANYWAY_SECONDS
    assert choose_solver(tiny) == "newton"
    # Too large a matrix whatever its cost.
    assert not cost.exact_hessian_pays(ProblemShape(10**8, 20_001, 1, 2 * 10**12))


def test_budget_is_newtons_cost_in_gradients():
    tall = ProblemShape(500_000, 101, 1, 50_000_000)
    expected = cost.NEWTON_HESSIANS * tall.hessian_gradients() + cost.NEWTON_EVALUATIONS
    assert cost.lbfgs_budget(tall) == int(expected)
    assert cost.lbfgs_budget(ProblemShape(20_000, 2001, 1, 4 * 10**7)) == (
        cost.NEWTON_CG_GRADIENTS
    )


@pytest.mark.parametrize("l1_ratio", [0.0, 1.0])
def test_handover_continues_one_record_to_the_optimum(l1_ratio):
    """Raw digits: L-BFGS needs hundreds of iterations; handed over after 5, (proximal)
    Newton finishes. History and callback run on as one solver's."""
    X, y = dataset("digits")
    X, y = X[:600], y[:600]
    objective = make_objective(X, y, np.ones(len(y)), 10, True)
    penalty = ElasticNetPenalty.for_layout(objective, 1.0, l1_ratio, objective.weight_sum)
    seen = []
    result = handover.solve(
        objective, penalty, objective.pack(np.zeros((10, 64)), np.zeros(10)), tol=1e-8,
        max_iter=1000, callback=lambda info: seen.append((info.n_iter, info.objective)),
        budget=5,
    )  # fmt: skip
    assert result.converged and result.n_iter > 5
    assert [n for n, _ in seen] == list(range(1, result.n_iter + 1))
    assert len(result.history) == result.n_iter + 1
    assert [value for _, value in seen] == result.history[1:]
    W, b = objective.unpack(result.coef)
    found = reference_objective(X, y, W, b, 1.0, l1_ratio=l1_ratio)
    # scipy's L-BFGS-B from zero (and from the point found) can do no better: tol
    # bounds the standardised gradient, so the gap is about its square over the
    # curvature, far below 1e-9 here, plus the two evaluations' rounding (n eps f).
    best = reference_minimum(X, y, np.ones(len(y)), 10, 1.0, l1_ratio, True, starts=[(W, b)])
    assert found - best <= 1e-9 * abs(best) + 600 * np.finfo(float).eps * abs(best)


def _standardised_breast_cancer():
    X, y = dataset("breast_cancer")
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    objective = make_objective(X, y, np.ones(len(y)), 2, True)
    penalty = ElasticNetPenalty.for_layout(objective, 1.0, 0.0, objective.weight_sum)
    return objective, penalty, np.zeros(objective.n_params)


def test_lbfgs_gives_up_unconverged_where_asked():
    objective, penalty, coef0 = _standardised_breast_cancer()
    seen, asked = [], []

    def give_up(stop_crits):
        asked.append(list(stop_crits))
        return len(stop_crits) > 4

    result = lbfgs.solve(
        objective, penalty, coef0, tol=1e-8, max_iter=1000, give_up=give_up,
        callback=lambda info: seen.append(info.stop_crit),
    )  # fmt: skip
    # Given up after 4 iterations: not converged, whatever converged_when_stalled says.
    assert result.n_iter == 4 and not result.converged
    assert asked[-1][1:] == seen and len(asked) == 4


def test_lbfgs_about_to_converge_is_not_handed_over(monkeypatch):
    objective, penalty, coef0 = _standardised_breast_cancer()
    alone = lbfgs.solve(objective, penalty, coef0, tol=1e-8, max_iter=1000)
    assert alone.converged and alone.n_iter > 20

    def newton_solve(*args, **kwargs):
        raise AssertionError("handed over to Newton three iterations before convergence")

    monkeypatch.setattr(handover.newton, "solve", newton_solve)
    result = handover.solve(
        objective, penalty, coef0, tol=1e-8, max_iter=1000, budget=alone.n_iter - 3
    )
    assert result.converged and result.n_iter == alone.n_iter
    np.testing.assert_array_equal(result.coef, alone.coef)  # the same run, bit for bit


def test_iterations_to_tol_reads_the_rate_of_the_best_so_far():
    # A rise (a line search's worse point) does not count as a rate; the best does.
    crits = [1e-2, 1e-3, 5e-2, 1e-4, 1e-5]
    # window 2: best 1e-3 -> 1e-5, a decade an iteration; 3 decades left to 1e-8
    assert handover.iterations_to_tol(crits, 1e-8) == pytest.approx(3.0, rel=1e-12)
    assert handover.iterations_to_tol(crits, 1.0) == 0.0
    assert handover.iterations_to_tol([1e-2], 1e-8) == np.inf
