"""Targets: CSV reading, domains, samples and the verification grid."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from relusum import Data, read_csv
from relusum.targets import MIN_VERIFY, make_target, parse_domain, verification_grid


def write(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_by_header_name_and_index(tmp_path):
    p = write(tmp_path, "t,noise,v\n2,9,4\n0,9,0\n1,9,1\n")
    d = read_csv(p, x="t", y="v")
    np.testing.assert_array_equal(d.x, [0, 1, 2])
    np.testing.assert_array_equal(d.y, [0, 1, 4])
    d2 = read_csv(p, x=0, y="2")
    np.testing.assert_array_equal(d2.y, d.y)
    assert "v vs t" in d.name


def test_csv_without_header(tmp_path):
    p = write(tmp_path, "0,1\n1,3\n\n2,5\n")
    d = read_csv(p)
    np.testing.assert_array_equal(d.y, [1, 3, 5])
    with pytest.raises(ValueError, match="no header"):
        read_csv(p, x="x", y="y")


@pytest.mark.parametrize(
    "text, kwargs, match",
    [
        ("x,y\n0,1\n", dict(x="x", y="z"), "no column 'z'.*columns are: x, y"),
        ("x,y\n0,1\n", dict(x=0, y=5), "column 5 does not exist"),
        ("x,y\n0,nan\n1,2\n", dict(x="x", y="y"), "y contains nan"),
        ("x,y\n0,1\n1,inf\n", dict(x="x", y="y"), "y contains inf"),
        ("x,y\n0,abc\n", dict(x="x", y="y"), "row 2: cannot read a number"),
        ("x,y\n", dict(x="x", y="y"), "no data rows"),
        ("", dict(), "empty"),
        ("x,y\n0,1\n1\n", dict(x="x", y="y"), "row 3"),
    ],
)
def test_csv_errors(tmp_path, text, kwargs, match):
    with pytest.raises(ValueError, match=match):
        read_csv(write(tmp_path, text), **kwargs)


def test_csv_unreadable(tmp_path):
    with pytest.raises(ValueError, match="cannot read CSV"):
        read_csv(tmp_path / "missing.csv")
    p = tmp_path / "bin.csv"
    p.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(ValueError, match="CSV"):
        read_csv(p)


def test_pwlf_example_data():
    p = Path(__file__).parent / "data" / "pwlf_example.csv"
    d = read_csv(p, x="x", y="y")
    assert d.x.size == 59 and d.n_distinct == 55
    assert np.all(np.diff(d.x) >= 0)


@pytest.mark.parametrize(
    "domain, want",
    [
        (("-pi", "pi"), (-math.pi, math.pi)),
        ((0, "2*pi"), (0.0, 2 * math.pi)),
        (("-1e-3", "1e-3"), (-1e-3, 1e-3)),
        ((-8, 8), (-8.0, 8.0)),
    ],
)
def test_parse_domain(domain, want):
    assert parse_domain(domain) == pytest.approx(want)


@pytest.mark.parametrize(
    "domain, match",
    [
        ((1, 0), "reversed"),
        ((2, 2), "empty"),
        (("0", "x"), "x"),
        ((0, "1/0"), "finite"),
        ((0, 1, 2), "two numbers"),
        ("ab", "two numbers"),
        ((0, "inf"), "unknown name 'inf'"),
    ],
)
def test_parse_domain_errors(domain, match):
    with pytest.raises(ValueError, match=match):
        parse_domain(domain)


def test_function_samples_default_and_custom():
    t = make_target("x", (0, 1))
    assert t.x.size == 2000 and t.x[0] == 0 and t.x[-1] == 1
    t = make_target("x", (0, 1), samples=7)
    np.testing.assert_allclose(t.x, np.linspace(0, 1, 7))
    with pytest.raises(ValueError, match="integer"):
        make_target("x", (0, 1), samples=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="samples= applies to functions"):
        make_target(([0, 1], [0, 1]), samples=10)


def test_verification_grid_offset_and_size():
    g = verification_grid((0.0, 1.0), 2000, extra=[0.5, 2.0])
    assert g.size >= MIN_VERIFY and g[0] == 0.0 and g[-1] == 1.0
    assert 0.5 in g and 2.0 not in g
    assert np.all(np.diff(g) > 0)
    samples = np.linspace(0, 1, 2000)
    assert np.isin(samples[1:-1], g).sum() <= 1
    assert verification_grid((0.0, 1.0), 10_000).size >= 200_000


def test_data_domain_defaults_to_range():
    t = make_target(([3, 1, 2], [0, 0, 0]))
    assert t.domain == (1.0, 3.0) and t.kind == "data"
    vx, vy = t.verification()
    np.testing.assert_array_equal(vx, [1, 2, 3])


def test_data_validation():
    with pytest.raises(ValueError, match="same length"):
        Data([0, 1], [0])
    with pytest.raises(ValueError, match="non-negative"):
        Data([0, 1], [0, 1], weight=[1, -1])
    with pytest.raises(ValueError, match="zero everywhere"):
        Data([0, 1], [0, 1], weight=[0, 0])


def test_verification_grid_is_the_sorted_union():
    # The grid inserts the ends and the extra points into the uniform grid
    # without sorting it: the same set as np.unique of everything, also for
    # extras on grid points, repeated, at the ends or outside the domain.
    from relusum.targets import _OFFSET

    rng = np.random.default_rng(7)
    for _ in range(40):
        a = float(rng.uniform(-5.0, 0.0))
        b = a + float(rng.uniform(0.01, 10.0))
        samples = int(rng.integers(2, 9000))
        m = max(MIN_VERIFY, 20 * samples)
        grid = a + (np.arange(m) + _OFFSET) * ((b - a) / m)
        extra = np.concatenate(
            (rng.uniform(a - 1.0, b + 1.0, 5), rng.choice(grid, 3), [a, b, a, 0.5 * (a + b)])
        )
        inside = extra[(extra >= a) & (extra <= b)]
        want = np.unique(np.concatenate((grid, [a, b], inside)))
        got = verification_grid((a, b), samples, extra)
        assert got.shape == want.shape and np.array_equal(got, want)


def test_fit_x_y_as_two_arguments_says_how_to_pass_data():
    """relusum.fit(x, y) (the NumPy habit) names the pair form instead of a domain error."""
    import relusum

    x = np.linspace(0.0, 1.0, 50)
    with pytest.raises(ValueError, match=r"pass data as one pair, e\.g\. relusum\.fit\(\(x, y\)"):
        relusum.fit(x, x**2, n_units=3)
    with pytest.raises(ValueError, match="pass data as one pair"):
        relusum.fit(list(x), list(x**2), n_units=3)
    r = relusum.fit((x, x**2), n_units=3)  # the pair form works
    assert r.report.n_units == 3


@pytest.mark.parametrize(
    ("expr", "domain"),
    [("gelu(x)", (-8.0, 8.0)), ("sqrt(x)", (0.0, 1.0)), ("x", (1e15, 1e15 + 1024))],
)
def test_verification_reuses_the_grid_and_equals_the_plain_grid(expr, domain):
    from relusum.targets import verification_grid

    t = make_target(expr, domain)
    rng = np.random.default_rng(3)
    grid = verification_grid(domain, t.x.size)
    extras = [
        (),
        rng.uniform(domain[0] - 1, domain[1] + 1, 20),
        np.array([domain[0], domain[1], domain[0]]),
        grid[[5, 7, 7]],  # already on the grid
    ]
    for _ in range(2):  # first call fills the cache, second reuses it
        for extra in extras:
            g = verification_grid(domain, t.x.size, extra)
            x, y = t.verification(extra)
            assert np.array_equal(x, g)
            assert np.array_equal(y, t.evaluate(g))
    x, y = t.verification()
    assert not x.flags.writeable and not y.flags.writeable  # the cache cannot be altered


@pytest.mark.parametrize("fn", ["sin(x)/x", lambda x: math.sin(x) / x])
def test_verification_measures_beside_extra_points_where_the_target_is_undefined(fn):
    # sin(x)/x is nan at 0 (math.sin(x) / x raises there); the grid misses 0,
    # a uniform knot does not.  The knot is replaced by the nearest floats on
    # either side (its limit 1 is approached there), the other knots stay.
    t = make_target(fn, (-1.0, 1.0))
    x, y = t.verification([-0.5, 0.0, 0.5])
    plain_x, _ = t.verification()
    tiny = np.nextafter(0.0, 1.0)
    assert 0.0 not in x and -0.5 in x and 0.5 in x and tiny in x and -tiny in x
    assert x.size == plain_x.size + 4 and np.all(np.isfinite(y)) and np.all(np.diff(x) > 0)
    assert y[np.flatnonzero(x == 0.5)[0]] == math.sin(0.5) / 0.5
    assert y[np.flatnonzero(x == tiny)[0]] == 1.0
    with pytest.raises(ValueError, match="not finite|cannot be evaluated"):
        t.evaluate(np.array([0.0]))  # the samples themselves are still checked
    # A pole is refused as before: beside it the values leave the grid's range.
    for expr, at in (("1/x", "0"), ("1/(x - 0.5)", "0.5"), ("1/sqrt(abs(x - 0.5))", "0.5")):
        with pytest.raises(ValueError, match=f"not finite at x = {at}"):
            make_target(expr, (-1.0, 1.0)).verification([-0.5, float(at)])
    # A hole in a jump is measured on both sides.
    x, y = make_target("x/abs(x)", (-1.0, 1.0)).verification([0.0])
    assert 0.0 not in x and sorted(set(y[np.abs(x) < 1e-300].tolist())) == [-1.0, 1.0]


@pytest.mark.parametrize("n", [2, 4])
def test_uniform_knot_fit_of_a_target_undefined_at_a_knot(n):
    # With an even number of units a uniform knot lies on 0: these fits failed
    # with "not finite at x = 0" (as in 0.1.0) although the fit never needs
    # the value there.
    import relusum

    r = relusum.fit("sin(x)/x", domain=(-1, 1), n_units=n)
    assert 0.0 in r.model.knots.tolist()
    d = np.linspace(-1, 1, 200_000)  # even count: misses 0
    assert r.report.max_abs_error == pytest.approx(
        float(np.max(np.abs(r.model(d) - np.sin(d) / d))), rel=1e-3
    )
    with pytest.raises(ValueError, match="not finite at x = 0"):
        relusum.fit("sin(x)/x", domain=(-1, 1), n_units=n, interpolate=True)
