"""celr.plotting: each display drawn headless, its artists, labels, scales and legend."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, make_classification
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from celr import CrossEntropyLogisticRegression, regularization_path  # noqa: E402
from celr.plotting import (  # noqa: E402
    CoefficientDisplay,
    LossCurveDisplay,
    RegularizationPathDisplay,
)

COLUMNS = ["mean radius", "mean texture", "mean smoothness", "mean concavity"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def cancer():
    data = load_breast_cancer(as_frame=True)
    return data.data[COLUMNS], data.target


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True, as_frame=True)


@pytest.fixture(scope="module")
def binary_model(cancer):
    return CrossEntropyLogisticRegression().fit(*cancer)


@pytest.fixture(scope="module")
def iris_model(iris):
    return CrossEntropyLogisticRegression().fit(*iris)


@pytest.fixture(scope="module")
def cancer_path(cancer):
    return regularization_path(*cancer, Cs=5, l1_ratio=1.0)


def ytick_labels(ax) -> list[str]:
    return [label.get_text() for label in ax.get_yticklabels()]


def legend_texts(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def has_error_bars(container) -> bool:
    _, _, bar_collections = container.lines
    return len(bar_collections) > 0


# -- shared behaviour ---------------------------------------------------------------------
def _draw(kind, binary_model, cancer_path):
    if kind == "loss":
        return LossCurveDisplay.from_estimator(binary_model)
    if kind == "coef":
        return CoefficientDisplay.from_estimator(binary_model, intervals=False)
    return RegularizationPathDisplay.from_path(cancer_path)


@pytest.mark.parametrize("kind", ["loss", "coef", "path"])
def test_savefig_is_not_blank(kind, binary_model, cancer_path, tmp_path):
    display = _draw(kind, binary_model, cancer_path)
    display.figure_.savefig(tmp_path / "plot.png")
    pixels = matplotlib.image.imread(tmp_path / "plot.png")
    assert pixels.ndim == 3 and not np.all(pixels == pixels[0, 0])


@pytest.mark.parametrize("kind", ["loss", "coef", "path"])
def test_plot_draws_into_given_axes(kind, binary_model, cancer_path):
    display = _draw(kind, binary_model, cancer_path)
    fig, ax = plt.subplots()
    assert display.plot(ax=ax) is display
    assert display.ax_ is ax and display.figure_ is fig


def test_importing_without_matplotlib_works():
    code = "import sys; sys.modules['matplotlib'] = None; import celr.plotting"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_drawing_without_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    display = LossCurveDisplay([1.0, 0.5, 0.25])
    with pytest.raises(ImportError, match=r'pip install "celr\[plot\]"'):
        display.plot()
    with pytest.raises(ImportError, match=r"RegularizationPathDisplay\.from_estimator"):
        # Before any path is fitted: the user does not wait for the error.
        RegularizationPathDisplay.from_estimator(
            CrossEntropyLogisticRegression(), np.zeros((2, 1)), [0, 1]
        )


@pytest.mark.parametrize(
    "draw",
    [
        lambda model: LossCurveDisplay.from_estimator(model),
        lambda model: CoefficientDisplay.from_estimator(model, intervals=False),
    ],
    ids=["loss", "coef"],
)
def test_unfitted_estimator_is_refused(draw):
    with pytest.raises(NotFittedError):
        draw(CrossEntropyLogisticRegression())


# -- LossCurveDisplay ---------------------------------------------------------------------
def test_loss_curve_of_a_newton_fit(binary_model):
    display = LossCurveDisplay.from_estimator(binary_model)
    ax = display.ax_
    assert ax.get_xlabel() == "iteration" and ax.get_ylabel() == "objective"
    assert ax.get_yscale() == "linear"
    assert len(ax.get_lines()) == 1 and display.validation_line_ is None
    np.testing.assert_array_equal(display.line_.get_ydata(), binary_model.loss_curve_)
    assert display.line_.get_xdata().tolist() == list(range(binary_model.n_iter_ + 1))
    assert legend_texts(ax) == ["CrossEntropyLogisticRegression: objective"]


def test_loss_curve_log_scale_plots_the_gap_to_the_minimum(binary_model):
    display = LossCurveDisplay.from_estimator(binary_model, name="newton", log_scale=True)
    ax = display.ax_
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "objective - minimum"
    gap = display.line_.get_ydata()
    expected = binary_model.loss_curve_ - binary_model.loss_curve_.min()
    assert np.all(gap > 0)
    assert gap.min() == expected[expected > 0].min()  # the minimum sits at the floor
    np.testing.assert_array_equal(gap[expected > 0], expected[expected > 0])
    assert legend_texts(ax) == ["newton: objective"]


def test_loss_curve_log_scale_of_a_flat_curve_stays_positive():
    display = LossCurveDisplay([0.5, 0.5]).plot(log_scale=True)
    assert np.all(display.line_.get_ydata() > 0)


def test_loss_curve_of_sgd_with_early_stopping_shows_the_validation_curve(cancer):
    X, y = cancer
    model = CrossEntropyLogisticRegression(
        solver="sgd", early_stopping=True, max_iter=15, batch_size=64, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stops at max_iter: a ConvergenceWarning
        model.fit(X, y)
    display = LossCurveDisplay.from_estimator(model, log_scale=True)
    ax = display.ax_
    assert ax.get_xlabel() == "epoch"
    assert len(ax.get_lines()) == 2 and display.validation_line_ is not None
    assert len(legend_texts(ax)) == 2
    assert legend_texts(ax)[1].endswith("held-out cross-entropy")
    assert len(display.validation_line_.get_ydata()) == len(model.validation_loss_curve_)


def test_loss_curve_without_a_curve_is_refused():
    with pytest.raises(ValueError, match="loss_curve"):
        LossCurveDisplay(np.zeros((2, 2)))


# -- CoefficientDisplay -------------------------------------------------------------------
def test_coefficients_sorted_largest_on_top(binary_model):
    display = CoefficientDisplay.from_estimator(binary_model, intervals=False)
    ax = display.ax_
    by_size = np.array(COLUMNS)[np.argsort(-np.abs(binary_model.coef_[0]))]
    assert ytick_labels(ax) == by_size[::-1].tolist()  # tick labels go bottom to top
    assert ax.get_xlabel() == "coefficient" and ax.get_xscale() == "linear"
    assert len(display.errorbars_) == 1 and not has_error_bars(display.errorbars_[0])
    assert display.reference_line_.get_xdata()[0] == 0.0
    assert ax.get_legend() is None  # one series, no name: nothing to tell apart
    x, y = display.errorbars_[0].lines[0].get_data()
    np.testing.assert_allclose(np.sort(np.abs(x)), np.sort(np.abs(binary_model.coef_[0])))
    assert np.all(np.diff(np.abs(x)[np.argsort(y)]) >= 0)


def test_odds_ratios_on_a_log_axis(binary_model):
    display = CoefficientDisplay.from_estimator(
        binary_model, intervals=False, odds_ratio=True, name="celr"
    )
    ax = display.ax_
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "odds ratio"
    assert display.reference_line_.get_xdata()[0] == 1.0
    x = display.errorbars_[0].lines[0].get_xdata()
    np.testing.assert_allclose(np.sort(x), np.sort(np.exp(binary_model.coef_[0])))
    assert legend_texts(ax) == ["celr"]


def test_intercept_and_max_features(binary_model):
    display = CoefficientDisplay.from_estimator(
        binary_model, intervals=False, include_intercept=True
    )
    assert sorted(ytick_labels(display.ax_)) == sorted([*COLUMNS, "intercept"])
    display = CoefficientDisplay.from_estimator(binary_model, intervals=False, max_features=2)
    largest = np.array(COLUMNS)[np.argsort(-np.abs(binary_model.coef_[0]))[:2]]
    assert ytick_labels(display.ax_) == largest[::-1].tolist()
    with pytest.raises(ValueError, match="max_features"):
        CoefficientDisplay.from_estimator(binary_model, intervals=False, max_features=0)


def test_multinomial_one_series_per_class(iris, iris_model):
    X, _ = iris
    display = CoefficientDisplay.from_estimator(iris_model, intervals=False, max_features=3)
    ax = display.ax_
    assert len(display.errorbars_) == 3
    assert legend_texts(ax) == ["0", "1", "2"] and ax.get_legend().get_title().get_text() == (
        "class"
    )
    labels = ytick_labels(ax)
    assert len(labels) == 3 and set(labels) <= set(X.columns)
    size = pd.Series(np.abs(iris_model.coef_).max(axis=0), index=X.columns)
    assert labels == size.sort_values().index[-3:].tolist()
    heights = [container.lines[0].get_ydata() for container in display.errorbars_]
    assert np.all(heights[0] > heights[1]) and np.all(heights[1] > heights[2])  # offsets
    markers = {container.lines[0].get_marker() for container in display.errorbars_}
    assert len(markers) == 3


def test_coefficients_of_any_linear_classifier_without_feature_names(cancer):
    X, y = cancer
    model = LogisticRegression().fit(X.to_numpy(), y)
    display = CoefficientDisplay.from_estimator(model, intervals=False)
    assert sorted(ytick_labels(display.ax_)) == ["x0", "x1", "x2", "x3"]
    with pytest.raises(ValueError, match="intervals=False"):
        CoefficientDisplay.from_estimator(model, X, y)


def _table(multinomial: bool) -> pd.DataFrame:
    """A summary()-shaped table with made-up numbers."""
    features = ["a", "b", "c"]
    index = (
        pd.MultiIndex.from_product([["x", "y"], features], names=["class", "feature"])
        if multinomial
        else pd.Index(features, name="feature")
    )
    estimate = np.linspace(-1.5, 1.0, len(index))
    table = pd.DataFrame(
        {"estimate": estimate, "ci_lower": estimate - 0.3, "ci_upper": estimate + 0.3},
        index=index,
    )
    for suffix, column in [("", "estimate"), ("_lower", "ci_lower"), ("_upper", "ci_upper")]:
        table[f"odds_ratio{suffix}"] = np.exp(table[column])
    table.attrs["alpha"] = 0.1
    return table


@pytest.mark.parametrize("multinomial", [False, True])
@pytest.mark.parametrize("odds_ratio", [False, True])
def test_a_summary_table_gets_error_bars(multinomial, odds_ratio):
    display = CoefficientDisplay(_table(multinomial), odds_ratio=odds_ratio).plot()
    what = "odds ratio" if odds_ratio else "coefficient"
    assert display.ax_.get_xlabel() == f"{what} (90% interval)"
    assert len(display.errorbars_) == (2 if multinomial else 1)
    assert all(has_error_bars(container) for container in display.errorbars_)
    assert len(ytick_labels(display.ax_)) == 3


def test_table_without_estimate_is_refused():
    with pytest.raises(ValueError, match="'estimate'"):
        CoefficientDisplay(pd.DataFrame({"coef": [1.0]}, index=["a"]))
    with pytest.raises(ValueError, match="one row per feature"):
        CoefficientDisplay(pd.DataFrame({"estimate": [1.0, 2.0]}, index=["a", "a"]))


def test_binary_summary_intervals(cancer):
    X, y = cancer
    X = X[["mean radius", "mean texture"]]
    model = CrossEntropyLogisticRegression(C=np.inf).fit(X, y)
    display = CoefficientDisplay.from_estimator(model, X, y, odds_ratio=True)
    assert ytick_labels(display.ax_) == ["mean texture", "mean radius"]  # intercept dropped
    assert display.ax_.get_xlabel() == "odds ratio (95% interval)"
    assert has_error_bars(display.errorbars_[0])
    display = CoefficientDisplay.from_estimator(model, X, y, include_intercept=True, alpha=0.1)
    assert ytick_labels(display.ax_)[-1] == "intercept"  # the largest
    assert display.ax_.get_xlabel() == "coefficient (90% interval)"


def test_multinomial_summary_intervals():
    X, y = make_classification(
        300, 4, n_informative=3, n_redundant=0, n_classes=3, flip_y=0.1, random_state=0
    )
    model = CrossEntropyLogisticRegression(C=np.inf).fit(X, y)
    display = CoefficientDisplay.from_estimator(model, X, y, max_features=3)
    table = model.summary(X, y)
    n_series = len(table.index.unique(level=0))  # K - 1 against a reference class, or K
    assert len(display.errorbars_) == n_series
    assert all(has_error_bars(container) for container in display.errorbars_)
    assert len(ytick_labels(display.ax_)) == 3 and "intercept" not in ytick_labels(display.ax_)
    assert len(legend_texts(display.ax_)) == n_series


# -- RegularizationPathDisplay ------------------------------------------------------------
def test_path_from_path(cancer_path):
    display = RegularizationPathDisplay.from_path(cancer_path, feature_names=COLUMNS)
    ax = display.ax_
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "C"
    assert ax.get_ylabel() == "coefficient"
    assert len(display.lines_) == len(COLUMNS)
    np.testing.assert_array_equal(display.lines_[0].get_xdata(), cancer_path.Cs)
    assert sorted(legend_texts(ax)) == sorted(COLUMNS)
    assert ax.get_legend().get_title().get_text() == "L1"
    colours = {line.get_color() for line in display.lines_}
    assert len(colours) == len(COLUMNS)


def test_path_legend_names_the_largest_at_the_largest_C(cancer_path):
    display = RegularizationPathDisplay.from_path(cancer_path, max_legend=2, name="cancer")
    largest = np.argsort(-np.abs(cancer_path.coefs[-1, 0]))[:2]
    assert legend_texts(display.ax_) == [f"x{j}" for j in largest]
    assert display.ax_.get_legend().get_title().get_text() == "cancer, L1"


def test_path_from_estimator_names_the_dataframe_columns(cancer):
    X, y = cancer
    model = CrossEntropyLogisticRegression(solver="sgd", l1_ratio=0.0)  # sgd: path uses auto
    display = RegularizationPathDisplay.from_estimator(model, X, y, Cs=[0.01, 1.0, 100.0])
    assert len(display.lines_) == len(COLUMNS)
    assert sorted(legend_texts(display.ax_)) == sorted(COLUMNS)
    assert display.lines_[0].get_xdata().tolist() == [0.01, 1.0, 100.0]
    assert display.ax_.get_legend().get_title().get_text() == "L2"


def test_multinomial_path(iris):
    X, y = iris
    model = CrossEntropyLogisticRegression(l1_ratio=0.5)
    display = RegularizationPathDisplay.from_estimator(model, X, y, Cs=4)
    assert len(display.lines_) == 3 * X.shape[1]
    styles = [line.get_linestyle() for line in display.lines_]
    assert len(set(styles)) == 3  # a line style per class
    colours = [line.get_color() for line in display.lines_]
    assert colours[: X.shape[1]] == colours[X.shape[1] : 2 * X.shape[1]]  # a colour per feature
    texts = legend_texts(display.ax_)
    assert texts[-3:] == ["class 0", "class 1", "class 2"]
    assert sorted(texts[:-3]) == sorted(X.columns)


def test_path_display_checks_shapes():
    with pytest.raises(ValueError, match="n_Cs=3"):
        RegularizationPathDisplay([1.0, 2.0, 3.0], np.zeros((2, 4)))
    with pytest.raises(ValueError, match="feature_names"):
        RegularizationPathDisplay([1.0, 2.0], np.zeros((2, 4)), feature_names=["a"])
