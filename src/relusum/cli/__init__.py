"""The ``relusum`` command line: parse, call the library, print.

Every subcommand lives in its own module exposing ``register(subparsers)``,
which adds a parser whose ``func(args) -> int`` runs it.  :func:`main` is the
one error boundary: a user error (``ValueError``, including formula errors,
and unreadable files) prints one line on stderr and returns 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from relusum._version import __version__

__all__ = ["main", "run", "UserError"]

#: Modules that define subcommands, in the order ``relusum --help`` lists them.
COMMAND_MODULES = (
    "relusum.cli.fit",
    "relusum.cli.model_cmds",
    "relusum.cli.explore",
    "relusum.cli.tour",
    "relusum.cli.net",
)

#: Short options that exist; any other token that starts with a single '-' is
#: a value (a negative number such as ``-pi`` or ``-1e-3``), not an option.
_SHORT_OPTIONS = {"-h", "-o"}


class UserError(ValueError):
    """A mistake in what the user asked for: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage block
        raise UserError(f"{self.prog}: {message} (see {self.prog} --help)")


def _protect_negative_values(argv: Sequence[str]) -> list[str]:
    out = []
    for tok in argv:
        if tok.startswith("-") and not tok.startswith("--") and tok not in _SHORT_OPTIONS \
                and len(tok) > 1:
            tok = " " + tok  # argparse takes a token starting with a space as a value
        out.append(tok)
    return out


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every registered subcommand."""
    parser = _Parser(
        prog="relusum",
        description="A ReLU network's output is a weighted sum of shifted ReLUs: "
        "fit, inspect, plot and export such sums.",
    )
    parser.add_argument("--version", action="version", version=f"relusum {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        args = parser.parse_args(_protect_negative_values(args_in))
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except BrokenPipeError:  # e.g. `relusum show m.json | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("relusum: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:
        msg = str(exc).strip().splitlines()
        text = " ".join(line.strip() for line in msg) or type(exc).__name__
        if isinstance(exc, OSError) and not isinstance(exc, UserError):
            text = f"{exc.strerror or type(exc).__name__}: {exc.filename or text}"
        if not text.startswith("relusum"):
            text = f"relusum: error: {text}"
        print(text, file=sys.stderr)
        return 2


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
