"""Pieces shared by several subcommands: domain arguments, output paths, progress."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from relusum._io import OutputPlan
from relusum.targets import parse_domain

__all__ = [
    "add_domain",
    "add_no_clobber",
    "domain_from",
    "check_output",
    "commit_outputs",
    "dump_json",
    "finite_payload",
    "positive_int",
    "positive_float",
]


def add_domain(parser: argparse.ArgumentParser, required: bool = False, help: str | None = None):
    parser.add_argument(
        "--domain",
        nargs=2,
        metavar=("A", "B"),
        required=required,
        help=help or "interval [A, B]; numbers or constant formulas such as -pi or 2*pi",
    )


def domain_from(args: argparse.Namespace) -> tuple[float, float] | None:
    if getattr(args, "domain", None) is None:
        return None
    return parse_domain([s.strip() for s in args.domain])


def positive_int(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {text.strip()!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive number, got {text.strip()!r}"
        ) from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {value}")
    return value


def check_output(path: str | os.PathLike[str], suffixes: tuple[str, ...], what: str) -> Path:
    """Check, before any work, that ``path`` can be written and has a known suffix."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise ValueError(f"{what} file {str(p)!r} must end in {', '.join(suffixes)}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"cannot write {str(p)!r}: folder {str(parent)!r} does not exist")
    if p.is_dir():
        raise ValueError(f"cannot write {str(p)!r}: it is a folder")
    return p


def add_no_clobber(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-clobber",
        action="store_true",
        help="refuse to replace existing output files (by default they are replaced, "
        "and each is named on stderr)",
    )


def commit_outputs(plan: OutputPlan) -> None:
    """Move every output of the command into place; name replaced files on stderr."""
    for path in plan.commit():
        print(f"relusum: overwrote {path}", file=sys.stderr)


#: Fields whose value must be a finite number: the model and its measured errors.  Any other
#: non-finite field (such as an unbounded error on the whole real line) is written as null.
FINITE_FIELDS = frozenset(
    {"bias", "knots", "weights", "domain", "rmse", "max_abs_error", "x", "y", "seconds"}
)


def dump_json(payload: Any) -> str:
    """Strict JSON (no NaN or Infinity).

    A non-finite model parameter or measured error is refused, naming its field
    (it means the values overflowed); any other non-finite field is written as
    ``null``, which strict parsers accept.
    """
    return json.dumps(finite_payload(payload), allow_nan=False)


def finite_payload(payload: Any) -> Any:
    """``payload`` with non-finite optional fields as None; see :func:`dump_json`."""
    return _finite(payload, "", None)


def _finite(obj: Any, path: str, key: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        if key in FINITE_FIELDS:
            raise ValueError(
                f"the result's {path} is {obj}, which JSON cannot hold (the values overflow "
                "double precision); nothing printed"
            )
        return None
    if isinstance(obj, dict):
        return {k: _finite(v, f"{path}.{k}".lstrip("."), k) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v, f"{path}[{i}]", key) for i, v in enumerate(obj)]
    return obj


def terms_table(s: Any) -> str:
    """A ReluSum's terms, one line each: knot, weight, the slope after the knot, the value there.

    Examples
    --------
    >>> from relusum import ReluSum
    >>> print(terms_table(ReluSum(1.0, [0.0, 2.0], [1.0, -1.0])))
        i          knot h_i        weight w_i       slope after            f(h_i)
        0                 0                 1                 1                 1
        1                 2                -1                 0                 3
    """
    lines = [f"{'i':>5}  {'knot h_i':>16}  {'weight w_i':>16}  {'slope after':>16}  {'f(h_i)':>16}"]
    slopes = s.slopes[1:]
    values = s(s.knots) if s.n_units else []
    for i in range(s.n_units):
        lines.append(
            f"{i:>5}  {s.knots[i]:>16.10g}  {s.weights[i]:>16.10g}  {slopes[i]:>16.10g}"
            f"  {values[i]:>16.10g}"
        )
    return "\n".join(lines)
