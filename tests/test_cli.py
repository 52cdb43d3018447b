"""The command line: fit, eval, show, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from relusum import ReluSum
from relusum.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


REQUIRED = (
    "format",
    "bias",
    "knots",
    "weights",
    "domain",
    "n_units",
    "n_pieces",
    "rmse",
    "max_abs_error",
    "error_on",
    "seconds",
)


def test_fit_json_has_every_field(capsys):
    code, out, err = run(
        capsys, "fit", "sin(x)", "--domain", "0", "2*pi", "--units", "16", "--json"
    )
    assert code == 0 and err == ""
    d = json.loads(out)
    for k in REQUIRED:
        assert k in d
    assert d["format"] == "relusum/1" and d["n_units"] == 16 and d["error_on"] == "grid"
    assert d["domain"] == [0.0, pytest.approx(2 * math.pi)]
    s = ReluSum.from_dict(d)
    assert abs(s(1.0) - math.sin(1.0)) < 0.02


def test_negative_domain_ends(capsys):
    code, out, _ = run(capsys, "fit", "sin(x)", "--domain", "-pi", "pi", "--units", "8", "--json")
    assert code == 0
    assert json.loads(out)["domain"] == [pytest.approx(-math.pi), pytest.approx(math.pi)]
    code, out, _ = run(capsys, "fit", "x**2", "--domain", "-1e-3", "-1e-4", "--json")
    assert code == 0


def test_fit_summary_save_eval_show_plot(capsys, tmp_path):
    model = tmp_path / "m.json"
    png = tmp_path / "fit.png"
    code, out, _ = run(
        capsys,
        "fit",
        "x**2",
        "--domain",
        "0",
        "1",
        "--units",
        "4",
        "--save",
        str(model),
        "--plot",
        str(png),
    )
    assert code == 0
    assert "4 units" in out and "max |error|" in out and str(model) in out
    saved = json.loads(model.read_text())
    for k in REQUIRED:
        assert k in saved
    img = Image.open(png)
    assert img.size[0] > 300 and img.size[1] > 200
    assert np.asarray(img.convert("L")).std() > 5  # not blank

    code, out, _ = run(capsys, "eval", str(model), "0.5", "-0.25", "pi/4")
    s = ReluSum.load(model)
    vals = [float(v) for v in out.split()]
    assert vals == [s(0.5), s(-0.25), s(math.pi / 4)]

    code, out, _ = run(capsys, "show", str(model))
    assert code == 0
    lines = out.strip().splitlines()
    assert "4 units" in lines[1]
    assert len(lines) == 3 + 4  # formula, summary, header, one row per unit
    knots = [float(line.split()[1]) for line in lines[3:]]
    np.testing.assert_allclose(knots, s.knots, rtol=1e-9)


def test_plot_svg(capsys, tmp_path):
    svg = tmp_path / "fit.svg"
    code, _, _ = run(
        capsys, "fit", "tanh(x)", "--domain", "-3", "3", "--units", "5", "--plot", str(svg)
    )
    assert code == 0 and svg.read_text().lstrip().startswith("<?xml")


def test_fit_data_csv(capsys, tmp_path):
    p = tmp_path / "pts.csv"
    x = np.linspace(0, 3, 40)
    p.write_text("time,value\n" + "\n".join(f"{a},{b}" for a, b in zip(x[::-1], np.sin(x[::-1]))))
    code, out, _ = run(
        capsys, "fit", "--data", str(p), "--x", "time", "--y", "value", "--units", "6", "--json"
    )
    assert code == 0
    d = json.loads(out)
    assert d["error_on"] == "data" and d["n_units"] == 6 and d["domain"] == [0.0, 3.0]


def test_a_data_file_given_as_the_formula_points_to_data(capsys, tmp_path):
    # `relusum fit pts.csv` said "a formula needs --domain A B" (with a domain, "syntax
    # error" or "attribute access is not allowed").
    p = tmp_path / "pts.csv"
    p.write_text("x,y\n0,1\n1,2\n2,0\n")
    for target, more in ((str(p), ()), ("missing.csv", ()), (str(p), ("--domain", "0", "1"))):
        code, out, err = run(capsys, "fit", target, "--units", "2", *more)
        assert code == 2 and out == ""
        assert err.strip() == (
            f"relusum: error: {target!r} looks like a file name, not a formula: "
            f"to fit a file's points use --data {target}"
        )
    code, _, err = run(capsys, "fit", "sin(x)", "--units", "2")
    assert code == 2 and "a formula needs --domain A B" in err


def test_summary_states_the_certificate_or_that_none_is_known(capsys):
    # The headline, in the text summary too: a max-error fit with optimal knots
    # quotes its proven bound and gap (the same numbers as --json); free-knot least
    # squares says that it has none; fixed knots say nothing about it.
    base = ("fit", "x**2", "--domain", "0", "1", "--units", "3")
    code, out, _ = run(capsys, *base, "--knots", "optimal", "--loss", "linf")
    assert code == 0
    line = next(ln for ln in out.splitlines() if "certified" in ln)
    lb = float(re.search(r"lower bound ([\d.e+-]+) on", line).group(1))
    gap = float(re.search(r"gap ([\d.e+-]+)$", line).group(1))
    _, js, _ = run(capsys, *base, "--knots", "optimal", "--loss", "linf", "--json")
    d = json.loads(js)
    assert lb == pytest.approx(d["lower_bound"], rel=1e-5) and gap <= 1e-6
    assert lb == pytest.approx(1 / (2 * 7**2), rel=1e-4)  # 1/(2(2n+1)^2)
    code, out, _ = run(capsys, *base, "--knots", "optimal", "--loss", "l2")
    assert code == 0 and "certificate: none (non-convex in the knots" in out
    assert "lower bound" not in out.replace("no proven lower bound", "")
    code, out, _ = run(capsys, *base, "--loss", "linf")
    assert code == 0 and "certif" not in out


def test_fit_given_knots_and_interpolate(capsys):
    code, out, _ = run(
        capsys, "fit", "x**2", "--domain", "0", "1", "--knots", "0,0.5", "--interpolate", "--json"
    )
    d = json.loads(out)
    assert code == 0 and d["knots"] == [0.0, 0.5] and d["interpolate"] is True


@pytest.mark.parametrize(
    "argv, match",
    [
        (["fit", "x.__class__", "--domain", "0", "1"], "attribute"),
        (["fit", "sin(", "--domain", "0", "1"], "never closed at column 4"),
        (["fit", "x", "--domain", "1", "0"], "reversed"),
        (["fit", "x", "--domain", "1", "1"], "empty"),
        (["fit", "log(x)", "--domain", "0", "1"], "not finite at x = 0"),
        (["fit", "x", "--domain", "0", "1", "--units", "10", "--samples", "5"], "units"),
        (["fit", "x"], "--domain"),
        (["fit"], "formula"),
        (["fit", "x", "--domain", "0", "1", "--units", "0"], "positive integer"),
        (["fit", "x", "--domain", "0", "1", "--units", "many"], "positive integer"),
        (["fit", "x", "--domain", "0", "1", "--knots", "0,0"], "distinct"),
        (["fit", "x", "--domain", "0", "1", "--plot", "out.txt"], "must end in"),
        (["fit", "x", "--domain", "0", "1", "--save", "nowhere/m.json"], "does not exist"),
        (["fit", "--data", "missing.csv"], "cannot read CSV"),
        (["eval", "missing.json", "1"], "cannot read"),
        (["show", "missing.json"], "cannot read"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_user_errors_are_one_line_exit_2(capsys, tmp_path, monkeypatch, argv, match):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert match in err
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize(
    "csv_text, args, match",
    [
        ("x,y\n0,1\n1,nan\n", ["--x", "x", "--y", "y"], "nan"),
        ("x,y\n0,1\n1,2\n", ["--x", "x", "--y", "q"], "no column 'q'"),
        ("x,y\n0,1\n1,2\n2,3\n", ["--x", "x", "--y", "y", "--units", "5"], "at most 2 units"),
        ("x,y\n0,1\n0,2\n", ["--x", "x", "--y", "y"], "same x"),
    ],
)
def test_bad_data_is_one_line_and_writes_nothing(capsys, tmp_path, csv_text, args, match):
    p = tmp_path / "d.csv"
    p.write_text(csv_text)
    out_model = tmp_path / "m.json"
    out_plot = tmp_path / "p.png"
    code, _, err = run(
        capsys, "fit", "--data", str(p), *args, "--save", str(out_model), "--plot", str(out_plot)
    )
    assert code == 2 and err.count("\n") == 1 and match in err
    assert not out_model.exists() and not out_plot.exists()
    assert sorted(f.name for f in tmp_path.iterdir()) == ["d.csv"]


def test_existing_file_survives_failed_fit(capsys, tmp_path):
    out_model = tmp_path / "m.json"
    out_model.write_text("precious")
    code, _, _ = run(capsys, "fit", "log(x)", "--domain", "0", "1", "--save", str(out_model))
    assert code == 2 and out_model.read_text() == "precious"


def test_console_script_runs_as_a_process(tmp_path):
    env = dict(os.environ)
    r = subprocess.run(
        [sys.executable, "-m", "relusum", "fit", "bogus(x)", "--domain", "0", "1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "unknown function 'bogus'" in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "relusum", "--version"], capture_output=True, text=True
    )
    assert r.returncode == 0 and "relusum" in r.stdout
