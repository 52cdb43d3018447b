"""
Activation functions as ReLU sums
=================================

GELU, SiLU and the sigmoid, each with 8 optimal units.
"""

import matplotlib.pyplot as plt
import numpy as np

import relusum

x = np.linspace(-4, 4, 400)
for name in ("gelu(x)", "silu(x)", "sigmoid(x)"):
    r = relusum.fit(name, domain=(-4, 4), n_units=8, knots="optimal")
    plt.plot(x, r.model(x), label=f"{name}: max error {r.report.max_abs_error:.3f}")
plt.legend()
