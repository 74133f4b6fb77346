"""The container of a model file: a zip archive, checked member by member, and its
``celr.json`` and ``schema.json``, before skops reads anything (:mod:`celr._persist`)."""

from __future__ import annotations

import io
import json
import sys
import zipfile

#: The ``format`` field of ``celr.json``: what marks a file as written by :func:`save`.
FORMAT = "celr-model"
#: (major, minor) of the file layout. A new minor only adds to a file (older celr reads
#: it); a new major is a change older celr cannot read, and refuses.
FORMAT_VERSION = (1, 0)
METADATA_NAME = "celr.json"
SCHEMA_NAME = "schema.json"
_ZIP_MAGIC = b"PK\x03\x04"
#: Types skops asks to trust although loading them runs no code, which scikit-learn's
#: fitted transformers hold: ``numpy.dtype`` (``SimpleImputer._fit_dtype``), stored as an
#: empty ``.npy`` array read with ``allow_pickle=False``, whose dtype is the value; and
#: the list of remainder columns of a ``ColumnTransformer`` (scikit-learn 1.5 and 1.6), a
#: ``UserList`` rebuilt from its ``__dict__``.
SAFE_TYPES = ("numpy.dtype", "sklearn.compose._column_transformer._RemainderColsList")


class ModelFileError(ValueError):
    """A file :func:`load` refuses: not a celr model file, damaged, or not trusted.

    The message starts with the file's path and names the fault: ``empty file``,
    ``not a zip file``, ``truncated or damaged zip archive``, ``damaged: member ...``
    (checksum or length), ``not a celr model file``, ``written by a newer celr`` (or
    skops), ``schema problem``, ``untrusted types: [...]``, ``not a celr model``,
    ``not a fitted model``, ``invalid hyper-parameters`` or ``inconsistent fitted
    attributes`` (naming the attribute: missing, NaN or inf, a wrong shape, ...). The
    underlying error, if any, is chained as ``__cause__``.

    Examples
    --------
    >>> import os, tempfile
    >>> from celr import ModelFileError, load
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "model.skops")
    ...     with open(path, "w") as file:
    ...         _ = file.write("not a model")
    ...     try:
    ...         load(path)
    ...     except ModelFileError as error:
    ...         print(str(error).split(": ", 1)[1])
    not a zip file (celr model files are zip archives written by celr.save)
    """


def _open_archive(data: bytes) -> zipfile.ZipFile:
    if not data:
        raise ModelFileError("empty file")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception as error:
        if data.startswith(_ZIP_MAGIC):
            raise ModelFileError(f"truncated or damaged zip archive ({error})") from error
        raise ModelFileError(
            "not a zip file (celr model files are zip archives written by celr.save)"
        ) from error
    try:
        listed = _listed_member_count(data)
    except Exception as error:
        raise ModelFileError(f"truncated or damaged zip archive ({_describe(error)})") from error
    if listed is not None and listed != len(archive.infolist()):
        # zipfile does not compare the two: a damaged length field in the directory can
        # hide members, which would otherwise read as "no celr.json".
        raise ModelFileError(
            f"truncated or damaged zip archive (its directory lists {listed} members, "
            f"{len(archive.infolist())} are readable)"
        )
    # Every member read whole, its CRC-32 and length checked, before anything is parsed:
    # damage anywhere in the content is reported as such, never loaded as another model.
    for info in archive.infolist():
        try:
            size = len(archive.read(info))
        except Exception as error:
            raise ModelFileError(
                f"damaged: member {info.filename!r} cannot be read ({_describe(error)})"
            ) from error
        if size != info.file_size:
            raise ModelFileError(
                f"damaged: member {info.filename!r} has {size} bytes, the directory says "
                f"{info.file_size}"
            )
    return archive


def _listed_member_count(data: bytes) -> int | None:
    """The member count the archive's end record states (None if unavailable)."""
    # zipfile's own reader of that record, private but unchanged since Python 2.6; the
    # check is skipped should it ever go.
    end_record = getattr(zipfile, "_EndRecData", None)
    entries = getattr(zipfile, "_ECD_ENTRIES_TOTAL", None)
    if end_record is None or entries is None:
        return None
    record = end_record(io.BytesIO(data))
    return None if record is None else int(record[entries])


def _read_json(archive: zipfile.ZipFile, name: str, *, missing: str) -> dict:
    if name not in archive.namelist():
        hint = " (was it written by celr.save?)" if name == METADATA_NAME else ""
        raise ModelFileError(f"{missing}: the archive has no {name}{hint}")
    try:
        content = json.loads(archive.read(name))
    except Exception as error:
        raise ModelFileError(f"schema problem: {name} is not JSON ({error})") from error
    if not isinstance(content, dict):
        raise ModelFileError(f"schema problem: {name} is not a JSON object")
    return content


def _check_metadata(metadata: dict) -> None:
    if metadata.get("format") != FORMAT:
        raise ModelFileError(
            f"not a celr model file: {METADATA_NAME} has format {metadata.get('format')!r}, "
            f"not {FORMAT!r}"
        )
    version = metadata.get("format_version")
    try:
        major, minor = (int(part) for part in version.split("."))
    except Exception as error:
        raise ModelFileError(
            f"schema problem: {METADATA_NAME} has no valid format_version ({version!r})"
        ) from error
    if major > FORMAT_VERSION[0]:
        raise ModelFileError(
            f"written by a newer celr ({metadata.get('celr_version')!r}) in model file "
            f"format {major}.{minor}; this celr ({_celr_version()}) reads format "
            f"{FORMAT_VERSION[0]}.x. Upgrade celr to load it."
        )


def _check_protocol(schema: dict) -> None:
    from skops.io._protocol import PROTOCOL  # the newest format this skops reads

    protocol = schema.get("protocol")
    if isinstance(protocol, bool) or not isinstance(protocol, int) or protocol < 0:
        raise ModelFileError(f"schema problem: invalid skops protocol {protocol!r}")
    if protocol > PROTOCOL:
        import skops

        raise ModelFileError(
            f"written by a newer skops ({schema.get('_skops_version')!r}, protocol "
            f"{protocol}); the installed skops {skops.__version__} reads protocols up to "
            f"{PROTOCOL}. Upgrade skops to load it."
        )


def _celr_version() -> str:
    # Looked up when called: celr/__init__.py sets it after importing this module.
    return str(getattr(sys.modules.get("celr"), "__version__", "unknown"))


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
