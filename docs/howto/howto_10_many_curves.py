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
# Dask: the same call as for arrays, on a Dask DataFrame of two columns.
import dask.dataframe as dd  # noqa: E402

one = df[df["id"] == 0][["x", "y"]]
big = dd.from_pandas(one, npartitions=4)
r = relusum.fit(big, n_units=8)
print(f"curve 0 as Dask, 4 partitions: RMSE {r.report.rmse:.3f}")
