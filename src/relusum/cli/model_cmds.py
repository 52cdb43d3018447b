"""``relusum eval`` and ``relusum show``: use a saved model."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sys
from collections.abc import Iterator
from typing import IO

import numpy as np

from relusum._text import plural
from relusum.cli._common import terms_table

EVAL_EXAMPLES = """examples:
  relusum eval model.json 0.1 -0.2 pi/4         # values on the command line
  seq 0 0.5 3 | relusum eval model.json -       # whitespace-separated values on stdin
  relusum eval model.json --file xs.txt         # a file of values (any whitespace)
  relusum eval model.json --file points.csv --x time --json
"""

#: Most values ``relusum eval`` reads (8 bytes each are kept until they are printed).
MAX_VALUES = 50_000_000
#: Longest token that can still be a number; longer ones mean the input is not a list of numbers.
_MAX_TOKEN = 200
_CHUNK = 1 << 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate a saved model at points, one value per line",
        description="Print f(x) for each x, one value per line (or one JSON object). The x "
        "values come from the command line, from standard input ('-'), or from a file "
        "(--file: numbers separated by any whitespace, or a CSV column with --x). A value "
        "outside the model's domain is evaluated too (the sum is defined everywhere), with "
        "one notice on stderr.",
        epilog=EVAL_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="a model JSON file (from relusum fit --save)")
    p.add_argument(
        "x",
        nargs="*",
        help="points: numbers or constant formulas such as -pi/2; '-' reads standard input",
    )
    p.add_argument(
        "--file",
        metavar="FILE",
        help="read the points from FILE: numbers separated by spaces or newlines, "
        "or a CSV column with --x",
    )
    p.add_argument(
        "--x",
        dest="x_col",
        metavar="COL",
        help="read FILE as CSV and take this column: header name or 0-based index",
    )
    p.add_argument(
        "--json", action="store_true", help='print one JSON object {"x": [...], "y": [...]}'
    )
    p.set_defaults(func=run_eval)

    p = sub.add_parser(
        "show",
        help="print a saved model as a table of knots, weights and slopes",
        description="Print a model's bias, domain and a table of its units.",
    )
    p.add_argument("model", help="a model JSON file")
    p.set_defaults(func=run_show)


def _looks_like_path(token: str) -> bool:
    """A file that exists, a name with a letter extension, or a folder/name path."""
    if os.path.exists(token):
        return True
    stem, dot, ext = token.rpartition(".")
    if dot and stem and ext.isalpha() and len(ext) <= 6:
        return True
    parts = re.split(r"[/\\]", token)
    return (
        len(parts) > 1
        and all(re.fullmatch(r"[\w.~-]+", part) for part in parts)
        and re.fullmatch(r"[a-zA-Z_][\w.-]+", parts[-1]) is not None
    )


def _command_line_values(tokens: list[str]) -> np.ndarray:
    from relusum.formula import evaluate_constant

    out = []
    for tok in tokens:
        t = tok.strip()
        if t == "-":
            raise ValueError(
                "'-' reads the points from standard input and must be the only point given"
            )
        try:
            out.append(float(t))
        except ValueError:
            pass
        else:
            if not np.isfinite(out[-1]):
                raise ValueError(f"point {t!r} is not finite")
            continue
        try:
            out.append(evaluate_constant(t))
        except ValueError as exc:
            if _looks_like_path(t):
                raise ValueError(
                    f"{t!r} is not a number; to read the points from a file use "
                    f"--file {t} (add --x COL for a CSV column), or '-' for standard input"
                ) from None
            raise ValueError(f"point {t!r}: {exc}") from None
    return np.array(out, dtype=float)


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while True:
        block = stream.read(_CHUNK)
        if not block:
            return
        yield block


def _parse_tokens(text: bytes, where: str, first_line: int) -> np.ndarray:
    """Parse whitespace-separated numbers; name the line of the first bad token."""
    tokens = text.split()
    if not tokens:
        return np.empty(0)
    try:
        values = np.array(tokens, dtype=float)
    except ValueError:
        values = None
    if values is not None and np.all(np.isfinite(values)):
        return values
    for k, line in enumerate(text.split(b"\n")):
        for tok in line.split():
            try:
                v = float(tok)
            except ValueError:
                v = None
            if v is None or not np.isfinite(v):
                shown = tok[:40].decode("utf-8", "replace")
                what = "is not finite" if v is not None else "is not a number"
                raise ValueError(f"{where} line {first_line + k}: {shown!r} {what}")
    raise AssertionError("unreachable: a bad token was not found")  # pragma: no cover


def read_whitespace_values(stream: IO[bytes], where: str) -> np.ndarray:
    """Every number in ``stream`` (separated by any whitespace), read in blocks.

    Examples
    --------
    >>> import io
    >>> from relusum.cli.model_cmds import read_whitespace_values
    >>> read_whitespace_values(io.BytesIO(b"1 2.5\\n-3e-1\\n\\n4"), "stdin").tolist()
    [1.0, 2.5, -0.3, 4.0]
    """
    parts: list[np.ndarray] = []
    total = 0
    line = 1
    carry = b""
    for block in _chunks(stream):
        data = carry + block
        cut = max(data.rfind(b"\n"), data.rfind(b" "), data.rfind(b"\t"), data.rfind(b"\r"))
        if cut < 0:
            carry = data
        else:
            carry = data[cut + 1 :]
            head = data[: cut + 1]
            vals = _parse_tokens(head, where, line)
            line += head.count(b"\n")
            parts.append(vals)
            total += vals.size
        if len(carry) > _MAX_TOKEN:
            shown = carry[:40].decode("utf-8", "replace")
            raise ValueError(
                f"{where} line {line}: {shown!r}... is not a number "
                "(expected numbers separated by spaces or newlines)"
            )
        if total > MAX_VALUES:
            raise ValueError(f"{where} holds more than {MAX_VALUES:,} points; split it")
    if carry:
        parts.append(_parse_tokens(carry, where, line))
    return np.concatenate(parts) if parts else np.empty(0)


def read_csv_column(path: str, col: str) -> np.ndarray:
    """The column ``col`` (header name or 0-based index) of a CSV file, in file order."""
    try:
        fh = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ValueError(f"cannot read CSV file {path!r}: {exc.strerror}") from None
    values: list[float] = []
    with fh:
        rows = (r for r in csv.reader(fh) if r and any(c.strip() for c in r))
        try:
            first = next(rows, None)
            if first is None:
                raise ValueError(f"CSV file {path!r} is empty")
            header = None
            try:
                [float(c) for c in first]
            except ValueError:
                header = [c.strip() for c in first]
            spec = col.strip()
            if spec.lstrip("-").isdigit() and (header is None or spec not in header):
                idx = int(spec)
                ncol = len(first)
                if not 0 <= idx < ncol:
                    raise ValueError(
                        f"--x column {idx} does not exist in {path!r} "
                        f"(it has {ncol} columns, numbered from 0)"
                    )
            elif header is None:
                raise ValueError(
                    f"{path!r} has no header row, so column {spec!r} cannot be found; "
                    "use a column number"
                )
            elif spec not in header:
                raise ValueError(
                    f"no column {spec!r} in {path!r}; columns are: {', '.join(header)}"
                )
            else:
                idx = header.index(spec)
            lineno = 1
            if header is None:
                rows = _prepend(first, rows)
                lineno = 0
            for row in rows:
                lineno += 1
                try:
                    v = float(row[idx])
                except (IndexError, ValueError):
                    raise ValueError(
                        f"{path!r} row {lineno}: cannot read a number in column {idx}: {row[:8]}"
                    ) from None
                if not np.isfinite(v):
                    raise ValueError(f"{path!r} row {lineno}: {row[idx]!r} is not finite")
                values.append(v)
                if len(values) > MAX_VALUES:
                    raise ValueError(f"{path!r} holds more than {MAX_VALUES:,} points; split it")
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ValueError(f"{path!r} is not a readable CSV file: {exc}") from None
    return np.array(values, dtype=float)


def _prepend(first, rows):
    yield first
    yield from rows


def _points(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    tokens = [t.strip() for t in args.x]
    if args.file is not None:
        if tokens:
            raise ValueError("give the points either on the command line or with --file, not both")
        if args.x_col is not None or args.file.lower().endswith(".csv"):
            if args.x_col is None:
                raise ValueError(f"{args.file!r} is a CSV file: name its x column with --x COL")
            return read_csv_column(args.file, args.x_col), args.file
        try:
            fh = open(args.file, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ValueError(f"cannot read {args.file!r}: {exc.strerror}") from None
        with fh:
            return read_whitespace_values(fh, repr(args.file)), args.file
    if args.x_col is not None:
        raise ValueError("--x names a CSV column and needs --file FILE.csv")
    if tokens == ["-"]:
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:  # a text stream (e.g. replaced in tests)
            stream = io.BytesIO(sys.stdin.read().encode("utf-8"))
        return read_whitespace_values(stream, "standard input"), "standard input"
    if not tokens:
        raise ValueError("give points to evaluate: numbers, '-' for standard input, or --file FILE")
    return _command_line_values(tokens), "the command line"


def _fmt(v: float) -> str:
    return f"{v:.10g}"


def run_eval(args: argparse.Namespace) -> int:
    from relusum.model import ReluSum

    model = ReluSum.load(args.model)
    xs, source = _points(args)
    if xs.size == 0:
        raise ValueError(f"no points to evaluate in {source}")
    ys = model(xs)
    outside = 0
    if model.domain is not None:
        a, b = model.domain
        out_mask = (xs < a) | (xs > b)
        outside = int(np.count_nonzero(out_mask))
        if outside:
            k = int(np.flatnonzero(out_mask)[0])
            print(
                f"relusum: note: {plural(outside, 'point')} of {xs.size:,} "
                f"(the first x = {_fmt(xs[k])}) "
                f"{'lies' if outside == 1 else 'lie'} outside the model's domain "
                f"[{_fmt(a)}, {_fmt(b)}]; evaluated anyway (the sum is flat left of its first "
                "knot and straight right of its last)",
                file=sys.stderr,
            )
    if not np.all(np.isfinite(ys)):
        k = int(np.flatnonzero(~np.isfinite(ys))[0])
        raise ValueError(f"f({_fmt(xs[k])}) overflows to {ys[k]}: the point is too large")
    if args.json:
        payload = {
            "x": xs.tolist(),
            "y": ys.tolist(),
            "n": int(xs.size),
            "domain": None if model.domain is None else list(model.domain),
            "outside_domain": outside,
        }
        sys.stdout.write(json.dumps(payload, allow_nan=False) + "\n")
        return 0
    write = sys.stdout.write
    step = 100_000
    for i in range(0, ys.size, step):
        write("\n".join(map(repr, ys[i : i + step].tolist())) + "\n")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from relusum.model import ReluSum

    s = ReluSum.load(args.model)
    dom = "none" if s.domain is None else f"[{s.domain[0]:.10g}, {s.domain[1]:.10g}]"
    print("f(x) = bias + sum_i w_i * max(0, x - h_i)")
    print(
        f"bias {s.bias:.10g}; domain {dom}; {plural(s.n_units, 'unit')}; "
        f"{plural(s.n_pieces, 'linear piece')}"
    )
    print(terms_table(s))
    return 0
