"""The exact feasibility test: can ``k`` joined pieces stay within ``eps`` of every gate?

Geometry
    A piece is a line; the lines that pass a run of gates form a convex
    polygon in line space (slope, value at the piece's first gate ``u0``),
    clipped by two half-planes per gate.  The extremes of the polygon rotate
    one way as the gates move right, so a clip costs O(1) amortised.  A piece
    ends when the next gate ``T + 1`` empties the polygon; then every line
    misses that gate on the same side, say above.

The reachable joints (Hakimi & Schmeichel 1991, Imai & Iri 1986)
    The greedy that carries one joint forward is exact only on convex data.
    Here the whole set of reachable joints is carried, as the *window* of a
    minimum-link path: let ``c`` be the last gate of the piece (at or after its
    first full gate ``s``) where the polygon reached the gate's lower end.
    Then a next line ``L`` (reaching beyond ``T``) can be joined to some
    reachable line of this piece exactly when it passes its own gates from
    ``T + 1`` on and ``L(u_i) >= lower_i`` for ``i`` in ``[c, T]``.

    Proof sketch.  (Only if) ``L`` starts on a reachable line ``l`` at ``z``;
    gates after ``z`` are ``L``'s; at a gate ``i >= c`` before ``z``, ``L``
    crossed ``l`` downwards (had it crossed upwards it would miss the gate that
    blocks ``l``, which is above since no line is blocked below after ``c``),
    so ``L(u_i) >= l(u_i) >= lower_i``.  (If) let ``lam`` be the least steep
    line of the polygon at gate ``c`` through ``(u_c, lower_c)`` and ``star``
    the least steep line of the final polygon; they cross at ``X``.  ``L``
    crosses ``lam`` in ``[u_c, X]`` or ``star`` in ``[X, u_{T+1}]``; with no
    touch after ``s`` (``c = s``), ``L`` either crosses ``star`` or lies below
    it on all of ``[u_s, u_{T+1}]`` and can start anywhere in the gap before
    ``u_s`` (reached by a steep connecting piece).  The mirror case (missing
    below) swaps lower and upper.

    So the next piece starts from a polygon with one-sided constraints on
    ``[c, T]`` and two-sided ones from ``T + 1``: the test stays a single left
    to right sweep, and each gate is clipped at most a few times.
"""

from __future__ import annotations

from dataclasses import dataclass

from relusum.fitting.minimax.gates import Gates

__all__ = ["Piece", "greedy_pieces"]

#: Two values closer than this (normalised, times 1 + eps) count as touching.
_TOUCH = 4e-12

Line = tuple[float, float]  # (slope, value at the piece's u0)


@dataclass
class Piece:
    """One piece of a feasible sweep (normalised units)."""

    u0: float  # where lines are parametrised: the piece's first full gate
    s: int  # first full gate
    last: int  # last gate it passes (T)
    side: int  # +1: every line misses gate last + 1 above; -1: below; 0: the last piece
    poly: list  # the final polygon of lines [(slope, value at u0), ...]
    c: int = -1  # the pivot gate for the next piece (s <= c <= last)
    lam: Line | None = None  # least steep line through the pivot's gate end (None: c == s)
    star: Line | None = None  # the extreme line of the final polygon
    flat: bool = False
    q: tuple[float, float] | None = None  # tube mode: where ``star`` leaves the band (u, value)


def greedy_pieces(
    g: Gates,
    eps: float,
    max_pieces: int,
    flat_first: bool = True,
    continuous: bool = True,
    tube: bool = False,
) -> list[Piece] | None:
    """The exact sweep at normalised error ``eps``: the pieces, or ``None`` if more are needed.

    With ``flat_first`` the first piece is flat (it may cover no gate, which
    is the same as pinning the first knot at ``A``); ``continuous=False``
    lets pieces jump (the discontinuous lower bound).  ``tube=True`` solves
    the continuous problem against the linear interpolant of the gates (the
    band between the interpolated bounds, Imai & Iri): joints must lie in the
    band too, so the next line must also pass below (above) the point where
    the extreme line leaves it.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.fitting.minimax import make_gates, greedy_pieces
    >>> x = np.linspace(0, 1, 11)
    >>> g = make_gates(x, np.abs(x - 0.3))
    >>> len(greedy_pieces(g, 1e-9, 3, flat_first=False))
    2
    >>> greedy_pieces(g, 1e-9, 1, flat_first=False) is None
    True
    """
    raw = sweep_raw(g, eps, max_pieces, flat_first, continuous, tube)
    return None if raw is None else raw_to_pieces(raw)


def sweep_raw(
    g: Gates,
    eps: float,
    max_pieces: int,
    flat_first: bool = True,
    continuous: bool = True,
    tube: bool = False,
) -> tuple | None:
    """The kernel's arrays for a feasible sweep (``None`` if infeasible): no Python objects."""
    return sweep_status(g, eps, max_pieces, flat_first, continuous, tube)[1]


def sweep_status(
    g: Gates,
    eps: float,
    max_pieces: int,
    flat_first: bool = True,
    continuous: bool = True,
    tube: bool = False,
) -> tuple[int, tuple | None]:
    """``(status, raw)``: 1 feasible (``raw`` the kernel's arrays), 0 proven infeasible,
    2 undecided (a piece could not be grown, only by rounding)."""
    from relusum.fitting.minimax.kernel import sweep_arrays

    lower, upper = g.bounds(eps)
    ttol = _TOUCH * (1.0 + eps)
    status, npieces, ints, flts, off, pa, pc = sweep_arrays(
        g.u, lower, upper, max_pieces, flat_first, continuous, g.amax, eps, ttol, tube
    )
    if status != 1:
        return int(status), None
    return 1, (npieces, ints, flts, off, pa, pc, tube)


def raw_to_pieces(raw: tuple) -> list[Piece]:
    """The :class:`Piece` list of a feasible :func:`sweep_raw`."""
    npieces, ints, flts, off, pa, pc, tube = raw
    # One conversion to Python numbers per array (not per element).
    ints_l, flts_l, off_l = ints[:npieces].tolist(), flts[:npieces].tolist(), off.tolist()
    end = off_l[npieces]
    pa_l, pc_l = pa[:end].tolist(), pc[:end].tolist()
    pieces = []
    for p in range(npieces):
        s, last, side, c, flat, has_lam = ints_l[p]
        u0, lam_a, lam_c, star_a, star_c, qu, qv = flts_l[p]
        lo, hi = off_l[p], off_l[p + 1]
        poly = list(zip(pa_l[lo:hi], pc_l[lo:hi]))
        pieces.append(
            Piece(
                u0,
                s,
                last,
                side,
                poly,
                c if side != 0 else -1,
                (lam_a, lam_c) if has_lam else None,
                (star_a, star_c) if side != 0 else None,
                flat=bool(flat),
                q=(qu, qv) if (tube and side != 0) else None,
            )
        )
    return pieces
