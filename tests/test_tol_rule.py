"""Issue 9.1: one meaning for ``tol`` -- with no loss it bounds the max error, API and CLI alike."""

import json

import numpy as np
import pytest

import relusum
from relusum.cli import main


def _cli_json(capsys, *argv):
    assert main(["fit", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_api_tol_without_loss_bounds_the_max_error():
    r = relusum.fit("x**2", domain=(0, 1), knots="optimal", tol=1e-3)
    assert r.report.loss == "linf"
    assert r.report.max_abs_error <= 1e-3
    assert r.report.extra["tol_loss"] == "linf"
    assert r.report.extra["tol_bounds"] == "max_abs_error"
    # The optimum for x^2: max error 1 / (2 (2n+1)^2) <= 1e-3 needs n = 11.
    assert r.report.n_units == 11


def test_api_and_cli_agree_on_tol(capsys):
    api = relusum.fit("x**2", domain=(0, 1), knots="uniform", tol=2e-3)
    d = _cli_json(capsys, "x**2", "--domain", "0", "1", "--tol", "2e-3")
    assert d["n_units"] == api.report.n_units
    assert d["loss"] == api.report.loss == "linf"
    assert d["tol_bounds"] == "max_abs_error"
    assert d["max_abs_error"] <= 2e-3


def test_tol_with_l2_bounds_the_rmse_and_says_so(capsys):
    x = np.linspace(0, 1, 400)
    y = np.sin(6 * x)
    r = relusum.fit((x, y), loss="l2", tol=0.01)
    assert r.report.extra["tol_bounds"] == "rmse" and r.report.rmse <= 0.01
    assert r.report.max_abs_error > 0.01  # the max error was not what was bounded
    d = _cli_json(capsys, "sin(6*x)", "--domain", "0", "1", "--tol", "0.01", "--loss", "l2")
    assert d["tol_loss"] == "l2" and d["tol_bounds"] == "rmse" and d["rmse"] <= 0.01


def test_text_report_names_the_bounded_error(capsys):
    assert main(["fit", "x**2", "--domain", "0", "1", "--tol", "1e-3"]) == 0
    out = capsys.readouterr().out
    assert "tolerance 0.001 on the max |error| (loss linf)" in out


def test_help_says_what_tol_bounds(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "the max error, or the RMSE with --loss l2" in text


def test_without_tol_the_default_is_still_least_squares():
    r = relusum.fit("x**2", domain=(0, 1), n_units=4)
    assert r.report.loss == "l2"
