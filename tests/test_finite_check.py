"""X's NaN and inf are refused with scikit-learn's own message, wherever they are.

``fit`` skips ``check_array``'s finite check (a read of X) where the column statistics'
compiled read proves X finite instead (a NaN or inf makes its column's mean NaN, even at
zero weight; chunks of zero weight only are scanned). These tests put a bad value in every
place that read treats differently and ask for the error ``check_array`` itself gives.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils import check_array

from celr import CrossEntropyLogisticRegression
from celr._column_stats import MOMENTS_CHUNK_BYTES
from celr._dense_kernel import weighted_moments
from celr._parallel import MIN_ENTRIES_PER_BLOCK

Model = CrossEntropyLogisticRegression
N_FEATURES = 40
CHUNK_ROWS = MOMENTS_CHUNK_BYTES // (8 * N_FEATURES)
# Enough rows for more than one block (lane) of the compiled read, each of many chunks.
N_SAMPLES = 2 * MIN_ENTRIES_PER_BLOCK // N_FEATURES + 3 * CHUNK_ROWS


def reference_message(X) -> str:
    with pytest.raises(ValueError) as raised:
        check_array(X, accept_sparse=["csr", "csc"], estimator=Model(), input_name="X")
    return str(raised.value)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES))
    y = (X[:, 0] + rng.normal(size=N_SAMPLES) > 0).astype(int)
    return X, y


# Rows of the bad value and the rows given zero weight: a weighted row; a zero-weight row
# in a weighted chunk; a chunk of zero weight only (first block, and last block).
PLACES = {
    "weighted row": (5, slice(0, 0)),
    "zero-weight row": (7, slice(7, 8)),
    # whole chunks of float64 and of float32 (twice the rows) alike
    "zero-weight chunk": (3 * CHUNK_ROWS + 3, slice(2 * CHUNK_ROWS, 4 * CHUNK_ROWS)),
    "zero-weight chunk, last block": (N_SAMPLES - 2, slice(N_SAMPLES - CHUNK_ROWS, None)),
}


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("place", list(PLACES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bad_value_anywhere_gets_check_arrays_error(data, value, place, dtype):
    X, y = data
    row, zero_rows = PLACES[place]
    X = X.astype(dtype)
    X[row, 3] = value
    weight = np.ones(N_SAMPLES)
    weight[zero_rows] = 0.0
    before = X.copy()
    with pytest.raises(ValueError) as raised:
        Model(max_iter=5).fit(X, y, sample_weight=weight)
    assert str(raised.value) == reference_message(X)
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize(
    ("layout", "params"),
    [
        ("F", {}),
        ("csr", {}),
        ("csc", {}),
        ("C", {"fit_intercept": False}),
        ("C", {"solver": "sgd"}),
        ("C", {"solver": "newton"}),
        ("C", {"firth": True}),
    ],
)
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_every_path_refuses_a_bad_value(layout, params, value):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 4))
    y = np.arange(80) % 2
    X[11, 2] = value
    X = {"F": np.asfortranarray, "csr": sp.csr_array, "csc": sp.csc_array}.get(
        layout, np.ascontiguousarray
    )(X)
    with pytest.raises(ValueError) as raised:
        Model(max_iter=5, **params).fit(X, y)
    assert str(raised.value) == reference_message(X)


def test_extreme_finite_values_still_fit():
    # Squares overflow: the read cannot prove these finite from its squares, only its means.
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 3)) * np.array([1e200, 1.0, 1e-200])
    y = (X[:, 1] > 0).astype(int)
    model = Model().fit(X, y)
    assert np.all(np.isfinite(model.coef_))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_reports_unweighted_chunks(dtype):
    X = np.ones((12, 3), dtype=dtype)
    weight = np.ones(12)
    weight[4:8] = 0.0
    assert weighted_moments(X, weight, 4)[3]
    X[5, 1] = np.nan
    total, mean, _, unweighted_finite = weighted_moments(X, weight, 4)
    assert not unweighted_finite
    assert total == 8.0 and np.all(mean == 1.0)  # the skipped chunk adds nothing
    X[5, 1] = 1.0
    X[2, 2] = np.inf  # weighted: inf, then NaN once merged with the next chunk (inf - inf)
    weight[1] = 0.0
    X[1, 0] = np.inf  # zero weight in a weighted chunk: 0 * inf makes the mean NaN
    _, mean, _, unweighted_finite = weighted_moments(X, weight, 4)
    assert unweighted_finite
    assert np.isnan(mean[0]) and mean[1] == 1.0 and not np.isfinite(mean[2])
