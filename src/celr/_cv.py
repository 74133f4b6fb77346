"""CrossEntropyLogisticRegressionCV: ``C`` and ``l1_ratio`` chosen by cross-validation."""

from __future__ import annotations

import copy
import inspect
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from joblib import Parallel, delayed
from numpy.typing import ArrayLike
from sklearn.base import _fit_context, clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import (
    UNUSED,
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_method_params,
    _check_sample_weight,
    _num_samples,
    validate_data,
)

from celr._array_api_fit import refuse_array_api
from celr._columns import path_data
from celr._estimator import CrossEntropyLogisticRegression
from celr._inputs import FLOAT_DTYPES
from celr._path import c_grid, warm_path
from celr.solvers import SOLVERS
from celr.solvers._cost import ProblemShape

_FULL_BATCH_SOLVERS = {name for name, spec in SOLVERS.items() if not spec.stochastic}


class CrossEntropyLogisticRegressionCV(CrossEntropyLogisticRegression):
    """:class:`CrossEntropyLogisticRegression` with ``C`` and ``l1_ratio`` chosen by
    cross-validation, each fold fitted along a warm-started regularization path.

    For every fold and every ``l1_ratio`` the model is fitted along the grid ``Cs``, from
    the smallest ``C`` up, each fit starting from the previous solution (see
    :func:`regularization_path`); each fit is scored on the held-out part of the fold.
    The pair with the best mean score wins (the smallest ``C`` and then the smallest
    ``l1_ratio`` among ties), and with ``refit`` the model is fitted on all the data
    with it.

    Parameters
    ----------
    Cs : int or array-like, default=10
        The grid of ``C``, or a number of values: ``logspace(-4, 4, Cs)`` when every
        ``l1_ratio`` is 0; else 4 decades up from :func:`l1_min_c` (the ``C`` below
        which all weights are zero) of the largest ``l1_ratio``, on all the data.
    l1_ratios : array-like of float, default=(0.0,)
        Elastic-net mixings to try, each in [0, 1].
    fit_intercept : bool, default=True
    cv : int, cross-validation generator or iterable, default=None
        As in scikit-learn: None is 5-fold ``StratifiedKFold``, an int that many folds.
    scoring : str or callable, default='neg_log_loss'
        Scorer for the held-out folds (greater is better), as in ``GridSearchCV``;
        ``sample_weight`` given to ``fit`` is passed to it (with metadata routing
        enabled, only if the scorer requests it, as in ``LogisticRegressionCV``).
        A metric taking ``labels`` (log-loss, Brier score) is given all the classes of
        ``y``, so a held-out fold may lack some.
    refit : bool, default=True
        Refit on all the data with the best ``C`` and ``l1_ratio``. If False, the model
        is the mean of the folds' coefficients at the best pair.
    solver : {'auto', 'newton', 'lbfgs', 'gd'}, default='auto'
    tol : float, default=1e-8
    max_iter : int, default=1000
    class_weight : dict, 'balanced' or None, default=None
    n_jobs : int, default=None
        Folds (times ``l1_ratios``) fitted in parallel with joblib; None is 1.
    verbose : int, default=0
    random_state : int, RandomState instance or None, default=None
        Unused by the full-batch solvers; kept for scikit-learn compatibility.

    Attributes
    ----------
    C_ : float
        The chosen ``C``.
    l1_ratio_ : float
        The chosen ``l1_ratio``.
    Cs_ : ndarray of shape (n_Cs,)
        The grid, increasing.
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
    scores_ : ndarray of shape (n_folds, n_l1_ratios, n_Cs)
        Held-out score of every fit.
    coefs_paths_ : ndarray of shape (n_folds, n_l1_ratios, n_Cs, n_scores, n_coef)
        Coefficients of every fit, the intercept last (``n_scores`` is 1 for two classes;
        ``n_coef`` is ``n_features + 1`` with an intercept).
    n_iter_paths_ : ndarray of shape (n_folds, n_l1_ratios, n_Cs)
        Solver iterations of every fit.
    cv_results_ : dict of ndarrays
        One entry per (``l1_ratio``, ``C``) pair, as ``GridSearchCV``'s:
        ``param_C``, ``param_l1_ratio``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score``, ``split<k>_test_score``, ``mean_n_iter``;
        ``pandas.DataFrame(cv_results_)`` is the table.
    classes_, coef_, intercept_, n_iter_, stop_crit_, loss_curve_, solver_
        Of the refitted model. Without ``refit``: the folds' mean coefficients, the
        folds' largest ``n_iter_`` at the best pair, and ``stop_crit_`` and
        ``loss_curve_`` None.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from celr import CrossEntropyLogisticRegressionCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = CrossEntropyLogisticRegressionCV(Cs=5, l1_ratios=[0.0, 1.0]).fit(X, y)
    >>> model.scores_.shape
    (5, 2, 5)
    >>> float(model.C_) in model.Cs_, model.l1_ratio_ in (0.0, 1.0)
    (True, True)

    Folds that keep groups of rows together:

    >>> import numpy as np
    >>> from sklearn.model_selection import GroupKFold
    >>> groups = np.arange(len(y)) // 10
    >>> grouped = CrossEntropyLogisticRegressionCV(Cs=3, cv=GroupKFold(4))
    >>> grouped.fit(X, y, groups=groups).scores_.shape
    (4, 1, 3)
    """

    # ``groups`` is for the splitter (see get_metadata_routing), not requested by self.
    __metadata_request__fit: ClassVar[dict] = {"groups": UNUSED}

    _parameter_constraints: ClassVar[dict] = {
        "Cs": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "l1_ratios": ["array-like"],
        "fit_intercept": ["boolean"],
        "cv": ["cv_object"],
        "scoring": [StrOptions({"neg_log_loss"}), str, callable, None],
        "refit": ["boolean"],
        "solver": [StrOptions({"auto", *_FULL_BATCH_SOLVERS})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        Cs: int | ArrayLike = 10,
        *,
        l1_ratios: ArrayLike = (0.0,),
        fit_intercept: bool = True,
        cv=None,
        scoring: str | None = "neg_log_loss",
        refit: bool = True,
        solver: str = "auto",
        tol: float = 1e-8,
        max_iter: int = 1000,
        class_weight: dict | str | None = None,
        n_jobs: int | None = None,
        verbose: int = 0,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = False  # the folds' fits and scores run on NumPy input
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        groups: ArrayLike | None = None,
        **params,
    ):
        """Cross-validate the grid of ``C`` and ``l1_ratios``, then refit.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, in every fit and in the held-out scores (with metadata routing
            enabled, in the scores only if the scorer requests them).
        groups : array-like of shape (n_samples,), default=None
            Group labels of the rows for ``cv``'s ``split`` (``GroupKFold``...); taken
            without metadata routing too, as by ``GridSearchCV`` and ``RFECV``.
        **params : dict
            Other metadata for the splitter and the scorer, with metadata routing only.

        Returns
        -------
        self : CrossEntropyLogisticRegressionCV
        """
        _raise_for_params(params, self, "fit")
        refuse_array_api(self, X, "fit")
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], dtype=FLOAT_DTYPES)
        check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        split_params, score_params = self._routed_params(X, sample_weight, groups, params)
        self.l1_ratios_ = self._checked_l1_ratios()
        self.Cs_ = c_grid(
            self.Cs, X, y, l1_ratio=float(self.l1_ratios_.max()), sample_weight=sample_weight,
            class_weight=self.class_weight, fit_intercept=self.fit_intercept,
        )  # fmt: skip
        folds = list(check_cv(self.cv, y, classifier=True).split(X, y, **split_params))
        classes = np.unique(y)
        _check_training_folds(folds, y, classes)
        scorer = _with_labels(self._scorer(), classes)
        tasks = [(fold, l1_ratio) for fold in folds for l1_ratio in self.l1_ratios_]
        paths = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(
            delayed(_fold_path)(
                self._path_estimator(l1_ratio), X, y, sample_weight, train, test, self.Cs_,
                scorer, score_params,
            )
            for (train, test), l1_ratio in tasks
        )  # fmt: skip
        self._store_paths(paths, len(folds))
        best_l1, best_c = self._best_pair()
        self.C_, self.l1_ratio_ = float(self.Cs_[best_c]), float(self.l1_ratios_[best_l1])
        self.cv_results_ = self._results_table()
        self._fit_final(X, y, sample_weight, best_l1, best_c)
        return self

    def get_metadata_routing(self) -> MetadataRouter:
        """Get the metadata routing of this object, as ``LogisticRegressionCV``'s.

        ``fit`` routes metadata to ``cv``'s ``split`` and to the scorer's ``score``
        (see scikit-learn's metadata routing user guide); ``sample_weight`` is also
        always used by the fits themselves.

        Returns
        -------
        routing : MetadataRouter
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(
                splitter=self.cv,
                method_mapping=MethodMapping().add(caller="fit", callee="split"),
            )
            .add(
                scorer=self._scorer(),
                method_mapping=MethodMapping().add(caller="fit", callee="score"),
            )
        )

    def _store_paths(self, paths, n_folds: int) -> None:
        shape = (n_folds, len(self.l1_ratios_), len(self.Cs_))
        self.scores_ = np.array([scores for scores, _, _ in paths]).reshape(shape)
        self.n_iter_paths_ = np.array([n_iter for _, _, n_iter in paths]).reshape(shape)
        self.coefs_paths_ = np.array([coefs for _, coefs, _ in paths])
        self.coefs_paths_ = self.coefs_paths_.reshape(shape + self.coefs_paths_.shape[2:])

    def _scorer(self):
        # None is the estimator's score, accuracy: as a scorer, it can request metadata.
        scoring = "accuracy" if self.scoring is None else self.scoring
        return check_scoring(self._path_estimator(0.0), scoring=scoring)

    def _routed_params(self, X, sample_weight, groups, params) -> tuple[dict, dict]:
        """Metadata for ``cv.split`` and the scorer, as ``LogisticRegressionCV`` routes
        it; without routing, ``groups`` to the splitter, ``sample_weight`` to the scorer."""
        if groups is not None and _num_samples(groups) != X.shape[0]:
            raise ValueError(
                f"groups has {_num_samples(groups)} entries but X has {X.shape[0]} rows; "
                "it needs one group label per row."
            )
        if _routing_enabled():
            extra = {} if groups is None else {"groups": groups}
            routed = process_routing(self, "fit", sample_weight=sample_weight, **params, **extra)
            return dict(routed["splitter"]["split"]), dict(routed["scorer"]["score"])
        split_params = {} if groups is None else {"groups": groups}
        score_params = {} if sample_weight is None else {"sample_weight": sample_weight}
        return split_params, score_params

    def _stochastic(self) -> bool:
        raise AttributeError(
            "CrossEntropyLogisticRegressionCV has no partial_fit: cross-validation needs "
            "all the rows at once."
        )

    def _checked_l1_ratios(self) -> np.ndarray:
        l1_ratios = np.asarray(self.l1_ratios, dtype=np.float64).ravel()
        if l1_ratios.size == 0 or not np.all((l1_ratios >= 0) & (l1_ratios <= 1)):
            raise ValueError(
                f"l1_ratios must be a non-empty list of values in [0, 1], got {self.l1_ratios}."
            )
        return np.unique(l1_ratios)

    def _path_estimator(self, l1_ratio: float) -> CrossEntropyLogisticRegression:
        return CrossEntropyLogisticRegression(
            l1_ratio=float(l1_ratio),
            fit_intercept=self.fit_intercept,
            solver=self.solver,
            tol=self.tol,
            max_iter=self.max_iter,
            class_weight=self.class_weight,
        )

    def _best_pair(self) -> tuple[int, int]:
        """Indices of the best mean score; ties go to the smallest ``C``, then ``l1_ratio``."""
        mean = self.scores_.mean(axis=0)
        flat = np.flatnonzero(mean.T.ravel() == np.max(mean))[0]  # C-major: smallest C first
        best_c, best_l1 = divmod(int(flat), len(self.l1_ratios_))
        return best_l1, best_c

    def _results_table(self) -> dict:
        n_folds = self.scores_.shape[0]
        per_fit = self.scores_.reshape(n_folds, -1)  # l1_ratio-major, C within
        mean, std = per_fit.mean(axis=0), per_fit.std(axis=0)
        order = np.argsort(-mean, kind="stable")
        rank = np.empty(mean.size, dtype=np.int32)
        rank[order] = 1 + np.searchsorted(-mean[order], -mean[order], side="left")
        results = {
            "param_l1_ratio": np.repeat(self.l1_ratios_, len(self.Cs_)),
            "param_C": np.tile(self.Cs_, len(self.l1_ratios_)),
            "mean_test_score": mean,
            "std_test_score": std,
            "rank_test_score": rank,
        }
        for k in range(n_folds):
            results[f"split{k}_test_score"] = per_fit[k]
        results["mean_n_iter"] = self.n_iter_paths_.reshape(n_folds, -1).mean(axis=0)
        return results

    def _fit_final(self, X, y, sample_weight, best_l1: int, best_c: int) -> None:
        final = self._path_estimator(self.l1_ratio_).set_params(C=self.C_)
        if self.refit:
            self._adopt_fit(final.fit(X, y, sample_weight=sample_weight))
            return
        mean_coef = self.coefs_paths_[:, best_l1, best_c].mean(axis=0)
        self.classes_ = np.unique(y)
        if self.fit_intercept:
            self.coef_, self.intercept_ = mean_coef[:, :-1], mean_coef[:, -1]
        else:
            self.coef_, self.intercept_ = mean_coef, np.zeros(mean_coef.shape[0])
        self.coef_ = self.coef_.astype(X.dtype)
        self.intercept_ = self.intercept_.astype(X.dtype)
        self.n_iter_ = int(self.n_iter_paths_[:, best_l1, best_c].max())
        self.stop_crit_ = self.loss_curve_ = self.validation_loss_curve_ = None
        self._likelihood = self._information = None  # a mean of fits is no optimum
        self._centered_model = None
        self.solver_ = final._solver_name(
            ProblemShape.of(X, len(self.classes_), self.fit_intercept)
        )

    def _regularization(self) -> tuple[float, float]:
        return self.C_, self.l1_ratio_


def _check_training_folds(folds, y, classes) -> None:
    """Every class in every training fold: else the folds' models are not comparable."""
    for k, (train, _) in enumerate(folds):
        missing = np.setdiff1d(classes, y[train])
        if missing.size:
            raise ValueError(
                f"Training fold {k} has no row of class(es) {missing.tolist()}; every class "
                "must be in every training fold (e.g. use StratifiedKFold or "
                "StratifiedGroupKFold)."
            )


def _with_labels(scorer, classes):
    """The scorer, its metric given ``labels=classes`` if it takes ``labels`` (as
    LogisticRegressionCV does): a held-out fold may lack classes the model predicts."""
    kwargs = getattr(scorer, "_kwargs", None)
    try:
        takes_labels = "labels" in inspect.signature(scorer._score_func).parameters
    except (AttributeError, TypeError, ValueError):  # not a metric's scorer
        return scorer
    if kwargs is None or "labels" in kwargs or not takes_labels:
        return scorer
    scorer = copy.copy(scorer)  # the caller's scorer is left as it is
    scorer._kwargs = {**kwargs, "labels": classes}
    return scorer


def _fold_path(estimator, X, y, sample_weight, train, test, Cs, scorer, score_params):
    """Scores, coefficients (intercept last) and iterations along one fold's path."""
    fit_weight = None if sample_weight is None else sample_weight[train]
    score_kwargs = _check_method_params(X, params=score_params, indices=test)
    X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]
    scores, coefs, n_iter = [], [], []
    # As regularization_path's: the fold's fits share X's columns, statistics and each
    # warm start's evaluation.
    with path_data(X_train):
        for fitted in warm_path(clone(estimator), X_train, y_train, Cs, fit_weight):
            scores.append(scorer(fitted, X_test, y_test, **score_kwargs))
            coef = fitted.coef_
            if fitted.fit_intercept:
                coef = np.column_stack([coef, fitted.intercept_])
            coefs.append(coef)
            n_iter.append(fitted.n_iter_)
    return scores, coefs, n_iter
