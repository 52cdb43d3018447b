"""
Quantile bands
==============

The pinball loss fits a quantile: 10% of the points lie below the 0.1 curve.
"""

import matplotlib.pyplot as plt
import numpy as np

import relusum

rng = np.random.default_rng(5)
x = np.sort(rng.uniform(0, 4, 400))
y = np.sin(x) + rng.normal(0, 0.1 + 0.1 * x, x.size)
plt.plot(x, y, ".", color="0.6", ms=3)
for q in (0.1, 0.5, 0.9):
    r = relusum.fit((x, y), n_units=6, loss="quantile", quantile=q)
    below = np.mean(y < r.model(x))
    plt.plot(x, r.model(x), label=f"q={q} ({below:.0%} below)")
plt.legend()
