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
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bisect each ``[lo, hi]`` 64 times toward its larger change (8 where it shrinks).

    It shrinks when, after 8 halvings, the change is below 1/64 of the larger
    of the first change and its larger half's (a jump keeps its height).

    Returns ``lo, hi, f(lo), f(hi)`` and the ratio of the spread of the
    target's values at the final interval to their spread across an interval
    2047 times as wide around it (inside the first): about 1 at a jump, small
    for a steep continuous target (``x**0.25`` at 0), whose change shrinks
    with the interval.
    """
    # (Beside a pole the values overflow: their comparisons stay quiet.)
    with np.errstate(all="ignore"):
        return _narrow_quiet(fn, lo, hi)


def _narrow_quiet(
    fn: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    lo0, hi0 = lo, hi
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    flo = np.asarray(fn(lo), dtype=float).copy()
    fhi = np.asarray(fn(hi), dtype=float).copy()
    change0 = np.abs(fhi - flo)
    act = np.arange(lo.size)
    for it in range(64):
        if it == 8:
            # A continuous target's change has shrunk about 256 times by
            # now; a jump's has not: only those are narrowed further.
            act = act[np.abs(fhi[act] - flo[act]) * 64.0 >= change0[act]]
            if act.size == 0:
                break
        a_lo, a_hi, a_flo, a_fhi = lo[act], hi[act], flo[act], fhi[act]
        m = 0.5 * (a_lo + a_hi)
        fm = np.asarray(fn(m), dtype=float)
        go_left = np.abs(fm - a_flo) >= np.abs(a_fhi - fm)
        hi[act] = np.where(go_left, m, a_hi)
        fhi[act] = np.where(go_left, fm, a_fhi)
        lo[act] = np.where(go_left, a_lo, m)
        flo[act] = np.where(go_left, a_flo, fm)
        if it == 0:
            # Against the larger half's change too: across an extremum (gelu's
            # minimum) the ends' change is near 0 and no shrinking would show.
            np.maximum(change0, np.abs(fhi - flo), out=change0)
    # The spread of the values at lo, hi and the next float (a value exactly
    # at a jump may lie between its sides), and across 2047 times the width.
    w = np.maximum(hi - lo, np.spacing(np.maximum(np.abs(lo), np.abs(hi))))
    k = lo.size
    at = np.concatenate((np.minimum(hi + np.spacing(hi), hi0), lo - 1023.0 * w, hi + 1023.0 * w))
    v = np.asarray(fn(np.clip(at, np.tile(lo0, 3), np.tile(hi0, 3))), dtype=float)
    narrow = np.stack((flo, fhi, v[:k]))
    wide = np.concatenate((narrow, v[None, k : 2 * k], v[None, 2 * k :]))
    ratio = np.ptp(narrow, axis=0) / np.maximum(np.ptp(wide, axis=0), 1e-300)
    return lo, hi, flo, fhi, ratio


def find_jumps(
    fn: Callable[[np.ndarray], np.ndarray], left: np.ndarray, right: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bisect each ``[left, right]`` toward its largest change; return the jumps found.

    Returns ``(x, values)``: the position of each jump and, per jump, the
    values just left of it, at it and just right of it (shape ``(k, 3)``),
    for the intervals whose values stay more than ``1e-9 * scale`` apart once
    the interval is down to rounding size, by at least half what they
    spread 2047 times wider and by a quarter of their change across
    ``[left, right]`` (a steep continuous target's change shrinks).

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
    lo, hi, flo, fhi, ratio = _narrow(fn, lo0, hi0)
    width = hi - lo
    small = width <= np.maximum(1e-13 * (np.abs(lo) + np.abs(hi)), 1e-15 * w0)
    # A jump keeps a quarter of the larger change across the halves of the
    # first interval; a cusp (abs(x)**0.1 at 0, where the wide interval above
    # is clipped to a first interval only 1e-30 wide) has lost 2**(64 p) of it.
    f3 = np.asarray(fn(np.concatenate((lo0, 0.5 * (lo0 + hi0), hi0))), dtype=float)
    f3 = f3.reshape(3, -1)
    change0 = np.maximum(np.abs(f3[1] - f3[0]), np.abs(f3[2] - f3[1]))
    kept = np.abs(fhi - flo) >= 0.25 * change0
    jump = (np.abs(fhi - flo) > 1e-9 * scale) & small & (ratio >= 0.5) & kept
    x = hi[jump]
    beyond = np.minimum(x + np.maximum(width[jump], np.spacing(x)), np.maximum(hi0[jump], x))
    after = np.asarray(fn(beyond), dtype=float)
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
    # ref[i] = 4 max(step[i - 2], step[i + 2]) (0 beyond the ends), in two
    # arrays of the grid's length (a 40,000,000-point grid: 320 MB each).
    step = np.diff(y)
    np.abs(step, out=step)
    ref = np.zeros_like(step)
    ref[2:] = step[:-2]
    np.maximum(ref[:-2], step[2:], out=ref[:-2])
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

    lo, hi, flo, fhi, _ = _narrow(f, x[cand].astype(float), x[cand + 1].astype(float))
    beyond = np.minimum(hi + np.maximum(hi - lo, np.spacing(hi)), domain[1])
    px = np.concatenate((lo, hi, beyond))
    py = np.concatenate((flo, fhi, f(beyond)))
    ok = np.isfinite(py)
    return px[ok], py[ok]
