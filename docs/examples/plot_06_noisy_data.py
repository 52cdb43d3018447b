"""
Noisy data with a confidence band
=================================
"""

import matplotlib.pyplot as plt
import numpy as np

import relusum

rng = np.random.default_rng(0)
x = np.sort(rng.uniform(-3, 3, 300))
y = np.tanh(x) + rng.normal(0, 0.15, x.size)
r = relusum.fit((x, y), n_units=6)
lo, hi = r.band(x)
plt.plot(x, y, ".", color="0.6", ms=3)
plt.fill_between(x, lo, hi, alpha=0.4)
plt.plot(x, r.model(x))
