"""``relusum eval``: many points from stdin, a file or a CSV column; helpful messages."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from relusum import ReluSum
from relusum.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def model(tmp_path):
    s = ReluSum(bias=0.5, knots=[0.0, 1.0, 2.0], weights=[1.0, -3.0, 2.5], domain=(-1.0, 3.0))
    path = tmp_path / "model.json"
    s.save(path)
    return s, path


def _stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))


def test_stdin_reads_whitespace_and_newline_separated_values(capsys, monkeypatch, model):
    s, path = model
    xs = [0.25, -0.5, 1.5, 2.0, 2.75, 0.0, 1e-3]
    _stdin(monkeypatch, "0.25 -0.5\n1.5\t2.0\n\n  2.75\r\n0 1e-3")
    code, out, err = run(capsys, "eval", str(path), "-")
    assert code == 0 and err == ""
    assert [float(v) for v in out.split("\n") if v] == [float(s(x)) for x in xs]
    assert out.count("\n") == len(xs)  # one value per line


def test_stdin_through_a_real_pipe(model):
    s, path = model
    xs = np.linspace(-1, 3, 2001)
    text = "\n".join(repr(v) for v in xs.tolist())
    proc = subprocess.run(
        [sys.executable, "-m", "relusum", "eval", str(path), "-"],
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.array(proc.stdout.split(), dtype=float), s(xs))


def test_file_of_values_and_json(capsys, tmp_path, model):
    s, path = model
    xs = np.random.default_rng(0).uniform(-1, 3, 5000)
    f = tmp_path / "xs.txt"
    # Several values per line and blank lines: any whitespace separates.
    f.write_text(
        "\n".join(" ".join(repr(v) for v in row) for row in xs.reshape(-1, 5).tolist()) + "\n\n"
    )
    code, out, err = run(capsys, "eval", str(path), "--file", str(f))
    assert code == 0 and err == ""
    np.testing.assert_array_equal(np.array(out.split(), dtype=float), s(xs))

    code, out, err = run(capsys, "eval", str(path), "--file", str(f), "--json")
    assert code == 0 and err == ""
    d = json.loads(out)
    assert d["x"] == xs.tolist() and d["y"] == s(xs).tolist()
    assert d["n"] == 5000 and d["domain"] == [-1.0, 3.0] and d["outside_domain"] == 0


def test_csv_column_by_name_and_index_in_file_order(capsys, tmp_path, model):
    s, path = model
    f = tmp_path / "points.csv"
    f.write_text("value,time\n9,2.5\n8,-0.75\n7,1\n")
    for col in ("time", "1"):
        code, out, err = run(capsys, "eval", str(path), "--file", str(f), "--x", col)
        assert code == 0 and err == ""
        assert [float(v) for v in out.split()] == [float(s(x)) for x in (2.5, -0.75, 1.0)]
    code, _, err = run(capsys, "eval", str(path), "--file", str(f))
    assert code == 2 and "--x COL" in err
    code, _, err = run(capsys, "eval", str(path), "--file", str(f), "--x", "speed")
    assert code == 2 and "columns are: value, time" in err


def test_outside_the_domain_is_evaluated_with_one_notice(capsys, monkeypatch, model):
    s, path = model
    xs = [-5.0, 0.5, 10.0, 20.0]
    _stdin(monkeypatch, " ".join(map(str, xs)))
    code, out, err = run(capsys, "eval", str(path), "-")
    assert code == 0
    assert [float(v) for v in out.split()] == [float(s(x)) for x in xs]
    assert err.count("\n") == 1  # once, however many points are outside
    assert "3 points of 4" in err and "outside the model's domain [-1, 3]" in err
    # The sum continues: flat on the left, its last piece on the right.
    assert float(out.split()[0]) == s.bias
    assert float(out.split()[3]) == pytest.approx(s(3.0) + 17 * s.slopes[-1])

    code, out, err = run(capsys, "eval", str(path), "10", "--json")
    assert code == 0 and json.loads(out)["outside_domain"] == 1 and "1 point of 1" in err


@pytest.mark.parametrize("token", ["xs.txt", "data/xs", "points.csv"])
def test_a_file_name_as_a_point_gets_a_helpful_message(capsys, tmp_path, monkeypatch, model, token):
    _, path = model
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "eval", str(path), token)
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert f"--file {token}" in err and "standard input" in err
    assert "attribute access" not in err


@pytest.mark.parametrize(
    ("argv", "stdin", "match"),
    [
        (["-", "1"], "", "must be the only point"),
        (["--file", "nope.txt"], "", "cannot read 'nope.txt'"),
        (["-"], "1 2\nthree\n", "standard input line 2: 'three' is not a number"),
        (["-"], "1 nan", "'nan' is not finite"),
        (["-"], "  \n", "no points to evaluate"),
        ([], "", "give points to evaluate"),
        (["--x", "t"], "", "--x names a CSV column"),
        (["1", "--file", "x.txt"], "", "not both"),
        (["1e400"], "", "not finite"),
        (["pi/"], "", "point 'pi/'"),
    ],
)
def test_bad_points_are_one_line_exit_2(capsys, tmp_path, monkeypatch, model, argv, stdin, match):
    _, path = model
    monkeypatch.chdir(tmp_path)
    _stdin(monkeypatch, stdin)
    code, out, err = run(capsys, "eval", str(path), *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert match in err


def test_binary_input_is_refused_quickly(model):
    _, path = model
    # NUL bytes and no whitespace: refused after the first block, not after reading it all.
    proc = subprocess.run(
        [sys.executable, "-m", "relusum", "eval", str(path), "-"],
        input=b"\0" * (8 << 20),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().count("\n") == 1 and b"not a number" in proc.stderr


def test_command_line_points_still_accept_constant_formulas(capsys, model):
    s, path = model
    code, out, _ = run(capsys, "eval", str(path), "pi/4", "-0.25")
    assert code == 0
    assert [float(v) for v in out.split()] == [float(s(math.pi / 4)), float(s(-0.25))]
