"""Sample positions as *gates*: distinct, normalised x with the allowed range of y.

Repeated x are merged into one gate ``[max y - eps, min y + eps]`` (their
spread is a floor no fit can beat).  Positions are normalised to
``u = (x - c) / (B - A)``, an interval of length 1, and values to ``[-1, 1]``
so that the sweep's tolerances are relative.  The origin ``c`` is ``A``, or
``0`` for a domain that straddles 0 (:func:`gate_origin`): float64 resolves
``u`` near 0 far more finely than near 0.5, and a singular point at ``x = 0``
(``abs(x)**0.1`` on ``[-1, 1]``) wants samples and knots 1e-22 apart there.
A gate may also carry a *fixed* interval that does not widen with the error
(used to pin the middle of a jump while the rest is optimised).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["Gates", "gate_origin", "make_gates"]

#: Slack, relative to the half range of y, added to every gate so that
#: degenerate (exactly interpolable) data stay feasible despite rounding.
_SLACK = 1e-12


def gate_origin(domain: tuple[float, float]) -> float:
    """The x at ``u = 0``: ``0`` for a domain ``[A, B]`` with ``A < 0 < B``, else ``A``.

    Examples
    --------
    >>> from relusum.fitting.minimax.gates import gate_origin
    >>> gate_origin((-1.0, 1.0)), gate_origin((0.5, 2.0)), gate_origin((-3.0, -1.0))
    (0.0, 0.5, -3.0)
    """
    a, b = float(domain[0]), float(domain[1])
    return 0.0 if a < 0.0 < b else a


@dataclass(frozen=True)
class Gates:
    """Distinct, normalised sample positions with the range of y at each.

    ``u = (x - c) / (B - A)`` with ``c`` the :func:`gate_origin` (so ``u``
    spans ``[u_a, u_b]``, of length 1, ``[0, 1]`` unless the domain
    straddles 0), ``lo``/``hi`` the least and largest
    normalised y at each distinct x (``y_norm = (y - mid) / half``).
    """

    u: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    domain: tuple[float, float]
    mid: float
    half: float
    amax: float
    #: Normalised intervals that do not widen with the error (NaN: an ordinary gate).
    fix_lo: np.ndarray | None = field(default=None, repr=False)
    fix_hi: np.ndarray | None = field(default=None, repr=False)

    def bounds(self, eps: float) -> tuple[np.ndarray, np.ndarray]:
        """The interval each gate allows at normalised error ``eps`` (with a rounding slack)."""
        tol = _SLACK * (1.0 + eps)
        lower = self.hi - eps - tol
        upper = self.lo + eps + tol
        if self.fix_lo is not None:
            fixed = ~np.isnan(self.fix_lo)
            lower = np.where(fixed, self.fix_lo - tol, lower)
            upper = np.where(fixed, self.fix_hi + tol, upper)
        return lower, upper

    def pin(self, mask: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Gates:
        """A copy whose gates in ``mask`` allow exactly ``[lo, hi]`` (normalised) at any error."""
        flo = np.full(self.u.size, np.nan)
        fhi = np.full(self.u.size, np.nan)
        flo[mask] = lo
        fhi[mask] = hi
        return Gates(
            self.u, self.lo, self.hi, self.domain, self.mid, self.half, self.amax, flo, fhi
        )

    @property
    def floor(self) -> float:
        """Half the largest spread of y at one x among gates that are not fixed (normalised)."""
        sp = self.hi - self.lo
        if self.fix_lo is not None:
            sp = np.where(np.isnan(self.fix_lo), sp, 0.0)
        return float(np.max(sp)) / 2.0

    @property
    def spread(self) -> float:
        """Half the largest spread of y at one x: no fit can do better (normalised)."""
        return float(np.max(self.hi - self.lo)) / 2.0

    @property
    def origin(self) -> float:
        """The x at ``u = 0`` (:func:`gate_origin`)."""
        return gate_origin(self.domain)

    @property
    def u_a(self) -> float:
        """``u`` at the domain's left end ``A`` (``0.0`` unless the domain straddles 0)."""
        a, b = self.domain
        return (a - self.origin) / (b - a)

    @property
    def u_b(self) -> float:
        """``u`` at the domain's right end ``B`` (``1.0`` unless the domain straddles 0)."""
        a, b = self.domain
        return (b - self.origin) / (b - a)

    def to_x(self, u: float) -> float:
        a, b = self.domain
        return self.origin + u * (b - a)


def make_gates(x: ArrayLike, y: ArrayLike, domain: tuple[float, float] | None = None) -> Gates:
    """Merge repeated x and normalise ``(x, y)`` for the greedy sweep.

    Examples
    --------
    >>> from relusum.fitting.minimax import make_gates
    >>> g = make_gates([0.0, 1.0, 1.0, 2.0], [0.0, 1.0, 3.0, 2.0])
    >>> g.u.tolist(), round(g.spread * g.half, 12)
    ([0.0, 0.5, 1.0], 1.0)
    >>> h = make_gates([-1.0, 0.0, 3.0], [1.0, 0.0, 3.0])  # straddles 0: u = x / 4
    >>> h.u.tolist(), h.u_a, h.u_b, h.to_x(0.75)
    ([-0.25, 0.0, 0.75], -0.25, 0.75, 3.0)
    """
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
    if xa.size == 0:
        raise ValueError("no points to fit")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        raise ValueError("x and y must be finite")
    step = np.diff(xa)
    if not np.all(step >= 0):  # (refined samples arrive sorted: no reordering)
        order = np.argsort(xa, kind="stable")
        xa, ya = xa[order], ya[order]
        step = np.diff(xa)
    if np.all(step != 0):  # distinct x: each gate is one sample
        xs, lo, hi = xa, ya, ya
    else:
        starts = np.flatnonzero(np.concatenate(([True], step != 0)))
        xs = xa[starts]
        lo = np.minimum.reduceat(ya, starts)
        hi = np.maximum.reduceat(ya, starts)
    if domain is None:
        domain = (float(xs[0]), float(xs[-1]) if xs[-1] > xs[0] else float(xs[0]) + 1.0)
    a, b = float(domain[0]), float(domain[1])
    if xs[0] < a or xs[-1] > b:
        raise ValueError(f"points from {xs[0]:.6g} to {xs[-1]:.6g} lie outside [{a:.6g}, {b:.6g}]")
    ymin, ymax = float(np.min(lo)), float(np.max(hi))
    mid = 0.5 * (ymin + ymax)
    half = 0.5 * (ymax - ymin)
    if not half > 0:
        half = max(abs(mid), 1.0)
    u = (xs - gate_origin((a, b))) / (b - a)
    du = np.diff(u)
    min_du = float(np.min(du)) if du.size else 1.0
    # Any line that passes two gates within error 1 has |slope| < 4 / du; the
    # joint constraint never needs steeper lines than twice that.
    amax = 16.0 / min_du + 16.0
    lo_n = (lo - mid) / half
    hi_n = lo_n.copy() if hi is lo else (hi - mid) / half
    return Gates(u, lo_n, hi_n, (a, b), mid, half, amax)
