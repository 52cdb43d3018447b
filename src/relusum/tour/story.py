"""Figures 1 to 6 of the tour: a ReLU, a shift, a neuron, a layer, two and three terms.

These pictures do not depend on the target, so they have a fixed layout (set
by hand, not computed at every save) and their labels are placed by
:func:`relusum.tour.labels.place`, clear of every line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from relusum.model import ReluSum
from relusum.tour.labels import place

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "LAYER",
    "TERM_EXAMPLES",
    "new_figure",
    "fig_relu",
    "fig_shift",
    "fig_neuron",
    "fig_layer",
    "fig_terms",
    "num",
    "shifted",
]

#: Resolution of the still figures.
DPI = 110
#: The small network of figure 4: input weights a, biases b, output weights w, output bias c.
LAYER = {
    "a": (1.0, -1.0, 1.5, 1.0),
    "b": (2.0, -0.5, -0.75, -2.0),
    "w": (1.0, 1.2, -1.6, 1.4),
    "c": -1.0,
    "domain": (-3.0, 3.0),
}
#: The sums of figures 5 and 6: bias, knots, weights, window (which starts left of the
#: first knot, so that every term is seen to be zero before its knot).
TERM_EXAMPLES = {
    2: (0.0, (-2.0, 0.5), (1.0, -1.6), (-3.5, 3.0)),
    3: (0.0, (-2.0, 0.0, 1.5), (1.0, -2.0, 1.8), (-3.5, 3.0)),
}
_MARGINS = {"left": 0.1, "right": 0.97, "bottom": 0.12, "top": 0.9}


def new_figure(w: float, h: float, layout: str | None = "constrained") -> Figure:
    """A figure of ``w`` x ``h`` inches at :data:`DPI`, with an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _fixed(w: float, h: float, **margins: float) -> Figure:
    fig = new_figure(w, h, layout=None)
    fig.subplots_adjust(**{**_MARGINS, **margins})
    return fig


def num(v: float) -> str:
    """A number for a label, with a typographic minus sign."""
    return f"{v:g}".replace("-", "\u2212")


def shifted(h: float) -> str:
    """``x − h`` written the way a person would: ``x``, ``x − 2``, ``x + 2``."""
    if h == 0:
        return "x"
    return f"x \u2212 {h:g}" if h > 0 else f"x + {-h:g}"


def _ax_style(ax: Any) -> None:
    from relusum.plot import _style

    _style(ax)


def fig_relu() -> Figure:
    """Figure 1: ReLU(x) = max(0, x), its two slopes and its corner."""
    from relusum.plot import COLORS

    fig = _fixed(6.4, 4.0)
    ax = fig.subplots()
    x = np.array([-3.0, 0.0, 3.0])
    ax.plot(x, np.maximum(0, x), color=COLORS["sum"], lw=2.6, label="ReLU(x) = max(0, x)")
    ax.plot([0], [0], "o", color=COLORS["knot"], ms=7, zorder=5, label="the corner (knot) at 0")
    arrow = {"arrowstyle": "->", "color": "#666666"}
    ax.annotate(
        "slope 0:\nnegative inputs give 0",
        xy=(-1.5, 0.0),
        xytext=(-1.5, 1.2),
        fontsize=10,
        ha="center",
        va="bottom",
        arrowprops=arrow,
    )
    ax.annotate(
        "slope 1: positive\ninputs pass through",
        xy=(2.2, 2.2),
        xytext=(2.1, 0.25),
        fontsize=10,
        ha="center",
        va="bottom",
        arrowprops=arrow,
    )
    ax.set_xlim(-3, 3)
    ax.set_ylim(-0.5, 3.1)
    ax.set_xlabel("x")
    ax.set_ylabel("ReLU(x)")
    ax.set_title("ReLU: two straight pieces joined at a corner")
    ax.legend(loc="upper left")
    _ax_style(ax)
    return fig


def fig_shift() -> Figure:
    """Figure 2: ReLU(x - h) for four shifts h."""
    from relusum.plot import COLORS

    fig = _fixed(6.4, 4.0)
    ax = fig.subplots()
    shifts = (-2.0, -0.5, 1.0, 2.5)
    colors = ("#08519c", "#3182bd", "#6baed6", "#9ecae1")
    x0, x1 = -3.0, 4.0
    for h, c in zip(shifts, colors):
        xs = np.array([x0, h, x1])
        ax.plot(
            xs, np.maximum(0.0, xs - h), color=c, lw=2.3, label=f"h = {num(h)}:  ReLU({shifted(h)})"
        )
        ax.plot([h], [0.0], "o", color=COLORS["knot"], ms=6, zorder=5)
        ax.annotate(
            f"h = {num(h)}",
            xy=(h, 0.0),
            xytext=(h, -0.55),
            ha="center",
            va="center",
            fontsize=9,
            color=COLORS["knot"],
        )
    ax.set_xlim(x0, x1)
    ax.set_ylim(-0.8, 5.2)
    ax.set_xlabel("x")
    ax.set_ylabel("ReLU(x − h)")
    ax.set_title("ReLU(x − h): the same corner, moved to x = h")
    ax.legend(loc="upper left")
    _ax_style(ax)
    return fig


def fig_neuron() -> Figure:
    """Figure 3: a neuron diagram, and ReLU(a x + b) as a scaled ReLU at h = -b/a."""
    from relusum.diagrams import draw_neuron
    from relusum.plot import COLORS

    fig = _fixed(12.0, 4.3, left=0.01, right=0.99, bottom=0.12, top=0.9, wspace=0.12)
    left, right = fig.subplots(1, 2, width_ratios=[1.15, 1.0])
    draw_neuron(left, n_inputs=3)
    left.set_title("one neuron", fontsize=11)
    x = np.array([-3.0, 3.0])
    cases = (
        (2.0, -1.0, COLORS["terms"]),
        (0.5, 1.0, "#2ca02c"),
        (-1.5, -1.5, COLORS["terms_neg"]),
    )
    for a, b, color in cases:
        h = -b / a
        scale = abs(a)
        if a > 0:
            rhs = f"{scale:g}·ReLU({shifted(h)})"
        else:
            rhs = f"{scale:g}·ReLU({num(h)} \u2212 x), faces left"
        sign = "+" if b >= 0 else "\u2212"
        xs = np.unique(np.concatenate((x, [h])))
        right.plot(
            xs,
            np.maximum(0.0, a * xs + b),
            color=color,
            lw=2.3,
            label=f"ReLU({num(a)}x {sign} {abs(b):g}) = {rhs}",
        )
        right.plot([h], [0.0], "o", color=COLORS["knot"], ms=6, zorder=5)
        right.annotate(
            f"h = {num(h)}",
            xy=(h, 0.0),
            xytext=(h, -0.45),
            ha="center",
            va="center",
            fontsize=9,
            color=COLORS["knot"],
        )
    right.set_xlim(-3, 3)
    right.set_ylim(-0.75, 5.6)
    right.set_xlabel("x")
    right.set_ylabel("ReLU(a·x + b)")
    right.set_title("one input: ReLU(a·x + b) = |a|·ReLU(±(x − h)),  h = −b/a", fontsize=11)
    right.legend(loc="upper center", fontsize=9)
    _ax_style(right)
    return fig


def fig_layer() -> Figure:
    """Figure 4: the last hidden layer feeding the output, each unit's ReLU beside it."""
    from relusum.diagrams import draw_layer

    fig = _fixed(12.0, 6.2, left=0.01, right=0.99, bottom=0.01, top=0.93)
    ax = fig.subplots()
    draw_layer(LAYER["a"], LAYER["b"], LAYER["w"], LAYER["c"], LAYER["domain"], ax=ax)
    ax.set_title(
        "the last hidden layer: the output is a weighted sum of its units' ReLUs", fontsize=11
    )
    return fig


def fig_terms(k: int) -> Figure:
    """Figures 5 and 6: ``k`` shifted ReLUs (dashed), their sum, each bend and each slope.

    The window starts left of the first knot, so every term is first seen as
    zero; no label sits on a line.
    """
    from relusum.plot import COLORS

    bias, knots, weights, (a, b) = TERM_EXAMPLES[k]
    s = ReluSum(bias, knots, weights, (a, b))
    fig = _fixed(6.8, 4.6, bottom=0.11, top=0.91)
    ax = fig.subplots()
    palette = (COLORS["terms"], "#2ca02c", COLORS["terms_neg"])
    for i, (h, w) in enumerate(zip(knots, weights)):
        xs = np.array([a, h, b])
        scale = "" if w == 1 else f"{num(w)}·"
        ax.plot(
            xs,
            w * np.maximum(0.0, xs - h),
            "--",
            color=palette[i],
            lw=1.8,
            label=f"term {i + 1}: {scale}ReLU({shifted(h)})",
        )
    corners = np.array([a, *knots, b])
    ax.plot(corners, s(corners), color=COLORS["sum"], lw=2.6, label="their sum", zorder=4)
    ax.plot(knots, s(np.asarray(knots)), "o", color=COLORS["knot"], ms=7, zorder=6)
    ys = np.concatenate(
        [s(corners)] + [np.array([0.0, w * (b - h)]) for h, w in zip(knots, weights)]
    )
    lo, hi = float(ys.min()), float(ys.max())
    pad = 0.12 * (hi - lo)
    ax.set_xlim(a, b)
    ax.set_ylim(lo - pad, hi + 0.45 * (hi - lo))  # room for the legend above the lines
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    title = {2: "Two shifted ReLUs: one bend", 3: "Three shifted ReLUs: two bends"}[k]
    ax.set_title(title)
    _ax_style(ax)
    legend = ax.legend(loc="upper left", fontsize=9, ncols=2)
    # The slope of each piece, at its middle; then each bend, with the change of slope.
    slopes = np.concatenate(([0.0], np.cumsum(weights)))
    labels = []
    for i, slope in enumerate(slopes):
        mid = 0.5 * (corners[i] + corners[i + 1])
        labels.append(
            ax.annotate(
                f"slope {num(float(slope))}",
                xy=(mid, float(s(mid))),
                xytext=(0, 8),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=9,
                color=COLORS["sum"],
            )
        )
    first = ax.annotate(
        f"first knot x = {num(knots[0])}:\nterm 1 starts, slope 0 \u2192 {num(weights[0])}",
        xy=(knots[0], 0.0),
        xytext=(0, -30),
        textcoords="offset points",
        ha="center",
        va="top",
        fontsize=9,
        color=COLORS["knot"],
        arrowprops={"arrowstyle": "->", "color": COLORS["knot"], "lw": 0.9},
    )
    bends = [first]
    for h, w in zip(knots[1:], weights[1:]):
        bends.append(
            ax.annotate(
                f"bend at x = {num(h)}:\nthe slope changes by {num(w)}",
                xy=(h, float(s(h))),
                xytext=(0, -40),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize=9,
                color=COLORS["knot"],
                arrowprops={"arrowstyle": "->", "color": COLORS["knot"], "lw": 0.9},
            )
        )
    place(ax, labels, avoid=[legend])
    # Bends: above and to the left first (the sums here rise, then fall: that space is free).
    far = [(dx, dy) for dy in (40, 60, 80, -30, -50, -70, -90) for dx in (-70, -110, -30, 0, 50)]
    place(ax, bends, far, avoid=[legend, *labels])
    return fig
