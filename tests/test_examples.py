"""The examples run as the README says, and print what they promise."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

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
