"""Compiled one-pass kernels of :class:`~relusum.nn.ReluSumActivation` (numba).

Imported lazily, on the first forward pass that runs on the CPU outside a
tracer, so that ``import relusum.nn`` does not load numba.

The piece of ``x`` (the number of knots ``<= x``) comes from a table over
``cells + 1`` uniform cells of the knot span: ``j = J(x) = int(clip((x - lo) * inv,
0, cells))``.  ``J`` is monotone in ``x`` (a subtraction and a product by a positive
number, each rounded, never reorder), so every knot with ``J(h) < j`` is below
``x`` and every knot with ``J(h) > j`` is above it; the table is built (by
:func:`cell_tables`, with the kernel's own arithmetic) so that the knots with
``J(h) = j`` share one value ``t[j]``.  Then one comparison ``x >= t[j]`` picks
between the two lines of the cell, stored side by side: the line's index is
``2 j + (x >= t[j])``, with no search, no correction step and no branch on the
data.  When the knots are
too close for a table of ``2^16`` cells the piece comes from a binary search.

Special values follow :class:`~relusum.ReluSum`: NaN gives NaN, ``-inf`` the flat
left value and ``+inf`` the last piece's limit (its value when the last slope is
0).  ``x`` is clamped into ``[left, right]`` before the product, the ends of the
flat pieces, so that ``0 * inf`` never appears.  The slope (backward pass) at NaN
is NaN.  ``fastmath`` is limited to ``contract`` (fused multiply-add): the flags
that assume no NaN or infinity would break the special values.
"""

from __future__ import annotations

import math

import numpy as np
from numba import get_num_threads, njit, prange, set_num_threads

__all__ = ["cell_tables", "evaluate", "slope_times"]

_FLAGS = {"contract"}
_PARALLEL_MIN = 1 << 16  # below this many elements one thread beats starting the pool


@njit(inline="always", cache=True)
def _cell_line(xi, t, lo, inv, fc):  # pragma: no cover - compiled
    """Index ``2 j + (xi >= t[j])`` of ``xi``'s line in the interleaved cell table.

    Arithmetic, not a branch: which side of the cell's knot ``xi`` falls on is
    data, and a mispredicted branch per element costs more than the lookup.
    """
    u = (xi - lo) * inv
    u = u if u > 0.0 else 0.0  # NaN -> 0
    u = u if u < fc else fc
    j = int(u)
    return 2 * j + (xi >= t[j])


@njit(inline="always", cache=True)
def _bisect(xi, h):  # pragma: no cover - compiled
    """The number of knots ``<= xi`` (0 for NaN)."""
    a, b = 0, h.size
    while a < b:
        m = (a + b) >> 1
        if h[m] <= xi:
            a = m + 1
        else:
            b = m
    return a


@njit(inline="always", cache=True)
def _clamp(xi, left, right):  # pragma: no cover - compiled
    xc = left if xi < left else xi  # NaN stays NaN
    return right if xc > right else xc


@njit(parallel=True, fastmath=_FLAGS, cache=True)
def _eval_par(x, out, t, C, S, h, c, s, lo, inv, cells, left, right):  # pragma: no cover
    if cells >= 0:
        fc = float(cells)
        for i in prange(x.size):
            k = _cell_line(x[i], t, lo, inv, fc)
            out[i] = C[k] + S[k] * _clamp(x[i], left, right)
    else:
        for i in prange(x.size):
            k = _bisect(x[i], h)
            out[i] = c[k] + s[k] * _clamp(x[i], left, right)


@njit(fastmath=_FLAGS, cache=True)
def _eval_one(x, out, t, C, S, h, c, s, lo, inv, cells, left, right):  # pragma: no cover
    if cells >= 0:
        fc = float(cells)
        for i in range(x.size):
            k = _cell_line(x[i], t, lo, inv, fc)
            out[i] = C[k] + S[k] * _clamp(x[i], left, right)
    else:
        for i in range(x.size):
            k = _bisect(x[i], h)
            out[i] = c[k] + s[k] * _clamp(x[i], left, right)


@njit(parallel=True, fastmath=_FLAGS, cache=True)
def _grad_par(x, g, out, t, S, h, s, lo, inv, cells):  # pragma: no cover
    if cells >= 0:
        fc = float(cells)
        for i in prange(x.size):
            xi = x[i]
            gi = g[i] * S[_cell_line(xi, t, lo, inv, fc)]
            out[i] = xi if xi != xi else gi
    else:
        for i in prange(x.size):
            xi = x[i]
            gi = g[i] * s[_bisect(xi, h)]
            out[i] = xi if xi != xi else gi


@njit(fastmath=_FLAGS, cache=True)
def _grad_one(x, g, out, t, S, h, s, lo, inv, cells):  # pragma: no cover
    if cells >= 0:
        fc = float(cells)
        for i in range(x.size):
            xi = x[i]
            gi = g[i] * S[_cell_line(xi, t, lo, inv, fc)]
            out[i] = xi if xi != xi else gi
    else:
        for i in range(x.size):
            xi = x[i]
            gi = g[i] * s[_bisect(xi, h)]
            out[i] = xi if xi != xi else gi


def _cell_of(h: np.ndarray, lo: float, inv: float, cells: int) -> np.ndarray:
    """``J(h)`` exactly as the kernel computes it (float64 arithmetic, truncation)."""
    u = (h.astype(np.float64) - lo) * inv
    u = np.where(u > 0.0, u, 0.0)
    u = np.where(u < cells, u, float(cells))
    return u.astype(np.int64)


def cell_tables(
    h: np.ndarray, c: np.ndarray, s: np.ndarray, max_cells: int = 1 << 16
) -> tuple[np.ndarray, ...] | None:
    """The cell table for sorted knots ``h`` and the lines ``c``, ``s`` of the ``n + 1`` pieces.

    All three in the dtype of the input.  Returns ``(t, C, S, lo, inv, cells)``: cell
    ``j``'s knot ``t[j]`` (``inf`` if none) and the lines ``C[2 j], S[2 j]`` below it and
    ``C[2 j + 1], S[2 j + 1]`` at or above it; or ``None`` when no table of at most
    ``max_cells`` cells puts only equal knots in one cell (the kernel then bisects).
    """
    n = h.size
    inf = np.array([np.inf], dtype=h.dtype)
    if n == 0:  # one line: every x is in cell 0, below t[0] = inf
        return inf, np.repeat(c[:1], 2), np.repeat(s[:1], 2), 0.0, 0.0, 0
    lo, hi = float(h[0]), float(h[-1])
    gaps = np.diff(h.astype(np.float64))
    gaps = gaps[gaps > 0]
    if gaps.size == 0:  # all knots equal: one cell
        cells = 0
    else:
        ratio = 2 * (hi - lo) / float(np.min(gaps))  # cells no wider than half a gap
        if not ratio <= max_cells:  # also inf and NaN (a span that overflows)
            return None
        cells = math.ceil(ratio)
    while cells <= max_cells:
        inv = cells / (hi - lo) if cells else 0.0
        jh = _cell_of(h, lo, inv, cells)
        j = np.arange(cells + 1)
        first = np.searchsorted(jh, j, side="left")  # knots with J(h) < j
        last = np.searchsorted(jh, j, side="right")  # knots with J(h) <= j
        has = last > first
        t = np.full(cells + 1, np.inf, dtype=h.dtype)
        t[has] = h[first[has]]
        if np.all(h[last[has] - 1] == t[has]):  # the knots of a cell are one value
            lines = np.stack((first, last), axis=1).ravel()  # 2 j: below t[j], 2 j + 1: above
            return t, c[lines], s[lines], lo, inv, cells
        cells = 2 * cells
    return None


def _run(par, one, size: int, threads: int, *args) -> None:
    if size < _PARALLEL_MIN or threads <= 1:
        one(*args)
        return
    before = get_num_threads()
    set_num_threads(max(1, min(threads, before)))
    try:
        par(*args)
    finally:
        set_num_threads(before)


def evaluate(x: np.ndarray, out: np.ndarray, args: tuple, threads: int) -> None:
    """Write the sum at the flat contiguous ``x`` into ``out`` (same dtype as ``x``).

    ``args`` is ``(t, C, S, h, c, s, lo, inv, cells, left, right)`` (see
    :func:`cell_tables`; ``cells = -1`` for the binary search over the sorted knots
    ``h`` and the lines ``c``, ``s`` of the pieces; ``x`` is clamped into ``[left,
    right]``); at most ``threads`` threads.
    """
    _run(_eval_par, _eval_one, x.size, threads, x, out, *args)


def slope_times(x: np.ndarray, g: np.ndarray, out: np.ndarray, args: tuple, threads: int) -> None:
    """Write ``g * f'(x)`` (the slope of ``x``'s piece) into ``out``: the backward pass."""
    tc, _, sc, h, _, s, lo, inv, cells = args[:-2]
    _run(_grad_par, _grad_one, x.size, threads, x, g, out, tc, sc, h, s, lo, inv, cells)
