"""What a fit leaves besides the coefficients: the warnings that name why it is not the
optimum, the statistics inference reuses, and attributes recorded or taken over."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from celr._inference import (
    AUTO_SHARE,
    information,
    keep_information,
    likelihood,
    separation_searched_at_fit,
)
from celr._separation import SeparationWarning
from celr.solvers import is_stochastic
from celr.solvers._base import SolverResult
from celr.solvers._cost import ProblemShape, exact_hessian_pays


class FitOutcomeMixin:
    """The end of :class:`celr.CrossEntropyLogisticRegression`'s ``fit``."""

    def _record_statistics(self, objective, penalty, result: SolverResult, offsets) -> None:
        """What inference needs from the training data, kept so that ``summary()``,
        ``cov_params()`` and ``results()`` work without it.

        The log-likelihood at the estimate always (one pass over the rows; with a search
        for separation when unpenalised). The information (Hessian and score outer
        product) with ``store_covariance``, or when it is cheap: a converged full-batch
        fit without an L1 part whose information is cheap (:func:`keep_information`).
        """
        unpenalized = bool(np.isinf(self.C))
        # Names only label a separation or the information's table: built when one is
        # (x0 .. x262143 alone took 70 ms of a 1.2 s sparse fit).
        names = self._feature_names() if unpenalized or self.store_covariance else []
        self._likelihood = likelihood(objective, result.coef, names, search_separation=unpenalized)
        self._information = None
        self._information_skipped = None
        if self.store_covariance:
            self._information = information(objective, penalty, result.coef, names, offsets)
            return
        reason = self._why_not_keep_information(objective, penalty, result)
        if reason is not None:
            self._information_skipped = reason
            return
        known = self._likelihood.separation if unpenalized else None
        self._information = information(
            objective,
            penalty,
            result.coef,
            names or self._feature_names(),
            offsets,
            separation=known,
        )

    def _why_not_keep_information(self, objective, penalty, result):
        """Why ``fit`` did not keep the information on its own (None: it does)."""
        if is_stochastic(self.solver_) or not result.converged:
            return "the fit is not at its optimum (stochastic or not converged)"
        if not penalty.is_smooth:
            return "an L1 penalty makes the table conditional on its zeros"
        shape = ProblemShape.of_objective(objective)
        newton_exact = self.solver_ == "newton" and exact_hessian_pays(shape)
        if not keep_information(shape, int(np.max(result.n_iter)), newton_exact):
            return (
                f"its Hessian ({shape.n_params} parameters, {shape.n_rows} rows) would "
                f"cost more than {AUTO_SHARE:.0%} of the fit"
            )
        if np.isinf(self.C) and not separation_searched_at_fit(objective):
            return "the search for separation would need a linear program over the budget"
        return None

    def _adopt_fit(self, fitted: FitOutcomeMixin) -> None:
        """Take over the model ``fitted`` found (a CV refit), as if this ``fit`` had run.

        ``n_features_in_`` and ``feature_names_in_`` are this estimator's own, from its
        ``validate_data``; the optimiser state is not taken (a CV model has none).
        """
        for name in _FIT_RESULTS:
            setattr(self, name, getattr(fitted, name))

    def _record_input(self, classes: np.ndarray, n_features: int, feature_names) -> None:
        """``classes_``, ``n_features_in_``, ``feature_names_in_`` of input that
        ``validate_data`` did not see (Dask collections)."""
        self.classes_ = classes
        self.n_features_in_ = int(n_features)
        if feature_names is not None:
            self.feature_names_in_ = feature_names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_  # a stale name list from an earlier fit

    def _warn_interrupted(self, result: SolverResult) -> None:
        warnings.warn(
            f"fit interrupted (Ctrl-C) after {result.n_iter} iterations of "
            f"solver={self.solver_!r}: keeping the best weights reached (objective "
            f"{min(result.history, default=np.nan):.10g}), which are not the optimum.",
            ConvergenceWarning,
            stacklevel=4,
        )

    def _warn_if_not_optimal(self, result) -> None:
        separation = self._likelihood and self._likelihood.separation
        if separation:
            warnings.warn(
                f"{separation.describe()} Use a finite C (e.g. C=1) for a unique model.",
                SeparationWarning,
                stacklevel=5,
            )
            return
        if not result.converged:
            unit = " epochs" if is_stochastic(self.solver_) else ""
            reason = (
                f"reached max_iter={self.max_iter}{unit}"
                if result.n_iter >= self.max_iter
                else "could not decrease the objective further"
            )
            advice = "increase max_iter or loosen tol" + (
                "" if self.solver_ == "newton" else ", or try solver='newton'"
            )
            warnings.warn(
                f"solver={self.solver_!r} {reason} with gradient max-norm "
                f"{result.stop_crit:.2e} > tol={self.tol:g}: {advice}.",
                ConvergenceWarning,
                stacklevel=5,
            )


#: What ``fit`` sets besides ``n_features_in_`` and ``feature_names_in_``: the classes,
#: the model, its convergence record and the statistics inference reuses.
_FIT_RESULTS = (
    "classes_", "coef_", "intercept_", "n_iter_", "stop_crit_", "loss_curve_",
    "validation_loss_curve_", "solver_", "_likelihood", "_information",
    "_information_skipped", "_centered_model",
)  # fmt: skip
