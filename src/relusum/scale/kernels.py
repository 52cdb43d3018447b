"""Compiled per-chunk kernels of the streaming and Dask passes (numba).

A profile of a streamed fit (10^7 rows from Parquet, 16 units) spent most of
its time outside the reader in NumPy temporaries: ``searchsorted`` to place
each row, a dozen full-length products, and ``bincount`` per moment.  Each
kernel here makes one pass over a chunk and accumulates in place:

:func:`summary_of`
    the :class:`~relusum.fitting.summary.Summary` of a chunk (hat-basis
    moments for fixed knots), the same as
    :meth:`Summary.from_arrays <relusum.fitting.summary.Summary.from_arrays>`
    to rounding;
:func:`moments_of`
    per-bin moments on fixed edges, the same as
    :func:`relusum.fitting.free_l2.condense.bin_moments` with ``edges``;
:func:`errors_of`
    the sum of squared errors and the largest absolute error of a model,
    evaluated as :meth:`ReluSum.__call__ <relusum.model.ReluSum.__call__>`
    does (the same anchors, values and slopes, so the same rounding).

Bad values (NaN, infinities, negative weights, x outside the domain) are
counted by the kernels; the chunk is then handed to
:func:`~relusum.fitting.summary.check_chunk` for its one-line message.  numba
is imported only when a kernel is first used (``cache=True``: later processes
load the compiled code).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from relusum.fitting.summary import Summary, check_chunk
from relusum.model import ReluSum

__all__ = ["summary_of", "moments_of", "errors_of"]


def _kernels() -> Any:
    from relusum.scale import _compiled

    return _compiled


def _table(t: np.ndarray, lo: float, hi: float) -> tuple[float, float, np.ndarray]:
    """A lookup table for :func:`place`: for each of ``4 t.size`` cells of ``[lo, hi]``
    the last ``j`` with ``t[j] <=`` the cell's start (the walk from there is short)."""
    cells = 4 * t.size + 4
    lo, hi = (float(lo), float(hi)) if hi > lo else (float(lo), float(lo) + 1.0)
    starts = lo + (hi - lo) * np.arange(cells) / cells
    table = np.searchsorted(t, starts, side="right").astype(np.int64) - 1
    return lo, cells / (hi - lo), table


def _columns(x: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> tuple:
    xa = np.ascontiguousarray(x, dtype=float)
    ya = np.ascontiguousarray(y, dtype=float)
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
    if w is None:
        return xa, ya, np.empty(0), False
    wa = np.ascontiguousarray(w, dtype=float)
    if wa.shape != xa.shape:
        raise ValueError(f"weight must have one value per point, got {wa.size}/{xa.size}")
    return xa, ya, wa, True


def _refuse(x, y, w, has_w, domain, bad: int, xmin: float, xmax: float) -> None:
    """Raise check_chunk's one-line message when the kernel saw a bad value."""
    if bad or (x.size and (xmin < domain[0] or xmax > domain[1])):
        check_chunk(x, y, w if has_w else None, domain)
        raise ValueError("the chunk has non-finite values or x outside the domain")


def summary_of(
    x: np.ndarray, y: np.ndarray, w: np.ndarray | None, knots: np.ndarray, domain: tuple
) -> Summary:
    """The :class:`Summary` of one chunk (compiled; equal to ``Summary.from_arrays``).

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.summary import Summary
    >>> from relusum.scale.kernels import summary_of
    >>> x = np.linspace(0, 1, 1001); y = np.abs(x - 0.5)
    >>> s = summary_of(x, y, None, np.array([0.0, 0.5]), (0.0, 1.0))
    >>> ref = Summary.from_arrays(x, y, [0.0, 0.5], (0.0, 1.0))
    >>> bool(np.allclose(s.diag, ref.diag, rtol=1e-12)), s.count
    (True, 1001)
    """
    empty = Summary.empty(knots, domain)
    xa, ya, wa, has_w = _columns(x, y, w)
    if xa.size == 0:
        return empty
    t = empty.breakpoints
    d, o, r, yy, sw, x0, x1, y0, y1, bad = _kernels().hat(
        xa, ya, wa, has_w, t, *_table(t, t[0], t[-1])
    )
    _refuse(xa, ya, wa, has_w, empty.domain, bad, x0, x1)
    return Summary(
        empty.knots,
        empty.domain,
        empty.breakpoints,
        empty.flat_first,
        d,
        o,
        r,
        float(yy),
        int(xa.size),
        float(sw),
        float(x0),
        float(x1),
        float(y0),
        float(y1),
    )


def moments_of(
    x: np.ndarray, y: np.ndarray, w: np.ndarray | None, edges: np.ndarray, domain: tuple
) -> Any:
    """Per-bin moments of one chunk on ``edges`` (compiled; equal to ``bin_moments``, ``y0=0``).

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.free_l2.condense import bin_moments
    >>> from relusum.scale.kernels import moments_of
    >>> x = np.random.default_rng(0).uniform(0, 1, 5000); e = np.linspace(0, 1, 65)
    >>> m = moments_of(x, np.sin(x), None, e, (0.0, 1.0))
    >>> ref = bin_moments(x, np.sin(x), edges=e, y0=0.0)
    >>> bool(np.allclose(m.sxy, ref.sxy, rtol=1e-12)), bool((m.count == ref.count).all())
    (True, True)
    """
    from relusum.fitting.free_l2.condense import BinMoments

    e = np.ascontiguousarray(edges, dtype=float)
    xa, ya, wa, has_w = _columns(x, y, w)
    s0, s1, s2, sy, sxy, syy, lo, hi, count, bad = _kernels().bins(xa, ya, wa, has_w, e)
    xmin = float(np.min(lo)) if xa.size else np.inf
    xmax = float(np.max(hi)) if xa.size else -np.inf
    _refuse(xa, ya, wa, has_w, domain, bad, xmin, xmax)
    return BinMoments(e[:-1].copy(), 0.0, s0, s1, s2, sy, sxy, syy, lo, hi, count)


def errors_of(model: ReluSum, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(sum of squared errors, max |error|)`` of ``model`` on one chunk (compiled).

    Examples
    --------
    >>> import numpy as np
    >>> from relusum import ReluSum
    >>> from relusum.scale.kernels import errors_of
    >>> m = ReluSum(0.5, [0.0, 1.0], [2.0, -3.0])
    >>> x = np.linspace(-1, 3, 9); y = np.zeros(9)
    >>> errors_of(m, x, y) == (float(np.sum(m(x) ** 2)), float(np.max(np.abs(m(x)))))
    True
    """
    xa = np.ascontiguousarray(x, dtype=float)
    ya = np.ascontiguousarray(y, dtype=float)
    h = np.ascontiguousarray(model.knots, dtype=float)
    if h.size == 0:
        r = model.bias - ya
        return float(np.dot(r, r)), float(np.max(np.abs(r))) if r.size else 0.0
    anchor = np.concatenate((h[:1], h))
    value = np.concatenate(([model.bias], model._knot_values))
    slope = np.concatenate(([0.0], model._cum_slope))
    lo, hi = model.domain if model.domain is not None else (h[0], h[-1])
    sse, mx = _kernels().errors(xa, ya, anchor, value, slope, h, *_table(h, lo, hi))
    return float(sse), float(mx)
