"""
Many curves, and data that do not fit in memory
===============================================

``relusum.fit_many`` fits one sum per group of a long table in one batched solve; Dask
DataFrames are fitted by passes over their partitions (extra ``relusum[dask]``).
"""

import numpy as np
import pandas as pd

import relusum

rng = np.random.default_rng(3)
groups = 200
x = np.tile(np.linspace(0, 1, 100), groups)
g = np.repeat(np.arange(groups), 100)
y = np.sin(6 * x + g / 30) + rng.normal(0, 0.05, x.size)
df = pd.DataFrame({"id": g, "x": x, "y": y})
out = relusum.fit_many(df, by="id", x="x", y="y", n_units=8)
print(type(out).__name__, len(out))
print(out.head() if hasattr(out, "head") else out[:3])

# %%
# Optimal (free) knots run one search per curve.  ``search="quick"`` runs a reduced
# search: about half the CPU of the default ``"thorough"`` one, the same SSR on most
# curves and a slightly larger one on the rest (measured in
# ``docs/bench/bench_many_optimal.md``); ``n_jobs`` spreads the curves over processes.
few = df[df["id"] < 20]
thorough = relusum.fit_many(few, by="id", x="x", y="y", n_units=6, knots="optimal")
quick = relusum.fit_many(few, by="id", x="x", y="y", n_units=6, knots="optimal", search="quick")
excess = (quick["rmse"] ** 2 / thorough["rmse"] ** 2 - 1).to_numpy()
print(
    f"quick vs thorough SSR: {np.mean(excess <= 1e-9):.0%} of curves equal or better, "
    f"worst {excess.max():+.1e} relative"
)

# %%
# Dask: the same call as for arrays, on a Dask DataFrame of two columns.
import dask.dataframe as dd  # noqa: E402

one = df[df["id"] == 0][["x", "y"]]
big = dd.from_pandas(one, npartitions=4)
r = relusum.fit(big, n_units=8)
print(f"curve 0 as Dask, 4 partitions: RMSE {r.report.rmse:.3f}")
