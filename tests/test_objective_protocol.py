"""The objective-solver contract (celr.solvers._protocol.Objective): every objective
implements all of it, and the row-reading members agree across implementations."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from celr._objective import LogisticObjective
from celr._parallel import RowBlockObjective
from celr.solvers._protocol import Objective

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
from celr._dask._objective import DaskObjective  # noqa: E402

MEMBERS = sorted(
    name for name in {*Objective.__annotations__, *vars(Objective)} if not name.startswith("_")
)


def _objectives(n=300, d=4, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * [1.0, 10.0, 0.1, 1.0]
    y = rng.integers(0, n_classes, n)
    weight = rng.uniform(0.5, 2.0, n)
    memory = LogisticObjective(X, y, weight, n_classes, True)
    blocks = RowBlockObjective(memory, n_blocks=3, n_threads=1)
    normalized = weight / weight.sum()
    on_dask = DaskObjective(
        da.from_array(X, chunks=(100, d)), da.from_array(y, chunks=100),
        da.from_array(normalized, chunks=100), n_classes, True,
        weight_sum=weight.sum(), class_share=memory.class_share(),
    )  # fmt: skip
    return memory, blocks, on_dask


def _on_device():
    """The objective on an Array-API array (array-api-strict stands for any device)."""
    xps = pytest.importorskip("array_api_strict")
    from celr._array_api import ArrayAPIObjective

    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 4))
    return ArrayAPIObjective(xps.asarray(X), rng.integers(0, 3, 50), np.ones(50), 3, True)


@pytest.mark.parametrize("kind", ["memory", "row blocks", "dask", "array api"])
def test_every_objective_implements_the_whole_protocol_itself(kind):
    if kind == "array api":
        objective = _on_device()
    else:
        kinds = ["memory", "row blocks", "dask"]
        objective = dict(zip(kinds, _objectives(), strict=True))[kind]
    assert isinstance(objective, Objective)
    assert "__getattr__" not in vars(type(objective))  # no forwarding
    for name in MEMBERS:
        assert hasattr(objective, name), name


def test_protocol_lists_what_solvers_use():
    assert {"value_grad", "hessp_at", "hessian", "minibatches", "expected_smoothness"} <= set(
        MEMBERS
    )
    assert not {"X", "y", "normalized_weight"} & set(MEMBERS)  # solvers never read rows


def test_minibatches_cover_every_row_once_with_relative_weights():
    memory, blocks, on_dask = _objectives()
    with dask.config.set(scheduler="sync"):
        for objective in (memory, blocks, on_dask):
            batches = list(objective.minibatches(32, np.random.RandomState(0)))
            assert sum(batch.n_samples for batch in batches) == memory.n_samples
            assert max(batch.n_samples for batch in batches) == 32
            # Each batch's value is the batch mean of (s_i / s_bar) CE_i: weighted by rows,
            # they add up to the whole objective (rounding: n eps per term).
            coef = np.linspace(-0.3, 0.3, memory.n_params)
            total = sum(batch.n_samples * batch.value(coef) for batch in batches)
            assert_allclose(total / memory.n_samples, memory.value(coef), rtol=1e-12)


def test_expected_smoothness_is_the_same_everywhere():
    memory, blocks, on_dask = _objectives()
    center, scale = memory.feature_center_scale()
    with dask.config.set(scheduler="sync"):
        values = [o.expected_smoothness(center, scale, 16, 300) for o in (memory, blocks, on_dask)]
    assert_allclose(values, values[0], rtol=1e-12)
    assert values[0] > 0
