"""The examples run as the README says, and print what they promise."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_runs_and_celr_reaches_the_optimum(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["quickstart.py"])
    runpy.run_path(str(EXAMPLES / "quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "best C" in out and "test accuracy" in out and "test log-loss" in out
    celr_line = next(line for line in out.splitlines() if "celr Cross" in line)
    lines = [line.strip() for line in out.splitlines()]
    sklearn_default = next(
        line for line in lines if line.startswith("sklearn LogisticRegression()")
    )
    assert "ConvergenceWarning" not in celr_line
    assert "ConvergenceWarning" in sklearn_default  # the annoyance celr removes
    # celr's objective is the lowest of all fitters, to rounding.
    celr_gaps = [float(gap) for gap in re.findall(r"\(celr ([0-9.e+-]+)\)", out)]
    assert celr_gaps and max(celr_gaps) < 1e-12


def test_out_of_core_streams_chunks_and_matches_in_memory_fit(capsys, monkeypatch):
    argv = ["out_of_core.py", "--rows", "30000", "--chunk-rows", "5000", "--passes", "3"]
    monkeypatch.setattr(sys, "argv", [*argv, "--sample-rows", "30000"])
    runpy.run_path(str(EXAMPLES / "out_of_core.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "softmax, coef_ shape (3, 20)" in out
    losses = [float(value) for value in re.findall(r"test log-loss, .*: ([0-9.]+)", out)]
    # Streaming three passes lands where fitting the same rows in memory does.
    assert len(losses) == 2 and abs(losses[0] - losses[1]) < 0.01
    peak = float(re.search(r"peak memory allocated while streaming: ([0-9.]+) MB", out)[1])
    assert peak < 50  # a few chunks of 5,000 rows, not the CSV


def test_sparse_text_selects_the_sentiment_words(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["sparse_text.py", "--reviews", "3000"])
    runpy.run_path(str(EXAMPLES / "sparse_text.py"), run_name="__main__")
    out = capsys.readouterr().out
    kept = int(re.search(r"(\d+) of [\d,]+ features kept", out)[1])
    selected = out.split("selected words")[1].split("regularization path")[0]
    # The L1 model keeps few features, and the strongest are the planted sentiment words.
    assert 0 < kept < 300
    for word in ("refund", "love"):
        assert re.search(rf"^\s+{word}\s+[+-]\d", selected, re.MULTILINE)
    path_counts = [int(n) for n in re.findall(r"C = +[0-9.e+-]+ +(\d+) words", out)]
    assert path_counts[0] == 0 and path_counts[-1] > kept


def test_interpretation_prints_the_table_and_writes_both_plots(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "argv", ["interpretation.py", "--out", str(tmp_path)])
    runpy.run_path(str(EXAMPLES / "interpretation.py"), run_name="__main__")
    out = capsys.readouterr().out
    for heading in ("estimate", "std_error", "p_value", "odds_ratio", "HC0"):
        assert heading in out
    assert re.search(r"LR statistic [0-9.]+ on 2 df", out)
    assert "SeparationWarning" in out and "summary refused" in out
    for name in ("odds_ratios.png", "loss_curve.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_dask_cluster_fits_on_the_workers(capsys, monkeypatch):
    pytest.importorskip("dask.dataframe")
    pytest.importorskip("distributed")
    argv = ["dask_cluster.py", "--rows", "40000", "--features", "5", "--partitions", "4"]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(EXAMPLES / "dask_cluster.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert re.search(r"dashboard: http://\S+/status", out)
    assert "40,000 rows x 5 features, 4 partitions on 2 workers" in out
    assert "classes: bronze, gold, silver; solver: newton" in out
    assert float(re.search(r"objective: ([0-9.]+)", out)[1]) < 0.8  # chance: log(3) = 1.1
    assert re.search(r"time: [0-9.]+ s", out)
    counts = re.search(
        r"predicted on the workers \(4 chunks\): bronze ([\d,]+), gold ([\d,]+)", out
    )
    assert counts and all(int(count.replace(",", "")) > 5000 for count in counts.groups())
