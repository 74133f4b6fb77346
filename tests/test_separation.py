"""Separation: Konis' linear program against data whose separation is known by design."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris

from celr._objective import LogisticObjective
from celr._separation import (
    Separation,
    find_separation,
    lone_separators,
    separating_direction,
)

NAMES = ["a", "b", "c"]


def overlapping(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 1] + rng.logistic(size=n) > 0).astype(int)
    return X, y


def quasi_separated(n=300, seed=0):
    """Feature 'a' is positive only on class-1 rows (0 elsewhere): a direction that never
    hurts and helps on some rows, yet no hyperplane separates the classes."""
    X, y = overlapping(n, seed)
    X[:, 0] = np.where(y == 1, np.abs(X[:, 0]), 0.0)
    return X, y


def objective(X, y, weights=None, n_classes=2):
    weights = np.ones(len(y)) if weights is None else weights
    return LogisticObjective(X, y, weights, n_classes, True)


def margins_of(direction, X, y):
    scores = np.column_stack([X, np.ones(len(y))]) @ direction.T
    if scores.shape[1] == 1:
        return np.where(y == 1, scores[:, 0], -scores[:, 0])
    own = scores[np.arange(len(y)), y]
    rivals = np.where(np.arange(scores.shape[1]) == y[:, None], -np.inf, scores)
    return own - rivals.max(axis=1)


def test_overlapping_classes_have_no_separating_direction():
    assert separating_direction(objective(*overlapping())) is None


@pytest.mark.parametrize("container", [np.asarray, sp.csr_array, sp.csc_array])
def test_quasi_separation_is_found_and_names_only_the_separating_feature(container):
    X, y = quasi_separated()
    direction = separating_direction(objective(container(X), y))
    assert direction is not None
    # An independent check of the certificate: no row's margin decreases, some increase.
    margins = margins_of(direction, X, y)
    assert margins.min() > -1e-9 and margins.max() > 1e-6
    assert np.flatnonzero(direction[0, :3]).tolist() == [0]


def test_zero_weight_rows_do_not_count():
    X, y = overlapping()
    # Give weight only to rows that feature 'b' splits cleanly: now they are separable.
    weights = ((y == 1) & (X[:, 1] > 0.5)) | ((y == 0) & (X[:, 1] < -0.5))
    assert separating_direction(objective(X, y, weights.astype(float))) is not None
    assert separating_direction(objective(X, y)) is None


def test_iris_is_quasi_separated_but_its_sepal_length_alone_is_not():
    X, y = load_iris(return_X_y=True)
    direction = separating_direction(objective(X, y, n_classes=3))
    assert direction is not None and np.all(direction[0] == 0)  # class 0 is the reference
    margins = margins_of(direction, X, y)
    assert margins.min() > -1e-9 and margins.max() > 1e-6
    assert separating_direction(objective(X[:, :1], y, n_classes=3)) is None


def test_find_separation_complete_from_the_fit_names_lone_separators_without_lp():
    X, y = overlapping()
    y = (X[:, 2] > 0).astype(int)  # 'c' alone separates
    obj = objective(X, y)
    coef = np.array([0.0, 0.0, 50.0, 0.0])
    found = find_separation(obj, coef, NAMES, prove_complete_by_lp=False)
    assert found == Separation(complete=True, features=("c",), alone=True)
    assert "by feature 'c' alone" in found.describe()
    by_lp = find_separation(obj, coef, NAMES)
    assert by_lp.complete and by_lp.features == ("c",) and not by_lp.alone


def test_find_separation_quasi_needs_suspicious_margins_and_respects_the_budget():
    X, y = quasi_separated()
    obj = objective(X, y)
    quiet = np.zeros(4)  # no row looks separated: nothing is searched
    assert find_separation(obj, quiet, NAMES) is None
    diverging = np.array([40.0, 1.0, 0.0, 0.0])  # rows with a > 0 have margins > 15
    found = find_separation(obj, diverging, NAMES)
    assert found == Separation(complete=False, features=("a",))
    assert "quasi-completely" in found.describe()
    assert find_separation(obj, diverging, NAMES, max_lp_entries=10) is None


def test_lone_separators_multinomial():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 30)
    X = rng.normal(size=(90, 3))
    X[y == 2, 1] += 100.0  # class 2 lies above every other row on 'b'
    assert lone_separators(objective(X, y, n_classes=3)).tolist() == [1]
