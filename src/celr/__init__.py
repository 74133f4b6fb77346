"""celr: logistic regression by the textbook's cross-entropy loss, as a scikit-learn estimator."""

from celr._estimator import CrossEntropyLogisticRegression
from celr._loss import cross_entropy_loss
from celr._separation import SeparationWarning

__all__ = ["CrossEntropyLogisticRegression", "SeparationWarning", "cross_entropy_loss"]
__version__ = "0.1.0"
