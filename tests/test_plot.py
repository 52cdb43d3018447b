"""relusum.plot and relusum.diagrams: Axes in, Axes out, exact curves, reproducible files."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from PIL import Image

import relusum
from relusum import ReluSum
from relusum.diagrams import draw_layer, draw_neuron, layer_output
from relusum.plot import (
    plot_convergence,
    plot_fit,
    plot_relusum,
    plot_terms,
    save_figure,
    style,
    term_segments,
)


def naive(bias, knots, weights, x):
    """bias + sum_i w_i max(0, x - h_i), one term at a time."""
    x = np.asarray(x, dtype=float)
    out = np.full(x.shape, float(bias))
    for h, w in zip(knots, weights):
        out = out + w * np.maximum(0.0, x - h)
    return out


@pytest.fixture
def ax():
    return Figure().subplots()


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    """Fail any test in which a plotting function calls show()."""
    import matplotlib.pyplot as plt

    def boom(*args, **kwargs):
        raise AssertionError("plotting code called show()")

    monkeypatch.setattr(plt, "show", boom)
    monkeypatch.setattr(Figure, "show", boom)


SUM = ReluSum(0.5, [-1.0, 0.2, 1.5], [1.0, -2.5, 3.0], (-2.0, 2.0))


def test_every_function_returns_the_axes_it_was_given(ax):
    fit = relusum.fit("sin(x)", (0, 3), n_units=5)
    assert plot_relusum(SUM, ax) is ax
    assert plot_terms(SUM, ax) is ax
    assert plot_fit(fit, ax) is ax
    assert plot_convergence([1, 2, 4], {"m": [1.0, 0.3, 0.07]}, ax=ax) is ax
    other = Figure().subplots()
    assert draw_neuron(other) is other
    other = Figure().subplots()
    assert draw_layer([1, -1], [0, 1], [1, 2], 0.5, (-2, 2), ax=other) is other


def test_without_axes_a_new_one_is_made():
    import matplotlib.pyplot as plt

    a = plot_relusum(SUM)
    b = plot_convergence([1, 2], {"m": [1.0, 0.25]})
    assert a is not b and a.figure is not b.figure
    plt.close(a.figure)
    plt.close(b.figure)


def test_sum_is_drawn_through_its_exact_corners(ax):
    plot_relusum(SUM, ax, terms=False, knots=False)
    (line,) = ax.get_lines()
    x, y = line.get_data()
    # Every knot inside the domain is a vertex, plus both ends ...
    assert set(SUM.knots) <= set(x.tolist())
    assert x[0] == -2.0 and x[-1] == 2.0
    # ... and the values are those of the naive formula, so linear
    # interpolation of the drawn line is the function everywhere.
    np.testing.assert_allclose(y, naive(SUM.bias, SUM.knots, SUM.weights, x), atol=1e-12)
    dense = np.linspace(-2, 2, 1001)
    np.testing.assert_allclose(np.interp(dense, x, y), SUM(dense), atol=1e-12)


def test_knot_markers_sit_on_the_curve(ax):
    plot_relusum(SUM, ax, terms=False)
    dots = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert len(dots) == 1
    x, y = dots[0].get_data()
    np.testing.assert_array_equal(x, SUM.knots)
    np.testing.assert_allclose(y, SUM(SUM.knots))


@settings(max_examples=60, deadline=None)
@given(
    knots=st.lists(st.floats(-5, 5), min_size=1, max_size=8),
    weights=st.lists(st.floats(-10, 10), min_size=8, max_size=8),
    a=st.floats(-6, 0),
    width=st.floats(0.1, 8),
)
def test_term_segments_are_each_term_exactly(knots, weights, a, width):
    b = a + width
    s = ReluSum(0.0, knots, weights[: len(knots)])
    segs = term_segments(s, a, b)
    assert len(segs) == s.n_units
    x = np.linspace(a, b, 257)
    for i, seg in enumerate(segs):
        assert seg[0, 0] == a and seg[-1, 0] == b
        assert np.all(np.diff(seg[:, 0]) > 0)
        want = s.weights[i] * np.maximum(0.0, x - s.knots[i])
        np.testing.assert_allclose(
            np.interp(x, seg[:, 0], seg[:, 1]), want, atol=1e-9 * (1 + np.abs(want).max())
        )


def test_terms_are_split_by_sign_and_thinned(ax):
    s = ReluSum(0.0, np.arange(10.0), [1, -1] * 5, (0.0, 10.0))
    plot_terms(s, ax)
    pos, neg = ax.collections
    assert len(pos.get_segments()) == 5 and len(neg.get_segments()) == 5
    other = Figure().subplots()
    big = ReluSum(0.0, np.arange(1000.0), np.ones(1000), (0.0, 1000.0))
    plot_terms(big, other, max_terms=100)
    assert len(other.collections[0].get_segments()) == 100


def test_plot_fit_shows_target_sum_and_report(ax):
    r = relusum.fit("x**2", (-1, 1), n_units=4)
    plot_fit(r, ax)
    title = ax.get_title()
    assert "4 units" in title and f"{r.report.max_abs_error:.3g}" in title
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert "target x**2" in labels and "sum of 4 ReLUs" in labels
    lo, hi = ax.get_ylim()
    assert lo <= 0.0 and hi >= 1.0  # the whole target is in view


def test_plot_fit_of_data_draws_the_points(ax):
    x = np.linspace(0, 1, 30)
    r = relusum.fit((x, x**2), n_units=3)
    plot_fit(r, ax, terms=False, title="")
    pts = [ln for ln in ax.get_lines() if ln.get_marker() == "."]
    assert len(pts) == 1 and len(pts[0].get_xdata()) == 30
    assert ax.get_title() == ""


def test_convergence_skips_missing_points_and_draws_an_n_minus_2_line(ax):
    units = [1, 2, 4, 8]
    plot_convergence(units, {"a": [1.0, np.nan, 0.1, 0.02], "b": [0.5, 0.2, 0.05, 0.0]}, ax=ax)
    a_line, b_line, ref = ax.get_lines()
    assert list(a_line.get_xdata()) == [1, 4, 8]  # NaN dropped
    assert list(b_line.get_xdata()) == [1, 2, 4]  # zero dropped (log axes)
    rx, ry = ref.get_data()
    slope = np.polyfit(np.log(rx), np.log(ry), 1)[0]
    assert slope == pytest.approx(-2.0)
    # Through the last point of the first method.
    assert np.interp(np.log(8), np.log(rx), np.log(ry)) == pytest.approx(np.log(0.02))
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_convergence_rejects_mismatched_lengths(ax):
    with pytest.raises(ValueError, match="2 values for 3 unit counts"):
        plot_convergence([1, 2, 3], {"m": [1.0, 0.5]}, ax=ax)


def test_bad_domain_is_a_precise_error(ax):
    with pytest.raises(ValueError, match="A < B"):
        plot_relusum(SUM, ax, domain=(1.0, 0.0))


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_save_figure_is_reproducible_and_atomic(tmp_path, suffix):
    def make():
        fig = Figure(figsize=(4, 3))
        with style():
            plot_relusum(SUM, fig.subplots())
        return fig

    p1 = save_figure(make(), tmp_path / f"a{suffix}")
    p2 = save_figure(make(), tmp_path / f"b{suffix}")
    assert p1.read_bytes() == p2.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"a{suffix}", f"b{suffix}"]
    if suffix == ".svg":
        text = p1.read_text()
        assert "<dc:date>" not in text
    if suffix == ".png":
        with Image.open(p1) as im:
            assert im.size[0] > 300 and im.size[1] > 200


def test_save_figure_rejects_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match="must end in"):
        save_figure(Figure(), tmp_path / "f.jpg")
    assert list(tmp_path.iterdir()) == []


def test_layer_output_matches_the_network_formula():
    rng = np.random.default_rng(3)
    a, b, w = rng.normal(size=(3, 5))
    x = np.linspace(-3, 3, 101)
    want = 0.7 + sum(w[i] * np.maximum(0.0, a[i] * x + b[i]) for i in range(5))
    np.testing.assert_allclose(layer_output(x, a, b, w, 0.7), want)


def test_layer_curves_beside_each_unit():
    ax = Figure(figsize=(12, 6)).subplots()
    a, b, w = [1.0, -1.0, 2.0], [1.0, 0.5, -1.0], [1.0, 2.0, -1.0]
    draw_layer(a, b, w, 0.5, (-2, 2), ax=ax)
    insets = ax.child_axes
    assert len(insets) == 4  # one per unit, one for the output
    for i in range(3):
        (line,) = insets[i].get_lines()[:1]
        x, y = line.get_data()
        np.testing.assert_allclose(y, np.maximum(0.0, a[i] * x + b[i]))
    out = insets[3].get_lines()[0]
    np.testing.assert_allclose(out.get_ydata(), layer_output(out.get_xdata(), a, b, w, 0.5))
    assert "faces left" in insets[1].get_title()


@pytest.mark.parametrize(
    "args, match",
    [
        (([1, 0], [0, 1], [1, 1], 0.0, (-1, 1)), "non-zero"),
        (([1], [0], [1], 0.0, (-1, 1)), "between 2 and 6"),
        (([1, 1], [0, 1], [1, 1], 0.0, (1, -1)), "A < B"),
    ],
)
def test_layer_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        draw_layer(*args, ax=Figure().subplots())


def test_neuron_input_count_checked():
    with pytest.raises(ValueError, match="between 2 and 5"):
        draw_neuron(Figure().subplots(), n_inputs=9)
