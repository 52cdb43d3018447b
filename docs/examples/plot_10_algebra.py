"""
Model algebra: sums of ReluSums are ReluSums
============================================
"""

import matplotlib.pyplot as plt
import numpy as np

import relusum

a = relusum.fit("sin(x)", domain=(0, 6), n_units=8).model
b = relusum.fit("0.3*x", domain=(0, 6), n_units=2).model
c = a + b
x = np.linspace(0, 6, 300)
plt.plot(x, a(x), label=f"a ({a.n_units} units)")
plt.plot(x, b(x), label=f"b ({b.n_units} units)")
plt.plot(x, c(x), label=f"a + b ({c.n_units} units)")
plt.legend()
print(c)
