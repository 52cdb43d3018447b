"""ReluSumRegressor: scikit-learn's own checks, pipelines, pandas, additive models, bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import relusum
from relusum import ReluSumRegressor
from relusum.additive import AdditiveReluSum

# check_array_api_input is skipped by scikit-learn itself unless the environment
# variable SCIPY_ARRAY_API is set; relusum computes in NumPy only, so the array
# API does not apply.  Every other check must pass.
JUSTIFIED_SKIPS = {"check_array_api_input"}


@pytest.mark.parametrize(
    "est", [ReluSumRegressor(), ReluSumRegressor(n_units=3, knots="quantile")], ids=repr
)
def test_check_estimator_passes(est):
    results = check_estimator(est, on_fail=None)
    bad = [
        (r["check_name"], r["status"], str(r["exception"])[:200])
        for r in results
        if r["status"] != "passed" and r["check_name"] not in JUSTIFIED_SKIPS
    ]
    assert not bad
    assert len(results) > 40


def _one_column(seed=0, n=300):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 1))
    y = np.abs(X[:, 0]) + rng.normal(0, 0.05, n)
    return X, y


def test_single_column_equals_plain_fit():
    X, y = _one_column()
    est = ReluSumRegressor(n_units=6).fit(X, y)
    r = relusum.fit((X[:, 0], y), n_units=6)
    assert est.model_.allclose(r.model)
    np.testing.assert_array_equal(est.predict(X), r.model(X[:, 0]))
    assert est.n_features_in_ == 1 and est.models_ == [est.model_]
    assert est.report_.n_units == 6


def test_pipeline_gridsearch_clone_pickle():
    X, y = _one_column(1, 400)
    pipe = make_pipeline(StandardScaler(), ReluSumRegressor())
    grid = GridSearchCV(pipe, {"relusumregressor__n_units": [1, 2, 8]}, cv=3).fit(X, y)
    # |x| has one bend: one unit (a flat first piece) cannot follow it, two can.
    assert grid.best_params_["relusumregressor__n_units"] in (2, 8)
    est = ReluSumRegressor(n_units=4).fit(X, y)
    twin = clone(est)
    assert twin.get_params() == est.get_params() and not hasattr(twin, "model_")
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))


def test_pandas_column_names():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"age": rng.uniform(0, 1, 200), "dose": rng.uniform(0, 2, 200)})
    y = np.maximum(df["age"] - 0.5, 0) + 0.3 * df["dose"]
    est = ReluSumRegressor(n_units=4).fit(df, y)
    assert list(est.feature_names_in_) == ["age", "dose"]
    assert isinstance(est.model_, AdditiveReluSum)
    assert est.model_.feature_names == ("age", "dose")
    with pytest.warns(UserWarning, match="feature names"):
        est.predict(df.to_numpy())


def test_additive_recovers_each_column_shape():
    rng = np.random.default_rng(5)
    n, sigma = 4000, 0.05
    X = rng.uniform(-1, 1, (n, 2))

    def f1(x):
        return np.abs(x) - np.mean(np.abs(X[:, 0]))

    def f2(x):
        return 2 * np.maximum(x - 0.2, 0) - np.mean(2 * np.maximum(X[:, 1] - 0.2, 0))

    y = 1.5 + f1(X[:, 0]) + f2(X[:, 1]) + rng.normal(0, sigma, n)
    est = ReluSumRegressor(n_units=10).fit(X, y)
    grid = np.linspace(-0.95, 0.95, 50)
    # Each centred component follows its centred truth within the noise.
    assert np.max(np.abs(est.model_.partial(0, grid) - f1(grid))) < 2 * sigma
    assert np.max(np.abs(est.model_.partial(1, grid) - f2(grid))) < 2 * sigma
    assert est.model_.intercept == pytest.approx(1.5, abs=0.02)
    resid = y - est.predict(X)
    assert np.std(resid) == pytest.approx(sigma, rel=0.1)


def test_additive_exports_exactly_to_torch_and_onnx(tmp_path):
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(6)
    X = rng.uniform(-2, 2, (500, 3))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2 - np.abs(X[:, 2])
    model = ReluSumRegressor(n_units=5, knots="quantile").fit(X, y).model_
    Xt = rng.uniform(-5, 5, (300, 3))  # beyond the data too
    net = model.to_torch()
    out = net(torch.tensor(Xt, dtype=torch.float64)).detach().numpy()[:, 0]
    np.testing.assert_allclose(out, model(Xt), rtol=1e-12, atol=1e-12)
    path = model.to_onnx(tmp_path / "m.onnx", dtype="float64")
    sess = ort.InferenceSession(str(path))
    got = sess.run(None, {"x": Xt})[0][:, 0]
    np.testing.assert_allclose(got, model(Xt), rtol=1e-12, atol=1e-12)
    back = AdditiveReluSum.from_dict(model.to_dict())
    np.testing.assert_allclose(back(Xt), model(Xt), rtol=0, atol=0)


def test_auto_units_in_estimator_keeps_curve():
    X, y = _one_column(3, 300)
    est = ReluSumRegressor(n_units="auto", selection="gcv").fit(X, y)
    assert (
        est.selection_curve_
        and est.model_.n_units == min(est.selection_curve_, key=lambda t: t[1])[0]
    )


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.array([[np.nan], [1.0], [2.0]]), np.array([1.0, 2.0, 3.0]), "NaN"),
        (np.array([[np.inf], [1.0], [2.0]]), np.array([1.0, 2.0, 3.0]), "infinity"),
        (np.empty((0, 1)), np.empty(0), "0 sample"),
        (np.ones((5, 1)), np.arange(5.0), "two distinct x"),
        (np.array([["a"], ["b"], ["c"]]), np.array([1.0, 2.0, 3.0]), "could not convert"),
        (np.arange(6.0).reshape(3, 2)[:, :1], np.ones((3, 2)), "y should be a 1d array"),
    ],
)
def test_bad_input_is_a_clear_value_error(X, y, match):
    with pytest.raises(ValueError, match=match):
        ReluSumRegressor(n_units=2).fit(X, y)


def test_bad_parameters():
    X, y = _one_column()
    with pytest.raises(ValueError, match="n_units must be"):
        ReluSumRegressor(n_units=0).fit(X, y)
    with pytest.raises(ValueError, match="knots must be one of"):
        ReluSumRegressor(knots="random").fit(X, y)
    with pytest.raises(ValueError, match="one column"):
        ReluSumRegressor(loss="linf").fit(np.hstack([X, X**2]), y)


def test_cli_units_auto_band_json_and_plot(tmp_path):
    import json
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 400)
    y = np.abs(x - 4) + rng.normal(0, 0.3, x.size)
    path = tmp_path / "d.csv"
    path.write_text("t,v\n" + "".join(f"{a},{b}\n" for a, b in zip(x, y)))
    cmd = [sys.executable, "-m", "relusum", "fit", "--data", str(path), "--x", "t", "--y", "v"]
    out = subprocess.run(
        cmd
        + [
            "--units",
            "auto",
            "--selection",
            "bic",
            "--band",
            "0.95",
            "--json",
            "--plot",
            str(tmp_path / "f.png"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    d = json.loads(out)
    assert d["selection"] == "bic" and len(d["selection_curve"]) >= 3
    u = d["uncertainty"]
    assert len(u["weight_se"]) == d["n_units"] and u["sigma"] == pytest.approx(0.3, rel=0.2)
    assert (tmp_path / "f.png").stat().st_size > 10_000
    bad = subprocess.run(cmd + ["--band", "1.5"], capture_output=True, text=True)
    assert bad.returncode == 2 and "level between 0 and 1" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_plot_partial_draws_each_column_with_band():
    import matplotlib

    matplotlib.use("Agg")
    from relusum.plot import plot_partial

    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, (600, 2))
    y = np.abs(X[:, 0]) + X[:, 1] ** 2 + rng.normal(0, 0.1, 600)
    est = ReluSumRegressor(n_units=5).fit(X, y)
    axes = plot_partial(est, X)
    assert len(axes) == 2
    for ax in axes:
        assert len(ax.collections) == 1  # the band
        lo_hi = ax.collections[0].get_paths()[0].vertices[:, 1]
        assert np.ptp(lo_hi) > 0


def test_constraints_and_robust_losses_pass_through():
    rng = np.random.default_rng(8)
    X = rng.uniform(0, 1, (400, 1))
    y = np.sqrt(X[:, 0]) + rng.normal(0, 0.1, 400)
    est = ReluSumRegressor(n_units=8, monotone="increasing", shape="concave").fit(X, y)
    r = relusum.fit((X[:, 0], y), n_units=8, monotone="increasing", shape="concave")
    assert est.model_.allclose(r.model)
    slopes = est.model_.slopes[1:]  # the pieces on the domain
    assert np.all(slopes >= -1e-9) and np.all(np.diff(slopes) <= 1e-9)
    q = ReluSumRegressor(n_units=6, loss="quantile", quantile=0.9).fit(X, y)
    assert abs(np.mean(y <= q.predict(X)) - 0.9) <= 0.02
    with pytest.raises(ValueError, match="one column"):
        ReluSumRegressor(monotone="increasing").fit(np.hstack([X, X**2]), y)


def test_additive_fit_on_one_column_equals_the_plain_fit():
    from relusum.fitting.additive import fit_additive

    rng = np.random.default_rng(9)
    x = rng.uniform(-1, 1, 500)
    y = np.sin(3 * x) + rng.normal(0, 0.05, x.size)
    f = fit_additive(x[:, None], y, n_units=7)
    r = relusum.fit((x, y), n_units=7)
    np.testing.assert_allclose(f(x[:, None]), r.model(x), rtol=0, atol=1e-12)
