"""The one function object of relusum: a weighted sum of shifted ReLUs.

.. math::

    f(x) = b + \\sum_{i=1}^{n} w_i \\max(0, x - h_i)

``b`` is the bias, ``h_i`` the knots and ``w_i`` the weights.  Each term is a
scaled ReLU shifted to ``h_i``; the sum is a continuous piecewise-linear
function whose slope changes by ``w_i`` at ``h_i``.

Behaviour outside a fitted domain ``[A, B]`` follows from the formula: left of
the first knot the sum is flat (every term is zero there) and right of the last
knot it is the straight line of the last piece.

Evaluation sorts the knots once, precomputes the slope ``S_k`` of each piece
and the value ``v_k`` at each knot, and evaluates a batch of ``N`` points by
one binary search each: ``O((N + n) log n)`` time and ``O(N + n)`` memory.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from relusum._io import atomic_write_text
from relusum._validate import NotANumberError
from relusum._validate import as_float_vector as _as_float_vector
from relusum._validate import check_domain as _check_domain
from relusum._validate import model_fields as _model_fields
from relusum._validate import parse_json as _parse_json
from relusum._validate import real as _real

__all__ = ["ReluSum", "FORMAT", "weights_from_slopes"]

#: The ``format`` tag written into every JSON document.
FORMAT = "relusum/1"
#: The ``format`` tags this release reads.
READABLE_FORMATS = ("relusum/1",)
#: Largest model file :meth:`ReluSum.load` reads (bytes); a model of a million
#: units takes about 45 MB of JSON.
MAX_MODEL_BYTES = 64 * 1024 * 1024
_CHUNK = 1 << 16  # points evaluated per block (keeps the work in cache)

Number = float | int


class ReluSum:
    """A weighted sum of shifted ReLUs, ``bias + sum_i weights[i] * max(0, x - knots[i])``.

    The object is immutable.  Knots are stored in ascending order (the sum does
    not depend on the order of its terms); ``weights[i]`` belongs to
    ``knots[i]``.  Knots may repeat and weights may be zero; :meth:`simplify`
    merges and drops them.

    Parameters
    ----------
    bias : float
        The constant term ``b``: the value left of the first knot.
    knots : array_like, shape (n,)
        The shifts ``h_i``; finite.
    weights : array_like, shape (n,)
        The scales ``w_i``; finite.  ``w_i`` is the change of slope at ``h_i``.
    domain : (float, float), optional
        The interval ``[A, B]`` the sum was built for, with ``A < B``.  It is
        used for reporting (:attr:`n_pieces`, plots, default points); the value
        of the sum is defined everywhere.

    Examples
    --------
    >>> from relusum import ReluSum
    >>> s = ReluSum(1.0, knots=[0.0, 1.0], weights=[2.0, -3.0])
    >>> s([-1.0, 0.5, 2.0])
    array([1., 2., 2.])
    >>> s.slopes
    array([ 0.,  2., -1.])
    """

    __slots__ = ("_bias", "_knots", "_weights", "_domain", "_cum_slope", "_knot_values")

    def __init__(
        self,
        bias: Number,
        knots: ArrayLike,
        weights: ArrayLike,
        domain: tuple[Number, Number] | None = None,
    ) -> None:
        bias = _real("bias", bias)
        if not math.isfinite(bias):
            raise ValueError(f"bias must be finite, got {bias}")
        h = _as_float_vector("knots", knots)
        w = _as_float_vector("weights", weights)
        if h.shape != w.shape:
            raise ValueError(
                f"knots and weights must have the same length, got {h.size} and {w.size}"
            )
        order = np.argsort(h, kind="stable")
        h = h[order]
        w = w[order]
        # Slope of each piece to the right of knot k, and the value at knot k,
        # accumulated piece by piece so that no large terms cancel.
        cum = np.cumsum(w)
        values = np.empty_like(h)
        if h.size:
            values[0] = bias
            if h.size > 1:
                steps = cum[:-1] * np.diff(h)
                values[1:] = bias + np.cumsum(steps)
        for arr in (h, w, cum, values):
            arr.setflags(write=False)
        self._bias = bias
        self._knots = h
        self._weights = w
        self._domain = _check_domain(domain)
        self._cum_slope = cum
        self._knot_values = values

    # ------------------------------------------------------------------ basics
    @property
    def bias(self) -> float:
        """The constant term: the value left of the first knot."""
        return self._bias

    @property
    def knots(self) -> np.ndarray:
        """The knots ``h_i`` in ascending order (read-only)."""
        return self._knots

    @property
    def weights(self) -> np.ndarray:
        """The weights ``w_i`` matching :attr:`knots` (read-only)."""
        return self._weights

    @property
    def domain(self) -> tuple[float, float] | None:
        """The interval ``(A, B)`` the sum was built on, or ``None``."""
        return self._domain

    @property
    def n_units(self) -> int:
        """The number of ReLU terms, as in "a network with n hidden units"."""
        return int(self._knots.size)

    @property
    def slopes(self) -> np.ndarray:
        """The slope of each piece, left to right: ``n_units + 1`` values, the first 0."""
        return np.concatenate(([0.0], self._cum_slope))

    @property
    def n_pieces(self) -> int:
        """The number of linear pieces on the domain (on the real line without one).

        Pieces are separated by the distinct knots strictly inside the domain:
        ``n`` distinct knots inside ``(A, B)`` give ``n + 1`` pieces, and a knot
        at ``A`` only makes the first piece sloped.  A knot whose weight is zero
        still counts (use :meth:`simplify` to drop it).
        """
        h = np.unique(self._knots)
        if self._domain is not None:
            a, b = self._domain
            h = h[(h > a) & (h < b)]
        return int(h.size) + 1

    def with_domain(self, domain: tuple[Number, Number] | None) -> ReluSum:
        """Return the same sum with another domain (the values do not change)."""
        return ReluSum(self._bias, self._knots, self._weights, domain)

    # -------------------------------------------------------------- evaluation
    def _piece_index(self, x: np.ndarray) -> np.ndarray:
        return np.searchsorted(self._knots, x, side="right") - 1

    def __call__(self, x: ArrayLike) -> np.ndarray | float:
        """Evaluate the sum at ``x`` (a scalar or an array of any shape).

        Uses the value at the nearest knot to the left plus the slope of its
        piece: exact up to rounding, with no ``N x n`` intermediate.  A Dask
        array gives a lazy Dask array (block by block, ``map_blocks``).
        """
        if hasattr(x, "map_blocks") and type(x).__module__.startswith("dask."):  # lazy
            return x.map_blocks(self.__call__, dtype=float)
        xa = np.asarray(x, dtype=float)
        out = self._evaluate(xa.ravel()).reshape(xa.shape)
        if np.ndim(x) == 0:
            return float(out)
        return out

    def _evaluate(self, x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        if self._knots.size == 0:
            out.fill(self._bias)
            out[np.isnan(x)] = np.nan
            return out
        h = self._knots
        # Piece p (0 = left of every knot) has anchor knot H[p], value V[p] there
        # and slope S[p]: f(x) = V[p] + S[p] * (x - H[p]).
        anchor = np.concatenate((h[:1], h))
        value = np.concatenate(([self._bias], self._knot_values))
        slope = np.concatenate(([0.0], self._cum_slope))
        for i in range(0, x.size, _CHUNK):
            xx = x[i : i + _CHUNK]
            if xx[0] <= xx[-1] and np.all(xx[1:] >= xx[:-1]):
                # Sorted input (plots, grids): place the knots among the points.
                pos = np.searchsorted(xx, h, side="left")
                idx = np.cumsum(np.bincount(pos, minlength=xx.size + 1)[: xx.size])
            else:
                idx = np.searchsorted(h, xx, side="right")
            d = out[i : i + _CHUNK]
            np.take(anchor, idx, out=d)
            np.subtract(xx, d, out=d)
            with np.errstate(invalid="ignore"):
                d *= np.take(slope, idx)
            d += np.take(value, idx)
            if not np.all(np.isfinite(d)):
                d[xx == -np.inf] = self._bias
                if slope[-1] == 0.0:
                    d[xx == np.inf] = value[-1]
        return out

    def terms(self, x: ArrayLike) -> np.ndarray:
        """Each scaled shifted ReLU ``w_i * max(0, x - h_i)`` separately.

        Returns an array of shape ``np.shape(x) + (n_units,)``; summing over the
        last axis and adding :attr:`bias` gives the value of the sum.

        Examples
        --------
        >>> from relusum import ReluSum
        >>> ReluSum(0.0, [0.0, 1.0], [1.0, -1.0]).terms([2.0])
        array([[ 2., -1.]])
        """
        xa = np.asarray(x, dtype=float)
        return self._weights * np.maximum(0.0, xa[..., None] - self._knots)

    def slope_at(self, x: ArrayLike) -> np.ndarray | float:
        """The slope at ``x``; at a knot, the slope of the piece to its right."""
        xa = np.asarray(x, dtype=float)
        k = self._piece_index(xa)
        out = np.where(k >= 0, np.concatenate(([0.0], self._cum_slope))[k + 1], 0.0)
        if np.ndim(x) == 0:
            return float(out)
        return out

    def integral(self, a: Number, b: Number) -> float:
        """The exact integral of the sum from ``a`` to ``b`` (negative when ``b < a``).

        Examples
        --------
        >>> from relusum import ReluSum
        >>> ReluSum(0.0, [0.0], [1.0]).integral(0.0, 2.0)
        2.0
        """
        a = float(a)
        b = float(b)
        if not (math.isfinite(a) and math.isfinite(b)):
            raise ValueError(f"integral limits must be finite, got ({a}, {b})")
        sign = 1.0
        if b < a:
            a, b, sign = b, a, -1.0
        h = self._knots
        lo = np.maximum(a, h)
        hi = np.maximum(b, h)
        # Each term integrates to w * (hi - lo) * mean height; (hi - lo) is b - a
        # itself when both limits are right of the knot, so short spans stay exact.
        terms = self._weights * (hi - lo) * ((lo - h) + (hi - h))
        return sign * float(self._bias * (b - a) + 0.5 * np.sum(terms))

    # ------------------------------------------------------------- conversions
    @classmethod
    def from_points(
        cls, xs: ArrayLike, ys: ArrayLike, domain: tuple[Number, Number] | None = None
    ) -> ReluSum:
        """The sum equal to the continuous piecewise-linear function through the points.

        The points are sorted by ``x``; the x values must be distinct.  The
        result has a knot at every point but the last, is flat left of the
        first point and continues the last segment to the right.

        Examples
        --------
        >>> from relusum import ReluSum
        >>> s = ReluSum.from_points([0.0, 1.0, 2.0], [0.0, 1.0, 0.0])
        >>> s(1.5)
        0.5
        """
        x = _as_float_vector("x", xs)
        y = _as_float_vector("y", ys)
        if x.shape != y.shape:
            raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
        if x.size < 2:
            raise ValueError(f"need at least two points, got {x.size}")
        order = np.argsort(x, kind="stable")
        x = x[order]
        y = y[order]
        dup = np.flatnonzero(np.diff(x) == 0)
        if dup.size:
            raise ValueError(f"x values must be distinct; x = {x[dup[0]]!r} appears more than once")
        with np.errstate(over="ignore"):
            slope = np.diff(y) / np.diff(x)
        bad = np.flatnonzero(~np.isfinite(slope))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"the slope between x = {x[i]!r} and x = {x[i + 1]!r} overflows; "
                "the points are too close together"
            )
        weights = weights_from_slopes(slope)
        if domain is None:
            domain = (x[0], x[-1])
        return cls(y[0], x[:-1], weights, domain)

    def breakpoints(self) -> np.ndarray:
        """The distinct x where the function can bend on its domain, with both ends.

        Without a domain: the distinct knots.
        """
        h = np.unique(self._knots)
        if self._domain is None:
            return h
        a, b = self._domain
        return np.unique(np.concatenate(([a], h[(h > a) & (h < b)], [b])))

    def to_points(self, xs: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Points ``(x, f(x))`` that determine the function by linear interpolation.

        With ``xs`` omitted they are :meth:`breakpoints`: on the domain the sum
        equals the piecewise-linear interpolant of these points exactly, and
        :meth:`from_points` turns them back into the same function.
        """
        if xs is None:
            x = self.breakpoints()
            if x.size < 2:
                raise ValueError(
                    "to_points() needs a domain or at least two distinct knots; pass xs"
                )
        else:
            x = np.sort(_as_float_vector("xs", xs))
        return x, np.asarray(self(x), dtype=float)

    # -------------------------------------------------------------- algebra
    def _merged(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct knots with summed weights (exact duplicates only)."""
        h = self._knots
        if h.size == 0:
            return h, self._weights
        starts = np.flatnonzero(np.concatenate(([True], np.diff(h) != 0)))
        return h[starts], np.add.reduceat(self._weights, starts)

    @staticmethod
    def _combine_domains(a, b):
        if a is None or a == b:
            return b
        if b is None:
            return a
        lo, hi = max(a[0], b[0]), min(a[1], b[1])
        return (lo, hi) if lo < hi else None

    def __add__(self, other: ReluSum | Number) -> ReluSum:
        if isinstance(other, ReluSum):
            out = ReluSum(
                self._bias + other._bias,
                np.concatenate((self._knots, other._knots)),
                np.concatenate((self._weights, other._weights)),
                self._combine_domains(self._domain, other._domain),
            )
            h, w = out._merged()
            return ReluSum(out._bias, h, w, out._domain)
        if isinstance(other, (int, float, np.number)) and not isinstance(other, bool):
            return ReluSum(self._bias + float(other), self._knots, self._weights, self._domain)
        return NotImplemented

    __radd__ = __add__

    def __neg__(self) -> ReluSum:
        return ReluSum(-self._bias, self._knots, -self._weights, self._domain)

    def __pos__(self) -> ReluSum:
        return self

    def __sub__(self, other: ReluSum | Number) -> ReluSum:
        if isinstance(other, ReluSum) or (
            isinstance(other, (int, float, np.number)) and not isinstance(other, bool)
        ):
            return self + (-other)
        return NotImplemented

    def __rsub__(self, other: Number) -> ReluSum:
        return (-self) + other

    def __mul__(self, c: Number) -> ReluSum:
        if isinstance(c, (int, float, np.number)) and not isinstance(c, bool):
            c = float(c)
            return ReluSum(c * self._bias, self._knots, c * self._weights, self._domain)
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, c: Number) -> ReluSum:
        if isinstance(c, (int, float, np.number)) and not isinstance(c, bool):
            if c == 0:
                raise ZeroDivisionError("division of a ReluSum by zero")
            return self * (1.0 / float(c))
        return NotImplemented

    def simplify(self, atol: float = 0.0) -> ReluSum:
        """Merge knots closer than ``atol`` (exact duplicates by default) and drop zero weights.

        Merged knots move to their weight-weighted position when the weights
        agree in sign, else to their mean; with ``atol=0`` the values of the sum
        do not change beyond rounding.

        Examples
        --------
        >>> from relusum import ReluSum
        >>> ReluSum(0.0, [1.0, 1.0, 2.0], [1.0, 2.0, 0.0]).simplify()
        ReluSum(bias=0, knots=[1], weights=[3])
        """
        if isinstance(atol, (bool, np.bool_)) or not isinstance(atol, numbers.Real):
            raise NotANumberError(f"atol must be a number, got {type(atol).__name__}")
        if not (math.isfinite(atol) and atol >= 0):
            raise ValueError(f"atol must be a finite number >= 0, got {atol}")
        h, w = self._knots, self._weights
        if h.size and atol > 0:
            groups = np.concatenate(([0], np.cumsum(np.diff(h) > atol)))
            new_h, new_w = [], []
            for g in range(int(groups[-1]) + 1):
                sel = groups == g
                hw, ww = h[sel], w[sel]
                total = float(np.sum(ww))
                if np.all(ww >= 0) or np.all(ww <= 0):
                    pos = float(np.sum(hw * ww) / total) if total != 0 else float(np.mean(hw))
                else:
                    pos = float(np.mean(hw))
                new_h.append(pos)
                new_w.append(total)
            h, w = np.array(new_h), np.array(new_w)
            out = ReluSum(self._bias, h, w, self._domain)
        else:
            out = self
        h, w = out._merged()
        keep = w != 0.0
        return ReluSum(self._bias, h[keep], w[keep], self._domain)

    def allclose(self, other: ReluSum, rtol: float = 1e-9, atol: float = 1e-12) -> bool:
        """Whether two sums are the same function on the whole real line, within tolerance.

        Compares the values at every knot of either sum, left of all knots, and
        the final slopes; this decides equality of continuous piecewise-linear
        functions (it is not a comparison of representations).
        """
        if not isinstance(other, ReluSum):
            raise TypeError(f"allclose needs a ReluSum, got {type(other).__name__}")
        h = np.union1d(self._knots, other._knots)
        lo = (h[0] - 1.0) if h.size else 0.0
        x = np.concatenate(([lo], h))
        return bool(
            np.allclose(self(x), other(x), rtol=rtol, atol=atol)
            and np.allclose(self.slopes[-1], other.slopes[-1], rtol=rtol, atol=atol)
        )

    def __eq__(self, other: object) -> bool:
        """Exact equality of representation (bias, knots, weights, domain); see :meth:`allclose`."""
        if not isinstance(other, ReluSum):
            return NotImplemented
        return (
            self._bias == other._bias
            and self._domain == other._domain
            and np.array_equal(self._knots, other._knots)
            and np.array_equal(self._weights, other._weights)
        )

    def __hash__(self) -> int:
        return hash((self._bias, self._domain, self._knots.tobytes(), self._weights.tobytes()))

    # ---------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """The model as plain JSON types: ``format``, ``bias``, ``knots``, ``weights``, ``domain``.

        The ``format`` tag is ``"relusum/1"``.
        """
        return {
            "format": FORMAT,
            "bias": self._bias,
            "knots": self._knots.tolist(),
            "weights": self._weights.tolist(),
            "domain": list(self._domain) if self._domain is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReluSum:
        """Read the model fields of a dict (other fields are ignored).

        Numbers must be JSON numbers (not strings or booleans) representable as
        floats, and ``format`` one of :data:`READABLE_FORMATS` when present.
        """
        bias, knots, weights, domain = _model_fields(data, READABLE_FORMATS)
        try:
            return cls(bias, knots, weights, domain)
        except TypeError as exc:
            raise ValueError(f"not a relusum model: {exc}") from None

    def to_json(self, **extra: Any) -> str:
        """JSON text of :meth:`to_dict` merged with ``extra`` fields (strict: no NaN/Infinity)."""
        doc = {**self.to_dict(), **extra}
        try:
            return json.dumps(doc, indent=2, allow_nan=False)
        except ValueError:
            bad = [k for k, v in extra.items() if isinstance(v, float) and not math.isfinite(v)]
            raise ValueError(
                f"cannot write a model with non-finite field(s) {', '.join(bad) or '(nested)'}: "
                "JSON has no NaN or Infinity"
            ) from None

    def save(self, path: str | os.PathLike[str], **extra: Any) -> Path:
        """Write the model as JSON, atomically (a partial file is never left behind)."""
        return atomic_write_text(path, self.to_json(**extra) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ReluSum:
        """Read a model written by :meth:`save` (or by ``relusum fit --save``).

        Files larger than :data:`MAX_MODEL_BYTES` (64 MB) are refused before they
        are read whole, so ``/dev/zero`` or a huge file cannot exhaust memory.
        """
        p = Path(path)
        try:
            with p.open("rb") as fh:
                raw = fh.read(MAX_MODEL_BYTES + 1)
        except OSError as exc:
            raise ValueError(f"cannot read model file {str(p)!r}: {exc.strerror}") from None
        if len(raw) > MAX_MODEL_BYTES:
            raise ValueError(
                f"model file {str(p)!r} is larger than {MAX_MODEL_BYTES // 2**20} MB; "
                "a relusum model is far smaller"
            )
        return cls.from_dict(_parse_json(raw, str(p)))

    # ------------------------------------------------------------- display
    def __repr__(self) -> str:
        def fmt(values: Iterable[float]) -> str:
            vals = [f"{v:.6g}" for v in values]
            if len(vals) > 6:
                vals = vals[:3] + ["..."] + vals[-2:]
            return "[" + ", ".join(vals) + "]"

        parts = [
            f"bias={self._bias:.6g}",
            f"knots={fmt(self._knots)}",
            f"weights={fmt(self._weights)}",
        ]
        if self._domain is not None:
            parts.append(f"domain=({self._domain[0]:.6g}, {self._domain[1]:.6g})")
        return "ReluSum(" + ", ".join(parts) + ")"

    def _repr_svg_(self) -> str:
        """A small SVG sketch of the sum on its domain, for Jupyter."""
        from relusum._svg import sketch

        return sketch(self)

    def _repr_html_(self) -> str:
        """Jupyter: an SVG of the sum and its units plus a (truncated) table of knots."""
        from relusum._display import relusum_html

        return relusum_html(self)

    def _repr_markdown_(self) -> str:
        """Jupyter: one line of Markdown (units, pieces, domain, bias)."""
        from relusum._display import relusum_markdown

        return relusum_markdown(self)


def weights_from_slopes(slopes: ArrayLike) -> np.ndarray:
    """The weights whose running sums are ``slopes``, as :class:`ReluSum` adds them.

    :class:`ReluSum` gets the slope of each piece by adding the weights left to
    right in float64 (``np.cumsum``).  The plain differences ``w_k = s_k -
    s_(k-1)`` leave the rounding of each difference in every later running sum:
    a piece of slope 2e9 followed by one of slope 0.3 leaves all later slopes
    off by up to 1e-7 (``2e9 * 2**-53``), which a sum spanning ``[0, 1]`` turns
    into an error of 1e-7 everywhere right of the steep piece.  Where that
    happens, each weight is instead the difference between its slope and the
    running sum as it will be accumulated, ``w_k = s_k - fl(w_0 + ... +
    w_(k-1))``, so each running sum is off its slope by at most the rounding of
    one weight and one sum: a steep piece costs accuracy only on itself and its
    right neighbour.  Otherwise (no running sum off its slope by more than a
    few units in the last place) the plain differences are returned unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.model import weights_from_slopes
    >>> s = np.array([0.0, 2.0e9 + 0.1, 0.3, 0.1])
    >>> plain = np.cumsum(np.diff(s, prepend=0.0))
    >>> carried = np.cumsum(weights_from_slopes(s))
    >>> float(abs(plain[-1] - 0.1)) > 1e-8, float(abs(carried[-1] - 0.1)) < 1e-15
    (True, True)
    """
    s = np.asarray(slopes, dtype=float)
    w = np.diff(s, prepend=0.0)
    if s.size < 2:
        return w
    off = np.abs(np.cumsum(w) - s)
    if not np.any(off > 4.0 * np.finfo(float).eps * np.abs(s) + 1e-300):
        return w
    # One pass in Python floats, adding as np.cumsum does (left to right).
    out = np.empty_like(s)
    run = 0.0
    for k, target in enumerate(s.tolist()):
        wk = target - run
        out[k] = wk
        run = run + wk
    return out


def _many_relusums(
    bias: np.ndarray, knots: np.ndarray, weights: np.ndarray, domains: np.ndarray
) -> list[ReluSum]:
    """One :class:`ReluSum` per row, with the arithmetic of ``ReluSum(...)`` done row-wise.

    For batched fits (:func:`relusum.fit_many`): ``knots`` (G, n) must be finite
    and increasing along each row, ``weights`` (G, n) finite, ``domains`` (G, 2)
    finite with ``A < B``; the results equal ``ReluSum(bias[g], knots[g],
    weights[g], domains[g])`` without its per-object checks.
    """
    h = np.array(knots, dtype=float)
    w = np.array(weights, dtype=float)
    b = np.asarray(bias, dtype=float)
    if not (np.all(np.isfinite(h)) and np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
        raise ValueError("bias, knots and weights must be finite")
    if h.shape[1] > 1 and not np.all(np.diff(h, axis=1) > 0):
        raise ValueError("knots must increase along each row")
    if not np.all(domains[:, 0] < domains[:, 1]):
        raise ValueError("each domain needs A < B")
    cum = np.cumsum(w, axis=1)
    values = np.empty_like(h)
    if h.shape[1]:
        values[:, 0] = b
        if h.shape[1] > 1:
            values[:, 1:] = b[:, None] + np.cumsum(cum[:, :-1] * np.diff(h, axis=1), axis=1)
    out = []
    for g in range(h.shape[0]):
        s = object.__new__(ReluSum)
        rows = (h[g].copy(), w[g].copy(), cum[g].copy(), values[g].copy())
        for arr in rows:
            arr.setflags(write=False)
        s._bias = float(b[g])
        s._knots, s._weights, s._cum_slope, s._knot_values = rows
        s._domain = (float(domains[g, 0]), float(domains[g, 1]))
        out.append(s)
    return out
