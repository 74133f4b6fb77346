"""The compiled SGD pass over CSR rows of a two-class fit (:mod:`celr._sgd_kernel`).

:func:`celr.solvers.sgd.update` hands a pass here when the compiled loop computes what
its numpy loop would: two classes on CSR rows, a gradient step (``'invsqrt'`` or
``'constant'``, not Adam), diagonal standardised coordinates (not the curvature-whitened
ones) and an L2 penalty on every weight. The shuffled order is drawn from the state's
generator exactly as :meth:`~celr.solvers._protocol.Objective.minibatches` draws it, so
the two loops visit the same batches; they agree to rounding (``tests/test_sgd_kernel.py``).
"""

from __future__ import annotations

import numpy as np

from celr._sgd_kernel import sparse_binary_pass
from celr.solvers._coordinates import StandardizedCoordinates
from celr.solvers._sgd_state import SGDState

GRADIENT_SCHEDULES = ("invsqrt", "constant")


def compiled_rows(state: SGDState, data) -> tuple | None:
    """``data``'s CSR rows, 0/1 labels and relative weights when the compiled pass applies
    to ``state``, else None."""
    if state.schedule not in GRADIENT_SCHEDULES:
        return None
    if type(state.coords) is not StandardizedCoordinates:
        return None
    penalty, layout = state.penalty, state.layout
    if penalty.l1_strength != 0.0 or not penalty.penalized[: layout.n_features].all():
        return None
    return data.csr_binary_rows()


def compiled_pass(state: SGDState, rows: tuple) -> tuple[float, float, int]:
    """One shuffled pass of :func:`celr.solvers.sgd.update` by the compiled loop.

    Returns the sum over batches of rows times the batch objective before its step, the
    last batch's cross-entropy after its step, and the rows of the pass; ``state`` is advanced
    (its iterate, average and counters) as the numpy loop would advance it.
    """
    X, y, relative = rows
    order = state.rng.permutation(X.shape[0])
    layout, coords = state.layout, state.coords
    v, c = layout.unpack(state.u)
    v_average, c_average = layout.unpack(state.u_average)
    w = v[0] / coords.scale
    w_average = v_average[0] / coords.scale
    intercept = np.array([c[0], c_average[0]])
    total, last_value, first_value, n_seen, n_averaged, n_steps = sparse_binary_pass(
        X.data, X.indices, X.indptr, y, relative, order, state.batch_size,
        w, w_average, intercept, layout.fit_intercept,
        1.0 / coords.scale**2, coords.center, state.penalty.l2_strength,
        state.eta0 * state.step_scale, state.schedule == "invsqrt" and not state.adapting,
        float(state.n_seen), float(state.decay_start), float(state.horizon),
        float(state.average_start), state.n_averaged, np.zeros(layout.n_features),
    )  # fmt: skip
    if state.reference_loss is None:
        state.reference_loss = first_value
    state.u = layout.pack(w * coords.scale, intercept[:1])
    state.u_average = layout.pack(w_average * coords.scale, intercept[1:])
    state.n_seen, state.n_averaged = int(n_seen), int(n_averaged)
    state.n_steps += int(n_steps)
    return total, last_value, X.shape[0]
