"""
Choose the number of units
==========================

Too few units underfit, too many chase noise. ``n_units="auto"`` scores each candidate by
cross-validation (or BIC/GCV) and keeps the curve of scores; the scikit-learn estimator
:class:`relusum.ReluSumRegressor` does the same inside pipelines and grid searches.
"""

import matplotlib.pyplot as plt
import numpy as np

import relusum

rng = np.random.default_rng(1)
x = np.sort(rng.uniform(0, 1, 400))
y = np.sin(6 * x) + rng.normal(0, 0.1, x.size)
r = relusum.fit((x, y), n_units="auto")
print("chosen:", r.report.n_units, "units")
curve = r.report.extra["selection_curve"]
n, score = np.array(curve, dtype=float).T
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(n, score, "o-")
ax.axvline(r.report.n_units, color="k", ls=":")
ax.set_xlabel("units")
ax.set_ylabel("cross-validated score")

# %%
# Confidence bands of the fitted curve (least squares):
lo, hi = r.band(x)
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(x, y, ".", ms=2, color="0.6")
ax.fill_between(x, lo, hi, alpha=0.4, label="95% confidence band")
ax.plot(x, r.model(x), label="fit")
ax.legend()

# %%
# The scikit-learn estimator:
from sklearn.model_selection import KFold, cross_val_score  # noqa: E402

est = relusum.ReluSumRegressor(n_units=12)
scores = cross_val_score(est, x.reshape(-1, 1), y, cv=KFold(5, shuffle=True, random_state=0))
print("R^2 per fold:", np.round(scores, 3))
