"""Which new samples the refinement of a function's minimax fit may add.

The refinement (:func:`~.target.minimax_target`) adds samples around the error
peaks between the current ones; the exact sweep decides feasibility correctly
only on samples it can tell apart.  :func:`apart` keeps new samples a spacing
floor away from every sample, :func:`distinct` lets closer ones in where the
target moves enough between them (a singular derivative), and :func:`resolved`
drops those the sweep's coordinate ``u = (x - c) / (B - A)`` cannot separate
(``c`` the gates' origin, :func:`~.gates.gate_origin`: ``A``, or 0 inside the domain).
"""

from __future__ import annotations

import numpy as np

from relusum.fitting.minimax.gates import gate_origin

__all__ = ["apart", "distinct", "resolved", "ULPS"]

#: Units in the last place of the sweep's coordinate u = (x - c) / (B - A) that
#: must separate two samples (with the origin c = A, abs(x)**0.1 at 0 on [-1, 1]
#: had u near 0.5, where samples 1e-18 apart shared one u; with c = 0 its u is
#: near 0 there, resolved as finely as x).
ULPS = 64


def apart(xs: np.ndarray, new: np.ndarray, floor: float, n_jump: int) -> np.ndarray:
    """Which of ``new`` lie more than ``floor`` from every sample and from each other.

    The first ``n_jump`` entries (a jump's one-sided values, which share
    their x) need only be apart from the old samples.
    """
    ok = np.ones(new.size, dtype=bool)
    if new.size == 0:
        return ok
    k = np.clip(np.searchsorted(xs, new), 1, xs.size - 1)
    near = np.minimum(np.abs(new - xs[k - 1]), np.abs(xs[k] - new))
    ok &= near > floor
    order = np.argsort(new[n_jump:], kind="stable") + n_jump
    idx = order[ok[order]]
    vals = new[idx]
    # Greedy from the left: keep a point if it lies more than ``floor`` past
    # the last one kept (compiled: tens of thousands of close comb points).
    from relusum.fitting.minimax.kernel import greedy_apart

    ok[idx[~greedy_apart(vals, floor)]] = False
    return ok


def distinct(
    xs: np.ndarray, ys: np.ndarray, new: np.ndarray, ny: np.ndarray, dy: float
) -> np.ndarray:
    """Which new samples differ in value by more than ``dy`` from their neighbours.

    The sweep decides touches to within a few 1e-12 of the (normalised)
    values: two gates closer than the 1e-8 spacing floor keep it exact only
    if the target moves far more than that between them, as ``sqrt`` does
    near 0; mid-domain on a smooth target (x**2, gaps of 1e-10) they made
    feasibility non-monotone in the error and bounds above the optimum.
    """
    k = np.clip(np.searchsorted(xs, new), 1, xs.size - 1)
    ok = (np.abs(ny - ys[k - 1]) > dy) & (np.abs(ys[k] - ny) > dy)
    order = np.argsort(new, kind="stable")
    close = np.abs(np.diff(ny[order])) <= dy
    ok[order[1:][close]] = False
    return ok


def resolved(
    xs: np.ndarray, new: np.ndarray, ok: np.ndarray, n_jump: int, domain: tuple[float, float]
) -> np.ndarray:
    """``ok`` less the new samples (after the first ``n_jump``) that the sweep cannot tell apart.

    The sweep works in ``u = (x - c) / (B - A)`` (``c``: :func:`~.gates.gate_origin`):
    a new sample within :data:`ULPS` units in the last place of u of another
    sample (old, or new and kept) is dropped, as are both of two such new samples.
    """
    idx = np.flatnonzero(ok[n_jump:]) + n_jump
    if idx.size == 0:
        return ok
    a, b = float(domain[0]), float(domain[1])
    c = gate_origin((a, b))
    u = np.concatenate(((xs - c) / (b - a), (new[idx] - c) / (b - a)))
    who = np.concatenate((np.full(xs.size, -1), idx))
    order = np.argsort(u, kind="stable")
    u, who = u[order], who[order]
    du = np.diff(u)
    tight = du <= ULPS * np.spacing(np.maximum(np.abs(u[1:]), np.abs(u[:-1])))
    if not np.any(tight):
        return ok
    bad = np.zeros(u.size, dtype=bool)
    bad[:-1] |= tight
    bad[1:] |= tight
    drop = who[bad & (who >= 0)]
    out = ok.copy()
    out[drop] = False
    return out
