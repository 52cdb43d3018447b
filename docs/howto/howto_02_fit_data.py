"""
Fit data: arrays, CSV files and pandas
======================================

Data are fitted by least squares by default; errors are reported on the data.
"""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import relusum

rng = np.random.default_rng(0)
x = rng.uniform(0, 10, 500)
y = np.sqrt(x) + rng.normal(0, 0.05, x.size)
r = relusum.fit((x, y), n_units=8)
print(f"arrays: RMSE {r.report.rmse:.3f} on {r.report.n_verify} points ({r.report.error_on})")

# %%
# A CSV file with a header: name the columns (or give their indices).
with tempfile.TemporaryDirectory() as tmp:
    csv = Path(tmp) / "growth.csv"
    pd.DataFrame({"time": x, "size": y}).to_csv(csv, index=False)
    data = relusum.read_csv(csv, x="time", y="size")
    r_csv = relusum.fit(data, n_units=8)
print(f"CSV: {data.x_name} -> {data.y_name}, RMSE {r_csv.report.rmse:.3f}")

# %%
# pandas: pass two columns; weights go in ``sample_weight``.
df = pd.DataFrame({"x": x, "y": y, "w": np.where(x > 5, 2.0, 1.0)})
r_pd = relusum.fit((df["x"].to_numpy(), df["y"].to_numpy()), n_units=8, sample_weight=df["w"])
print(f"weighted: RMSE {r_pd.report.rmse:.3f}")

# %%
# From the command line the same fit is ``relusum fit growth.csv --x time --y size``.
