"""Integer labels are encoded by counting (celr._inputs._integer_label_codes): the same
classes and codes as np.unique(return_inverse=True), for every integer dtype and range,
and scikit-learn's warnings where its own target check gives them."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays, integer_dtypes, unsigned_integer_dtypes
from sklearn.utils.multiclass import check_classification_targets

from celr import CrossEntropyLogisticRegression
from celr._inputs import _integer_label_codes, encode_targets


@settings(max_examples=200, deadline=None)
@given(arrays(st.one_of(integer_dtypes(), unsigned_integer_dtypes()), st.integers(1, 60)))
def test_counted_codes_are_numpys_unique(y):
    counted = _integer_label_codes(y)
    classes, codes = np.unique(y, return_inverse=True)
    if counted is None:  # a range wider than the rows: numpy's unique is used instead
        assert int(y.max()) - int(y.min()) >= len(y)
        return
    assert counted[0].dtype == y.dtype
    np.testing.assert_array_equal(counted[0], classes)
    np.testing.assert_array_equal(counted[1], codes)


@pytest.mark.parametrize(
    "y",
    [np.array([0.0, 1.0]), np.array([True, False]), np.array(["a", "b"]), np.zeros((2, 1), int)],
)
def test_other_labels_are_left_to_numpy(y):
    assert _integer_label_codes(y) is None


def test_extreme_integers_do_not_wrap():
    y = np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max])
    assert _integer_label_codes(y) is None  # the range does not fit
    y = np.array([-128, 127, 0] * 100, dtype=np.int8)  # y - min would wrap in int8
    classes, codes = _integer_label_codes(y)
    assert classes.tolist() == [-128, 0, 127] and codes[:3].tolist() == [0, 2, 1]


@pytest.mark.parametrize("y", [np.arange(30), np.arange(30) % 2, np.arange(30) % 16])
def test_labels_get_scikit_learns_warnings(y):
    # 30 classes in 30 rows: scikit-learn 1.7+ warns of a regression target; celr's
    # encoding warns exactly when scikit-learn's own check does, whatever its version
    with warnings.catch_warnings(record=True) as expected:
        warnings.simplefilter("always")
        check_classification_targets(y)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        encode_targets(y, None, None)
    assert [str(w.message) for w in got] == [str(w.message) for w in expected]


def test_one_weighted_class_is_refused():
    with pytest.raises(ValueError, match="Only one class has positive sample_weight"):
        CrossEntropyLogisticRegression().fit(np.eye(3), [0, 1, 1], sample_weight=[0.0, 1.0, 1.0])
