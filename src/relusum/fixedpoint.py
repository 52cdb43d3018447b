"""Fixed-point lookup tables: integer knots, slopes and values, checked exhaustively.

Format ``Q(total, frac)``
    A number ``v`` is the signed integer ``round(v * 2^frac)`` of ``total`` bits.
    Inputs and outputs use the same format.
Evaluation (what the C header does, in integers only)
    ``k`` = the number of knots ``<= x`` (a binary search over the integer
    knots ``ceil(h * 2^frac)``); then ``y = ((s_k * (x - a_k) + 2^(frac-1)) >> frac) + v_k``
    with the piece's anchor ``a_k`` (its left integer knot), the rounded value
    ``v_k`` of the sum there and the rounded slope ``s_k = round(slope * 2^frac)``
    (64-bit product, arithmetic shift).  Anchoring each piece at its own knot
    keeps the slope's rounding error proportional to the piece's width, not to ``|x|``.
The check
    Every representable input in the domain is evaluated with exactly that
    integer arithmetic and compared with the target function in float64: the
    reported error is the true worst case of the table, rounding included.
    :func:`fixed_point_fit` refits with a tighter tolerance until it is within
    ``tol`` (the output's own rounding, ``2^-(frac+1)``, is the floor).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from relusum._io import atomic_write_text
from relusum.model import ReluSum

__all__ = ["FixedPointTable", "fixed_point_table", "fixed_point_fit", "parse_fixed_point"]


def parse_fixed_point(text: str) -> tuple[int, int]:
    """``"16,11"`` -> ``(16, 11)``: total bits (2..32) and fraction bits (0..total-2)."""
    parts = str(text).split(",")
    try:
        total, frac = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"--fixed-point must be TOTAL,FRAC such as 16,11; got {text!r}") from None
    if not 2 <= total <= 32 or not 0 <= frac <= total - 2:
        raise ValueError(
            f"fixed point needs 2 <= total bits <= 32 and 0 <= fraction bits <= total - 2; "
            f"got {total},{frac}"
        )
    return total, frac


@dataclass(frozen=True)
class FixedPointTable:
    """Integer table of a sum in ``Q(total, frac)`` and its exhaustively measured error."""

    total: int
    frac: int
    knots: np.ndarray  # int64, sorted
    slopes: np.ndarray  # int64, len(knots) + 1
    anchors: np.ndarray  # int64, len(knots) + 1: where each piece's value is given
    values: np.ndarray  # int64, len(knots) + 1: the rounded value at the anchor
    domain: tuple[float, float]
    max_error: float
    n_checked: int

    def evaluate_q(self, xq: np.ndarray) -> np.ndarray:
        """The table's integer outputs for integer inputs (exactly the C arithmetic)."""
        xq = np.asarray(xq, dtype=np.int64)
        k = np.searchsorted(self.knots, xq, side="right")
        half = (1 << (self.frac - 1)) if self.frac else 0
        prod = self.slopes[k] * (xq - self.anchors[k]) + half
        return (prod >> self.frac) + self.values[k]

    def inputs(self) -> np.ndarray:
        """Every representable input in the domain."""
        lo_int, hi_int = -(1 << (self.total - 1)), (1 << (self.total - 1)) - 1
        a = max(math.ceil(self.domain[0] * 2**self.frac), lo_int)
        b = min(math.floor(self.domain[1] * 2**self.frac), hi_int)
        return np.arange(a, b + 1, dtype=np.int64)

    def write_header(self, path: str | os.PathLike[str], name: str = "relusum") -> Path:
        """A C99 header with ``int32_t`` arrays and ``<name>_eval_q(int32_t x)``."""
        if not name.isidentifier():
            raise ValueError(f"name must be a C identifier, got {name!r}")
        guard = f"{name.upper()}_Q_H"

        def arr(v: np.ndarray) -> str:
            return "{" + ", ".join(str(int(t)) for t in v) + "}"

        n = self.knots.size
        knots_c = arr(self.knots) if n else "{0}"
        lines = [
            f"/* relusum fixed-point table Q{self.total}.{self.frac}: x and y are integers */",
            f"/* x_real = x / 2^{self.frac}; domain [{self.domain[0]!r}, {self.domain[1]!r}] */",
            f"/* max |error| over all {self.n_checked} inputs in the domain: {self.max_error!r} */",
            f"#ifndef {guard}",
            f"#define {guard}",
            "#include <stdint.h>",
            f"#define {name.upper()}_N {n}",
            f"#define {name.upper()}_FRAC_BITS {self.frac}",
            f"static const int32_t {name}_knots_q[{max(n, 1)}] = {knots_c};",
            f"static const int32_t {name}_slopes_q[{n + 1}] = {arr(self.slopes)};",
            f"static const int32_t {name}_anchors_q[{n + 1}] = {arr(self.anchors)};",
            f"static const int32_t {name}_values_q[{n + 1}] = {arr(self.values)};",
            f"static inline int32_t {name}_eval_q(int32_t x) {{",
            "    int lo = 0, hi = " + f"{name.upper()}_N;",
            "    while (lo < hi) { /* k = number of knots <= x */",
            "        int mid = (lo + hi) / 2;",
            f"        if ({name}_knots_q[mid] <= x) lo = mid + 1; else hi = mid;",
            "    }",
            f"    int64_t p = (int64_t){name}_slopes_q[lo] * ((int64_t)x - {name}_anchors_q[lo])"
            + (f" + ((int64_t)1 << {self.frac - 1})" if self.frac else "")
            + ";",
            f"    return (int32_t)((p >> {self.frac}) + {name}_values_q[lo]);",
            "}",
            "#endif",
            "",
        ]
        return atomic_write_text(path, "\n".join(lines))


def fixed_point_table(
    model: ReluSum,
    fn: Callable[[np.ndarray], np.ndarray],
    total: int,
    frac: int,
    domain: tuple[float, float] | None = None,
) -> FixedPointTable:
    """Quantise ``model`` to ``Q(total, frac)`` and measure it on every representable input.

    Examples
    --------
    >>> import numpy as np
    >>> import relusum
    >>> from relusum.fixedpoint import fixed_point_table
    >>> r = relusum.fit("tanh(x)", domain=(-4, 4), n_units=32, knots="optimal", loss="linf")
    >>> t = fixed_point_table(r.model, np.tanh, 16, 11)
    >>> t.n_checked, bool(t.max_error < 2e-3)
    (16385, True)
    """
    total, frac = parse_fixed_point(f"{total},{frac}")
    dom = domain if domain is not None else model.domain
    if dom is None:
        raise ValueError("a fixed-point table needs a domain")
    scale = 2.0**frac
    limit = 2 ** (total - 1)
    if max(abs(dom[0]), abs(dom[1])) * scale > 2**31:
        raise ValueError(f"the domain does not fit in Q{total}.{frac}")
    m = model.simplify()
    h = m.knots
    slopes = np.concatenate(([0.0], np.cumsum(m.weights)))
    kq = np.ceil(h * scale).astype(np.int64)
    anchors = np.concatenate((kq[:1], kq)) if kq.size else np.zeros(1, dtype=np.int64)
    vq = np.round(np.asarray(m(anchors / scale), dtype=float) * scale).astype(np.int64)
    vq[0] = round(m.bias * scale)  # left of the first knot: the bias (slope 0)
    sq = np.round(slopes * scale).astype(np.int64)
    if np.any(np.abs(sq) >= 2**31) or np.any(np.abs(vq) >= 2**31):
        raise ValueError(f"the slopes or values do not fit in 32-bit Q.{frac} integers")
    table = FixedPointTable(
        total, frac, kq, sq, anchors, vq, (float(dom[0]), float(dom[1])), 0.0, 0
    )
    xq = table.inputs()
    if xq.size == 0:
        raise ValueError(f"no representable Q{total}.{frac} input lies in the domain")
    yq = table.evaluate_q(xq)
    if np.any(np.abs(yq) >= limit):
        raise ValueError(f"outputs overflow Q{total}.{frac}; use more total bits")
    err = float(np.max(np.abs(yq / scale - fn(xq / scale))))
    return FixedPointTable(total, frac, kq, sq, anchors, vq, table.domain, err, int(xq.size))


def fixed_point_fit(
    fn: Callable[[np.ndarray], np.ndarray],
    domain: tuple[float, float],
    tol: float,
    total: int,
    frac: int,
    max_units: int = 1000,
) -> tuple[ReluSum, FixedPointTable]:
    """The fewest-unit optimal sum whose ``Q(total, frac)`` table is within ``tol`` everywhere.

    Refits with a tighter tolerance while rounding breaks ``tol``; raises
    ``ValueError`` when the format's resolution cannot reach it.
    """
    from relusum.fitting.api import fit

    floor = 2.0 ** -(frac + 1)
    if tol <= floor:
        raise ValueError(
            f"Q{total}.{frac} rounds outputs to {2.0**-frac:g}, so no table reaches a max error of "
            f"{tol:g}; use more fraction bits or a tolerance above {floor:g}"
        )
    fit_tol = tol
    for _ in range(12):
        r = fit(fn, domain=domain, knots="optimal", loss="linf", tol=fit_tol, max_units=max_units)
        t = fixed_point_table(r.model, fn, total, frac, domain)
        if t.max_error <= tol:
            return r.model, t
        fit_tol = max(fit_tol - (t.max_error - tol) - floor / 4, floor / 2)
        fit_tol = min(fit_tol, 0.8 * r.report.max_abs_error)
    raise ValueError(f"rounding to Q{total}.{frac} keeps the error above {tol:g}")
