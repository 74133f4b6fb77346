"""Fitting from a formula, as statsmodels' ``smf.logit(formula, data).fit()`` does.

The formula is parsed and encoded by formulaic (``pip install celr[formula]``); the design
matrix it builds is fitted by :class:`~celr.CrossEntropyLogisticRegression`.
"""

from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from celr._estimator import CrossEntropyLogisticRegression

#: What formulas may call besides the data's columns (kept in the model, so it pickles).
CONTEXT = {"np": np}
INTERCEPT = "Intercept"


class FormulaLogisticRegression(ClassifierMixin, BaseEstimator):
    """Logistic regression specified by a formula on a DataFrame (``y ~ x1 + C(g)``).

    The formula is encoded by formulaic with statsmodels' conventions: treatment contrasts
    for categoricals (``C(g)[T.b]``), an ``Intercept`` unless the formula says ``- 1`` or
    ``0 +``, rows with a missing value on either side dropped. The encoding (categorical
    levels, ...) is kept in ``model_spec_`` and applied to the DataFrames given to
    ``predict``, ``predict_proba``, ``score`` and the inference methods.

    Parameters
    ----------
    formula : str
        ``"y ~ x1 + np.log(x2) + C(region)"``; a one-sided ``"~ x1"`` takes the labels
        from ``fit``'s ``y``. A categorical response becomes its levels as classes.
    estimator : CrossEntropyLogisticRegression, default=None
        Fitted (cloned) on the design. None: ``CrossEntropyLogisticRegression(C=np.inf)``,
        the unpenalised maximum-likelihood fit statsmodels makes; note that this is *not*
        the plain estimator's default ``C=1.0``. Its ``fit_intercept`` is overridden by
        the formula.

    Attributes
    ----------
    estimator_ : CrossEntropyLogisticRegression
        The fitted clone of ``estimator``; its ``feature_names_in_`` are the design's
        columns.
    model_spec_ : formulaic.ModelSpec
        The encoding of the right-hand side.
    design_columns_ : list of str
        The design's columns without ``Intercept`` (statsmodels' ``exog_names`` but the
        intercept).
    classes_ : ndarray
        The class labels.

    Notes
    -----
    There are no ``feature_names_in_`` or ``n_features_in_``: the inputs are the
    DataFrame's columns the formula uses, not features in scikit-learn's sense (one
    column may give several design columns, a design column may combine several), and
    a DataFrame with more columns is accepted. ``design_columns_`` names the features.

    Examples
    --------
    >>> import pandas as pd
    >>> from celr import FormulaLogisticRegression
    >>> df = pd.DataFrame({"y": [0, 0, 1, 0, 1, 1, 0, 1], "x": [1, 2, 3, 4, 5, 6, 3, 2],
    ...                    "g": list("abababab")})
    >>> model = FormulaLogisticRegression("y ~ x + C(g)").fit(df)
    >>> model.design_columns_
    ['x', 'C(g)[T.b]']
    >>> model.summary()["estimate"].round(3)
    feature
    Intercept   -2.263
    x            0.754
    C(g)[T.b]   -0.307
    Name: estimate, dtype: float64

    statsmodels' ``smf.logit("y ~ x + C(g)", df).fit().params`` are the same numbers.
    """

    def __init__(self, formula: str, estimator: CrossEntropyLogisticRegression | None = None):
        self.formula = formula
        self.estimator = estimator

    # -- fitting ----------------------------------------------------------------------------
    def fit(
        self,
        data: pd.DataFrame,
        y: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
    ) -> FormulaLogisticRegression:
        """Encode ``data`` by the formula and fit the estimator on the design.

        Parameters
        ----------
        data : pandas.DataFrame
        y : array-like of shape (n_rows,), optional
            Needed with a one-sided formula. With a two-sided one it must equal the
            response on the rows kept.
        sample_weight : array-like of shape (n_rows,), optional
            Row weights, aligned with ``data`` by position.

        Returns
        -------
        self
        """
        formulaic = _formulaic()
        data = _checked_frame(data)
        matrices = _materialize(
            lambda d: formulaic.model_matrix(self.formula, d, context=CONTEXT), data
        )
        design, response, specs = _split(matrices)
        X, y, weight = _rows(design, response, data, y, sample_weight, response_spec=specs[1])
        inner = (
            CrossEntropyLogisticRegression(C=np.inf) if self.estimator is None else self.estimator
        )
        self.estimator_ = clone(inner).set_params(fit_intercept=INTERCEPT in design.columns)
        self.estimator_.fit(X, y, sample_weight=weight)
        self.model_spec_ = specs[0]
        self._model_specs = matrices.model_spec
        self.design_columns_ = list(X.columns)
        self.classes_ = self.estimator_.classes_
        return self

    @property
    def coef_(self) -> np.ndarray:
        """``estimator_.coef_``: one column per entry of ``design_columns_``."""
        return self.estimator_.coef_

    @property
    def intercept_(self) -> np.ndarray:
        """``estimator_.intercept_`` (zeros without intercept)."""
        return self.estimator_.intercept_

    # -- prediction -------------------------------------------------------------------------
    def _design(self, data: pd.DataFrame) -> pd.DataFrame:
        """The right-hand side's encoding of new data (missing values are refused)."""
        check_is_fitted(self, "estimator_")
        data = _checked_frame(data)
        design = _materialize(
            lambda d: self.model_spec_.get_model_matrix(d, na_action="raise"),
            data,
            self.model_spec_,
        )
        return pd.DataFrame(design).drop(columns=INTERCEPT, errors="ignore")

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        """Predicted class of each row of ``data``."""
        return self.estimator_.predict(self._design(data))

    def predict_proba(self, data: pd.DataFrame) -> np.ndarray:
        """Class probabilities, shape (n_rows, n_classes), columns in ``classes_`` order."""
        return self.estimator_.predict_proba(self._design(data))

    def predict_log_proba(self, data: pd.DataFrame) -> np.ndarray:
        """Logarithms of :meth:`predict_proba`."""
        return self.estimator_.predict_log_proba(self._design(data))

    def decision_function(self, data: pd.DataFrame) -> np.ndarray:
        """Scores: the log-odds of ``classes_[1]`` for two classes, else one per class."""
        return self.estimator_.decision_function(self._design(data))

    def score(
        self,
        data: pd.DataFrame,
        y: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
    ) -> float:
        """Accuracy on ``data``; the labels are the formula's response unless ``y`` is given."""
        X, y, weight = self._inference_data(data, y, sample_weight)
        return self.estimator_.score(X, y, sample_weight=weight)

    # -- inference --------------------------------------------------------------------------
    def summary(
        self,
        data: pd.DataFrame | None = None,
        y: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
        *,
        alpha: float = 0.05,
        cov_type: str = "nonrobust",
        groups: ArrayLike | None = None,
    ) -> pd.DataFrame:
        """:meth:`CrossEntropyLogisticRegression.summary` on the design, rows named as in
        statsmodels (``Intercept``, ``C(g)[T.b]``).

        ``data`` (with ``y`` and ``sample_weight`` as given to ``fit``) is optional when
        the fit kept its information; otherwise the estimator's error says why it did
        not. ``alpha``, ``cov_type`` and ``groups`` as in the estimator's ``summary``.
        """
        kwargs = {"alpha": alpha, "cov_type": cov_type, "groups": groups}
        return _relabel(self._delegate("summary", data, y, sample_weight, kwargs))

    def cov_params(
        self,
        data: pd.DataFrame | None = None,
        y: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
        *,
        cov_type: str = "nonrobust",
        groups: ArrayLike | None = None,
    ) -> pd.DataFrame:
        """:meth:`CrossEntropyLogisticRegression.cov_params` on the design (see
        :meth:`summary`)."""
        kwargs = {"cov_type": cov_type, "groups": groups}
        return _relabel(self._delegate("cov_params", data, y, sample_weight, kwargs))

    def results(
        self,
        data: pd.DataFrame | None = None,
        y: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
        **kwargs,
    ):
        """The estimator's ``results`` view on the design (see :meth:`summary`); keywords
        (``alpha``, ``cov_type``, ``groups``) are passed on."""
        found = self._delegate("results", data, y, sample_weight, kwargs)
        return dataclasses.replace(found, table=_relabel(found.table), cov=_relabel(found.cov))

    def margeff(
        self,
        data: pd.DataFrame,
        y: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
        **kwargs,
    ) -> pd.DataFrame:
        """The estimator's marginal effects on the design of ``data`` (keywords ``at``,
        ``cov_type``, ``alpha`` passed on), per design column."""
        return _relabel(self._delegate("margeff", data, y, sample_weight, kwargs))

    def lr_test(self, restricted: FormulaLogisticRegression | None = None):
        """Likelihood-ratio test against a nested formula fit on the same rows (None: the
        model without features); see :meth:`CrossEntropyLogisticRegression.lr_test`."""
        check_is_fitted(self, "estimator_")
        inner = restricted.estimator_ if isinstance(restricted, type(self)) else restricted
        return self.estimator_.lr_test(inner)

    def _delegate(self, name, data, y, sample_weight, kwargs):
        check_is_fitted(self, "estimator_")
        method = getattr(self.estimator_, name, None)
        if method is None:
            raise AttributeError(f"{type(self.estimator_).__name__} has no {name}().")
        if data is None:
            return method(**kwargs)
        X, y, weight = self._inference_data(data, y, sample_weight)
        return method(X, y, weight, **kwargs)

    def _inference_data(self, data, y, sample_weight):
        """Design, labels and weights of ``data``, rows dropped as ``fit`` dropped them."""
        formulaic = _formulaic()
        check_is_fitted(self, "estimator_")
        data = _checked_frame(data)
        # Two-sided: rows with a missing response are dropped too, as in fit.
        spec = self._model_specs if isinstance(self._model_specs, formulaic.ModelSpecs) else None
        matrices = _materialize(
            lambda d: formulaic.model_matrix(spec or self.model_spec_, d), data, self.model_spec_
        )
        design, response, found = _split(matrices)
        return _rows(design, response, data, y, sample_weight, response_spec=found[1])


# -- helpers ------------------------------------------------------------------------------
def _formulaic():
    try:
        import formulaic
    except ImportError as error:  # an optional dependency: the 'formula' extra
        raise ImportError(
            "Formulas need formulaic: pip install 'celr[formula]' (or formulaic)."
        ) from error
    return formulaic


def _checked_frame(data) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            f"A formula is evaluated on a pandas DataFrame, got {type(data).__name__}."
        )
    return data.reset_index(drop=True)  # the design's index is then the row position


def _materialize(build, data: pd.DataFrame, spec=None):
    """``build(data)``, formulaic's errors as ValueErrors naming the column or level."""
    from formulaic.errors import DataMismatchWarning, FactorEvaluationError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DataMismatchWarning)
            return build(data)
    except FactorEvaluationError as error:
        raise ValueError(f"Cannot evaluate the formula on the data: {error}") from error
    except DataMismatchWarning as warning:
        raise ValueError(f"{_unseen_levels(spec, data)}: {warning}") from None


def _unseen_levels(spec, data: pd.DataFrame) -> str:
    """Which categorical factor of ``spec`` meets levels not seen in ``fit``."""
    found = []
    for factor, (kind, state) in getattr(spec, "encoder_state", {}).items():
        match = re.fullmatch(r"\s*C\(\s*([^,)]+?)\s*[,)].*", factor)
        column = match.group(1) if match else factor
        if getattr(kind, "value", kind) != "categorical" or column not in data.columns:
            continue
        unseen = set(data[column].dropna().unique()) - set(state.get("categories", []))
        if unseen:
            found.append(f"column {column!r} (factor {factor}) has levels {sorted(unseen)}")
    detail = "; ".join(found) if found else "a categorical factor has new levels"
    return f"Levels not seen in fit: {detail}"


def _split(matrices):
    """(design, response or None, (rhs spec, lhs spec or None)) of formulaic's output."""
    if not hasattr(matrices, "lhs"):  # a one-sided formula gives the design alone
        return pd.DataFrame(matrices), None, (matrices.model_spec, None)
    lhs, rhs = matrices.lhs, matrices.rhs
    return pd.DataFrame(rhs), pd.DataFrame(lhs), (rhs.model_spec, lhs.model_spec)


def _rows(design, response, data, y, sample_weight, *, response_spec):
    """Features, labels and weights of the design's rows (positions in ``data``)."""
    kept = design.index.to_numpy()
    X = design.drop(columns=INTERCEPT, errors="ignore").reset_index(drop=True)
    labels = None if response is None else _decode(response, response_spec)
    y, weight = (
        _positional(v, name, data, kept)
        for v, name in [(y, "y"), (sample_weight, "sample_weight")]
    )
    if y is None and labels is None:
        raise ValueError("A one-sided formula ('~ x') needs y.")
    if y is not None and labels is not None and not np.array_equal(labels, y):
        raise ValueError("y differs from the formula's response on the rows kept.")
    return X, labels if y is None else y, weight


def _positional(values, name, data, kept):
    """``values`` (aligned with ``data`` by position) on the rows kept."""
    if values is None:
        return None
    values = np.asarray(values)
    if len(values) != len(data):
        raise ValueError(f"{name} has {len(values)} entries, the data {len(data)} rows.")
    return values[kept]


def _decode(response: pd.DataFrame, spec) -> np.ndarray:
    """The labels of formulaic's response: one column, or one indicator per level."""
    if response.shape[1] == 1:
        return response.iloc[:, 0].to_numpy()
    states = [state for _, state in getattr(spec, "encoder_state", {}).values()]
    levels = states[0].get("categories") if len(states) == 1 else None
    if levels is None or len(levels) != response.shape[1]:
        raise ValueError(f"The response must be one column, got {list(response.columns)}.")
    return np.asarray(levels)[response.to_numpy().argmax(axis=1)]


def _relabel(frame: pd.DataFrame) -> pd.DataFrame:
    """celr's ``intercept`` row and column labels as statsmodels' ``Intercept``."""
    names = {"intercept": INTERCEPT}
    return frame.rename(index=names, columns=names) if isinstance(frame, pd.DataFrame) else frame


def logit(
    formula: str,
    data: pd.DataFrame,
    *,
    sample_weight: ArrayLike | None = None,
    **params,
) -> FormulaLogisticRegression:
    """Fit ``formula`` on ``data``, like statsmodels' ``smf.logit(formula, data).fit()``.

    Parameters
    ----------
    formula : str
    data : pandas.DataFrame
    sample_weight : array-like of shape (n_rows,), optional
    **params
        Parameters of :class:`CrossEntropyLogisticRegression`; ``C`` defaults to
        ``np.inf`` (unpenalised).

    Returns
    -------
    FormulaLogisticRegression
        Fitted.

    Examples
    --------
    >>> import pandas as pd
    >>> from celr import logit
    >>> df = pd.DataFrame({"y": [0, 0, 1, 0, 1, 1], "x": [1.0, 2, 3, 4, 5, 6]})
    >>> logit("y ~ x", df).summary()["estimate"].round(3).tolist()
    [-4.249, 1.214]
    """
    params.setdefault("C", np.inf)
    estimator = CrossEntropyLogisticRegression(**params)
    return FormulaLogisticRegression(formula, estimator).fit(data, sample_weight=sample_weight)
