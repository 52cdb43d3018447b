"""From a feasible sweep to a :class:`~relusum.model.ReluSum`: one line per piece, back to front.

The last piece takes a moderate line from the middle of its polygon.  Each
earlier piece takes the line the proof in :mod:`.sweep` names for the line
after it: ``lam`` (through the pivot) or ``star`` (the extreme line of its
polygon), joined where the two cross; or, when the next line lies below
``star`` on the whole piece, a steep connecting line in the gap before the
piece, joined to the piece before it.
"""

from __future__ import annotations

import numpy as np

from relusum.fitting.minimax.gates import Gates
from relusum.fitting.minimax.sweep import Piece
from relusum.model import ReluSum, weights_from_slopes

__all__ = ["model_from_pieces", "model_from_raw"]

# A line in absolute normalised coordinates: value(u) = v + a * u.
Abs = tuple[float, float]


def _abs(line: tuple[float, float], u0: float) -> Abs:
    a, c = line
    return (a, c - a * u0)


def _at(line: Abs, u: float) -> float:
    return line[1] + line[0] * u


def _cross(p: Abs, q: Abs, lo: float, hi: float) -> float:
    """Where ``p`` and ``q`` cross, clamped to ``[lo, hi]`` (``lo`` if parallel)."""
    da = p[0] - q[0]
    if da == 0.0:
        return lo
    x = (q[1] - p[1]) / da
    return min(max(x, lo), hi)


def _cut(poly: list, vals: list, bound: float, keep_below: bool) -> list:
    """Sutherland-Hodgman: keep the part of ``poly`` with value <= bound (or >=)."""
    out = []
    n = len(poly)
    for i in range(n):
        p = poly[i]
        q = poly[i + 1 - n]
        vp = vals[i]
        vq = vals[i + 1 - n]
        pin = vp <= bound if keep_below else vp >= bound
        qin = vq <= bound if keep_below else vq >= bound
        if pin:
            out.append(p)
        if pin != qin:
            s = (bound - vp) / (vq - vp)
            out.append((p[0] + s * (q[0] - p[0]), p[1] + s * (q[1] - p[1])))
    return out


def _moderate_centre(poly: list, smax: float) -> tuple[float, float]:
    """The centroid of the part of ``poly`` with ``|slope| <= smax`` (of ``poly`` if empty)."""
    cut = _cut(poly, [a for a, _ in poly], smax, keep_below=True)
    if cut:
        cut = _cut(cut, [a for a, _ in cut], -smax, keep_below=False)
    pts = cut or poly
    m = len(pts)
    # Plain left-to-right sums, as the compiled copy does (Python 3.12's sum() compensates).
    sa = sc = 0.0
    for p in pts:
        sa += p[0]
    for p in pts:
        sc += p[1]
    return (sa / m, sc / m)


def _lines_py(g: Gates, pieces: list[Piece]) -> tuple[list[Abs], list[float]]:
    """One absolute line per piece (connectors included) and the joints between them.

    The reference for :func:`.build_kernel.lines_arrays` (the compiled copy that
    :func:`model_from_raw` runs on the sweep's arrays).
    """
    u = g.u
    mid = 0.5 * (g.lo + g.hi)
    du = np.diff(u)
    smax = float(np.max(np.abs(np.diff(mid)) / du)) * 2.0 + 1e-9 if du.size else 1.0
    last = pieces[-1]
    if last.flat:
        cur = (0.0, 0.5 * (last.poly[0][1] + last.poly[-1][1]))
    else:
        cur = _abs(_moderate_centre(last.poly, smax), last.u0)
    lines = [cur]
    joints: list[float] = []
    i = len(pieces) - 2
    while i >= 0:
        pc = pieces[i]
        nxt_gate = pc.last + 1
        u_c = float(u[pc.c])
        # The joint lies before gate T + 1, or (tube) before star leaves the band.
        u_end = float(u[nxt_gate]) if pc.q is None else pc.q[0]
        star = _abs(pc.star, pc.u0)
        sgn = 1.0 if pc.side > 0 else -1.0
        # Every line of the final polygon that the next line crosses inside
        # [u_c, u_{T+1}] will do (the next line passes the gates after the
        # crossing; this one, the gates before): take a central one.
        bound = _at(cur, u_c)
        vals = [c + a * (u_c - pc.u0) for a, c in pc.poly]
        ok = (
            _cut(pc.poly, vals, bound, keep_below=pc.side > 0)
            if len(pc.poly) > 1
            else [p for p, v in zip(pc.poly, vals) if sgn * (v - bound) <= 0.0]
        )
        u_stop = u_end
        if ok and pc.q is not None:
            # Tube: a line of the polygon is surely inside the band only up to
            # the piece's last gate, so the joint goes there or before.
            u_stop = float(u[pc.last])
            qb = _at(cur, u_stop)
            qv = [c + a * (u_stop - pc.u0) for a, c in ok]
            if len(ok) > 1:
                ok = _cut(ok, qv, qb, keep_below=pc.side < 0)
            else:
                ok = [p for p, v in zip(ok, qv) if sgn * (v - qb) >= 0.0]
        if ok:
            chosen = _abs(_moderate_centre(ok, smax), pc.u0)
            if pc.flat:
                chosen = (0.0, chosen[1])
            joints.append(_cross(chosen, cur, u_c, u_stop))
            lines.append(chosen)
            cur = chosen
            i -= 1
            continue
        if pc.lam is not None:
            lam = _abs(pc.lam, pc.u0)
            x = _cross(lam, star, u_c, u_end)
            if sgn * (_at(cur, x) - _at(lam, x)) <= 0.0:
                chosen, lo = lam, u_c
            else:
                chosen, lo = star, x
            joints.append(_cross(chosen, cur, lo, u_end))
            lines.append(chosen)
            cur = chosen
            i -= 1
            continue
        u_s = float(u[pc.s])
        if sgn * (_at(cur, u_s) - _at(star, u_s)) >= 0.0 or (i == 0 and not pc.flat):
            joints.append(_cross(star, cur, u_s, u_end))
            lines.append(star)
            cur = star
            i -= 1
            continue
        # The next line lies beyond star on the whole piece: it passes every
        # gate of the piece itself, and this piece becomes a connector.
        if i == 0:  # the flat first piece: it ends at A, at the next line's value there
            ua = g.u_a
            joints.append(ua)
            lines.append((0.0, _at(cur, ua)))
            i -= 1
            continue
        prev = pieces[i - 1]
        u_a = float(u[pc.s - 1])
        if prev.q is None:
            x1 = u_a + (u_s - u_a) / 3.0
            x2 = u_a + 2.0 * (u_s - u_a) / 3.0
        else:  # tube: inside the band, ending on the next line at the gate
            x1 = u_a + (prev.q[0] - u_a) / 2.0
            x2 = u_s
        pstar = _abs(prev.star, prev.u0)
        y1, y2 = _at(pstar, x1), _at(cur, x2)
        slope = (y2 - y1) / (x2 - x1)
        conn = (slope, y1 - slope * x1)
        joints.append(x2)
        lines.append(conn)
        joints.append(x1)
        lines.append(pstar)
        cur = pstar
        i -= 2
    lines.reverse()
    joints.reverse()
    return lines, joints


def model_from_pieces(g: Gates, pieces: list[Piece], flat_first: bool) -> ReluSum:
    """The ReLU sum of a feasible sweep's pieces, in the original units.

    The Python reference of :func:`model_from_raw` (which the solver runs on the
    sweep's arrays), for pieces given as :class:`~.sweep.Piece` objects.
    """
    lines, joints = _lines_py(g, pieces)
    return _model(g, np.array([ln[0] for ln in lines]), lines[0][1], joints, flat_first)


def model_from_raw(g: Gates, raw: tuple, flat_first: bool) -> ReluSum:
    """:func:`model_from_pieces` on the arrays of a feasible :func:`.sweep.sweep_raw`.

    Bit-identical to the Python reference (the same float operations in the
    same order), without making :class:`~relusum.fitting.minimax.sweep.Piece` objects.
    """
    from relusum.fitting.minimax.build_kernel import lines_arrays

    npieces, ints, flts, off, pa, pc, tube = raw
    u, lo, hi = (np.ascontiguousarray(z, dtype=np.float64) for z in (g.u, g.lo, g.hi))
    la, lv, jt = lines_arrays(u, lo, hi, npieces, ints, flts, off, pa, pc, tube, g.u_a)
    return _model(g, la, float(lv[0]), jt.tolist(), flat_first)


def _model(g: Gates, la: np.ndarray, v0: float, joints: list, flat_first: bool) -> ReluSum:
    """The sum from the lines' slopes ``la``, the first line's value ``v0`` at ``u = 0`` and
    the joints (in ``u``: ``x = c + u * (B - A)``, ``c`` the gates' origin)."""
    a_, b_ = g.domain
    c_ = g.origin
    ua = g.u_a
    width = b_ - a_
    slopes = la * (g.half / width)
    if ua != 0.0:  # (the origin is not A: the domain straddles 0)
        v0 = v0 + float(la[0]) * ua
    bias = g.mid + g.half * v0  # value at x = A
    knots = [c_ + p * width for p in joints]
    if ua != 0.0:  # x = c + u * (B - A) may round an ulp past A or B
        knots = [min(max(k, a_), b_) for k in knots]
    # Weights carry the rounding of the running slope (weights_from_slopes): near a
    # singular derivative (x**0.25 at 0) pieces of slope 1e9 would otherwise leave
    # every later slope off by 1e-7, the built sum above the sweep's error by 5e-4.
    if flat_first:
        return ReluSum(bias, knots, weights_from_slopes(slopes[1:]), g.domain)
    return ReluSum(bias, [a_, *knots], weights_from_slopes(slopes), g.domain)
