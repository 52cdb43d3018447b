"""
A monotone fit to noisy data
============================
"""

import matplotlib.pyplot as plt
import numpy as np

import relusum

rng = np.random.default_rng(4)
x = np.sort(rng.uniform(0, 1, 200))
y = x**3 + rng.normal(0, 0.05, x.size)
free = relusum.fit((x, y), n_units=12)
mono = relusum.fit((x, y), n_units=12, monotone="increasing")
plt.plot(x, y, ".", color="0.6", ms=3)
plt.plot(x, free.model(x), label="free")
plt.plot(x, mono.model(x), label="monotone")
plt.legend()
