"""Figures of ReLU sums: Axes in, Axes out; nothing here calls ``show()``.

Each function takes an optional matplotlib ``Axes`` (a new figure is made when
it is omitted), draws on it and returns it, so the functions compose in
notebooks, scripts and the tour.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from relusum._io import atomic_path
from relusum.model import ReluSum

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from relusum.fitting.api import FitResult

__all__ = [
    "COLORS",
    "plot_relusum",
    "plot_terms",
    "plot_fit",
    "plot_convergence",
    "save_figure",
    "FIGURE_SUFFIXES",
]

#: One palette for every relusum figure.
COLORS = {
    "target": "#222222",
    "sum": "#1f77b4",
    "terms": "#ff7f0e",
    "terms_neg": "#9467bd",
    "knot": "#d62728",
    "data": "#7f7f7f",
    "grid": "#e6e6e6",
}
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=(7, 4.2))
    return new


def _style(ax: Axes) -> None:
    ax.grid(True, color=COLORS["grid"], linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _span(s: ReluSum, domain: Sequence[float] | None) -> tuple[float, float]:
    if domain is not None:
        return float(domain[0]), float(domain[1])
    if s.domain is not None:
        return s.domain
    if s.n_units:
        lo, hi = float(s.knots[0]), float(s.knots[-1])
        pad = 0.25 * (hi - lo) or 1.0
        return lo - pad, hi + pad
    return -1.0, 1.0


def _dense(a: float, b: float, s: ReluSum, n: int = 800) -> np.ndarray:
    inside = s.knots[(s.knots > a) & (s.knots < b)]
    return np.unique(np.concatenate((np.linspace(a, b, n), inside)))


def plot_terms(
    s: ReluSum,
    ax: Axes | None = None,
    domain: Sequence[float] | None = None,
    max_terms: int = 200,
    alpha: float | None = None,
) -> Axes:
    """Draw each scaled shifted ReLU ``w_i max(0, x - h_i)`` (dashed, thin).

    Terms with positive weight use one colour and negative ones another;
    beyond ``max_terms`` every k-th term is drawn.
    """
    ax = _axes(ax)
    a, b = _span(s, domain)
    x = _dense(a, b, s, 400)
    idx = np.arange(s.n_units)
    if idx.size > max_terms:
        idx = idx[:: int(np.ceil(idx.size / max_terms))]
    if alpha is None:
        alpha = float(np.clip(3.0 / np.sqrt(max(idx.size, 1)), 0.25, 0.9))
    lw = 1.2 if idx.size <= 10 else 0.8
    for k, i in enumerate(idx):
        w, h = s.weights[i], s.knots[i]
        color = COLORS["terms"] if w >= 0 else COLORS["terms_neg"]
        ax.plot(
            x, w * np.maximum(0.0, x - h), "--", color=color, lw=lw, alpha=alpha,
            label="scaled shifted ReLUs" if k == 0 else None,
        )
    _style(ax)
    return ax


def plot_relusum(
    s: ReluSum,
    ax: Axes | None = None,
    domain: Sequence[float] | None = None,
    terms: bool = True,
    knots: bool = True,
    label: str | None = None,
) -> Axes:
    """Plot a :class:`ReluSum` on its domain, optionally with its terms and knots.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from relusum import ReluSum
    >>> from relusum.plot import plot_relusum
    >>> ax = plot_relusum(ReluSum(0.0, [0.0, 1.0], [1.0, -2.0], (-1.0, 2.0)))
    >>> ax.get_xlabel()
    'x'
    """
    ax = _axes(ax)
    a, b = _span(s, domain)
    if terms and s.n_units:
        plot_terms(s, ax, (a, b))
    x = _dense(a, b, s)
    ax.plot(x, s(x), color=COLORS["sum"], lw=2.2, label=label or f"sum of {s.n_units} ReLUs")
    if knots and s.n_units:
        h = s.knots[(s.knots >= a) & (s.knots <= b)]
        if h.size <= 400:
            ax.plot(h, s(h), "o", ms=3.5, color=COLORS["knot"], label="knots", zorder=5)
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    ax.set_xlim(a, b)
    _style(ax)
    ax.legend(loc="best", frameon=False, fontsize=9)
    return ax


def plot_fit(
    result: FitResult,
    ax: Axes | None = None,
    terms: bool = True,
    title: str | None = None,
) -> Axes:
    """Plot a fit: the target (curve or data points), the sum, and its terms."""
    ax = _axes(ax)
    s, tgt, rep = result.model, result.target, result.report
    a, b = tgt.domain
    if terms and s.n_units:
        plot_terms(s, ax, (a, b))
    if tgt.fn is not None:
        x = np.linspace(a, b, 1200)
        ax.plot(x, tgt.evaluate(x), color=COLORS["target"], lw=1.4, label=f"target {tgt.label}")
    else:
        ax.plot(tgt.x, tgt.y, ".", color=COLORS["data"], ms=4, label=tgt.label)
    plot_relusum(s, ax, (a, b), terms=False, label=f"sum of {s.n_units} ReLUs")
    ax.set_title(
        title
        or f"{rep.n_units} units, {rep.n_pieces} pieces: max error {rep.max_abs_error:.3g}, "
        f"RMSE {rep.rmse:.3g}",
        fontsize=10,
    )
    # Keep the view on the target: the terms may reach far outside it.
    ys = [tgt.y, s(np.linspace(a, b, 200))]
    lo = min(float(np.min(v)) for v in ys)
    hi = max(float(np.max(v)) for v in ys)
    pad = 0.15 * (hi - lo) or 1.0
    ax.set_ylim(lo - pad, hi + pad)
    return ax


def plot_convergence(
    units: Sequence[int] | np.ndarray,
    errors: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    reference: bool = True,
    ylabel: str = "max |error|",
) -> Axes:
    """Error against the number of units on log-log axes, one line per method.

    ``errors[name][k]`` is the error of method ``name`` with ``units[k]`` units
    (NaN where it was not measured).  With ``reference`` an ``n^-2`` line is drawn.
    """
    ax = _axes(ax)
    n = np.asarray(units, dtype=float)
    for name, err in errors.items():
        e = np.asarray(err, dtype=float)
        ok = np.isfinite(e) & (e > 0)
        ax.loglog(n[ok], e[ok], "o-", ms=4, lw=1.6, label=name)
    if reference and errors:
        first = np.asarray(next(iter(errors.values())), dtype=float)
        ok = np.isfinite(first) & (first > 0)
        if np.any(ok):
            k = np.flatnonzero(ok)[0]
            ref = first[k] * (n / n[k]) ** -2.0
            ax.loglog(n, ref, ":", color="#555555", lw=1.2, label=r"$\propto n^{-2}$")
    ax.set_xlabel("number of units n")
    ax.set_ylabel(ylabel)
    _style(ax)
    ax.grid(True, which="minor", color=COLORS["grid"], linewidth=0.4)
    ax.legend(frameon=False, fontsize=9)
    return ax


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 120, **kw: Any) -> Path:
    """Save ``fig`` atomically; the format follows the extension (.png, .svg, .pdf)."""
    p = Path(path)
    if p.suffix.lower() not in FIGURE_SUFFIXES:
        raise ValueError(f"figure file {str(p)!r} must end in {', '.join(FIGURE_SUFFIXES)}")
    with atomic_path(p) as tmp:
        fig.savefig(tmp, dpi=dpi, format=p.suffix.lower()[1:], bbox_inches="tight", **kw)
    return p
