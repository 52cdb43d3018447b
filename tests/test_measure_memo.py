"""measure() remembers its last few results by identity: same numbers, never stale (issue 10)."""

from __future__ import annotations

import gc

import numpy as np

from relusum import ReluSum
from relusum.fitting import report
from relusum.fitting.report import measure
from relusum.targets import make_target


def test_memo_returns_what_a_fresh_measure_returns() -> None:
    t = make_target("sin(3*x)", (0.0, 2.0))
    m = ReluSum(0.1, [0.5, 1.0], [1.0, -2.0], (0.0, 2.0))
    first = measure(m, t)
    assert measure(m, t) is first  # remembered
    assert report._measure(m, t) == first  # and equal to the computation


def test_memo_tells_targets_and_models_apart() -> None:
    m = ReluSum(0.0, [0.5], [1.0], (0.0, 1.0))
    t1, t2 = make_target("x", (0.0, 1.0)), make_target("3*x", (0.0, 1.0))
    e1, e2 = measure(m, t1)[1], measure(m, t2)[1]
    assert e1 != e2
    assert measure(m, t1)[1] == e1 and measure(m, t2)[1] == e2
    # An equal but distinct model is measured again (identity, not equality).
    r1 = measure(m, t1)
    r2 = measure(ReluSum(0.0, [0.5], [1.0], (0.0, 1.0)), t1)
    assert r2 == r1 and r2 is not r1
    m3 = ReluSum(0.2, [0.5], [2.0], (0.0, 1.0))
    assert measure(m3, t1) == report._measure(m3, t1) != r1


def test_memo_does_not_keep_a_target_alive() -> None:
    m = ReluSum(0.0, [0.5], [1.0], (0.0, 1.0))
    x = np.linspace(0.0, 1.0, 50_000)
    t = make_target((x, x**2))
    measure(m, t)
    import weakref

    ref = weakref.ref(t)
    del t
    gc.collect()
    assert ref() is None
    # A new target (perhaps at the same address) is measured afresh.
    t3 = make_target((x, x**3))
    assert measure(m, t3)[1] == report._measure(m, t3)[1]
