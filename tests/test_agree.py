"""``agree=``: how closely a max-error fit of a function refines its samples (issue 10)."""

import json

import pytest

import relusum
from relusum.cli import main


def _free_theory(n):
    return 1.0 / (2.0 * (2 * n + 1) ** 2)  # x**2 on [0, 1], free knots


@pytest.mark.parametrize("n", [9, 64])
def test_tighter_agreement_reaches_the_x_squared_theory(n):
    kw = dict(domain=(0, 1), n_units=n, knots="optimal", loss="linf", progress=False)
    theory = _free_theory(n)
    tight = relusum.fit("x**2", agree=1e-6, **kw)
    extra = tight.report.extra
    assert extra["agree"] == 1e-6
    # the samples' certified optimum within 1e-6 of the continuous one, which it never exceeds
    assert abs(extra["sample_max_error"] / theory - 1.0) <= 1e-6
    assert extra["lower_bound"] <= theory * (1 + 1e-9)
    assert extra["gap"] <= 1e-6
    # the grid (the reported max error) within 0.1% of the samples
    assert tight.report.max_abs_error <= extra["sample_max_error"] * (1 + 1e-6) + 1e-15
    if n == 64:  # the default stops further from the theory (about 1.3e-5 at 64 units)
        loose = relusum.fit("x**2", **kw)
        assert "agree" not in loose.report.extra
        assert theory - loose.report.extra["sample_max_error"] > 1e-6 * theory


@pytest.mark.parametrize(
    "kw, exc, message",
    [
        ({"agree": 0.0}, ValueError, "between 1e-7 and 1e-2"),
        ({"agree": float("nan")}, ValueError, "between 1e-7 and 1e-2"),
        ({"agree": 0.5}, ValueError, "between 1e-7 and 1e-2"),
        ({"agree": "1e-6"}, TypeError, "agree must be a number"),
        ({"agree": 1e-6, "loss": "l2"}, ValueError, "max-error fits of a function"),
        ({"agree": 1e-6, "knots": "uniform"}, ValueError, "max-error fits of a function"),
        ({"agree": 1e-6, "tol": 0.01, "n_units": None}, ValueError, "max-error fits"),
        ({"agree": 1e-6, "monotone": "increasing"}, ValueError, "max-error fits"),
    ],
)
def test_agree_refused_where_it_means_nothing(kw, exc, message):
    args = dict(domain=(0, 1), n_units=4, knots="optimal", loss="linf", progress=False)
    args.update(kw)
    with pytest.raises(exc, match=message):
        relusum.fit("x**2", **args)


def test_agree_refused_on_data():
    x = [0.0, 0.2, 0.5, 0.7, 1.0]
    with pytest.raises(ValueError, match="applies to a function target"):
        relusum.fit((x, [v * v for v in x]), n_units=2, knots="optimal", loss="linf", agree=1e-6)


def test_cli_agree(capsys, tmp_path):
    base = ["fit", "x**2", "--domain", "0", "1", "--units", "9", "--knots", "optimal"]
    assert main([*base, "--loss", "linf", "--agree", "1e-6", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["agree"] == 1e-6
    assert abs(out["sample_max_error"] / _free_theory(9) - 1) <= 1e-6
    # user errors: one line, exit 2
    assert main([*base, "--agree", "1e-6"]) == 2  # least squares
    assert "max-error fits" in capsys.readouterr().err
    assert main([*base, "--loss", "linf", "--agree", "0.5"]) == 2
    assert "between 1e-7 and 1e-2" in capsys.readouterr().err
    data = tmp_path / "d.csv"
    data.write_text("x,y\n0,0\n0.5,0.25\n1,1\n")
    assert main(["fit", "--data", str(data), "--loss", "linf", "--agree", "1e-6"]) == 2
    assert "--agree applies to a formula" in capsys.readouterr().err
