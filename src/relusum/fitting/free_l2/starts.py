"""Start knots: the asymptotically optimal density ``(w f''^2)^(1/5)`` and data quantiles."""

from __future__ import annotations

import numpy as np

from relusum.fitting.free_l2.problem import _Problem
from relusum.fitting.hat import hat_lstsq
from relusum.targets import Target


# ------------------------------------------------------------------------ starts
def _second_derivative(prob: _Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes, |f''| estimate and local weight density there (computed once per problem)."""
    cached = getattr(prob, "_second", None)
    if cached is None:
        cached = prob._second = _second_derivative_of(prob)
    return cached


def _second_derivative_of(prob: _Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y, w = prob.x, prob.y, prob.w
    if np.all(np.diff(x) > 0):
        ux, inv = x, np.arange(x.size)
    else:
        ux, inv = np.unique(x, return_inverse=True)
    wsum = np.bincount(inv, w, minlength=ux.size)
    ymean = np.bincount(inv, w * y, minlength=ux.size) / np.maximum(wsum, 1e-300)
    if prob.is_function and ux.size >= 3:
        sl = np.diff(ymean) / np.diff(ux)
        f2 = np.zeros(ux.size)
        f2[1:-1] = 2.0 * np.abs(np.diff(sl)) / (ux[2:] - ux[:-2])
        f2[0], f2[-1] = f2[1], f2[-2]
        width = np.empty(ux.size)
        width[1:-1] = 0.5 * (ux[2:] - ux[:-2])
        width[0] = 0.5 * (ux[1] - ux[0])
        width[-1] = 0.5 * (ux[-1] - ux[-2])
        dens = wsum / width
        return ux, f2, dens
    # Data: a smoothing pilot fit with uniform knots; its slope changes estimate f''.
    npil = int(np.clip(ux.size // 8, 2, 48))
    tp = np.linspace(prob.a, prob.b, npil + 1)
    cp = hat_lstsq(x, y, tp, w if prob.weighted else None, False)
    sl = np.diff(cp) / np.diff(tp)
    hstep = tp[1] - tp[0]
    f2 = np.zeros(tp.size)
    f2[1:-1] = np.abs(np.diff(sl)) / hstep
    f2[0], f2[-1] = f2[1], f2[-2]
    if f2.size >= 3:
        f2 = np.convolve(np.pad(f2, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    jw = np.clip(np.searchsorted(tp, x, side="right") - 1, 0, npil - 1)
    pw = np.bincount(jw, w, minlength=npil) / hstep
    dens = np.concatenate(([pw[0]], 0.5 * (pw[1:] + pw[:-1]), [pw[-1]]))
    return tp, f2, dens


def density_knots(target: Target, n_units: int, flat_first: bool) -> np.ndarray:
    """Knots equidistributing the asymptotically optimal L2 density ``(w f''^2)^(1/5)``.

    Parameters
    ----------
    target : Target
        Samples to fit; ``f''`` is estimated from them (smoothed for data).
    n_units : int
        Number of knots.
    flat_first : bool
        Place ``n`` knots inside ``(A, B)`` (``n + 1`` pieces, the first flat) or
        pin the first at ``A`` (``n`` sloped pieces).

    Returns
    -------
    ndarray
        Increasing knots in ``[A, B)``.

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.free_l2 import density_knots
    >>> h = density_knots(make_target("x**2", (0, 1), samples=101), 4, flat_first=False)
    >>> h.round(2).tolist()
    [0.0, 0.25, 0.5, 0.75]
    """
    prob = _Problem(target)
    return _density(prob, int(n_units), flat_first, pinned=not flat_first)


def _density(prob: _Problem, n: int, flat: bool, pinned: bool) -> np.ndarray:
    z, f2, dens = _second_derivative(prob)
    rho = (np.maximum(dens, 0.0) * f2 * f2) ** 0.2
    total = np.sum(0.5 * (rho[1:] + rho[:-1]) * np.diff(z))
    if not np.isfinite(total) or total <= 0:
        rho = np.ones_like(z)
    else:
        rho = rho / total + 0.05 / (prob.b - prob.a)
    cum = np.concatenate(([0.0], np.cumsum(0.5 * (rho[1:] + rho[:-1]) * np.diff(z))))
    cum /= cum[-1]
    zz = np.concatenate(([prob.a], z, [prob.b]))
    cc = np.concatenate(([0.0], cum, [1.0]))
    levels = np.arange(1, n + 1) / (n + 1) if flat else np.arange(n) / n
    return np.interp(levels, cc, zz)


def _quantile_knots(prob: _Problem, n: int, flat: bool) -> np.ndarray:
    cw = np.cumsum(prob.w)
    cw /= cw[-1]
    levels = np.arange(1, n + 1) / (n + 1) if flat else np.arange(n) / n
    idx = np.clip(np.searchsorted(cw, levels), 0, prob.x.size - 1)
    return prob.x[idx]
