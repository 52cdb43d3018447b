"""
Depth: pieces grow exponentially with layers
============================================

A sawtooth network of k layers has 2^k linear pieces with only two units per layer.
"""

from relusum.depth import plot_depth

plot_depth(max_depth=6)
