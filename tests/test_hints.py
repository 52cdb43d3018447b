"""Hints for an unreachable tolerance match the cause: units, samples, or a jump."""

from __future__ import annotations

import json
import re

import pytest

import relusum
from relusum.cli import main
from relusum.fitting.hints import find_jump
from relusum.targets import make_target


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(capsys, *argv) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    return err.strip()


@pytest.mark.parametrize(
    ("formula", "domain", "expected"),
    [
        ("sign(x)", (-1, 1), (2.0, 0.0)),
        ("sign(x - 0.25)", (-1, 1), (2.0, 0.25)),
        ("floor(5*x)", (0, 1), (1.0, 0.2)),
        ("x**2*sign(x - 1/3)", (0, 1), (2 / 9, 1 / 3)),
        ("sin(x) + 0.01*sign(x - 2)", (0, 3), (0.02, 2.0)),
    ],
)
def test_find_jump_measures_size_and_place(formula, domain, expected):
    size, x0 = find_jump(make_target(formula, domain))
    assert size == pytest.approx(expected[0], rel=1e-6)
    assert x0 == pytest.approx(expected[1], abs=1e-9)


@pytest.mark.parametrize(
    ("formula", "domain"),
    [
        ("sin(x)", (0, 1)),
        ("tanh(1000*x)", (-1, 1)),  # steep, but continuous
        ("abs(x)", (-1, 1)),  # a corner is not a jump
        ("sqrt(abs(x))", (-1, 1)),  # infinite slope, still continuous
        ("x*sin(x)", (0, 10)),
    ],
)
def test_find_jump_sees_no_jump_in_continuous_targets(formula, domain):
    assert find_jump(make_target(formula, domain)) is None


def test_find_jump_is_none_for_data():
    assert find_jump(make_target(([0, 1, 1, 2], [0, 0, 5, 5]))) is None


def test_smooth_target_out_of_units_suggests_max_units_with_a_true_prediction(capsys):
    msg = _one_line_error(
        capsys,
        "fit",
        "sin(x)",
        "--domain",
        "0",
        "1",
        "--loss",
        "l2",
        "--tol",
        "1e-9",
        "--max-units",
        "50",
    )
    assert "jump" not in msg
    assert "raise --max-units" in msg and "--samples" in msg
    # The best error and its units are those a plain fit with that many units reports.
    best = relusum.fit("sin(x)", domain=(0, 1), n_units=50).report.rmse
    assert f"the best was {best:.4g} with 50 units" in msg
    # The units it predicts are about what the tolerance needs (the rate n^-2 of a smooth target).
    need = int(re.search(r"about ([\d,]+) units are needed", msg).group(1).replace(",", ""))
    assert "n^-2" in msg
    fine = {"samples": 4 * need}
    assert relusum.fit("sin(x)", (0, 1), int(1.05 * need), **fine).report.rmse <= 1e-9
    assert relusum.fit("sin(x)", (0, 1), int(0.9 * need), **fine).report.rmse > 1e-9


def test_smooth_target_out_of_samples_suggests_samples(capsys):
    msg = _one_line_error(
        capsys, "fit", "sin(x)", "--domain", "0", "1", "--tol", "1e-9", "--samples", "100"
    )
    assert "jump" not in msg
    assert "a fit of 100 samples has at most 99" in msg and "raise --samples" in msg
    best = relusum.fit("sin(x)", (0, 1), 99, loss="linf", samples=100).report.max_abs_error
    assert f"the best was {best:.4g} with 99 units" in msg


def test_jump_hint_quotes_half_the_jump_in_agreement_with_the_error(capsys):
    msg = _one_line_error(capsys, "fit", "sign(x)", "--domain", "-1", "1", "--tol", "0.1")
    assert "cannot be reached: the target jumps by 2 at x = 0" in msg
    half = float(re.search(r"half the jump, ([\d.e+-]+);", msg).group(1))
    best = float(re.search(r"has max error ([\d.e+-]+) with", msg).group(1))
    assert half == 1.0
    assert best == pytest.approx(half, rel=1e-3)
    # ... and with the error relusum reports for a fit with those units.
    n = int(re.search(r"with (\d+) units?$", msg).group(1))
    code, out, _ = run(
        capsys,
        "fit",
        "sign(x)",
        "--domain",
        "-1",
        "1",
        "--units",
        str(n),
        "--loss",
        "linf",
        "--json",
    )
    assert code == 0
    assert json.loads(out)["max_abs_error"] == pytest.approx(best, rel=1e-3)


def test_unreachable_tol_names_the_fewest_units_among_equal_errors():
    # Every fit of a jump reaches half of it, give or take 1e-9 from the ramp
    # across it: the message names the fewest units that do, not whichever count
    # happened to be lowest in the ninth digit (it said 2, then 4 units).
    from relusum.fitting.hints import tol_unreachable

    t = make_target("sign(x)", (-1, 1))
    tried = {1: 1.0 + 1.9e-9, 2: 1.0 + 1.4e-9, 4: 1.0, 8: 1.0 + 5.7e-9}
    msg = tol_unreachable(t, "linf", 0.6, tried, max_units=8, cap=8, distinct=2000)
    assert msg.endswith("max error 1 with 1 unit")
    # A real difference still counts: the lowest error wins.
    tried = {1: 1.5, 2: 1.2, 4: 1.0, 8: 1.0 + 5.7e-9}
    msg = tol_unreachable(t, "linf", 0.6, tried, max_units=8, cap=8, distinct=2000)
    assert msg.endswith("max error 1 with 4 units")
    with pytest.raises(ValueError, match=r"max error 1 with 1 unit$"):
        relusum.fit("sign(x)", domain=(-1, 1), tol=0.6)


def test_no_jump_hint_for_rmse_which_a_jump_does_not_bound(capsys):
    msg = _one_line_error(
        capsys,
        "fit",
        "sign(x)",
        "--domain",
        "-1",
        "1",
        "--loss",
        "l2",
        "--tol",
        "1e-3",
        "--max-units",
        "64",
    )
    assert "jump" not in msg and msg.startswith("relusum: error: an RMSE of 0.001")
    # Uniform knots converge slowly here; optimal knots are the remedy that fits.
    assert "--knots optimal" in msg


def test_jump_smaller_than_the_tolerance_gets_no_jump_hint(capsys):
    # Half the jump (0.005) is below the tolerance: units, not the jump, are the limit.
    msg = _one_line_error(
        capsys,
        "fit",
        "sin(3*x) + 0.01*sign(x - 2)",
        "--domain",
        "0",
        "3",
        "--tol",
        "0.006",
        "--max-units",
        "2",
    )
    assert "jump" not in msg and "raise --max-units" in msg
