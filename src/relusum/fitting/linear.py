"""Constraints as linear rows on the values at the breakpoints, in scaled units.

Constrained solvers work in the scaled coordinates ``u = (x - A) / (B - A)``
and ``v = (y - mid) / half`` (the data's centre and half-range), so their
tolerances mean the same for any units.  :class:`Scaled` holds that map;
:func:`constraint_rows` turns a :class:`~relusum.fitting.constraints.Constraints`
into ``row_lo <= M c <= row_hi`` and ``col_lo <= c <= col_hi`` for the values
``c`` at the breakpoints ``t`` (every value is an unknown; a flat first piece
is the row ``c_0 - c_1 = 0``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from relusum.fitting.constraints import Constraints
from relusum.fitting.fixed import breakpoints_for
from relusum.model import ReluSum

__all__ = ["Scaled", "Rows", "constraint_rows", "check_knots_allow"]


@dataclass(frozen=True)
class Scaled:
    """The affine maps between user units and the scaled units of the solvers."""

    a: float
    length: float
    mid: float
    half: float

    @classmethod
    def make(cls, domain: tuple[float, float], y: np.ndarray) -> Scaled:
        a, b = domain
        lo, hi = (float(np.min(y)), float(np.max(y))) if y.size else (0.0, 0.0)
        half = 0.5 * (hi - lo)
        if not half > 0:
            half = max(abs(lo), 1.0)
        return cls(float(a), float(b - a), 0.5 * (hi + lo), half)

    def u(self, x: np.ndarray | float) -> np.ndarray | float:
        return (np.asarray(x, dtype=float) - self.a) / self.length

    def v(self, y: np.ndarray | float) -> np.ndarray | float:
        return (np.asarray(y, dtype=float) - self.mid) / self.half

    def slope(self, s: float) -> float:
        """A slope in user units, in scaled units."""
        return s * self.length / self.half

    def model(
        self, t: np.ndarray, c: np.ndarray, flat_first: bool, domain: tuple[float, float]
    ) -> ReluSum:
        """The ReluSum with scaled values ``c`` at the breakpoints ``t`` (user units)."""
        from relusum.fitting.hat import values_to_relusum

        return values_to_relusum(t, self.mid + self.half * c, flat_first, domain)


@dataclass(frozen=True)
class Rows:
    """``row_lo <= matrix @ c <= row_hi`` and ``col_lo <= c <= col_hi``."""

    matrix: sparse.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray

    @property
    def n_rows(self) -> int:
        return int(self.matrix.shape[0])


def check_knots_allow(
    knots: np.ndarray, domain: tuple[float, float], constraints: Constraints
) -> None:
    """Conflicts between the constraints and these knots, found before solving."""
    lo, hi = constraints.slope_range()
    a = domain[0]
    if knots[0] > a and not lo <= 0.0 <= hi:
        who = [n for n in ("monotone", "slope_bounds") if getattr(constraints, n)]
        raise ValueError(
            f"the first knot {knots[0]:g} lies right of A = {a:g}, so the first piece is "
            f"flat (slope 0), which {' and '.join(who)} forbid; put a knot at A"
        )
    if knots[0] > a:
        pts = [p for p in constraints.through if p[0] <= knots[0]]
        ys = {p[1] for p in pts}
        if len(ys) > 1:
            raise ValueError(
                f"through points at x <= {knots[0]:g} have different y, but the fit is flat "
                f"there (the first knot lies right of A = {a:g}); put a knot at A"
            )


def constraint_rows(
    t: np.ndarray, flat_first: bool, constraints: Constraints, scale: Scaled
) -> Rows:
    """The linear rows of ``constraints`` on the values at scaled breakpoints ``t``."""
    m = t.size - 1
    n = t.size
    inv = 1.0 / np.diff(t)
    rows: list[sparse.coo_matrix] = []
    lo_parts: list[np.ndarray] = []
    hi_parts: list[np.ndarray] = []

    def add(mat: sparse.coo_matrix, lo: np.ndarray, hi: np.ndarray) -> None:
        rows.append(mat)
        lo_parts.append(np.asarray(lo, dtype=float))
        hi_parts.append(np.asarray(hi, dtype=float))

    k = np.arange(m)
    slopes = sparse.coo_matrix(
        (np.concatenate((-inv, inv)), (np.concatenate((k, k)), np.concatenate((k, k + 1)))),
        shape=(m, n),
    ).tocsr()
    first = 0
    if flat_first:
        add(slopes[0:1].tocoo(), [0.0], [0.0])
        first = 1
    slo, shi = constraints.slope_range()
    if math.isfinite(slo) or math.isfinite(shi):
        cnt = m - first
        add(
            slopes[first:].tocoo(),
            np.full(cnt, scale.slope(slo) if math.isfinite(slo) else -np.inf),
            np.full(cnt, scale.slope(shi) if math.isfinite(shi) else np.inf),
        )
    if constraints.shape is not None and m >= 2:
        change = (slopes[1:] - slopes[:-1]).tocoo()
        if constraints.shape == "convex":
            add(change, np.zeros(m - 1), np.full(m - 1, np.inf))
        else:
            add(change, np.full(m - 1, -np.inf), np.zeros(m - 1))
    if constraints.through:
        px = np.array([p[0] for p in constraints.through])
        py = np.array([p[1] for p in constraints.through])
        u = np.asarray(scale.u(px), dtype=float)
        j = np.clip(np.searchsorted(t, u, side="right") - 1, 0, m - 1)
        lam = np.clip((u - t[j]) * inv[j], 0.0, 1.0)
        r = np.arange(px.size)
        mat = sparse.coo_matrix(
            (
                np.concatenate((1.0 - lam, lam)),
                (np.concatenate((r, r)), np.concatenate((j, j + 1))),
            ),
            shape=(px.size, n),
        )
        v = np.asarray(scale.v(py), dtype=float)
        add(mat, v, v)
    if constraints.right_slope is not None:
        s = scale.slope(constraints.right_slope)
        add(slopes[m - 1 : m].tocoo(), [s], [s])
    col_lo = np.full(n, -np.inf)
    col_hi = np.full(n, np.inf)
    if constraints.value_bounds is not None:
        vlo, vhi = constraints.value_bounds
        if math.isfinite(vlo):
            col_lo[:] = scale.v(vlo)
        if math.isfinite(vhi):
            col_hi[:] = scale.v(vhi)
    if rows:
        matrix = sparse.vstack(rows).tocsr()
        row_lo = np.concatenate(lo_parts)
        row_hi = np.concatenate(hi_parts)
    else:
        matrix = sparse.csr_matrix((0, n))
        row_lo = row_hi = np.zeros(0)
    return Rows(matrix, row_lo, row_hi, col_lo, col_hi)


def scaled_breakpoints(
    knots: np.ndarray, domain: tuple[float, float], scale: Scaled
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Breakpoints for ``knots`` in user and scaled units, and whether the first piece is flat."""
    t, flat_first = breakpoints_for(knots, domain)
    u = np.asarray(scale.u(t), dtype=float)
    return t, u, flat_first
