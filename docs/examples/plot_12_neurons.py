"""
The neurons of a fitted network
===============================

A ReluSum as a one-hidden-layer PyTorch network, drawn unit by unit.
"""

import matplotlib.pyplot as plt

import relusum
from relusum.torch_bridge import plot_units, to_torch

r = relusum.fit("x * sin(x)", domain=(0, 10), n_units=10)
net = to_torch(r.model)
plot_units(net, domain=(0, 10))
plt.tight_layout()
