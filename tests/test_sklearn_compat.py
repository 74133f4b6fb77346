"""scikit-learn's own estimator checks, with no expected failures, for every solver."""

from __future__ import annotations

from sklearn.base import BaseEstimator, ClassifierMixin, is_classifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from celr import CrossEntropyLogisticRegression
from celr.solvers import SOLVERS

ESTIMATORS = [CrossEntropyLogisticRegression()] + [
    CrossEntropyLogisticRegression(solver=name) for name in SOLVERS
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda estimator: {})
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_is_a_classifier_thanks_to_mixin_order():
    mro = CrossEntropyLogisticRegression.__mro__
    assert mro.index(ClassifierMixin) < mro.index(BaseEstimator)
    assert is_classifier(CrossEntropyLogisticRegression())
