"""
Fitting a sine with 12 units
============================
"""

import relusum
from relusum.plot import plot_fit

r = relusum.fit("sin(x)", domain=(0, "2*pi"), n_units=12)
plot_fit(r)
print(r.report)
