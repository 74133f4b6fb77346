"""What every display shares: matplotlib, imported only when drawing."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", ":", "-.")
INTERCEPT = "intercept"


def require_pyplot(caller: str):
    """matplotlib.pyplot, or an ImportError that says how to get it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f'{caller} requires matplotlib; install it with pip install "celr[plot]".'
        ) from exc
    return plt


def axes_to_draw_on(ax: Axes | None, caller: str) -> Axes:
    plt = require_pyplot(caller)
    return plt.subplots()[1] if ax is None else ax


def feature_names(names, n_features: int) -> list[str]:
    return [f"x{j}" for j in range(n_features)] if names is None else [str(f) for f in names]
