"""Free-knot minimax fit of a target: data exactly, functions with errors that hold between samples.

Functions
    The fit is the exact optimum on the fit samples (so its certificate, the
    bisection's lower end on those samples, is within 1e-6 of the error it
    reaches there), and the samples are refined until that optimum also holds
    between them: an exchange, as in Remez's algorithm.  After each fit the
    error is checked on a dense grid (offset from the samples and from
    relusum's verification grid) and at the model's knots; every peak above
    the error on the samples is located precisely and added, with a comb of
    points around it (the next optimum's kinks would hide in the nearest
    wide gap), and the fit is redone from the proven lower bound (more samples
    only raise the optimum), until the error anywhere is within 0.02% of the
    error on the samples.  Where that cannot be reached (samples would have to
    be closer than the sweep resolves, as for ``sqrt`` near 0 with many
    units), the tube fit of :mod:`.tube` is taken if it is better on the grid,
    and the reported gap against the same bound says how far it is from
    certified.  Smooth targets start from clusters of samples around the
    knots of a quick tube fit (close to the continuous optimum's, so the
    kinks have little room left): about half the rounds and samples, and
    they are refined to 0.005%; a seeded run that does not end certified
    and agreeing is redone with the plain comb.
Jumps
    At each such peak the target is bisected inside its sample interval; if
    its values on either side stay apart as the interval shrinks to rounding
    size, the target jumps there.  Both one-sided values become samples at one
    x, so the gate there has the half jump height as its floor: the certified
    optimum includes it.  When that floor decides the optimum, a second pass
    keeps every jump at its floor and minimises the error everywhere else
    (so a step is matched exactly away from the jump, with the least steep
    ramp the samples allow rather than a constant).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from relusum.fitting.fixed import check_n_units
from relusum.fitting.jumps import find_jumps
from relusum.fitting.minimax.build import model_from_raw
from relusum.fitting.minimax.fixed_lp import dense_grid, local_max
from relusum.fitting.minimax.gates import Gates, make_gates
from relusum.fitting.minimax.solve import MinimaxInfo, Solved, pieces_for, solve_gates
from relusum.fitting.minimax.spacing import apart, distinct, resolved
from relusum.fitting.minimax.sweep import sweep_raw
from relusum.model import ReluSum
from relusum.targets import Target

__all__ = ["minimax_target", "find_jumps"]

#: Stop refining when the error between the samples is within this fraction
#: of the error on them.
_AGREE = 2e-4
#: New samples closer than this (relative to the domain) to another are not
#: added (before the sweep solved its vertices from their two lines, closer
#: points gave false infeasibility, so bounds above the known optimum).
_SPACING = 1e-8
#: The floor under ``agree < _TIGHT``: a knot can hide ``kink * spacing / 4``
#: of error between samples, about 1.3e-6 relative for ``x**2`` at 64 units
#: with the 1e-8 floor; 1e-9 brings every n = 1..64 within 1e-6 of the theory
#: (and in fewer rounds).  The default keeps 1e-8: on ``sqrt`` the finer
#: floor made the grid error 1e-4 worse.
_SPACING_TIGHT = 1e-9
_TIGHT = 1e-5
#: Samples closer than _SPACING must differ in value by this (times the half range of y).
_DISTINCT = 1e-8
#: The closest new samples may come when nothing wider is left to add (with
#: values apart by _DISTINCT, and never closer than the sweep's coordinates
#: resolve, :func:`~.spacing.resolved`).  Not 1e-12 or 1e-14: ``x**0.25`` rises by
#: 1e-3 in [0, 1e-12], and its fit at 64 units hid knots there (grid 4.3% above
#: the samples at 1e-14, 0.02% at 1e-18); the sweep solves vertices exactly on such
#: samples (``kernel_exact``).  1e-30, not 1e-18: ``abs(x)**0.1`` on [-1, 1] is
#: still 4e-3 at 1e-24, and its fit at 64 units puts knots 1e-22 from 0 (grid 10x
#: the samples at 1e-18, 0.01% now; the gates' origin at 0 resolves such samples).
#: 1e-60, not 1e-30: ``abs(x)**0.05`` wants a knot 1e-52 from 0 at 64 units (grid
#: 12x the samples at 1e-30, 1.00006 now) and ``x**0.1`` one 1e-34 from 0 (1.0087 ->
#: 1.0002); targets that never need samples that close are unchanged.
_FINEST = 1e-60
#: Accuracy of the optimum on the samples while they are still refined.
_COARSE = 1e-5
#: New samples around an error peak, in units of the sample interval it lies in.
_COMB = np.concatenate((-np.arange(1, 65), np.arange(1, 65))) / 16.0
#: Tube-fit rounds that place the first clusters (see :func:`_seed`).
_SEED_ROUNDS = 3
#: A seed cluster around a knot: offsets of 8 sample intervals times 1.25**-j, j < 48.
_SEED = 8.0 * 1.25 ** -np.arange(48)
#: The comb of seeded targets: 16 sample intervals times 1.25**-j, j < 40, on each side.
_GEO = np.concatenate((-(16.0 * 1.25 ** -np.arange(40)), 16.0 * 1.25 ** -np.arange(40)))
#: Seeded targets are refined until the grid agrees within this (or ``agree`` if smaller).
_SEED_AGREE = 5e-5
#: The seeding tube fit runs on evenly spaced samples this many times denser than the target's.
_SEED_DENSE = 4
#: Above this disagreement between the grid and the samples the tube fit is tried.
_LIMIT = 5e-4


def _at(model: ReluSum, x: np.ndarray) -> np.ndarray:
    """``model(x)``, compiled (:mod:`.values`: the same numbers, one pass)."""
    from relusum.fitting.minimax.values import model_values

    return model_values(model, x)


def _error_of(target: Target) -> Callable[[ReluSum, np.ndarray], np.ndarray]:
    def err(model: ReluSum, t: np.ndarray) -> np.ndarray:
        return _at(model, t) - target.evaluate(t)

    return err


def _sample_error(model: ReluSum, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.max(np.abs(_at(model, x) - y))) if x.size else 0.0


def _with_zero(target: Target, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The samples, with ``x = 0`` added for a function continuous there inside the domain.

    The gates' origin is 0 on such a domain (:func:`~.gates.gate_origin`), so
    samples and knots may come as close to 0 as float64 resolves x; a cusp
    there (``abs(x)**0.1``) has its error peak at 0 itself, which no comb of
    new samples reaches (and the jump test, run on the interval around a
    peak, takes such a cusp for a jump).  Not at a jump (``sign``: the values
    at +-1e-300 differ from the value at 0), nor where the target is not
    finite or fails (``sin(x)/x``).
    """
    a_, b_ = target.domain
    if target.fn is None or not a_ < 0.0 < b_ or np.any(x == 0.0):
        return x, y
    v = [target.finite_value(t) for t in (-1e-300, 0.0, 1e-300)]
    if any(t is None for t in v):
        return x, y
    span = float(np.max(y) - np.min(y)) if y.size else 0.0
    if max(abs(v[0] - v[1]), abs(v[2] - v[1])) > 1e-9 * max(span, abs(float(v[1])), 1e-300):
        return x, y
    k = int(np.searchsorted(x, 0.0))
    return np.insert(x, k, 0.0), np.insert(y, k, float(v[1]))


def _second_pass(
    g: Gates, n_units: int, flat_first: bool, rtol: float, eps_n: float, tube: bool = False
) -> ReluSum | None:
    """Keep every repeated-x gate at what ``eps_n`` allows; minimise the error on the others."""
    rep = g.hi > g.lo
    if not np.any(rep) or np.all(rep):
        return None
    pinned = g.pin(rep, g.hi[rep] - eps_n, g.lo[rep] + eps_n)
    _, model = solve_gates(pinned, n_units, flat_first, rtol, hi=eps_n, tube=tube)
    return model


def minimax_target(
    target: Target,
    n_units: int,
    *,
    flat_first: bool = True,
    rtol: float | None = None,
    rounds: int = 200,
    progress: Callable[[], None] | None = None,
    agree: float = _AGREE,
    seed: bool = True,
    start: tuple[ReluSum, MinimaxInfo] | None = None,
) -> tuple[ReluSum, MinimaxInfo]:
    """Free-knot minimax fit of a :class:`~relusum.targets.Target` with ``n_units`` units.

    Data: the exact optimum on the points (relative accuracy ``rtol``,
    default 1e-9), with a proven lower bound.  Function: the same on the
    samples, refined until the error between samples agrees (see the module
    docstring); ``info.eps`` is the error on the final sample set and
    ``info.lower_bound`` a proven bound for it (hence for the continuous
    problem too).  ``agree`` is how close (relative) the error anywhere
    must come to the error on the samples (default 2e-4); the optimum on the
    samples is then within about that of the continuous optimum.  ``1e-6``
    (below 1e-5 new samples may come 1e-9 apart instead of 1e-8) brings
    ``x**2`` within 1e-6 of the theory for every n = 1..64, at 1x to 2.5x
    the time (64 units); it stops short where new samples would have to come
    closer than 1e-9 of the domain (Runge, gelu: 1.3e-6, 2e-6).  ``seed``
    (default True) starts smooth targets from clusters of samples around a
    quick tube fit's knots (:func:`_seed`) and refines them to within ``min(agree, 5e-5)``; should
    that end without agreement (other than because no new sample may come
    closer, where the plain exchange stops too) or with a gap above 5e-7
    (rounding on the crowded samples), the fit is redone with
    ``seed=False``, the plain exchange.  ``start`` (an earlier fit of this
    target with the same units and its info) continues the exchange from
    that model, its final samples and its proven bound, e.g. to a closer
    ``agree``.

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.minimax import minimax_target
    >>> s, info = minimax_target(make_target("abs(x - 0.3)", (0, 1)), 2)
    >>> s.knots.round(12).tolist(), s.weights.round(12).tolist()
    ([0.0, 0.3], [-1.0, 2.0])
    """
    n_units = check_n_units(n_units)
    rtol = 1e-9 if rtol is None else float(rtol)
    agree0 = agree
    x, y = target.x, np.asarray(target.y, dtype=float)
    x, y = _with_zero(target, x, y)
    g = make_gates(x, y, target.domain)
    if target.fn is None:
        res, model = solve_gates(g, n_units, flat_first, rtol, progress=progress)
        if res.eps <= g.floor and g.floor > 0:
            better = _second_pass(g, n_units, flat_first, rtol, res.eps)
            if better is not None and _sample_error(better, x, y) <= _sample_error(model, x, y):
                model = better
        err = _sample_error(model, x, y)
        return model, MinimaxInfo(err, int(g.u.size), res.iterations, 0, res.lower * g.half)
    # Functions: the exact optimum on the samples, refined where the error
    # between them peaks (an exchange, as in Remez's algorithm) until the
    # error anywhere is within _AGREE of the error on the samples.
    dense = dense_grid(target.domain, max(20 * x.size, 100_000))
    fd = target.evaluate(dense)
    scale = float(np.max(np.abs(fd))) + 1.0
    err_at = _error_of(target)
    # A target that is itself such a sum (kinks between samples) is matched
    # on the samples exactly; the joints are then its kinks.
    exact = None
    if start is None:
        exact = sweep_raw(g, 0.0, pieces_for(n_units, flat_first), flat_first, True)
    if exact is not None:
        model = model_from_raw(g, exact, flat_first)
        if float(np.max(np.abs(_at(model, dense) - fd))) <= 1e-9 * scale:
            return model, MinimaxInfo(_sample_error(model, x, y), int(g.u.size), 1, 0, 0.0)
    # Clusters of samples around the knots of a quick tube fit (near the
    # continuous optimum's): the exchange then needs about half the rounds
    # and samples, so it is run to a closer agreement.  Not near a singular
    # derivative (knots closer than two sample intervals): the plain comb.
    comb, its = _COMB, 0
    seeded = None
    if start is not None:
        if start[1].samples is None:
            raise ValueError("start: the earlier fit has no samples to continue from")
        x, y = start[1].samples
        g = make_gates(x, y, target.domain)
    elif seed:
        seeded = _seed(target, n_units, flat_first, dense, fd, scale, progress)
    if seeded is not None:
        nx, its = seeded
        if nx.size:
            x = np.concatenate((x, nx))
            y = np.concatenate((y, target.evaluate(nx)))
            order = np.argsort(x, kind="stable")
            x, y = x[order], y[order]
            g = make_gates(x, y, target.domain)
        comb, agree = _GEO, min(agree, _SEED_AGREE)
    if start is None:
        res, model = _points_solve(g, n_units, flat_first, max(rtol, _COARSE), None, None, progress)
        lb = res.lower * g.half  # proven, original units
        its += res.iterations
    else:
        model, lb = start[0], start[1].lower_bound
    bounds = [lb]  # every bound proven on a subset of the final samples
    xs, ys = x, y
    done = 0
    n_jumps = 0
    a_, b_ = target.domain
    base_x = floor_x = (_SPACING if agree >= _TIGHT else _SPACING_TIGHT) * (b_ - a_)
    fine = False
    converged = False
    stalled = False  # stopped because no new sample could come closer
    for _ in range(rounds):
        on_pts = _sample_error(model, xs, ys)
        chk, fchk = _check_grid(model, dense, fd, target)
        e = _at(model, chk) - fchk
        # Peaks on the check grid, located precisely, and around every knot:
        # a cusp of the target (sqrt(abs(x)) at 0) is far narrower than the
        # grid, and the optimum puts a knot next to it.
        idx = _peaks(e, on_pts * (1.0 + agree * 0.25), 4 * n_units + 64)
        knots_in = model.knots[(model.knots > a_) & (model.knots < b_)]
        cand = np.concatenate((chk[idx], knots_in))
        xm = np.zeros(0)
        if cand.size:
            k = np.clip(np.searchsorted(chk, cand), 1, chk.size - 1)
            xm = _locate(
                lambda t, m=model: err_at(m, t),
                chk[k - 1],
                chk[np.minimum(k + 1, chk.size - 1)],
                on_pts * agree * 0.125,
            )
            # Never lose a candidate to a zoom that missed its peak.
            xm = np.where(np.abs(err_at(model, xm)) >= np.abs(err_at(model, cand)), xm, cand)
        em = np.abs(err_at(model, xm)) if xm.size else xm
        emax = max(float(np.max(np.abs(e))), float(np.max(em)) if em.size else 0.0)
        if emax <= on_pts * (1.0 + agree) + 1e-12 * scale:
            if fine:
                converged = True
                break
            fine = True
            res, model = _points_solve(g, n_units, flat_first, rtol, lb, on_pts, progress, True)
            lb = res.lower * g.half
            bounds.append(lb)
            its += res.iterations
            continue
        # This round's optimum need only be as accurate as the disagreement is small.
        rt = max(rtol, min(_COARSE, 0.02 * (emax / max(on_pts, 1e-300) - 1.0)))
        big = em > on_pts * (1.0 + agree * 0.25)
        xm = xm[big]
        if xm.size == 0:
            break
        k = np.clip(np.searchsorted(xs, xm), 1, xs.size - 1)
        left, right = xs[k - 1], xs[k]
        jx, jv = find_jumps(target.evaluate, left, right, scale)
        new_x = [jx, jx, jx]
        new_y = [jv[:, 0], jv[:, 1], jv[:, 2]]
        n_jumps += int(jx.size)
        keep = np.ones(xm.size, dtype=bool)
        for xj in np.unique(jx):
            keep &= ~((left <= xj) & (xj <= right))
        if np.any(keep):
            # The peak, and a fine comb around it: the next optimum's
            # touch points and kinks move by a fraction of the spacing.
            xk = xm[keep]
            w = (right - left)[keep]
            teeth = xk[:, None] + w[:, None] * comb[None, :]
            xk = np.clip(np.concatenate((xk, teeth.ravel())), a_, b_)
            new_x.append(xk)
            new_y.append(target.evaluate(xk))
        nx = np.concatenate(new_x)
        ny = np.concatenate(new_y)
        # New samples closer than _SPACING to a sample (or to each other) are
        # dropped: the sweep's arithmetic is exact to rounding only for wider
        # gaps.  Old samples are all kept, so the lower bound carries over.
        ok = apart(xs, nx, floor_x, int(jx.size) * 3)
        if floor_x < base_x:
            ok &= apart(xs, nx, base_x, int(jx.size) * 3) | distinct(
                xs, ys, nx, ny, _DISTINCT * g.half
            )
            ok = resolved(xs, nx, ok, int(jx.size) * 3, target.domain)
        while not np.any(ok) and floor_x > _FINEST * (b_ - a_):
            # Every new sample is too close: closer ones are taken only where
            # the target moves enough between them (a singular derivative,
            # sqrt at 0, whose kinks hide between samples 1e-8 apart).
            floor_x = max(floor_x * 0.01, _FINEST * (b_ - a_))
            ok = apart(xs, nx, floor_x, int(jx.size) * 3)
            ok &= apart(xs, nx, base_x, int(jx.size) * 3) | distinct(
                xs, ys, nx, ny, _DISTINCT * g.half
            )
            ok = resolved(xs, nx, ok, int(jx.size) * 3, target.domain)
        if not np.any(ok):
            stalled = True
            break
        xs = np.concatenate((xs, nx[ok]))
        ys = np.concatenate((ys, ny[ok]))
        order = np.argsort(xs, kind="stable")
        xs, ys = xs[order], ys[order]
        g = make_gates(xs, ys, target.domain)
        # More samples only raise the optimum: the last lower bound stays
        # proven; the last model's error on the new samples is reachable.
        hi = _sample_error(model, xs, ys)
        res, model = _points_solve(
            g, n_units, flat_first, rtol if fine else rt, lb, hi, progress, True, True
        )
        lb = res.lower * g.half
        bounds.append(lb)
        its += res.iterations
        done += 1
    if not fine:
        res, model = _points_solve(
            g, n_units, flat_first, rtol, lb, _sample_error(model, xs, ys), progress, True
        )
        lb = res.lower * g.half
        its += res.iterations
    err = _sample_error(model, xs, ys)
    if err < lb * (1.0 - 1e-12):
        # A bound above an error reached on the same samples: rounding in a
        # sweep on the crowded samples declared a feasible error infeasible.
        # Recompute on the final samples alone; keep the highest bound (this
        # one or one proven on an earlier, smaller sample set, which more
        # samples only raise) that the error reached does not contradict,
        # else the first bound.
        chk, _ = solve_gates(g, n_units, flat_first, rtol, hi=err / g.half, progress=progress)
        its += chk.iterations
        ok = [b for b in (chk.lower * g.half, *bounds) if err >= b * (1.0 - 1e-12)]
        lb = max(ok) if ok else bounds[0]
    if _dense_error(model, dense, fd, err_at, target) > err * (1.0 + _LIMIT) + 1e-12 * scale:
        # The optimum on the samples still dips between them (samples would
        # have to be closer than the sweep resolves): the tube fit holds
        # between its samples; if it is better, it is measured against the
        # same bound, so the gap says how far from certified it is.
        from relusum.fitting.minimax.tube import tube_fit

        tube, t_its = tube_fit(target, n_units, flat_first, rtol, dense, fd, scale, 6, progress)
        its += t_its
        # Compared on the dense grid and on the refined samples (near a
        # singularity the samples see what the grid does not).
        if max(_dense_error(tube, dense, fd, err_at, target), _sample_error(tube, xs, ys)) < max(
            _dense_error(model, dense, fd, err_at, target), err
        ):
            model = tube
            err = _sample_error(model, xs, ys)
    info = MinimaxInfo(err, int(g.u.size), its, done, lb, n_jumps, (xs, ys))
    # A seeded run that stopped only because new samples would come closer
    # than the sweep resolves is not redone: the plain comb stops at the
    # same spacing (Runge at 64 units and agree=1e-6: 1.26e-6 seeded, 1.28e-6
    # plain, in 1.5x the time).
    if seeded is not None and ((not converged and not stalled) or info.gap > 5e-7):
        model, again = minimax_target(
            target,
            n_units,
            flat_first=flat_first,
            rtol=rtol,
            rounds=rounds,
            progress=progress,
            agree=agree0,
            seed=False,
        )
        return model, replace(again, iterations=again.iterations + its)
    return model, info


def _seed(
    target: Target,
    n_units: int,
    flat_first: bool,
    dense: np.ndarray,
    fd: np.ndarray,
    scale: float,
    progress: Callable[[], None] | None,
) -> tuple[np.ndarray, int] | None:
    """New samples clustered around the knots of a quick tube fit, and its sweeps.

    The exchange's slow part is the knots: the optimum on the samples puts
    each kink inside a gap between samples, where the error pokes out by
    about the slope change times the gap, and every round moves the kinks
    into other gaps.  The tube fit (joints inside the band, so its errors
    between samples are only quadratic in the spacing) puts them close to
    the continuous optimum's after a few cheap rounds on samples four times
    denser than the first (its knots move with the square of the spacing);
    clusters there, geometric down to about 2e-4 of the sample spacing, leave
    the next optima little room.  Returns None (no seeding) where knots of
    the tube fit lie closer than two sample intervals (a singular
    derivative, such as ``sqrt`` at 0, or a jump): those keep the plain comb.
    """
    from relusum.fitting.minimax.tube import tube_fit

    a_, b_ = target.domain
    x = target.x
    h0 = (b_ - a_) / max(x.size - 1, 1)

    def crowded(model: ReluSum) -> bool:
        kt = np.unique(model.knots[(model.knots > a_) & (model.knots < b_)])
        return kt.size > 1 and float(np.min(np.diff(kt))) < 2.0 * h0

    # The unrefined tube fit (a few ms) already shows most singular targets.
    tube, its = tube_fit(target, n_units, flat_first, 1e-4, dense, fd, scale, 0, progress)
    if crowded(tube):
        return None
    fine_t = target
    if _SEED_DENSE > 1:
        xd = np.linspace(a_, b_, _SEED_DENSE * (x.size - 1) + 1)
        fine_t = replace(target, x=xd, y=target.evaluate(xd), weight=None)
    tube, more = tube_fit(
        fine_t, n_units, flat_first, 1e-4, dense, fd, scale, _SEED_ROUNDS, progress
    )
    its += more
    kt = np.unique(tube.knots[(tube.knots > a_) & (tube.knots < b_)])
    if kt.size == 0:
        return np.zeros(0), its
    if crowded(tube):
        return None
    off = np.concatenate((-_SEED, [0.0], _SEED)) * h0
    nx = np.unique(np.clip((kt[:, None] + off[None, :]).ravel(), a_, b_))
    return nx[apart(x, nx, _SPACING * (b_ - a_), 0)], its


#: Knot intervals narrower than this many steps of the dense grid get points of their own.
_NARROW = 16
#: Points per narrow knot interval (ends included).
_FILL = 33


def _check_grid(
    model: ReluSum, dense: np.ndarray, fd: np.ndarray, target: Target
) -> tuple[np.ndarray, np.ndarray]:
    """The dense grid, plus points filling every knot interval too narrow for it to see.

    Near a singular derivative (``sqrt`` at 0) the optimum puts several
    knots inside one step of the dense grid; the error peaks between them
    are found only with points there.  Smooth targets have no such interval:
    the dense grid itself is returned.
    """
    a_, b_ = target.domain
    t = np.concatenate(([a_], model.knots[(model.knots > a_) & (model.knots < b_)], [b_]))
    h = (b_ - a_) / max(dense.size - 2, 1)
    narrow = np.flatnonzero(np.diff(t) < _NARROW * h)
    if narrow.size == 0:
        return dense, fd
    frac = np.linspace(0.0, 1.0, _FILL)
    lo, hi = t[narrow], t[narrow + 1]
    extra = np.unique((lo[:, None] + (hi - lo)[:, None] * frac[None, :]).ravel())
    pos = np.searchsorted(dense, extra)
    new = dense[np.minimum(pos, dense.size - 1)] != extra
    extra, pos = extra[new], pos[new]
    return np.insert(dense, pos, extra), np.insert(fd, pos, target.evaluate(extra))


def _peaks(err: np.ndarray, above: float, limit: int) -> np.ndarray:
    """Local maxima of ``|err|`` on ``grid`` above ``above``, or that may hide above it.

    A smooth peak between grid points exceeds its highest grid value by about
    an eighth of the second difference there: where the target's curvature
    is large against the grid (``sqrt`` near 0), a peak the grid sees just
    below ``above`` is located too (at most ``limit``, the highest first).
    (Next to a knot the second difference also measures the model's kink:
    those peaks are located and found below ``above`` by the caller.)
    """
    a = np.abs(err)
    if a.size < 3:
        return np.flatnonzero(a > above)
    d = np.diff(a)
    top = np.flatnonzero(np.concatenate(([True], d >= 0)) & np.concatenate((d <= 0, [True])))
    inner = np.clip(top, 1, a.size - 2)
    curv = np.abs(a[inner - 1] - 2.0 * a[inner] + a[inner + 1]) * 0.125
    curv[(top == 0) | (top == a.size - 1)] = 0.0
    reach = a[top] + curv
    keep = reach > above
    idx, reach = top[keep], reach[keep]
    if idx.size > limit:
        idx = idx[np.argsort(reach)[::-1][:limit]]
    return np.sort(idx)


def _locate(
    err_at: Callable[[np.ndarray], np.ndarray], left: np.ndarray, right: np.ndarray, tol: float
) -> np.ndarray:
    """Where ``|err_at|`` peaks in each ``[left, right]``: :func:`local_max`, 8 levels.

    A peak still sharper than ``tol`` across the last level's width (a
    cusp of the target, such as ``sqrt(abs(x))`` at 0) is zoomed into 8
    levels more, and again, up to three times.
    """
    xm = local_max(err_at, left, right, 8)
    width = (right - left) / 8.0**7
    for _ in range(3):
        lo_, hi_ = np.maximum(xm - width, left), np.minimum(xm + width, right)
        side = np.abs(err_at(np.concatenate((lo_, hi_))))
        sharp = np.abs(side - np.tile(np.abs(err_at(xm)), 2)).reshape(2, -1).max(axis=0) > tol
        if not np.any(sharp):
            break
        xm = xm.copy()
        xm[sharp] = local_max(err_at, lo_[sharp], hi_[sharp], 8)
        width = width / 8.0**8
    return xm


def _dense_error(
    model: ReluSum, dense: np.ndarray, fd: np.ndarray, err_at, target: Target
) -> float:
    """The max error on the check grid (:func:`_check_grid`) and at the model's knots."""
    dense, fd = _check_grid(model, dense, fd, target)
    e = float(np.max(np.abs(_at(model, dense) - fd)))
    if model.knots.size:
        e = max(e, float(np.max(np.abs(err_at(model, model.knots)))))
    return e


def _points_solve(
    g: Gates,
    n_units: int,
    flat_first: bool,
    rtol: float,
    lower: float | None,
    hi: float | None,
    progress: Callable[[], None] | None,
    reached: bool = False,
    near_lo: bool = False,
) -> tuple[Solved, ReluSum]:
    """The exact optimum on the gates; a jump-dominated optimum gets the second pass.

    ``lower`` is a proven lower bound (normalised units of an earlier,
    smaller sample set: the optimum only grows with the samples) and ``hi``
    an error (original units), reached on these gates by the last fit if
    ``reached``; ``near_lo``: samples were just added to the set ``lower`` is the
    optimum of (see :func:`~relusum.fitting.minimax.solve.bisect`).
    """
    res, model = solve_gates(
        g,
        n_units,
        flat_first,
        rtol,
        lo=None if lower is None else lower / g.half,
        hi=None if hi is None else hi / g.half * (1.0 + 1e-9),
        progress=progress,
        reached=reached and hi is not None,
        near_lo=near_lo,
    )
    if res.eps <= g.floor and g.floor > 0:
        better = _second_pass(g, n_units, flat_first, rtol, res.eps)
        if better is not None:
            model = better
    return res, model
