"""Run every benchmark script in this folder; each writes its table into docs/bench/.

Usage: ``python benchmarks/run_all.py [--quick] [--collect-only]``.  ``--quick`` is passed on
to each script; afterwards the tables are gathered into ``docs/benchmarks.md``
(``--collect-only`` only gathers the tables the scripts wrote last time).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent / "docs"


def _anchor(match: re.Match) -> str:
    """``](bench_x.md)`` -> ``](#title-of-bench-x)``: the section that page becomes."""
    page = DOCS / "bench" / match.group(1)
    if not page.exists():
        return match.group(0)
    title = page.read_text().splitlines()[0].lstrip("#").strip().lower()
    slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
    return f"](#{slug})"


def collect() -> Path:
    """Gather every ``docs/bench/*.md`` table (as the scripts wrote them) into one page."""
    parts = [
        "# Benchmarks",
        "",
        "Each section below is written by its script in `benchmarks/` (never by hand); "
        "`python benchmarks/run_all.py` reruns them all and rebuilds this page. Peers are "
        "measured in the same run and reported as ratios. Timings come from a shared 2-core "
        "machine, so absolute seconds are noisy; the ratios are what we track.",
        "",
    ]
    for table in sorted((DOCS / "bench").glob("bench_*.md")):
        text = table.read_text().strip()
        lines = text.splitlines()
        if lines and lines[0].startswith("# "):
            lines[0] = "#" + lines[0]  # demote to a section
        # a link to another bench page points at its section of this page
        lines = [re.sub(r"\]\((bench_\w+\.md)\)", _anchor, line) for line in lines]
        parts += [f"<!-- from docs/bench/{table.name} -->", *lines, ""]
    out = DOCS / "benchmarks.md"
    out.write_text("\n".join(parts))
    return out


def main() -> int:
    extra = [a for a in sys.argv[1:] if a == "--quick"]
    if "--collect-only" in sys.argv[1:]:
        print(f"wrote {collect()}")
        return 0
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        start = time.perf_counter()
        print(f"== {script.name}", flush=True)
        code = subprocess.call([sys.executable, str(script), *extra])
        print(f"== {script.name}: exit {code} in {time.perf_counter() - start:.0f} s", flush=True)
        if code:
            failed.append(script.name)
    print(f"wrote {collect()}")
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
