"""What the benchmarks share: the machine in words, and writing a report atomically.

Imported by the scripts beside it (run as ``python benchmarks/bench_x.py``, this
folder is first on ``sys.path``).
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import relusum
from relusum._io import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    """``2 CPU cores (x86_64), Python 3.11.7, relusum 0.1.0`` for the report's header."""
    cpu = platform.processor() or platform.machine()
    return (
        f"{os.cpu_count()} CPU cores ({cpu}), Python {platform.python_version()}, "
        f"relusum {relusum.__version__}"
    )


def write_report(out: Path, lines: list[str]) -> None:
    """Write the report's lines to ``out`` (folder created, atomically) and say so on stderr."""
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, "\n".join(lines))
    where = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"wrote {where}", file=sys.stderr)
