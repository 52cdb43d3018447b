"""Figures 7, 8 and 8b of the tour: the fits themselves, their errors, a trained network."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from relusum._text import plural
from relusum.fitting.api import FitResult
from relusum.model import ReluSum
from relusum.targets import Target
from relusum.tour.data import Convergence
from relusum.tour.story import new_figure

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["fig_units", "fig_convergence", "fig_trained", "trained_units_shown", "value_range"]


def value_range(curves: list[np.ndarray], pad: float = 0.1) -> tuple[float, float]:
    """A y range that holds every curve, with ``pad`` of the span added each side.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.tour.results import value_range
    >>> value_range([np.array([0.0, 1.0]), np.array([-1.0])], pad=0.0)
    (-1.0, 1.0)
    """
    lo = min(float(np.min(c)) for c in curves)
    hi = max(float(np.max(c)) for c in curves)
    span = (hi - lo) or 1.0
    return lo - pad * span, hi + pad * span


def fig_units(tgt: Target, results: list[FitResult]) -> Figure:
    """Figure 7: the target with more and more units (sum on top, terms underneath).

    Every panel shares one y range that holds the target and every sum shown,
    so no panel cuts off its curve.
    """
    from matplotlib.lines import Line2D

    from relusum.plot import COLORS, _style, plot_terms

    k = len(results)
    # The legend takes the free cell after the last panel, or goes below the grid.
    ncols = min(4, k)
    spare = k % ncols != 0
    nrows = math.ceil(k / ncols)
    fig = new_figure(3.3 * max(ncols, 2), 3.6 * nrows + (0 if spare else 1.1))
    outer = fig.add_gridspec(nrows, ncols)
    a, b = tgt.domain
    xs = np.linspace(a, b, 800)
    yt = tgt.evaluate(xs)
    corner_sets = []
    for res in results:
        s = res.model
        corner_sets.append(
            np.unique(np.concatenate(([a, b], s.knots[(s.knots > a) & (s.knots < b)])))
        )
    ylim = value_range([yt] + [r.model(c) for r, c in zip(results, corner_sets)], pad=0.08)
    for i, (res, corners) in enumerate(zip(results, corner_sets)):
        cell = outer[i // ncols, i % ncols].subgridspec(2, 1, height_ratios=[2.2, 1], hspace=0)
        top = fig.add_subplot(cell[0])
        bot = fig.add_subplot(cell[1], sharex=top)
        s, rep = res.model, res.report
        top.plot(xs, yt, color=COLORS["target"], lw=1.3)
        top.plot(corners, s(corners), color=COLORS["sum"], lw=2.0)
        if s.n_units <= 20:
            top.plot(s.knots, s(s.knots), "o", color=COLORS["knot"], ms=3.5, zorder=5)
        top.set_ylim(*ylim)
        top.set_xlim(a, b)
        top.set_title(plural(rep.n_units, "unit"), fontsize=11, fontweight="bold", loc="left")
        top.text(
            1.0,
            1.02,
            f"max error {rep.max_abs_error:.2g}",
            transform=top.transAxes,
            ha="right",
            va="bottom",
            fontsize=8.5,
            color="#555555",
        )
        top.tick_params(labelbottom=False)
        _style(top)
        plot_terms(s, bot, (a, b))
        bot.axhline(0.0, color="#999999", lw=0.6, zorder=0)
        bot.tick_params(labelsize=8)
        bot.set_xlabel("x", fontsize=9)
        if i % ncols == 0:
            top.set_ylabel("f(x)")
            bot.set_ylabel("terms", fontsize=9)
    handles = [
        Line2D([], [], color=COLORS["target"], lw=1.3, label=f"target {tgt.label}"),
        Line2D([], [], color=COLORS["sum"], lw=2.0, label="sum of the ReLUs (least squares)"),
        Line2D([], [], color=COLORS["knot"], marker="o", ls="", ms=4, label="knots $h_i$"),
        Line2D(
            [],
            [],
            color=COLORS["terms"],
            ls="--",
            label=r"terms $w_i\,\max(0, x - h_i)$ with $w_i > 0$",
        ),
        Line2D([], [], color=COLORS["terms_neg"], ls="--", label="terms with $w_i < 0$"),
    ]
    guide = (
        "Top: the target and the sum. Bottom: the scaled shifted ReLUs that add up to "
        "the sum (uniform knots, weights by least squares)."
    )
    if spare:
        ax = fig.add_subplot(outer[k // ncols, k % ncols])
        ax.axis("off")
        ax.legend(handles=handles, loc="upper left", fontsize=9, frameon=False)
        ax.text(
            0.0,
            0.2,
            guide.replace(". ", ".\n").replace("up to ", "up to\n"),
            transform=ax.transAxes,
            fontsize=9,
            va="bottom",
            color="#444444",
        )
    else:
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncols=3,
            fontsize=9,
            frameon=False,
            title=guide,
            title_fontsize=9,
        )
    fig.suptitle(f"{tgt.label} on [{a:.4g}, {b:.4g}] with more and more ReLU units", fontsize=12)
    return fig


def fig_convergence(tgt: Target, conv: Convergence) -> Figure:
    """Figure 8: largest and RMS error against the number of units, one line per method."""
    from relusum.plot import plot_convergence

    fig = new_figure(11.0, 4.4)
    left, right = fig.subplots(1, 2)
    labels = {m: _slope_label(conv, m, "max_error") for m in conv.methods}
    plot_convergence(
        conv.units,
        {labels[m]: conv.max_error[m] for m in conv.methods},
        ax=left,
        ylabel="max |error| on the verification grid",
    )
    labels = {m: _slope_label(conv, m, "rmse") for m in conv.methods}
    plot_convergence(
        conv.units,
        {labels[m]: conv.rmse[m] for m in conv.methods},
        ax=right,
        ylabel="RMS error on the verification grid",
    )
    left.set_title("largest error", fontsize=11)
    right.set_title("root-mean-square error", fontsize=11)
    fig.suptitle(
        f"{tgt.label}: error against the number of units (every point is a fit)", fontsize=12
    )
    return fig


def _slope_label(conv: Convergence, method: str, which: str) -> str:
    p = conv.slope(method, which)
    tail = f"  (slope {p:.2f})" if np.isfinite(p) else ""
    return conv.labels[method] + tail


def trained_units_shown(trained: dict[int, Any]) -> int:
    """The unit count of figure 8b: the largest trained network with at most 20 units."""
    small = [n for n in trained if n <= 20]
    return max(small) if small else min(trained)


def fig_trained(
    plot_units: Callable[..., Any],
    trained: dict[int, Any],
    optimal: dict[int, ReluSum],
    tgt: Target,
) -> Figure | None:
    """Figure 8b: the units of the largest trained network with at most 20 units.

    With the target drawn under the network's output, the optimal knots as
    ticks, and the legend beside the plot (never over the data).
    """
    from relusum.plot import COLORS

    n = trained_units_shown(trained)
    fig = new_figure(10.0, 4.6)
    ax = fig.subplots()
    a, b = tgt.domain
    try:
        plot_units(trained[n].model, (a, b), ax=ax, optimal=optimal.get(n))
    except (TypeError, ValueError, AttributeError):
        return None
    xs = np.linspace(a, b, 800)
    # A wide pale band under the network's output: both stay visible where they agree.
    ax.plot(
        xs,
        tgt.evaluate(xs),
        color=COLORS["target"],
        lw=4.0,
        alpha=0.3,
        zorder=1.5,
        solid_capstyle="butt",
        label=f"target {tgt.label}",
    )
    handles, names = ax.get_legend_handles_labels()
    order = [len(names) - 1] + list(range(len(names) - 1))  # the target first
    ax.legend(
        [handles[i] for i in order],
        [names[i] for i in order],
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        frameon=False,
        fontsize=8.5,
    )
    ax.set_title("a trained network: " + ax.get_title(), fontsize=10)
    return fig
