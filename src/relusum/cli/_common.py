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


def dump_json(payload: Any) -> str:
    """Strict JSON (no NaN or Infinity): a non-finite number is refused, naming its field."""
    try:
        return json.dumps(payload, allow_nan=False)
    except ValueError:
        where, value = _first_non_finite(payload, "")
        raise ValueError(
            f"the result's {where or 'value'} is {value}, which JSON cannot hold (the values "
            "overflow double precision); nothing printed"
        ) from None


def _first_non_finite(obj: Any, path: str) -> tuple[str, Any]:
    if isinstance(obj, float) and not math.isfinite(obj):
        return path, obj
    items = (
        obj.items()
        if isinstance(obj, dict)
        else enumerate(obj)
        if isinstance(obj, (list, tuple))
        else ()
    )
    for key, value in items:
        sub = f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]"
        found = _first_non_finite(value, sub.lstrip("."))
        if found[0]:
            return found
    return "", None
