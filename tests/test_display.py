"""Jupyter display: ``_repr_html_`` / ``_repr_markdown_`` of ReluSum and FitResult."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest

import relusum
from relusum import Data, ReluSum
from relusum._display import MARGIN, MAX_ROWS, MAX_UNITS_DRAWN, PANEL, WIDTH

SVG_NS = "{http://www.w3.org/2000/svg}"
VOID = {"br", "hr", "img", "input", "meta", "link", "col", "area", "base", "wbr"}


class _Checker(HTMLParser):
    """Collects tags, table rows and SVG fragments; fails on unbalanced tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            self.cell = []
        if tag == "tr":
            self.rows.append([])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass  # self-closing SVG elements

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def parse(html_text: str) -> _Checker:
    c = _Checker()
    c.feed(html_text)
    c.close()
    assert not c.errors, c.errors
    assert not c.stack, f"unclosed tags {c.stack}"
    return c


def svgs(html_text: str) -> list[ET.Element]:
    found = re.findall(r"<svg.*?</svg>", html_text, flags=re.S)
    assert found
    return [ET.fromstring(s) for s in found]  # raises on invalid XML


def path_points(d: str) -> np.ndarray:
    pts = re.findall(r"(-?[\d.]+),(-?[\d.]+)", d)
    return np.array(pts, dtype=float)


def test_relusum_html_draws_the_sum_through_its_knots():
    rng = np.random.default_rng(3)
    knots = np.sort(rng.uniform(0, 2, 7))
    s = ReluSum(0.5, knots, rng.normal(size=7), (0.0, 2.0))
    text = s._repr_html_()
    parse(text)
    (svg,) = svgs(text)
    assert "7 units" in svg.find(f"{SVG_NS}title").text
    sum_path = svg.findall(f"{SVG_NS}path")[0].get("d")
    uv = path_points(sum_path)
    xs = np.unique(np.concatenate(([0.0, 2.0], knots)))
    # Pixel x is the affine image of the knots; pixel y an affine (flipped) image of f.
    x_back = (uv[:, 0] - MARGIN) / (WIDTH - 2 * MARGIN) * 2.0
    np.testing.assert_allclose(x_back, xs, atol=0.1 * 2.0 / (WIDTH - 2 * MARGIN))
    fx = s(xs)
    slope, icpt = np.polyfit(fx, uv[:, 1], 1)
    assert slope < 0
    assert np.max(np.abs(slope * fx + icpt - uv[:, 1])) < 0.1
    assert np.all((uv[:, 1] >= 0) & (uv[:, 1] <= PANEL))
    # The table lists every unit with its slope after the knot.
    rows = parse(text).rows[1:]
    assert len(rows) == 7
    for i, row in enumerate(rows):
        assert int(row[0]) == i
        np.testing.assert_allclose(
            [float(v) for v in row[1:]],
            [knots[i], s.weights[i], np.sum(s.weights[: i + 1])],
            rtol=1e-5,
        )


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_html_reprs_parse_and_stay_small(n):
    r = relusum.fit("sin(x)", domain=(0, 6), n_units=n)
    for text in (r.model._repr_html_(), r._repr_html_()):
        checker = parse(text)
        svgs(text)
        assert len(text.encode()) < 50_000
        assert len(checker.rows) <= 2 * (MAX_ROWS + 2) + 20  # two tables and the report
    unit_paths = svgs(r.model._repr_html_())[0].findall(f"{SVG_NS}path")[-1].get("d")
    assert unit_paths.count("M") == min(n, MAX_UNITS_DRAWN)
    if n > MAX_ROWS:
        assert f"… {n - MAX_ROWS:,} more rows …" in r.model._repr_html_()


def test_truncated_table_keeps_first_and_last_units():
    n = 50
    s = ReluSum(0.0, np.arange(n, dtype=float), np.full(n, 0.5))
    rows = parse(s._repr_html_()).rows
    idx = [row[0] for row in rows[1:]]
    half = MAX_ROWS // 2
    assert idx[:half] == [str(i) for i in range(half)]
    assert idx[-half:] == [str(i) for i in range(n - half, n)]
    assert idx[half] == f"… {n - MAX_ROWS} more rows …"
    assert rows[-1][3] == f"{0.5 * n:.6g}"  # last slope is the sum of all weights


def test_markdown_and_repr_are_one_line():
    for s in (
        ReluSum(0.0, [], []),
        ReluSum(1.0, [0.0], [2.0]),
        ReluSum(0.0, np.linspace(0, 1, 1000), np.ones(1000), (0, 1)),
    ):
        for text in (repr(s), s._repr_markdown_()):
            assert "\n" not in text
        assert s._repr_markdown_().startswith("**ReluSum**: ")
    md = ReluSum(1.0, [0.0], [2.0], (-1, 1))._repr_markdown_()
    assert md == "**ReluSum**: 1 unit, 2 linear pieces on [-1, 1], bias 1"


def test_empty_and_domainless_sums_render():
    for s in (ReluSum(2.0, [], []), ReluSum(0.0, [1.0, 2.0], [1.0, -1.0])):
        text = s._repr_html_()
        parse(text)
        svgs(text)


def test_fit_result_html_report_and_error_curve():
    x = np.linspace(0, 1, 300)
    data = Data(x, x**2, name="a<b & c")
    r = relusum.fit(data, n_units=4)
    text = r._repr_html_()
    checker = parse(text)
    assert "a&lt;b &amp; c" in text
    svg = svgs(text)[0]
    table = {row[0]: row[1] for row in checker.rows if len(row) == 2}
    assert float(table["max |error|"]) == pytest.approx(r.report.max_abs_error, rel=1e-5)
    assert float(table["RMSE"]) == pytest.approx(r.report.rmse, rel=1e-5)
    label = [t.text for t in svg.iter(f"{SVG_NS}text") if t.text.startswith("error")][0]
    shown = float(re.search(r"= ([\d.e+-]+)\)", label).group(1))
    # The plotted data are a subsample: their largest error cannot exceed the
    # report's (up to the label's rounding to 3 digits).
    assert shown <= r.report.max_abs_error * 1.006

    f = relusum.fit("exp(x)", domain=(0, 1), n_units=5)
    label = [t.text for t in svgs(f._repr_html_())[0].iter(f"{SVG_NS}text")][-1]
    shown = float(re.search(r"= ([\d.e+-]+)\)", label).group(1))
    assert 0.5 * f.report.max_abs_error < shown <= f.report.max_abs_error * 1.006


def test_reprs_do_not_import_matplotlib():
    code = (
        "import sys, relusum\n"
        "r = relusum.fit('sin(x)', domain=(0, 3), n_units=20)\n"
        "r._repr_html_(); r.model._repr_html_(); r.model._repr_markdown_()\n"
        "print('matplotlib' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
