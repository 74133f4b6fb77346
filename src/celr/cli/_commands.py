"""The subcommands fit, predict, evaluate and summary: each reads its files, works, prints."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from celr.cli._data import (
    check_output_path,
    class_labels,
    read_table,
    refuse_missing_values,
    refuse_unknown_labels,
    require_columns,
    write_table,
)
from celr.cli._errors import CLIError, quoted
from celr.cli._model import (
    COVARIANCE_MAX_PARAMS,
    FitOutcome,
    classifier_of,
    fit_model,
    load_model,
    model_inputs,
    save_model,
)
from celr.cli._report import (
    Metrics,
    coefficient_text,
    confusion_text,
    line,
    metric_lines,
    report_text,
    score,
    wrapped,
)

#: Class labels listed in a report line before "...".
MAX_LISTED = 10


def run_fit(args: argparse.Namespace) -> FitOutcome:
    """``celr fit``: read, check, split, fit, report the held-out scores, save."""
    output = Path(args.output)
    if not output.parent.is_dir():
        raise CLIError(f"cannot write {output}: folder {output.parent} does not exist")
    where = str(args.data)
    frame = read_table(args.data)
    require_columns(frame, [args.target], where)
    features = _feature_columns(frame, args.target, args.features, where)
    refuse_missing_values(frame, [*features, args.target], where)
    y = frame[args.target]
    classes = class_labels(y, where)
    params = {"C": args.C, "l1_ratio": args.l1_ratio, "solver": args.solver}
    params["class_weight"] = args.class_weight
    outcome = fit_model(
        frame[features], y, test_size=args.test_size, random_state=args.random_state,
        estimator_params=params,
    )  # fmt: skip
    print(f"fitted {where} -> {output}")
    print("\n".join(_fit_lines(args, outcome, classes, len(frame))))
    if outcome.X_test is not None:
        model = outcome.model
        metrics = score(model[-1].classes_, outcome.y_test, model.predict_proba(outcome.X_test))
        print(f"held-out metrics ({metrics.n_rows} rows)")
        print("\n".join(metric_lines(metrics)))
    save_model(outcome.model, output)
    print(f"saved {output}")
    return outcome


def _feature_columns(frame: pd.DataFrame, target: str, features, where: str) -> list[str]:
    if not features:
        features = [column for column in frame.columns if column != target]
        if not features:
            raise CLIError(f"{where} has no column besides the target {target!r}")
        return features
    features = list(dict.fromkeys(features))  # repeated names once, in the given order
    require_columns(frame, features, where)
    if target in features:
        raise CLIError(f"the target {target!r} cannot also be a feature")
    return features


def _fit_lines(args, outcome: FitOutcome, classes: np.ndarray, n_rows: int) -> list[str]:
    classifier = outcome.model[-1]
    split = "no held-out rows (--test-size 0)"
    if outcome.X_test is not None:
        split = f"{len(outcome.X_test)} held out: stratified, random state {args.random_state}"
    listed = quoted(classes[:MAX_LISTED]) + (", ..." if len(classes) > MAX_LISTED else "")
    kinds = ", ".join(
        f"{n} {kind}"
        for n, kind in [
            (len(outcome.numeric), "numeric (standardised)"),
            (len(outcome.categorical), "categorical (one-hot)"),
        ]
        if n
    )
    crit = classifier.stop_crit_
    optimality = f", optimality {crit:.1e}" if crit is not None and np.isfinite(crit) else ""
    solver = repr(classifier.solver_) + (" (auto)" if args.solver == "auto" else "")
    stored = (
        f"covariance stored: celr summary {args.output} prints the coefficient table"
        if classifier.store_covariance
        else f"over {COVARIANCE_MAX_PARAMS}: no covariance stored, so no celr summary"
    )
    return [
        line("rows", f"{n_rows} ({len(outcome.X_train)} fitted, {split})"),
        line("target", f"{args.target!r}, {len(classes)} classes: {listed}"),
        line("features", f"{len(outcome.numeric) + len(outcome.categorical)} columns: {kinds}"
             f" -> {len(classifier.feature_names_in_)} model inputs"),
        line("model", f"C={args.C:g}, l1_ratio={args.l1_ratio:g}, "
             f"class_weight={args.class_weight}"),
        line("solver", f"{solver}, {classifier.n_iter_} iterations{optimality}"),
        line("parameters", f"{outcome.n_params} ({stored})"),
        line("fit time", f"{outcome.seconds:.3f} s"),
    ]  # fmt: skip


def run_predict(args: argparse.Namespace) -> pd.DataFrame:
    """``celr predict``: labels (and class probabilities) for every row of DATA."""
    output = None if args.output is None else check_output_path(args.output)
    model = load_model(args.model)
    classes = classifier_of(model).classes_
    X = model_inputs(model, read_table(args.data), str(args.data))
    if args.proba:
        proba = model.predict_proba(X)
        result = pd.DataFrame({"prediction": classes[np.argmax(proba, axis=1)]})
        for k, label in enumerate(classes):
            result[f"proba_{label}"] = proba[:, k]
    else:
        result = pd.DataFrame({"prediction": model.predict(X)})
    write_table(result, output, sys.stdout)
    if output is not None:
        print(f"wrote {len(result)} predictions to {output}")
    return result


def run_evaluate(args: argparse.Namespace) -> Metrics:
    """``celr evaluate``: scores, per-class report and confusion matrix on labelled DATA."""
    plots = None if args.plots is None else Path(args.plots)
    if plots is not None:
        from celr.cli._plots import require_matplotlib

        require_matplotlib()  # before the work, not after it
    model = load_model(args.model)
    classifier = classifier_of(model)
    where = str(args.data)
    frame = read_table(args.data)
    require_columns(frame, [args.target], where)
    X = model_inputs(model, frame, where)
    refuse_missing_values(frame, [args.target], where)
    y = frame[args.target]
    refuse_unknown_labels(y, classifier.classes_, where)
    proba = model.predict_proba(X)
    predicted = classifier.classes_[np.argmax(proba, axis=1)]
    metrics = score(classifier.classes_, y, proba)
    print(f"evaluated {args.model} on {where} ({len(y)} rows, target {args.target!r})")
    print("\n".join(metric_lines(metrics)))
    print("per class")
    print(report_text(classifier.classes_, y, predicted))
    print("confusion matrix (rows: true class, columns: predicted class)")
    print(confusion_text(classifier.classes_, y, predicted))
    if plots is not None:
        from celr.cli._plots import write_plots

        print("plots")
        print("\n".join(write_plots(classifier, y, proba, plots)))
    return metrics


def run_summary(args: argparse.Namespace) -> pd.DataFrame:
    """``celr summary``: the coefficient table from the covariance stored at fit."""
    classifier = classifier_of(load_model(args.model))
    if not hasattr(classifier, "summary"):
        raise CLIError(f"{args.model} holds a {type(classifier).__name__}: no coefficient table")
    if not getattr(classifier, "store_covariance", False):
        n_params = classifier.coef_.size + np.size(classifier.intercept_)
        raise CLIError(
            f"{args.model} stores no covariance, which the coefficient table needs: its "
            f"model has {n_params} parameters and celr fit stores it for at most "
            f"{COVARIANCE_MAX_PARAMS}; fit with fewer features or categories for a table"
        )
    cov_type = "robust" if args.robust else "nonrobust"
    try:
        table = classifier.summary(alpha=args.alpha, cov_type=cov_type)
    except ValueError as exc:
        raise CLIError(f"no coefficient table for {args.model}: {exc}") from exc
    print(f"coefficient table of {args.model}")
    print("\n".join(summary_header(classifier, table)))
    print(coefficient_text(table))
    if table.attrs.get("note"):
        print(wrapped("note: " + table.attrs["note"]))
    return table


def summary_header(classifier, table: pd.DataFrame) -> list[str]:
    """What the table's rows are: whose log-odds, which covariance, how many rows."""
    attrs, classes = table.attrs, classifier.classes_
    what = {
        "binary": f"log-odds of {classes[1]!r} (vs {classes[0]!r}) per unit of each input",
        "reference": f"log-odds of each class vs the reference class {classes[0]!r}",
    }.get(attrs.get("parametrization"), "class scores (they sum to 0 over the classes)")
    level = f"{100 * (1 - attrs.get('alpha', 0.05)):g}%"
    C = attrs.get("C", np.inf)
    weighted = "" if classifier.class_weight is None else " (sum of the class weights)"
    lines = [
        line("estimates", what),
        line("fit", f"C={C:g}, l1_ratio={attrs.get('l1_ratio', 0):g}, "
             f"{attrs.get('n_obs', float('nan')):g} training rows{weighted}"),
        line("intervals", f"{level}, {attrs.get('cov_type', '')} covariance"),
    ]  # fmt: skip
    if "log_likelihood" in attrs:
        lines.append(line("log-lik.", f"{attrs['log_likelihood']:.6g}"))
    return lines
