"""The tour's animation: one frame per unit, each adding one shifted ReLU (a GIF).

Everything that never changes (the target, axes, legend) is drawn once; each
frame restores that background and draws only what changed (the sum, the
knots, the terms, two lines of text), then all frames share one palette.  The
loop lasts at most :data:`LOOP_MS` milliseconds, however many frames.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from relusum._io import atomic_write_bytes
from relusum._text import plural
from relusum.targets import Target
from relusum.tour.frames import Frame
from relusum.tour.progress import Progress
from relusum.tour.results import value_range

__all__ = ["LOOP_MS", "HOLD_MS", "durations", "write_gif"]

#: Longest loop of the animation, in milliseconds.
LOOP_MS = 20_000
#: How long the last frame stays, in milliseconds.
HOLD_MS = 2_500
#: Shortest frame: browsers show frames under 20 ms for 100 ms.
MIN_FRAME_MS = 20
GIF_DPI = 80
#: Colour of the unit added in a frame.
NEW_COLOR = "#2ca02c"


def durations(count: int) -> list[int]:
    """Milliseconds of each of ``count`` frames: slow at first, the last held; at most LOOP_MS.

    Frames 1-5 last 700 ms, 6-20 250 ms, later ones 90 ms or less (in steps of
    10 ms, the GIF's unit, never under 20 ms) so that the loop fits
    :data:`LOOP_MS`; the last frame is held :data:`HOLD_MS`.

    Examples
    --------
    >>> from relusum.tour.animation import durations
    >>> durations(3), sum(durations(100)) <= 20_000, sum(durations(500)) <= 20_000
    ([700, 700, 2500], True, True)
    """
    d = [700 if n <= 5 else 250 if n <= 20 else 90 for n in range(1, count + 1)]
    if count:
        d[-1] = HOLD_MS
    fast = [k for k in range(count - 1) if d[k] == 90]
    if fast and sum(d) > LOOP_MS:
        budget = LOOP_MS - (sum(d) - 90 * len(fast))
        each = max(MIN_FRAME_MS, (budget // len(fast)) // 10 * 10)
        for k in fast:
            d[k] = each
    return d


def _font(bold: bool, points: float) -> Any:
    """matplotlib's DejaVu Sans for PIL, at ``points`` on the GIF's resolution."""
    from matplotlib import font_manager
    from PIL import ImageFont

    prop = font_manager.FontProperties(family="DejaVu Sans", weight="bold" if bold else "normal")
    path = font_manager.findfont(prop, fallback_to_default=True)
    return ImageFont.truetype(path, size=round(points * GIF_DPI / 72))


def write_gif(tgt: Target, frames: Sequence[Frame], path: Path, bar: Progress) -> Path:
    """Write the animation of ``frames`` to ``path`` (atomically) and return ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from PIL import Image, ImageDraw

    from relusum.plot import COLORS, _style, term_segments

    a, b = tgt.domain
    fig = Figure(figsize=(7.0, 4.8), dpi=GIF_DPI)
    canvas = FigureCanvasAgg(fig)
    top, bot = fig.subplots(2, 1, sharex=True, height_ratios=[2.2, 1])
    fig.subplots_adjust(left=0.1, right=0.97, top=0.8, bottom=0.1, hspace=0.08)
    xs = np.linspace(a, b, 800)
    yt = tgt.evaluate(xs)
    top.plot(xs, yt, color=COLORS["target"], lw=1.4)
    ends = [f.model(np.array([a, b])) for f in frames]
    top.set_ylim(
        *value_range(
            [
                yt,
                *ends,
                *(
                    f.model(f.model.knots[(f.model.knots > a) & (f.model.knots < b)])
                    for f in frames
                    if f.n_units > 1
                ),
            ],
            pad=0.1,
        )
    )
    top.set_xlim(a, b)
    top.set_ylabel("f(x)")
    top.tick_params(labelbottom=False)
    bot.axhline(0.0, color="#999999", lw=0.6, zorder=0)
    bot.set_xlabel("x")
    bot.set_ylabel("terms")
    bot.set_yticks([])  # the terms' scale changes every frame: it is written in the panel
    _style(top)
    _style(bot)
    top.legend(
        handles=[
            Line2D([], [], color=COLORS["target"], lw=1.4, label=f"target {tgt.label}"),
            Line2D([], [], color=COLORS["sum"], lw=2.2, label="sum of ReLUs"),
            Line2D([], [], color=NEW_COLOR, lw=2.0, label="the unit just added"),
            Line2D([], [], color=COLORS["terms"], ls="--", label="terms (below), w > 0"),
            Line2D([], [], color=COLORS["terms_neg"], ls="--", label="w < 0"),
        ],
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        fontsize=8,
        ncols=3,
        frameon=False,
        borderaxespad=0.2,
    )
    fig.suptitle(
        "adding ReLU units one at a time, each where the error is largest",
        fontsize=11,
        x=0.1,
        ha="left",
        va="top",
        y=0.985,
    )
    (line,) = top.plot([], [], color=COLORS["sum"], lw=2.2, animated=True)
    (dots,) = top.plot([], [], "o", color=COLORS["knot"], ms=3, animated=True)
    (mark,) = top.plot([], [], "o", color=NEW_COLOR, ms=7, mfc="none", mew=2, animated=True)
    # Terms without anti-aliasing: far fewer distinct pixels, a much smaller GIF.
    pos = LineCollection(
        [], colors=COLORS["terms"], linestyles="--", antialiaseds=False, animated=True
    )
    neg = LineCollection(
        [], colors=COLORS["terms_neg"], linestyles="--", antialiaseds=False, animated=True
    )
    bot.add_collection(pos)
    bot.add_collection(neg)
    (new_term,) = bot.plot([], [], color=NEW_COLOR, lw=2.6, animated=True)
    # Two lines of text change every frame; PIL writes them (matplotlib would lay out and
    # render the glyphs again each time, most of a frame's cost).  The frame's own line sits
    # between the title and the legend, never over the curves.
    bold = _font(bold=True, points=10)
    small = _font(bold=False, points=8)
    height = fig.bbox.height
    label_xy = (0.1 * fig.bbox.width, height * (1 - 0.915))
    corner = bot.transAxes.transform((0.01, 0.95))
    scale_xy = (float(corner[0]), float(height - corner[1]))
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    images = []
    for f in frames:
        s = f.model
        inner = s.knots[(s.knots > a) & (s.knots < b)]
        corners = np.concatenate(([a], inner, [b]))
        line.set_data(corners, s(corners))
        if s.n_units <= 40:
            dots.set_data(s.knots, s(s.knots))
        else:
            dots.set_data([], [])
        n_terms = s.n_units
        alpha = float(np.clip(3.0 / np.sqrt(n_terms), 0.3, 0.9))
        lw = 1.3 if n_terms <= 10 else (1.0 if n_terms <= 30 else 0.8)
        new = None if f.new_knot is None else int(np.flatnonzero(s.knots == f.new_knot)[0])
        for coll, sel in ((pos, s.weights >= 0), (neg, s.weights < 0)):
            idx = np.flatnonzero(sel)
            coll.set_segments(term_segments(s, a, b, idx[idx != new]))
            coll.set_alpha(alpha)
            coll.set_linewidth(lw)
        if new is None:
            mark.set_data([], [])
            new_term.set_data([], [])
        else:
            mark.set_data([f.new_knot], [s(f.new_knot)])
            seg = term_segments(s, a, b, np.array([new]))[0]
            new_term.set_data(seg[:, 0], seg[:, 1])
        term_ends = s.weights * np.maximum(0.0, b - s.knots)
        m = 1.1 * float(np.max(np.abs(term_ends))) or 1.0
        bot.set_ylim(-m, m)  # symmetric: the zero line of the background stays put
        where = "" if f.new_knot is None else f"new knot at x = {f.new_knot:.3g}   "
        canvas.restore_region(background)
        for artist in (pos, neg, new_term):
            bot.draw_artist(artist)
        for artist in (line, dots, mark):
            top.draw_artist(artist)
        rgba = np.asarray(canvas.buffer_rgba())
        image = Image.fromarray(rgba[..., :3].copy())
        draw = ImageDraw.Draw(image)
        draw.text(
            label_xy,
            f"{plural(f.n_units, 'unit')}   {where}RMS error {f.rmse:.2g}",
            font=bold,
            fill=COLORS["text"],
        )
        draw.text(scale_xy, f"scale \u00b1{m:.2g}", font=small, fill="#555555")
        images.append(image)
        bar.step(f"frame {f.n_units}")
    # One palette for all frames, from a few frames side by side.
    w, h = images[0].size
    picks = sorted({0, len(images) // 10, len(images) // 3, len(images) - 1})
    sample = Image.new("RGB", (len(picks) * w, h))
    for j, k in enumerate(picks):
        sample.paste(images[k], (j * w, 0))
    palette = sample.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    quantized = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    buf = io.BytesIO()
    quantized[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=quantized[1:],
        duration=durations(len(frames)),
        loop=0,
        optimize=False,
        disposal=1,
    )
    return atomic_write_bytes(path, buf.getvalue())
