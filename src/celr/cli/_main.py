"""The ``celr`` command: its argument parser, and how it ends (exit status, errors)."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

import celr
from celr.cli._errors import CLIError
from celr.solvers import SOLVERS

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

DESCRIPTION = """\
Fit, apply and inspect celr's logistic regression on CSV or Parquet files.

Start with `celr demo`: breast-cancer data end to end, compared with scikit-learn."""

EPILOG = """\
examples:
  celr demo
  celr fit train.csv --target label -o model.skops
  celr evaluate model.skops test.csv --target label --plots plots/
  celr predict model.skops new.parquet --proba -o predictions.csv
  celr summary model.skops

exit status: 0 done, 2 bad input or usage, 130 interrupted, 1 unexpected failure
(run with --debug for its traceback)."""

FIT_DESCRIPTION = """\
Fit a model on a table (.csv, .tsv or .parquet) and save it to a model file.

Numeric columns are standardised, the others (text, categories, booleans) one-hot
encoded; the classifier is celr's CrossEntropyLogisticRegression. A stratified share of
the rows is held out and scored (accuracy, log-loss, ROC AUC); the model is fitted on
the rest. Rows with missing values are refused, not imputed.

With --C inf (no penalty) each categorical column's first category is dropped
(reference coding), so that the coefficients are identified. Models of at most 2000
parameters keep their covariance, for `celr summary`. A fit that runs over a second
shows a progress bar; Ctrl-C during the fit keeps the best weights reached."""


def positive_or_inf(text: str) -> float:
    """argparse type of --C: a positive number, or inf for no penalty."""
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive (or inf), got {text!r}")
    return value


def fraction(low_open: bool, high_open: bool):
    """argparse type of a number in an interval of [0, 1] (open at the flagged ends)."""

    def parse(text: str) -> float:
        value = _number(text)
        inside = (value > 0 if low_open else value >= 0) and (
            value < 1 if high_open else value <= 1
        )
        if not inside:
            interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
            raise argparse.ArgumentTypeError(f"must be in {interval}, got {text!r}")
        return value

    return parse


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != value:  # NaN
        raise argparse.ArgumentTypeError("not a number: 'nan'")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``celr`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="celr",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"celr {celr.__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="print the traceback of an error, not one line"
    )
    # Accepted after the subcommand too; SUPPRESS keeps it from resetting the global one.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print the traceback of an error, not one line",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, summary: str, description: str | None = None):
        return commands.add_parser(
            name,
            help=summary,
            description=description or summary,
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    _add_fit(add("fit", "fit a model on a data file and save it", FIT_DESCRIPTION))
    _add_predict(add("predict", "predict the class (and probabilities) of every row"))
    _add_evaluate(add("evaluate", "score a model on labelled data, optionally with plots"))
    _add_summary(add("summary", "print a model's coefficient table (standard errors, ...)"))
    demo = add(
        "demo",
        "run celr end to end on bundled breast-cancer data, compared with scikit-learn",
        "Write scikit-learn's breast-cancer data to a CSV, fit it with `celr fit`, evaluate\n"
        "the held-out rows with `celr evaluate --plots`, print the largest coefficients,\n"
        "and compare fit time and objective with scikit-learn's LogisticRegression().\n"
        "No network needed; a few seconds.",
    )
    demo.add_argument(
        "--out",
        default="celr-demo",
        metavar="DIR",
        help="folder for the data, model and plots (default: ./celr-demo)",
    )
    return parser


def _add_fit(fit: argparse.ArgumentParser) -> None:
    fit.add_argument("data", metavar="DATA", help="training data: .csv, .tsv or .parquet")
    fit.add_argument("--target", required=True, metavar="COL", help="the column to predict")
    fit.add_argument(
        "--features",
        nargs="+",
        metavar="COL",
        help="feature columns (default: every column but the target)",
    )
    fit.add_argument(
        "--C",
        type=positive_or_inf,
        default=1.0,
        metavar="FLOAT",
        help="inverse regularisation strength; inf for none (default: 1.0)",
    )
    fit.add_argument(
        "--l1-ratio",
        type=fraction(False, False),
        default=0.0,
        metavar="FLOAT",
        help="elastic-net mix: 0 is L2, 1 is L1 (default: 0.0)",
    )
    fit.add_argument(
        "--solver",
        default="auto",
        choices=["auto", *SOLVERS],
        help="optimisation algorithm (default: auto)",
    )
    fit.add_argument(
        "--class-weight",
        choices=["balanced"],
        default=None,
        help="weight classes inversely to their frequency (default: none)",
    )
    fit.add_argument(
        "--test-size",
        type=fraction(False, True),
        default=0.2,
        metavar="FRAC",
        help="share of rows held out to score the model; 0 for none (default: 0.2)",
    )
    fit.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="INT",
        help="seed of the held-out split (default: 0)",
    )
    fit.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="MODEL",
        help="model file to write (e.g. model.skops)",
    )


def _add_predict(predict: argparse.ArgumentParser) -> None:
    predict.add_argument("model", metavar="MODEL", help="model file written by celr fit")
    predict.add_argument("data", metavar="DATA", help="rows to predict: .csv, .tsv or .parquet")
    predict.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="write .csv, .tsv or .parquet (default: CSV on stdout)",
    )
    predict.add_argument(
        "--proba", action="store_true", help="add one probability column per class, proba_<label>"
    )


def _add_evaluate(evaluate: argparse.ArgumentParser) -> None:
    evaluate.add_argument("model", metavar="MODEL", help="model file written by celr fit")
    evaluate.add_argument("data", metavar="DATA", help="labelled rows: .csv, .tsv or .parquet")
    evaluate.add_argument(
        "--target", required=True, metavar="COL", help="the column with the true classes"
    )
    evaluate.add_argument(
        "--plots",
        metavar="DIR",
        help="write calibration.png, roc.png, coefficients.png and "
        "loss_curve.png there (needs matplotlib)",
    )


def _add_summary(summary: argparse.ArgumentParser) -> None:
    summary.add_argument("model", metavar="MODEL", help="model file written by celr fit")
    summary.add_argument(
        "--alpha",
        type=fraction(True, True),
        default=0.05,
        metavar="FLOAT",
        help="intervals cover 1 - alpha (default: 0.05)",
    )
    summary.add_argument(
        "--robust",
        action="store_true",
        help="sandwich (HC0) standard errors instead of the model-based ones",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``celr`` command line tool.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments after the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 done, 2 bad input or usage (one line ``celr: error: ...`` on stderr),
        130 interrupted (Ctrl-C), 1 an unexpected failure.

    Examples
    --------
    >>> from celr.cli import main
    >>> main(["--version"])  # doctest: +ELLIPSIS
    celr ...
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors: argparse's status
        return EXIT_BAD_INPUT if exc.code is None else int(exc.code) if exc.code != 0 else 0
    with warnings.catch_warnings():
        # Python's own filters stay: library deprecations are not the user's business.
        warnings.showwarning = _one_line_warning
        return _run(args, parser)


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        # Imported here, inside the try: Ctrl-C during these imports is an interrupt too.
        from celr.cli._commands import run_evaluate, run_fit, run_predict, run_summary
        from celr.cli._demo import run_demo

        commands = {
            "fit": run_fit,
            "predict": run_predict,
            "evaluate": run_evaluate,
            "summary": run_summary,
            "demo": lambda a: run_demo(a, parser.parse_args),
        }
        commands[args.command](args)
    except KeyboardInterrupt:
        # A fit catches Ctrl-C itself (keeping its best weights); this is anywhere else.
        return _fail(args, "interrupted", EXIT_INTERRUPTED, label="celr: ")
    except BrokenPipeError:
        # `celr predict ... | head`: the reader left; say nothing more to it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except (CLIError, ValueError, OSError) as exc:
        # Bad input: a file, a column, a model file (ModelFileError is a ValueError).
        return _fail(args, _message(exc), EXIT_BAD_INPUT)
    except Exception as exc:
        message = f"unexpected {type(exc).__name__}: {_message(exc)}"
        if not args.debug:
            message += " (run with --debug for the traceback)"
        return _fail(args, message, EXIT_FAILED)
    return EXIT_OK


def _fail(args, message: str, status: int, label: str = "celr: error: ") -> int:
    if args.debug:
        traceback.print_exc()
    sys.stdout.flush()
    print(label + message, file=sys.stderr)
    return status


def _message(exc: BaseException) -> str:
    """The exception's text on one line."""
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    return text or type(exc).__name__


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as ``celr: warning: ...`` lines on stderr, without source lines."""
    kind = "" if category is UserWarning else f"{category.__name__}: "
    print(f"celr: warning: {kind}{' '.join(str(message).split())}", file=sys.stderr)
