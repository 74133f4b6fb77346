"""The celr command line tool: end to end in subprocesses, the rest through main() in-process.

Each subprocess pays ~1.5 s of imports, so they are kept for what only a real process
shows (``python -m celr``, exit status, a clean stderr, the console script); every other
check calls :func:`celr.cli.main` and reads its output with capsys.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import celr
from celr.cli import main

PLOTS = ("calibration.png", "roc.png", "coefficients.png", "loss_curve.png")


def mixed_data(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Numeric and text columns; a binary target and a three-class one."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n).round(1),
            "income": rng.lognormal(10, 0.5, n).round(0),
            "city": rng.choice(["Paris", "Lyon", "Nice"], n),
            "member": rng.choice(["yes", "no"], n),
        }
    )
    score = 0.1 * (frame["age"] - 40) + (frame["city"] == "Paris") + rng.normal(0, 1, n)
    frame["bought"] = np.where(score > 0.3, "buyer", "browser")
    frame["tier"] = np.select([score < -0.5, score < 1.0], ["bronze", "silver"], "gold")
    return frame


@pytest.fixture
def data(tmp_path) -> dict[str, Path]:
    frame = mixed_data()
    paths = {"csv": tmp_path / "train.csv", "parquet": tmp_path / "train.parquet"}
    frame.drop(columns="tier").to_csv(paths["csv"], index=False)
    if _have("pyarrow"):
        frame.drop(columns="bought").to_parquet(paths["parquet"], index=False)
    return paths


def _have(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "celr", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def call(capsys, *args: str) -> tuple[int, str, str]:
    """main() in-process: exit status, stdout, stderr."""
    status = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status: int, err: str, *fragments: str) -> None:
    assert status == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("celr: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, err)


def assert_pngs(folder: Path) -> None:
    image = pytest.importorskip("matplotlib.image")
    for name in PLOTS:
        pixels = image.imread(folder / name)
        # Not blank: a drawn figure has many distinct colours, an empty one a single one.
        assert pixels[..., :3].std() > 0.05, name


# -- end to end, as a user runs it ------------------------------------------------------


def test_binary_csv_end_to_end_in_subprocesses(data, tmp_path):
    fit = run("fit", "train.csv", "--target", "bought", "-o", "model.skops", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    for expected in (
        "held-out metrics (48 rows)",
        "accuracy",
        "log-loss",
        "ROC AUC",
        "2 classes: 'browser' and 'buyer'",
        "solver",
        "fit time",
        "saved",
    ):
        assert expected in fit.stdout, expected
    assert (tmp_path / "model.skops").is_file()

    predict = run("predict", "model.skops", "train.csv", "--proba", "-o", "p.csv", cwd=tmp_path)
    assert predict.returncode == 0, predict.stderr
    predictions = pd.read_csv(tmp_path / "p.csv")
    assert list(predictions.columns) == ["prediction", "proba_browser", "proba_buyer"]
    assert len(predictions) == 240
    np.testing.assert_allclose(predictions[["proba_browser", "proba_buyer"]].sum(axis=1), 1.0)
    assert set(predictions["prediction"]) <= {"browser", "buyer"}

    evaluate = run(
        "evaluate",
        "model.skops",
        "train.csv",
        "--target",
        "bought",
        "--plots",
        "plots",
        cwd=tmp_path,
    )
    assert evaluate.returncode == 0, evaluate.stderr
    for expected in (
        "accuracy",
        "log-loss",
        "ROC AUC",
        "precision",
        "recall",
        "confusion matrix",
        "browser",
        "buyer",
    ):
        assert expected in evaluate.stdout, expected
    if _have("matplotlib"):
        assert_pngs(tmp_path / "plots")

    summary = run("summary", "model.skops", cwd=tmp_path)
    assert summary.returncode == 0, summary.stderr
    assert "num__age" in summary.stdout and "cat__city_Paris" in summary.stdout
    assert "P>|z|" in summary.stdout and "odds ratio" in summary.stdout
    assert "note: Penalised fit" in summary.stdout
    assert summary.stderr == ""


def test_three_classes_parquet_in_process(data, tmp_path, capsys, monkeypatch):
    pytest.importorskip("pyarrow")
    monkeypatch.chdir(tmp_path)
    status, out, err = call(
        capsys,
        "fit",
        "train.parquet",
        "--target",
        "tier",
        "--C",
        "inf",
        "--features",
        "age",
        "city",
        "member",
        "-o",
        "m3.skops",
    )
    assert status == 0, err
    assert "3 classes: 'bronze', 'gold' and 'silver'" in out
    assert "(one-vs-rest, macro)" in out and "C=inf" in out

    new = pd.read_parquet("train.parquet").drop(columns=["tier", "income"]).head(25)
    new.to_csv("new.tsv", sep="\t", index=False)  # extra columns absent, order free
    status, out, err = call(capsys, "predict", "m3.skops", "new.tsv", "--proba", "-o", "p.parquet")
    assert status == 0, err
    predictions = pd.read_parquet("p.parquet")
    assert list(predictions.columns) == [
        "prediction",
        "proba_bronze",
        "proba_gold",
        "proba_silver",
    ]
    assert len(predictions) == 25

    status, out, err = call(capsys, "predict", "m3.skops", "new.tsv")  # CSV on stdout
    assert status == 0, err
    assert out.splitlines()[0] == "prediction" and len(out.splitlines()) == 26

    status, out, err = call(
        capsys, "evaluate", "m3.skops", "train.parquet", "--target", "tier", "--plots", "plots"
    )
    assert status == 0, err
    assert "(one-vs-rest, macro)" in out and "bronze" in out
    if _have("matplotlib"):
        assert "one-vs-rest" in out
        assert_pngs(tmp_path / "plots")

    # Unpenalised: reference coding identifies the model, so the table is the MLE's.
    status, out, err = call(capsys, "summary", "m3.skops", "--robust", "--alpha", "0.1")
    assert status == 0, err
    assert "vs the reference class 'bronze'" in out and "HC0" in out and "[5%" in out
    assert "log-lik." in out and "cat__city_Lyon" not in out  # the dropped reference level


def test_fit_without_split_and_options(data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = call(
        capsys,
        "fit",
        "train.csv",
        "--target",
        "bought",
        "--test-size",
        "0",
        "--solver",
        "lbfgs",
        "--class-weight",
        "balanced",
        "--l1-ratio",
        "0.5",
        "--C",
        "0.5",
        "-o",
        "m.skops",
    )
    assert status == 0, err
    assert "no held-out rows" in out and "held-out metrics" not in out
    assert "'lbfgs'" in out and "class_weight=balanced" in out and "l1_ratio=0.5" in out


def test_demo(tmp_path):
    demo = run("demo", "--out", "demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    out = demo.stdout
    for expected in (
        "celr fit",
        "held-out metrics",
        "accuracy",
        "ROC AUC",
        "confusion matrix",
        "largest coefficients",
        "odds ratio",
        "celr vs scikit-learn",
        "celr CrossEntropyLogisticRegression()",
        "sklearn LogisticRegression()",
        "raw",
        "standardised",
        "fit time",
    ):
        assert expected in out, expected
    folder = tmp_path / "demo"
    assert (folder / "breast_cancer.csv").is_file() and (folder / "model.skops").is_file()
    if _have("matplotlib"):
        assert_pngs(folder)


def test_help_version_and_console_script(tmp_path, capsys):
    helped = run("--help", cwd=tmp_path)
    assert helped.returncode == 0
    for command in ("fit", "predict", "evaluate", "summary", "demo"):
        assert command in helped.stdout
    options = {
        "fit": [
            "--target",
            "--features",
            "--C",
            "--l1-ratio",
            "--solver",
            "--class-weight",
            "--test-size",
            "--random-state",
            "--output",
        ],
        "predict": ["--output", "--proba"],
        "evaluate": ["--target", "--plots"],
        "summary": ["--alpha", "--robust"],
        "demo": ["--out"],
    }
    for command, names in options.items():
        status, out, _ = call(capsys, command, "--help")
        assert status == 0
        assert out.startswith(f"usage: celr {command}")
        for name in names:
            assert name in out, (command, name)
    status, out, _ = call(capsys, "--version")
    assert status == 0 and out.strip() == f"celr {celr.__version__}"
    script = Path(sys.executable).with_name("celr")
    if script.exists():  # the console script pip installs beside the interpreter
        version = subprocess.run([script, "--version"], capture_output=True, text=True)
        assert version.returncode == 0 and version.stdout.strip() == f"celr {celr.__version__}"


# -- bad input: one line on stderr, status 2 --------------------------------------------


def test_bad_input_in_subprocess_without_and_with_debug(tmp_path):
    (tmp_path / "train.csv").write_text("a,b\n1,x\n2,y\n")
    plain = run("fit", "train.csv", "--target", "c", "-o", "m.skops", cwd=tmp_path)
    assert_one_line_error(plain.returncode, plain.stderr, "no column 'c'")
    assert plain.stdout == ""
    debug = run("--debug", "fit", "train.csv", "--target", "c", "-o", "m.skops", cwd=tmp_path)
    assert debug.returncode == 2
    assert "Traceback" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("celr: error: ")


def test_bad_data_files(data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame = pd.read_csv("train.csv")
    holes = frame.copy()
    holes.loc[3, "age"] = np.nan
    holes.loc[[5, 6], "city"] = np.nan
    holes.to_csv("holes.csv", index=False)
    frame.assign(bought="buyer").to_csv("one_class.csv", index=False)
    Path("empty.csv").write_text("")
    Path("header_only.csv").write_text("age,bought\n")
    Path("binary.csv").write_bytes(bytes(range(256)) * 8)
    Path("fake.parquet").write_text("age,bought\n1,x\n")
    Path("folder.csv").mkdir()
    fit = ("--target", "bought", "-o", "m.skops")
    cases = {
        "holes.csv": ["missing values", "'age' (1 of 240 rows)", "'city' (2 of 240 rows)"],
        "one_class.csv": ["single class ('buyer')"],
        "empty.csv": ["empty.csv is empty"],
        "header_only.csv": ["no data rows"],
        "binary.csv": ["binary file"],
        "fake.parquet": ["cannot read fake.parquet as Parquet"],
        "folder.csv": ["is a directory"],
        "absent.csv": ["absent.csv: no such file"],
        "notes.txt": ["unknown file type '.txt'"],
    }
    for name, fragments in cases.items():
        assert_one_line_error(*call(capsys, "fit", name, *fit)[::2], *fragments)
    assert not Path("m.skops").exists()


def test_bad_columns_and_targets(data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cases = [
        (["--target", "bougth"], ["no column 'bougth'", "did you mean 'bought'?"]),
        (["--target", "Bought"], ["did you mean 'bought'?"]),
        (["--target", "bought", "--features", "agee", "city"], ["'agee'", "did you mean 'age'?"]),
        (["--target", "bought", "--features", "age", "bought"], ["cannot also be a feature"]),
        (["--target", "age"], ["not a column of class labels", "continuous"]),
    ]
    for options, fragments in cases:
        status, _, err = call(capsys, "fit", "train.csv", *options, "-o", "m.skops")
        assert_one_line_error(status, err, *fragments)
    status, _, err = call(capsys, "fit", "train.csv", "--target", "bought", "-o", "no/m.skops")
    assert_one_line_error(status, err, "folder no does not exist")


def test_predict_and_evaluate_refuse_wrong_data(data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, err = call(capsys, "fit", "train.csv", "--target", "bought", "-o", "m.skops")
    assert status == 0, err
    frame = pd.read_csv("train.csv")
    frame.drop(columns=["city", "income"]).rename(columns={"age": "Age"}).to_csv(
        "lacking.csv", index=False
    )
    frame.assign(age=frame["age"].astype(str).where(frame.index != 2, "forty")).to_csv(
        "text_age.csv", index=False
    )
    frame.assign(bought="window-shopper").to_csv("new_label.csv", index=False)
    status, out, err = call(capsys, "predict", "m.skops", "lacking.csv")
    assert_one_line_error(status, err, "'age' (did you mean 'Age'?)", "'income'", "'city'")
    assert out == ""
    status, _, err = call(capsys, "predict", "m.skops", "text_age.csv")
    assert_one_line_error(status, err, "column 'age'", "'forty'")
    status, _, err = call(capsys, "evaluate", "m.skops", "new_label.csv", "--target", "bought")
    assert_one_line_error(status, err, "'window-shopper'", "not fitted on")
    status, _, err = call(capsys, "evaluate", "m.skops", "train.csv", "--target", "tier")
    assert_one_line_error(status, err, "no column 'tier'")
    status, _, err = call(capsys, "predict", "m.skops", "train.csv", "-o", "p.xlsx")
    assert_one_line_error(status, err, "unknown file type '.xlsx'")


def test_corrupt_and_missing_model_files(data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert call(capsys, "fit", "train.csv", "--target", "bought", "-o", "m.skops")[0] == 0
    whole = Path("m.skops").read_bytes()
    Path("truncated.skops").write_bytes(whole[: len(whole) // 2])
    Path("garbage.skops").write_text("not a model")
    for name in ("truncated.skops", "garbage.skops"):
        for command in (["predict", name, "train.csv"], ["summary", name]):
            assert_one_line_error(*call(capsys, *command)[::2], name)
    assert_one_line_error(*call(capsys, "summary", "absent.skops")[::2], "no such model file")


def test_summary_refusals(data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Too many parameters for a stored covariance (the limit lowered to keep this fast).
    with monkeypatch.context() as patch:
        patch.setattr("celr.cli._model.COVARIANCE_MAX_PARAMS", 3)
        status, out, err = call(
            capsys, "fit", "train.csv", "--target", "bought", "-o", "big.skops"
        )
    assert status == 0, err
    assert "no covariance stored" in out
    status, _, err = call(capsys, "summary", "big.skops")
    assert_one_line_error(status, err, "stores no covariance", "8 parameters")
    # Inference refused: the unpenalised optimum is at infinity (separated classes).
    frame = pd.read_csv("train.csv")
    frame.assign(leak=frame["bought"] == "buyer").to_csv("leak.csv", index=False)
    status, _, err = call(
        capsys, "fit", "leak.csv", "--target", "bought", "--C", "inf", "-o", "leak.skops"
    )
    assert status == 0
    assert "celr: warning: SeparationWarning" in err
    status, _, err = call(capsys, "summary", "leak.skops")
    assert_one_line_error(status, err, "no coefficient table", "separated")


def test_usage_errors_exit_2(capsys):
    for argv in (
        [],
        ["fit", "x.csv"],
        ["fit", "x.csv", "--target", "y", "-o", "m", "--C", "0"],
        ["summary", "m", "--alpha", "1"],
        ["frobnicate"],
    ):
        status, _, err = call(capsys, *argv)
        assert status == 2 and "usage: celr" in err, argv


def test_interrupt_and_unexpected_failure(data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr("celr.cli._commands.read_table", interrupted)
    status, _, err = call(capsys, "fit", "train.csv", "--target", "bought", "-o", "m.skops")
    assert status == 130 and err == "celr: interrupted\n"

    def broken(path):
        raise RuntimeError("bug\nacross lines")

    monkeypatch.setattr("celr.cli._commands.read_table", broken)
    status, _, err = call(capsys, "fit", "train.csv", "--target", "bought", "-o", "m.skops")
    assert status == 1
    assert err == (
        "celr: error: unexpected RuntimeError: bug across lines "
        "(run with --debug for the traceback)\n"
    )


def test_plots_without_matplotlib(data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert call(capsys, "fit", "train.csv", "--target", "bought", "-o", "m.skops")[0] == 0
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    status, out, err = call(
        capsys, "evaluate", "m.skops", "train.csv", "--target", "bought", "--plots", "plots"
    )
    assert_one_line_error(status, err, 'pip install "celr[plot]"')
    assert out == "" and not Path("plots").exists()
