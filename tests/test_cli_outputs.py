"""All-or-nothing outputs, strict JSON, one line per error (issues 16.1, 16.2, 9.10)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from relusum.cli import main

SRC = str(Path(__file__).resolve().parents[1] / "src")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def strict_json(text: str):
    def refuse(name):
        raise AssertionError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


# --------------------------------------------------------------- 16.1 outputs
@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ("/proc/t.csv", "'/proc/t.csv'"),
        ("missing/t.csv", "'missing/t.csv'"),
        ("afolder.csv", "'afolder.csv': it is a folder"),
    ],
)
def test_an_unwritable_destination_leaves_every_file_alone(
    capsys, tmp_path, monkeypatch, bad, named
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afolder.csv").mkdir()
    keep = tmp_path / "keep.json"
    keep.write_text("PRECIOUS\n")
    code, out, err = run(capsys, "fit", "sin(x)", "--domain", 0, 1, "--save", keep, "--export", bad)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and named in err and ".t.csv." not in err
    assert keep.read_text() == "PRECIOUS\n"
    assert leftovers(tmp_path) == []


def test_a_writer_failing_late_writes_nothing(capsys, tmp_path, monkeypatch):
    import relusum.plot

    def broken(fig, path):
        Path(path).write_text("half a picture")
        raise ValueError("the plot writer failed")

    monkeypatch.setattr(relusum.plot, "save_figure", broken)
    keep = tmp_path / "keep.json"
    keep.write_text("PRECIOUS\n")
    code, _, err = run(
        capsys,
        "fit",
        "sin(x)",
        "--domain",
        0,
        1,
        "--save",
        keep,
        "--export",
        tmp_path / "t.csv",
        "--plot",
        tmp_path / "p.png",
    )
    assert code == 2 and "the plot writer failed" in err
    assert keep.read_text() == "PRECIOUS\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.json"]


def test_overwrite_is_said_and_no_clobber_refuses(capsys, tmp_path):
    keep = tmp_path / "keep.json"
    keep.write_text("PRECIOUS\n")
    code, _, err = run(capsys, "fit", "sin(x)", "--domain", 0, 1, "--save", keep, "--no-clobber")
    assert code == 2 and "exists" in err and "--no-clobber" in err
    assert keep.read_text() == "PRECIOUS\n" and leftovers(tmp_path) == []
    code, _, err = run(
        capsys, "fit", "sin(x)", "--domain", 0, 1, "--save", keep, "--export", tmp_path / "new.csv"
    )
    assert code == 0
    assert err == f"relusum: overwrote {keep}\n"  # the new file is not mentioned
    assert json.loads(keep.read_text())["format"] == "relusum/1"
    assert (tmp_path / "new.csv").exists() and leftovers(tmp_path) == []


SLOW_FIT = textwrap.dedent(
    """
    import signal, sys, time
    # as from a shell: Ctrl-C raises KeyboardInterrupt, whatever disposition the test runner's
    # process passed down (a SIGINT ignored there would be ignored here too)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import relusum, relusum.fitting.api as api
    real = relusum.fit
    def slow(*a, **k):
        print("fitting", flush=True)
        time.sleep(30)
        return real(*a, **k)
    relusum.fit = slow
    from relusum.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_leaves_no_temporary_file(tmp_path, sig):
    keep = tmp_path / "keep.json"
    keep.write_text("PRECIOUS\n")
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SLOW_FIT,
            "fit",
            "sin(x)",
            "--domain",
            "0",
            "1",
            "--save",
            str(keep),
            "--plot",
            str(tmp_path / "p.png"),
            "--export",
            str(tmp_path / "t.csv"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.stdout.readline() == "fitting\n"
    assert len(leftovers(tmp_path)) == 3  # the reserved temporary files exist now
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == (143 if sig == signal.SIGTERM else 130)
    assert err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.json"]
    assert keep.read_text() == "PRECIOUS\n"


# ----------------------------------------------------------- 16.2 finite JSON
def test_every_json_output_is_strict(capsys, tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("x,y\n" + "".join(f"{i / 10},{(i / 10) ** 2}\n" for i in range(40)))
    model = tmp_path / "m.json"
    outputs = []
    for argv in (
        ["fit", "sin(x)", "--domain", 0, 1, "--units", 4, "--json", "--save", model],
        ["fit", "sin(x)", "--domain", 0, 1, "--tol", 1e-3, "--json"],
        ["fit", "gelu(x)", "--domain", -3, 3, "--units", 4, "--knots", "optimal", "--json"],
        ["fit", "--data", data, "--units", 3, "--loss", "linf", "--json"],
        ["eval", model, 0.5, "--json"],
    ):
        code, out, err = run(capsys, *argv)
        assert code == 0, (argv, err)
        outputs.append(strict_json(out))
    strict_json(model.read_text())
    assert all(isinstance(o, dict) for o in outputs)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["fit", "1e200*x", "--domain", -1, 1, "--units", 4, "--json"], "overflow double"),
        (["fit", "1e308*sin(x)", "--domain", 0, 1], "overflow double"),
        (["fit", "sin(x)", "--domain", "-1e308", "1e308"], "overflow double"),
    ],
)
def test_overflow_is_named_in_one_line_without_warnings(argv, words, tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "relusum", *map(str, argv), "--save", str(tmp_path / "m.json")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and words in r.stderr, r.stderr
    assert "Warning" not in r.stderr and "Infinity" not in r.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("column", ["x", "y"])
def test_data_beyond_double_range_is_refused(capsys, tmp_path, column):
    p = tmp_path / "d.csv"
    rows = [(0.0, 1.0), (1.0, 2.0), (2.0, 0.5)]
    rows[1] = (1e308, 2.0) if column == "x" else (1.0, -1e308)
    p.write_text("".join(f"{a!r},{b!r}\n" for a, b in rows))
    code, out, err = run(capsys, "fit", "--data", p, "--units", 1, "--json")
    assert code == 2 and out == "" and f"data {column} reaches" in err
    assert "overflow double precision" in err and "bias must be finite" not in err


# ----------------------------------------------------------- 9.10 no traceback
def test_a_genuine_bug_is_one_line_and_exit_1(capsys, monkeypatch):
    import relusum

    def buggy(*args, **kwargs):
        return {}["no such key"]

    monkeypatch.setattr(relusum, "fit", buggy)
    code, out, err = run(capsys, "fit", "sin(x)", "--domain", 0, 1)
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("relusum: internal error: KeyError:") and "please report" in err


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"bias": 1' + "0" * 400 + ', "knots": [], "weights": []}', "not representable"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"format": "relusum/999", "bias": 0, "knots": [], "weights": []}', "reads relusum/1"),
        ('{"bias": true, "knots": [], "weights": []}', "bias must be a real number"),
    ],
)
def test_hostile_model_files_are_one_line(capsys, tmp_path, content, words):
    p = tmp_path / "m.json"
    p.write_text(content)
    for cmd in (["eval", p, 0], ["show", p]):
        code, out, err = run(capsys, *cmd)
        assert code == 2 and out == "" and err.count("\n") == 1 and words in err


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_as_model_or_data_are_refused_quickly(device):
    if not os.path.exists(device):
        pytest.fail(f"{device} is missing")
    env = {**os.environ, "PYTHONPATH": SRC}
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 31, 1 << 31)); "
    for argv in (["eval", device, "1"], ["fit", "--data", device]):
        start = time.perf_counter()
        r = subprocess.run(
            [
                sys.executable,
                "-c",
                limit + "import sys; from relusum.cli import main; sys.exit(main(sys.argv[1:]))",
                *argv,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
        assert "memory" not in r.stderr and device in r.stderr
        assert time.perf_counter() - start < 20


def test_huge_unit_counts_are_refused_before_allocating():
    env = {**os.environ, "PYTHONPATH": SRC}
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
    for units in ("100000000", "1000000000"):
        r = subprocess.run(
            [
                sys.executable,
                "-c",
                limit + "import sys; from relusum.cli import main; sys.exit(main(sys.argv[1:]))",
                "fit",
                "sin(x)",
                "--domain",
                "0",
                "1",
                "--units",
                units,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
        assert "use at most 1,999 units" in r.stderr


def test_a_non_finite_result_is_refused_naming_its_field():
    from relusum.cli._common import dump_json

    assert strict_json(dump_json({"a": [1.0, {"b": 2.0}]})) == {"a": [1.0, {"b": 2.0}]}
    with pytest.raises(ValueError, match=r"the result's report\.rmse is inf"):
        dump_json({"ok": 1.0, "report": {"rmse": float("inf")}})
    with pytest.raises(ValueError, match=r"the result's knots\[1\] is nan"):
        dump_json({"knots": [0.0, float("nan")]})
    # A field that may honestly be unbounded (the error on the whole real line) is null.
    doc = strict_json(dump_json({"rmse": 0.5, "max_error_everywhere": float("inf")}))
    assert doc == {"rmse": 0.5, "max_error_everywhere": None}
