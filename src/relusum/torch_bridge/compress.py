"""The smallest one-hidden-layer network within a tolerance of a given network."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from relusum.model import ReluSum
from relusum.targets import parse_domain
from relusum.torch_bridge.convert import from_torch, to_torch


@dataclass(frozen=True)
class CompressResult:
    """The outcome of :func:`compress`.

    Attributes
    ----------
    model : torch.nn.Sequential
        ``Linear(1, n), ReLU, Linear(n, 1)`` with ``n = n_units``.
    relusum : ReluSum
        The same function as a sum of shifted ReLUs.
    n_units : int
    max_abs_error : float
        The exact largest difference from the original network on the domain
        (both are piecewise linear, so it is attained at a breakpoint of one).
    exact_units : int
        Units of the exact decomposition (an upper bound for ``n_units``).
    exact_pieces : int
        Linear pieces of the original network on the domain.
    method : str
        ``"exact"``, ``"vertices"`` (greedy chords through the network's own
        breakpoints) or ``"linf fit"`` (a max-error fit with free knots).
    """

    model: nn.Sequential
    relusum: ReluSum
    n_units: int
    max_abs_error: float
    exact_units: int
    exact_pieces: int
    method: str


def _pwl_max_diff(s1: ReluSum, s2: ReluSum, domain: tuple[float, float]) -> float:
    a, b = domain
    h = np.union1d(s1.knots, s2.knots)
    x = np.concatenate(([a, b], h[(h > a) & (h < b)]))
    return float(np.max(np.abs(s1(x) - s2(x))))


def _greedy_vertices(t: np.ndarray, y: np.ndarray, tol: float) -> np.ndarray:
    """Indices of breakpoints kept by greedy longest chords within ``tol``."""
    keep = [0]
    i, last = 0, t.size - 1
    while i < last:
        j = i + 1
        while j < last:
            cand = j + 1
            lam = (t[i + 1 : cand] - t[i]) / (t[cand] - t[i])
            chord = y[i] + lam * (y[cand] - y[i])
            if np.max(np.abs(chord - y[i + 1 : cand])) > tol:
                break
            j = cand
        keep.append(j)
        i = j
    return np.asarray(keep)


def compress(model: nn.Sequential, domain: Sequence[Any], tol: float) -> CompressResult:
    """The smallest one-hidden-layer ReLU network found within ``tol`` of a network.

    The network is decomposed exactly (:func:`from_torch`); its exact sum is an
    upper bound.  Candidates with fewer units: greedy longest chords through
    the network's own breakpoints, and, when available, a max-error fit with
    free knots (``relusum.fit(..., loss="linf", tol=...)``).  Each candidate's
    error is checked exactly (both functions are piecewise linear) and the
    smallest one within ``tol`` wins.

    Examples
    --------
    >>> from relusum.depth import sawtooth
    >>> from relusum.torch_bridge import compress
    >>> compress(sawtooth(3), (0, 1), tol=1e-9).n_units
    8
    """
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol >= 0:
        raise ValueError(f"tol must be a non-negative number, got {tol!r}")
    dom = parse_domain(domain)
    if dom is None:
        raise ValueError("compress needs a domain (A, B)")
    exact = from_torch(model, dom)
    best, method = exact, "exact"
    t, y = exact.to_points()
    if tol > 0 and t.size > 2:
        idx = _greedy_vertices(t, y, float(tol))
        cand = ReluSum.from_points(t[idx], y[idx], dom).simplify()
        if cand.n_units < best.n_units and _pwl_max_diff(cand, exact, dom) <= tol:
            best, method = cand, "vertices"
        try:
            from relusum.fitting.api import fit

            r = fit(exact, dom, loss="linf", tol=float(tol), max_units=max(best.n_units, 1))
            cand = r.model.simplify()
            if cand.n_units < best.n_units and _pwl_max_diff(cand, exact, dom) <= tol:
                best, method = cand, "linf fit"
        except (ValueError, ImportError, NotImplementedError, AttributeError, TypeError):
            pass
    err = _pwl_max_diff(best, exact, dom) if best is not exact else 0.0
    return CompressResult(
        to_torch(best), best, best.n_units, err, exact.n_units, exact.n_pieces, method
    )
