"""scikit-learn's own estimator checks: no expected failures, for the estimator whatever
the solver and penalty, and for the cross-validated one."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, is_classifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from celr import CrossEntropyLogisticRegression, CrossEntropyLogisticRegressionCV
from celr.solvers import SOLVERS

ESTIMATORS = [
    CrossEntropyLogisticRegression(),
    # With the inference statistics computed in fit. (Not at C=inf: the checks' data are
    # separable, so the unpenalised optimum is at infinity and weightings stop apart.)
    CrossEntropyLogisticRegression(store_covariance=True),
    # Firth's penalised likelihood (binary only: the multiclass checks are skipped).
    CrossEntropyLogisticRegression(firth=True),
    *(CrossEntropyLogisticRegression(solver=name) for name in SOLVERS),
    *(
        CrossEntropyLogisticRegression(l1_ratio=l1_ratio, solver=name)
        for l1_ratio in (0.5, 1.0)
        for name, spec in SOLVERS.items()
        if spec.supports_l1
    ),
    # tol: the weight-equivalence checks pick C ~ 1.5e3 with l1_ratio=1 on their nearly
    # separable data; at so flat an optimum tol=1e-8 leaves the weighted and the repeated
    # refits' coefficients ~2e-8 apart, above the checks' atol=1e-9 on decision values
    # near 0.08 (1e-10: ~1e-11 apart). The defaults pass them (check_estimator).
    CrossEntropyLogisticRegressionCV(Cs=3, cv=3, l1_ratios=[0.0, 1.0], tol=1e-10),
    CrossEntropyLogisticRegressionCV(Cs=[0.1, 10.0], cv=2, refit=False),
]


def expected_failures(estimator) -> dict[str, str]:
    """None on the scikit-learn celr is developed on. For estimators with a ``cv``
    parameter scikit-learn's weight-equivalence checks give the weighted and the repeated
    data the same folds (LeaveOneGroupOut, weights only in one group), and the CV
    estimator is weight-equivalent in every step: its grid, each fold's fit and weighted
    held-out score, and the refit.

    One exception on old scikit-learn (1.6): for a binary-only classifier (``firth=True``)
    its weight-equivalence checks binarise the labels by their first entry, which the
    checks shuffle for the weighted data only, so the two fits see different problems
    (later versions binarise by ``y.min()``).
    """
    if getattr(estimator, "firth", False) and _binarises_by_first_label():
        reason = "scikit-learn binarises the shuffled and unshuffled labels differently"
        return {
            "check_sample_weight_equivalence_on_dense_data": reason,
            "check_sample_weight_equivalence_on_sparse_data": reason,
        }
    return {}


def _binarises_by_first_label() -> bool:
    from sklearn.utils.estimator_checks import _enforce_estimator_tags_y

    labels = _enforce_estimator_tags_y(
        CrossEntropyLogisticRegression(firth=True), np.array([2, 0, 1])
    )
    return bool(labels[0] == 2)


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "estimator_class", [CrossEntropyLogisticRegression, CrossEntropyLogisticRegressionCV]
)
def test_is_a_classifier_thanks_to_mixin_order(estimator_class):
    mro = estimator_class.__mro__
    assert mro.index(ClassifierMixin) < mro.index(BaseEstimator)
    assert is_classifier(estimator_class())
