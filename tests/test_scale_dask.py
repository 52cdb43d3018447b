"""Dask: fits on a real distributed.LocalCluster (2 worker processes) equal in-memory fits."""

import json

import numpy as np
import pandas as pd
import pytest

import relusum
from relusum.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:Sending large graph:UserWarning")

dd = pytest.importorskip("dask.dataframe")  # installed by the test script: never skipped in CI
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def million():
    rng = np.random.default_rng(11)
    t = rng.uniform(0.0, 6.0, 1_000_000)
    v = np.sin(t) * t + 0.1 * rng.standard_normal(t.size)
    return t, v


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def test_dask_dataframe_fixed_knots_equal_in_memory(client, million):
    t, v = million
    ddf = dd.from_pandas(pd.DataFrame({"t": t, "v": v}), npartitions=9)
    ref = relusum.fit((t, v), n_units=20)
    r = relusum.fit(ddf, n_units=20)
    assert _rel(r.model.weights, ref.model.weights) < 1e-9
    assert r.model.bias == pytest.approx(ref.model.bias, rel=1e-9, abs=1e-12)
    np.testing.assert_array_equal(r.model.knots, ref.model.knots)
    assert r.report.n_samples == t.size == r.report.n_verify
    assert r.report.rmse == pytest.approx(ref.report.rmse, rel=1e-9)
    assert r.report.max_abs_error == pytest.approx(ref.report.max_abs_error, rel=1e-9)
    # two Series by name, and a pair of Dask arrays with different chunkings
    r2 = relusum.fit((ddf["t"], ddf["v"]), n_units=20)
    r3 = relusum.fit(
        (da.from_array(t, chunks=130_000), da.from_array(v, chunks=200_000)), n_units=20
    )
    for other in (r2, r3):
        assert _rel(other.model.weights, ref.model.weights) < 1e-9


def test_dask_free_knots_close_to_in_memory(client, million):
    t, v = million[0][:200_000], million[1][:200_000]
    ddf = dd.from_pandas(pd.DataFrame({"t": t, "v": v}), npartitions=4)
    ref = relusum.fit((t, v), n_units=6, knots="optimal")
    r = relusum.fit(ddf, n_units=6, knots="optimal")
    assert r.report.knots == "optimal"
    assert (r.report.rmse / ref.report.rmse) ** 2 <= 1 + 1e-4


def test_dask_max_error_fixed_knots_has_the_in_memory_optimum(client):
    rng = np.random.default_rng(4)
    t = rng.uniform(0, 1, 6_000)
    v = np.exp(t) + rng.uniform(-0.05, 0.05, t.size)
    ddf = dd.from_pandas(pd.DataFrame({"t": t, "v": v}), npartitions=5)
    ref = relusum.fit((t, v), n_units=6, loss="linf")
    r = relusum.fit(ddf, n_units=6, loss="linf")
    assert r.report.extra["exact"] and r.report.loss == "linf"
    assert r.report.max_abs_error == pytest.approx(ref.report.max_abs_error, rel=1e-9)


def test_lazy_evaluation_of_a_dask_array(client):
    model = relusum.ReluSum(0.5, [0.0, 1.0], [2.0, -3.0])
    x = da.linspace(-1, 3, 10_001, chunks=1_000)
    y = model(x)
    assert isinstance(y, da.Array) and y.chunks == x.chunks  # nothing computed yet
    np.testing.assert_array_equal(y.compute(), model(x.compute()))


def test_fit_many_on_dask_equals_pandas(client):
    rng = np.random.default_rng(5)
    c = np.repeat(np.arange(60), 300)
    t = rng.uniform(0, 1, c.size)
    pdf = pd.DataFrame({"c": c, "t": t, "v": np.cos(5 * t) * (1 + c)}).sample(
        frac=1, random_state=1
    )
    ddf = dd.from_pandas(pdf, npartitions=6)  # curves spread over partitions
    for kw in ({"n_units": 5}, {"knots": [0.2, 0.4, 0.6]}):
        a = relusum.fit_many(pdf, by="c", x="t", y="v", **kw)
        b = relusum.fit_many(ddf, by="c", x="t", y="v", **kw)
        assert a["c"].tolist() == b["c"].tolist()
        for m1, m2 in zip(a["model"], b["model"]):
            assert _rel(m2.weights, m1.weights) < 1e-9
        np.testing.assert_allclose(b["rmse"], a["rmse"], rtol=1e-9)
        np.testing.assert_allclose(b["max_abs_error"], a["max_abs_error"], rtol=1e-9)


def test_empty_partition_and_bad_partitions(client):
    t = np.linspace(0, 1, 1000)
    pdf = pd.DataFrame({"t": t, "v": t**2})
    parts = [pdf.iloc[:400], pdf.iloc[400:400], pdf.iloc[400:]]
    ddf = dd.from_delayed([__import__("dask").delayed(p) for p in parts], meta=pdf.iloc[:0])
    r = relusum.fit(ddf, n_units=4)
    ref = relusum.fit((t, t**2), n_units=4)
    assert _rel(r.model.weights, ref.model.weights) < 1e-9
    bad = pdf.assign(v=np.where(np.arange(1000) == 700, np.nan, pdf["v"]))
    with pytest.raises(ValueError, match="non-finite"):
        relusum.fit(dd.from_pandas(bad, npartitions=3), n_units=4)
    with pytest.raises(ValueError, match="exactly two columns"):
        relusum.fit(dd.from_pandas(pdf.assign(w=1.0), npartitions=2), n_units=4)


def test_cli_dask_on_a_scheduler_address(client, tmp_path, capsys, million):
    t, v = million
    for i, part in enumerate(np.array_split(np.arange(300_000), 3)):
        pd.DataFrame({"t": t[part], "v": v[part]}).to_parquet(tmp_path / f"log{i}.parquet")
    address = client.scheduler.address
    rc = main(
        [
            "fit",
            "--data",
            str(tmp_path / "log*.parquet"),
            "--x",
            "t",
            "--y",
            "v",
            "--units",
            "8",
            "--dask",
            address,
            "--json",
        ]
    )
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    ref = relusum.fit((t[:300_000], v[:300_000]), n_units=8)
    assert payload["n_samples"] == 300_000
    assert payload["rmse"] == pytest.approx(ref.report.rmse, rel=1e-9)
    assert _rel(np.array(payload["weights"]), ref.model.weights) < 1e-9
    rc = main(
        [
            "fit",
            "--data",
            str(tmp_path / "log*.parquet"),
            "--x",
            "t",
            "--y",
            "nope",
            "--dask",
            address,
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "no column 'nope'" in err and len(err.splitlines()) == 1


def test_a_worker_that_dies_mid_run_is_retried(client, tmp_path):
    marker = tmp_path / "died-once"

    def part(i):  # a closure: shipped to the workers by value
        import os

        import numpy as np
        import pandas as pd

        if i == 2 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies while computing this partition
        t = np.linspace(0, 1, 1001)[i * 250 : (i + 1) * 250 + (i == 3)]
        return pd.DataFrame({"t": t, "v": np.abs(t - 0.3)})

    meta = pd.DataFrame({"t": np.empty(0), "v": np.empty(0)})
    ddf = dd.from_map(part, range(4), meta=meta)
    r = relusum.fit(ddf, n_units=5, domain=(0, 1))
    assert marker.exists()  # the worker did die, and Dask ran the partition again
    t = np.linspace(0, 1, 1001)
    ref = relusum.fit((t, np.abs(t - 0.3)), n_units=5)
    assert r.report.n_samples == 1001
    assert _rel(r.model.weights, ref.model.weights) < 1e-9


def test_progress_bars_on_stderr_only_when_asked(client, capsys, monkeypatch):
    t = np.linspace(0, 1, 20_000)
    ddf = dd.from_pandas(pd.DataFrame({"t": t, "v": t**2}), npartitions=6)
    ref = relusum.fit((t, t**2), n_units=4)
    r = relusum.fit(ddf, n_units=4, progress=True)  # on the distributed cluster
    out, err = capsys.readouterr()
    assert out == ""
    for what in ("relusum range", "relusum fit", "relusum errors"):
        assert what in err
    assert "/6 [" in err and "partitions/s" in err  # counted per partition
    assert _rel(r.model.weights, ref.model.weights) < 1e-9
    relusum.fit(ddf, n_units=4, progress=False)
    assert capsys.readouterr().err == ""
    relusum.fit(ddf, n_units=4)  # default: only when stderr is a terminal (not here)
    assert capsys.readouterr().err == ""
    many = dd.from_pandas(pd.DataFrame({"c": np.arange(t.size) % 3, "t": t, "v": t}), 4)
    relusum.fit_many(many, by="c", x="t", y="v", n_units=2, progress=True)
    err = capsys.readouterr().err
    assert all(f"relusum {w}" in err for w in ("ranges", "fit", "errors"))
    with __import__("dask").config.set(scheduler="sync"):  # a local scheduler: Dask's callbacks
        relusum.fit(ddf, n_units=4, progress=True)
    assert "tasks" in capsys.readouterr().err
    # the CLI: a bar when stderr is a terminal, none with --quiet
    pdf = pd.DataFrame({"t": t, "v": t**2})
    path = f"{__import__('tempfile').mkdtemp()}/d.parquet"
    pdf.to_parquet(path)
    monkeypatch.setattr(__import__("sys").stderr, "isatty", lambda: True)
    args = ["fit", "--data", path, "--x", "t", "--y", "v", "--units", "4"]
    assert main([*args, "--dask", client.scheduler.address]) == 0
    assert "relusum errors" in capsys.readouterr().err
    assert main([*args, "--dask", client.scheduler.address, "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_dask_max_error_optimal_knots_equal_the_exact_in_memory_fit(client):
    rng = np.random.default_rng(9)
    t = rng.uniform(0, 2, 40_000)
    v = np.exp(t) + rng.uniform(-0.05, 0.05, t.size)
    ddf = dd.from_pandas(pd.DataFrame({"t": t, "v": v}), npartitions=5)
    ref = relusum.fit((t, v), n_units=5, knots="optimal", loss="linf")
    r = relusum.fit(ddf, n_units=5, knots="optimal", loss="linf")
    assert r.report.extra["exact"] and r.report.knots == "optimal"
    assert r.report.max_abs_error == pytest.approx(ref.report.max_abs_error, rel=1e-8)
    assert r.report.n_samples == t.size


def test_schema_change_midway_is_one_clear_error(client, tmp_path, capsys):
    t = np.linspace(0, 1, 900)
    good = pd.DataFrame({"c": np.arange(900) % 3, "t": t, "v": t**2})
    bad = good.iloc[600:].assign(v=[f"s{i}" for i in range(300)])  # strings in the last part
    parts = [good.iloc[:300], good.iloc[300:300], good.iloc[300:600], bad]  # one empty
    ddf = dd.from_map(lambda i: parts[i], range(4), meta=good.iloc[:0])
    with pytest.raises(ValueError, match="must be numeric"):
        relusum.fit(ddf[["t", "v"]], n_units=3)
    with pytest.raises(ValueError, match="numeric|non-finite"):
        relusum.fit_many(ddf, by="c", x="t", y="v", n_units=3)
    # the CLI on Parquet files whose schema changes from one file to the next
    good.iloc[:450].to_parquet(tmp_path / "a.parquet")
    bad.to_parquet(tmp_path / "b.parquet")
    out = tmp_path / "m.json"
    rc = main(
        [
            "fit",
            "--data",
            str(tmp_path / "*.parquet"),
            "--x",
            "t",
            "--y",
            "v",
            "--dask",
            client.scheduler.address,
            "--save",
            str(out),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("relusum: error:"), err
    assert not out.exists()


def test_a_worker_that_keeps_dying_is_one_clear_error(tmp_path):
    def part(i):
        import os

        import numpy as np
        import pandas as pd

        if i == 1:
            os._exit(1)  # this partition kills its worker every time
        t = np.linspace(0, 1, 100) + i
        return pd.DataFrame({"t": t, "v": t})

    meta = pd.DataFrame({"t": np.empty(0), "v": np.empty(0)})
    ddf = dd.from_map(part, range(3), meta=meta)
    # a cluster of its own that gives up after one death (the default retries 3 times)
    with (
        __import__("dask").config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        with pytest.raises(ValueError, match="workers died.*nothing was written"):
            relusum.fit(ddf, n_units=2, domain=(0, 3))
