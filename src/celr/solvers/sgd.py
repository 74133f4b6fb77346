"""Mini-batch stochastic gradient descent with explicit state (textbook section 5.6).

The textbook's stochastic update ``theta <- theta - eta * grad L`` (section 5.6) with the
gradient of one example, ``(sigma(w . x + b) - y) x_j`` (section 5.6.1); mini-batches
average that gradient over ``batch_size`` examples (section 5.6.4)::

    theta <- theta - eta_t * ( (1/B) sum_{i in batch} (s_i / s_bar) grad L_CE(x_i, y_i)
                               + grad penalty )

is an unbiased estimate of the gradient of the full objective ``f`` when rows are drawn
uniformly (``s_bar`` is the mean row weight; the penalty ``1/(C S)`` is the full
objective's), so the same ``C`` means the same optimum as the full-batch solvers.

The state (:class:`SGDState`) is explicit: :func:`update` makes one shuffled pass over
the rows it is given, and is all that ``partial_fit`` calls; :func:`solve` (``fit``) is a
loop of :func:`update` over epochs with a full evaluation of ``f`` after each.
On CSR rows of two classes the pass is compiled (:mod:`celr.solvers._sparse_pass`): the
same steps, in the same order, without numpy's per-batch temporaries.

Defaults that need no tuning:

- ``learning_rate=None`` takes the steps in standardised coordinates
  (:mod:`celr.solvers._coordinates`, a diagonal preconditioner; on sparse tf-idf data too,
  where raw coordinates were 100x worse after 20 epochs: the spread gives rare words
  larger steps, as AdaGrad would) with ``eta_0 = 1 / L(B)``, the inverse of the
  expected smoothness of a size-``B`` mini-batch gradient (Gower et al., "SGD: general
  analysis and improved rates", 2019), estimated from a sample of rows. A number is the
  textbook's step in raw coordinates.
- ``schedule='invsqrt'``: ``eta_t = eta_0 / sqrt(1 + seen_t / horizon)`` (``horizon`` is
  one epoch, at least 100 steps), with Polyak-Ruppert averaging of the iterates after
  the first horizon: the averaged iterate converges to the optimum (Bach & Moulines
  2013). Measured on 100,000 x 50 standardised data, ``B = 1024``, ``C = 1``: relative
  objective gap 3e-3, 4e-6 and 2e-6 after 1, 5 and 20 epochs (scikit-learn's
  ``SGDClassifier``: 11, 1.9 and 0.18; ``benchmarks/sgd.py``).
- ``'constant'`` (the textbook's fixed ``eta``) and ``'adam'`` (Kingma & Ba 2015) are the
  alternatives.
- ``batch_size='auto'``: ``min(1024, max(32, n // 16))`` rows (:func:`auto_batch_size`),
  so that a small data set's epoch is several steps, not one full-batch step.
- On data of fewer than ``ADAPT_MAX_STEPS`` steps an epoch (up to 17,408 rows with the
  automatic batch: 16 or 17 steps), :func:`solve` adapts the automatic step ("bold
  driver"): ``1 / L(B)`` is a worst-case bound, too cautious for 3,200 steps in 200
  epochs. While the full objective falls the step grows by ``ADAPT_GROWTH`` per epoch
  (iterates not averaged); an epoch that does not improve shrinks it by ``ADAPT_SHRINK``
  and restarts from the best point so far. After ``ADAPT_PATIENCE`` of them the steps
  move, once, to coordinates whitened by the curvature at the best point
  (:class:`~celr.solvers._coordinates.CurvatureCoordinates`: each class's block of the
  Hessian is the identity there; problems of at most ``CURVATURE_MAX_PARAMS``
  coefficients) and the adaptation starts again from the step ``CURVATURE_RATE``; after
  ``ADAPT_PATIENCE`` more the step is fixed, then decays over ``ADAPT_HORIZON_STEPS``
  steps and the iterates are averaged. With the defaults (200 epochs, ``C=1``) the
  adaptation took the training cross-entropy from 1.09 to 1.26 times the optimum's to
  within 4% of it on the test suite's small data sets, except raw digits (3.2 times,
  nearly separable, pixels correlated: no diagonal scaling fits it); the whitening took
  that to 0.91-1.02 over seeds 0-5, the penalised objective's relative gap from 0.3-1.8
  to 3e-3-6e-3, and the rest to 0.97-1.00 (``tests/test_sgd.py``). Larger data,
  ``partial_fit`` and a given ``learning_rate`` keep the schedule above (there the step
  is already taken many times an epoch), as do a given ``schedule`` or ``average``.
"""

from __future__ import annotations

import numpy as np

from celr._objective import CoefLayout
from celr.solvers._base import Callback, IterationRecord, SmoothProblem, SolverResult
from celr.solvers._protocol import Objective
from celr.solvers._sgd_state import (
    ADAM_BETAS,
    ADAM_DEFAULT_RATE,
    ADAM_EPSILON,
    ADAPT_GROWTH,
    ADAPT_HORIZON_STEPS,
    ADAPT_MAX_STEPS,
    ADAPT_PATIENCE,
    ADAPT_SHRINK,
    MIN_HORIZON_STEPS,
    SCHEDULES,
    STEP_RULES,
    SGDState,
    auto_batch_size,
    init_state,
)
from celr.solvers._sparse_pass import compiled_pass, compiled_rows
from celr.solvers.gd import diverged

__all__ = [
    "ADAM_BETAS", "ADAM_DEFAULT_RATE", "ADAM_EPSILON", "ADAPT_GROWTH", "ADAPT_HORIZON_STEPS",
    "ADAPT_MAX_STEPS", "ADAPT_PATIENCE", "ADAPT_SHRINK", "MIN_HORIZON_STEPS", "SCHEDULES",
    "STEP_RULES", "SGDState", "auto_batch_size", "init_state", "solve", "update",
]  # fmt: skip


def update(state: SGDState, data: Objective) -> tuple[float, bool]:
    """One pass over ``data``'s rows in shuffled mini-batches of ``state.batch_size`` rows.

    Parameters
    ----------
    state : SGDState
        Changed in place.
    data : Objective
        The rows (:meth:`~celr.solvers._protocol.Objective.minibatches`): the training
        objective of ``fit``, a chunk's of ``partial_fit``, each row weighted by
        ``s_i / s_bar``.

    Returns
    -------
    mean_objective : float
        Mean of the mini-batch objectives, each measured before its step.
    diverged : bool
        Whether the pass ran away (see :func:`celr.solvers.gd.diverged`); the state is
        then rolled back to where the pass started.
    """
    saved = (state.u.copy(), state.u_average.copy(), state.n_averaged)
    rows = compiled_rows(state, data)
    if rows is not None:
        total, last_value, n_rows = compiled_pass(state, rows)
    else:
        total, last_value, n_rows = _numpy_pass(state, data)
    mean_objective = total / max(n_rows, 1)
    ran_away = (
        diverged(mean_objective, state.reference_loss or 0.0)
        or diverged(last_value, state.reference_loss or 0.0)
        or not np.all(np.isfinite(state.u))
    )
    if ran_away:
        state.u, state.u_average, state.n_averaged = saved
    return mean_objective, ran_away


def _numpy_pass(state: SGDState, data: Objective) -> tuple[float, float, int]:
    """:func:`update`'s pass by numpy, batch by batch: the sum over batches of rows times
    the batch objective before its step, the last batch's cross-entropy after it, and the
    rows."""
    total, n_rows = 0.0, 0
    penalized = state.penalty.l2_strength > 0
    # Overflow can only come from a step so large that the pass diverges, which is
    # detected below and rolled back; numpy's warnings would only repeat that.
    with np.errstate(over="ignore", invalid="ignore"):
        for batch in data.minibatches(state.batch_size, state.rng):
            coef = state.coords.to_coef(state.u)
            value, grad = batch.value_grad(coef)
            if penalized:
                penalty_value, penalty_grad = state.penalty.smooth_value_grad(coef)
                value += penalty_value
                grad += penalty_grad
            if state.reference_loss is None:
                state.reference_loss = value
            # A short batch (an epoch's or a chunk's remainder) takes a step shortened in
            # proportion: every row moves the weights by eta / B times its gradient,
            # whatever its batch, so uneven chunks are not weighted up.
            share = batch.n_samples / state.batch_size
            _step(state, share * state.coords.gradient_to_u(grad), batch.n_samples)
            total += value * batch.n_samples
            n_rows += batch.n_samples
        # Each value was measured before its step: the last batch after its step tells
        # whether that step ran away (a one-step pass would not show it otherwise).
        last_value = batch.value(state.coords.to_coef(state.u))
    return total, last_value, n_rows


def _step(state: SGDState, grad_u: np.ndarray, n_rows: int) -> None:
    """``u <- u + step`` (the schedule's :data:`STEP_RULES` entry), then the running average."""
    state.n_steps += 1
    state.u += STEP_RULES[state.schedule].step(state, grad_u)
    state.u = state.coords.keep_invariant(state.u)  # the same array unless whitened
    state.n_seen += n_rows
    if state.n_seen > state.average_start:
        state.n_averaged += 1
        state.u_average += (state.u - state.u_average) / state.n_averaged
    else:
        state.u_average[:] = state.u


def solve(
    objective,
    penalty,
    coef0: np.ndarray,
    *,
    tol: float,
    max_iter: int,
    callback: Callback | None = None,
    learning_rate: float | None = None,
    schedule: str = "invsqrt",
    batch_size: int | str = "auto",
    average: bool | int = True,
    random_state: np.random.RandomState | None = None,
    n_iter_no_change: int = 5,
    validation=None,
) -> SolverResult:
    """Minimise ``objective + penalty`` by epochs of mini-batch SGD.

    After every epoch (one :func:`update` over all rows) the full objective is evaluated
    at the model's coefficients: that is ``history``. The fit ends when the objective (or,
    with ``validation``, the held-out cross-entropy) has not reached a new low (beyond its
    rounding) for ``n_iter_no_change`` epochs in a row (converged as far as SGD can
    tell), after ``max_iter`` epochs, or when a fixed learning rate diverges.
    ``stop_crit`` is then measured as for every other solver, and ``converged`` also
    holds when it is at most ``tol``: ``tol`` means what it means for every solver.

    Parameters
    ----------
    objective : Objective
        The training data term.
    penalty : ElasticNetPenalty
        Smooth (L2) penalty.
    coef0 : ndarray of shape (n_params,)
    tol : float
        Bound on the final ``stop_crit`` for ``converged``.
    max_iter : int
        Maximum number of epochs.
    callback : callable, optional
        Called with an :class:`IterationInfo` after every epoch.
    learning_rate, schedule, batch_size, average, random_state
        See :func:`init_state`.
    n_iter_no_change : int
        Epochs without improvement before stopping.
    validation : LogisticObjective, optional
        Held-out rows: early stopping on their cross-entropy, keeping the best weights.

    Returns
    -------
    SolverResult
        With ``state`` (to continue with :func:`update`) and ``validation_history``.
    """
    problem = SmoothProblem(objective, penalty)
    state = _fit_state(
        objective, penalty, coef0, learning_rate=learning_rate, schedule=schedule,
        batch_size=batch_size, average=average, random_state=random_state,
    )  # fmt: skip
    coef = state.coef
    value, grad = problem.value_grad(coef)
    record = IterationRecord(coef, value, problem.stop_crit(coef, grad), callback)
    best_score = validation.value(coef) if validation is not None else value
    validation_history = [best_score] if validation is not None else []
    best_coef, stale, failures, has_diverged, plateau = coef, 0, 0, False, False
    while record.n_iter < max_iter:
        _, has_diverged = update(state, objective)
        if has_diverged:
            break
        coef = state.coef
        value = _epoch_value(objective, penalty, coef)
        if diverged(value, record.history[0]):
            has_diverged = True
            coef = best_coef
            state.reset_to(coef)
            break
        score = value if validation is None else validation.value(coef)
        if validation is not None:
            validation_history.append(score)
        record.add(coef, value, np.nan)  # gradient not measured
        # While the step adapts its failed epochs are not a plateau.
        adapting = state.adapting
        if adapting:
            failures = _adapt_step(
                state, objective, value < min(record.history[:-1]), best_coef, failures
            )
        # A new low beyond rounding, not tol: tol is the gradient test of every solver.
        stale = 0 if adapting else stale + 1 if not _new_low(score, best_score, objective) else 0
        if score < best_score:
            best_score, best_coef = score, coef
        if stale >= n_iter_no_change:
            plateau = True
            break
    if validation is not None and best_coef is not coef:
        coef = best_coef
        state.reset_to(coef)
    stop_crit = _end_at(problem, state, record, coef)
    return record.result(
        stop_crit <= tol or plateau, diverged=has_diverged,
        validation_history=validation_history, state=state,
    )  # fmt: skip


def _epoch_value(objective, penalty, coef: np.ndarray) -> float:
    """The full objective after an epoch: the value only. The gradient would cost as much
    again, and SGD's noise keeps it far above tol until the very end: it is measured
    once, by :func:`_end_at`."""
    with np.errstate(over="ignore", invalid="ignore"):
        return objective.value(coef) + penalty.value(coef)


def _end_at(problem: SmoothProblem, state: SGDState, record: IterationRecord, coef) -> float:
    """End the fit at ``coef``: measure its ``stop_crit``; a state still adapting its step
    hands ``partial_fit`` a decaying step and this average."""
    if state.adapting:
        state.end_adaptation(coef, -(-problem.objective.n_samples // state.batch_size))
    stop_crit = record.stop_crit
    if record.n_iter:
        stop_crit = problem.stop_crit(coef, problem.value_grad(coef)[1])
    record.end_at(coef, stop_crit)
    return stop_crit


def _new_low(score: float, best_score: float, objective) -> bool:
    """Whether ``score`` is below ``best_score`` by more than its rounding."""
    return score < best_score - 4 * objective.precision * abs(best_score)


def _fit_state(objective, penalty, coef0, **options) -> SGDState:
    """:func:`init_state` for ``fit``: the whole data is one epoch, and a short epoch
    adapts the automatic step (module docstring)."""
    # The state outlives the fit (partial_fit continues from it, model files store it): it
    # gets a bare layout, not the objective, which holds the training data.
    layout = CoefLayout(objective.n_classes, objective.n_features, objective.fit_intercept)
    options["random_state"] = options["random_state"] or np.random.RandomState()
    state = init_state(
        layout, penalty, objective.remove_invariant(np.asarray(coef0, dtype=np.float64)),
        sample=objective, n_total=objective.n_samples, **options,
    )  # fmt: skip
    state.n_total = state.weight_rows = objective.n_samples
    state.weight_total = objective.weight_sum
    steps_per_epoch = -(-objective.n_samples // state.batch_size)
    automatic = options["learning_rate"] is None and options["schedule"] == "invsqrt"
    if automatic and options["average"] is True and steps_per_epoch < ADAPT_MAX_STEPS:
        state.adapting, state.average_start = True, np.inf
    return state


def _adapt_step(
    state: SGDState, objective, improved: bool, best_coef: np.ndarray, failures: int
) -> int:
    """After an epoch of :func:`solve`'s step adaptation: grow the step if the objective
    improved, else shrink it and go back to the best point; returns the failures so far.
    After ``ADAPT_PATIENCE`` failures the state moves to curvature-whitened coordinates
    and adapts again (:meth:`SGDState.whiten`), or, when it cannot or has, decays and
    averages from there on."""
    if improved:
        state.step_scale *= ADAPT_GROWTH
        return failures
    state.step_scale *= ADAPT_SHRINK
    state.reset_to(best_coef)
    if failures + 1 == ADAPT_PATIENCE:
        if state.whiten(objective, best_coef):
            return 0
        state.end_adaptation(best_coef, 0)
    return failures + 1
