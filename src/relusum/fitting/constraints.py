"""Shape constraints as one small frozen value object that every solver receives.

A continuous piecewise-linear function is given by its values ``c_j`` at the
breakpoints ``t_0 = A < ... < t_m = B`` (the hat basis of
:mod:`relusum.fitting.hat`); its slopes ``s_k = (c_{k+1} - c_k) / (t_{k+1} -
t_k)`` are the partial sums of the ReLU weights.  Every constraint below is
linear in ``c``:

=================  ==================================================================
option             meaning (on the domain ``[A, B]`` and the right tail beyond ``B``)
=================  ==================================================================
``monotone``       ``"increasing"``: every slope >= 0; ``"decreasing"``: every slope <= 0
``shape``          ``"convex"``: slopes non-decreasing (every weight at a knot right of
                   ``A`` >= 0); ``"concave"``: non-increasing
``slope_bounds``   ``(lo, hi)``: ``lo <= s_k <= hi`` on every piece (None: no bound)
``value_bounds``   ``(lo, hi)``: ``lo <= f(x) <= hi`` on ``[A, B]`` (at the breakpoints)
``through``        ``[(x0, y0), ...]``: ``f(x0) = y0`` exactly, ``x0`` in ``[A, B]``
``right_slope``    the slope beyond the last knot (the last piece's slope)
=================  ==================================================================

The left tail (``x < A``) is flat by construction, so a knot at ``A`` is a kink
only outside the domain and ``shape`` does not constrain its weight.
:meth:`Constraints.check` finds conflicting options before any solving.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Constraints", "NONE"]

_MONOTONE = ("increasing", "decreasing")
_SHAPE = ("convex", "concave")


def _number(name: str, v: Any, allow_inf: bool = False) -> float:
    if isinstance(v, bool):
        raise ValueError(f"{name} must be a number, got {v!r}")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {v!r}") from None
    if math.isnan(f) or (not allow_inf and not math.isfinite(f)):
        raise ValueError(f"{name} must be a finite number, got {v!r}")
    return f


def _bounds(name: str, value: Any) -> tuple[float, float] | None:
    """``(lo, hi)`` with None or +-inf for a missing side; None when both are missing."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (lo, hi); either may be None, got {value!r}")
    lo = -math.inf if value[0] is None else _number(f"{name} lo", value[0], allow_inf=True)
    hi = math.inf if value[1] is None else _number(f"{name} hi", value[1], allow_inf=True)
    if lo == math.inf or hi == -math.inf:
        raise ValueError(f"{name} = ({lo:g}, {hi:g}) leaves no room")
    if lo > hi:
        raise ValueError(f"{name} has lo > hi ({lo:g} > {hi:g})")
    if lo == -math.inf and hi == math.inf:
        return None
    return (lo, hi)


def _points(value: Any) -> tuple[tuple[float, float], ...]:
    if value is None:
        return ()
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"through must be a list of (x, y) pairs, got {value!r}") from None
    if arr.size == 0:
        return ()
    if arr.ndim == 1 and arr.size == 2:
        arr = arr.reshape(1, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"through must be a list of (x, y) pairs, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("through points must be finite numbers")
    order = np.argsort(arr[:, 0], kind="stable")
    arr = arr[order]
    same = np.flatnonzero(np.diff(arr[:, 0]) == 0)
    for i in same:
        if arr[i, 1] != arr[i + 1, 1]:
            raise ValueError(
                f"through has two values at x = {arr[i, 0]:.10g} ({arr[i, 1]:g} and "
                f"{arr[i + 1, 1]:g}); a function has one"
            )
    keep = np.concatenate(([True], np.diff(arr[:, 0]) != 0))
    return tuple((float(a), float(b)) for a, b in arr[keep])


@dataclass(frozen=True)
class Constraints:
    """Linear shape constraints on a fit; the default constrains nothing.

    Parameters
    ----------
    monotone : {"increasing", "decreasing"}, optional
    shape : {"convex", "concave"}, optional
    slope_bounds, value_bounds : (lo, hi), optional
        Either side may be None (or infinite) for no bound.
    through : sequence of (x, y), optional
        Points the fit must pass through exactly.
    right_slope : float, optional
        The slope beyond the last knot.

    Examples
    --------
    >>> from relusum.fitting.constraints import Constraints
    >>> c = Constraints(monotone="increasing", slope_bounds=(None, 3))
    >>> c.active, c.names()
    (True, ['monotone', 'slope_bounds'])
    >>> Constraints().active
    False
    """

    monotone: str | None = None
    shape: str | None = None
    slope_bounds: tuple[float, float] | None = None
    value_bounds: tuple[float, float] | None = None
    through: tuple[tuple[float, float], ...] = ()
    right_slope: float | None = None

    def __post_init__(self) -> None:
        if self.monotone is not None and self.monotone not in _MONOTONE:
            raise ValueError(
                f"monotone must be 'increasing' or 'decreasing', got {self.monotone!r}"
            )
        if self.shape is not None and self.shape not in _SHAPE:
            raise ValueError(f"shape must be 'convex' or 'concave', got {self.shape!r}")
        object.__setattr__(self, "slope_bounds", _bounds("slope_bounds", self.slope_bounds))
        object.__setattr__(self, "value_bounds", _bounds("value_bounds", self.value_bounds))
        object.__setattr__(self, "through", _points(self.through))
        if self.right_slope is not None:
            object.__setattr__(self, "right_slope", _number("right_slope", self.right_slope))
        self._check_options()

    @property
    def active(self) -> bool:
        """Whether any constraint is set."""
        return bool(self.names())

    def names(self) -> list[str]:
        """The options that are set, in the order of the fields."""
        out = []
        for name in ("monotone", "shape", "slope_bounds", "value_bounds", "through"):
            if getattr(self, name):
                out.append(name)
        if self.right_slope is not None:
            out.append("right_slope")
        return out

    def to_dict(self) -> dict[str, Any]:
        """The options that are set, JSON-ready (infinite bounds as None)."""

        def pair(b: tuple[float, float]) -> list[float | None]:
            return [None if math.isinf(v) else v for v in b]

        d: dict[str, Any] = {}
        for name in self.names():
            v = getattr(self, name)
            if name in ("slope_bounds", "value_bounds"):
                v = pair(v)
            elif name == "through":
                v = [list(p) for p in v]
            d[name] = v
        return d

    def slope_range(self) -> tuple[float, float]:
        """The interval every slope must lie in (monotone and slope_bounds together)."""
        lo, hi = self.slope_bounds or (-math.inf, math.inf)
        if self.monotone == "increasing":
            lo = max(lo, 0.0)
        elif self.monotone == "decreasing":
            hi = min(hi, 0.0)
        return lo, hi

    def _check_options(self) -> None:
        """Conflicts between the options themselves, whatever the knots."""
        lo, hi = self.slope_range()
        if lo > hi:
            raise ValueError(
                f"monotone={self.monotone!r} conflicts with slope_bounds="
                f"({self.slope_bounds[0]:g}, {self.slope_bounds[1]:g}): no slope is allowed"
            )
        s = self.right_slope
        if s is not None and not lo <= s <= hi:
            who = [n for n in ("monotone", "slope_bounds") if getattr(self, n)]
            raise ValueError(
                f"right_slope={s:g} conflicts with {' and '.join(who)} "
                f"(slopes must lie in [{lo:g}, {hi:g}])"
            )
        pts = self.through
        if self.value_bounds is not None:
            vlo, vhi = self.value_bounds
            for x0, y0 in pts:
                if not vlo <= y0 <= vhi:
                    raise ValueError(
                        f"through point ({x0:g}, {y0:g}) conflicts with value_bounds "
                        f"({vlo:g}, {vhi:g})"
                    )
        if len(pts) >= 2:
            p = np.asarray(pts)
            sec = np.diff(p[:, 1]) / np.diff(p[:, 0])
            # A secant is an average of the slopes between its ends.
            slack = 1e-12 * (1.0 + np.abs(sec))
            bad = np.flatnonzero((sec < lo - slack) | (sec > hi + slack))
            if bad.size:
                i = bad[0]
                who = [n for n in ("monotone", "slope_bounds") if getattr(self, n)]
                raise ValueError(
                    f"through points ({p[i, 0]:g}, {p[i, 1]:g}) and ({p[i + 1, 0]:g}, "
                    f"{p[i + 1, 1]:g}) need slope {sec[i]:g}, which {' and '.join(who)} forbid"
                )
            if self.shape is not None:
                sign = 1.0 if self.shape == "convex" else -1.0
                d = sign * np.diff(sec)
                tol = 1e-12 * (1.0 + float(np.max(np.abs(sec))))
                if np.any(d < -tol):
                    raise ValueError(
                        f"the through points are not {self.shape}, so shape={self.shape!r} "
                        "cannot pass through them"
                    )
                if s is not None and sign * (s - sec[-1]) < -tol:
                    raise ValueError(
                        f"right_slope={s:g} conflicts with shape={self.shape!r} and the through "
                        f"points (whose last secant has slope {sec[-1]:g})"
                    )

    def check(self, domain: tuple[float, float]) -> None:
        """Raise ``ValueError`` for options that conflict on ``domain``, before any solving."""
        a, b = domain
        for x0, _ in self.through:
            if not a <= x0 <= b:
                raise ValueError(f"through point x = {x0:g} is outside the domain [{a:g}, {b:g}]")


#: No constraints.
NONE = Constraints()
