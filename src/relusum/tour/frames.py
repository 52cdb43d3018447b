"""The animation's fits: units added one at a time where the error is largest.

Frame 1 is one unit with its knot at the left end (a straight line).  Each
later frame keeps every knot of the frame before and adds one: in the piece
where the previous fit's absolute error on the verification grid is largest,
in the middle of that piece (splitting the worst piece in two halves keeps
every piece well supported by samples; putting the knot at the peak itself
tends to cut slivers next to existing knots and ends up about twice as far
from the target).  All weights are then refitted by least
squares on the target's samples (:func:`relusum.fitting.fixed.lstsq_knots`).

The knots of frame ``k`` are a subset of those of frame ``k + 1``, so the
sums frame ``k + 1`` can represent include every sum of frame ``k``, and the
least-squares error on the samples cannot rise from one frame to the next; the
RMS error on the (much finer) verification grid follows it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relusum.fitting.fixed import lstsq_knots
from relusum.model import ReluSum
from relusum.targets import Target
from relusum.tour.progress import Progress

__all__ = ["Frame", "Verifier", "grow"]

#: Fit samples each side of a new knot needs (so the least-squares problem stays determined).
MIN_SAMPLES = 2


@dataclass(frozen=True)
class Frame:
    """One frame of the animation.

    Attributes
    ----------
    model : ReluSum
        The sum shown.
    rmse, max_error : float
        Its errors on the verification grid (the same numbers
        :func:`relusum.fitting.api.measure` gives).
    new_knot : float or None
        The knot added in this frame (``None`` in the first frame).
    worst : float or None
        Where the previous frame's error was largest (``None`` in the first frame).
    """

    model: ReluSum
    rmse: float
    max_error: float
    new_knot: float | None
    worst: float | None

    @property
    def n_units(self) -> int:
        return self.model.n_units


class Verifier:
    """The target's verification grid, evaluated once, for measuring many sums quickly.

    Gives the RMS and largest absolute error on the grid plus the sum's knots,
    as :func:`relusum.fitting.api.measure` does, without rebuilding the grid.

    Examples
    --------
    >>> import relusum
    >>> from relusum.fitting.api import measure
    >>> from relusum.tour.frames import Verifier
    >>> t = relusum.make_target("x**2", (0, 1))
    >>> s = relusum.fit("x**2", (0, 1), n_units=3).model
    >>> rmse, mae, _ = Verifier(t).errors(s)
    >>> ref = measure(s, t)
    >>> abs(rmse - ref[0]) < 1e-15 and mae == ref[1]
    True
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self.x, self.y = target.verification()

    def residual(self, model: ReluSum) -> np.ndarray:
        """``model - target`` on the grid (without the knots)."""
        return model(self.x) - self.y

    def errors(
        self, model: ReluSum, residual: np.ndarray | None = None
    ) -> tuple[float, float, np.ndarray]:
        """RMS error, largest absolute error (grid and knots) and the grid residual."""
        r = self.residual(model) if residual is None else residual
        a, b = self.target.domain
        h = np.unique(model.knots[(model.knots >= a) & (model.knots <= b)])
        at = np.minimum(np.searchsorted(self.x, h), self.x.size - 1)
        h = h[self.x[at] != h]  # knots already on the grid count once
        rk = model(h) - self.target.evaluate(h) if h.size else np.empty(0)
        total = float(np.sum(r * r) + np.sum(rk * rk))
        rmse = float(np.sqrt(total / (r.size + rk.size)))
        mae = float(max(np.max(np.abs(r)), np.max(np.abs(rk)) if rk.size else 0.0))
        return rmse, mae, r


def _next_knot(
    knots: np.ndarray,
    grid: np.ndarray,
    err: np.ndarray,
    knot_err: np.ndarray,
    samples: np.ndarray,
    domain: tuple[float, float],
) -> tuple[float, float] | None:
    """The knot to add and where the error peaks, or ``None`` when no piece can be split.

    ``err`` is the absolute error on the sorted ``grid``, ``knot_err`` at the knots (a
    knot's error counts for the pieces on both sides of it).
    """
    _, b = domain
    edges = np.concatenate((knots, [b]))
    # The grid is sorted: piece p holds grid[starts[p]:starts[p + 1]] (the first piece also
    # holds x = A, the last x = B).
    starts = np.searchsorted(grid, knots, side="left")
    starts[0] = 0
    ends = np.append(starts[1:], grid.size)
    has = ends > starts
    inner = np.full(knots.size, -1.0)
    if np.any(has):
        inner[has] = np.maximum.reduceat(err, starts[has])
    at_ends = np.maximum(knot_err, np.append(knot_err[1:], -1.0))
    worst = np.maximum(inner, at_ends)
    for p in np.argsort(-worst, kind="stable"):
        lo, hi = edges[p], edges[p + 1]
        h = float(0.5 * (lo + hi))
        left = np.count_nonzero((samples > lo) & (samples < h))
        right = np.count_nonzero((samples > h) & (samples < hi))
        if left >= MIN_SAMPLES and right >= MIN_SAMPLES and lo < h < hi:
            if has[p] and inner[p] >= at_ends[p]:
                peak = float(grid[starts[p] + int(np.argmax(err[starts[p] : ends[p]]))])
            else:
                peak = float(lo if knot_err[p] >= at_ends[p] else hi)
            return h, peak
    return None


def grow(
    target: Target, max_units: int, bar: Progress, verifier: Verifier | None = None
) -> tuple[Frame, ...]:
    """Frames with 1 to ``max_units`` units, each adding one knot to the frame before.

    Raises ``ValueError`` when the samples cannot support another knot (every
    piece holds too few of them).

    Examples
    --------
    >>> import relusum
    >>> from relusum.tour.frames import grow
    >>> from relusum.tour.progress import Progress
    >>> frames = grow(relusum.make_target("x**2", (0, 1)), 4, Progress(0, False))
    >>> [f.n_units for f in frames], frames[0].model.knots.tolist()
    ([1, 2, 3, 4], [0.0])
    >>> all(f.rmse <= g.rmse for g, f in zip(frames, frames[1:]))
    True
    """
    ver = verifier or Verifier(target)
    a, _ = target.domain
    knots = np.array([a])
    frames: list[Frame] = []
    new: tuple[float, float] | None = None
    while True:
        model = lstsq_knots(target, knots)
        rmse, mae, r = ver.errors(model)
        frames.append(
            Frame(
                model, rmse, mae, None if new is None else new[0], None if new is None else new[1]
            )
        )
        bar.step(f"frame {knots.size}")
        if knots.size >= max_units:
            return tuple(frames)
        knot_err = np.abs(model(knots) - target.evaluate(knots))
        new = _next_knot(knots, ver.x, np.abs(r), knot_err, target.x, target.domain)
        if new is None:
            raise ValueError(
                f"cannot add unit {knots.size + 1} to the animation: every piece holds fewer "
                f"than {2 * MIN_SAMPLES + 1} of the {target.x.size} samples; use fewer units"
            )
        knots = np.sort(np.append(knots, new[0]))
