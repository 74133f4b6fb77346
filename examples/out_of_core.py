"""Train on a CSV larger than you would like to load: partial_fit over read_csv chunks.

The script writes a CSV of ``--rows`` rows (default 2 million; 3 classes, 20 numeric
features with very different scales) chunk by chunk, then trains a softmax model with
``solver='sgd'`` by calling ``partial_fit`` on each chunk of
``pandas.read_csv(..., chunksize=...)``, for ``--passes`` passes, with a progress bar. It
reports the held-out log-loss next to an in-memory ``fit`` on a sample, and the peak
memory the streaming loop allocated, which is bounded by the chunk size, not the file.

    python examples/out_of_core.py                  # 2M rows, about 400 MB of CSV
    python examples/out_of_core.py --rows 200000    # quicker
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss
from tqdm import tqdm

from celr import CrossEntropyLogisticRegression

N_FEATURES = 20
CLASSES = np.array(["bronze", "gold", "silver"])
FEATURES = [f"x{j}" for j in range(N_FEATURES)]


def write_csv(path: Path, n_rows: int, chunk_rows: int, seed: int = 0) -> None:
    """Rows from a softmax model with 3 classes; column j is scaled by 10^(j/4 - 2)."""
    rng = np.random.default_rng(seed)
    true_weights = np.random.default_rng(42).normal(size=(len(CLASSES), N_FEATURES))
    scales = 10.0 ** (np.arange(N_FEATURES) / 4.0 - 2.0)
    for start in range(0, n_rows, chunk_rows):
        rows = min(chunk_rows, n_rows - start)
        standard = rng.normal(size=(rows, N_FEATURES))
        scores = standard @ true_weights.T / np.sqrt(N_FEATURES) * 3.0
        gumbel = rng.gumbel(size=scores.shape)
        labels = CLASSES[np.argmax(scores + gumbel, axis=1)]
        frame = pd.DataFrame(standard * scales, columns=FEATURES)
        frame["label"] = labels
        frame.to_csv(path, mode="a", header=start == 0, index=False, float_format="%.6g")


def stream_fit(path: Path, n_rows: int, chunk_rows: int, passes: int):
    """partial_fit over the CSV's chunks, ``passes`` times; returns model and peak bytes."""
    model = CrossEntropyLogisticRegression(C=1.0, solver="sgd", random_state=0)
    tracemalloc.start()
    with tqdm(total=passes * n_rows, unit="rows", unit_scale=True, desc="partial_fit") as bar:
        for _ in range(passes):
            for chunk in pd.read_csv(path, chunksize=chunk_rows):
                model.partial_fit(
                    chunk[FEATURES], chunk["label"], classes=CLASSES, n_samples_total=n_rows
                )
                bar.update(len(chunk))
                bar.set_postfix(objective=f"{model.loss_curve_[-1]:.4f}")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return model, peak


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--sample-rows", type=int, default=50_000)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.csv"
        start = time.perf_counter()
        write_csv(path, args.rows, args.chunk_rows)
        size_mb = path.stat().st_size / 2**20
        print(f"wrote {args.rows:,} rows ({size_mb:.0f} MB of CSV) in "
              f"{time.perf_counter() - start:.1f} s")  # fmt: skip
        test_path = Path(folder) / "test.csv"
        write_csv(test_path, 50_000, 50_000, seed=1)
        test = pd.read_csv(test_path)

        start = time.perf_counter()
        streamed, peak = stream_fit(path, args.rows, args.chunk_rows, args.passes)
        stream_seconds = time.perf_counter() - start
        sample = pd.read_csv(path, nrows=args.sample_rows)
        in_memory = CrossEntropyLogisticRegression(C=1.0).fit(sample[FEATURES], sample["label"])

    chunk_mb = args.chunk_rows * (N_FEATURES + 1) * 8 / 2**20
    print(f"\nclasses {streamed.classes_.tolist()}: softmax, coef_ shape {streamed.coef_.shape}")
    print(f"partial_fit, {args.passes} passes over {args.rows:,} rows: "
          f"{stream_seconds:.1f} s (including CSV parsing)")  # fmt: skip
    for name, model in [
        (f"partial_fit on all {args.rows:,} rows", streamed),
        (f"fit in memory on {args.sample_rows:,} rows", in_memory),
    ]:
        loss = log_loss(test["label"], model.predict_proba(test[FEATURES]), labels=CLASSES)
        print(f"test log-loss, {name}: {loss:.4f}")
    print(f"peak memory allocated while streaming: {peak / 2**20:.0f} MB "
          f"(one chunk of {args.chunk_rows:,} rows as float64: {chunk_mb:.0f} MB; "
          f"the CSV: {size_mb:.0f} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
