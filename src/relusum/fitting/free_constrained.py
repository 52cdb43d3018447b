"""Free knots with constraints or a robust loss: a heuristic search, exact weights.

For each candidate set of knots the weights come from the exact constrained
fixed-knot solver (:mod:`relusum.fitting.qp`, :mod:`relusum.fitting.robust`),
so **every result satisfies every constraint** and is the best fit for its
knots.  The knots themselves are a heuristic (the constrained free-knot
problem is non-convex):

- the unconstrained optimal knots of the same loss (``l2``, ``linf``) or of
  least squares (robust losses), and uniform knots;
- for the robust losses, a round of reweighted free-knot least squares
  (the weights that make least squares match ``l1``, ``quantile`` or
  ``huber`` at the current fit, so outliers stop attracting knots);
- a first knot moved to ``A`` when a flat first piece would break a slope
  bound or a ``through`` point.

With a robust loss a candidate that leaves a piece fewer than three samples
is skipped (one more knot could otherwise chase a single outlier); the first
candidate is always kept.  With ``huber`` and no ``huber_delta``, one delta
(from the fit on uniform knots) serves every candidate, so their losses
compare.

The candidate with the smallest loss on the samples wins; the report's
``extra["knots_from"]`` says which.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from relusum.fitting.constraints import Constraints
from relusum.fitting.fixed import uniform_knots
from relusum.fitting.optimal import fit_optimal
from relusum.fitting.problem import Problem, Solution
from relusum.fitting.robust import pinball
from relusum.model import ReluSum
from relusum.targets import Target

__all__ = ["solve_free", "sample_loss"]


def sample_loss(
    model: ReluSum, target: Target, loss: str, options: dict[str, Any], delta: float | None = None
) -> float:
    """The objective ``loss`` of ``model`` on the target's samples (weighted)."""
    r = target.y - model(target.x)
    w = np.ones_like(r) if target.weight is None else target.weight
    if loss == "linf":
        return float(np.max(np.abs(r)))
    if loss == "l2":
        return float(np.sum(w * r * r))
    if loss == "l1":
        return float(np.sum(w * np.abs(r)))
    if loss == "quantile":
        return float(np.sum(w * pinball(r, options.get("quantile", 0.5))))
    d = float(delta if delta is not None else options.get("huber_delta") or 1.0)
    a = np.abs(r)
    return float(np.sum(w * np.where(a <= d, 0.5 * r * r, d * a - 0.5 * d * d)))


def _fix_first(
    knots: np.ndarray, domain: tuple[float, float], c: Constraints, pin: bool = False
) -> np.ndarray:
    """Move the first knot to ``A`` when a flat first piece would break a constraint."""
    a = domain[0]
    if knots[0] <= a:
        return knots
    if pin:
        return np.concatenate(([a], knots[1:]))
    lo, hi = c.slope_range()
    pts = {p[1] for p in c.through if p[0] <= knots[0]}
    if lo <= 0.0 <= hi and len(pts) <= 1:
        return knots
    return np.concatenate(([a], knots[1:]))


#: Rounds of reweighted free-knot least squares for the robust losses.
REWEIGHT_ROUNDS = 1
#: With a robust loss, every piece of a candidate must hold this many samples.
MIN_PIECE_SAMPLES = 3


def _thin_piece(knots: np.ndarray, target: Target) -> bool:
    """Whether a piece holds too few samples (it could chase a single outlier)."""
    a, b = target.domain
    t = np.concatenate(([a], knots[knots > a], [b]))
    counts = np.diff(np.searchsorted(target.x, t, side="left"))
    counts[-1] += int(np.count_nonzero(target.x == b))
    return bool(np.any(counts < MIN_PIECE_SAMPLES))


def _irls_weights(model: ReluSum, target: Target, loss: str, options: dict[str, Any], delta):
    r = target.y - model(target.x)
    a = np.abs(r)
    floor = 1e-6 * (float(np.max(a)) + 1e-300)
    if loss == "huber":
        w = np.minimum(1.0, delta / np.maximum(a, floor))
    else:
        q = 0.5 if loss == "l1" else options.get("quantile", 0.5)
        w = np.where(r >= 0, q, 1.0 - q) / np.maximum(a, floor)
    if target.weight is not None:
        w = w * target.weight
    return w / float(np.max(w))


def solve_free(p: Problem, fixed) -> Solution:
    """Free knots for ``p`` (constraints and/or a robust loss); ``fixed`` solves given knots."""
    tgt, n, loss, cons = p.target, p.n_units, p.loss, p.constraints
    pin = bool(p.options.get("pin_first", False))
    if loss == "huber" and p.options.get("huber_delta") is None:
        # One delta for every candidate (from the fit on uniform knots), so
        # their losses compare.
        uni = _fix_first(uniform_knots(tgt.domain, n), tgt.domain, cons, pin)
        delta = fixed(p.with_(knots=uni, n_units=None)).facts["huber_delta"]
        p = p.with_(options={**p.options, "huber_delta": delta})
    base_loss = loss if loss in ("l2", "linf") else "l2"
    cands: list[tuple[str, np.ndarray]] = []
    opt, _ = fit_optimal(tgt, n, base_loss, progress=p.progress, pin_first=pin)
    cands.append((f"optimal {base_loss} knots", opt.knots))
    cands.append(("uniform knots", uniform_knots(tgt.domain, n)))
    best: tuple[float, str, Solution] | None = None
    errors: list[str] = []

    robust = loss in ("l1", "quantile", "huber")

    def consider(name: str, knots: np.ndarray) -> None:
        nonlocal best
        knots = _fix_first(np.unique(knots), tgt.domain, cons, pin)
        if robust and best is not None and _thin_piece(knots, tgt):
            return
        try:
            sol = fixed(p.with_(knots=knots, n_units=None))
        except ValueError as exc:
            errors.append(str(exc))
            return
        val = sample_loss(sol.model, tgt, loss, p.options, sol.facts.get("huber_delta"))
        if best is None or val < best[0]:
            best = (val, name, sol)

    for name, knots in cands:
        consider(name, knots)
    if loss in ("l1", "quantile", "huber") and best is not None:
        from relusum.fitting.free_l2 import free_knot_l2

        for k in range(REWEIGHT_ROUNDS):
            sol = best[2]
            w = _irls_weights(sol.model, tgt, loss, p.options, sol.facts.get("huber_delta"))
            reweighted = replace(tgt, weight=w)
            knots = free_knot_l2(
                reweighted, n, init=sol.model.knots, progress=False, pin_first=pin
            ).knots
            consider(f"reweighted free-knot least squares ({k + 1})", knots)
    if best is None:
        raise ValueError(errors[0] if errors else "no feasible knots were found")
    val, name, sol = best
    facts = dict(sol.facts)
    facts.update(
        {
            "method": f"{facts.get('method', loss)}; knots: heuristic search",
            "knots_from": name,
        }
    )
    return Solution(sol.model, facts)
