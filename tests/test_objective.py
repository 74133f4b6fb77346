"""LogisticObjective against finite differences and an independent scipy reimplementation."""

import itertools
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp

from celr._objective import LogisticObjective
from tests.conftest import reference_objective

N_SAMPLES = 40
FEATURE_SCALES = np.array([0.1, 1.0, 10.0, 0.5, 3.0])
N_FEATURES = len(FEATURE_SCALES)
CONTAINERS = {"dense": np.asarray, "csr": sp.csr_array, "csr_matrix": sp.csr_matrix}


def make_data(n_classes, weights, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES)) * FEATURE_SCALES
    X[rng.random(X.shape) < 0.25] = 0.0  # some structural zeros for the sparse case
    y = np.arange(N_SAMPLES) % n_classes
    rng.shuffle(y)
    w = np.ones(N_SAMPLES)
    if weights == "random":
        w = rng.uniform(0.2, 3.0, N_SAMPLES)
        w[::7] = 0.0
    return X, y, w


def random_coef(n_scores, fit_intercept, rng):
    """Flat coefficients in the documented layout, built without the objective's help."""
    weights = rng.normal(scale=0.4, size=(n_scores, N_FEATURES)) / FEATURE_SCALES
    table = np.hstack([weights, rng.normal(size=(n_scores, 1))]) if fit_intercept else weights
    return table.ravel()


def reference_value(X, y, w, coef, n_classes, fit_intercept):
    """The data term at flat ``coef``, by conftest's reference objective (no penalty)."""
    n_scores = 1 if n_classes == 2 else n_classes
    table = coef.reshape(n_scores, N_FEATURES + fit_intercept)
    intercept = table[:, -1] if fit_intercept else np.zeros(n_scores)
    return reference_objective(X, y, table[:, :N_FEATURES], intercept, np.inf, w)


def assert_close(actual, desired, rtol):
    """Relative comparison with an absolute floor relative to the largest entry."""
    desired = np.asarray(desired)
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * np.abs(desired).max())


CASES = list(
    itertools.product([2, 3], [True, False], ["unit", "random"], ["dense", "csr"], ["f8", "f4"])
)


@pytest.fixture(params=CASES, ids=["-".join(map(str, c)) for c in CASES])
def case(request):
    n_classes, fit_intercept, weights, container, dtype = request.param
    X, y, w = make_data(n_classes, weights)
    X = X.astype(dtype)
    X64 = X.astype(np.float64)  # the same numbers, for float64 references
    obj = LogisticObjective(CONTAINERS[container](X), y, w, n_classes, fit_intercept)
    obj64 = LogisticObjective(X64, y, w, n_classes, fit_intercept)
    rng = np.random.default_rng(1)
    return SimpleNamespace(
        obj=obj,
        # Finite differences are taken on a float64 objective; float32 ones are compared
        # to its derivatives with a float32 tolerance.
        ref=obj if dtype == "f8" else obj64,
        rtol=1e-6 if dtype == "f8" else 1e-4,
        X64=X64,
        y=y,
        w=w,
        n_classes=n_classes,
        fit_intercept=fit_intercept,
        coef=random_coef(obj.n_scores, fit_intercept, rng),
        rng=rng,
    )


def fd_gradient(func, coef, h=1e-6):
    grad = np.empty_like(coef)
    for j in range(len(coef)):
        e = np.zeros_like(coef)
        e[j] = h
        grad[j] = (func(coef + e) - func(coef - e)) / (2 * h)
    return grad


def test_value_matches_reference(case):
    expected = reference_value(
        case.X64, case.y, case.w, case.coef, case.n_classes, case.fit_intercept
    )
    value, _ = case.obj.value_grad(case.coef)
    rtol = 1e-12 if case.ref is case.obj else 1e-5
    np.testing.assert_allclose(case.obj.value(case.coef), expected, rtol=rtol)
    np.testing.assert_allclose(value, expected, rtol=rtol)


def test_gradient_matches_finite_differences(case):
    _, grad = case.obj.value_grad(case.coef)
    numeric = fd_gradient(case.ref.value, case.coef)
    assert grad.shape == (case.obj.n_params,)
    assert_close(grad, numeric, case.rtol)


def test_hessp_matches_finite_differences_of_gradient(case):
    hessp = case.obj.hessp_at(case.coef)
    h = 1e-6
    for _ in range(3):
        v = case.rng.normal(size=case.obj.n_params)
        g_plus = case.ref.value_grad(case.coef + h * v)[1]
        g_minus = case.ref.value_grad(case.coef - h * v)[1]
        assert_close(hessp(v), (g_plus - g_minus) / (2 * h), case.rtol)


def test_hessian_matches_hessp_and_is_symmetric(case):
    obj = case.obj
    hess = obj.hessian(case.coef)
    hessp = obj.hessp_at(case.coef)
    columns = np.column_stack([hessp(e) for e in np.eye(obj.n_params)])
    assert hess.shape == (obj.n_params, obj.n_params)
    np.testing.assert_array_equal(hess, hess.T)
    assert_close(hess, columns, 1e-10 if case.ref is obj else 1e-4)
    assert np.all(np.linalg.eigvalsh(hess) > -1e-12 * np.abs(hess).max())


def test_hessian_with_column_scale(case):
    obj = case.obj
    scale = case.rng.uniform(0.05, 20.0, N_FEATURES)
    width = N_FEATURES + case.fit_intercept
    d = np.ones(width)
    d[:N_FEATURES] = 1.0 / scale
    D = np.diag(np.tile(d, obj.n_scores))
    hess = obj.hessian(case.coef)
    assert_close(obj.hessian(case.coef, column_scale=scale), D @ hess @ D, 1e-12)


def test_working_precision_hessian_within_its_rounding_bound(case):
    # float32 data: single-precision sums per row chunk (a Newton direction's Hessian);
    # each entry is within (chunk rows + width) eps32 of the sum of its terms' sizes,
    # the float64 Hessian of |x| weighted by the largest curvature weight (1/4).
    obj = case.obj
    fast = obj.hessian(case.coef, working_precision=True)
    exact = obj.hessian(case.coef)
    np.testing.assert_array_equal(fast, fast.T)
    if case.ref is obj or obj.n_scores > 1:  # float64 data, or not the binary float32 path
        np.testing.assert_array_equal(fast, exact)
        return
    width = N_FEATURES + case.fit_intercept
    Xa = np.column_stack([np.abs(case.X64), np.ones(N_SAMPLES)])[:, :width]
    sizes = Xa.T @ (Xa * (case.w / case.w.sum() / 4)[:, None])
    bound = (obj._chunk_rows(4 * width) + width) * np.finfo(np.float32).eps * sizes
    assert np.all(np.abs(fast - exact) <= bound)
    assert not np.array_equal(fast, exact)  # the single-precision path was taken


def test_hessian_diag(case):
    hess = case.obj.hessian(case.coef)
    assert_close(case.obj.hessian_diag(case.coef), np.diag(hess), 1e-12)


def test_score_outer_is_the_weighted_sum_of_per_row_gradient_outer_products(case):
    """The HC0 meat against row-by-row gradients of one-row objectives (the textbook's
    per-example gradient), with and without a column scale."""
    obj = case.obj
    rows = [
        LogisticObjective(case.X64[i : i + 1], case.y[i : i + 1], np.ones(1), case.n_classes,
                          case.fit_intercept).value_grad(case.coef)[1]
        for i in range(len(case.y))
    ]  # fmt: skip
    gradients = np.array(rows)
    expected = (gradients.T * case.w) @ gradients / case.w.sum()
    assert_close(obj.score_outer(case.coef), expected, 1e-10 if case.ref is obj else 1e-4)
    scale = case.rng.uniform(0.05, 20.0, N_FEATURES)
    d = np.tile(np.append(1.0 / scale, [1.0] * case.fit_intercept), obj.n_scores)
    assert_close(
        obj.score_outer(case.coef, column_scale=scale),
        d[:, None] * obj.score_outer(case.coef) * d,
        1e-10,
    )


def test_pack_unpack_layout(case):
    obj, coef = case.obj, case.coef
    width = N_FEATURES + case.fit_intercept
    weights, intercept = obj.unpack(coef)
    table = coef.reshape(obj.n_scores, width)
    np.testing.assert_array_equal(weights, table[:, :N_FEATURES])
    np.testing.assert_array_equal(intercept, table[:, -1] if case.fit_intercept else 0.0)
    np.testing.assert_array_equal(obj.pack(weights, intercept), coef)
    # Semantics of the layout: entry k * width + j multiplies feature j in score k, and
    # entry k * width + n_features is score k's intercept.
    for k, j in itertools.product(range(obj.n_scores), range(width)):
        unit = np.zeros(obj.n_params)
        unit[k * width + j] = 1.0
        z = obj.scores(unit).reshape(N_SAMPLES, obj.n_scores)
        column = case.X64[:, j] if j < N_FEATURES else np.ones(N_SAMPLES)
        np.testing.assert_array_equal(z[:, k], column)
        np.testing.assert_array_equal(np.delete(z, k, axis=1), 0.0)


def test_invariant_directions(case):
    obj, coef = case.obj, case.coef
    width = N_FEATURES + case.fit_intercept
    if obj.n_scores == 1:
        np.testing.assert_array_equal(obj.remove_invariant(coef), coef)
        assert obj.invariant_projector() is None
        return
    shift = np.tile(case.rng.normal(size=width), obj.n_scores)
    projected = obj.remove_invariant(coef)
    np.testing.assert_allclose(obj.value(coef + shift), obj.value(coef), rtol=1e-5)
    np.testing.assert_allclose(obj.value(projected), obj.value(coef), rtol=1e-5)
    np.testing.assert_allclose(obj.remove_invariant(coef + shift), projected, atol=1e-12)
    np.testing.assert_allclose(projected.reshape(obj.n_scores, width).sum(axis=0), 0, atol=1e-12)
    _, grad = obj.value_grad(coef)
    assert abs(grad @ shift) <= 1e-6 * np.linalg.norm(grad) * np.linalg.norm(shift)
    P = obj.invariant_projector()
    np.testing.assert_allclose(P @ P, P, atol=1e-15)
    np.testing.assert_array_equal(P, P.T)
    np.testing.assert_allclose(P @ shift, shift, atol=1e-12)
    np.testing.assert_allclose(projected, coef - P @ coef, atol=1e-12)
    hess = obj.hessian(coef)
    np.testing.assert_allclose(hess @ P, 0.0, atol=1e-12 * np.abs(hess).max())


def weighted_center_scale(X, w, fit_intercept):
    if fit_intercept:
        center = np.average(X, axis=0, weights=w)
        return center, np.sqrt(np.average((X - center) ** 2, axis=0, weights=w))
    return np.zeros(X.shape[1]), np.sqrt(np.average(X**2, axis=0, weights=w))


FCS = list(itertools.product([True, False], ["unit", "random"], ["dense", "csr", "csr_matrix"]))


@pytest.mark.parametrize(("fit_intercept", "weights", "container"), FCS)
def test_feature_center_scale(fit_intercept, weights, container):
    X, y, w = make_data(2, weights)
    obj = LogisticObjective(CONTAINERS[container](X), y, w, 2, fit_intercept)
    center, scale = obj.feature_center_scale()
    ref_center, ref_scale = weighted_center_scale(X, w, fit_intercept)
    np.testing.assert_allclose(center, ref_center, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(scale, ref_scale, rtol=1e-12)


@pytest.mark.parametrize(("fit_intercept", "weights", "container"), FCS)
def test_feature_center_scale_extreme_magnitudes(fit_intercept, weights, container):
    X, y, w = make_data(2, weights)
    X[:, 3] = 0.0  # an all-zero column: no spread, scale 1
    factors = np.array([1e200, 1e-200, 1.0, 1.0, 1e150])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        obj = LogisticObjective(CONTAINERS[container](X * factors), y, w, 2, fit_intercept)
        center, scale = obj.feature_center_scale()
    ref_center, ref_scale = weighted_center_scale(X, w, fit_intercept)
    ref_scale[3] = 1.0
    np.testing.assert_allclose(center, ref_center * factors, rtol=1e-12, atol=0)
    np.testing.assert_allclose(scale, ref_scale * np.where(ref_scale == 1.0, 1.0, factors))
    assert scale[3] == 1.0


@pytest.mark.parametrize(("container", "value"), [("dense", 1.0), ("dense", 3.7), ("csr", 3.7)])
def test_constant_column_gets_scale_one(container, value):
    X, y, w = make_data(2, "unit")
    X[:, 1] = value
    obj = LogisticObjective(CONTAINERS[container](X), y, w, 2, True)
    assert obj.feature_center_scale()[1][1] == 1.0


def test_sparse_scale_of_column_with_large_mean():
    X, y, w = make_data(2, "unit")
    X[:, 0] = 1e8 + X[:, 0]
    obj = LogisticObjective(sp.csr_array(X), y, w, 2, True)
    np.testing.assert_allclose(obj.feature_center_scale()[1][0], X[:, 0].std(), rtol=1e-6)


@pytest.mark.parametrize("container", ["dense", "csr", "csr_matrix"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_X_is_neither_modified_nor_copied(container, dtype):
    X_dense, y, w = make_data(3, "random")
    X = CONTAINERS[container](X_dense.astype(dtype))
    original = X.copy()
    obj = LogisticObjective(X, y, w, 3, True)
    coef = random_coef(3, True, np.random.default_rng(0))
    obj.value_grad(coef)
    obj.hessp_at(coef)(coef)
    obj.hessian(coef, column_scale=np.full(N_FEATURES, 3.0))
    obj.hessian_diag(coef)
    obj.feature_center_scale()
    assert obj.X is X
    if sp.issparse(X):
        for attr in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(getattr(X, attr), getattr(original, attr))
        assert X.dtype == dtype
    else:
        np.testing.assert_array_equal(X, original)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("container", ["dense", "csr"])
def test_weights_as_repetitions_and_deletions(n_classes, container):
    X, y, _ = make_data(n_classes, "unit")
    rng = np.random.default_rng(5)
    counts = rng.integers(0, 4, N_SAMPLES)  # 0 drops the row
    weighted = LogisticObjective(CONTAINERS[container](X), y, counts, n_classes, True)
    rows = np.repeat(np.arange(N_SAMPLES), counts)
    repeated = LogisticObjective(
        CONTAINERS[container](X[rows]), y[rows], np.ones(len(rows)), n_classes, True
    )
    coef = random_coef(weighted.n_scores, True, rng)
    value, grad = weighted.value_grad(coef)
    value_r, grad_r = repeated.value_grad(coef)
    np.testing.assert_allclose(value, value_r, rtol=1e-13)
    assert_close(grad, grad_r, 1e-12)
    assert_close(weighted.hessian(coef), repeated.hessian(coef), 1e-12)
    for a, b in zip(weighted.feature_center_scale(), repeated.feature_center_scale(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_add_invariant_curvature_adds_the_projector():
    X, y, w = make_data(3, "unit")
    obj = LogisticObjective(X, y, w, 3, True)
    hess = np.random.default_rng(0).normal(size=(obj.n_params, obj.n_params))
    expected = hess + 2.5 * obj.invariant_projector()
    obj.add_invariant_curvature(hess, 2.5)
    np.testing.assert_allclose(hess, expected)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_csr_column_statistics_in_many_blocks_and_lanes(fit_intercept):
    # 20,000 x 300 at density 0.1: 600,000 entries, several row blocks of CHUNK_BYTES and
    # several lanes. CSR takes the blocked compiled path, CSC the generic one; both
    # against numpy on the dense array, and the bits do not depend on the thread count.
    import threadpoolctl

    from celr._column_stats import weighted_center_scale as center_scale

    eps = np.finfo(float).eps

    rng = np.random.default_rng(5)
    X = sp.random(20_000, 300, density=0.1, random_state=5, format="csr")
    X.data = rng.lognormal(size=X.nnz)
    w = rng.uniform(0.1, 2.0, size=X.shape[0])
    w /= w.sum()
    ref_center, ref_scale = weighted_center_scale(X.toarray(), w, fit_intercept)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        one_thread = center_scale(X, w, fit_intercept)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        two_threads = center_scale(X, w, fit_intercept)
    by_columns = center_scale(X.tocsc(), w, fit_intercept)
    for mine in (one_thread, two_threads, by_columns):
        # Sums of 20,000 positive terms: relative rounding n * eps = 4e-12 at most.
        np.testing.assert_allclose(mine[0], ref_center, rtol=20_000 * eps, atol=0)
        np.testing.assert_allclose(mine[1], ref_scale, rtol=20_000 * eps, atol=0)
    np.testing.assert_array_equal(one_thread[1], two_threads[1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_moments_in_one_read_match_the_centred_reference(dtype, monkeypatch):
    """Dense C-ordered columns' mean and spread come from one compiled read (chunk moments
    merged pairwise): the two-pass centred computation's values, to rounding, on columns
    far from zero, constant, tiny or huge, with rows of zero weight (a whole block of them),
    and the same bits on one thread as on two."""
    import celr._column_stats as column_stats
    import celr._parallel
    import celr._threads
    from celr._fused import compiled_reads

    # eight row blocks of this small X (by default, X this small is one block)
    monkeypatch.setattr(celr._parallel, "MIN_ENTRIES_PER_BLOCK", 1_000)
    eps = np.finfo(float).eps  # float32 values are accumulated in float64
    rng = np.random.default_rng(11)
    n, d = 3_001, 6
    X = rng.normal(size=(n, d)) * [1e-3, 1.0, 1e3, 1.0, 1.0, 1.0] + [0, 1e6, -5, 0, 3, 0]
    X[:, 3] = 2.5
    X = X.astype(dtype)
    w = rng.uniform(0, 2, n)
    w[:500] = 0.0  # the first of the eight row blocks has no weight at all
    w /= w.sum()
    assert compiled_reads(X) and not compiled_reads(np.asfortranarray(X))
    center, scale = column_stats.weighted_center_scale(X, w, True)
    monkeypatch.setattr(celr._threads, "thread_budget", lambda: 1)
    assert np.array_equal(column_stats.weighted_center_scale(X, w, True)[1], scale)
    X64 = X.astype(np.float64)
    ref_center = w @ X64
    ref_square = w @ (X64 - ref_center) ** 2
    # Each mean is a sum of n terms: n eps (w @ |X|). A centre off by delta adds delta^2
    # to a centred square mean (the first-order term vanishes about a mean), the squares'
    # sum of n terms adds n eps of it, and each merge's d^2 W_a W_b / W, d the difference
    # of two blocks' means known to the same error, 2 |d| error: by Cauchy-Schwarz at most
    # 2 error spread over all merges.
    center_error = 4 * n * eps * (w @ np.abs(X64))
    np.testing.assert_array_less(np.abs(center - ref_center), center_error + 1e-300)
    square_error = (
        4 * n * eps * ref_square + 2 * center_error**2 + 4 * center_error * np.sqrt(ref_square)
    )
    varying = np.arange(d) != 3
    assert np.all(np.abs(scale**2 - ref_square)[varying] <= square_error[varying])
    assert scale[3] == 1.0  # constant


def test_dense_moments_fall_back_to_two_passes_where_merged_means_overflow():
    from celr._column_stats import weighted_center_scale as center_scale

    X = np.ones((800, 2))
    X[:400, 0], X[400:, 0] = 1.5e308, -1.5e308  # block means whose difference overflows
    w = np.full(800, 1 / 800)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        center, scale = center_scale(X, w, True)
    # the mean is 0 and the spread 1.5e308, to a sum of 800 terms' rounding
    assert abs(center[0]) <= 800 * np.finfo(float).eps * 1.5e308
    assert scale[0] == pytest.approx(1.5e308, rel=800 * np.finfo(float).eps)
    assert center[1] == pytest.approx(1.0, rel=800 * np.finfo(float).eps) and scale[1] == 1.0


@pytest.mark.parametrize("column", ["none", "offset", "constant"])
def test_csr_spreads_fall_back_to_centring_where_uncentred_squares_cancel(column, monkeypatch):
    """CSR spreads come from uncentred squares, ``sum w x^2 - c^2 (2 - W)``, unless that
    difference cancels (a fully stored column far from zero, a constant one): then the
    entries are centred first. Either way they match the dense, centred computation."""
    import celr._column_stats as column_stats

    eps = np.finfo(float).eps
    rng = np.random.default_rng(7)
    X = sp.random(5_000, 40, density=0.1, random_state=7, format="lil")
    if column == "offset":
        X[:, 3] = (1e6 + rng.normal(size=5_000))[:, None]
    if column == "constant":
        X[:, 3] = 7.0
    X = X.tocsr()
    w = rng.uniform(0.1, 2.0, size=X.shape[0])
    w /= w.sum()
    passes = []
    blocked = column_stats._csr_stored_square_weight
    monkeypatch.setattr(
        column_stats,
        "_csr_stored_square_weight",
        lambda *args: passes.append(args[2] is not None) or blocked(*args),
    )
    center, scale = column_stats.weighted_center_scale(X, w, True)
    # The compiled sums always; the centred pass only where the squares would cancel.
    assert passes == ([] if column == "none" else [True])
    dense = X.toarray()
    ref_center = w @ dense
    ref_scale = np.sqrt(w @ (dense - ref_center) ** 2)
    ref_scale[ref_scale <= 1e3 * eps * (np.abs(ref_center) + ref_scale)] = 1.0
    # Sums of 5,000 terms: n * eps relative, and 10 bits more where the squares cancel.
    np.testing.assert_allclose(center, ref_center, rtol=5_000 * eps)
    np.testing.assert_allclose(scale, ref_scale, rtol=2**10 * 5_000 * eps)
    if column == "constant":
        assert scale[3] == 1.0


@pytest.mark.parametrize("n_threads", [1, 2])
def test_value_at_the_last_evaluated_point_is_remembered_not_recomputed(n_threads, monkeypatch):
    from celr._parallel import make_objective

    rng = np.random.default_rng(11)
    X = rng.normal(size=(3_000, 400))  # 1.2M entries: row blocks
    y = rng.integers(0, 2, size=3_000)
    objective = make_objective(X, y, np.ones(3_000), 2, True, n_threads=n_threads)
    coef = rng.normal(scale=0.1, size=objective.n_params)
    fresh = objective.value(coef)
    value, _ = objective.value_grad(coef)
    # Two evaluations of the same sum: within n eps of the sum of the losses' magnitudes.
    assert abs(fresh - value) <= 3_000 * np.finfo(float).eps * value
    import celr._objective as objective_module

    reads = []
    kernel_value, scores = objective_module.kernel_value, LogisticObjective.scores
    monkeypatch.setattr(
        objective_module, "kernel_value", lambda *a: reads.append(1) or kernel_value(*a)
    )
    monkeypatch.setattr(LogisticObjective, "scores", lambda *a: reads.append(1) or scores(*a))
    assert objective.value(coef) == value
    assert objective.value(coef.copy()) == value  # equal, not the same array
    moved = coef.copy()
    moved[0] += 1e-3
    assert not reads
    assert objective.value(moved) != value and reads


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_cold_start_scores_skip_the_product_and_equal_it(sparse, n_classes, fit_intercept):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(40, 5)) * (rng.random((40, 5)) < 0.5)
    X = sp.csr_matrix(X) if sparse else X
    y = rng.integers(0, n_classes, 40)
    objective = LogisticObjective(X, y, np.ones(40), n_classes, fit_intercept)
    coef = np.zeros(objective.n_params)
    if fit_intercept:
        coef[-objective.n_scores :] = rng.normal(size=objective.n_scores)
    weights, intercept = objective.unpack(coef)
    expected = np.asarray(X @ weights.T) + intercept
    scores = objective.scores(coef)
    # The product of X with zeros is exactly zero: the scores are the intercepts, exactly.
    np.testing.assert_array_equal(scores, expected[:, 0] if n_classes == 2 else expected)
    coef_moved = coef.copy()
    coef_moved[0] = 1e-300  # one weight non-zero: the product is computed
    assert objective.scores(coef_moved).shape == scores.shape
