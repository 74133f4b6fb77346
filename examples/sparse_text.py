"""Sparse text classification with an L1 penalty: which words decide?

Generates short product reviews (no download needed): filler words drawn with Zipf
frequencies, plus a few words that lean positive or negative. A ``TfidfVectorizer`` turns
them into a sparse matrix; ``CrossEntropyLogisticRegressionCV`` picks ``C`` for an L1
penalty by cross-validation along warm-started paths; the words the model keeps are
printed with their weights, and the regularization path shows the order in which words
enter the model as the penalty weakens.

Run: ``python examples/sparse_text.py`` (about 25 s; ``--reviews`` sets the size).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from celr import CrossEntropyLogisticRegressionCV, regularization_path

POSITIVE = ["excellent", "love", "perfect", "reliable", "sturdy", "recommend", "great"]
NEGATIVE = ["broken", "refund", "disappointed", "flimsy", "returned", "waste", "poor"]
FILLER = (
    "the a and it this i was is for of to with my on but not very so at have had one "
    "product item order box price color size use day week time works work arrived "
    "shipping package quality battery screen charger cable button light sound handle "
    "bag kitchen phone little bit really just also would again after before still first"
).split()


def make_reviews(n_reviews: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Reviews and labels (1: positive). Each review holds 8-30 filler words and, with
    probability 0.7 per word slot, a few sentiment words; 10% of labels are flipped."""
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, len(FILLER) + 1) ** 1.1
    zipf /= zipf.sum()
    labels = rng.integers(0, 2, n_reviews)
    reviews = []
    for label in labels:
        words = list(rng.choice(FILLER, size=rng.integers(8, 31), p=zipf))
        for _ in range(rng.poisson(2.0)):
            # Mostly words of the review's own sentiment, some of the other.
            own = POSITIVE if (label == 1) == (rng.random() < 0.8) else NEGATIVE
            words.append(rng.choice(own))
        rng.shuffle(words)
        reviews.append(" ".join(words))
    flipped = rng.random(n_reviews) < 0.1
    return reviews, np.where(flipped, 1 - labels, labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=10_000, help="number of reviews")
    args = parser.parse_args()

    reviews, labels = make_reviews(args.reviews)
    train_text, test_text, y_train, y_test = train_test_split(
        reviews, labels, test_size=0.25, random_state=0, stratify=labels
    )
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2),
        CrossEntropyLogisticRegressionCV(Cs=10, l1_ratios=[1.0], n_jobs=2),
    )
    start = time.perf_counter()
    model.fit(train_text, y_train)
    elapsed = time.perf_counter() - start
    vectorizer, classifier = model[0], model[-1]
    words = vectorizer.get_feature_names_out()
    weights = classifier.coef_[0]
    kept = np.flatnonzero(weights)
    print(f"{len(train_text):,} reviews, {len(words):,} uni- and bigrams (tf-idf, sparse)")
    print(
        f"5-fold CV over {len(classifier.Cs_)} values of C in {elapsed:.1f} s: "
        f"C = {classifier.C_:.3g}, {kept.size} of {len(words):,} features kept"
    )
    print(f"held-out accuracy {model.score(test_text, y_test):.3f}\n")

    by_weight = kept[np.argsort(weights[kept])]
    print("selected words, most negative and most positive weights:")
    for index in [*by_weight[:8], *by_weight[::-1][:8]]:
        print(f"  {words[index]:<24} {weights[index]:+.3f}")

    X_train = vectorizer.transform(train_text)
    path = regularization_path(X_train, y_train, Cs=8, l1_ratio=1.0)
    print("\nregularization path (C increasing; each fit warm-started from the previous):")
    previous: set[int] = set()
    for C, coef, n_iter in zip(path.Cs, path.coefs, path.n_iter, strict=True):
        active = set(np.flatnonzero(coef[0]).tolist())
        entering = [words[i] for i in sorted(active - previous, key=lambda i: -abs(coef[0, i]))]
        shown = ", ".join(entering[:5]) + (" ..." if len(entering) > 5 else "")
        print(f"  C = {C:9.3g}  {len(active):5d} words  {n_iter:3d} iterations  + {shown}")
        previous = active


if __name__ == "__main__":
    main()
