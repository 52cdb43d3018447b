"""
Interpolation: the broken line through the samples
==================================================

``interpolate=True`` makes the sum equal the target at every knot.
"""

import matplotlib.pyplot as plt
import numpy as np

import relusum

r = relusum.fit("cos(2*x)", domain=(0, 3), n_units=7, interpolate=True)
x = np.linspace(0, 3, 400)
plt.plot(x, np.cos(2 * x), label="cos(2x)")
plt.plot(x, r.model(x), label="interpolant")
plt.plot(r.model.knots, r.model(r.model.knots), "ko")
plt.legend()
