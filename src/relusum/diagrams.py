"""Schematic diagrams of a neuron and of a ReLU layer (matplotlib, Axes in, Axes out).

These are pictures, not computations: :func:`draw_neuron` draws inputs, weights,
bias, the ReLU and the output of one unit; :func:`draw_layer` draws one input
feeding a hidden ReLU layer whose weighted sum is the output, with each unit's
own curve drawn beside it.  Nothing here calls ``show()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from relusum.plot import COLORS

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["draw_neuron", "draw_layer", "layer_output"]

_NODE = "#f4f7fb"
_EDGE = "#4a4a4a"


def _blank(ax: Axes | None, xlim: tuple[float, float], ylim: tuple[float, float]) -> Axes:
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def _node(
    ax: Axes, x: float, y: float, r: float, text: str, color: str = _NODE, fontsize: float = 11
) -> None:
    from matplotlib.patches import Circle

    ax.add_patch(Circle((x, y), r, facecolor=color, edgecolor=_EDGE, lw=1.3, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=4)


def _arrow(
    ax: Axes, p: tuple[float, float], q: tuple[float, float], color: str = _EDGE, lw: float = 1.2
) -> None:
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(
        FancyArrowPatch(
            p,
            q,
            arrowstyle="-|>",
            mutation_scale=11,
            color=color,
            lw=lw,
            shrinkA=0,
            shrinkB=0,
            zorder=2,
        )
    )


def _towards(p: tuple[float, float], q: tuple[float, float], r_p: float, r_q: float):
    """The segment from circle ``p`` (radius r_p) to circle ``q`` (radius r_q), edge to edge."""
    p_, q_ = np.asarray(p, float), np.asarray(q, float)
    d = q_ - p_
    u = d / np.hypot(*d)
    return tuple(p_ + r_p * u), tuple(q_ - r_q * u)


def _relu_glyph(ax: Axes, x: float, y: float, size: float) -> None:
    """A small ReLU shape in a box centred at (x, y)."""
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch(
            (x - size, y - size),
            2 * size,
            2 * size,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor="#fff7ec",
            edgecolor=_EDGE,
            lw=1.3,
            zorder=3,
        )
    )
    s = 0.62 * size
    ax.plot(
        [x - s, x, x + s],
        [y - 0.45 * s, y - 0.45 * s, y + 0.8 * s],
        color=COLORS["sum"],
        lw=2.2,
        zorder=4,
        solid_capstyle="round",
    )


def draw_neuron(ax: Axes | None = None, n_inputs: int = 3) -> Axes:
    """Draw one neuron: inputs ``x_1 .. x_n``, weights ``a_i``, bias ``b``, ReLU, output.

    Parameters
    ----------
    ax : Axes, optional
        Where to draw (a new figure when omitted).  The axes are turned off.
    n_inputs : int
        How many input nodes to draw (2 to 5; the last is labelled ``x_n``).

    Returns
    -------
    Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from relusum.diagrams import draw_neuron
    >>> ax = draw_neuron()
    >>> ax.axison
    False
    """
    if not 2 <= int(n_inputs) <= 5:
        raise ValueError(f"n_inputs must be between 2 and 5, got {n_inputs}")
    n = int(n_inputs)
    ax = _blank(ax, (0.0, 10.0), (0.0, 5.6))
    r = 0.42
    ys = np.linspace(4.6, 1.0, n)
    sx, sy, sr = 4.6, 2.8, 0.62
    for k, y in enumerate(ys):
        last = k == n - 1
        name = "n" if last else str(k + 1)
        _node(ax, 1.0, y, r, f"$x_{{{name}}}$")
        p, q = _towards((1.0, y), (sx, sy), r, sr)
        _arrow(ax, p, q)
        mid = (0.42 * p[0] + 0.58 * q[0], 0.42 * p[1] + 0.58 * q[1])
        ax.text(
            mid[0],
            mid[1] + 0.22,
            f"$a_{{{name}}}$",
            ha="center",
            va="bottom",
            fontsize=11,
            color="#7a3b00",
        )
        if last and n > 2:
            ax.text(1.0, 0.5 * (ys[-2] + y), r"$\vdots$", ha="center", va="center", fontsize=13)
    _node(ax, sx, sy, sr, r"$\Sigma$", fontsize=15)
    ax.annotate(
        "bias $b$",
        xy=(sx, sy + sr),
        xytext=(sx, sy + 1.55),
        ha="center",
        fontsize=10,
        arrowprops={"arrowstyle": "-|>", "color": _EDGE, "lw": 1.1},
    )
    gx = 6.7
    _arrow(ax, (sx + sr, sy), (gx - 0.55, sy))
    ax.text(0.5 * (sx + sr + gx - 0.55), sy + 0.18, "$z$", ha="center", va="bottom", fontsize=11)
    _relu_glyph(ax, gx, sy, 0.55)
    ax.text(gx, sy - 0.8, "ReLU", ha="center", va="top", fontsize=10)
    _arrow(ax, (gx + 0.55, sy), (8.3, sy))
    ax.text(8.4, sy, "$y$", ha="left", va="center", fontsize=13)
    ax.text(
        5.0,
        0.05,
        r"$z = a_1x_1 + \dots + a_nx_n + b,\qquad y = \max(0, z)$",
        ha="center",
        va="bottom",
        fontsize=11,
    )
    return ax


def layer_output(
    x: np.ndarray,
    a: Sequence[float],
    b: Sequence[float],
    w: Sequence[float],
    c: float,
) -> np.ndarray:
    """The output ``c + sum_i w_i max(0, a_i x + b_i)`` of one hidden ReLU layer.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.diagrams import layer_output
    >>> layer_output(np.array([0.0, 2.0]), a=[1.0], b=[-1.0], w=[3.0], c=0.5).tolist()
    [0.5, 3.5]
    """
    xa = np.asarray(x, dtype=float)[..., None]
    return c + np.sum(np.asarray(w) * np.maximum(0.0, np.asarray(a) * xa + np.asarray(b)), -1)


def _affine(a: float, b: float) -> str:
    """``a x + b`` as text: ``x + 2``, ``−x − 0.5``, ``1.5x − 0.75``."""
    lead = {1.0: "", -1.0: "\u2212"}.get(float(a), f"{a:g}".replace("-", "\u2212"))
    if b == 0:
        return f"ReLU({lead}x)"
    sign = "+" if b > 0 else "\u2212"
    return f"ReLU({lead}x {sign} {abs(b):g})"


def _mini_plot(
    ax: Axes,
    rect: Sequence[float],
    x: np.ndarray,
    ys: Sequence[np.ndarray],
    colors: Sequence[str],
    styles: Sequence[str],
    ylim: tuple[float, float],
    title: str,
    marks: Sequence[float] = (),
) -> Axes:
    sub = ax.inset_axes(rect, transform=ax.transData)
    for y, c, st in zip(ys, colors, styles):
        sub.plot(x, y, st, color=c, lw=2.0 if st == "-" else 1.3)
    for m in marks:
        sub.axvline(m, color=COLORS["knot"], lw=0.8, ls=":")
    sub.axhline(0.0, color="#bbbbbb", lw=0.7, zorder=0)
    sub.set_xlim(x[0], x[-1])
    sub.set_ylim(*ylim)
    sub.set_xticks([])
    sub.set_yticks([])
    for side in ("top", "right"):
        sub.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        sub.spines[side].set_color("#999999")
    sub.set_title(title, fontsize=9, pad=2)
    return sub


def draw_layer(
    a: Sequence[float],
    b: Sequence[float],
    w: Sequence[float],
    c: float,
    domain: tuple[float, float],
    ax: Axes | None = None,
) -> Axes:
    """Draw input ``x`` -> hidden ReLU units -> output, each unit's ``ReLU(a_i x + b_i)`` beside it.

    The output node sums ``w_i`` times each unit plus the bias ``c``; beside it
    the resulting function is drawn on ``domain``.

    Parameters
    ----------
    a, b : sequence of float
        Input weight and bias of each hidden unit (2 to 6 units; ``a_i != 0``).
    w : sequence of float
        Output weight of each unit.
    c : float
        Output bias.
    domain : (A, B)
        The x range of the small plots.
    ax : Axes, optional
        Where to draw (a new figure when omitted).  The axes are turned off.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from relusum.diagrams import draw_layer
    >>> ax = draw_layer([1, -1], [0, 1], [1, 2], 0.0, (-2, 2))
    >>> len(ax.child_axes)
    3
    """
    a_ = np.asarray(a, dtype=float)
    b_ = np.asarray(b, dtype=float)
    w_ = np.asarray(w, dtype=float)
    if not (a_.shape == b_.shape == w_.shape) or not 2 <= a_.size <= 6:
        raise ValueError("a, b and w must have the same length, between 2 and 6")
    if np.any(a_ == 0):
        raise ValueError("every input weight a_i must be non-zero (a unit needs a knot)")
    lo, hi = float(domain[0]), float(domain[1])
    if not lo < hi:
        raise ValueError(f"domain must have A < B, got {domain!r}")
    n = a_.size
    ax = _blank(ax, (0.0, 15.0), (0.0, 1.55 * n + 0.9))
    top = 1.55 * n
    ys = top - 0.6 - 1.55 * np.arange(n)
    r = 0.45
    x_in, x_hid, x_out = 0.8, 4.0, 11.2
    y_out = float(np.mean(ys))
    _node(ax, x_in, y_out, r, "$x$", color="#eef6ee", fontsize=13)
    xs = np.linspace(lo, hi, 241)
    units = np.maximum(0.0, a_ * xs[:, None] + b_)
    ulim = (-0.12 * units.max(), 1.15 * units.max())
    out = layer_output(xs, a_, b_, w_, c)
    for i, y in enumerate(ys):
        h = -b_[i] / a_[i]
        p, q = _towards((x_in, y_out), (x_hid, y), r, r)
        _arrow(ax, p, q, lw=1.0)
        _node(ax, x_hid, y, r, f"$u_{{{i + 1}}}$", fontsize=11)
        ax.text(
            x_hid,
            y - r - 0.05,
            _affine(a_[i], b_[i]),
            ha="center",
            va="top",
            fontsize=8.5,
            color="#7a3b00",
        )
        facing = "faces left" if a_[i] < 0 else "faces right"
        hs = f"{h:.3g}".replace("-", "\u2212")
        _mini_plot(
            ax,
            (x_hid + 0.7, y - 0.55, 2.6, 1.1),
            xs,
            [units[:, i]],
            [COLORS["terms"] if a_[i] > 0 else COLORS["terms_neg"]],
            ["-"],
            ulim,
            f"knot h = {hs}, {facing}",
            marks=[h] if lo < h < hi else [],
        )
        p, q = _towards((x_hid + 3.45, y), (x_out, y_out), 0.0, 0.55)
        _arrow(ax, p, q, lw=1.0)
        t = 0.55
        ax.text(
            (1 - t) * p[0] + t * q[0],
            (1 - t) * p[1] + t * q[1] + 0.12,
            f"$w_{{{i + 1}}}={w_[i]:g}$",
            ha="center",
            va="bottom",
            fontsize=9,
            color="#7a3b00",
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
        )
    _node(ax, x_out, y_out, 0.55, r"$\Sigma$", fontsize=15)
    ax.text(
        x_out,
        y_out - 0.75,
        f"bias c = {c:g}".replace("-", "\u2212"),
        ha="center",
        va="top",
        fontsize=9,
    )
    span = float(out.max() - out.min()) or 1.0
    _mini_plot(
        ax,
        (x_out + 0.9, y_out - 1.0, 2.8, 2.0),
        xs,
        [out],
        [COLORS["sum"]],
        ["-"],
        (float(out.min()) - 0.12 * span, float(out.max()) + 0.12 * span),
        "output f(x)",
        marks=[float(-bi / ai) for ai, bi in zip(a_, b_) if lo < -bi / ai < hi],
    )
    ax.text(x_in, y_out - 0.7, "input", ha="center", va="top", fontsize=9)
    ax.text(
        x_hid + 1.9,
        top + 0.45,
        r"hidden units $u_i(x) = \mathrm{ReLU}(a_i x + b_i)$",
        ha="center",
        va="bottom",
        fontsize=10,
    )
    ax.text(
        x_out + 1.6,
        y_out + 1.35,
        r"$f(x) = c + \sum_i w_i\,u_i(x)$",
        ha="center",
        va="bottom",
        fontsize=10,
    )
    return ax
