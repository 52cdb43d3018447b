"""Lookup tables: CSV parsed back independently, C header compiled with gcc."""

from __future__ import annotations

import csv
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import relusum
from relusum import ReluSum
from relusum.export import export
from relusum.table import read_table_csv, table_rows, write_table_csv, write_table_header


def eval_by_rule(rows, bias, x):
    """The documented evaluation rule, written independently of relusum."""
    knots = [r[0] for r in rows]
    out = []
    for xv in x:
        if not knots or xv < knots[0]:
            out.append(bias)
            continue
        k = max(i for i, h in enumerate(knots) if h <= xv)
        out.append(rows[k][1] + rows[k][2] * (xv - knots[k]))
    return np.array(out)


def parse_csv(path):
    with open(path, newline="") as fh:
        reader = list(csv.reader(fh))
    assert reader[0] == ["knot", "value", "slope"]
    rows, ends = [], {}
    for r in reader[1:]:
        if r[0].startswith("domain_"):
            ends[r[0]] = (float(r[1]), float(r[2]))
        else:
            rows.append(tuple(float(c) for c in r))
    return rows, ends


@pytest.fixture
def gelu_model():
    return relusum.fit("gelu(x)", domain=(-8, 8), n_units=24, knots="optimal", loss="linf").model


def test_csv_reproduces_model(tmp_path, gelu_model):
    p = write_table_csv(gelu_model, tmp_path / "t.csv")
    rows, ends = parse_csv(p)
    assert len(rows) == gelu_model.simplify().n_units
    x = np.linspace(-10, 10, 4001)
    bias = rows[0][1]  # the value at the first knot is the bias (flat to its left)
    np.testing.assert_allclose(eval_by_rule(rows, bias, x), gelu_model(x), rtol=1e-12, atol=1e-12)
    a, b = gelu_model.domain
    assert ends["domain_start"][0] == pytest.approx(gelu_model(a), abs=1e-15)
    assert ends["domain_end"][0] == pytest.approx(gelu_model(b), rel=1e-15)
    assert read_table_csv(p).allclose(gelu_model, rtol=1e-13, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(
    knots=st.lists(st.sampled_from([-2.0, -1.0, -0.5, 0.0, 0.25, 1.0, 3.0]), max_size=8),
    data=st.data(),
    bias=st.floats(-5, 5),
)
def test_table_rows_match_model_with_duplicates_and_zeros(knots, data, bias):
    w = data.draw(
        st.lists(st.sampled_from([0.0, 1.0, -2.5, 0.75]), min_size=len(knots), max_size=len(knots))
    )
    s = ReluSum(bias, knots, w)
    h, v, sl = table_rows(s)
    assert np.all(np.diff(h) > 0)
    x = np.linspace(-4, 4, 161)
    rows = list(zip(h, v, sl))
    np.testing.assert_allclose(eval_by_rule(rows, bias, x), s(x), atol=1e-12)


def test_constant_model(tmp_path):
    p = write_table_csv(ReluSum(2.5, [], [], (0, 1)), tmp_path / "c.csv")
    assert read_table_csv(p)(7.0) == 2.5


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_header_compiles_and_matches(tmp_path, gelu_model):
    write_table_header(gelu_model, tmp_path / "gelu_table.h")
    x = np.concatenate((np.linspace(-9, 9, 2001), gelu_model.knots, [-8.0, 8.0]))
    (tmp_path / "x.txt").write_text("\n".join(repr(float(v)) for v in x))
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "gelu_table.h"\n'
        'int main(void) { double x; while (scanf("%lf", &x) == 1) '
        'printf("%.17g\\n", relusum_eval(x)); return 0; }\n'
    )
    exe = tmp_path / "main"
    subprocess.run(
        ["gcc", "-std=c99", "-Wall", "-Werror", "-O2", str(tmp_path / "main.c"), "-o", str(exe)],
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [str(exe)],
        input=(tmp_path / "x.txt").read_text(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    got = np.array([float(t) for t in out.split()])
    want = gelu_model(x)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.max(np.abs(want)))


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_header_custom_name_and_constant(tmp_path):
    write_table_header(ReluSum(-1.5, [], []), tmp_path / "c.h", name="act")
    (tmp_path / "m.c").write_text(
        '#include <stdio.h>\n#include "c.h"\nint main(void){printf("%.17g %d", act_eval(3.0), '
        "ACT_N); return 0;}\n"
    )
    subprocess.run(
        ["gcc", "-Wall", "-Werror", str(tmp_path / "m.c"), "-o", str(tmp_path / "m")],
        check=True,
        capture_output=True,
    )
    out = subprocess.run([str(tmp_path / "m")], capture_output=True, text=True).stdout
    assert out.split() == ["-1.5", "0"]
    with pytest.raises(ValueError, match="C identifier"):
        write_table_header(ReluSum(0, [], []), tmp_path / "d.h", name="1bad")


def test_export_dispatch_and_atomic(tmp_path, gelu_model):
    assert export(gelu_model, tmp_path / "m.csv").read_text().startswith("knot,value,slope")
    assert "relusum_eval" in export(gelu_model, tmp_path / "m.h").read_text()
    with pytest.raises(ValueError, match="does not exist"):
        write_table_csv(gelu_model, tmp_path / "missing" / "t.csv")
    (tmp_path / "keep.csv").write_text("old")
    with pytest.raises(ValueError):
        write_table_csv("not a model", tmp_path / "keep.csv")
    assert (tmp_path / "keep.csv").read_text() == "old"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
