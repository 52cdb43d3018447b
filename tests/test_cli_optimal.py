"""`relusum fit` with --knots optimal, --loss linf, --tol and table exports."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from relusum import ReluSum
from relusum.cli import main
from relusum.table import read_table_csv


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_issue_command_tol_json(capsys):
    code, out, err = run_cli(
        capsys,
        "fit",
        "gelu(x)",
        "--domain",
        "-8",
        "8",
        "--knots",
        "optimal",
        "--loss",
        "linf",
        "--tol",
        "1e-3",
        "--json",
    )
    assert code == 0, err
    d = json.loads(out)
    assert d["max_abs_error"] <= 1e-3
    assert d["tol"] == 1e-3 and d["loss"] == "linf" and d["knots_method"] == "optimal"
    assert d["n_units"] == len(d["knots"]) < 40
    assert ReluSum.from_dict(d).n_units == d["n_units"]


def test_tol_without_loss_means_linf(capsys):
    code, out, _ = run_cli(
        capsys, "fit", "x**2", "--domain", "0", "1", "--knots", "optimal", "--tol", "1e-3", "--json"
    )
    assert code == 0
    assert json.loads(out)["loss"] == "linf"


def test_units_optimal_linf_and_exports(capsys, tmp_path):
    csv_path, h_path = tmp_path / "t.csv", tmp_path / "t.h"
    code, out, err = run_cli(
        capsys,
        "fit",
        "tanh(x)",
        "--domain",
        "-6",
        "6",
        "--units",
        "8",
        "--knots",
        "optimal",
        "--loss",
        "linf",
        "--export",
        str(csv_path),
        "--export",
        str(h_path),
        "--save",
        str(tmp_path / "m.json"),
    )
    assert code == 0, err
    assert "8 units" in out and "exported" in out
    model = ReluSum.load(tmp_path / "m.json")
    assert read_table_csv(csv_path).allclose(model, rtol=1e-13, atol=1e-14)
    assert "relusum_eval" in h_path.read_text()
    x = np.linspace(-6, 6, 1001)
    assert np.max(np.abs(model(x) - np.tanh(x))) < 0.02


def test_units_optimal_l2(capsys):
    pytest.importorskip("relusum.fitting.free_l2")
    code, out, err = run_cli(
        capsys,
        "fit",
        "sin(x)",
        "--domain",
        "0",
        "2*pi",
        "--units",
        "6",
        "--knots",
        "optimal",
        "--json",
    )
    assert code == 0, err
    d = json.loads(out)
    assert d["knots_method"] == "optimal" and d["loss"] == "l2" and d["n_units"] == 6


def test_data_csv_optimal(capsys, tmp_path):
    p = tmp_path / "d.csv"
    x = np.linspace(0, 3, 40)
    p.write_text("x,y\n" + "\n".join(f"{a},{abs(a - 1.3)}" for a in x))
    code, out, err = run_cli(
        capsys,
        "fit",
        "--data",
        str(p),
        "--x",
        "x",
        "--y",
        "y",
        "--units",
        "2",
        "--knots",
        "optimal",
        "--loss",
        "linf",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["max_abs_error"] < 1e-9


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--units", "4", "--tol", "1e-3"], "not both"),
        (["--units", "4", "--knots", "optimal", "--interpolate"], "not implemented"),
        (["--tol", "1e-9", "--max-units", "3"], "not reached"),
        (["--units", "4", "--knots", "optimal", "--export", "out.txt"], "must end in"),
    ],
)
def test_user_errors_one_line_exit_2(capsys, argv, needle):
    code, out, err = run_cli(capsys, "fit", "sin(x)", "--domain", "0", "3", *argv)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_unreachable_step_in_subprocess():
    """The real console entry point: exit status 2 and one line on stderr."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from relusum.cli import run; run()",
            "fit",
            "step(x)",
            "--domain",
            "-1",
            "1",
            "--knots",
            "optimal",
            "--tol",
            "1e-3",
            "--max-units",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "half the jump" in proc.stderr


def test_progress_bar_when_asked(capsys):
    import relusum

    relusum.fit("gelu(x)", domain=(-8, 8), n_units=8, knots="optimal", loss="linf", progress=True)
    err = capsys.readouterr().err
    assert "minimax fit" in err
    relusum.fit("gelu(x)", domain=(-8, 8), n_units=8, knots="optimal", loss="linf", progress=False)
    assert capsys.readouterr().err == ""
