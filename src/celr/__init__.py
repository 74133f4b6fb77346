"""celr: logistic regression by the textbook's cross-entropy loss, as a scikit-learn estimator."""

from celr._cv import CrossEntropyLogisticRegressionCV
from celr._estimator import CrossEntropyLogisticRegression
from celr._formula import FormulaLogisticRegression, logit
from celr._loss import cross_entropy_loss
from celr._offsets import PrecisionWarning
from celr._onnx import to_onnx
from celr._path import RegularizationPath, l1_min_c, regularization_path
from celr._persist import ModelFileError, load, save
from celr._progress import show_progress
from celr._separation import SeparationWarning

__all__ = [
    "CrossEntropyLogisticRegression",
    "CrossEntropyLogisticRegressionCV",
    "FormulaLogisticRegression",
    "ModelFileError",
    "PrecisionWarning",
    "RegularizationPath",
    "SeparationWarning",
    "cross_entropy_loss",
    "l1_min_c",
    "load",
    "logit",
    "regularization_path",
    "save",
    "show_progress",
    "to_onnx",
]
__version__ = "0.1.0"
