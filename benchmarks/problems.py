"""The benchmark problems: deterministic data sets (fixed seeds) and their C.

Every synthetic problem's number of rows is multiplied by ``scale`` (at least 200 rows are
kept); the real data sets (breast cancer, digits) are always used whole. Labels are class
codes 0..K-1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.preprocessing import StandardScaler

MIN_ROWS = 200
TEXT_FEATURES = 2**18


@dataclass
class Problem:
    """One benchmark problem: data, labels, C, and a one-line description."""

    name: str
    X: object
    y: np.ndarray
    C: float
    n_classes: int
    description: str

    @property
    def n_scores(self) -> int:
        """Scores per row: 1 for binary problems, K for K > 2 classes."""
        return 1 if self.n_classes == 2 else self.n_classes


@dataclass(frozen=True)
class ProblemSpec:
    """How to build a problem: a data builder ``scale -> (X, y, description)`` and C."""

    build: Callable[[float], tuple]
    C: float = 1.0
    float32: bool = False


def _rows(n: int, scale: float) -> int:
    return max(MIN_ROWS, round(n * scale))


def _standardise(X: np.ndarray) -> np.ndarray:
    return StandardScaler().fit_transform(X)


def tall(n_samples: int, *, standardised: bool) -> Callable[[float], tuple]:
    """P1: make_classification (100 features, 30 informative, 5% flipped labels).

    Columns multiplied by scales log-uniform in [0.01, 100] (``default_rng(1)``);
    ``standardised`` then applies a StandardScaler.
    """

    def build(scale: float) -> tuple:
        n = _rows(n_samples, scale)
        X, y = make_classification(
            n_samples=n, n_features=100, n_informative=30, flip_y=0.05, random_state=0
        )
        X *= 10.0 ** np.random.default_rng(1).uniform(-2.0, 2.0, X.shape[1])
        kind = "raw column scales 0.01..100"
        if standardised:
            X, kind = _standardise(X), "standardised"
        return X, y, f"dense {n:,} x 100, {kind}"

    return build


def wide(scale: float) -> tuple:
    """P2: make_classification(20k x 2000, 200 informative, 5% flipped), standardised."""
    n = _rows(20_000, scale)
    X, y = make_classification(
        n_samples=n, n_features=2_000, n_informative=200, flip_y=0.05, random_state=2
    )
    return _standardise(X), y, f"dense {n:,} x 2,000, standardised"


def multinomial(scale: float) -> tuple:
    """P4: make_classification(200k x 50, 10 classes, 30 informative), standardised."""
    n = _rows(200_000, scale)
    X, y = make_classification(
        n_samples=n, n_features=50, n_classes=10, n_informative=30, random_state=4
    )
    return _standardise(X), y, f"dense {n:,} x 50, 10 classes, standardised"


def _zipf_tokens(rng, n_rows: int, tokens_per_row: float, n_features: int):
    """Row and column index of every token: Poisson counts per row, p(rank) ~ rank^-1.1."""
    counts = rng.poisson(tokens_per_row, n_rows)
    rows = np.repeat(np.arange(n_rows, dtype=np.int32), counts)
    cdf = np.cumsum(1.0 / np.arange(1, n_features + 1) ** 1.1)
    ranks = np.searchsorted(cdf, rng.random(rows.size) * cdf[-1])
    ranks = np.minimum(ranks, n_features - 1)
    column_of_rank = rng.permutation(n_features).astype(np.int32)
    return rows, column_of_rank[ranks], column_of_rank


def _tfidf(rows, cols, n_rows: int, n_features: int) -> sparse.csr_matrix:
    """CSR of log1p(term count) * smooth idf, rows L2-normalised."""
    ones = np.ones(rows.size)
    X = sparse.csr_matrix((ones, (rows, cols)), shape=(n_rows, n_features))
    X.sum_duplicates()
    df = np.bincount(X.indices, minlength=n_features)
    idf = np.log((1.0 + n_rows) / (1.0 + df)) + 1.0
    X.data = np.log1p(X.data) * idf[X.indices]
    norms = np.sqrt(np.add.reduceat(X.data**2, X.indptr[:-1])) if X.nnz else np.ones(n_rows)
    norms[np.diff(X.indptr) == 0] = 1.0
    X.data /= np.repeat(norms, np.diff(X.indptr))
    return X


def text_like(n_samples: int, n_features: int = TEXT_FEATURES) -> Callable[[float], tuple]:
    """P3: sparse tf-idf-like CSR, n x 2^18 (or ``n_features``), ~80 non-zeros per row.

    Tokens: Poisson(115) per row, columns with Zipf-like frequencies p ~ rank^-1.1 (a
    random permutation maps ranks to columns); values log1p(count) * idf, rows
    L2-normalised. Labels: a true model with 2,000 non-zero N(0, 1) weights on the 20,000
    most frequent columns (``default_rng(4)``), its scores centred and scaled to standard
    deviation 3, plus standard logistic noise. Data seed ``default_rng(3)``.
    """

    def build(scale: float) -> tuple:
        n = _rows(n_samples, scale)
        rng = np.random.default_rng(3)
        rows, cols, column_of_rank = _zipf_tokens(rng, n, 115.0, n_features)
        X = _tfidf(rows, cols, n, n_features)
        model_rng = np.random.default_rng(4)  # the same true model at every scale
        true_w = np.zeros(n_features)
        support = model_rng.choice(column_of_rank[:20_000], size=2_000, replace=False)
        true_w[support] = model_rng.standard_normal(support.size)
        scores = X @ true_w
        scores = 3.0 * (scores - scores.mean()) / max(scores.std(), 1e-12)
        y = (scores + rng.logistic(size=n) > 0).astype(np.int64)
        width = "2^18" if n_features == TEXT_FEATURES else f"{n_features:,}"
        description = f"sparse CSR {n:,} x {width}, {X.nnz / n:.0f} nnz/row, tf-idf, Zipf columns"
        return X, y, description

    return build


def breast_cancer(scale: float) -> tuple:
    """P5a: scikit-learn's breast cancer data, raw features (569 x 30); ``scale`` unused."""
    X, y = load_breast_cancer(return_X_y=True)
    return X, y, "breast cancer 569 x 30, raw features"


def digits(scale: float) -> tuple:
    """P5b: scikit-learn's digits, 10 classes, raw pixels (1797 x 64); ``scale`` unused."""
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float64), y, "digits 1,797 x 64, 10 classes, raw"


PROBLEMS: dict[str, ProblemSpec] = {
    "P1": ProblemSpec(tall(500_000, standardised=False)),
    "P1s": ProblemSpec(tall(500_000, standardised=True)),
    "P1s-f32": ProblemSpec(tall(500_000, standardised=True), float32=True),
    "P1s-C100": ProblemSpec(tall(500_000, standardised=True), C=100.0),
    "P2": ProblemSpec(wide),
    "P3": ProblemSpec(text_like(200_000)),
    "P3-f32": ProblemSpec(text_like(200_000), float32=True),
    "P3-C100": ProblemSpec(text_like(200_000), C=100.0),
    "P4": ProblemSpec(multinomial),
    "P5a": ProblemSpec(breast_cancer),
    "P5b": ProblemSpec(digits),
    "P5a-unpen": ProblemSpec(breast_cancer, C=math.inf),
    # The smaller versions --quick uses.
    "P1s-100k": ProblemSpec(tall(100_000, standardised=True)),
    "P3-50k": ProblemSpec(text_like(50_000)),
}
FULL_SUITE = [
    "P1",
    "P1s",
    "P1s-f32",
    "P1s-C100",
    "P2",
    "P3",
    "P3-f32",
    "P3-C100",
    "P4",
    "P5a",
    "P5b",
    "P5a-unpen",
]
QUICK_SUITE = ["P1s-100k", "P5a", "P5b", "P3-50k"]


def build_problem(name: str, scale: float = 1.0) -> Problem:
    """Build the named problem (deterministic for a given ``scale``)."""
    spec = PROBLEMS[name]
    X, y, description = spec.build(scale)
    if spec.float32:
        X = X.astype(np.float32)
        description += ", float32"
    y = np.asarray(y, dtype=np.int64)
    if spec.C != 1.0:
        description += f", C={spec.C:g}"
    n_classes = int(y.max()) + 1
    return Problem(name, X, y, spec.C, n_classes, description)
