"""Lookup tables of a :class:`~relusum.model.ReluSum`: CSV and a C header.

What a chip, an FHE circuit or a lookup needs is the piecewise-linear form:
the knots ``h_0 < ... < h_{m-1}`` (repeated knots merged, zero weights
dropped), the value ``v_k`` of the sum at each knot and the slope ``s_k`` to
its right.

Evaluation rule (both formats)
    ``f(x) = v_0`` for ``x < h_0`` (every ReLU is off: the bias);
    otherwise ``f(x) = v_k + s_k (x - h_k)`` with ``k`` the largest index
    such that ``h_k <= x`` (the last row continues to the right).
    A sum without knots is the constant ``bias``.

CSV layout
    A header ``knot,value,slope``, one row per knot, then two rows naming the
    domain ends ``domain_start`` and ``domain_end`` in the ``knot`` column
    (their value and slope follow the rule above, so a reader may treat them
    as informative).  Numbers are written with 17 significant digits, which
    round-trips doubles exactly.
C header
    ``static const double`` arrays ``relusum_knots``, ``relusum_values``,
    ``relusum_slopes``, the count ``RELUSUM_N``, the bias, the domain, and
    ``static inline double relusum_eval(double x)`` doing a binary search.
    The prefix ``relusum`` can be changed with ``name=``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from relusum._io import atomic_write_text
from relusum.model import ReluSum, weights_from_slopes

__all__ = ["table_rows", "write_table_csv", "write_table_header", "read_table_csv"]


def table_rows(model: ReluSum) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct knots with non-zero weight, the value at each and the slope right of it.

    Examples
    --------
    >>> from relusum import ReluSum
    >>> from relusum.table import table_rows
    >>> h, v, s = table_rows(ReluSum(1.0, [0.0, 1.0, 1.0], [2.0, -1.0, -1.0]))
    >>> h.tolist(), v.tolist(), s.tolist()
    ([0.0, 1.0], [1.0, 3.0], [2.0, 0.0])
    """
    if not isinstance(model, ReluSum):
        raise ValueError(f"a lookup table needs a ReluSum, got {type(model).__name__}")
    m = model.simplify()
    h = m.knots.copy()
    if h.size == 0:
        return h, h.copy(), h.copy()
    values = np.asarray(m(h), dtype=float)
    slopes = np.cumsum(m.weights)
    return h, values, slopes


def _num(v: float) -> str:
    return repr(float(v)) if abs(v) >= 1e-300 or v == 0 else f"{v:.17g}"


def write_table_csv(model: ReluSum, path: str | os.PathLike[str]) -> Path:
    """Write the lookup table as CSV (``knot,value,slope``), atomically.

    See the module docstring for the layout and the evaluation rule.

    Examples
    --------
    >>> import os, tempfile
    >>> from relusum import ReluSum
    >>> from relusum.table import write_table_csv
    >>> p = write_table_csv(ReluSum(0.0, [0.5], [2.0], (0.0, 1.0)),
    ...                     os.path.join(tempfile.mkdtemp(), "t.csv"))
    >>> print(p.read_text().strip())
    knot,value,slope
    0.5,0.0,2.0
    domain_start,0.0,0.0
    domain_end,1.0,2.0
    """
    h, v, s = table_rows(model)
    lines = ["knot,value,slope"]
    if h.size == 0:
        lines.append(f"-inf,{_num(model.bias)},0.0")
    for hk, vk, sk in zip(h, v, s):
        lines.append(f"{_num(hk)},{_num(vk)},{_num(sk)}")
    if model.domain is not None:
        for label, x in zip(("domain_start", "domain_end"), model.domain):
            lines.append(f"{label},{_num(model(x))},{_num(model.slope_at(x))}")
    return atomic_write_text(path, "\n".join(lines) + "\n")


def read_table_csv(path: str | os.PathLike[str]) -> ReluSum:
    """Read a table written by :func:`write_table_csv` back into a :class:`ReluSum`.

    Examples
    --------
    >>> import os, tempfile
    >>> from relusum import ReluSum
    >>> from relusum.table import read_table_csv, write_table_csv
    >>> s = ReluSum(1.0, [0.0, 2.0], [1.0, -3.0], (-1.0, 3.0))
    >>> p = write_table_csv(s, os.path.join(tempfile.mkdtemp(), "t.csv"))
    >>> read_table_csv(p).allclose(s)
    True
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read table {str(p)!r}: {exc.strerror}") from None
    rows = [r.split(",") for r in text.strip().splitlines()]
    if not rows or [c.strip() for c in rows[0]] != ["knot", "value", "slope"]:
        raise ValueError(f"{str(p)!r} is not a relusum table (header knot,value,slope)")
    knots, values, slopes, domain = [], [], [], {}
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != 3:
            raise ValueError(f"{str(p)!r} line {i}: expected 3 columns, got {len(row)}")
        key = row[0].strip()
        try:
            if key in ("domain_start", "domain_end"):
                domain[key] = None
                continue
            knots.append(float(key))
            values.append(float(row[1]))
            slopes.append(float(row[2]))
        except ValueError:
            raise ValueError(f"{str(p)!r} line {i}: not a number in {row}") from None
    if not knots:
        raise ValueError(f"{str(p)!r} has no rows")
    if knots[0] == float("-inf"):
        return ReluSum(values[0], [], [])
    h = np.array(knots)
    s = np.array(slopes)
    weights = weights_from_slopes(s)
    return ReluSum(values[0], h, weights)


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _c_array(values: np.ndarray) -> str:
    if values.size == 0:
        return "{0.0}"
    items = [f"{float(v):.17g}" for v in values]
    items = [t if any(c in t for c in ".eEn") else t + ".0" for t in items]
    body = ",\n    ".join(", ".join(items[i : i + 4]) for i in range(0, len(items), 4))
    return "{\n    " + body + "\n}"


def write_table_header(model: ReluSum, path: str | os.PathLike[str], name: str = "relusum") -> Path:
    """Write a C header with the table and ``static inline double <name>_eval(double x)``.

    The header needs only ``<stddef.h>``; evaluation is a binary search over
    the knots, ``O(log n)``.  Atomic.

    Examples
    --------
    >>> import os, tempfile
    >>> from relusum import ReluSum
    >>> from relusum.table import write_table_header
    >>> p = write_table_header(ReluSum(0.0, [0.0], [1.0]), os.path.join(tempfile.mkdtemp(), "r.h"))
    >>> "static inline double relusum_eval(double x)" in p.read_text()
    True
    """
    if not _IDENT.match(name):
        raise ValueError(f"name must be a C identifier, got {name!r}")
    h, v, s = table_rows(model)
    guard = f"{name.upper()}_TABLE_H"
    up = name.upper()
    dom = model.domain
    lines = [
        f"/* {name}: a weighted sum of shifted ReLUs as a lookup table (written by relusum).",
        " *",
        f" *   f(x) = {name}_values[0] (the bias) for x < {name}_knots[0];",
        f" *   f(x) = {name}_values[k] + {name}_slopes[k] * (x - {name}_knots[k]),",
        f" *          k the largest index with {name}_knots[k] <= x.",
        " */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "#include <stddef.h>",
        "",
        f"#define {up}_N {int(h.size)}",
        f"static const double {name}_bias = {float(model.bias):.17g};",
    ]
    if dom is not None:
        lines.append(f"static const double {name}_domain[2] = {{{dom[0]:.17g}, {dom[1]:.17g}}};")
    lines += [
        f"static const double {name}_knots[{max(h.size, 1)}] = {_c_array(h)};",
        f"static const double {name}_values[{max(h.size, 1)}] = {_c_array(v)};",
        f"static const double {name}_slopes[{max(h.size, 1)}] = {_c_array(s)};",
        "",
        f"static inline double {name}_eval(double x)",
        "{",
        f"    size_t lo = 0, hi = {up}_N;",
        f"    if ({up}_N == 0 || !(x >= {name}_knots[0])) {{",
        f"        return x != x ? x : {name}_bias;",
        "    }",
        f"    /* invariant: {name}_knots[lo] <= x, and x < {name}_knots[hi] when hi < N */",
        "    while (hi - lo > 1) {",
        "        size_t mid = lo + (hi - lo) / 2;",
        f"        if ({name}_knots[mid] <= x) lo = mid; else hi = mid;",
        "    }",
        f"    return {name}_values[lo] + {name}_slopes[lo] * (x - {name}_knots[lo]);",
        "}",
        "",
        f"#endif /* {guard} */",
        "",
    ]
    return atomic_write_text(path, "\n".join(lines))
