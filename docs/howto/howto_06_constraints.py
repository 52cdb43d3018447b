"""
Constraints and robust losses
=============================

Shape constraints (monotone, convex or concave, bounds on slopes and values, points to pass
through) and robust losses (Huber, L1, quantiles) combine with every knot choice.
"""

import matplotlib.pyplot as plt
import numpy as np

import relusum

rng = np.random.default_rng(2)
x = np.sort(rng.uniform(0, 1, 300))
y = np.log1p(5 * x) + rng.normal(0, 0.08, x.size)
y[::25] += 1.5  # outliers

plain = relusum.fit((x, y), n_units=10)
shaped = relusum.fit((x, y), n_units=10, monotone="increasing", shape="concave")
robust = relusum.fit((x, y), n_units=10, loss="huber", monotone="increasing")
median = relusum.fit((x, y), n_units=10, loss="quantile", quantile=0.5)

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(x, y, ".", ms=3, color="0.6")
for name, r in [("l2", plain), ("monotone concave", shaped), ("huber", robust), ("median", median)]:
    ax.plot(x, r.model(x), label=name)
ax.legend()
print("slopes of the monotone fit are >= 0:", bool(shaped.model.slopes.min() >= -1e-12))
