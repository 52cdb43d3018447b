"""The ``relusum`` command line: parse, call the library, print.

Every subcommand lives in its own module exposing ``register(subparsers)``,
which adds a parser whose ``func(args) -> int`` runs it.  :func:`main` is the
one error boundary: a user error (``ValueError``, including formula errors,
and unreadable files) prints one line on stderr and returns 2; any other
exception is a bug, reported in one line ``internal error: ...; please report``
with status 1.  SIGTERM, like Ctrl-C, unwinds so that no temporary file is left.
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
    "relusum.cli.activations",
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
        if (
            tok.startswith("-")
            and not tok.startswith("--")
            and tok not in _SHORT_OPTIONS
            and len(tok) > 1
        ):
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


class _Terminated(BaseException):
    """SIGTERM, turned into an exception so that temporary files are cleaned up."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return " ".join(line.strip() for line in lines) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    The one error boundary: a user error is one line on stderr and status 2; a
    genuine bug is one line ``internal error: ...; please report`` and status 1;
    never a traceback.  Numpy's floating-point warnings never reach the terminal
    (overflow is checked and reported as an error where it matters).
    """
    import signal
    import threading
    import warnings

    args_in = list(sys.argv[1:] if argv is None else argv)
    restore = None
    if threading.current_thread() is threading.main_thread():
        restore = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return _main(args_in)
    finally:
        if restore is not None:
            signal.signal(signal.SIGTERM, restore)


def _main(args_in: list[str]) -> int:
    try:
        import numpy as np

        with np.errstate(all="ignore"):
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
    except _Terminated:
        print("relusum: terminated", file=sys.stderr)
        return 143
    except (ValueError, OSError) as exc:
        text = _one_line(exc)
        if isinstance(exc, OSError) and not isinstance(exc, UserError):
            text = f"{exc.strerror or type(exc).__name__}: {exc.filename or text}"
        if not text.startswith("relusum"):
            text = f"relusum: error: {text}"
        print(text, file=sys.stderr)
        return 2
    except OverflowError as exc:
        print(
            f"relusum: error: a value overflows double precision ({_one_line(exc)})",
            file=sys.stderr,
        )
        return 2
    except RecursionError:
        print("relusum: error: the input is nested too deeply", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            "relusum: error: not enough memory for this problem; make it smaller", file=sys.stderr
        )
        return 2
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback
        where = ""
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is not None:
            code = tb.tb_frame.f_code
            where = f" in {code.co_name} ({code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno})"
        print(
            f"relusum: internal error: {type(exc).__name__}: {_one_line(exc)}{where}; "
            f"please report it with the command line (relusum {__version__})",
            file=sys.stderr,
        )
        return 1


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
