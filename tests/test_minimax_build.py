"""The compiled model builder (build_kernel) against the Python reference it replaces:
bit-identical knots, weights and bias."""

from __future__ import annotations

import numpy as np
import pytest

from relusum.fitting.minimax import make_gates
from relusum.fitting.minimax.build import model_from_pieces, model_from_raw
from relusum.fitting.minimax.sweep import raw_to_pieces, sweep_raw


def _bytes(s):
    return (s.knots.tobytes(), s.weights.tobytes(), np.float64(s.bias).tobytes())


@pytest.mark.parametrize("seed, shift", [(0, 0.0), (1, 0.0), (2, 0.4)])
def test_compiled_builder_is_bit_identical_to_python(seed, shift):
    """Random sets (convex, non-convex, jumps, repeated x, a singular slope), free and
    pinned, tube or points, at several errors: the same floats from both builders
    (``shift``: x in [-shift, 1 - shift], a domain straddling 0, where the gates'
    origin is 0 and u spans [u_a, u_b] around it)."""
    rng = np.random.default_rng(seed)
    built = 0
    for case in range(120):
        m = int(rng.integers(2, 80))
        x = np.sort(rng.uniform(0, 1, m))
        if rng.random() < 0.3:
            x = np.sort(rng.integers(0, max(2, m - 2), m).astype(float)) / m
        kind = case % 4
        if kind == 0:
            y = np.exp(2 * x)
        elif kind == 1:
            y = rng.normal(size=m)
        elif kind == 2:
            y = np.where(x > np.median(x), 2.0, 0.0) + 0.3 * rng.normal(size=m)
        else:
            y = np.abs(x - 0.5) ** 0.25
        g = make_gates(x - shift, y)
        if shift:
            assert g.u_a < 0.0 < g.u_b or not x[0] < shift < x[-1]
        for eps in (1e-3, 0.05, 0.2, 0.5):
            for flat in (True, False):
                for tube in (False, True):
                    raw = sweep_raw(g, eps, int(rng.integers(1, 8)), flat, True, tube)
                    if raw is None:
                        continue
                    python = model_from_pieces(g, raw_to_pieces(raw), flat)
                    assert _bytes(model_from_raw(g, raw, flat)) == _bytes(python)
                    built += 1
    assert built > 500
