"""Figures of ReLU sums: Axes in, Axes out; nothing here calls ``show()``.

Each plotting function takes an optional matplotlib ``Axes`` (a new figure is
made when it is omitted), draws on it and returns it, so the functions compose
in notebooks, scripts and the tour (:mod:`relusum.tour`).  They share one
palette (:data:`COLORS`) and one look: labelled axes, a light grid, no top or
right spine, a frameless legend.

==========================  ==================================================
:func:`plot_relusum`        a :class:`~relusum.model.ReluSum`, its knots and terms
:func:`plot_terms`          the scaled shifted ReLUs ``w_i max(0, x - h_i)`` alone
:func:`plot_fit`            a fit against its target, errors in the title
:func:`plot_convergence`    error against the number of units, log-log
:func:`save_figure`         write a figure atomically and reproducibly
:func:`style`               the rc settings of the tour, as a context manager
==========================  ==================================================

Piecewise-linear curves are drawn through their exact corners (the domain ends
and the knots), so a plot is exact at any zoom and cheap with many units.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from relusum._io import atomic_path
from relusum._text import plural
from relusum.model import ReluSum

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from relusum.fitting.api import FitResult

__all__ = [
    "COLORS",
    "METHOD_STYLES",
    "plot_relusum",
    "plot_terms",
    "term_segments",
    "plot_fit",
    "plot_convergence",
    "save_figure",
    "style",
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
    "reference": "#555555",
    "text": "#333333",
}

#: Colour and marker for each line of a convergence plot, in order of use.
METHOD_STYLES = (
    ("#1f77b4", "o"),
    ("#ff7f0e", "s"),
    ("#2ca02c", "^"),
    ("#d62728", "D"),
    ("#9467bd", "v"),
    ("#8c564b", "P"),
)

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")

#: rc settings of relusum's figures (used by :func:`style`).
RC = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.edgecolor": "#444444",
    "axes.labelcolor": COLORS["text"],
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "svg.hashsalt": "relusum",
    "svg.fonttype": "path",
    "path.simplify": True,
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Use relusum's rc settings (fonts, colours, reproducible SVG ids) inside a ``with``.

    Examples
    --------
    >>> import matplotlib
    >>> from relusum.plot import style
    >>> with style():
    ...     matplotlib.rcParams["svg.hashsalt"]
    'relusum'
    """
    import matplotlib

    with matplotlib.rc_context(RC):
        yield


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


def _legend(ax: Axes) -> None:
    """A legend on a light backing, the terms listed last (they are context, not the story)."""
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i].startswith("terms"))
    leg = ax.legend(
        [handles[i] for i in order],
        [labels[i] for i in order],
        loc="best",
        frameon=True,
        fontsize=9,
        framealpha=0.85,
        facecolor="white",
        edgecolor="none",
    )
    leg.set_zorder(10)


def _span(s: ReluSum, domain: Sequence[float] | None) -> tuple[float, float]:
    if domain is not None:
        a, b = float(domain[0]), float(domain[1])
        if not (np.isfinite(a) and np.isfinite(b) and a < b):
            raise ValueError(f"domain must be two finite numbers A < B, got {tuple(domain)!r}")
        return a, b
    if s.domain is not None:
        return s.domain
    if s.n_units:
        lo, hi = float(s.knots[0]), float(s.knots[-1])
        pad = 0.25 * (hi - lo) or 1.0
        return lo - pad, hi + pad
    return -1.0, 1.0


def _corners(a: float, b: float, s: ReluSum) -> np.ndarray:
    """The domain ends and the knots inside: the sum is linear between them."""
    inside = s.knots[(s.knots > a) & (s.knots < b)]
    return np.unique(np.concatenate(([a, b], inside)))


def term_segments(
    s: ReluSum, a: float, b: float, index: np.ndarray | None = None
) -> list[np.ndarray]:
    """Vertices of each term ``w_i max(0, x - h_i)`` on ``[a, b]``: two or three points each.

    Examples
    --------
    >>> from relusum import ReluSum
    >>> from relusum.plot import term_segments
    >>> term_segments(ReluSum(0.0, [1.0], [2.0]), 0.0, 3.0)[0].tolist()
    [[0.0, 0.0], [1.0, 0.0], [3.0, 4.0]]
    """
    idx = np.arange(s.n_units) if index is None else index
    segs = []
    for i in idx:
        h, w = float(s.knots[i]), float(s.weights[i])
        if h <= a:
            xs = np.array([a, b])
        elif h >= b:
            xs = np.array([a, b])
        else:
            xs = np.array([a, h, b])
        segs.append(np.column_stack((xs, w * np.maximum(0.0, xs - h))))
    return segs


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

    Parameters
    ----------
    s : ReluSum
    ax : Axes, optional
        Where to draw (a new figure when omitted).
    domain : (A, B), optional
        The x range (default: the sum's domain, else around its knots).
    max_terms : int
        Draw at most about this many terms.
    alpha : float, optional
        Opacity of the lines (default: lower when there are many).

    Returns
    -------
    Axes
        ``ax``, or the new Axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from relusum import ReluSum
    >>> from relusum.plot import plot_terms
    >>> ax = plot_terms(ReluSum(0.0, [0.0, 1.0], [1.0, -2.0], (-1.0, 2.0)))
    >>> len(ax.collections)
    2
    """
    from matplotlib.collections import LineCollection

    ax = _axes(ax)
    a, b = _span(s, domain)
    idx = np.arange(s.n_units)
    if idx.size > max_terms:
        idx = idx[:: int(np.ceil(idx.size / max_terms))]
    if alpha is None:
        alpha = float(np.clip(3.0 / np.sqrt(max(idx.size, 1)), 0.3, 0.9))
    lw = 1.3 if idx.size <= 10 else (1.0 if idx.size <= 30 else 0.8)
    for positive, color, label in (
        (True, COLORS["terms"], r"terms $w_i\,\max(0, x-h_i)$, $w_i \geq 0$"),
        (False, COLORS["terms_neg"], r"terms with $w_i < 0$"),
    ):
        sel = idx[(s.weights[idx] >= 0) == positive]
        if sel.size == 0:
            continue
        lc = LineCollection(
            term_segments(s, a, b, sel),
            colors=color,
            linewidths=lw,
            linestyles="--",
            alpha=alpha,
            label=label,
        )
        ax.add_collection(lc)
    ax.set_xlim(a, b)
    ax.autoscale_view(scalex=False)
    ax.set_xlabel("x")
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

    Parameters
    ----------
    s : ReluSum
    ax : Axes, optional
        Where to draw (a new figure when omitted).
    domain : (A, B), optional
        The x range (default: the sum's domain, else around its knots).
    terms : bool
        Also draw the scaled shifted ReLUs (see :func:`plot_terms`).
    knots : bool
        Mark the knots on the curve (up to 400 of them).
    label : str, optional
        Legend text of the sum.

    Returns
    -------
    Axes

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
    x = _corners(a, b, s)
    ax.plot(
        x,
        s(x),
        color=COLORS["sum"],
        lw=2.2,
        solid_joinstyle="round",
        label=label or f"sum of {plural(s.n_units, 'ReLU')}",
        zorder=4,
    )
    if knots and s.n_units:
        h = s.knots[(s.knots >= a) & (s.knots <= b)]
        if 0 < h.size <= 400:
            ms = 4.0 if h.size <= 30 else 2.5
            ax.plot(h, s(h), "o", ms=ms, color=COLORS["knot"], label="knots $h_i$", zorder=5)
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    ax.set_xlim(a, b)
    _style(ax)
    _legend(ax)
    return ax


def plot_fit(
    result: FitResult,
    ax: Axes | None = None,
    terms: bool = True,
    title: str | None = None,
) -> Axes:
    """Plot a fit: the target (curve or data points), the sum, and its terms.

    The view is kept on the target (terms may reach far outside it); the title
    gives the units, pieces and the errors of the fit's report.  Data is drawn
    on axes named after its quantities (a CSV file's column headers).

    Parameters
    ----------
    result : FitResult
        What :func:`relusum.fit` returned.
    ax : Axes, optional
        Where to draw (a new figure when omitted).
    terms : bool
        Also draw the scaled shifted ReLUs.
    title : str, optional
        Replace the default title ("" for none).

    Returns
    -------
    Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import relusum
    >>> from relusum.plot import plot_fit
    >>> ax = plot_fit(relusum.fit("x**2", domain=(-1, 1), n_units=4))
    >>> ax.get_title().startswith("4 units")
    True
    """
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
    plot_relusum(s, ax, (a, b), terms=False, label=f"sum of {plural(s.n_units, 'ReLU')}")
    if tgt.fn is None:  # data: the axes are the data's quantities (CSV column names)
        ax.set_xlabel(tgt.x_name)
        ax.set_ylabel(tgt.y_name)
    ax.set_title(
        title
        if title is not None
        else f"{plural(rep.n_units, 'unit')}, {plural(rep.n_pieces, 'linear piece')}: "
        f"max error {rep.max_abs_error:.3g}, RMSE {rep.rmse:.3g}",
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

    Parameters
    ----------
    units : sequence of int
        The unit counts ``n``.
    errors : mapping of str to sequence of float
        ``errors[name][k]`` is the error of method ``name`` with ``units[k]``
        units (NaN where it was not measured; such points are skipped).
    ax : Axes, optional
        Where to draw (a new figure when omitted).
    reference : bool
        Draw an ``n^-2`` line through the last point of the first method.
    ylabel : str

    Returns
    -------
    Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from relusum.plot import plot_convergence
    >>> ax = plot_convergence([2, 4, 8], {"interpolation": [0.1, 0.025, 0.00625]})
    >>> ax.get_xscale(), len(ax.get_lines())
    ('log', 2)
    """
    ax = _axes(ax)
    n = np.asarray(units, dtype=float)
    for k, (name, err) in enumerate(errors.items()):
        e = np.asarray(err, dtype=float)
        if e.shape != n.shape:
            raise ValueError(f"errors[{name!r}] has {e.size} values for {n.size} unit counts")
        ok = np.isfinite(e) & (e > 0)
        color, marker = METHOD_STYLES[k % len(METHOD_STYLES)]
        ax.loglog(n[ok], e[ok], marker=marker, ls="-", ms=4.5, lw=1.6, color=color, label=name)
    if reference and errors:
        first = np.asarray(next(iter(errors.values())), dtype=float)
        ok = np.flatnonzero(np.isfinite(first) & (first > 0))
        if ok.size:
            k = ok[-1]
            span = n[(n > 0)]
            nn = np.geomspace(span.min(), span.max(), 50)
            ref = first[k] * (nn / n[k]) ** -2.0
            # Only where it stays near the data, so it does not stretch the axes.
            top = max(float(np.nanmax(np.asarray(e, dtype=float))) for e in errors.values())
            keep = ref <= 1.5 * top
            ax.loglog(
                nn[keep],
                ref[keep],
                ":",
                color=COLORS["reference"],
                lw=1.4,
                label=r"reference $\propto n^{-2}$",
            )
    ax.set_xlabel("number of units n")
    ax.set_ylabel(ylabel)
    _style(ax)
    ax.grid(True, which="minor", color=COLORS["grid"], linewidth=0.4)
    ax.legend(frameon=False, fontsize=9)
    return ax


def _metadata(suffix: str) -> dict[str, Any]:
    """Fixed file metadata, so that the same figure gives the same bytes."""
    if suffix == ".svg":
        return {"Date": None}
    if suffix == ".pdf":
        return {"CreationDate": None, "ModDate": None}
    return {"Software": "relusum (matplotlib)"}


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 120, **kw: Any) -> Path:
    """Save ``fig`` atomically; the format follows the extension (.png, .svg, .pdf).

    The file carries no date and SVG ids are salted with a fixed value, so the
    same figure gives the same bytes every time.

    Examples
    --------
    >>> import os, tempfile
    >>> from matplotlib.figure import Figure
    >>> from relusum.plot import save_figure
    >>> fig = Figure()
    >>> _ = fig.subplots().plot([0, 1], [1, 0])
    >>> save_figure(fig, os.path.join(tempfile.mkdtemp(), "f.png")).suffix
    '.png'
    """
    import matplotlib

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in FIGURE_SUFFIXES:
        raise ValueError(f"figure file {str(p)!r} must end in {', '.join(FIGURE_SUFFIXES)}")
    meta = {**_metadata(suffix), **kw.pop("metadata", {})}
    kw.setdefault("bbox_inches", "tight")
    with atomic_path(p) as tmp, matplotlib.rc_context({"svg.hashsalt": RC["svg.hashsalt"]}):
        fig.savefig(tmp, dpi=dpi, format=suffix[1:], metadata=meta, **kw)
    return p


def plot_band(
    result: FitResult, ax: Axes | None = None, level: float = 0.95, kind: str = "confidence"
) -> Axes:
    """Shade the pointwise ``level`` band of a least-squares fit (see ``FitResult.band``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, relusum
    >>> from relusum.plot import plot_band
    >>> x = np.linspace(0, 1, 200); y = x + 0.1 * np.sin(40 * x)
    >>> ax = plot_band(relusum.fit((x, y), n_units=3))
    >>> len(ax.collections)
    1
    """
    ax = _axes(ax)
    a, b = result.target.domain
    x = np.linspace(a, b, 400)
    lo, hi = result.band(x, level, kind)
    ax.fill_between(
        x,
        lo,
        hi,
        color=COLORS["sum"],
        alpha=0.18,
        lw=0,
        label=f"{level:.0%} {kind} band",
    )
    return ax


def plot_selection(result: FitResult, ax: Axes | None = None) -> Axes:
    """The score of every number of units tried by ``n_units="auto"``, the choice marked."""
    ax = _axes(ax)
    rep = result.report
    curve = np.asarray(rep.extra.get("selection_curve") or [], dtype=float)
    if curve.size == 0:
        raise ValueError("the fit has no selection curve: fit with n_units='auto'")
    ax.plot(curve[:, 0], curve[:, 1], "o-", color=COLORS["sum"], ms=4)
    n = rep.extra.get("n_units_selected", rep.n_units)
    best = curve[curve[:, 0] == n]
    ax.plot(
        best[:, 0],
        best[:, 1],
        "o",
        color=COLORS["target"],
        ms=9,
        mfc="none",
        label=f"chosen: {plural(int(n), 'unit')}",
    )
    ax.set_xlabel("number of units n")
    ax.set_ylabel(
        {"cv": "cross-validated MSE", "bic": "BIC", "gcv": "GCV"}.get(
            rep.extra.get("selection"), "score"
        )
    )
    _style(ax)
    ax.legend(frameon=False, fontsize=9)
    return ax


def plot_partial(est: Any, X: Any, level: float | None = 0.95, axes: Any = None) -> Any:
    """Each column's sum ``s_j`` of a fitted ``ReluSumRegressor`` (the shape of its effect).

    With ``level`` the confidence band of each centred component is shaded.
    Returns the array of Axes (one per column).
    """
    import matplotlib.pyplot as plt

    from relusum.additive import AdditiveReluSum
    from relusum.fitting.additive import partial_bands

    model = getattr(est, "model_", None)
    if model is None:
        raise ValueError("plot_partial needs a fitted ReluSumRegressor")
    Xa = np.asarray(X, dtype=float)
    if Xa.ndim == 1:
        Xa = Xa[:, None]
    comps = model.components if isinstance(model, AdditiveReluSum) else (model,)
    d = len(comps)
    if axes is None:
        fig, axes = plt.subplots(1, d, figsize=(3.2 * d, 3.0), squeeze=False, layout="constrained")
        axes = axes[0]
    grids = [np.linspace(np.min(Xa[:, j]), np.max(Xa[:, j]), 300) for j in range(d)]
    bands = None
    if level is not None and isinstance(model, AdditiveReluSum) and hasattr(est, "_train"):
        xt, yt, wt = est._train
        bands = partial_bands(xt, yt, model, grids, level, wt)
    names = getattr(est, "feature_names_in_", None)
    for j in range(d):
        ax = axes[j]
        g = grids[j]
        if bands is not None:
            ax.fill_between(g, *bands[j], color=COLORS["sum"], alpha=0.18, lw=0)
        elif level is not None and not isinstance(model, AdditiveReluSum):
            lo, hi = est.result_.band(g, level)
            ax.fill_between(g, lo, hi, color=COLORS["sum"], alpha=0.18, lw=0)
        ax.plot(g, comps[j](g), color=COLORS["sum"], lw=1.6)
        ax.set_xlabel(str(names[j]) if names is not None else f"x{j}")
        ax.set_title(plural(comps[j].n_units, "unit"), fontsize=9)
        _style(ax)
    axes[0].set_ylabel("effect s_j(x_j)")
    return axes
