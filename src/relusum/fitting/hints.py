"""Why a tolerance was not reached, said so that the advice matches the cause.

:func:`tol_unreachable` writes the one-line message of the ``ValueError`` that
``fit(..., tol=eps)`` raises when no unit count up to the limit reaches ``eps``:

Jump
    The target (a function) jumps by ``J`` at some ``x0`` (found by
    :func:`find_jump`) and ``eps`` is a max error below ``J / 2``: no
    continuous function gets closer than half the jump there, so no number of
    units helps.  The message quotes ``J / 2`` beside the best error reached.
Too few units
    The error was still falling when ``max_units`` ran out: the message gives
    the best error and its units, the rate measured over the last fits and the
    units that rate predicts for ``eps``, and says to raise ``--max-units``
    (and ``--samples`` when that many units need more samples).
Too few samples
    A function is fitted on its samples and verified on a grid 20 times
    finer: when the units reach the samples (``n = samples - 1``) or the
    error on the grid stops falling, more samples are what helps.
Data
    The data's distinct x values bound the units.
"""

from __future__ import annotations

import math

import numpy as np

from relusum._text import plural
from relusum.targets import Target, verification_grid

__all__ = ["find_jump", "tol_unreachable"]

#: A measured rate below n^-STALL means the error has stopped falling.
STALL = 0.25
#: Beyond this many units the advice is a larger tolerance (or better knots), not more units.
MANY = 10_000_000
#: Measured rates in this range are taken as the n^-2 of a smooth target (for the prediction).
SMOOTH = (1.6, 2.6)


def find_jump(target: Target) -> tuple[float, float] | None:
    """The largest jump ``(size, x)`` of a function target on its domain, or None.

    The largest step between neighbours of the verification grid is narrowed by
    bisection down to adjacent floats: a continuous function's step shrinks
    with the interval (however steep it is), a jump's does not.  The size is
    the spread of the values just left of, at and just right of the point.

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.hints import find_jump
    >>> find_jump(make_target("sign(x - 0.25)", (-1, 1)))
    (2.0, 0.25)
    >>> find_jump(make_target("tanh(1000*x)", (-1, 1))) is None
    True
    """
    if target.fn is None:
        return None
    fn = target.fn
    a, b = target.domain
    x = verification_grid(target.domain, target.x.size)
    y = target.evaluate(x)
    steps = np.abs(np.diff(y))
    k = int(np.argmax(steps))
    first = float(steps[k])
    if not first > 0:
        return None
    lo, hi = float(x[k]), float(x[k + 1])
    flo, fhi = float(y[k]), float(y[k + 1])
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi or hi - lo <= (b - a) * 2.0**-60:
            break
        fm = float(fn(np.array([mid]))[0])
        if not math.isfinite(fm):
            return None
        if abs(fm - flo) >= abs(fhi - fm):
            hi, fhi = mid, fm
        else:
            lo, flo = mid, fm
    if abs(fhi - flo) < 0.5 * first or abs(fhi - flo) <= 1e-9 * (np.ptp(y) or 1.0):
        return None  # the step shrank with its interval: continuous there
    # Values on both sides, a few steps away (a value exactly at the jump may lie between).
    d = 4.0 * (hi - lo) + 4.0 * math.ulp(max(abs(lo), abs(hi)))
    probe = np.clip(np.array([lo - d, lo, hi, hi + d]), a, b)
    vals = fn(probe)
    vals = vals[np.isfinite(vals)]
    size = float(np.max(vals) - np.min(vals))
    where = 0.5 * (lo + hi)
    if abs(where) < (b - a) * 1e-12:
        where = 0.0
    return size, float(f"{where:.12g}")


def _rate(tried: dict[int, float]) -> float:
    """The exponent p of error ~ n^-p over the last fits tried (NaN if unknown)."""
    ns = sorted(n for n, e in tried.items() if e > 0 and math.isfinite(e))
    if len(ns) < 2:
        return math.nan
    n2 = ns[-1]
    n1 = next((n for n in reversed(ns[:-1]) if n <= n2 / 1.5), ns[-2])
    e1, e2 = tried[n1], tried[n2]
    return math.log(e1 / e2) / math.log(n2 / n1)


def tol_unreachable(
    target: Target,
    loss: str,
    tol: float,
    tried: dict[int, float],
    *,
    max_units: int,
    cap: int,
    distinct: int,
    knots: str = "uniform",
) -> str:
    """The message for a tolerance that no unit count up to ``cap`` reached.

    Parameters
    ----------
    target : Target
    loss : {"linf", "l2"}
        The error ``tol`` bounds: max error or RMSE.
    tol : float
    tried : dict of int to float
        The error reached with each unit count tried.
    max_units : int
        The limit the caller set (``--max-units``).
    cap : int
        The most units the search could use: ``min(max_units, distinct - 1)``.
    distinct : int
        Distinct x values of the samples or data.
    knots : {"uniform", "optimal"}
        How the fits placed their knots.

    Returns
    -------
    str
        One line: what was asked, the best reached and with how many units,
        and the remedy that fits the cause.

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.hints import tol_unreachable
    >>> t = make_target("sign(x)", (-1, 1))
    >>> tol_unreachable(t, "linf", 0.1, {2: 1.0, 4: 1.0}, max_units=4, cap=4, distinct=2000)
    ... # doctest: +NORMALIZE_WHITESPACE
    'a max error of 0.1 cannot be reached: the target jumps by 2 at x = 0, and no continuous
    sum of ReLUs gets closer than half the jump, 1; the best fit tried has max error 1 with 2
    units'
    """
    what = "max error" if loss == "linf" else "RMSE"
    article = "a" if loss == "linf" else "an"
    # The fewest units within 1e-6 of the lowest error (far below the digits
    # shown): every fit of a jump reaches half of it, give or take 1e-9 from the
    # ramp across it, and which one is lowest by that much is not news.
    low = min(tried.values())
    best_n = min(n for n, e in tried.items() if e <= low + 1e-6 * abs(low))
    best = tried[best_n]
    reached = f"the best was {best:.4g} with {plural(best_n, 'unit')}"
    if target.fn is None:
        why = (
            f"at most {plural(max_units, 'unit')} (--max-units)"
            if cap == max_units
            else f"at most {plural(cap, 'unit')} (the {distinct:,} distinct x values of the data)"
        )
        return f"{article} {what} of {tol:g} was not reached with {why}: {reached}"
    if loss == "linf":
        jump = find_jump(target)
        if jump is not None and jump[0] / 2.0 > tol:
            size, x0 = jump
            return (
                f"a max error of {tol:g} cannot be reached: the target jumps by {size:.4g} at "
                f"x = {x0:.6g}, and no continuous sum of ReLUs gets closer than half the jump, "
                f"{size / 2.0:.4g}; the best fit tried has max error {best:.4g} with "
                f"{plural(best_n, 'unit')}"
            )
    samples = distinct
    rate = _rate(tried)
    largest = max(tried)
    if largest < cap or rate <= STALL:
        tried_more = f" (up to {plural(largest, 'unit')} tried)" if largest != best_n else ""
        return (
            f"{article} {what} of {tol:g} was not reached: the {what} on the verification grid "
            f"stopped falling at {best:.4g} with {plural(best_n, 'unit')}{tried_more}, because "
            f"the fit sees only {samples:,} samples of the target; raise --samples (samples=)"
        )
    need = None
    if SMOOTH[0] <= rate <= SMOOTH[1]:
        rate = 2.0  # a smooth target: every method's error falls like n^-2 asymptotically
    if math.isfinite(rate):
        need = math.ceil(best_n * (best / tol) ** (1.0 / rate))
    if need is None:
        predicted = ""
    elif need > MANY:
        predicted = f"; the {what} falls like n^-{rate:.2g}, so more than {MANY:,} units are needed"
    else:
        predicted = f"; the {what} falls like n^-{rate:.2g}, so about {need:,} units are needed"
    if cap < max_units:
        remedy = f"raise --samples (samples=){'' if need is None else f' above {need:,}'}"
        if need is not None and need > max_units:
            remedy += f", and --max-units (max_units=) to {need:,}"
        head = (
            f"{article} {what} of {tol:g} was not reached with at most {plural(cap, 'unit')} "
            f"(a fit of {samples:,} samples has at most {samples - 1:,})"
        )
    else:
        more_samples = ""
        if need is not None and need >= samples - 1:
            more_samples = f", and --samples (samples=) above {need:,}"
        remedy = (
            "raise --max-units (max_units=)"
            + ("" if need is None else f" to {need:,}")
            + more_samples
        )
        head = (
            f"{article} {what} of {tol:g} was not reached with at most {plural(max_units, 'unit')} "
            "(--max-units)"
        )
    if need is not None and need > MANY:
        remedy = "ask for a larger --tol"
    if knots == "uniform" and math.isfinite(rate) and rate < 1.5:
        remedy += "; or use optimal knots (--knots optimal), which follow the target's shape"
    return f"{head}: {reached}{predicted}; {remedy}"
