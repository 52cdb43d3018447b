"""relusum.tour and ``relusum tour``: real images, real fits, a self-contained page."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import relusum
from relusum.cli import main
from relusum.fitting.api import measure
from relusum.tour import (
    CONVERGENCE_UNITS,
    DEFAULT_TARGET,
    PANEL_UNITS,
    TRAIN_STEPS,
    convergence_units,
    make_tour,
    panel_units,
)

TARGET, DOMAIN, MAX_UNITS = "sin(2*x) + x", (0.0, 3.0), 20
#: The max-error optimal fit can take a second per unit count; it has its own test.
FAST = ("interpolation", "lstsq", "optimal_l2")
STILLS = ("relu", "shift", "neuron", "layer", "two_terms", "three_terms", "units", "convergence")


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour")
    return make_tour(
        TARGET, DOMAIN, out=out, max_units=MAX_UNITS, train=False, progress=False, methods=FAST
    )


def image_ok(path: Path, min_w: int = 400, min_h: int = 250) -> None:
    with Image.open(path) as im:
        w, h = im.size
        assert min_w <= w <= 4000 and min_h <= h <= 3000, (path.name, im.size)
        rgb = im.convert("RGB")
    px = np.asarray(rgb, dtype=np.float32)
    assert px.std() > 10, f"{path.name} looks blank"
    colors = rgb.getcolors(maxcolors=w * h)
    assert len(colors) > 20, f"{path.name} has only {len(colors)} colours"
    # Ink in the middle too, not only at the edges.
    mid = px[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
    assert mid.std() > 5, f"{path.name} is empty in the middle"


def test_every_figure_is_a_real_image(tour):
    assert set(STILLS) <= set(tour.figures)
    for name in STILLS:
        path = tour.figures[name]
        assert path.exists() and path.suffix == ".png" and path.parent == tour.out
        image_ok(path)
    assert "trained_units" not in tour.figures  # train=False


def test_files_listed_are_all_written(tour):
    on_disk = {p.name for p in tour.out.iterdir()}
    assert {p.name for p in tour.files} == on_disk  # no temporary files left behind
    assert tour.index.name == "index.html" and "convergence.csv" in on_disk


def test_gif_has_one_frame_per_unit_count(tour):
    gif = tour.figures["animation"]
    assert tour.frame_units == tuple(range(1, MAX_UNITS + 1))
    with Image.open(gif) as im:
        assert im.format == "GIF"
        assert im.n_frames == MAX_UNITS
        assert im.size[0] >= 400 and im.size[1] >= 250
        im.seek(0)
        first = np.asarray(im.convert("RGB"), dtype=float)
        im.seek(im.n_frames - 1)
        last = np.asarray(im.convert("RGB"), dtype=float)
    assert first.std() > 10 and last.std() > 10
    assert np.abs(first - last).mean() > 0.5  # the frames show different fits


def test_html_references_every_figure_and_no_url(tour):
    text = tour.index.read_text(encoding="utf-8")
    srcs = re.findall(r'<img src="([^"]+)"', text)
    assert sorted(srcs) == sorted(p.name for p in tour.figures.values())
    for src in srcs:
        assert (tour.out / src).is_file()
    assert 'href="convergence.csv"' in text
    low = text.lower()
    assert "http://" not in low and "https://" not in low
    assert "//" not in "".join(re.findall(r'(?:src|href)="([^"]*)"', text))
    assert TARGET in text
    for n in tour.panel_units:  # the table of the small multiples
        assert f"<td>{n}</td>" in text


def test_convergence_data_comes_from_real_fits(tour):
    conv = tour.convergence
    assert tuple(conv.units) == convergence_units(MAX_UNITS)
    for method in ("interpolation", "lstsq"):
        err = conv.max_error[method]
        assert np.all(np.isfinite(err))
        big = conv.units >= 3
        # The error falls as the units grow, by about n^-2 on this smooth target.
        assert np.all(np.diff(err[big]) < 0)
        assert err[-1] < err[0] / 50
        assert -2.3 < conv.slope(method) < -1.7
    # The numbers are those of relusum.fit, run again here.
    for n in (5, 15):
        k = int(np.flatnonzero(conv.units == n)[0])
        ls = relusum.fit(TARGET, DOMAIN, n_units=n)
        ip = relusum.fit(TARGET, DOMAIN, n_units=n, interpolate=True)
        assert conv.max_error["lstsq"][k] == ls.report.max_abs_error
        assert conv.rmse["lstsq"][k] == ls.report.rmse
        assert conv.max_error["interpolation"][k] == ip.report.max_abs_error


@pytest.mark.parametrize("loss", ["l2", "linf"])
def test_optimal_methods_are_used_when_they_exist(tmp_path, loss):
    key = f"optimal_{loss}"
    r = make_tour(
        "exp(x)", (0, 1), out=tmp_path, max_units=3, train=False, progress=False, methods=(key,)
    )
    conv = r.convergence
    try:
        ref = relusum.fit("exp(x)", (0, 1), n_units=3, knots="optimal", loss=loss)
    except (ValueError, ImportError) as exc:
        # Not available in this build: left out, and the page says why.
        assert key not in conv.methods and key in conv.unavailable
        assert str(exc).split(";")[0] in conv.unavailable[key]
        assert "Not shown here" in r.index.read_text()
        return
    assert conv.methods == [key]
    k = int(np.flatnonzero(conv.units == 3)[0])
    assert conv.max_error[key][k] == ref.report.max_abs_error
    assert conv.rmse[key][k] == ref.report.rmse


def test_csv_holds_the_plotted_numbers(tour):
    lines = (tour.out / "convergence.csv").read_text().splitlines()
    head = lines[0].split(",")
    assert head[0] == "units" and "lstsq_max_error" in head
    col = head.index("lstsq_max_error")
    values = [float(r.split(",")[col]) for r in lines[1:]]
    np.testing.assert_allclose(values, tour.convergence.max_error["lstsq"], rtol=1e-6)


def test_same_input_gives_the_same_files(tour, tmp_path, capsys):
    again = make_tour(
        TARGET, DOMAIN, out=tmp_path, max_units=MAX_UNITS, train=False, progress=True, methods=FAST
    )
    for p in tour.files:
        assert (again.out / p.name).read_bytes() == p.read_bytes(), p.name
    captured = capsys.readouterr()  # the progress bar goes to stderr only
    assert "relusum tour" in captured.err and captured.out == ""


def test_svg_figures_are_referenced_not_inlined(tmp_path, capsys):
    r = make_tour(
        "x**3",
        (-1, 1),
        out=tmp_path,
        max_units=3,
        fmt="svg",
        train=False,
        progress=False,
        methods=FAST,
    )
    assert capsys.readouterr().err == ""  # progress=False: silent
    for name in STILLS:
        assert r.figures[name].suffix == ".svg"
        assert r.figures[name].read_text().lstrip().startswith("<?xml")
    text = r.index.read_text()
    assert "<svg" not in text and "http" not in text.lower()
    assert '<img src="07_units.svg"' in text
    with Image.open(r.figures["animation"]) as im:
        assert im.n_frames == 3


def test_unit_counts():
    assert panel_units(100) == PANEL_UNITS
    assert panel_units(7) == (2, 3, 5, 7)
    assert panel_units(1) == (1,)
    assert panel_units(300)[-1] == 300
    assert convergence_units(500) == CONVERGENCE_UNITS
    assert convergence_units(1) == (1,)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"target": "sin(x)"}, "needs a domain"),
        ({"max_units": 0}, "between 1 and 500"),
        ({"max_units": 501}, "between 1 and 500"),
        ({"max_units": 2.5}, "integer"),
        ({"fmt": "jpg"}, "'png' or 'svg'"),
        ({"methods": ("lstsq", "magic")}, "methods must be some of"),
        ({"methods": ()}, "methods must be some of"),
        ({"target": "sin(", "domain": (0, 1)}, "syntax error"),
        ({"target": "log(x)", "domain": (-1, 1)}, "not finite"),
        ({"target": (np.zeros(3), np.ones(3)), "domain": (0, 1)}, "formula in x or a function"),
    ],
)
def test_bad_input_is_a_precise_error_and_writes_nothing(tmp_path, kwargs, match):
    out = tmp_path / "never"
    with pytest.raises(ValueError, match=match):
        make_tour(out=out, progress=False, train=False, **kwargs)
    assert not out.exists()


def test_out_must_be_a_folder(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        make_tour("x**2", (0, 1), out=f, max_units=2, train=False, progress=False)


@pytest.mark.parametrize(
    "argv",
    [
        ["tour", "--target", "sin(", "--domain", "0", "1"],
        ["tour", "--target", "__import__('os')", "--domain", "0", "1"],
        ["tour", "--target", "sin(x)"],
        ["tour", "--max-units", "0"],
        ["tour", "--max-units", "900"],
        ["tour", "--format", "gif"],
    ],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, argv):
    out = tmp_path / "t"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("relusum")
    assert "Traceback" not in err
    assert not out.exists()


def test_cli_writes_and_says_where(tmp_path, capsys):
    out = tmp_path / "t"
    code = main(
        [
            "tour",
            "--target",
            "exp(-x**2)",
            "--domain",
            "-2",
            "2",
            "--out",
            str(out),
            "--max-units",
            "4",
            "--no-train",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert str(out / "index.html") in printed
    for name in ("01_relu.png", "07_units.png", "09_adding_units.gif"):
        assert str(out / name) in printed and (out / name).is_file()


@pytest.mark.torch
def test_trained_networks_join_when_the_bridge_exists(tmp_path):
    pytest.importorskip("torch")
    bridge = pytest.importorskip("relusum.torch_bridge")
    if not hasattr(bridge, "train"):
        pytest.skip("relusum.torch_bridge has no train()")
    r = make_tour(
        TARGET, DOMAIN, out=tmp_path, max_units=2, train=True, progress=False, methods=("lstsq",)
    )
    conv = r.convergence
    assert conv.methods == ["lstsq", "trained"]
    k = int(np.flatnonzero(conv.units == 2)[0])
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the tour trains: same arithmetic, no idle spinning
    try:
        again = bridge.train(TARGET, DOMAIN, 2, steps=TRAIN_STEPS, seed=0, progress=False)
    finally:
        torch.set_num_threads(threads)
    rmse, mae, _ = relusum.fitting.api.measure(
        again.relusum.with_domain(DOMAIN), relusum.make_target(TARGET, DOMAIN)
    )
    assert conv.max_error["trained"][k] == pytest.approx(mae, rel=1e-9)
    assert "trained_units" in r.figures
    image_ok(r.figures["trained_units"])


@pytest.mark.slow
def test_default_tour(tmp_path):
    r = make_tour(out=tmp_path, train=False, progress=False)
    assert r.target == DEFAULT_TARGET
    assert r.panel_units == PANEL_UNITS and r.frame_units == tuple(range(1, 101))
    assert -2.2 < r.convergence.slope("lstsq") < -1.8
    image_ok(r.figures["units"], min_w=1000, min_h=600)
    with Image.open(r.figures["animation"]) as im:
        assert im.n_frames == 100
    assert "<pre>relusum tour --no-train</pre>" in r.index.read_text()  # how to make it again


# ------------------------------------------------------------------ issue 9, item 7
def gif_durations(path: Path) -> list[int]:
    with Image.open(path) as im:
        out = []
        for k in range(im.n_frames):
            im.seek(k)
            out.append(int(im.info["duration"]))
    return out


def test_animation_adds_one_unit_per_frame_where_the_error_is_largest(tour):
    """Each frame keeps the knots before it and adds one, in the worst piece; RMS never rises."""
    frames = tour.frames
    assert [f.n_units for f in frames] == list(range(1, MAX_UNITS + 1))
    tgt = relusum.make_target(TARGET, DOMAIN)
    a, b = DOMAIN
    x = np.linspace(a, b, 20_001)  # an independent grid
    assert frames[0].model.knots.tolist() == [a]
    for prev, cur in zip(frames, frames[1:]):
        old, new = prev.model.knots, cur.model.knots
        added = np.setdiff1d(new, old)
        assert np.all(np.isin(old, new)) and added.size == 1 and new.size == old.size + 1
        assert cur.new_knot == added[0]
        # The new knot splits the piece of the previous sum with the largest error (a tie
        # within 0.1% when the peak sits on a knot, shared by two pieces), in its middle.
        xs = np.union1d(x, old)
        err = np.abs(prev.model(xs) - tgt.evaluate(xs))
        edges = np.concatenate((old, [b]))
        k = int(np.searchsorted(edges, added[0])) - 1
        piece = err[(xs >= edges[k]) & (xs <= edges[k + 1])].max()
        assert piece >= (1 - 1e-3) * err.max()
        assert added[0] == pytest.approx(0.5 * (edges[k] + edges[k + 1]))
    # The weights are least squares with those knots: nothing beats them on the samples.
    rng = np.random.default_rng(0)
    for f in (frames[4], frames[-1]):
        s = f.model
        base = np.sum((s(tgt.x) - tgt.y) ** 2)
        for _ in range(5):
            nudged = relusum.ReluSum(
                s.bias + 1e-3 * rng.normal(), s.knots, s.weights + 1e-3 * rng.normal(size=s.n_units)
            )
            assert np.sum((nudged(tgt.x) - tgt.y) ** 2) > base
        rmse, mae, _ = measure(s, tgt)
        assert f.rmse == pytest.approx(rmse, rel=1e-12) and f.max_error == mae
    rmse = np.array([f.rmse for f in frames])
    assert np.all(np.diff(rmse) <= 0), "the RMS error rose from one frame to the next"
    assert rmse[-1] < rmse[0] / 20


@pytest.mark.parametrize(
    "target, domain", [("x*sin(x)", (0, 10)), ("sqrt(x)", (0, 1)), ("tanh(20*x)", (-1, 1))]
)
def test_units_one_at_a_time_never_raise_the_error(target, domain):
    from relusum.tour.frames import grow
    from relusum.tour.progress import Progress

    frames = grow(relusum.make_target(target, domain), 60, Progress(0, False))
    rmse = np.array([f.rmse for f in frames])
    assert np.all(np.diff(rmse) <= 0)
    assert all(np.isin(p.model.knots, f.model.knots).all() for p, f in zip(frames, frames[1:]))


def test_animation_loops_within_20_seconds(tour):
    from relusum.tour.animation import durations

    d = gif_durations(tour.figures["animation"])
    assert len(d) == MAX_UNITS and sum(d) <= 20_000
    for n in (1, 5, 20, 100, 250, 500):
        ms = durations(n)
        assert len(ms) == n and sum(ms) <= 20_000 and min(ms) >= 20
        assert all(m % 10 == 0 for m in ms)  # what a GIF can store


def test_convergence_text_states_measured_slopes_and_factors(tour):
    """Optimal knots: the same n^-2 rate and a constant factor, with the measured numbers."""
    conv = tour.convergence
    text = re.sub(r"<[^>]+>", "", tour.index.read_text())
    text = text.replace("&minus;", "-")
    # The factor, computed here from the plotted numbers.
    n = conv.units
    keep = n >= max(3, n.max() / 10)
    ratio = conv.rmse["lstsq"][keep] / conv.rmse["optimal_l2"][keep]
    factor = float(np.exp(np.mean(np.log(ratio))))
    assert 1.1 < factor < 5
    slopes = [
        np.polyfit(np.log(n[keep]), np.log(conv.rmse[m][keep]), 1)[0]
        for m in ("optimal_l2", "lstsq")
    ]
    assert abs(slopes[0] - slopes[1]) < 0.25  # the same rate, as the text says
    assert f"{factor:.2g} times smaller on average" in text
    assert f"{ratio[0]:.2g} times at n = {n[keep][0]}" in text
    assert f"{ratio[-1]:.2g} times at n = {n[keep][-1]}" in text
    assert f"slope {slopes[0]:.2f} and {slopes[1]:.2f} in RMS error" in text
    assert "the same n-2 rate" in text and "roughly constant factor" in text
    assert "Knots placed where the curve bends most lower the error further" not in text


def test_convergence_factor_is_computed_not_written_in(tmp_path):
    """A different target gives a different factor in the text."""
    texts = []
    for k, (t, d) in enumerate((("exp(x)", (0, 2)), ("sin(2*x) + x", (0, 3)))):
        r = make_tour(
            t,
            d,
            out=tmp_path / str(k),
            max_units=12,
            train=False,
            progress=False,
            methods=("lstsq", "optimal_l2"),
        )
        c = r.convergence.compare("optimal_l2", "lstsq", "rmse")
        assert c is not None
        page = r.index.read_text()
        assert f"{c.factor:.2g} times smaller on average" in page
        texts.append(f"{c.factor:.2g}")
    assert texts[0] != texts[1]


def label_boxes_on_lines(fig) -> list[str]:
    """Texts (and legends) of ``fig`` whose box covers a point of a drawn line of their axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Annotation, Text

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rend = canvas.get_renderer()
    bad = []
    for ax in fig.axes:
        pts = []
        for line in ax.get_lines():
            if line.get_linestyle() in ("None", "", " ") or not line.get_visible():
                continue
            xy = line.get_transform().transform(line.get_xydata())
            for p, q in zip(xy[:-1], xy[1:]):
                t = np.linspace(0, 1, max(2, int(np.hypot(*(q - p)))))[:, None]
                pts.append(p + t * (q - p))
        if not pts:
            continue
        pts = np.concatenate(pts)
        boxes = [
            (t.get_text(), Text.get_window_extent(t, rend))
            for t in ax.texts
            if t.get_text() and (not isinstance(t, Annotation) or True)
        ]
        leg = ax.get_legend()
        if leg is not None:
            boxes.append(("legend", leg.get_window_extent(rend)))
        for name, bb in boxes:
            inside = (
                (pts[:, 0] > bb.x0)
                & (pts[:, 0] < bb.x1)
                & (pts[:, 1] > bb.y0)
                & (pts[:, 1] < bb.y1)
            )
            if inside.any():
                bad.append(name)
    return bad


@pytest.mark.parametrize("name", ["relu", "shift", "terms2", "terms3"])
def test_no_label_sits_on_a_line(name):
    from relusum.tour import _figures, story

    make = {
        "relu": story.fig_relu,
        "shift": story.fig_shift,
        "terms2": lambda: story.fig_terms(2),
        "terms3": lambda: story.fig_terms(3),
    }[name]
    with _figures():
        fig = make()
        assert label_boxes_on_lines(fig) == []


@pytest.mark.parametrize("k", [2, 3])
def test_term_figures_start_left_of_the_first_knot(k):
    from relusum.tour import _figures, story

    _, knots, weights, _ = story.TERM_EXAMPLES[k]
    with _figures():
        fig = story.fig_terms(k)
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    assert lo < knots[0] - 0.15 * (hi - lo)  # a visible stretch before the first knot
    # Term 1 is drawn there, at zero, and then rises with its weight.
    term1 = next(line for line in ax.get_lines() if line.get_label().startswith("term 1"))
    x, y = (np.asarray(v, float) for v in term1.get_data())
    assert x[0] == lo and y[0] == 0.0 and x[1] == knots[0] and y[1] == 0.0
    assert y[-1] == pytest.approx(weights[0] * (hi - knots[0]))
    assert "slope 0" in [t.get_text() for t in ax.texts]


def test_no_panel_cuts_off_its_curve():
    """The 5-unit sum of x*sin(x) peaks above the target: its panel must still hold it."""
    from relusum.tour import _figures, results

    tgt = relusum.make_target(DEFAULT_TARGET, (0, 10))
    fits = [relusum.fit(DEFAULT_TARGET, (0, 10), n_units=n) for n in (2, 3, 5, 10)]
    assert fits[2].model(fits[2].model.knots).max() > tgt.evaluate(np.linspace(0, 10, 999)).max()
    with _figures():
        fig = results.fig_units(tgt, fits)
    tops = [ax for ax in fig.axes if ax.get_ylabel() == "f(x)" or ax.get_title(loc="left")]
    assert len(tops) == len(fits)
    for ax in tops:
        lo, hi = ax.get_ylim()
        for line in ax.get_lines():
            y = np.asarray(line.get_ydata(), float)
            assert lo < y.min() and y.max() < hi, ax.get_title(loc="left")


@pytest.mark.torch
def test_trained_figure_shows_the_target_and_a_legend_off_the_data():
    pytest.importorskip("torch")
    from relusum import torch_bridge
    from relusum.tour import _figures, results

    t, d = "x*sin(x)", (0.0, 10.0)
    tgt = relusum.make_target(t, d)
    net = torch_bridge.train(t, d, 8, steps=150, seed=0, progress=False)
    optimal = relusum.fit(t, d, n_units=8).model
    with _figures():
        fig = results.fig_trained(torch_bridge.plot_units, {8: net}, {8: optimal}, tgt)
    ax = fig.axes[0]
    target = [line for line in ax.get_lines() if line.get_label().startswith("target")]
    assert len(target) == 1
    x, y = (np.asarray(v, float) for v in target[0].get_data())
    np.testing.assert_allclose(y, tgt.evaluate(x))
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rend = canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(rend)
    assert not legend.overlaps(ax.get_window_extent(rend))  # beside the plot, not on it
    assert legend.x1 <= fig.bbox.width + 1  # and inside the picture
    assert "target" in [text.get_text().split()[0] for text in ax.get_legend().get_texts()]


# ------------------------------------------------------------------ issue 9, item 6
@pytest.fixture()
def no_torch(monkeypatch):
    """Make ``import torch`` fail, as on an install without the extra."""
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.delitem(sys.modules, "relusum.torch_bridge", raising=False)


def test_without_torch_the_tour_says_how_to_get_the_trained_curve(tmp_path, no_torch, capsys):
    from relusum.tour.training import TORCH_HINT

    out = tmp_path / "t"
    assert (
        main(
            [
                "tour",
                "--target",
                "x**2",
                "--domain",
                "0",
                "1",
                "--max-units",
                "3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr()
    hint = [line for line in printed.out.splitlines() if "relusum[torch]" in line]
    assert len(hint) == 1 and "pip install 'relusum[torch]'" in hint[0]
    assert "No module named" not in printed.out + printed.err
    page = (out / "index.html").read_text()
    assert "pip install &#x27;relusum[torch]&#x27;" in page or TORCH_HINT in page
    assert "No module named" not in page
    assert page.count("relusum[torch]") == 1
    assert not (out / "08b_trained_units.png").exists()


def test_workers_give_the_same_files(tmp_path):
    """Optimal fits in worker processes or here: byte for byte the same tour."""
    kw = dict(max_units=12, train=False, progress=False, methods=("lstsq", "optimal_l2"))
    here = make_tour(TARGET, DOMAIN, out=tmp_path / "here", workers=0, **kw)
    there = make_tour(TARGET, DOMAIN, out=tmp_path / "there", workers=2, **kw)
    assert [p.name for p in here.files] == [p.name for p in there.files]
    for p, q in zip(here.files, there.files):
        assert p.read_bytes() == q.read_bytes(), p.name
    with pytest.raises(ValueError, match="workers"):
        make_tour(TARGET, DOMAIN, out=tmp_path / "never", workers=-1, **kw)
