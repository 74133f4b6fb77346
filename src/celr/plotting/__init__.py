"""Plots of a model: its convergence, its coefficients and their regularization path.

Displays in scikit-learn's sense: the constructor stores the data, ``plot`` draws it and
returns the display (axes, figure and artists as attributes), ``from_estimator`` computes
the data and plots it. matplotlib is imported only to draw, so ``import celr.plotting``
works without it.
"""

from celr.plotting._coefficients import CoefficientDisplay
from celr.plotting._loss_curve import LossCurveDisplay
from celr.plotting._regularization_path import RegularizationPathDisplay

__all__ = ["CoefficientDisplay", "LossCurveDisplay", "RegularizationPathDisplay"]
