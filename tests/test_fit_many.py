"""fit_many: batched fixed-knot fits of many curves equal single fits."""

import numpy as np
import pandas as pd
import pytest

import relusum
from relusum.fitting.batch import BatchSummary


def _table(n_curves=40, per=150, seed=1):
    rng = np.random.default_rng(seed)
    cid = np.repeat(np.arange(n_curves), per)
    t = rng.uniform(0, 1, cid.size) * (1 + cid % 3)
    v = np.sin(5 * t) + 0.1 * cid + 0.05 * rng.standard_normal(cid.size)
    perm = rng.permutation(cid.size)  # curves interleaved, rows unsorted
    names = np.array([f"s{i:03d}" for i in range(n_curves)])
    return pd.DataFrame({"curve": names[cid[perm]], "t": t[perm], "v": v[perm]})


def _check_against_single_fits(df, out, **kw):
    assert out["curve"].tolist() == sorted(df["curve"].unique())
    for _, row in out.iterrows():
        part = df[df["curve"] == row["curve"]]
        r = relusum.fit((part["t"].to_numpy(), part["v"].to_numpy()), **kw)
        xs = np.linspace(*r.model.domain, 201)
        ref = r.model(xs)
        assert np.max(np.abs(row["model"](xs) - ref)) <= 1e-9 * np.max(np.abs(ref))
        np.testing.assert_array_equal(row["model"].knots, r.model.knots)
        assert row["model"].domain == r.model.domain
        assert row["n_pieces"] == r.report.n_pieces
        assert row["n_samples"] == r.report.n_samples
        assert row["rmse"] == pytest.approx(r.report.rmse, rel=1e-9)
        assert row["max_abs_error"] == pytest.approx(r.report.max_abs_error, rel=1e-9)


@pytest.mark.parametrize(
    "kw",
    [
        {"n_units": 7},
        {"n_units": 5, "domain": (0.0, 3.0)},
        {"knots": [0.2, 0.5, 0.8]},
        {"knots": [0.0, 0.5, 0.9], "domain": (0.0, 3.0)},
    ],
)
def test_batched_equals_single_fits(kw):
    df = _table()
    out = relusum.fit_many(df, by="curve", x="t", y="v", **kw)
    assert out.attrs["batched"]
    _check_against_single_fits(df, out, **kw)


def test_mixed_flat_first_and_empty_pieces():
    # Curve a starts at the first knot (sloped first piece), b left of it (flat
    # first piece), c has no data in [0.4, 0.6] (its system needs the penalty).
    x = np.linspace(0, 1, 101)
    xa, xb = x[20:], x
    xc = x[(x < 0.4) | (x > 0.61)]
    df = pd.DataFrame(
        {
            "curve": ["a"] * xa.size + ["b"] * xb.size + ["c"] * xc.size,
            "t": np.concatenate((xa, xb, xc)),
            "v": np.concatenate((xa**2, np.cos(3 * xb), np.abs(xc - 0.5))),
        }
    )
    kw = {"knots": [0.2, 0.4, 0.5, 0.6]}
    out = relusum.fit_many(df, by="curve", x="t", y="v", **kw)
    _check_against_single_fits(df, out, **kw)


def test_loop_path_for_optimal_knots():
    df = _table(n_curves=3, per=200)
    kw = {"n_units": 3, "knots": "optimal"}
    out = relusum.fit_many(df, by="curve", x="t", y="v", progress=False, **kw)
    assert not out.attrs["batched"]
    _check_against_single_fits(df, out, **kw)


def test_optimal_knots_in_worker_processes_equal_single_fits():
    df = _table(n_curves=6, per=120)
    kw = {"n_units": 3, "knots": "optimal"}
    out = relusum.fit_many(df, by="curve", x="t", y="v", progress=False, n_jobs=2, **kw)
    _check_against_single_fits(df, out, **kw)
    # a curve that cannot be fitted is named, from a worker process too
    bad = pd.concat([df, pd.DataFrame({"curve": ["zz"] * 3, "t": [0.0, 0.0, 1.0], "v": 1.0})])
    with pytest.raises(ValueError, match="curve 'zz': "):
        relusum.fit_many(bad, by="curve", x="t", y="v", progress=False, n_jobs=2, **kw)
    # the first curve is fitted in the parent (it loads the kernels the workers inherit)
    first = pd.concat([pd.DataFrame({"curve": ["a"] * 3, "t": [0.0, 0.0, 1.0], "v": 1.0}), df])
    with pytest.raises(ValueError, match="curve 'a': "):
        relusum.fit_many(first, by="curve", x="t", y="v", progress=False, n_jobs=2, **kw)


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-2, ValueError), (1.5, TypeError)])
def test_bad_n_jobs(bad, exc):
    with pytest.raises(exc, match="n_jobs"):
        relusum.fit_many(_table(n_curves=2), by="curve", x="t", y="v", knots="optimal", n_jobs=bad)


def test_weights_column():
    df = _table(n_curves=5)
    df["w"] = np.random.default_rng(0).uniform(0.1, 1.0, len(df))
    out = relusum.fit_many(df, by="curve", x="t", y="v", weight="w", n_units=4)
    for _, row in out.iterrows():
        part = df[df["curve"] == row["curve"]]
        r = relusum.fit(
            (part["t"].to_numpy(), part["v"].to_numpy()), n_units=4, sample_weight=part["w"]
        )
        np.testing.assert_allclose(row["model"].weights, r.model.weights, rtol=1e-9, atol=1e-12)


def test_joint_solve_equals_one_by_one():
    # The block-diagonal solve gives each curve what its own solve gives.
    df = _table(n_curves=30)
    codes, _ = pd.factorize(df["curve"], sort=True)
    T = np.tile(np.r_[np.linspace(0, 3, 7), np.inf], (30, 1))
    s = BatchSummary.from_arrays(
        codes, df["t"].to_numpy(), df["v"].to_numpy(), None, T, np.full(30, 7), np.zeros(30, bool)
    )
    joint = s.solve()
    alone = np.array([s.solve_one(g) for g in range(30)])
    np.testing.assert_allclose(joint, alone, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.drop(columns="v"), "column 'v' not found"),
        (lambda d: d.assign(v=np.where(d.index == 7, np.nan, d["v"])), "missing or non-finite"),
        (lambda d: d.assign(curve=d["curve"].where(d.index != 3, None)), "missing curve ids"),
        (lambda d: d.iloc[:0], "no rows"),
    ],
)
@pytest.mark.parametrize("knots", ["uniform", "optimal"])  # batched, one fit per curve
def test_bad_tables_give_one_clear_error(change, message, knots):
    with pytest.raises(ValueError, match=message):
        relusum.fit_many(
            change(_table(n_curves=3)), by="curve", x="t", y="v", n_units=3, knots=knots
        )


def test_too_few_distinct_x_names_the_curve():
    df = pd.DataFrame({"c": [1] * 6 + [2] * 6, "t": [0, 1, 2, 3, 4, 5] + [0, 0, 0, 1, 1, 1.0]})
    df["v"] = df["t"] ** 2
    with pytest.raises(ValueError, match="curve 2: 3 units need at least 4 distinct x"):
        relusum.fit_many(df, by="c", x="t", y="v", n_units=3)
    with pytest.raises(ValueError, match="at least 4 distinct x"):  # as a single fit says
        relusum.fit((df["t"][6:], df["v"][6:]), n_units=3)


def test_huge_sizes_are_refused_before_allocating():
    df = _table(n_curves=3)
    with pytest.raises(ValueError, match="at most 50,000,000 at once"):
        relusum.fit_many(df, by="curve", x="t", y="v", n_units=20_000_000)


def test_curves_split_equals_pandas_groupby():
    # The per-curve loop slices one sorted copy of the table: the same curves,
    # ids and rows (in table order) as iterating a pandas groupby.
    from relusum.scale.many import _curves

    df = _table(n_curves=7, per=30)
    df["curve"] = df["curve"].str[1:].astype(int) * 3  # integer ids
    df["w"] = np.arange(len(df), dtype=float)
    got = _curves(df, "curve", "t", "v", "w")
    want = list(df.groupby("curve", sort=True))
    assert [g[0] for g in got] == [k for k, _ in want]
    for (_, xs, ys, w), (_, part) in zip(got, want, strict=True):
        np.testing.assert_array_equal(xs, part["t"].to_numpy())
        np.testing.assert_array_equal(ys, part["v"].to_numpy())
        np.testing.assert_array_equal(w, part["w"].to_numpy())


def test_batched_weights_equal_single_fit_weights_with_steep_pieces():
    """Row-wise, the batched ReLU form is the single fit's, byte for byte (steep rows too)."""
    from relusum.fitting.batch import batch_relusum_arrays
    from relusum.fitting.hat import values_to_relusum

    rng = np.random.default_rng(5)
    g, m = 6, 9
    T = np.sort(rng.uniform(0.0, 1.0, (g, m)), axis=1)
    T[:, 0], T[:, -1] = 0.0, 1.0
    values = rng.normal(size=(g, m))
    T[2, 3] = T[2, 2] + 1e-10  # a piece of slope ~1e10 next to ordinary ones
    T[4, 5] = T[4, 4] + 3e-11
    for ff in (False, True):
        flat = np.full(g, ff)
        sizes = np.full(g, m)
        bias, knots, weights = batch_relusum_arrays(T, sizes, flat, values)
        for r in range(g):
            one = values_to_relusum(T[r], values[r], ff, (0.0, 1.0))
            assert bias[r] == one.bias
            np.testing.assert_array_equal(knots[r], one.knots)
            np.testing.assert_array_equal(weights[r], one.weights)
