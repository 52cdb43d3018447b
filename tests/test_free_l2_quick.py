"""``search="quick"``: the reduced free-knot least-squares search (issue 11 item 5)."""

import json

import numpy as np
import pandas as pd
import pytest

import relusum
from relusum.cli import main
from relusum.fitting.free_l2.plan import PLANS, SearchPlan
from relusum.fitting.hat import _solve_tridiagonal_spd


def _problem(seed):
    """Seeded data: smooth, kinked and noisy shapes, 150 to 900 points, 3 to 10 units."""
    rng = np.random.default_rng(seed)
    npts = int(rng.integers(150, 900))
    x = np.sort(rng.uniform(0.0, 1.0, npts))
    kind = seed % 3
    if kind == 0:
        f = np.sin((3 + 9 * rng.uniform()) * x)
    elif kind == 1:
        h = np.sort(rng.uniform(0, 1, 6))
        f = np.maximum(0.0, x[:, None] - h[None, :]) @ rng.normal(0, 3, 6)
    else:
        f = np.exp(2 * x)
    y = f + (0.01, 0.1, 0.3)[seed % 3] * rng.standard_normal(npts)
    return x, y, int(rng.integers(3, 11))


def _ssr(r, x, y):
    res = r.model(x) - y
    return float(res @ res)


def _segmentation_lower_bound(x, y, pieces):
    """The least SSR of any *discontinuous* piecewise-linear fit with ``pieces`` pieces.

    A continuous fit with ``n`` free knots has at most ``n + 1`` linear pieces,
    so this exact dynamic program (cuts between any samples) bounds every
    free-knot SSR from below.
    """
    n = x.size
    p = [np.concatenate(([0.0], np.cumsum(v))) for v in (np.ones(n), x, x * x, y, x * y, y * y)]
    i, j = np.triu_indices(n + 1, 1)
    s0, s1, s2, s3, s4, s5 = (q[j] - q[i] for q in p)
    with np.errstate(divide="ignore", invalid="ignore"):
        sxx = s2 - s1 * s1 / s0
        sxy = s4 - s1 * s3 / s0
        syy = s5 - s3 * s3 / s0
        cost = np.where(sxx > 1e-14 * np.maximum(s2, 1e-300), syy - sxy * sxy / sxx, 0.0)
    seg = np.full((n + 1, n + 1), np.inf)
    seg[i, j] = np.maximum(cost, 0.0)
    best = seg[0].copy()  # one piece: samples [0, j)
    for _ in range(pieces - 1):
        best = np.minimum(best, np.min(best[:, None] + seg, axis=0))
    return float(best[n])


def test_default_is_the_thorough_search_unchanged():
    assert PLANS["thorough"] == SearchPlan()  # every start and move, as before
    assert PLANS["thorough"].envelopes == ((8, 32), (16, 64))
    assert PLANS["thorough"].envelope_shapes == (True, False)
    assert PLANS["thorough"].hops == 8 and PLANS["thorough"].other_shape is None
    x, y, n = _problem(4)
    a = relusum.fit((x, y), n_units=n, knots="optimal", progress=False)
    b = relusum.fit((x, y), n_units=n, knots="optimal", progress=False, search="thorough")
    np.testing.assert_array_equal(a.model.knots, b.model.knots)
    np.testing.assert_array_equal(a.model.weights, b.model.weights)
    assert a.report.extra["search"] == "thorough"


@pytest.mark.parametrize("seed", range(6))
def test_quick_is_close_to_thorough_and_above_a_lower_bound(seed):
    x, y, n = _problem(seed)
    kw = {"n_units": n, "knots": "optimal", "progress": False}
    thorough = relusum.fit((x, y), **kw)
    quick = relusum.fit((x, y), search="quick", **kw)
    assert quick.report.extra["search"] == "quick"
    q, t = _ssr(quick, x, y), _ssr(thorough, x, y)
    floor = 1e-12 * float(np.sum((y - y.mean()) ** 2))
    # the stated factor: quick's SSR is at most 1.25 x the thorough search's
    assert q <= 1.25 * t + floor
    # no free-knot fit beats the exact discontinuous segmentation with n + 1 pieces
    lower = _segmentation_lower_bound(x, y, n + 1)
    assert q >= lower * (1 - 1e-9) - floor
    assert t >= lower * (1 - 1e-9) - floor
    # never worse than uniform knots, like the thorough search
    uniform = relusum.fit((x, y), n_units=n)
    assert q <= _ssr(uniform, x, y) * (1 + 1e-12) + floor


def test_lower_bound_is_tight_on_one_piece():
    x = np.linspace(0, 1, 30)
    y = x**2
    line = np.polyval(np.polyfit(x, y, 1), x) - y
    assert _segmentation_lower_bound(x, y, 1) == pytest.approx(float(line @ line), rel=1e-9)


def _table(n_curves=5, per=200, seed=2):
    rng = np.random.default_rng(seed)
    cid = np.repeat(np.arange(n_curves), per)
    t = rng.uniform(0, 1, cid.size)
    v = np.sin(6 * t) * (1 + cid % 3) + 0.05 * rng.standard_normal(cid.size)
    return pd.DataFrame({"curve": cid, "t": t, "v": v})


@pytest.mark.parametrize("jobs", [1, 2])
def test_fit_many_quick_equals_single_quick_fits(jobs):
    df = _table()
    out = relusum.fit_many(
        df,
        by="curve",
        x="t",
        y="v",
        n_units=5,
        knots="optimal",
        search="quick",
        n_jobs=jobs,
        progress=False,
    )
    for _, row in out.iterrows():
        part = df[df["curve"] == row["curve"]]
        xs, ys = part["t"].to_numpy(), part["v"].to_numpy()
        r = relusum.fit((xs, ys), n_units=5, knots="optimal", search="quick", progress=False)
        grid = np.linspace(*r.model.domain, 201)
        ref = r.model(grid)
        assert np.max(np.abs(row["model"](grid) - ref)) <= 1e-9 * np.max(np.abs(ref))
        assert row["rmse"] == pytest.approx(r.report.rmse, rel=1e-9)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"search": "fast"}, "search must be 'thorough' or 'quick'"),
        ({"search": None}, "search must be 'thorough' or 'quick'"),
        ({"search": "quick"}, "search='quick' applies to free-knot least squares"),
        ({"search": "quick", "knots": "optimal", "loss": "linf"}, "search='quick' applies"),
        ({"search": "quick", "knots": "optimal", "monotone": "increasing"}, "search='quick'"),
        ({"search": "quick", "knots": "optimal", "n_units": "auto"}, "search='quick'"),
    ],
)
def test_fit_refuses_bad_search(kw, match):
    x, y, _ = _problem(1)
    kw = {"n_units": 4, **kw}
    with pytest.raises(ValueError, match=match):
        relusum.fit((x, y), progress=False, **kw)


@pytest.mark.parametrize(
    "kw",
    [
        {"search": "fast", "knots": "optimal"},
        {"search": "quick"},
        {"search": "quick", "knots": "optimal", "loss": "linf"},
    ],
)
def test_fit_many_refuses_bad_search(kw):
    with pytest.raises(ValueError, match="search"):
        relusum.fit_many(_table(2), by="curve", x="t", y="v", n_units=3, **kw)


def test_cli_search_flag(tmp_path, capsys):
    x, y, _ = _problem(2)
    src = tmp_path / "d.csv"
    pd.DataFrame({"x": x, "y": y}).to_csv(src, index=False)
    base = ["fit", "--data", str(src), "--units", "5", "--knots", "optimal", "--json"]
    assert main([*base, "--search", "quick"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["search"] == "quick"
    ref = relusum.fit((x, y), n_units=5, knots="optimal", search="quick", progress=False)
    assert payload["rmse"] == pytest.approx(ref.report.rmse, rel=1e-12)
    assert main(base) == 0
    assert json.loads(capsys.readouterr().out)["search"] == "thorough"
    for bad in (["--search", "fast"], ["--search", "quick", "--knots", "uniform"]):
        with pytest.raises(SystemExit) as exc:
            rc = main([*base, *bad])
            raise SystemExit(rc)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "search" in err and "Traceback" not in err


def test_cli_many_curves_quick(tmp_path, capsys):
    df = _table(4, 150)
    src = tmp_path / "c.parquet"
    df.to_parquet(src)
    out = tmp_path / "m.parquet"
    args = ["fit", "--data", str(src), "--by", "curve", "--x", "t", "--y", "v", "--units", "4"]
    rc = main([*args, "--knots", "optimal", "--search", "quick", "--out", str(out), "--quiet"])
    assert rc == 0
    capsys.readouterr()
    table = pd.read_parquet(out)
    m = relusum.ReluSum.from_dict(json.loads(table["model"][1]))
    part = df[df["curve"] == 1]
    ref = relusum.fit(
        (part["t"].to_numpy(), part["v"].to_numpy()),
        n_units=4,
        knots="optimal",
        search="quick",
        progress=False,
    ).model
    np.testing.assert_allclose(m.knots, ref.knots, rtol=1e-12)


def test_singular_hat_system_falls_back_to_least_squares():
    # Found by a reduced search: knots 9e-9 apart next to an empty piece make the
    # penalised banded system not positive definite to rounding (it raised
    # LinAlgError); normal equations are consistent, so the fallback solves them.
    diag = np.array(
        [
            106.69531249999994,
            7.788438024613041,
            7.610494105098038,
            1.9586639075704053,
            2.2680230220238653,
            2.040225356124727,
            2.156341646155234,
            0.1479903586360104,
            0.378600058109651,
            0.0,
            0.9219106035068344,
            1.001587085443449,
        ]
    )
    off = np.array(
        [
            0.3046875,
            3.648190185144461,
            0.0,
            0.8937556175256718,
            0.10495788700772808,
            0.7896595295294845,
            0.0,
            0.2367047916271693,
            0.0,
            0.0,
            0.03825115552485834,
        ]
    )
    rhs = np.array(
        [
            0.1875,
            11.553815709757503,
            11.258684290242499,
            5.704839050192154,
            6.652629104767873,
            8.804528317985818,
            8.838003527054155,
            1.154085450789539,
            1.845914549210461,
            0.0,
            3.840647036126771,
            4.159352963873229,
        ]
    )
    t = np.array(
        [
            0.0,
            0.7340277777777777,
            0.7451388888888888,
            0.8971203342336234,
            0.9005069868662023,
            0.9379298305632215,
            0.9453257079980961,
            0.9791886778169121,
            0.980557417120107,
            0.9895833397881625,
            0.9895833488790715,
            0.9927674223857365,
            1.0,
        ]
    )
    c = _solve_tridiagonal_spd(diag, off, rhs, t, True)
    a = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)
    assert np.all(np.isfinite(c))
    assert np.linalg.norm(a @ c - rhs) <= 1e-9 * np.linalg.norm(rhs)
