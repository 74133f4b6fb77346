"""Tables in and out: CSV, TSV and Parquet files, and the checks that make them usable."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import type_of_target

from celr.cli._errors import CLIError, quoted, unknown_columns

#: File name endings and the format each means; pandas decompresses the listed wrappers.
FORMATS = {".csv": "CSV", ".tsv": "TSV", ".tab": "TSV", ".parquet": "Parquet", ".pq": "Parquet"}
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zip", ".zst")
PARQUET_HINT = 'Parquet files need pyarrow: pip install "celr[parquet]"'


def table_format(path: Path) -> str:
    """``'CSV'``, ``'TSV'`` or ``'Parquet'``, from the file name's ending."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSIONS:
        suffixes = suffixes[:-1]
    kind = FORMATS.get(suffixes[-1]) if suffixes else None
    if kind is None:
        raise CLIError(
            f"{path}: unknown file type {path.suffix or '(no extension)'!r}; "
            "use .csv, .tsv or .parquet"
        )
    return kind


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a data file, refusing anything that is not a non-empty table."""
    path = Path(path)
    kind = table_format(path)
    if path.is_dir():
        raise CLIError(f"{path} is a directory, not a data file")
    if not path.exists():
        raise CLIError(f"{path}: no such file")
    if kind != "Parquet" and _looks_binary(path):
        raise CLIError(f"cannot read {path} as {kind}: it is a binary file, not text")
    try:
        if kind == "Parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep="\t" if kind == "TSV" else ",")
    except ImportError as exc:
        raise CLIError(PARQUET_HINT) from exc
    except pd.errors.EmptyDataError as exc:
        raise CLIError(f"{path} is empty") from exc
    except UnicodeDecodeError as exc:
        raise CLIError(f"cannot read {path} as {kind}: it is not UTF-8 text") from exc
    except (ValueError, pd.errors.ParserError, OSError) as exc:
        # Arrow's ArrowInvalid is a ValueError; its first line names the fault.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CLIError(f"cannot read {path} as {kind}: {reason}") from exc
    if frame.shape[1] == 0 or len(frame) == 0:
        raise CLIError(f"{path} has no data rows")
    frame.columns = [str(column) for column in frame.columns]
    return frame


def _looks_binary(path: Path) -> bool:
    """A NUL byte near the start: no text file has one (pandas would parse garbage)."""
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as file:
            return b"\0" in file.read(8192)
    except OSError:
        return False  # let pandas report what is wrong with it


def check_output_path(path: str | Path) -> Path:
    """A table file to write later: its format is known and its folder exists."""
    path = Path(path)
    table_format(path)
    if not path.parent.is_dir():
        raise CLIError(f"cannot write {path}: folder {path.parent} does not exist")
    return path


def write_table(frame: pd.DataFrame, path: str | Path | None, stdout: TextIO) -> None:
    """Write ``frame`` to ``path`` in the format its name gives, or as CSV to stdout."""
    if path is None:
        frame.to_csv(stdout, index=False)
        return
    path = Path(path)
    kind = table_format(path)
    if kind == "Parquet":
        try:
            frame.to_parquet(path, index=False)
        except ImportError as exc:
            raise CLIError(PARQUET_HINT) from exc
    else:
        frame.to_csv(path, index=False, sep="\t" if kind == "TSV" else ",")


def require_columns(frame: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    """Refuse, naming them and close matches, columns that ``frame`` lacks."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise CLIError(unknown_columns(missing, list(frame.columns), where))


def refuse_missing_values(frame: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    """Refuse empty cells: imputing is a modelling choice the user should make."""
    counts = frame[list(columns)].isna().sum()
    counts = counts[counts > 0]
    if len(counts):
        detail = ", ".join(f"{name!r} ({n} of {len(frame)} rows)" for name, n in counts.items())
        raise CLIError(
            f"{where} has missing values in {'column' if len(counts) == 1 else 'columns'} "
            f"{detail}; celr does not impute: drop or fill "
            "those rows first"
        )


def split_feature_kinds(frame: pd.DataFrame, features: Sequence[str]) -> tuple[list, list]:
    """The numeric columns (to standardise) and categorical ones (to one-hot encode)."""
    numeric, categorical, unusable = [], [], []
    for name in features:
        dtype = frame[name].dtype
        if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            is_text = pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
            is_category = isinstance(dtype, pd.CategoricalDtype)
            usable = pd.api.types.is_bool_dtype(dtype) or is_text or is_category
            (categorical if usable else unusable).append(name)
        elif pd.api.types.is_complex_dtype(dtype):
            unusable.append(name)
        else:
            numeric.append(name)
    if unusable:
        kinds = ", ".join(f"{name!r} ({frame[name].dtype})" for name in unusable)
        raise CLIError(
            f"cannot use column {kinds} as a feature: only numbers, text, categories and "
            "booleans; convert it or leave it out with --features"
        )
    return numeric, categorical


def class_labels(y: pd.Series, where: str) -> np.ndarray:
    """The sorted class labels of a target column, refusing what no classifier can fit."""
    kind = type_of_target(y)
    if kind not in ("binary", "multiclass"):
        raise CLIError(
            f"target {y.name!r} in {where} is not a column of class labels (it looks "
            f"{kind}, with {y.nunique()} distinct values); celr fits classifiers"
        )
    labels = np.unique(y)
    if len(labels) < 2:
        raise CLIError(
            f"target {y.name!r} in {where} has a single class ({labels[0]!r}) in its "
            f"{len(y)} rows; a classifier needs at least two"
        )
    return labels


def refuse_unknown_labels(y: pd.Series, classes: np.ndarray, where: str) -> None:
    """Refuse target labels the model never saw: it gives them no probability."""
    unknown = sorted(set(pd.unique(y)) - set(classes), key=str)
    if unknown:
        raise CLIError(
            f"target {y.name!r} in {where} has labels the model was not fitted on: "
            f"{quoted(unknown[:10])}; the model knows {quoted(classes)}"
        )
