"""The scikit-learn front end: CrossEntropyLogisticRegression."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import assert_all_finite, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from celr._array_api import ARRAY_API_SOLVERS, array_api_namespace, dispatch_available
from celr._array_api_fit import fit_array_api
from celr._callbacks import (
    CallbackSupportMixin,
    fit_task,
    iteration_tasks,
    reports_to_callbacks,
)
from celr._coefficients import CoefficientsMixin
from celr._column_stats import weighted_center_scale
from celr._columns import center_scale_of
from celr._dask import dask_training, is_dask_collection
from celr._firth_fit import FirthMixin
from celr._fit_outcome import FitOutcomeMixin
from celr._inputs import FLOAT_DTYPES, encode_targets
from celr._margins import MarginsMixin
from celr._objective import LogisticObjective
from celr._offsets import ColumnOffsets, choose_offsets
from celr._parallel import make_objective
from celr._penalty import ElasticNetPenalty
from celr._prediction import PredictionMixin
from celr._progress import FitMonitor
from celr._stochastic import PartialFitMixin, validation_split
from celr._summary import InferenceMixin
from celr._threads import one_blas_thread, thread_budget
from celr.solvers import SOLVERS, SolverSpec, check_solver_supports, choose_solver, handover
from celr.solvers._base import SolverResult
from celr.solvers._cost import ProblemShape, lbfgs_budget
from celr.solvers.sgd import SCHEDULES


class CrossEntropyLogisticRegression(
    ClassifierMixin,
    PredictionMixin,
    CoefficientsMixin,
    FitOutcomeMixin,
    InferenceMixin,
    FirthMixin,
    MarginsMixin,
    PartialFitMixin,
    CallbackSupportMixin,
    BaseEstimator,
):
    """Logistic regression fitted by minimising the mean cross-entropy loss.

    The model of Jurafsky & Martin, *Speech and Language Processing*, ch. 5: for two
    classes ``P(y=1 | x) = sigma(w . x + b)``, for ``K > 2`` classes
    ``P(y=k | x) = softmax(W x + b)_k``. ``fit`` minimises, over rows ``x_i`` with labels
    ``y_i`` and weights ``s_i`` (``sample_weight`` times the class weight of ``y_i``,
    ``S = sum_i s_i``)::

        f(W, b) = (1/S) sum_i s_i L_CE(x_i, y_i; W, b)
                  + 1/(C S) ((1 - l1_ratio)/2 ||W||_2^2 + l1_ratio ||W||_1)

    where ``L_CE`` is the cross-entropy of eq. 5.23 (binary) or ``-log softmax(z)_y``
    (multinomial). The intercept is not penalised; ``C=np.inf`` removes the penalty. This
    is scikit-learn's ``LogisticRegression`` objective divided by ``C S``, so the same
    ``C``, ``l1_ratio``, ``class_weight`` and ``sample_weight`` give the same model.
    The L1 term (the textbook's lasso, a Laplace prior) gives exact zeros in ``coef_``.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength, as in scikit-learn; ``np.inf`` for none.
    l1_ratio : float, default=0.0
        Share of L1 in the elastic-net penalty, in [0, 1]: 0 is L2 (ridge), 1 is L1
        (lasso), in between the elastic net. Solved by ``'newton'`` (proximal Newton),
        ``'lbfgs'`` (L-BFGS-B on split weights) and ``'gd'`` (proximal gradient);
        ``'sgd'`` supports only 0.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    solver : {'auto', 'newton', 'lbfgs', 'gd', 'sgd'}, default='auto'
        ``'newton'``: Newton's method with a line search; Cholesky on the exact Hessian
        where one costs about a gradient evaluation or under a millisecond (tall or
        small data: :mod:`celr.solvers._cost`), conjugate gradients on Hessian-vector
        products otherwise; with an L1 part, proximal Newton (its local model solved by
        L-BFGS-B on split weights).
        ``'lbfgs'``: L-BFGS on implicitly standardised coefficients (its own compact
        form); with an L1 part, scipy's L-BFGS-B on the weights split into positive and
        negative parts, over growing working sets.
        ``'gd'``: the textbook's full-batch gradient descent (section 5.6), with a fixed
        ``learning_rate`` or, by default, a line search in standardised units; with an
        L1 part each step is followed by soft-thresholding (proximal gradient).
        ``'sgd'``: the textbook's mini-batch stochastic gradient descent (section 5.6),
        softmax for K classes; the only solver with ``partial_fit`` (data that does not
        fit in memory). ``max_iter`` counts epochs.
        ``'auto'``: ``'newton'`` when its exact Hessian is that cheap, else ``'lbfgs'``,
        handing over to Newton if it has not converged after as many iterations as
        Newton's whole fit would cost, unless it is about to converge
        (:mod:`celr.solvers.handover`; ``solver_`` stays
        ``'lbfgs'``, ``n_iter_`` counts both). The same with an L1 part.
    tol : float, default=1e-8
        Stop when the max-norm of the objective's gradient (with an L1 part: of the
        distance of ``-gradient`` to the subdifferential) is at most ``tol``. The
        objective is a mean, so ``tol`` does not depend on the number of rows.
        ``'sgd'`` also stops when the objective (held-out cross-entropy with
        ``early_stopping``) has reached no new low for ``n_iter_no_change`` epochs.
    max_iter : int, default=1000
        Maximum number of solver iterations (epochs for ``'sgd'``).
    class_weight : dict, 'balanced' or None, default=None
        Weights per class, multiplied into the sample weights (as in scikit-learn).
    warm_start : bool, default=False
        Start from the previous fit's coefficients when their shape matches.
    random_state : int, RandomState instance or None, default=None
        Shuffles the rows of ``'sgd'`` and draws its held-out rows; unused otherwise.
    verbose : int, default=0
        1: a progress bar (tqdm, on stderr) over iterations (epochs for ``'sgd'``) showing
        the objective and the optimality measure; 2 or more: one printed line per
        iteration instead. Whatever the setting, Ctrl-C during ``fit`` stops it cleanly
        with the best weights reached so far and a ``ConvergenceWarning``.
    learning_rate : float or None, default=None
        ``'gd'`` and ``'sgd'``: a number is the textbook's step ``eta`` in
        ``theta <- theta - eta * grad`` (the initial step of a decaying schedule). None
        lets celr choose: steps in standardised units (a diagonal preconditioner, so raw
        feature scales need no scaler), a line search for ``'gd'``, ``1 / L(batch_size)``
        (a bound on the mini-batch curvature) for ``'sgd'``; when an epoch is fewer than
        18 steps, ``fit`` then grows that step while the objective falls, before the
        decay and the averaging (:mod:`celr.solvers.sgd`).
    schedule : {'invsqrt', 'constant', 'adam'}, default='invsqrt'
        ``'sgd'``'s step over time: ``eta / sqrt(1 + epochs seen)``, the constant
        ``eta``, or Adam with base rate ``eta`` (0.01 when ``learning_rate=None``).
    batch_size : int or 'auto', default='auto'
        ``'sgd'``: rows per step; 1 is the textbook's per-example update. ``'auto'``:
        ``min(1024, max(32, n // 16))`` for ``n`` training rows (sixteen steps per epoch
        from 512 rows, 1024 rows from 16,384 rows on). ``partial_fit`` takes ``n`` from
        its first call: ``n_samples_total``, else that chunk's rows; later chunks keep
        the size (as does a ``partial_fit`` continuing a ``fit``).
    average : bool or int, default=True
        ``'sgd'``: report the running average of the iterates (Polyak-Ruppert), which
        converges to the optimum under a decaying step; True starts it after one epoch,
        an int after that many rows, False never.
    early_stopping : bool, default=False
        ``'sgd'``: hold out a stratified ``validation_fraction`` of the rows and stop when
        their cross-entropy has not improved for ``n_iter_no_change`` epochs, keeping
        the best weights.
    validation_fraction : float, default=0.1
        Share of rows held out by ``early_stopping``.
    n_iter_no_change : int, default=5
        ``'sgd'``: epochs without improvement before stopping.
    store_covariance : bool, default=False
        Compute, at the end of ``fit``, the Hessian and score outer product that
        :meth:`summary` and :meth:`cov_params` need, so they work without the training
        data (for example on the last step of a ``Pipeline``), whatever they cost: one
        Hessian and one score outer product (+30% on a 7-iteration Newton fit of
        200,000 x 50) and two ``n_params x n_params`` matrices; at most 5000 parameters.
        Without it, ``fit`` keeps them where they are cheap
        (:func:`celr._inference.keep_information`: a converged full-batch fit without
        L1, at most 1,000 parameters, predicted under 10% of the fit or 5 ms).
    firth : bool, default=False
        Fit Firth's bias-reduced model instead (:mod:`celr._firth`, R's ``logistf``):
        maximise ``log L + 1/2 log det I - ||w||^2 / (2C)``, ``I = X^T W X`` the Fisher
        information with the intercept, by logistf's Newton-Raphson on the modified
        score. Finite estimates even on separated classes. ``C=np.inf`` is logistf's
        model; a finite ``C`` (the default 1.0 too) adds the L2 term (and its
        curvature inside the log det). Two classes,
        ``l1_ratio=0`` and ``solver`` ``'auto'`` or ``'newton'`` only; dense
        computation (sparse X up to 1e7 entries is densified); not on Dask collections.
        ``tol`` bounds the max-norm of the modified score of ``-l*/S`` in standardised
        units (``stop_crit_``) and of the last Newton step; ``solver_`` is ``'firth'``;
        ``warm_start``, ``verbose`` and the iteration callbacks are not used.
        ``summary()`` and ``cov_params()`` without data give logistf's Wald table
        (covariance ``(X^T W X)^-1``, plus the L2 curvature with finite C);
        :meth:`profile_ci` its profile penalised-likelihood intervals and p-values.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights; one row for two classes (the score of ``classes_[1]``).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts (zeros when ``fit_intercept=False``).
    n_iter_ : int
        Solver iterations done.
    stop_crit_ : float
        Max-norm of the gradient at the returned coefficients, in standardised-feature
        units (with an L1 part: of the distance of ``-gradient`` to the subdifferential).
    loss_curve_ : ndarray of shape (n_iter_ + 1,)
        Objective value at the start and after each iteration (epoch). After
        ``partial_fit``, one entry per call: the mean of its mini-batch objectives.
    validation_loss_curve_ : ndarray or None
        ``'sgd'`` with ``early_stopping``: held-out cross-entropy at the start and after
        each epoch; None otherwise.
    solver_ : str
        The solver used (what ``'auto'`` chose).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when ``X`` had string column names.

    See Also
    --------
    cross_entropy_loss : The textbook's loss, eq. 5.23, per sample.
    summary : Standard errors, Wald z, p-values, intervals and odds ratios of a fit.
    lr_test : Likelihood-ratio test between nested unpenalised fits.
    celr.plotting : Loss curve, coefficient and regularization path displays.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from celr import CrossEntropyLogisticRegression
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = CrossEntropyLogisticRegression().fit(X, y)  # raw features, no warning
    >>> clf.solver_, clf.n_iter_ < 20
    ('newton', True)
    >>> round(clf.score(X, y), 3)
    0.958
    """

    _parameter_constraints: ClassVar[dict] = {
        "C": [Interval(Real, 0, np.inf, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "solver": [StrOptions({"auto", *SOLVERS})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), None],
        "schedule": [StrOptions(set(SCHEDULES))],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "average": ["boolean", Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "store_covariance": ["boolean"],
        "firth": ["boolean"],
    }

    def __init__(
        self,
        C: float = 1.0,
        *,
        l1_ratio: float = 0.0,
        fit_intercept: bool = True,
        solver: str = "auto",
        tol: float = 1e-8,
        max_iter: int = 1000,
        class_weight: dict | str | None = None,
        warm_start: bool = False,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        learning_rate: float | None = None,
        schedule: str = "invsqrt",
        batch_size: int | str = "auto",
        average: bool | int = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        store_covariance: bool = False,
        firth: bool = False,
    ) -> None:
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.batch_size = batch_size
        self.average = average
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.store_covariance = store_covariance
        self.firth = firth

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        firth = getattr(self, "firth", False)  # the CV subclass has no firth parameter
        if firth:
            tags.classifier_tags.multi_class = False
        # What fit_array_api supports; other settings refuse such input by name.
        tags.array_api_support = (
            dispatch_available()
            and getattr(self, "solver", None) in ARRAY_API_SOLVERS
            and getattr(self, "l1_ratio", 0) == 0
            and not firth
        )
        return tags

    # -- fitting --------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    @reports_to_callbacks  # fit opens and ends a task of scikit-learn's callbacks
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None):
        """Fit the model by minimising the objective of the class docstring.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask Array or DataFrame} of shape (n_samples, n_features)
            Training data; CSR/CSC is used as is, float32 is fitted in float32. Dask
            collections stay on their cluster (see :mod:`celr._dask`): every objective
            evaluation is summed over their row chunks where they are.
        y : array-like of shape (n_samples,)
            Class labels of any type (a dask Array or Series with dask ``X``).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights (a dask Array or Series with dask ``X``).

        Returns
        -------
        self : CrossEntropyLogisticRegression
            The fitted estimator.
        """
        task = fit_task(self, X, y, sample_weight)  # scikit-learn's callbacks (celr._callbacks)
        if array_api_namespace(X) is not None:  # PyTorch, CuPy, ...: on X's device
            return task.end(fit_array_api(self, X, y, sample_weight))
        firth = getattr(self, "firth", False)  # the CV subclass has no firth parameter
        if firth:
            self._check_firth_parameters()
            if is_dask_collection(X):
                raise ValueError("firth=True is not available on Dask collections.")
        if self.l1_ratio != 0 and self.solver != "auto":
            check_solver_supports(self.solver, self.l1_ratio)
        if is_dask_collection(X):
            training = dask_training(
                X, y, sample_weight, class_weight=self.class_weight,
                fit_intercept=self.fit_intercept,
            )  # fmt: skip
            objective = training.objective
            self._record_input(training.classes, objective.n_features, training.feature_names)
            self.solver_ = self._solver_name(ProblemShape.of_objective(objective))
            spec = SOLVERS[self.solver_]
            if spec.stochastic and self.early_stopping:
                raise ValueError(
                    "early_stopping is not available on Dask collections (its held-out "
                    "rows are drawn in memory); fit with early_stopping=False."
                )
            options = self._solver_options(spec, check_random_state(self.random_state))
            return task.end(self._fit_objective(objective, spec, options, objective.X.dtype))
        # X's NaN and inf: checked below, by the column statistics' read where there is one.
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], dtype=FLOAT_DTYPES,
            ensure_all_finite=False,
        )  # fmt: skip
        targets = encode_targets(y, sample_weight, self.class_weight)
        self.classes_, y_codes, row_weights = targets.classes, targets.codes, targets.weights
        del targets  # the row weights are freed below, once the objective holds them normalised
        if firth:  # Firth's own Newton-Raphson (celr._firth)
            assert_all_finite(X, input_name="X", estimator_name=type(self).__name__)
            return task.end(self._fit_firth(X, y_codes, row_weights))
        self.solver_ = self._solver_name(
            ProblemShape.of(X, len(self.classes_), self.fit_intercept)
        )
        spec = SOLVERS[self.solver_]
        dtype, offsets, center_scale = X.dtype, None, None
        # Not for SGD: partial_fit continues its state on raw chunks, which a centred fit's
        # state would not describe; SGD's noise is far above the offsets' rounding anyway.
        if spec.stochastic or not self.fit_intercept:
            assert_all_finite(X, input_name="X", estimator_name=type(self).__name__)
        else:
            # The objective needs these statistics too (solvers standardise implicitly):
            # one pass over X for both, unless some column is centred; a path's fits on
            # the same X share one (19% of a 100-point L1 path on sparse text).
            normalized = row_weights / np.sum(row_weights)
            with one_blas_thread():  # the bits of a BLAS product depend on its threads
                center_scale = center_scale_of(
                    X, normalized, True,
                    lambda: weighted_center_scale(
                        X, normalized, True, check_finite_for=type(self).__name__
                    ),
                )  # fmt: skip
            offsets = choose_offsets(
                X, normalized, True, getattr(self, "feature_names_in_", None),
                center_scale=center_scale, stacklevel=4,  # past fit and _fit_context
            )  # fmt: skip
        if offsets is not None:  # a copy: the caller's X stays as it is
            X, center_scale = offsets.centered(X), None
        random_state = check_random_state(self.random_state)
        options = self._solver_options(spec, random_state)
        if spec.stochastic and self.early_stopping:
            held_out = validation_split(
                y_codes, row_weights, self.validation_fraction, random_state
            )
            options["validation"] = LogisticObjective(
                X[held_out], y_codes[held_out], row_weights[held_out], len(self.classes_),
                self.fit_intercept,
            )  # fmt: skip
            # Held-out rows stay in X with zero weight: copying the rows trained on would
            # double the memory of the fit; each epoch spends a tenth of its rows on them.
            row_weights[held_out] = 0.0
        objective = make_objective(
            X, y_codes, row_weights, len(self.classes_), self.fit_intercept,
            n_threads=thread_budget(), center_scale=center_scale,
        )  # fmt: skip
        del row_weights  # the objective holds them normalised: one n-sized array, not two
        return task.end(self._fit_objective(objective, spec, options, dtype, offsets))

    def _fit_objective(
        self,
        objective,
        spec: SolverSpec,
        options: dict,
        dtype,
        offsets: ColumnOffsets | None = None,
    ):
        """Solve on a built objective and set the fitted attributes: ``fit``'s second half.

        With ``offsets``, the objective is on centred columns (:mod:`celr._offsets`) and
        its coefficients are converted to the model's here.
        """
        penalty = self._penalty(objective)
        # One BLAS thread per celr thread: idle OpenBLAS workers (numpy's and scipy's
        # pools) spin against the pointwise numpy work; on 2 cores one BLAS thread was
        # 1.2-11x faster for every size up to 500k x 100. Parallelism comes from row
        # blocks instead (celr._parallel). It also keeps the bits of the model: BLAS's
        # products (X.T @ r) differ in the last bit between one and two threads. Not
        # threadpoolctl's limit(), which restores what it found, which is 1 when another
        # fit runs: one_blas_thread() is one hold for all fits running at once.
        with one_blas_thread():
            result = self._solve(spec, objective, penalty, options, offsets)
            if not result.interrupted:
                self._record_statistics(objective, penalty, result, offsets)
        self._set_coefficients(objective, result.coef, dtype, penalty.is_smooth, offsets)
        self.n_iter_ = result.n_iter
        self.stop_crit_ = result.stop_crit
        self.loss_curve_ = np.asarray(result.history)
        self.validation_loss_curve_ = (
            np.asarray(result.validation_history) if result.validation_history else None
        )
        self._optimizer_state = result.state
        if result.interrupted:
            self._likelihood = self._information = None
            self._warn_interrupted(result)
        elif result.diverged:
            self._warn_diverged()
        else:
            self._warn_if_not_optimal(result)
        return self

    def _solve(self, spec: SolverSpec, objective, penalty, options, offsets) -> SolverResult:
        """Run the solver; on Ctrl-C, return the best point it reached."""
        coef0 = self._initial_coef(objective, offsets)
        unit = "epoch" if spec.stochastic else "iter"
        tasks = iteration_tasks(self, objective, penalty, offsets, coef0, f"{spec.name}-{unit}")
        monitor = FitMonitor(coef0, self.verbose, spec.name, unit, tasks=tasks)
        solve = spec.solve_for(penalty)
        if self.solver == "auto" and spec.name == "lbfgs":
            # Where the conditioning decides: L-BFGS, then Newton if it is slow.
            budget = lbfgs_budget(ProblemShape.of_objective(objective))
            solve, options = handover.solve, {**options, "budget": budget}
        try:
            return solve(
                objective, penalty, coef0, tol=self.tol, max_iter=self.max_iter,
                callback=monitor, **options,
            )  # fmt: skip
        except KeyboardInterrupt:
            return monitor.interrupted_result()
        finally:
            monitor.close()

    def _solver_name(self, shape: ProblemShape) -> str:
        if self.solver == "auto":
            return choose_solver(shape, self.l1_ratio)
        return self.solver

    def _training_objective(self, X, y, sample_weight) -> LogisticObjective:
        """The objective of a fitted model on given data, as ``fit`` would build it."""
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], dtype=FLOAT_DTYPES, reset=False
        )
        targets = encode_targets(
            y, sample_weight, self.class_weight, classes=self.classes_,
            need_two_weighted_classes=False,
        )  # fmt: skip
        offsets = self._fitted_offsets()
        if offsets is not None:
            X = offsets.centered(X)
        return LogisticObjective(
            X, targets.codes, targets.weights, len(self.classes_), self.fit_intercept
        )

    def _penalty(self, objective: LogisticObjective) -> ElasticNetPenalty:
        C, l1_ratio = self._regularization()
        return ElasticNetPenalty.for_layout(objective, C, l1_ratio, objective.weight_sum)

    def _regularization(self) -> tuple[float, float]:
        """``C`` and ``l1_ratio`` of the fitted model (the CV subclass chooses them)."""
        return self.C, self.l1_ratio

    def _solver_options(self, spec: SolverSpec, random_state) -> dict:
        """The estimator parameters ``spec`` takes, by name (one random state per fit)."""
        options = {name: getattr(self, name) for name in spec.options}
        if "random_state" in options:
            options["random_state"] = random_state
        return options
