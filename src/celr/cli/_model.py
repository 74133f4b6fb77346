"""The model the tool fits, and model files: build, split, fit, save, load."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from celr import CrossEntropyLogisticRegression, show_progress
from celr.cli._data import refuse_missing_values, split_feature_kinds
from celr.cli._errors import CLIError, suggest

#: Largest model (coefficients and intercepts) fitted with ``store_covariance=True``: two
#: dense n_params^2 matrices (64 MB) and a Hessian, cheap beside the fit up to here.
COVARIANCE_MAX_PARAMS = 2000
#: Seconds a fit runs before its progress bar shows.
PROGRESS_DELAY = 1.0


@dataclass
class FitOutcome:
    """A fitted pipeline, the rows it was fitted and held out on, and its cost."""

    model: Pipeline
    X_train: pd.DataFrame
    y_train: pd.Series
    X_test: pd.DataFrame | None
    y_test: pd.Series | None
    seconds: float
    n_params: int
    numeric: list[str]
    categorical: list[str]


def build_pipeline(X: pd.DataFrame, n_classes: int, estimator_params: dict) -> tuple:
    """ColumnTransformer (scale numbers, one-hot encode the rest) + the classifier.

    Returns the pipeline, its number of parameters and the numeric and categorical columns.
    """
    numeric, categorical = split_feature_kinds(X, list(X.columns))
    unpenalised = np.isinf(estimator_params["C"])
    # Without a penalty, a full one-hot block plus the intercept is collinear: no unique
    # optimum and no coefficient table. Dropping each column's first category (reference
    # coding) identifies the model; a penalty identifies it anyway and treats every
    # category alike, so then all are kept.
    drop = "first" if unpenalised else None
    encoder = OneHotEncoder(handle_unknown="ignore", drop=drop, sparse_output=False)
    columns = ColumnTransformer(
        [("num", StandardScaler(), numeric), ("cat", encoder, categorical)],
        verbose_feature_names_out=True,
    )
    n_outputs = len(numeric) + sum(X[c].nunique() - (drop is not None) for c in categorical)
    n_params = (1 if n_classes == 2 else n_classes) * (n_outputs + 1)
    classifier = CrossEntropyLogisticRegression(
        **estimator_params, store_covariance=n_params <= COVARIANCE_MAX_PARAMS
    )
    # Pandas output carries the encoded column names (num__age, cat__city_Paris) into
    # the classifier's feature_names_in_, where summary() and the plots find them.
    pipeline = Pipeline([("columns", columns), ("classifier", classifier)])
    return pipeline.set_output(transform="pandas"), n_params, numeric, categorical


def held_out_split(X: pd.DataFrame, y: pd.Series, test_size: float, random_state: int):
    """Stratified train/test split; ``test_size=0`` keeps every row for training."""
    if test_size == 0:
        return X, None, y, None
    counts = y.value_counts()
    if counts.min() < 2:
        raise CLIError(
            f"class {counts.idxmin()!r} of target {y.name!r} has a single row: a stratified "
            "held-out split needs two per class; add rows or use --test-size 0"
        )
    n_test = int(np.ceil(test_size * len(y)))
    if n_test < len(counts) or len(y) - n_test < len(counts):
        raise CLIError(
            f"--test-size {test_size:g} of {len(y)} rows leaves too few rows for "
            f"{len(counts)} classes on one side of the split; change it or use --test-size 0"
        )
    return train_test_split(X, y, test_size=test_size, stratify=y, random_state=random_state)


def fit_model(X, y, *, test_size: float, random_state: int, estimator_params: dict):
    """Split, build and fit; a progress bar shows if the fit takes over a second."""
    X_train, X_test, y_train, y_test = held_out_split(X, y, test_size, random_state)
    n_classes = y.nunique()
    model, n_params, numeric, categorical = build_pipeline(X_train, n_classes, estimator_params)
    start = time.perf_counter()
    with show_progress(delay=PROGRESS_DELAY):
        model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return FitOutcome(
        model, X_train, y_train, X_test, y_test, seconds, n_params, numeric, categorical
    )


def save_model(model, path: str | Path) -> None:
    """Write a safe model file (no pickle: nothing runs when it is loaded)."""
    from celr._persist import save

    save(model, path)


def load_model(path: str | Path):
    """Load a model file written by ``celr fit`` (or ``celr.save``)."""
    from celr._persist import load

    path = Path(path)
    if path.is_dir():
        raise CLIError(f"{path} is a directory, not a model file")
    if not path.exists():
        raise CLIError(f"{path}: no such model file")
    # ModelFileError (a ValueError) names the fault of a corrupt or foreign file; main()
    # prints it like any other bad input.
    return load(path)


def classifier_of(model) -> CrossEntropyLogisticRegression:
    """The celr classifier: the model itself or its pipeline's last step."""
    classifier = model[-1] if isinstance(model, Pipeline) else model
    if not hasattr(classifier, "predict_proba") or not hasattr(classifier, "classes_"):
        raise CLIError(f"the model file holds a {type(classifier).__name__}, not a classifier")
    return classifier


def required_columns(model) -> list[str] | None:
    """The columns the model reads, by name; None when it was fitted without names."""
    names = getattr(model, "feature_names_in_", None)
    return None if names is None else [str(name) for name in names]


def model_inputs(model, frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """The columns of ``frame`` the model needs, in its order (extra columns are ignored)."""
    needed = required_columns(model)
    if needed is None:
        n_features = getattr(model, "n_features_in_", frame.shape[1])
        if frame.shape[1] != n_features:
            raise CLIError(
                f"{where} has {frame.shape[1]} columns; the model was fitted on {n_features} "
                "unnamed ones"
            )
        needed = list(frame.columns)
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        hints = ", ".join(f"{name!r}{suggest(name, list(frame.columns))}" for name in missing)
        noun = "a column" if len(missing) == 1 else "columns"
        raise CLIError(f"{where} lacks {noun} the model needs: {hints}")
    refuse_missing_values(frame, needed, where)
    X = frame[needed]
    _refuse_text_in_numbers(model, X, where)
    return X


def _refuse_text_in_numbers(model, X: pd.DataFrame, where: str) -> None:
    """Columns the model scales as numbers must be numbers here too."""
    columns = model[0] if isinstance(model, Pipeline) else None
    if not isinstance(columns, ColumnTransformer):
        return
    numeric = [c for name, _, cols in columns.transformers_ if name == "num" for c in cols]
    for column in numeric:
        if pd.api.types.is_numeric_dtype(X[column].dtype):
            continue
        text = X[column][pd.to_numeric(X[column], errors="coerce").isna()]
        if len(text):
            raise CLIError(
                f"column {column!r} of {where} should hold numbers (the model was fitted "
                f"on numbers) but holds text such as {str(text.iloc[0])!r}"
            )
