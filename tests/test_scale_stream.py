"""Out-of-core fits: Parquet and CSV streamed in chunks equal the in-memory fit."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import relusum
from relusum.cli import main
from relusum.scale.files import fit_file

SRC = os.path.join(os.path.dirname(__file__), os.pardir, "src")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    t = rng.uniform(-1.0, 4.0, 60_000)
    v = np.cos(2 * t) + 0.05 * rng.standard_normal(t.size)
    return t, v


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.fixture(params=["numpy", "compiled"])
def kernels(request, monkeypatch):
    """Both chunk paths: NumPy (small chunks) and the compiled kernels (large ones)."""
    from relusum.scale import chunks

    monkeypatch.setattr(chunks, "COMPILED_ROWS", 0 if request.param == "compiled" else 10**12)
    if request.param == "numpy":
        monkeypatch.delitem(sys.modules, "relusum.scale._compiled", raising=False)
    return request.param


def test_parquet_glob_and_csv_equal_in_memory(tmp_path, data, kernels):
    t, v = data
    for i, part in enumerate(np.array_split(np.arange(t.size), 3)):
        pq.write_table(pa.table({"t": t[part], "v": v[part]}), tmp_path / f"p{i}.parquet")
    pd.DataFrame({"t": t, "v": v}).to_csv(tmp_path / "all.csv", index=False)
    ref = relusum.fit((t, v), n_units=10)
    for src in (str(tmp_path / "p*.parquet"), str(tmp_path / "all.csv")):
        r = fit_file(src, "t", "v", n_units=10, chunk_rows=7_000, progress=False)
        assert _rel(r.model.weights, ref.model.weights) < 1e-9
        np.testing.assert_array_equal(r.model.knots, ref.model.knots)
        assert r.report.n_samples == t.size and r.report.n_verify == t.size
        assert r.report.rmse == pytest.approx(ref.report.rmse, rel=1e-9)
        assert r.report.max_abs_error == pytest.approx(ref.report.max_abs_error, rel=1e-9)
        # Parquet statistics give the x range: no range pass (CSV needs one)
        assert r.report.extra["passes"] == (2 if src.endswith(".parquet") else 3)
    # without statistics in the file, a range pass finds the same domain and fit
    pq.write_table(pa.table({"t": t, "v": v}), tmp_path / "nostats.parquet", write_statistics=False)
    r = fit_file(tmp_path / "nostats.parquet", "t", "v", n_units=10, progress=False)
    assert r.report.extra["passes"] == 3
    assert _rel(r.model.weights, ref.model.weights) < 1e-9


def test_given_knots_domain_and_weights(tmp_path, data):
    t, v = data
    w = np.linspace(0.5, 2.0, t.size)
    pq.write_table(pa.table({"t": t, "v": v, "w": w}), tmp_path / "d.parquet")
    ref = relusum.fit((t, v), domain=(-2, 5), knots=[-1.0, 0.0, 1.0, 2.5], sample_weight=w)
    r = fit_file(
        tmp_path / "d.parquet",
        "t",
        "v",
        "w",
        knots=[-1.0, 0.0, 1.0, 2.5],
        domain=(-2, 5),
        chunk_rows=5_000,
        progress=False,
    )
    assert _rel(r.model.weights, ref.model.weights) < 1e-9
    assert r.model.bias == pytest.approx(ref.model.bias, rel=1e-9)
    assert r.report.extra["passes"] == 2  # the range came from the domain: no range pass


def test_optimal_knots_on_bin_moments_close_to_in_memory(tmp_path, data, kernels):
    t, v = data
    pq.write_table(pa.table({"t": t, "v": v}), tmp_path / "d.parquet")
    ref = relusum.fit((t, v), n_units=5, knots="optimal")
    r = fit_file(tmp_path / "d.parquet", "t", "v", n_units=5, knots="optimal", progress=False)
    assert r.report.knots == "optimal"
    # SSR within 1e-4 relative of the in-memory free-knot fit
    assert (r.report.rmse / ref.report.rmse) ** 2 <= 1 + 1e-4


def _bad_file(tmp_path, kind):
    good = pa.table({"t": np.arange(10.0), "v": np.arange(10.0)})
    if kind == "nan chunk":
        pq.write_table(good, tmp_path / "a.parquet")
        v = np.arange(10.0)
        v[6] = np.nan
        pq.write_table(pa.table({"t": np.arange(10.0), "v": v}), tmp_path / "b.parquet")
    elif kind == "missing column":
        pq.write_table(good, tmp_path / "a.parquet")
        pq.write_table(
            pa.table({"t": np.arange(10.0), "y": np.arange(10.0)}), tmp_path / "b.parquet"
        )
    elif kind == "schema change":
        pq.write_table(good, tmp_path / "a.parquet")
        pq.write_table(
            pa.table({"t": np.arange(10.0), "v": list("abcdefghij")}), tmp_path / "b.parquet"
        )
    elif kind == "empty file":
        pq.write_table(good.slice(0, 0), tmp_path / "a.parquet")
        pq.write_table(good.slice(0, 0), tmp_path / "b.parquet")
    return str(tmp_path / "*.parquet")


@pytest.mark.parametrize(
    "kind, message",
    [
        ("nan chunk", "b.parquet|non-finite"),
        ("missing column", "b.parquet: no column 'v'"),
        ("schema change", "b.parquet: column 'v' is string here but double"),
        ("empty file", "no data rows"),
    ],
)
def test_bad_files_one_line_exit_2(tmp_path, capsys, kind, message):
    pattern = _bad_file(tmp_path, kind)
    out = tmp_path / "m.json"
    rc = main(
        ["fit", "--data", pattern, "--x", "t", "--y", "v", "--units", "2", "--save", str(out)]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and err.startswith("relusum: error:")
    assert any(m in err for m in message.split("|")), err
    assert not out.exists()  # nothing half-written


def test_csv_with_bad_cell_midway(tmp_path, capsys):
    p = tmp_path / "big.csv"
    p.write_text("t,v\n" + "".join(f"{i},{i * i}\n" for i in range(5000)) + "5000,oops\n")
    rc = main(["fit", "--data", str(p), "--x", "t", "--y", "v", "--stream", "--chunk-rows", "500"])
    err = capsys.readouterr().err
    assert rc == 2 and "big.csv" in err and "oops" in err and len(err.strip().splitlines()) == 1


def test_cli_streams_parquet_json(tmp_path, capsys, data):
    t, v = data
    pq.write_table(pa.table({"t": t, "v": v}), tmp_path / "d.parquet")
    rc = main(
        [
            "fit",
            "--data",
            str(tmp_path / "d.parquet"),
            "--x",
            "t",
            "--y",
            "v",
            "--units",
            "6",
            "--json",
        ]
    )
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    ref = relusum.fit((t, v), n_units=6)
    assert payload["n_samples"] == t.size and payload["streamed"]
    assert payload["rmse"] == pytest.approx(ref.report.rmse, rel=1e-9)


def test_cli_many_curves_writes_table(tmp_path, capsys):
    rng = np.random.default_rng(0)
    c = np.repeat(np.arange(30), 80)
    t = rng.uniform(0, 1, c.size)
    pd.DataFrame({"sensor": c, "t": t, "v": np.sin(4 * t) + c}).to_parquet(tmp_path / "c.parquet")
    out = tmp_path / "models.parquet"
    rc = main(
        [
            "fit",
            "--data",
            str(tmp_path / "c.parquet"),
            "--by",
            "sensor",
            "--x",
            "t",
            "--y",
            "v",
            "--units",
            "4",
            "--out",
            str(out),
        ]
    )
    assert rc == 0 and "30 curves" in capsys.readouterr().out
    table = pd.read_parquet(out)
    assert table["sensor"].tolist() == list(range(30))
    m = relusum.ReluSum.from_dict(json.loads(table["model"][3]))
    part = c == 3
    ref = relusum.fit((t[part], np.sin(4 * t[part]) + 3), n_units=4).model
    assert _rel(m.weights, ref.weights) < 1e-9
    rc = main(
        [
            "fit",
            "--data",
            str(tmp_path / "c.parquet"),
            "--by",
            "sensor",
            "--x",
            "t",
            "--y",
            "v",
            "--units",
            "4",
        ]
    )
    assert rc == 2 and "--out" in capsys.readouterr().err


PEAK = textwrap.dedent(
    """
    import resource, sys
    import numpy as np, pyarrow as pa, pyarrow.parquet as pq
    path, rows = sys.argv[1], int(sys.argv[2])
    if rows:  # write the file in pieces (the writer never holds it all)
        rng = np.random.default_rng(0)
        with pq.ParquetWriter(path, pa.schema([("t", pa.float64()), ("v", pa.float64())])) as w:
            for _ in range(rows // 1_000_000):
                t = rng.uniform(0, 1, 1_000_000)
                w.write_table(pa.table({"t": t, "v": np.sin(6 * t)}))
        sys.exit(0)
    from relusum.cli import main
    rc = main(["fit", "--data", path, "--x", "t", "--y", "v", "--units", "16", "--json",
               "--chunk-rows", "500000"])
    # The process's own peak (VmHWM): ru_maxrss also counts the parent's pages
    # at the fork before exec, so a big pytest process would inflate it.
    try:
        peak = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
    except (OSError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("PEAK_KB", peak)
    sys.exit(rc)
    """
)


def _peak_kb(path, rows):
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", PEAK, path, str(rows)], check=True, env=env, timeout=300)
    out = subprocess.run(
        [sys.executable, "-c", PEAK, path, "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    ).stdout
    payload = json.loads(out.splitlines()[0])
    return int(out.split("PEAK_KB")[1]), payload


@pytest.mark.slow
def test_streaming_peak_memory_does_not_grow_with_rows(tmp_path):
    small_kb, small = _peak_kb(str(tmp_path / "small.parquet"), 1_000_000)
    big_kb, big = _peak_kb(str(tmp_path / "big.parquet"), 10_000_000)
    assert small["n_samples"] == 1_000_000 and big["n_samples"] == 10_000_000
    # 10^7 rows of x and y alone are 160 MB; the streaming peak stays near the 10^6 one
    assert big_kb < small_kb + 80_000, (small_kb, big_kb)
    assert big_kb < 1_500_000


def test_import_stays_cheap_and_missing_extra_is_named():
    code = textwrap.dedent(
        """
        import sys
        import relusum
        heavy = [m for m in ("pandas", "pyarrow", "dask", "distributed") if m in sys.modules]
        assert not heavy, heavy
        sys.modules["pandas"] = None  # as if the extra were not installed
        try:
            relusum.fit_many(object(), by="c", x="t", y="v")
        except ImportError as exc:
            print(exc)
        """
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    ).stdout
    assert "pip install 'relusum[dask]'" in out


def test_too_many_units_refused_before_allocating(tmp_path):
    pq.write_table(pa.table({"t": np.arange(50.0), "v": np.arange(50.0)}), tmp_path / "s.parquet")
    with pytest.raises(ValueError, match="too many for these data: at most 49"):
        fit_file(tmp_path / "s.parquet", "t", "v", n_units=10**9, progress=False)


@pytest.mark.parametrize("kw", [{"n_units": 7}, {"knots": [0.0, 1.0, 1.5, 3.0], "domain": (-1, 4)}])
def test_max_error_fit_streamed_has_the_in_memory_optimum(tmp_path, kw):
    rng = np.random.default_rng(2)
    t = rng.uniform(-1.0, 4.0, 8_000)
    v = np.cos(2 * t) + 0.2 * rng.uniform(-1, 1, t.size)
    pq.write_table(pa.table({"t": t, "v": v}), tmp_path / "d.parquet")
    ref = relusum.fit((t, v), loss="linf", **kw)
    r = fit_file(
        tmp_path / "d.parquet", "t", "v", loss="linf", chunk_rows=1_500, progress=False, **kw
    )
    assert r.report.loss == "linf"
    assert r.report.extra["binding_candidates"] < t.size / 10  # a small summary
    assert r.report.extra["exact"]
    assert r.report.max_abs_error == pytest.approx(ref.report.max_abs_error, rel=1e-9)


def _curves_file(tmp_path, nan_at=None):
    rng = np.random.default_rng(1)
    c = np.repeat(np.arange(12), 50)
    t = rng.uniform(0, 1, c.size)
    v = np.sin(4 * t) + c
    if nan_at is not None:
        v[nan_at] = np.nan
    path = tmp_path / "c.parquet"
    pd.DataFrame({"sensor": c, "t": t, "v": v}).to_parquet(path)
    return str(path)


def _many_cli(src, out, *extra):
    args = ["fit", "--data", src, "--by", "sensor", "--x", "t", "--y", "v", "--units", "3"]
    return main([*args, "--out", str(out), *extra])


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_many_curves_out_follows_the_output_rules(tmp_path, capsys, suffix):
    src = _curves_file(tmp_path)
    out = tmp_path / f"models{suffix}"
    out.write_text("old")
    # --no-clobber: refused before any work, the old file untouched
    assert _many_cli(src, out, "--no-clobber") == 2
    assert "--no-clobber" in capsys.readouterr().err and out.read_text() == "old"
    # a folder that does not exist, a bad suffix: one line, exit 2, nothing written
    for bad, msg in (
        (tmp_path / "nope" / f"m{suffix}", "does not exist"),
        (tmp_path / "m.txt", "must end in"),
    ):
        assert _many_cli(src, bad) == 2
        err = capsys.readouterr().err.strip()
        assert msg in err and len(err.splitlines()) == 1
        assert not bad.exists()
    # a fit that fails (NaN in one curve): the old file is kept, no temporary file is left
    nan_dir = tmp_path / "nan"
    nan_dir.mkdir()
    bad_src = _curves_file(nan_dir, nan_at=333)
    assert _many_cli(bad_src, out) == 2
    assert "non-finite" in capsys.readouterr().err and out.read_text() == "old"
    # success replaces the file (named on stderr) and leaves nothing else behind
    assert _many_cli(src, out) == 0
    captured = capsys.readouterr()
    assert "12 curves" in captured.out and f"overwrote {out}" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["c.parquet", "nan", out.name])


@pytest.mark.parametrize("noise", [0.2, 0.0])
def test_max_error_optimal_knots_streamed_equal_the_exact_in_memory_fit(
    tmp_path, monkeypatch, noise
):
    from relusum.fitting import hulls
    from relusum.scale import minimax

    rng = np.random.default_rng(12)
    t = rng.uniform(-1.0, 4.0, 30_000)
    v = np.cos(2 * t) + noise * rng.uniform(-1, 1, t.size)
    pq.write_table(pa.table({"t": t, "v": v}), tmp_path / "d.parquet")
    if noise == 0.0:  # every point on a hull: thin the chains so that rounds must add rows
        monkeypatch.setattr(hulls, "MAX_PER_CHAIN", 3)
        monkeypatch.setattr(minimax, "LINF_MIN_BINS", 256)
    ref = relusum.fit((t, v), n_units=6, knots="optimal", loss="linf")
    r = fit_file(
        tmp_path / "d.parquet",
        "t",
        "v",
        n_units=6,
        knots="optimal",
        loss="linf",
        chunk_rows=4_000,
        progress=False,
    )
    rep = r.report
    assert rep.loss == "linf" and rep.knots == "optimal" and rep.extra["exact"]
    assert rep.n_samples == t.size == rep.n_verify
    # the same optimum as the exact in-memory fit, measured over every row
    assert rep.max_abs_error == pytest.approx(ref.report.max_abs_error, rel=1e-8)
    assert rep.max_abs_error == pytest.approx(float(np.max(np.abs(r.model(t) - v))), rel=1e-12)
    assert rep.max_abs_error <= rep.extra["lower_bound"] * (1 + 1e-6)  # certified
    assert rep.extra["binding_candidates"] < t.size
    if noise == 0.0:
        assert rep.extra["hulls_thinned"] and rep.extra["rounds"] >= 2


def test_cli_max_error_optimal_knots_on_a_streamed_file(tmp_path, capsys):
    rng = np.random.default_rng(13)
    t = rng.uniform(0.0, 3.0, 5_000)
    v = np.sqrt(t) + 0.05 * rng.uniform(-1, 1, t.size)
    pq.write_table(pa.table({"t": t, "v": v}), tmp_path / "d.parquet")
    args = ["fit", "--data", str(tmp_path / "d.parquet"), "--x", "t", "--y", "v"]
    rc = main([*args, "--units", "4", "--knots", "optimal", "--loss", "linf", "--json"])
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    ref = relusum.fit((t, v), n_units=4, knots="optimal", loss="linf")
    assert payload["streamed"] and payload["exact"]
    assert payload["max_abs_error"] == pytest.approx(ref.report.max_abs_error, rel=1e-8)


def test_weights_with_max_error_are_refused_as_in_memory(tmp_path):
    pq.write_table(
        pa.table({"t": [0.0, 1.0, 2.0], "v": [0.0, 1.0, 0.0], "w": [1.0] * 3}),
        tmp_path / "w.parquet",
    )
    for knots in ("uniform", "optimal"):
        with pytest.raises(ValueError, match="the max error ignores weights"):
            fit_file(tmp_path / "w.parquet", "t", "v", "w", loss="linf", knots=knots, n_units=1)


def test_cli_many_curves_jobs_give_the_same_table(tmp_path, capsys):
    src = _curves_file(tmp_path)
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    assert _many_cli(src, one, "--knots", "optimal") == 0
    assert _many_cli(src, two, "--knots", "optimal", "--jobs", "2") == 0
    a, b = pd.read_parquet(one), pd.read_parquet(two)
    assert a["sensor"].tolist() == b["sensor"].tolist()
    assert a["model"].tolist() == b["model"].tolist()  # the same JSON, curve by curve
    capsys.readouterr()
    for bad in ("0", "-2", "many"):
        assert _many_cli(src, tmp_path / "bad.parquet", "--jobs", bad) == 2
        assert "--jobs" in capsys.readouterr().err
    assert not (tmp_path / "bad.parquet").exists()
