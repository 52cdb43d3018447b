"""Putting labels where they do not sit on a line: try offsets until one is free.

A label is an :class:`~matplotlib.text.Annotation` whose text is offset (in
points) from the point it labels.  :func:`place` tries a list of offsets and
keeps the first at which the text's box touches no drawn line of the axes and
no label placed before it.  Figures that use it have a fixed layout (no
constrained layout), so what is checked here is what is saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.backend_bases import RendererBase
    from matplotlib.figure import Figure
    from matplotlib.text import Annotation, Text
    from matplotlib.transforms import Bbox

__all__ = ["renderer", "line_pixels", "hits", "text_box", "place", "OFFSETS"]

#: Offsets (points) tried in turn: above, below, then further out and to the sides.
OFFSETS: tuple[tuple[float, float], ...] = (
    (0, 8),
    (0, -20),
    (0, 16),
    (0, -30),
    (24, 8),
    (-24, 8),
    (24, -20),
    (-24, -20),
    (0, 28),
    (0, -42),
    (40, 0),
    (-40, 0),
    (0, 40),
    (0, -54),
)


def renderer(fig: Figure) -> RendererBase:
    """An Agg renderer for ``fig`` (attaching an Agg canvas when it has none)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    return canvas.get_renderer()


def line_pixels(ax: Axes, step: float = 1.5) -> np.ndarray:
    """Points every ``step`` pixels along every visible line of ``ax``, in display coordinates."""
    out = [np.empty((0, 2))]
    for line in ax.get_lines():
        if not line.get_visible() or line.get_linestyle() in ("None", " ", ""):
            continue
        xy = line.get_transform().transform(np.asarray(line.get_xydata(), float))
        xy = xy[np.all(np.isfinite(xy), axis=1)]
        for p, q in zip(xy[:-1], xy[1:]):
            k = max(2, int(np.hypot(*(q - p)) / step) + 1)
            out.append(p + np.linspace(0.0, 1.0, k)[:, None] * (q - p))
    return np.concatenate(out)


def hits(box: Bbox, points: np.ndarray, pad: float = 1.0) -> bool:
    """Whether any of ``points`` lies inside ``box`` grown by ``pad`` pixels."""
    if points.size == 0:
        return False
    x, y = points[:, 0], points[:, 1]
    return bool(
        np.any((x > box.x0 - pad) & (x < box.x1 + pad) & (y > box.y0 - pad) & (y < box.y1 + pad))
    )


def text_box(text: Text, rend: RendererBase) -> Bbox:
    """The box of a text's letters (an annotation's arrow left out)."""
    from matplotlib.text import Annotation, Text

    if isinstance(text, Annotation):
        text.update_positions(rend)  # where the offset puts it now
    return Text.get_window_extent(text, rend)


def place(
    ax: Axes,
    labels: Sequence[Annotation],
    offsets: Sequence[tuple[float, float]] = OFFSETS,
    avoid: Sequence[Any] = (),
) -> None:
    """Move each label to the first offset where it covers no line and no earlier label.

    ``avoid``: texts or a legend already drawn.  Keeps the last offset tried when none is
    free (the figure's test then fails, which is the point: a label on a line is a bug).
    """
    fig = ax.figure
    rend = renderer(fig)
    points = line_pixels(ax)
    from matplotlib.text import Text

    taken = [text_box(t, rend) if isinstance(t, Text) else t.get_window_extent(rend) for t in avoid]
    axes_box = ax.get_window_extent(rend)
    for label in labels:
        for dx, dy in offsets:
            label.xyann = (dx, dy)
            box = text_box(label, rend)
            inside = (
                box.x0 >= axes_box.x0
                and box.x1 <= axes_box.x1
                and box.y0 >= axes_box.y0
                and box.y1 <= axes_box.y1
            )
            if (
                inside
                and not hits(box, points, pad=2.0)
                and not any(box.overlaps(t) for t in taken)
            ):
                break
        taken.append(text_box(label, rend))
