"""Fixed-point tables: integer arithmetic checked on every input, the C header against Python."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import relusum
from relusum.fixedpoint import fixed_point_fit, fixed_point_table, parse_fixed_point
from relusum.model import ReluSum


def test_exhaustive_error_is_the_true_worst_case():
    r = relusum.fit("tanh(x)", domain=(-4, 4), n_units=24, knots="optimal", loss="linf")
    t = fixed_point_table(r.model, np.tanh, 16, 11)
    xq = np.arange(-4 * 2048, 4 * 2048 + 1)
    assert t.n_checked == xq.size
    # a slow reference: each input on its own, in Python integers
    worst = 0.0
    for x in xq[::7]:
        k = int(np.searchsorted(t.knots, x, side="right"))
        y = ((int(t.slopes[k]) * (int(x) - int(t.anchors[k])) + 1024) >> 11) + int(t.values[k])
        worst = max(worst, abs(y / 2048 - np.tanh(x / 2048)))
    assert worst <= t.max_error
    # rounding adds at most a few output steps to the float error of the sum
    assert t.max_error <= r.report.max_abs_error + 4 / 2048


@pytest.fixture(scope="module")
def tanh_table():
    return fixed_point_fit(np.tanh, (-8.0, 8.0), 1e-3, 16, 11)


def test_fit_within_tol_after_rounding(tanh_table):
    model, t = tanh_table
    assert t.max_error <= 1e-3
    with pytest.raises(ValueError, match="more fraction bits"):
        fixed_point_fit(np.tanh, (-8.0, 8.0), 1e-4, 16, 11)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_c_header_matches_python_on_every_input(tmp_path, tanh_table):
    model, t = tanh_table
    t.write_header(tmp_path / "tanh_q.h", name="tanh")
    xq = t.inputs()
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "tanh_q.h"\n'
        'int main(void) { int32_t x; while (scanf("%d", &x) == 1) '
        'printf("%d\\n", tanh_eval_q(x)); return 0; }\n'
    )
    exe = tmp_path / "run"
    subprocess.run(
        ["gcc", "-std=c99", "-Wall", "-Werror", "-O2", str(tmp_path / "main.c"), "-o", str(exe)],
        check=True,
    )
    out = subprocess.run(
        [str(exe)], input="\n".join(map(str, xq)), capture_output=True, text=True, check=True
    ).stdout.split()
    np.testing.assert_array_equal(np.array(out, dtype=np.int64), t.evaluate_q(xq))


#: ``relusum fit`` of tanh within 1e-3 (the flags every command below shares).
TANH_FIT = ("fit", "tanh(x)", "--domain", "-8", "8", "--tol", "1e-3")


def _relusum(*args: object) -> subprocess.CompletedProcess:
    """``relusum ARGS`` in a fresh process, its output captured."""
    cmd = [sys.executable, "-m", "relusum", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True)


def test_cli_fixed_point_export(tmp_path):
    h = tmp_path / "tanh_q.h"
    ok = _relusum(*TANH_FIT, "--export", h, "--fixed-point", "16,11", "--json")
    assert ok.returncode == 0, ok.stderr
    d = json.loads(ok.stdout)
    assert d["fixed_point"]["format"] == "Q16.11"
    assert d["fixed_point"]["max_abs_error"] <= 1e-3 and d["fixed_point"]["inputs_checked"] == 32769
    assert "tanh" not in h.read_text() or "int32_t" in h.read_text()
    bad = _relusum(*TANH_FIT, "--export", h, "--fixed-point", "16,20")
    assert bad.returncode == 2 and "fraction bits" in bad.stderr and "Traceback" not in bad.stderr
    nohdr = _relusum(*TANH_FIT, "--fixed-point", "16,11")
    assert nohdr.returncode == 2 and "--export FILE.h" in nohdr.stderr


def test_parse_fixed_point():
    assert parse_fixed_point("16,11") == (16, 11)
    for bad in ("16", "a,b", "40,3", "8,7"):
        with pytest.raises(ValueError):
            parse_fixed_point(bad)


def test_slope_rounding_costs_a_piece_width_not_the_distance_from_zero():
    # One piece [7, 8] of slope 1/3 (not representable in Q.11): rounding the slope alone
    # and the intercept alone errs by |ds| * 8 at x = 8; centred on the piece, |ds| * 0.5.
    model = ReluSum(0.0, [7.0], [1.0 / 3.0], domain=(-8.0, 8.0))
    t = fixed_point_table(model, model, 16, 11)
    assert t.max_error <= 3 * 2.0**-12
