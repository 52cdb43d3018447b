"""Every README code block runs as written.

What is run, found by parsing README.md (so a block added later is covered without touching this
file):

* every fenced ``python`` block, each on its own in a fresh interpreter and an empty folder, after
  a small preamble that defines only what the README says the reader brings (:data:`READER_BRINGS`:
  ``x_data``/``y_data``, "your data", and ``my_relu_net``, "your own network"). A name is defined
  only if the block uses it, and the README must say it is the reader's;
* every line of the fenced shell blocks of the section "The command line", in order, with ``bash``
  in one temporary folder (later lines use what earlier ones wrote: ``model.json``, ``model.pt``),
  with ``relusum`` on the PATH running the package under test. The folder holds what the text
  says the reader has: ``points.csv`` with columns ``time`` and ``value``. Every file a line names
  after ``--save``, ``--plot``, ``--export`` or ``--out`` must exist afterwards.

Long-running commands: ``relusum explore`` serves until stopped ("Ctrl+C stops it", says the
README). It is started as written, the test waits for the URL it prints, fetches the page (status
200), then sends SIGINT (Ctrl+C) and expects it to exit cleanly within 20 s. Its default port is
fixed (8765); when another process already holds that port here, ``--port 0`` is added, because
a busy port is a property of this machine, not of the README.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import relusum

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SRC = Path(relusum.__file__).resolve().parents[1]  # the package under test
SHELL_SECTION = "The command line"
SHELL_LANGS = ("bash", "sh", "shell", "console")
TIMEOUT = 600  # seconds per block or line (a loaded 2-core machine is slow)
#: Commands that run until stopped, and how the test stops them.
SERVERS = ("explore",)
DEFAULT_EXPLORE_PORT = 8765
OUTPUT_OPTIONS = ("--save", "--plot", "--export", "--out")

#: What the README says the reader brings, defined for a block only when the block uses the name.
READER_BRINGS = {
    "x_data": """
def _reader_data():
    import numpy
    rng = numpy.random.default_rng(0)
    x = rng.uniform(0.0, 10.0, 300)
    return x, numpy.sin(x) + 0.05 * rng.standard_normal(x.size)
x_data, y_data = _reader_data()
del _reader_data
""",
    "my_relu_net": """
def _reader_net():
    import torch
    torch.manual_seed(0)
    L, R = torch.nn.Linear, torch.nn.ReLU
    return torch.nn.Sequential(L(1, 8), R(), L(8, 8), R(), L(8, 1))
my_relu_net = _reader_net()
del _reader_net
""",
}
#: Names each preamble entry defines (``x_data`` also gives ``y_data``).
DEFINES = {"x_data": ("x_data", "y_data"), "my_relu_net": ("my_relu_net",)}


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int  # 1-based line of the opening fence
    section: str  # the "## " heading above it


def readme_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, with their language and section."""
    blocks, section = [], ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        m = re.match(r"^```\s*([\w+-]*)\s*$", line)
        if m:
            start = i
            i += 1
            body = []
            while i < len(lines) and not re.match(r"^```\s*$", lines[i]):
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise ValueError(f"README.md line {start + 1}: code block is not closed")
            blocks.append(Block(m.group(1).lower(), "\n".join(body) + "\n", start + 1, section))
        i += 1
    return blocks


def shell_lines(block: Block) -> list[tuple[int, str]]:
    """Commands of a shell block: comments and blank lines dropped, ``\\`` continuations joined."""
    out, pending, first = [], "", 0
    for k, raw in enumerate(block.code.splitlines()):
        line = raw.rstrip()
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if not pending:
            first = block.line + 1 + k
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append((first, (pending + line).strip()))
        pending = ""
    return out


TEXT = README.read_text(encoding="utf-8")
BLOCKS = readme_blocks(TEXT)
PYTHON_BLOCKS = [b for b in BLOCKS if b.lang == "python"]
SHELL_BLOCKS = [b for b in BLOCKS if b.lang in SHELL_LANGS and b.section == SHELL_SECTION]
SHELL_LINES = [cmd for b in SHELL_BLOCKS for cmd in shell_lines(b)]


def test_the_readme_has_the_blocks_this_test_runs():
    assert len(PYTHON_BLOCKS) >= 2
    assert len(SHELL_LINES) >= 10
    # Every command of "The command line" is a relusum command (or feeds one through a pipe),
    # except a `python -c` line that makes a stand-in input file a later relusum command reads.
    for k, (_, cmd) in enumerate(SHELL_LINES):
        if re.search(r"(^|\|\s*)relusum ", cmd):
            continue
        assert cmd.startswith("python -c "), cmd
        made = re.findall(r"'([\w.-]+\.\w+)'", cmd)
        later = " ".join(c for _, c in SHELL_LINES[k + 1 :] if re.match(r"relusum ", c))
        assert made and all(re.search(rf"(^|\s){re.escape(f)}(\s|$)", later) for f in made), cmd


def _uses(code: str, name: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", code) is not None


def _said_to_be_the_readers(name: str) -> bool:
    """The README says the reader brings ``name``: in the prose, or "your" beside it in code."""
    outside = re.sub(r"```.*?```", "", TEXT, flags=re.S)
    if re.search(rf"`{re.escape(name)}`[^.]*\byour\b", outside):
        return True
    return any(
        _uses(line, name) and re.search(r"#.*\byour\b", line)
        for b in PYTHON_BLOCKS
        for line in b.code.splitlines()
    )


def _env(extra_path: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    env["MPLBACKEND"] = "Agg"
    if extra_path is not None:
        env["PATH"] = f"{extra_path}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda b: f"line{b.line}")
def test_python_block_runs_as_written(block, tmp_path):
    preamble = []
    for name, code in READER_BRINGS.items():
        if any(_uses(block.code, n) for n in DEFINES[name]):
            assert _said_to_be_the_readers(name), (
                f"README.md line {block.line}: the block uses {name!r}; say that it is the "
                "reader's (e.g. '`name` stands for your ...') or define it in the block"
            )
            preamble.append(code)
    script = tmp_path / f"readme_line{block.line}.py"
    script.write_text("".join(preamble) + "\n" + block.code, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, script.name],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, (
        f"README.md python block at line {block.line} failed:\n{proc.stderr[-3000:]}"
    )


def _write_reader_files(folder: Path) -> None:
    """What the text says the reader has: points.csv with columns time and value."""
    rng = np.random.default_rng(1)
    t = np.round(rng.uniform(0.0, 10.0, 120), 2)
    t[:10] = t[10:20]  # repeated x, any order: "it is regression"
    v = np.sin(t) + 0.05 * rng.standard_normal(t.size)
    rows = "".join(f"{a:.2f},{b:.6f}\n" for a, b in zip(t, v))
    (folder / "points.csv").write_text("time,value\n" + rows, encoding="utf-8")


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _serve_and_stop(cmd: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """Start a server line, fetch the page it prints, stop it with Ctrl+C (SIGINT)."""
    if "--port" not in cmd and not _port_is_free(DEFAULT_EXPLORE_PORT):
        cmd += " --port 0"  # documented above: the default port is busy on this machine
    proc = subprocess.Popen(
        ["bash", "-c", f"exec {cmd}"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()  # blocks until the URL is printed (or the process ends)
        m = re.search(r"http://127\.0\.0\.1:\d+/?", first)
        if not m:
            proc.kill()
            out, err = proc.communicate(timeout=30)
            return 1, first + out, f"no URL printed: {err[-2000:]}"
        with urllib.request.urlopen(m.group(0), timeout=60) as resp:
            status = resp.status
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        rc = 0 if status == 200 and proc.returncode in (0, 130, -signal.SIGINT) else 1
        return rc, first + out, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.fixture(scope="module")
def shell_results(tmp_path_factory) -> dict[int, tuple[str, int, str, str, Path]]:
    """Run every shell line of "The command line" in order, in one folder; keep each outcome."""
    folder = tmp_path_factory.mktemp("readme_cli")
    bindir = tmp_path_factory.mktemp("readme_bin")
    shim = bindir / "relusum"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m relusum "$@"\n')
    shim.chmod(0o755)
    env = _env(bindir)
    _write_reader_files(folder)
    results = {}
    for line, cmd in SHELL_LINES:
        words = shlex.split(cmd, comments=True)
        start = time.perf_counter()
        if len(words) >= 2 and words[0] == "relusum" and words[1] in SERVERS:
            rc, out, err = _serve_and_stop(" ".join(shlex.quote(w) for w in words), folder, env)
        else:
            proc = subprocess.run(
                ["bash", "-o", "pipefail", "-c", cmd],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
            )
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        results[line] = (cmd, rc, out, err, folder)
        print(f"README line {line}: {time.perf_counter() - start:.1f} s: {cmd}")
    return results


@pytest.mark.parametrize("line", [n for n, _ in SHELL_LINES], ids=lambda n: f"line{n}")
def test_command_line_runs_as_written(shell_results, line):
    cmd, rc, out, err, folder = shell_results[line]
    assert rc == 0, f"README.md line {line}: `{cmd}` exited {rc}:\n{err[-3000:]}"
    assert "Traceback" not in err
    words = shlex.split(cmd, comments=True)
    for opt, value in zip(words, words[1:]):
        if opt in OUTPUT_OPTIONS:
            assert (folder / value).exists(), f"README.md line {line}: `{cmd}` wrote no {value}"
