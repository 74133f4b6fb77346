"""Fit celr on a Dask DataFrame that lives on a cluster: the rows never come to this process.

Starts a local cluster of two worker processes, or connects to a running one, makes a Dask
DataFrame of ``--rows`` rows on the workers (each partition generated where it is
needed), fits ``CrossEntropyLogisticRegression`` on it and predicts lazily. Every objective
evaluation runs on the workers, chunk by chunk; only coefficient-sized vectors travel.

    pip install "celr[dask]"
    python examples/dask_cluster.py                              # a LocalCluster
    python examples/dask_cluster.py tcp://scheduler:8786         # an existing cluster
    python examples/dask_cluster.py --rows 20000000 --partitions 40
"""

from __future__ import annotations

import argparse
import time

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
from distributed import Client, LocalCluster

from celr import CrossEntropyLogisticRegression

CLASSES = np.array(["bronze", "silver", "gold"])


def make_partition(seed: int, rows: int, n_features: int) -> pd.DataFrame:
    """One partition of a 3-class problem, generated from its seed on a worker."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, n_features)).astype(np.float32)
    weights = np.random.default_rng(0).normal(size=(n_features, len(CLASSES)))  # same everywhere
    scores = X @ weights + rng.gumbel(size=(rows, len(CLASSES)))
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(n_features)])
    frame["tier"] = CLASSES[scores.argmax(axis=1)]
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address", nargs="?", help="scheduler address; default: a LocalCluster")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()

    if args.address:
        cluster, client = None, Client(args.address)
    else:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1)
        client = Client(cluster)
    print(f"dashboard: {client.dashboard_link}")

    rows = args.rows // args.partitions
    frame = dd.from_map(
        make_partition, range(args.partitions), rows=rows, n_features=args.features
    )
    X, y = frame.drop(columns="tier"), frame["tier"]
    n_workers = len(client.scheduler_info()["workers"])
    print(
        f"data: {rows * args.partitions:,} rows x {args.features} features, "
        f"{args.partitions} partitions on {n_workers} workers"
    )

    start = time.perf_counter()
    model = CrossEntropyLogisticRegression(C=10.0).fit(X, y)
    seconds = time.perf_counter() - start
    classes = ", ".join(model.classes_)
    print(f"classes: {classes}; solver: {model.solver_}, {model.n_iter_} iterations")
    print(f"objective: {model.loss_curve_[-1]:.10f}")
    print(f"time: {seconds:.1f} s")

    proba = model.predict_proba(X)  # lazy: a Dask array, one chunk per partition
    counts = da.bincount(proba.argmax(axis=1), minlength=len(model.classes_)).compute()
    shown = ", ".join(
        f"{name} {count:,}" for name, count in zip(model.classes_, counts, strict=True)
    )
    print(f"predicted on the workers ({proba.numblocks[0]} chunks): {shown}")
    print(f"first rows' probabilities:\n{proba.blocks[0].compute()[:3].round(3)}")

    client.close()
    if cluster is not None:
        cluster.close()


if __name__ == "__main__":
    main()
