"""L1 and elastic-net fits against independent references and optimality conditions.

The objective, written independently of celr in conftest (scipy.special only), is::

    f(W, b) = (1/S) sum_i s_i CE_i + 1/(C S) ((1 - r)/2 ||W||^2 + r ||W||_1)

scikit-learn's LogisticRegression objective divided by ``C S``.
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from scipy.optimize import minimize, minimize_scalar
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.fixes import parse_version

from celr import CrossEntropyLogisticRegression
from celr._objective import CoefLayout, LogisticObjective
from celr._penalty import ElasticNetPenalty, l1_subdiff_distance
from celr.solvers import _split_l1 as split_l1
from celr.solvers import gd
from celr.solvers._split_l1 import SplitL1, minimize_with_l1
from tests.conftest import dataset, reference_gradient, reference_objective, reference_row_weights

# -- independent objective, gradient and data ---------------------------------------------


def enet_objective(X, y, coef, intercept, C, l1_ratio, sample_weight=None, class_weight=None):
    """The elastic-net objective above, independent of celr (conftest's reference)."""
    return reference_objective(
        X, y, coef, intercept, C, sample_weight, class_weight, l1_ratio=l1_ratio
    )


def small_problem(n_classes, n_samples=120, n_features=8, seed=0):
    X, y = make_classification(
        n_samples,
        n_features,
        n_informative=4,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        random_state=seed,
    )
    return X, y


def fit_celr(X, y, sample_weight=None, **params):
    """A celr fit that must raise no warning at all."""
    model = CrossEntropyLogisticRegression(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, y, sample_weight=sample_weight)
    return model


def objective_of(model, X, y, sample_weight=None, class_weight=None):
    return enet_objective(
        X, y, model.coef_, model.intercept_, model.C, model.l1_ratio, sample_weight, class_weight
    )


def assert_supports_agree(coef, ref_coef, small=1e-6):
    coef, ref_coef = np.asarray(coef), np.asarray(ref_coef)
    differ = (coef == 0) != (ref_coef == 0)
    tiny = np.maximum(np.abs(coef), np.abs(ref_coef)) < small
    assert not np.any(differ & ~tiny), (coef[differ], ref_coef[differ])


@pytest.mark.parametrize("n_classes", [2, 3])
def test_independent_gradient_matches_finite_differences(n_classes):
    # The tests below check celr against this gradient: make sure it is right.
    X, y = small_problem(n_classes, n_samples=40, n_features=4, seed=3)
    rng = np.random.default_rng(0)
    n_scores = 1 if n_classes == 2 else n_classes
    W = rng.normal(size=(n_scores, 4))
    b = rng.normal(size=n_scores)
    sw = rng.uniform(0.5, 2.0, size=len(y))
    grad_W, grad_b = reference_gradient(X, y, W, b, 0.7, 0.4, sw)

    def smooth(W, b):  # the L1 part removed by hand
        l1_part = 0.4 * np.abs(W).sum() / (0.7 * sw.sum())
        return enet_objective(X, y, W, b, 0.7, 0.4, sw) - l1_part

    h = 1e-6
    for idx in np.ndindex(W.shape):
        e = np.zeros_like(W)
        e[idx] = h
        fd = (smooth(W + e, b) - smooth(W - e, b)) / (2 * h)
        assert fd == pytest.approx(grad_W[idx], abs=1e-8)
    for k in range(n_scores):
        e = np.zeros_like(b)
        e[k] = h
        fd = (smooth(W, b + e) - smooth(W, b - e)) / (2 * h)
        assert fd == pytest.approx(grad_b[k], abs=1e-8)


# -- 1. reference optima -------------------------------------------------------------------

SAGA_CASES = [
    # (data set, C, l1_ratio): saga converges within a second on each of these.
    ("breast_cancer_scaled", 0.1, 1.0),
    ("breast_cancer_scaled", 0.1, 0.5),
    # (breast_cancer_scaled at C=1: saga needs 10 s; skglm and liblinear cover it.)
    ("iris", 0.1, 1.0),
    ("iris_scaled", 1.0, 1.0),
    ("iris_scaled", 1.0, 0.5),
    ("wine_scaled", 0.1, 1.0),
    ("wine_scaled", 1.0, 1.0),
    ("wine_scaled", 1.0, 0.5),
]


def sklearn_elastic_net(*, solver, l1_ratio, **params):
    """LogisticRegression with an L1 / elastic-net penalty, in either scikit-learn API.

    scikit-learn 1.8 deprecated ``penalty`` (``l1_ratio`` alone says it); before 1.8,
    ``l1_ratio`` is ignored unless ``penalty`` asks for it (this suite also runs on 1.6).
    """
    if parse_version(sklearn.__version__) < parse_version("1.8"):
        params["penalty"] = "l1" if solver == "liblinear" else "elasticnet"
    return LogisticRegression(solver=solver, l1_ratio=l1_ratio, **params)


@cache
def saga_reference(name, C, l1_ratio):
    X, y = dataset(name)
    ref = sklearn_elastic_net(
        solver="saga", C=C, l1_ratio=l1_ratio, tol=1e-12, max_iter=50_000, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X, y)
    assert ref.n_iter_.max() < 50_000, "the reference itself did not converge"
    return ref.coef_, ref.intercept_, enet_objective(X, y, ref.coef_, ref.intercept_, C, l1_ratio)


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "gd", "auto"])
@pytest.mark.parametrize(("name", "C", "l1_ratio"), SAGA_CASES, ids=lambda v: str(v))
def test_reaches_saga_optimum(name, C, l1_ratio, solver):
    X, y = dataset(name)
    ref_coef, _, f_ref = saga_reference(name, C, l1_ratio)
    model = fit_celr(X, y, C=C, l1_ratio=l1_ratio, solver=solver)
    f = objective_of(model, X, y)
    assert abs(f - f_ref) / f_ref < 1e-8
    assert f <= f_ref * (1 + 1e-8)
    assert model.solver_ == ("newton" if solver == "auto" else solver)
    assert model.stop_crit_ <= 1e-8
    # saga leaves the multinomial weights in the representation its L1 prox picks, which
    # is the L1 optimum's too (no centring): compare the coefficients directly.
    assert_supports_agree(model.coef_, ref_coef)
    assert np.any(model.coef_ == 0.0)


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "auto"])
@pytest.mark.parametrize("C", [0.1, 1.0])
def test_reaches_liblinear_optimum_binary_l1(C, solver):
    # liblinear penalises the intercept as |b| / intercept_scaling: with a scaling of 1e4
    # its optimum is within ~1e-10 (relative) of the true one, and never below it.
    X, y = dataset("breast_cancer_scaled")
    ref = sklearn_elastic_net(
        solver="liblinear",
        l1_ratio=1.0,
        C=C,
        tol=1e-12,
        max_iter=10_000,
        intercept_scaling=1e4,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(X, y)
    f_ref = enet_objective(X, y, ref.coef_, ref.intercept_, C, 1.0)
    model = fit_celr(X, y, C=C, l1_ratio=1.0, solver=solver)
    f = objective_of(model, X, y)
    assert f <= f_ref * (1 + 1e-12)
    assert (f_ref - f) / f_ref < 1e-8
    assert_supports_agree(model.coef_, ref.coef_)


def test_reaches_skglm_optimum_binary():
    # One test for all cases: skglm's numba compilation costs seconds per process.
    skglm = pytest.importorskip("skglm")
    X, y = dataset("breast_cancer_scaled")
    n = len(y)
    for C in (0.1, 1.0):
        for l1_ratio in (1.0, 0.5):
            # skglm: mean log-loss + alpha (r ||w||_1 + (1 - r)/2 ||w||^2), so alpha = 1/(C n)
            ref = skglm.SparseLogisticRegression(
                alpha=1 / (C * n), l1_ratio=l1_ratio, tol=1e-12, max_iter=100
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref.fit(X, y)
            f_ref = enet_objective(X, y, ref.coef_, ref.intercept_, C, l1_ratio)
            for solver in ("newton", "lbfgs", "auto"):
                model = fit_celr(X, y, C=C, l1_ratio=l1_ratio, solver=solver)
                f = objective_of(model, X, y)
                assert abs(f - f_ref) / f_ref < 1e-8, (C, l1_ratio, solver)
                assert f <= f_ref * (1 + 1e-8)
                assert_supports_agree(model.coef_, ref.coef_)
                np.testing.assert_allclose(model.intercept_, ref.intercept_, atol=1e-4)


@pytest.mark.parametrize(("C", "l1_ratio"), [(0.1, 1.0), (1.0, 0.5)])
def test_reaches_glum_optimum_binary(C, l1_ratio):
    # glum (a development and benchmark dependency, skipped where absent): mean binomial
    # deviance / 2 (the mean log-loss) + alpha (r ||w||_1 + (1 - r)/2 ||w||^2).
    glum = pytest.importorskip("glum")
    X, y = dataset("breast_cancer_scaled")
    ref = glum.GeneralizedLinearRegressor(
        family="binomial", alpha=1 / (C * len(y)), l1_ratio=l1_ratio, gradient_tol=1e-12,
        max_iter=1000,
    ).fit(X, y)  # fmt: skip
    f_ref = enet_objective(X, y, ref.coef_[None, :], [ref.intercept_], C, l1_ratio)
    for solver in ("newton", "lbfgs", "gd"):
        model = fit_celr(X, y, C=C, l1_ratio=l1_ratio, solver=solver)
        f = objective_of(model, X, y)
        assert f <= f_ref * (1 + 1e-10), solver
        assert (f_ref - f) / f_ref < 1e-8, solver
        assert_supports_agree(model.coef_, ref.coef_[None, :])


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("C", [0.1, 1.0, 100.0])
def test_raw_features_newton_and_lbfgs_agree(C, l1_ratio):
    X, y = dataset("breast_cancer")
    fits = {
        solver: fit_celr(X, y, C=C, l1_ratio=l1_ratio, solver=solver, tol=1e-10)
        for solver in ("newton", "lbfgs")
    }
    f_newton, f_lbfgs = (objective_of(fits[s], X, y) for s in ("newton", "lbfgs"))
    assert abs(f_newton - f_lbfgs) / f_newton < 1e-9
    assert_supports_agree(fits["newton"].coef_, fits["lbfgs"].coef_)
    # Same predictions: the two solutions are the same model.
    np.testing.assert_allclose(
        fits["newton"].predict_proba(X), fits["lbfgs"].predict_proba(X), atol=1e-5
    )


@cache
def wide_problem():
    # Binary with 2,100 features: n_params > 2,000, so 'auto' picks L-BFGS-B.
    X, y = make_classification(
        150, 2100, n_informative=10, n_redundant=0, flip_y=0.05, random_state=0
    )
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_auto_picks_lbfgs_on_wide_data_and_reaches_newton_optimum(l1_ratio):
    X, y = wide_problem()
    auto = fit_celr(X, y, C=0.5, l1_ratio=l1_ratio)
    assert auto.solver_ == "lbfgs"
    newton = fit_celr(X, y, C=0.5, l1_ratio=l1_ratio, solver="newton")
    f_auto, f_newton = objective_of(auto, X, y), objective_of(newton, X, y)
    assert abs(f_auto - f_newton) / f_newton < 1e-8
    assert_supports_agree(auto.coef_, newton.coef_)
    assert 0 < np.count_nonzero(auto.coef_) < X.shape[1] // 4


# -- 2. exact zeros ------------------------------------------------------------------------


def _largest_C_with_all_zero(X, y, l1_ratio):
    """Below this C the all-zero weights (with log-odds intercepts) are optimal."""
    classes, codes, _ = reference_row_weights(y)
    share = np.bincount(codes) / len(y)
    if len(classes) == 2:
        W0, b0 = np.zeros((1, X.shape[1])), np.array([np.log(share[1] / share[0])])
    else:
        W0, b0 = np.zeros((len(classes), X.shape[1])), np.log(share)
    grad_W, grad_b = reference_gradient(X, y, W0, b0, 1.0, l1_ratio)
    np.testing.assert_allclose(grad_b, 0.0, atol=1e-14)
    # All-zero is optimal iff max |grad_W| <= l1_ratio / (C n).
    return l1_ratio / (len(y) * np.abs(grad_W).max()), share


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("name", ["breast_cancer_scaled", "breast_cancer", "wine_scaled"])
def test_strong_penalty_gives_exact_zeros(name, l1_ratio, solver):
    X, y = dataset(name)
    C_max, share = _largest_C_with_all_zero(X, y, l1_ratio)
    # Just below the threshold: every weight exactly 0, the intercepts the log-odds.
    model = fit_celr(X, y, C=0.9 * C_max, l1_ratio=l1_ratio, solver=solver)
    assert np.all(model.coef_ == 0.0)
    if len(share) == 2:
        np.testing.assert_allclose(model.intercept_, [np.log(share[1] / share[0])], atol=1e-8)
    else:
        log_share = np.log(share)
        np.testing.assert_allclose(model.intercept_, log_share - log_share.mean(), atol=1e-8)
        np.testing.assert_allclose(model.predict_proba(X[:3]), [share] * 3, atol=1e-8)
    # Just above it some weights leave 0, most stay exactly 0.
    model = fit_celr(X, y, C=1.5 * C_max, l1_ratio=l1_ratio, solver=solver)
    assert 0 < np.count_nonzero(model.coef_) < model.coef_.size / 2
    # A moderately strong penalty: a sparse model with exact zeros, not merely tiny weights.
    model = fit_celr(X, y, C=10 * C_max, l1_ratio=l1_ratio, solver=solver)
    assert np.any(model.coef_ == 0.0) and np.any(model.coef_ != 0.0)
    assert np.all((model.coef_ == 0.0) | (np.abs(model.coef_) > 1e-10))


# -- 3. optimality conditions --------------------------------------------------------------


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize(
    ("name", "C", "l1_ratio"),
    [
        ("breast_cancer_scaled", 0.5, 1.0),
        ("breast_cancer_scaled", 0.05, 0.3),
        ("breast_cancer", 1.0, 1.0),
        ("breast_cancer", 3.0, 0.7),
        ("iris", 0.5, 1.0),
        ("wine_scaled", 0.2, 0.5),
        ("wine", 1.0, 1.0),
    ],
)
def test_subgradient_optimality_conditions(name, C, l1_ratio, solver):
    X, y = dataset(name)
    tol = 1e-9
    model = fit_celr(X, y, C=C, l1_ratio=l1_ratio, solver=solver, tol=tol)
    W = model.coef_
    grad_W, grad_b = reference_gradient(X, y, W, model.intercept_, C, l1_ratio)
    lam = l1_ratio / (C * len(y))
    # celr's tolerance is in standardised units: the gradient with respect to the weight
    # of the standardised feature, v_j = w_j sd_j, is g_j / sd_j (sd_j raised by the L2
    # curvature, negligible here). So |g_j| may be up to tol * sd_j on raw features.
    sd = np.sqrt(X.std(axis=0) ** 2 + 4 * (1 - l1_ratio) / (C * len(y)))
    slack = np.broadcast_to(1.5 * tol * sd, W.shape)
    nonzero = W != 0
    assert np.all(np.abs(grad_W + lam * np.sign(W))[nonzero] <= slack[nonzero])
    assert np.all((np.abs(grad_W) - lam)[~nonzero] <= slack[~nonzero])
    np.testing.assert_allclose(grad_b, 0.0, atol=1.5 * tol)
    assert np.any(~nonzero)
    # Not vacuous: the slack is far below the L1 threshold, and zeros are not all at it.
    assert slack.max() < 1e-2 * lam


# -- 4. prox and subdifferential distance --------------------------------------------------


@pytest.mark.parametrize("step", [0.3, 1.0, 4.0])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.0])
def test_prox_on_layout_is_argmin(l1_ratio, step):
    layout = CoefLayout(3, 4, True)  # (3, 5): intercepts in the last column
    pen = ElasticNetPenalty.for_layout(layout, C=0.5, l1_ratio=l1_ratio, weight_sum=2.0)
    t = step * l1_ratio / (0.5 * 2.0)
    rng = np.random.default_rng(11)
    v = rng.normal(scale=1.5, size=layout.n_params)
    v[:3] = [0.0, t, -t]  # on the thresholds: exactly zero
    x = pen.prox(v, step)
    is_intercept = np.zeros((3, 5), bool)
    is_intercept[:, -1] = True
    is_intercept = is_intercept.ravel()
    np.testing.assert_array_equal(x[is_intercept], v[is_intercept])
    # (v - x) / step in the subdifferential of l1 * |x| entrywise, l1 = t / step.
    u = (v - x)[~is_intercept] / step
    xw = x[~is_intercept]
    l1 = t / step
    np.testing.assert_allclose(u[xw != 0], l1 * np.sign(xw[xw != 0]), rtol=1e-12, atol=1e-14)
    assert np.all(np.abs(u[xw == 0]) <= l1 * (1 + 1e-12))
    if l1_ratio > 0:
        assert np.all(x[:3] == 0.0)
    for j in np.flatnonzero(~is_intercept)[:10]:

        def h(z, j=j):
            return 0.5 * (z - v[j]) ** 2 + t * abs(z)

        brute = minimize_scalar(
            h, bounds=(-abs(v[j]) - 1, abs(v[j]) + 1), method="bounded", options={"xatol": 1e-12}
        ).x
        # The scalar search is only as precise as h's rounding allows (~1e-8 in z).
        assert h(x[j]) <= h(brute) + 1e-15
        assert x[j] == pytest.approx(brute, abs=1e-6)


def test_l1_subdiff_distance_hand_values():
    x = np.array([0.0, 0.0, 0.0, 2.0, -1.0, 3.0, 0.0, 5.0])
    grad = np.array([0.5, -3.0, 2.0, -2.0, 0.25, 1.0, 0.7, -0.2])
    weights = np.array([1.0, 1.0, 2.0, 2.0, 0.5, 0.0, 0.0, 0.2])
    # at 0: max(|g| - w, 0); off 0: |g + w sign(x)|; weight 0: |g|
    expected = [0.0, 2.0, 0.0, 0.0, 0.25, 1.0, 0.7, 0.0]
    np.testing.assert_allclose(l1_subdiff_distance(x, grad, weights), expected, rtol=1e-15)


def test_l1_subdiff_distance_zero_at_soft_thresholding_solution():
    # min 0.5 sum_j d_j (x_j - a_j)^2 + sum_j w_j |x_j|: x_j = S(a_j, w_j / d_j).
    rng = np.random.default_rng(5)
    d = rng.uniform(0.5, 3.0, 25)
    a = rng.normal(scale=2.0, size=25)
    w = rng.uniform(0.0, 2.0, 25)
    w[:4] = 0.0
    x = np.sign(a) * np.maximum(np.abs(a) - w / d, 0.0)
    assert np.any(x == 0) and np.any(x != 0)
    grad = d * (x - a)
    np.testing.assert_allclose(l1_subdiff_distance(x, grad, w), 0.0, atol=1e-14)
    assert l1_subdiff_distance(x + 0.01, d * (x + 0.01 - a), w).max() > 0.005


# -- 5. minimize_with_l1 -------------------------------------------------------------------


def _random_quadratic(n=20, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n))
    H = A @ A.T / n + 0.5 * np.eye(n)
    g = rng.normal(size=n) * 2
    l1 = rng.uniform(0.2, 1.5, n)
    l1[::5] = 0.0  # free entries
    return H, g, l1


def _ista(H, g, l1, n_iter=20_000):
    step = 1 / np.linalg.eigvalsh(H).max()
    x = np.zeros(len(g))
    for _ in range(n_iter):
        v = x - step * (H @ x + g)
        x = np.sign(v) * np.maximum(np.abs(v) - step * l1, 0.0)
    return x


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_minimize_with_l1_on_quadratic(seed):
    H, g, l1 = _random_quadratic(seed=seed)

    def fun_grad(x):
        return float(0.5 * x @ H @ x + g @ x), H @ x + g

    def full(x):
        return fun_grad(x)[0] + l1 @ np.abs(x)

    x, n_iter = minimize_with_l1(fun_grad, np.zeros(len(g)), l1, max_iter=500, history_size=20)
    assert 0 < n_iter < 500
    # ISTA, many iterations: its fixed point is exact to ~1e-15 in the optimality measure.
    x_ista = _ista(H, g, l1)
    assert l1_subdiff_distance(x_ista, H @ x_ista + g, l1).max() <= 1e-13
    # minimize_with_l1 has no tolerance: L-BFGS-B stops when f (|f| ~ 30 here) stops
    # decreasing measurably, so its objective is within rounding of the optimum and its
    # optimality measure near sqrt(eps |f|), 1e-8 to 5e-8 on these problems.
    assert full(x) <= full(x_ista) + 1e-13 * abs(full(x_ista))
    assert l1_subdiff_distance(x, H @ x + g, l1).max() <= 1e-7
    assert np.any(x[l1 > 0] == 0.0) and np.any(x[l1 > 0] != 0.0)
    np.testing.assert_allclose(x, x_ista, atol=1e-7)
    np.testing.assert_array_equal(x == 0, x_ista == 0)

    # Brute-force alternative: L-BFGS-B on a split written here (p - n for every entry).
    def split_fun(z):
        p, n = z[: len(g)], z[len(g) :]
        value, grad = fun_grad(p - n)
        return value + l1 @ (p + n), np.concatenate([grad + l1, -grad + l1])

    bounds = [(0, None)] * (2 * len(g))
    z = minimize(
        split_fun,
        np.zeros(2 * len(g)),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 0, "gtol": 1e-12, "maxiter": 5000},
    ).x
    np.testing.assert_allclose(x, z[: len(g)] - z[len(g) :], atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_working_sets_reach_the_same_solution_and_grow_from_violators(seed, monkeypatch):
    # 600 entries, most of them zero at the optimum: the rounds see only the entries the
    # full gradient points to, and must still end at the full problem's solution.
    n = 600
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n)) / np.sqrt(n)
    H = A @ A.T + 0.5 * np.eye(n)
    g = rng.normal(size=n)
    l1 = np.full(n, 2.0)
    l1[:3] = 0.0

    def fun_grad(x):
        return float(0.5 * x @ H @ x + g @ x), H @ x + g

    rounds = []
    original = split_l1._next_working_set

    def spy(*args):
        working = original(*args)
        rounds.append(int(working.sum()))
        return working

    monkeypatch.setattr(split_l1, "_next_working_set", spy)
    seen = []
    x, n_iter = split_l1.minimize_with_l1_working_sets(
        fun_grad, np.zeros(n), l1, tol=1e-7, max_iter=2000,
        history_size=lambda size: 20, on_iteration=lambda x: seen.append(x.copy()) and False,
    )  # fmt: skip
    # 1e-7: as for minimize_with_l1, L-BFGS-B stalls near sqrt(eps |f|) (here 5e-9).
    assert l1_subdiff_distance(x, H @ x + g, l1).max() <= 1e-7
    assert n_iter == len(seen) > 0
    # The first set: the free entries and those whose gradient at 0 is within the screening
    # margin of their L1 weight (the violators among them), well under half the entries.
    first = np.count_nonzero(np.abs(g) >= split_l1.SCREEN_MARGIN * l1)
    assert rounds[0] == first < split_l1.MAX_SHARE * n
    assert np.all(np.diff(rounds) >= 0)  # sets only grow
    x_ista = _ista(H, g, l1, n_iter=5000)
    np.testing.assert_allclose(x, x_ista, atol=1e-6)
    np.testing.assert_array_equal(x == 0, x_ista == 0)


def test_working_sets_stop_when_the_caller_says_so():
    H, g, l1 = _random_quadratic(seed=3)
    calls = []

    def stop_at_third(x):
        calls.append(x)
        return len(calls) == 3

    _, n_iter = split_l1.minimize_with_l1_working_sets(
        lambda x: (float(0.5 * x @ H @ x + g @ x), H @ x + g), np.zeros(len(g)), l1,
        tol=1e-14, max_iter=500, history_size=lambda size: 10, on_iteration=stop_at_third,
    )  # fmt: skip
    assert n_iter == 3 and len(calls) == 3


def test_minimize_with_l1_stops_on_request_and_split_round_trips():
    H, g, l1 = _random_quadratic(seed=3)
    seen = []

    def stop_after_three(x):
        seen.append(x.copy())
        return len(seen) == 3

    x, n_iter = minimize_with_l1(
        lambda x: (float(0.5 * x @ H @ x + g @ x), H @ x + g),
        np.ones(len(g)),
        l1,
        max_iter=100,
        history_size=5,
        on_iteration=stop_after_three,
    )
    assert n_iter == 3
    np.testing.assert_array_equal(x, seen[-1])
    split = SplitL1(l1)
    v = np.random.default_rng(0).normal(size=len(g))
    np.testing.assert_array_equal(split.join(split.split(v)), v)
    x0, n0 = minimize_with_l1(lambda x: (0.0, 0 * x), v, l1, max_iter=0, history_size=5)
    assert n0 == 0
    np.testing.assert_array_equal(x0, v)


# -- 6. weights ----------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_integer_sample_weight_equals_repeated_rows(n_classes, l1_ratio, solver):
    X, y = small_problem(n_classes, seed=1)
    sw = np.random.default_rng(2).integers(0, 4, size=len(y))
    params = dict(C=0.1, l1_ratio=l1_ratio, solver=solver, tol=1e-10)
    weighted = fit_celr(X, y, sample_weight=sw.astype(float), **params)
    repeated = fit_celr(np.repeat(X, sw, axis=0), np.repeat(y, sw), **params)
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, atol=1e-6)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, atol=1e-6)
    np.testing.assert_array_equal(weighted.coef_ == 0, repeated.coef_ == 0)
    assert np.any(weighted.coef_ == 0)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_class_weight_equals_sample_weight(n_classes, solver):
    X, y = small_problem(n_classes, seed=4)
    class_weight = {c: 0.5 + 1.5 * c for c in range(n_classes)}
    params = dict(C=0.3, l1_ratio=0.8, solver=solver, tol=1e-10)
    by_class = fit_celr(X, y, class_weight=class_weight, **params)
    by_sample = fit_celr(X, y, sample_weight=np.array([class_weight[c] for c in y]), **params)
    np.testing.assert_allclose(by_class.coef_, by_sample.coef_, atol=1e-9)
    np.testing.assert_allclose(by_class.intercept_, by_sample.intercept_, atol=1e-9)
    f = objective_of(by_class, X, y, class_weight=class_weight)
    # The weighting matters: the unweighted fit is a different (worse) point here.
    plain = fit_celr(X, y, **params)
    assert f < objective_of(plain, X, y, class_weight=class_weight) - 1e-6


# -- 7. sparse and float32 input -----------------------------------------------------------


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize(("name", "C"), [("breast_cancer_scaled", 0.5), ("wine", 1.0)])
def test_sparse_input_same_model(name, C, solver):
    X, y = dataset(name)
    X = X.copy()
    X[np.abs(X) < np.quantile(np.abs(X), 0.3)] = 0.0  # make the sparsity real
    params = dict(C=C, l1_ratio=1.0, solver=solver, tol=1e-10)
    dense = fit_celr(X, y, **params)
    sparse = fit_celr(sp.csr_array(X), y, **params)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-6)
    np.testing.assert_allclose(sparse.intercept_, dense.intercept_, atol=1e-6)
    assert_supports_agree(sparse.coef_, dense.coef_)


def _float32_and_float64_fits(name, l1_ratio, solver):
    X, y = dataset(name)
    params = dict(C=0.5, l1_ratio=l1_ratio, solver=solver)
    fit64 = fit_celr(X, y, **params)
    fit32 = fit_celr(X.astype(np.float32), y, **params)
    assert fit32.coef_.dtype == np.float32 and fit32.intercept_.dtype == np.float32
    rel = np.linalg.norm(fit32.coef_ - fit64.coef_) / np.linalg.norm(fit64.coef_)
    gap = (objective_of(fit32, X, y) - objective_of(fit64, X, y)) / objective_of(fit64, X, y)
    return fit32, fit64, rel, gap


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("name", ["breast_cancer_scaled", "wine_scaled"])
def test_float32_input_gives_float32_close_to_float64(name, l1_ratio, solver):
    fit32, fit64, rel, gap = _float32_and_float64_fits(name, l1_ratio, solver)
    np.testing.assert_allclose(fit32.intercept_, fit64.intercept_, rtol=1e-2, atol=1e-2)
    assert gap < 1e-5
    assert_supports_agree(fit32.coef_, fit64.coef_, small=1e-2)
    # Both solvers end with an exact Newton step on the support (L-BFGS-B alone stopped
    # once float32 f no longer moved, at stop_crit_ ~ 2e-5 and 5e-3 from float64).
    assert rel < 1e-3
    np.testing.assert_allclose(fit32.intercept_, fit64.intercept_, rtol=1e-3, atol=1e-4)
    assert fit32.stop_crit_ <= 10 * np.sqrt(np.finfo(np.float32).eps)


def test_float32_lbfgs_as_close_as_newton():
    # L-BFGS-B stopped where float32 f no longer moved, 4.6e-3 from the float64 coef_
    # without a warning; the polishing Newton step on the support closes the gap.
    _, _, rel, _ = _float32_and_float64_fits("breast_cancer_scaled", 1.0, "lbfgs")
    assert rel < 1e-3


# -- 8. loss curve -------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("name", ["breast_cancer", "iris", "wine_scaled"])
def test_loss_curve(name, l1_ratio, solver):
    X, y = dataset(name)
    model = fit_celr(X, y, C=1.0, l1_ratio=l1_ratio, solver=solver)
    curve = model.loss_curve_
    assert curve.shape == (model.n_iter_ + 1,)
    # Start: zero weights, log-odds intercepts (the documented cold start).
    classes, codes, _ = reference_row_weights(y)
    share = np.bincount(codes) / len(y)
    if len(classes) == 2:
        W0, b0 = np.zeros((1, X.shape[1])), [np.log(share[1] / share[0])]
    else:
        W0, b0 = np.zeros((len(classes), X.shape[1])), np.log(share)
    assert curve[0] == pytest.approx(enet_objective(X, y, W0, b0, 1.0, l1_ratio), rel=1e-12)
    assert curve[-1] == pytest.approx(objective_of(model, X, y), rel=1e-12)
    if solver == "newton":  # proximal Newton's line search on the whole objective: monotone
        assert np.all(np.diff(curve) <= 1e-14 * np.abs(curve[:-1]))
    # (L-BFGS-B's is monotone only in the split objective f + l1 (p + n), which exceeds
    # the true one while both parts of a weight are positive: the recorded true objective
    # can rise, by up to 5e-4 relative on raw breast cancer.)
    assert curve[-1] <= curve.min() * (1 + 1e-12)
    assert curve[-1] < curve[0]


# -- 9. warm start -------------------------------------------------------------------------


def _warm_start_cases():
    for name in ("breast_cancer", "iris", "wine_scaled"):
        for l1_ratio in (1.0, 0.5):
            for solver in ("newton", "lbfgs"):
                yield pytest.param(name, l1_ratio, solver)


@pytest.mark.parametrize(("name", "l1_ratio", "solver"), list(_warm_start_cases()))
def test_warm_start_from_solution(name, l1_ratio, solver):
    X, y = dataset(name)
    model = fit_celr(X, y, C=1.0, l1_ratio=l1_ratio, solver=solver, warm_start=True)
    coef, f = model.coef_.copy(), model.loss_curve_[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, y)
    assert model.loss_curve_[0] == pytest.approx(f, rel=1e-12)  # started where it ended
    assert model.n_iter_ <= 2
    np.testing.assert_allclose(model.coef_, coef, atol=1e-6)
    np.testing.assert_array_equal(model.coef_ == 0, coef == 0)


# -- 10. multinomial -----------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("name", ["iris", "wine_scaled"])
def test_multinomial_weights_are_not_centred(name, solver):
    X, y = dataset(name)
    model = fit_celr(X, y, C=0.2, l1_ratio=1.0, solver=solver)
    assert model.coef_.shape == (3, X.shape[1])
    assert np.any(model.coef_ == 0.0)
    # Centring would move zeros off 0 (and raise the L1 term): column means stay nonzero.
    assert np.abs(model.coef_.mean(axis=0)).max() > 1e-3
    centred = model.coef_ - model.coef_.mean(axis=0)
    assert enet_objective(X, y, centred, model.intercept_, 0.2, 1.0) > objective_of(model, X, y)
    assert model.intercept_.sum() == pytest.approx(0.0, abs=1e-12)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(proba >= 0)
    np.testing.assert_allclose(np.log(proba), model.predict_log_proba(X), atol=1e-10)


# -- 11. inputs unchanged ------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("sparse", [False, True])
def test_inputs_not_modified(sparse, solver):
    X, y = small_problem(3, seed=6)
    X = sp.csr_array(X) if sparse else X
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    X_copy, y_copy, sw_copy = X.copy(), y.copy(), sw.copy()
    fit_celr(X, y, sample_weight=sw, C=0.5, l1_ratio=0.6, solver=solver, class_weight="balanced")
    if sparse:
        np.testing.assert_array_equal(X.toarray(), X_copy.toarray())
    else:
        np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)
    np.testing.assert_array_equal(sw, sw_copy)


def test_sgd_rejects_l1():
    X, y = small_problem(2)
    with pytest.raises(ValueError, match="l1_ratio"):
        CrossEntropyLogisticRegression(l1_ratio=0.5, solver="sgd").fit(X, y)


def test_gd_fixed_step_is_the_textbook_step_then_soft_thresholding():
    # One step of solver='gd' with a learning rate: theta - eta * grad (section 5.6),
    # then each weight moved eta * lambda toward 0 (ISTA); the intercept is not.
    X, y = small_problem(2)
    C, eta, l1_ratio = 0.05, 0.5, 1.0
    objective = LogisticObjective(X, y, np.ones(len(y)), 2, True)
    penalty = ElasticNetPenalty.for_layout(objective, C, l1_ratio, len(y))
    start = np.zeros(objective.n_params)
    start[-1] = 0.3
    result = gd.solve(objective, penalty, start, tol=0.0, max_iter=1, learning_rate=eta)
    W, b = objective.unpack(start)
    grad_W, grad_b = reference_gradient(X, y, W, b, C, l1_ratio, np.ones(len(y)))
    lam = l1_ratio / (C * len(y))
    step_W = W - eta * grad_W
    expected_W = np.sign(step_W) * np.maximum(np.abs(step_W) - eta * lam, 0.0)
    np.testing.assert_allclose(result.coef[:-1], expected_W.ravel(), atol=1e-15)
    np.testing.assert_allclose(result.coef[-1], b - eta * grad_b, atol=1e-15)
    assert np.any(result.coef[:-1] == 0.0) and np.any(result.coef[:-1] != 0.0)


@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
def test_newton_polishes_l1_fits_to_rounding_level(l1_ratio):
    # scikit-learn's weight-equivalence check: repeated rows and integer weights are the
    # same problem; at the default tol they stopped up to 6.5e-9 apart on some BLAS
    # kernels. Polished, both are the optimum to rounding: the gradient's rounding bound
    # here is about n * eps * max|x| / min(sd) = 53 * 2.2e-16 / 0.25 ~ 5e-14.
    rng = np.random.RandomState(42)
    X = rng.rand(15, 30)
    y = rng.randint(0, 3, size=15)
    weight = rng.randint(0, 5, size=15)
    params = {"l1_ratio": l1_ratio, "solver": "newton"}
    repeated = CrossEntropyLogisticRegression(**params).fit(
        X.repeat(weight, axis=0), y.repeat(weight)
    )
    weighted = CrossEntropyLogisticRegression(**params).fit(X, y, sample_weight=weight)
    assert repeated.stop_crit_ <= 1e-12 and weighted.stop_crit_ <= 1e-12
    diff = np.abs(repeated.decision_function(X) - weighted.decision_function(X))
    assert diff.max() <= 1e-10
