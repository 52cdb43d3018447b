"""
Where optimal knots go
======================

Knots crowd where the curve bends most.
"""

import matplotlib.pyplot as plt
import numpy as np

import relusum

r = relusum.fit("exp(4*x)", domain=(0, 1), n_units=12, knots="optimal")
x = np.linspace(0, 1, 400)
plt.plot(x, np.exp(4 * x), label="exp(4x)")
plt.plot(r.model.knots, r.model(r.model.knots), "o", label="optimal knots")
plt.legend()
