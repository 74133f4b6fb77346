"""celr's results view against statsmodels', on the data sets the tests compare on.

For each: the unpenalised fit with everything ``results()`` reports (celr's ``fit`` keeps
the information, so ``results()`` needs no data) against statsmodels' ``fit`` plus the
same figures; best of ``--repeats`` end to end, alternated in one process; and the largest
relative difference of the estimates, standard errors, log-likelihood and AIC.

    python benchmarks/statsmodels_inference.py
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import statsmodels.api as sm
from report import markdown_table
from sklearn.datasets import load_breast_cancer

from celr import CrossEntropyLogisticRegression


def spector():
    data = sm.datasets.spector.load_pandas()
    return "Spector (32 x 3, Logit)", data.exog, data.endog, sm.Logit


def cancer():
    data = load_breast_cancer(as_frame=True)
    return "breast cancer (569 x 4, Logit)", data.data.iloc[:, [0, 1, 4, 8]], data.target, sm.Logit


def anes96():
    data = sm.datasets.anes96.load_pandas().data
    X = data[["selfLR", "age", "educ", "income"]].copy()
    X.insert(0, "logpopul", np.log(data["popul"] + 0.1))
    return "anes96 (944 x 5, 7 classes, MNLogit)", X, data["PID"].astype(int), sm.MNLogit


def celr_results(X, y):
    res = CrossEntropyLogisticRegression(C=np.inf).fit(X, y).results()
    return res.params.to_numpy(), res.bse.to_numpy(), res.llf, res.aic


def statsmodels_results(model_class, X, y):
    res = model_class(y, sm.add_constant(X)).fit(disp=0)
    params, bse = np.asarray(res.params), np.asarray(res.bse)
    return params.T.ravel(), bse.T.ravel(), res.llf, res.aic


def best(repeats, call):
    seconds, out = np.inf, None
    for _ in range(repeats):
        started = time.perf_counter()
        out = call()
        seconds = min(seconds, time.perf_counter() - started)
    return seconds, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    rows = []
    for build in (spector, cancer, anes96):
        name, X, y, model_class = build()
        times = {"celr": np.inf, "sm": np.inf}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(2):
                seconds, ours = best(args.repeats, lambda X=X, y=y: celr_results(X, y))
                times["celr"] = min(times["celr"], seconds)
                seconds, theirs = best(
                    args.repeats, lambda X=X, y=y, m=model_class: statsmodels_results(m, X, y)
                )
                times["sm"] = min(times["sm"], seconds)
        gap = max(
            float(np.max(np.abs(np.divide(a, b) - 1))) for a, b in zip(ours, theirs, strict=True)
        )
        rows.append(
            [
                name,
                f"{times['celr'] * 1e3:.1f}",
                f"{times['sm'] * 1e3:.1f}",
                f"{times['sm'] / times['celr']:.2f}x",
                f"{gap:.1e}",
            ]
        )
    header = ["data", "celr ms", "statsmodels ms", "speed-up", "largest rel. difference"]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
