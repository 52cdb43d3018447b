"""Jumps of a function target: located by bisection, measured at their one-sided values.

A continuous sum of ReLUs misses a jump of height ``J`` by at least ``J / 2``
just beside it, but an evenly spaced grid sees that only if it has points
within a rounding distance of the jump.  :func:`find_jumps` narrows sample
intervals down to the jump (the minimax fit keeps both one-sided values as
samples); :func:`jump_sides` finds the grid intervals where the target may
jump and returns real points beside each jump, so that the verification
(:func:`relusum.fitting.report.measure`) measures the error where its
supremum is approached.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["find_jumps", "jump_sides"]

#: At most this many grid intervals are narrowed per verification.
_MAX_CANDIDATES = 64


def _narrow(
    fn: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bisect each ``[lo, hi]`` 64 times toward its larger change: ``lo, hi, f(lo), f(hi)``."""
    flo = np.asarray(fn(lo), dtype=float)
    fhi = np.asarray(fn(hi), dtype=float)
    for _ in range(64):
        m = 0.5 * (lo + hi)
        fm = np.asarray(fn(m), dtype=float)
        go_left = np.abs(fm - flo) >= np.abs(fhi - fm)
        hi = np.where(go_left, m, hi)
        fhi = np.where(go_left, fm, fhi)
        lo = np.where(go_left, lo, m)
        flo = np.where(go_left, flo, fm)
    return lo, hi, flo, fhi


def find_jumps(
    fn: Callable[[np.ndarray], np.ndarray], left: np.ndarray, right: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bisect each ``[left, right]`` toward its largest change; return the jumps found.

    Returns ``(x, values)``: the position of each jump and, per jump, the
    values just left of it, at it and just right of it (shape ``(k, 3)``),
    for the intervals whose values stay more than ``1e-9 * scale`` apart once
    the interval is down to rounding size.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.jumps import find_jumps
    >>> x, v = find_jumps(np.sign, np.array([-0.1, 0.2]), np.array([0.3, 0.5]), 1.0)
    >>> abs(float(x[0])) < 1e-15, v.tolist()
    (True, [[-1.0, 1.0, 1.0]])
    """
    lo0 = np.asarray(left, dtype=float).copy()
    hi0 = np.asarray(right, dtype=float).copy()
    w0 = hi0 - lo0
    lo, hi, flo, fhi = _narrow(fn, lo0, hi0)
    width = hi - lo
    small = width <= np.maximum(1e-13 * (np.abs(lo) + np.abs(hi)), 1e-15 * w0)
    jump = (np.abs(fhi - flo) > 1e-9 * scale) & small
    x = hi[jump]
    after = np.asarray(fn(x + np.maximum(width[jump], np.spacing(x))), dtype=float)
    return x, np.stack((flo[jump], fhi[jump], after), axis=1).reshape(-1, 3)


def jump_sides(
    fn: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    m: np.ndarray,
    level: float,
    domain: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Points beside the target's jumps where the error may exceed ``level``, and ``fn`` there.

    ``x`` is a sorted grid with target values ``y`` and model values ``m``
    (a continuous model, linear between grid points).  An interval is a
    candidate when the target's step across it is more than 4 times the
    steps two intervals away on either side (a jump; a continuous target's
    steps vary smoothly) and the error inside it could exceed ``level``.
    Each candidate is bisected toward its largest change (as
    :func:`find_jumps`); the points returned are the two ends of the final,
    rounding-sized interval and the next float beyond it, with their target
    values: real points of the domain, so measuring there never overstates.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.jumps import jump_sides
    >>> x = np.linspace(-1, 1, 10)
    >>> px, py = jump_sides(np.sign, x, np.sign(x), 0.0 * x, 0.5, (-1.0, 1.0))
    >>> sorted(set(py.tolist())), float(np.max(np.abs(px))) < 1e-15
    ([-1.0, 0.0, 1.0], True)
    """
    empty = (np.zeros(0), np.zeros(0))
    if x.size < 2:
        return empty
    step = np.abs(np.diff(y))
    pad = np.concatenate(([0.0, 0.0], step, [0.0, 0.0]))
    ref = np.maximum(pad[:-4], pad[4:])
    ref *= 4.0
    cand = np.flatnonzero(step > ref)
    # The error inside interval i is at most the error at an end plus the
    # changes of the target and of the (linear) model across it.
    e0, e1 = np.abs(m[cand] - y[cand]), np.abs(m[cand + 1] - y[cand + 1])
    reach = np.maximum(e0, e1) + step[cand] + np.abs(m[cand + 1] - m[cand])
    cand = cand[(reach > level) & np.isfinite(step[cand])]
    if cand.size == 0:
        return empty
    if cand.size > _MAX_CANDIDATES:
        cand = cand[np.argsort(-step[cand], kind="stable")[:_MAX_CANDIDATES]]

    def f(t: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(fn(t), dtype=float).reshape(t.shape)

    lo, hi, flo, fhi = _narrow(f, x[cand].astype(float), x[cand + 1].astype(float))
    beyond = np.minimum(hi + np.maximum(hi - lo, np.spacing(hi)), domain[1])
    px = np.concatenate((lo, hi, beyond))
    py = np.concatenate((flo, fhi, f(beyond)))
    ok = np.isfinite(py)
    return px[ok], py[ok]
