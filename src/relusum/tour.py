"""The tour: why a ReLU network is non-linear, told in figures made from real fits.

:func:`make_tour` writes into one folder:

=========================  ====================================================
``01_relu``                ReLU(x) = max(0, x): two straight pieces and a corner
``02_shift``               ReLU(x - h): the same corner moved to x = h
``03_neuron``              a neuron (diagram) and ReLU(a x + b) as a scaled ReLU
                           at h = -b/a, facing left when a < 0
``04_layer``               the last hidden layer feeding the output, each unit's
                           ReLU drawn beside it
``05_two_terms``           two shifted ReLUs: one bend
``06_three_terms``         three: two bends
``07_units``               the target with 2, 3, 5, 10, 20, 50, 100 units: target,
                           sum, and the scaled shifted ReLUs underneath
``08_convergence``         error against units (log-log) for every fitting method
                           available, with the n^-2 reference line
``08b_trained_units``      a trained network's knots against optimal ones (only
                           with the PyTorch bridge and training on)
``09_adding_units.gif``    an animation adding units one at a time
``convergence.csv``        the numbers behind ``08_convergence``
``index.html``             a page walking through all of them; works offline
=========================  ====================================================

Every number comes from a fit made during the tour and is measured on the
target's verification grid (separate from the fit samples).  The same input
gives the same files, byte for byte (the trained network too, given the same
PyTorch build): no dates, fixed seeds, fixed SVG ids.

The default target is :data:`DEFAULT_TARGET` on :data:`DEFAULT_DOMAIN`:
``x*sin(x)`` on ``[0, 10]``, a wave whose swings grow.  It is smooth (so the
error falls like ``n^-2``), bends both ways and more and more sharply (so the
terms have both signs and grow to the right), and needs a handful of units
before its shape appears, which is the point.
"""

from __future__ import annotations

import html
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from relusum._io import atomic_write_bytes, atomic_write_text
from relusum.fitting.api import FitResult, fit, measure
from relusum.model import ReluSum
from relusum.targets import Target, make_target, parse_domain

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "DEFAULT_TARGET",
    "DEFAULT_DOMAIN",
    "PANEL_UNITS",
    "CONVERGENCE_UNITS",
    "METHODS",
    "Convergence",
    "TourResult",
    "make_tour",
    "convergence_units",
    "panel_units",
]

#: The built-in target: a wave whose swings grow.
DEFAULT_TARGET = "x*sin(x)"
#: Its domain.
DEFAULT_DOMAIN = (0.0, 10.0)
#: Unit counts of the small multiples (capped by ``max_units``).
PANEL_UNITS = (2, 3, 5, 10, 20, 50, 100)
#: Unit counts of the convergence figure (capped by ``max_units``, which is added).
CONVERGENCE_UNITS = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500)
#: Unit counts of trained networks (capped by ``max_units``).
TRAIN_UNITS = (2, 5, 10, 20, 50, 100)
#: Optimisation steps of each trained network.
TRAIN_STEPS = 3000
#: Largest ``max_units`` the tour accepts (one fit and one frame per unit count).
MAX_TOUR_UNITS = 500
#: The fitting methods, in the order they are drawn: key -> (label, keyword arguments).
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "interpolation": ("uniform knots, interpolation", {"interpolate": True}),
    "lstsq": ("uniform knots, least squares", {}),
    "optimal_l2": ("optimal knots, least squares", {"knots": "optimal", "loss": "l2"}),
    "optimal_linf": ("optimal knots, smallest max error", {"knots": "optimal", "loss": "linf"}),
}
TRAINED = ("trained", "trained network (gradient descent)")

_DPI = 110
_GIF_DPI = 80


# --------------------------------------------------------------------- data
@dataclass(frozen=True)
class Convergence:
    """Errors of real fits against the number of units, per fitting method.

    Attributes
    ----------
    units : ndarray of int
        The unit counts, ascending.
    max_error, rmse : dict of str to ndarray
        ``max_error[method][k]``: the largest absolute error of the fit with
        ``units[k]`` units, on the verification grid; NaN where not fitted.
    labels : dict of str to str
        A readable name per method.
    unavailable : dict of str to str
        Methods that could not run here, with the reason.
    """

    units: np.ndarray
    max_error: dict[str, np.ndarray]
    rmse: dict[str, np.ndarray]
    labels: dict[str, str]
    unavailable: dict[str, str] = field(default_factory=dict)

    @property
    def methods(self) -> list[str]:
        """The methods with at least one measured point, in drawing order."""
        return [m for m, e in self.max_error.items() if np.any(np.isfinite(e))]

    def slope(self, method: str, which: str = "max_error") -> float:
        """The least-squares slope of log(error) against log(units) on the larger unit counts.

        Uses the points with ``n >= max(3, n_max / 10)`` (the asymptotic range);
        NaN with fewer than three such points.  About ``-2`` for a smooth target.
        """
        errors = getattr(self, which)[method]
        n = self.units.astype(float)
        ok = np.isfinite(errors) & (errors > 0) & (n >= max(3.0, n.max() / 10.0))
        if np.count_nonzero(ok) < 3:
            return float("nan")
        return float(np.polyfit(np.log(n[ok]), np.log(errors[ok]), 1)[0])

    def to_csv(self) -> str:
        """The table as CSV text: ``units`` then ``<method>_max_error, <method>_rmse``."""
        cols = self.methods
        head = ["units"] + [f"{m}_{w}" for m in cols for w in ("max_error", "rmse")]
        lines = [",".join(head)]
        for k, n in enumerate(self.units):
            row = [str(int(n))]
            for m in cols:
                for arr in (self.max_error[m], self.rmse[m]):
                    row.append("" if not np.isfinite(arr[k]) else f"{arr[k]:.6e}")
            lines.append(",".join(row))
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class TourResult:
    """What :func:`make_tour` wrote and the data behind it.

    Attributes
    ----------
    out : Path
        The folder.
    index : Path
        ``index.html``.
    figures : dict of str to Path
        Each figure by name (``"relu"``, ``"shift"``, ..., ``"animation"``), in tour order.
    files : tuple of Path
        Every file written (figures, ``convergence.csv``, ``index.html``).
    target : str
        The target's label.
    domain : (float, float)
    convergence : Convergence
        The errors of every fit behind the convergence figure.
    panel_units : tuple of int
        Unit counts of the small multiples.
    frame_units : tuple of int
        Unit count of each frame of the animation.
    seconds : float
        Wall time of the whole tour.
    """

    out: Path
    index: Path
    figures: dict[str, Path]
    files: tuple[Path, ...]
    target: str
    domain: tuple[float, float]
    convergence: Convergence
    panel_units: tuple[int, ...]
    frame_units: tuple[int, ...]
    seconds: float


def panel_units(max_units: int) -> tuple[int, ...]:
    """Unit counts of the small multiples: :data:`PANEL_UNITS` up to ``max_units``, then it.

    Examples
    --------
    >>> from relusum.tour import panel_units
    >>> panel_units(100), panel_units(30)
    ((2, 3, 5, 10, 20, 50, 100), (2, 3, 5, 10, 20, 30))
    """
    units = [n for n in PANEL_UNITS if n <= max_units]
    if not units or units[-1] < max_units:
        units.append(max_units)
    return tuple(units)


def convergence_units(max_units: int) -> tuple[int, ...]:
    """Unit counts of the convergence figure: :data:`CONVERGENCE_UNITS` up to ``max_units``, then
    ``max_units``.

    Examples
    --------
    >>> from relusum.tour import convergence_units
    >>> convergence_units(12)
    (1, 2, 3, 5, 7, 10, 12)
    """
    units = [n for n in CONVERGENCE_UNITS if n <= max_units]
    if units[-1] < max_units:
        units.append(max_units)
    return tuple(units)


# ------------------------------------------------------------------ progress
class _Progress:
    """A tqdm bar on stderr: shown after 2 s (``None``), always (``True``) or never."""

    def __init__(self, total: int, progress: bool | None) -> None:
        self.bar = None
        if progress is False:
            return
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=total,
            desc="relusum tour",
            unit="step",
            file=sys.stderr,
            delay=0.0 if progress else 2.0,
            leave=bool(progress),
            dynamic_ncols=True,
        )

    def step(self, what: str, k: int = 1) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(what, refresh=False)
            self.bar.update(k)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ------------------------------------------------------------------- fitting
def _try_fit(
    target: Any, domain: tuple[float, float], n: int, kwargs: dict[str, Any]
) -> tuple[FitResult | None, str | None]:
    try:
        return fit(target, domain=domain, n_units=n, progress=False, **kwargs), None
    except (ValueError, ImportError, NotImplementedError) as exc:
        return None, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _trainer() -> tuple[Callable[..., Any] | None, Callable[..., Any] | None, str | None]:
    """The PyTorch bridge's ``train`` and ``plot_units``, or the reason they are missing."""
    try:
        import torch  # noqa: F401

        from relusum import torch_bridge
    except ImportError as exc:
        return None, None, f"the PyTorch bridge is not available ({exc})"
    train = getattr(torch_bridge, "train", None)
    if train is None:
        return None, None, "relusum.torch_bridge has no train()"
    return train, getattr(torch_bridge, "plot_units", None), None


# ----------------------------------------------------------------- the tour
@contextmanager
def _figures() -> Iterator[None]:
    import matplotlib

    from relusum.plot import style

    with style(), matplotlib.rc_context({"figure.dpi": _DPI}):
        yield


def _new_figure(w: float, h: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), dpi=_DPI, layout="constrained")


def make_tour(
    target: str | Callable[[np.ndarray], Any] | None = None,
    domain: Sequence[Any] | None = None,
    out: str | os.PathLike[str] = "relusum-tour",
    max_units: int = 100,
    fmt: str = "png",
    train: bool = True,
    progress: bool | None = None,
    methods: Sequence[str] | None = None,
) -> TourResult:
    """Write the tour's figures, animation and ``index.html`` into ``out``.

    Parameters
    ----------
    target : str or callable, optional
        A formula in ``x`` or a vectorised function (default
        :data:`DEFAULT_TARGET`).  Data targets are not toured.
    domain : (A, B), optional
        Required with ``target``; default :data:`DEFAULT_DOMAIN` otherwise.
        Ends may be constant formulas such as ``"-pi"``.
    out : path-like
        The folder to write into (created if missing).
    max_units : int
        The most units of any fit, panel and frame (1 to 500).
    fmt : {"png", "svg"}
        Format of the still figures (the animation is always a GIF).
    train : bool
        Add trained networks to the convergence figure when the PyTorch
        bridge is available.
    progress : bool, optional
        A progress bar on stderr: ``None`` shows it once the tour has run 2 s.
    methods : sequence of str, optional
        The fitting methods of the convergence figure, keys of :data:`METHODS`
        (default: all; those not available here are left out and named on the
        page).  Trained networks are governed by ``train``.

    Returns
    -------
    TourResult
        Paths of everything written and the convergence data.

    Examples
    --------
    >>> import tempfile
    >>> from relusum.tour import make_tour
    >>> r = make_tour("x**2", (-1, 1), out=tempfile.mkdtemp(), max_units=5, train=False,
    ...               progress=False)
    >>> sorted(r.figures)[:3], r.frame_units
    (['animation', 'convergence', 'layer'], (1, 2, 3, 4, 5))
    """
    start = time.perf_counter()
    if fmt not in ("png", "svg"):
        raise ValueError(f"format must be 'png' or 'svg', got {fmt!r}")
    if isinstance(max_units, bool) or not isinstance(max_units, (int, np.integer)):
        raise ValueError(f"max_units must be an integer, got {max_units!r}")
    max_units = int(max_units)
    if not 1 <= max_units <= MAX_TOUR_UNITS:
        raise ValueError(f"max_units must be between 1 and {MAX_TOUR_UNITS}, got {max_units}")
    if target is None:
        target = DEFAULT_TARGET
        dom = parse_domain(DEFAULT_DOMAIN if domain is None else domain)
    else:
        if not (isinstance(target, str) or callable(target)):
            raise ValueError(
                f"the tour needs a formula in x or a function, got {type(target).__name__}"
            )
        if domain is None:
            raise ValueError("a target needs a domain A B for the tour")
        dom = parse_domain(domain)
    assert dom is not None
    chosen = tuple(METHODS) if methods is None else tuple(methods)
    unknown = [m for m in chosen if m not in METHODS]
    if unknown or not chosen:
        raise ValueError(f"methods must be some of {', '.join(METHODS)}; got {list(chosen)!r}")
    tgt = make_target(target, dom)
    fit_target = target.strip() if isinstance(target, str) else target
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"cannot write the tour into {str(out_dir)!r}: it is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)

    conv_n = convergence_units(max_units)
    panels = panel_units(max_units)
    frames = tuple(range(1, max_units + 1))
    trainer, plot_units, train_reason = _trainer() if train else (None, None, "training off")
    train_n = tuple(n for n in TRAIN_UNITS if n <= max_units) if trainer else ()
    n_fig = 8 + (1 if train_n and plot_units is not None else 0)
    bar = _Progress(
        total=len(frames) * 2 + len(conv_n) * len(chosen) + len(train_n) + n_fig + 1,
        progress=progress,
    )
    try:
        # 1. Fits: least squares at every unit count (panels, animation, convergence).
        lstsq: dict[int, FitResult] = {}
        for n in frames:
            res, why = _try_fit(fit_target, dom, n, {})
            if res is None:
                raise ValueError(f"cannot fit {tgt.label} with {n} units: {why}")
            lstsq[n] = res
            bar.step(f"least squares, {n} units")
        conv, optimal_models = _convergence(fit_target, dom, tgt, conv_n, lstsq, chosen, bar)
        trained: dict[int, Any] = {}
        if trainer is not None:
            conv, trained, train_reason = _train_curve(
                trainer, fit_target, dom, tgt, conv, train_n, bar
            )
        if train_reason and train:
            conv.unavailable[TRAINED[0]] = train_reason

        # 2. Figures.
        figures: dict[str, Path] = {}
        ext = "." + fmt
        with _figures():
            from relusum.plot import save_figure

            def save(name: str, stem: str, fig: Figure) -> None:
                figures[name] = save_figure(fig, out_dir / (stem + ext), dpi=_DPI)
                bar.step(f"figure {stem}")

            save("relu", "01_relu", _fig_relu())
            save("shift", "02_shift", _fig_shift())
            save("neuron", "03_neuron", _fig_neuron())
            save("layer", "04_layer", _fig_layer())
            save("two_terms", "05_two_terms", _fig_terms(2))
            save("three_terms", "06_three_terms", _fig_terms(3))
            save("units", "07_units", _fig_units(tgt, [lstsq[n] for n in panels]))
            save("convergence", "08_convergence", _fig_convergence(tgt, conv))
            if trained and plot_units is not None:
                fig = _fig_trained(plot_units, trained, optimal_models, dom)
                if fig is not None:
                    save("trained_units", "08b_trained_units", fig)
            gif = out_dir / "09_adding_units.gif"
            _write_gif(tgt, [lstsq[n] for n in frames], gif, bar)
            figures["animation"] = gif
        csv_path = atomic_write_text(out_dir / "convergence.csv", conv.to_csv())
        index = out_dir / "index.html"
        page = _html(
            tgt,
            dom,
            figures,
            conv,
            panels,
            max_units,
            fmt,
            train,
            [lstsq[n] for n in panels],
            isinstance(fit_target, str),
            None if methods is None else chosen,
        )
        atomic_write_text(index, page)
        bar.step("index.html")
    finally:
        bar.close()
    files = (*figures.values(), csv_path, index)
    return TourResult(
        out=out_dir,
        index=index,
        figures=figures,
        files=tuple(files),
        target=tgt.label,
        domain=dom,
        convergence=conv,
        panel_units=panels,
        frame_units=frames,
        seconds=time.perf_counter() - start,
    )


def _convergence(
    fit_target: Any,
    dom: tuple[float, float],
    tgt: Target,
    units: tuple[int, ...],
    lstsq: dict[int, FitResult],
    chosen: tuple[str, ...],
    bar: _Progress,
) -> tuple[Convergence, dict[int, ReluSum]]:
    n_arr = np.asarray(units, dtype=int)
    max_err: dict[str, np.ndarray] = {}
    rmse: dict[str, np.ndarray] = {}
    labels: dict[str, str] = {}
    unavailable: dict[str, str] = {}
    optimal_models: dict[int, ReluSum] = {}
    for key, (label, kwargs) in METHODS.items():
        if key not in chosen:
            continue
        e_max = np.full(n_arr.size, np.nan)
        e_rms = np.full(n_arr.size, np.nan)
        first_reason = None
        for k, n in enumerate(units):
            if key == "lstsq":
                res: FitResult | None = lstsq[n]
            else:
                res, why = _try_fit(fit_target, dom, n, kwargs)
                if res is None:
                    first_reason = first_reason or why
                    if k == 0 and key.startswith("optimal"):
                        # Not available at all: do not try every n.
                        bar.step(f"{label}: not available", len(units) - k)
                        break
            if res is not None:
                e_max[k] = res.report.max_abs_error
                e_rms[k] = res.report.rmse
                if key == "optimal_l2":
                    optimal_models[n] = res.model
            bar.step(f"{label}, {n} units")
        labels[key] = label
        if np.any(np.isfinite(e_max)):
            max_err[key] = e_max
            rmse[key] = e_rms
        else:
            unavailable[key] = first_reason or "no fit succeeded"
    return Convergence(n_arr, max_err, rmse, labels, unavailable), optimal_models


def _train_curve(
    trainer: Callable[..., Any],
    fit_target: Any,
    dom: tuple[float, float],
    tgt: Target,
    conv: Convergence,
    units: tuple[int, ...],
    bar: _Progress,
) -> tuple[Convergence, dict[int, Any], str | None]:
    """Train one network per unit count and measure it like every other fit.

    Returns the convergence data with a ``"trained"`` line, what ``train``
    returned per unit count, and the reason when no network could be trained.
    Training runs on one thread (restored afterwards): these networks are far
    too small to gain from more, and on a busy machine extra threads only spin.
    """
    import torch

    key, label = TRAINED
    e_max = np.full(conv.units.size, np.nan)
    e_rms = np.full(conv.units.size, np.nan)
    models: dict[int, Any] = {}
    reason = None
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for n in units:
            try:
                net = trainer(fit_target, dom, n, steps=TRAIN_STEPS, seed=0, progress=False)
                model = getattr(net, "relusum", None)
                if not isinstance(model, ReluSum):
                    raise TypeError(f"train() gave no ReluSum ({type(net).__name__})")
            except (ImportError, ValueError, TypeError, NotImplementedError, RuntimeError) as exc:
                reason = f"training failed: {exc}".splitlines()[0]
                bar.step("training failed", len(units) - units.index(n))
                break
            models[n] = _measured_training(net, model.with_domain(dom), tgt, conv, n, e_max, e_rms)
            bar.step(f"trained network, {n} units")
    finally:
        torch.set_num_threads(threads)
    if models:
        conv.max_error[key] = e_max
        conv.rmse[key] = e_rms
        conv.labels[key] = label
        reason = None
    return conv, models, reason


def _measured_training(
    net: Any,
    model: ReluSum,
    tgt: Target,
    conv: Convergence,
    n: int,
    e_max: np.ndarray,
    e_rms: np.ndarray,
) -> Any:
    """Measure a trained network's ReluSum on the verification grid; store at ``n``."""
    rmse, mae, _ = measure(model, tgt)
    hit = np.flatnonzero(conv.units == n)
    if hit.size:
        e_max[hit[0]], e_rms[hit[0]] = mae, rmse
    return net


# ------------------------------------------------------------------ figures
def _num(v: float) -> str:
    """A number for a label, with a typographic minus sign."""
    return f"{v:g}".replace("-", "\u2212")


def _shifted(h: float) -> str:
    """``x − h`` written the way a person would: ``x``, ``x − 2``, ``x + 2``."""
    if h == 0:
        return "x"
    return f"x \u2212 {h:g}" if h > 0 else f"x + {-h:g}"


def _ax_style(ax: Any) -> None:
    from relusum.plot import _style

    _style(ax)


def _fig_relu() -> Figure:
    from relusum.plot import COLORS

    fig = _new_figure(6.4, 4.0)
    ax = fig.subplots()
    x = np.array([-3.0, 0.0, 3.0])
    ax.plot(x, np.maximum(0, x), color=COLORS["sum"], lw=2.6, label="ReLU(x) = max(0, x)")
    ax.plot([0], [0], "o", color=COLORS["knot"], ms=7, zorder=5, label="the corner (knot) at 0")
    ax.annotate(
        "slope 0:\nnegative inputs give 0",
        xy=(-1.5, 0.0),
        xytext=(-2.0, 0.9),
        fontsize=10,
        ha="center",
        arrowprops={"arrowstyle": "->", "color": "#666666"},
    )
    ax.annotate(
        "slope 1:\npositive inputs pass through",
        xy=(1.8, 1.8),
        xytext=(2.0, 0.55),
        fontsize=10,
        ha="center",
        arrowprops={"arrowstyle": "->", "color": "#666666"},
    )
    ax.set_xlim(-3, 3)
    ax.set_ylim(-0.5, 3.1)
    ax.set_xlabel("x")
    ax.set_ylabel("ReLU(x)")
    ax.set_title("ReLU: two straight pieces joined at a corner")
    ax.legend(loc="upper left")
    _ax_style(ax)
    return fig


def _fig_shift() -> Figure:
    from relusum.plot import COLORS

    fig = _new_figure(6.4, 4.0)
    ax = fig.subplots()
    shifts = (-2.0, -0.5, 1.0, 2.5)
    colors = ("#08519c", "#3182bd", "#6baed6", "#9ecae1")
    x0, x1 = -3.0, 4.0
    for h, c in zip(shifts, colors):
        xs = np.array([x0, h, x1])
        ax.plot(
            xs,
            np.maximum(0.0, xs - h),
            color=c,
            lw=2.3,
            label=f"h = {_num(h)}:  ReLU({_shifted(h)})",
        )
        ax.plot([h], [0.0], "o", color=COLORS["knot"], ms=6, zorder=5)
        ax.annotate(
            f"h = {_num(h)}",
            xy=(h, 0.0),
            xytext=(h, -0.55),
            ha="center",
            fontsize=9,
            color=COLORS["knot"],
        )
    ax.set_xlim(x0, x1)
    ax.set_ylim(-0.8, 5.2)
    ax.set_xlabel("x")
    ax.set_ylabel("ReLU(x − h)")
    ax.set_title("ReLU(x − h): the same corner, moved to x = h")
    ax.legend(loc="upper left")
    _ax_style(ax)
    return fig


def _fig_neuron() -> Figure:
    from relusum.diagrams import draw_neuron
    from relusum.plot import COLORS

    fig = _new_figure(12.0, 4.3)
    left, right = fig.subplots(1, 2, width_ratios=[1.15, 1.0])
    draw_neuron(left, n_inputs=3)
    left.set_title("one neuron", fontsize=11)
    x = np.linspace(-3.0, 3.0, 601)
    cases = (
        (2.0, -1.0, COLORS["terms"], "-"),
        (0.5, 1.0, "#2ca02c", "-"),
        (-1.5, -1.5, COLORS["terms_neg"], "-"),
    )
    for a, b, color, ls in cases:
        h = -b / a
        scale = abs(a)
        if a > 0:
            rhs = f"{scale:g}·ReLU({_shifted(h)})"
        else:
            rhs = f"{scale:g}·ReLU({_num(h)} \u2212 x), faces left"
        sign = "+" if b >= 0 else "\u2212"
        ax_label = f"ReLU({_num(a)}x {sign} {abs(b):g}) = {rhs}"
        right.plot(x, np.maximum(0.0, a * x + b), ls, color=color, lw=2.3, label=ax_label)
        right.plot([h], [0.0], "o", color=COLORS["knot"], ms=6, zorder=5)
        right.annotate(
            f"h = {_num(h)}",
            xy=(h, 0.0),
            xytext=(h, -0.5),
            ha="center",
            fontsize=9,
            color=COLORS["knot"],
        )
    right.set_xlim(-3, 3)
    right.set_ylim(-0.75, 5.0)
    right.set_xlabel("x")
    right.set_ylabel("ReLU(a·x + b)")
    right.set_title("one input: ReLU(a·x + b) = |a|·ReLU(±(x − h)),  h = −b/a", fontsize=11)
    right.legend(loc="upper center", fontsize=9)
    _ax_style(right)
    return fig


#: The small network of figure 4: input weights a, biases b, output weights w, output bias c.
LAYER = {
    "a": (1.0, -1.0, 1.5, 1.0),
    "b": (2.0, -0.5, -0.75, -2.0),
    "w": (1.0, 1.2, -1.6, 1.4),
    "c": -1.0,
    "domain": (-3.0, 3.0),
}


def _fig_layer() -> Figure:
    from relusum.diagrams import draw_layer

    fig = _new_figure(12.0, 6.2)
    ax = fig.subplots()
    draw_layer(LAYER["a"], LAYER["b"], LAYER["w"], LAYER["c"], LAYER["domain"], ax=ax)
    ax.set_title(
        "the last hidden layer: the output is a weighted sum of its units' ReLUs", fontsize=11
    )
    return fig


#: The sums of figures 5 and 6: bias, knots, weights, window.
TERM_EXAMPLES = {
    2: (0.0, (-2.0, 0.5), (1.0, -1.6), (-2.0, 3.0)),
    3: (0.0, (-2.0, 0.0, 1.5), (1.0, -2.0, 1.8), (-2.0, 3.0)),
}


def _fig_terms(k: int) -> Figure:
    from relusum.plot import COLORS, plot_relusum

    bias, knots, weights, (a, b) = TERM_EXAMPLES[k]
    s = ReluSum(bias, knots, weights, (a, b))
    fig = _new_figure(6.8, 4.4)
    ax = fig.subplots()
    palette = (COLORS["terms"], "#2ca02c", COLORS["terms_neg"])
    for i, (h, w) in enumerate(zip(knots, weights)):
        xs = np.array([a, h, b]) if h > a else np.array([a, b])
        scale = "" if w == 1 else f"{_num(w)}·"
        ax.plot(
            xs,
            w * np.maximum(0.0, xs - h),
            "--",
            color=palette[i],
            lw=1.8,
            label=f"term {i + 1}: {scale}ReLU({_shifted(h)})",
        )
    plot_relusum(s, ax, (a, b), terms=False, knots=False, label="their sum")
    # Mark each bend and the slope of each piece.
    slopes = s.slopes[1:]
    edges = list(knots) + [b]
    for i in range(len(knots)):
        lo, hi = edges[i], edges[i + 1]
        mid = 0.5 * (lo + hi)
        ax.annotate(
            f"slope {_num(slopes[i])}",
            xy=(mid, float(s(mid))),
            xytext=(0, 10),
            textcoords="offset points",
            ha="center",
            fontsize=9,
            color=COLORS["sum"],
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
    offsets = ((-60, -95), (-55, -112))
    for j, (h, w) in enumerate(zip(knots[1:], weights[1:])):
        ax.plot([h], [float(s(h))], "o", color=COLORS["knot"], ms=7, zorder=6)
        ax.annotate(
            f"bend at x = {_num(h)}:\nthe slope changes by {_num(w)}",
            xy=(h, float(s(h))),
            xytext=offsets[j % 2],
            textcoords="offset points",
            ha="center",
            fontsize=9,
            color=COLORS["knot"],
            va="top",
            arrowprops={"arrowstyle": "->", "color": COLORS["knot"], "lw": 0.9},
        )
    ys = np.concatenate(
        [np.asarray(s(np.array(edges)))]
        + [np.array([0.0, w * (b - h)]) for h, w in zip(knots, weights)]
    )
    lo, hi = float(ys.min()), float(ys.max())
    pad = 0.1 * (hi - lo)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_ylabel("f(x)")
    title = {2: "Two shifted ReLUs: one bend", 3: "Three shifted ReLUs: two bends"}[k]
    ax.set_title(f"{title} (from the first knot on)")
    ax.legend(loc="upper left", fontsize=9)
    return fig


def _fig_units(tgt: Target, results: list[FitResult]) -> Figure:
    from matplotlib.lines import Line2D

    from relusum.plot import COLORS, plot_terms

    k = len(results)
    # The legend takes the free cell after the last panel, or goes below the grid.
    ncols = min(4, k)
    spare = k % ncols != 0
    nrows = math.ceil(k / ncols)
    fig = _new_figure(3.3 * max(ncols, 2), 3.6 * nrows + (0 if spare else 1.1))
    outer = fig.add_gridspec(nrows, ncols)
    a, b = tgt.domain
    xs = np.linspace(a, b, 800)
    yt = tgt.evaluate(xs)
    span = float(yt.max() - yt.min()) or 1.0
    ylim = (float(yt.min()) - 0.12 * span, float(yt.max()) + 0.12 * span)
    for i, res in enumerate(results):
        cell = outer[i // ncols, i % ncols].subgridspec(2, 1, height_ratios=[2.2, 1], hspace=0)
        top = fig.add_subplot(cell[0])
        bot = fig.add_subplot(cell[1], sharex=top)
        s, rep = res.model, res.report
        top.plot(xs, yt, color=COLORS["target"], lw=1.3)
        corners = np.unique(np.concatenate(([a, b], s.knots[(s.knots > a) & (s.knots < b)])))
        top.plot(corners, s(corners), color=COLORS["sum"], lw=2.0)
        if s.n_units <= 20:
            top.plot(s.knots, s(s.knots), "o", color=COLORS["knot"], ms=3.5, zorder=5)
        top.set_ylim(*ylim)
        top.set_xlim(a, b)
        unit_word = "unit" if rep.n_units == 1 else "units"
        top.set_title(f"{rep.n_units} {unit_word}", fontsize=11, fontweight="bold", loc="left")
        top.text(
            1.0,
            1.02,
            f"max error {rep.max_abs_error:.2g}",
            transform=top.transAxes,
            ha="right",
            va="bottom",
            fontsize=8.5,
            color="#555555",
        )
        top.tick_params(labelbottom=False)
        _ax_style(top)
        plot_terms(s, bot, (a, b))
        bot.axhline(0.0, color="#999999", lw=0.6, zorder=0)
        bot.tick_params(labelsize=8)
        bot.set_xlabel("x", fontsize=9)
        if i % ncols == 0:
            top.set_ylabel("f(x)")
            bot.set_ylabel("terms", fontsize=9)
    handles = [
        Line2D([], [], color=COLORS["target"], lw=1.3, label=f"target {tgt.label}"),
        Line2D([], [], color=COLORS["sum"], lw=2.0, label="sum of the ReLUs (least squares)"),
        Line2D([], [], color=COLORS["knot"], marker="o", ls="", ms=4, label="knots $h_i$"),
        Line2D(
            [],
            [],
            color=COLORS["terms"],
            ls="--",
            label=r"terms $w_i\,\max(0, x - h_i)$ with $w_i > 0$",
        ),
        Line2D([], [], color=COLORS["terms_neg"], ls="--", label="terms with $w_i < 0$"),
    ]
    guide = (
        "Top: the target and the sum. Bottom: the scaled shifted ReLUs that add up to "
        "the sum (uniform knots, weights by least squares)."
    )
    if spare:
        ax = fig.add_subplot(outer[k // ncols, k % ncols])
        ax.axis("off")
        ax.legend(handles=handles, loc="upper left", fontsize=9, frameon=False)
        ax.text(
            0.0,
            0.2,
            guide.replace(". ", ".\n").replace("up to ", "up to\n"),
            transform=ax.transAxes,
            fontsize=9,
            va="bottom",
            color="#444444",
        )
    else:
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncols=3,
            fontsize=9,
            frameon=False,
            title=guide,
            title_fontsize=9,
        )
    fig.suptitle(f"{tgt.label} on [{a:.4g}, {b:.4g}] with more and more ReLU units", fontsize=12)
    return fig


def _fig_convergence(tgt: Target, conv: Convergence) -> Figure:
    from relusum.plot import plot_convergence

    fig = _new_figure(11.0, 4.4)
    left, right = fig.subplots(1, 2)
    labels = {m: _slope_label(conv, m, "max_error") for m in conv.methods}
    plot_convergence(
        conv.units,
        {labels[m]: conv.max_error[m] for m in conv.methods},
        ax=left,
        ylabel="max |error| on the verification grid",
    )
    labels = {m: _slope_label(conv, m, "rmse") for m in conv.methods}
    plot_convergence(
        conv.units,
        {labels[m]: conv.rmse[m] for m in conv.methods},
        ax=right,
        ylabel="RMS error on the verification grid",
    )
    left.set_title("largest error", fontsize=11)
    right.set_title("root-mean-square error", fontsize=11)
    fig.suptitle(
        f"{tgt.label}: error against the number of units (every point is a fit)", fontsize=12
    )
    return fig


def _slope_label(conv: Convergence, method: str, which: str) -> str:
    p = conv.slope(method, which)
    tail = f"  (slope {p:.2f})" if np.isfinite(p) else ""
    return conv.labels[method] + tail


def _fig_trained(
    plot_units: Callable[..., Any],
    trained: dict[int, Any],
    optimal: dict[int, ReluSum],
    dom: tuple[float, float],
) -> Figure | None:
    """The units of the largest trained network with at most 20 units, vs optimal knots."""
    small = [n for n in trained if n <= 20]
    n = max(small) if small else min(trained)
    fig = _new_figure(8.0, 4.6)
    ax = fig.subplots()
    try:
        plot_units(trained[n].model, dom, ax=ax, optimal=optimal.get(n))
    except (TypeError, ValueError, AttributeError):
        return None
    ax.set_title("a trained network: " + ax.get_title(), fontsize=10)
    return fig


# ------------------------------------------------------------------ animation
def _write_gif(tgt: Target, results: list[FitResult], path: Path, bar: _Progress) -> Path:
    """One frame per unit count, drawn by updating the data of one figure (blitting)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from PIL import Image

    from relusum.plot import COLORS, _style, term_segments

    a, b = tgt.domain
    fig = Figure(figsize=(7.0, 4.8), dpi=_GIF_DPI)
    canvas = FigureCanvasAgg(fig)
    top, bot = fig.subplots(2, 1, sharex=True, height_ratios=[2.2, 1])
    fig.subplots_adjust(left=0.1, right=0.97, top=0.9, bottom=0.1, hspace=0.08)
    xs = np.linspace(a, b, 800)
    yt = tgt.evaluate(xs)
    span = float(yt.max() - yt.min()) or 1.0
    top.plot(xs, yt, color=COLORS["target"], lw=1.4)
    top.set_ylim(float(yt.min()) - 0.15 * span, float(yt.max()) + 0.15 * span)
    top.set_xlim(a, b)
    top.set_ylabel("f(x)")
    top.tick_params(labelbottom=False)
    bot.axhline(0.0, color="#999999", lw=0.6, zorder=0)
    bot.set_xlabel("x")
    bot.set_ylabel("terms")
    _style(top)
    _style(bot)
    top.legend(
        handles=[
            Line2D([], [], color=COLORS["target"], lw=1.4, label=f"target {tgt.label}"),
            Line2D([], [], color=COLORS["sum"], lw=2.2, label="sum of ReLUs"),
            Line2D([], [], color=COLORS["terms"], ls="--", label="terms (below), w > 0"),
            Line2D([], [], color=COLORS["terms_neg"], ls="--", label="w < 0"),
        ],
        loc="upper left",
        fontsize=8,
        ncols=2,
    )
    fig.suptitle("adding ReLU units one at a time", fontsize=12, x=0.1, ha="left")
    (line,) = top.plot([], [], color=COLORS["sum"], lw=2.2, animated=True)
    (dots,) = top.plot([], [], "o", color=COLORS["knot"], ms=3, animated=True)
    # Terms without anti-aliasing: far fewer distinct pixels, a much smaller GIF.
    pos = LineCollection([], colors=COLORS["terms"], linestyles="--", antialiaseds=False)
    neg = LineCollection([], colors=COLORS["terms_neg"], linestyles="--", antialiaseds=False)
    bot.add_collection(pos)
    bot.add_collection(neg)
    label = fig.text(0.97, 0.955, "", ha="right", va="center", fontsize=11, animated=True)
    # The background holds everything that never changes; the terms panel is redrawn
    # whole each frame because its y range follows the terms.
    bot.set_visible(False)
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    bot.set_visible(True)
    images = []
    for res in results:
        s, rep = res.model, res.report
        corners = np.unique(np.concatenate(([a, b], s.knots[(s.knots > a) & (s.knots < b)])))
        line.set_data(corners, s(corners))
        if s.n_units <= 40:
            dots.set_data(s.knots, s(s.knots))
        else:
            dots.set_data([], [])
        n_terms = s.n_units
        alpha = float(np.clip(3.0 / np.sqrt(n_terms), 0.3, 0.9))
        lw = 1.3 if n_terms <= 10 else (1.0 if n_terms <= 30 else 0.8)
        for coll, sel in ((pos, s.weights >= 0), (neg, s.weights < 0)):
            coll.set_segments(term_segments(s, a, b, np.flatnonzero(sel)))
            coll.set_alpha(alpha)
            coll.set_linewidth(lw)
        ends = np.concatenate(([0.0], s.weights * np.maximum(0.0, b - s.knots)))
        lo, hi = float(ends.min()), float(ends.max())
        pad = 0.1 * ((hi - lo) or 1.0)
        bot.set_ylim(lo - pad, hi + pad)
        word = "unit" if rep.n_units == 1 else "units"
        label.set_text(f"{rep.n_units} {word}   max error {rep.max_abs_error:.2g}")
        canvas.restore_region(background)
        fig.draw_artist(bot)
        top.draw_artist(line)
        top.draw_artist(dots)
        fig.draw_artist(label)
        rgba = np.asarray(canvas.buffer_rgba())
        images.append(Image.fromarray(rgba[..., :3].copy()))
        bar.step(f"frame {rep.n_units}")
    # One palette for all frames, from a few frames side by side.
    w, h = images[0].size
    picks = sorted({0, len(images) // 10, len(images) // 3, len(images) - 1})
    sample = Image.new("RGB", (len(picks) * w, h))
    for j, k in enumerate(picks):
        sample.paste(images[k], (j * w, 0))
    palette = sample.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    frames = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    durations = [_frame_ms(r.report.n_units) for r in results]
    durations[-1] = 2500

    def encode() -> bytes:
        import io

        buf = io.BytesIO()
        frames[0].save(
            buf,
            format="GIF",
            save_all=True,
            append_images=frames[1:],
            duration=durations,
            loop=0,
            optimize=False,
            disposal=1,
        )
        return buf.getvalue()

    return atomic_write_bytes(path, encode())


def _frame_ms(n: int) -> int:
    if n <= 5:
        return 700
    if n <= 20:
        return 250
    return 90


# ---------------------------------------------------------------------- html
_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 980px; margin: 2em auto; padding: 0 1em; line-height: 1.55; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2.2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
figure { margin: 1em 0; text-align: center; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
code, pre { background: #f5f5f5; padding: 0.1em 0.3em; border-radius: 3px; }
pre { padding: 0.6em 0.9em; overflow-x: auto; }
.lead { color: #555; font-size: 1.05em; }
.formula { font-family: Georgia, "Times New Roman", serif; font-size: 1.15em; text-align: center;
           margin: 0.8em 0; }
table { border-collapse: collapse; margin: 1em auto; font-size: 0.92em; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 0.25em 0.7em; text-align: right; }
th { background: #fafafa; }
nav ul { columns: 2; list-style: none; padding-left: 0; }
.note { color: #666; font-size: 0.92em; }
"""


def _html(
    tgt: Target,
    dom: tuple[float, float],
    figures: dict[str, Path],
    conv: Convergence,
    panels: tuple[int, ...],
    max_units: int,
    fmt: str,
    train: bool,
    panel_results: list[FitResult],
    formula: bool = True,
    methods: tuple[str, ...] | None = None,
) -> str:
    e = html.escape
    a, b = dom
    label = e(tgt.label)

    def img(name: str, alt: str) -> str:
        return f'<figure><img src="{e(figures[name].name)}" alt="{e(alt)}"></figure>'

    sections: list[tuple[str, str, str]] = []  # (anchor, heading, body)
    sections.append(
        (
            "relu",
            "1. ReLU: two straight lines",
            img("relu", "ReLU(x)")
            + """
<p>A ReLU (rectified linear unit) returns its input when it is positive and zero otherwise:
<code>ReLU(x) = max(0, x)</code>. Each half is a straight line. What matters is the
<em>corner</em> at 0, where the slope jumps from 0 to 1. A single straight line can never
bend; a ReLU bends exactly once.</p>""",
        )
    )
    sections.append(
        (
            "shift",
            "2. Shifting the corner",
            img("shift", "ReLU(x - h)")
            + """
<p>Subtracting a number <code>h</code> before the ReLU moves its corner to <code>x = h</code>.
<code>ReLU(x &minus; h)</code> is zero left of <code>h</code> and rises with slope 1 right of it.
The shift <code>h</code> is called the <em>knot</em>.</p>""",
        )
    )
    sections.append(
        (
            "neuron",
            "3. A neuron is a scaled, shifted ReLU",
            img("neuron", "a neuron diagram and ReLU(a x + b)")
            + """
<p>A neuron multiplies its inputs by weights, adds a bias and applies the ReLU:
<code>y = ReLU(a<sub>1</sub>x<sub>1</sub> + &hellip; + a<sub>n</sub>x<sub>n</sub> + b)</code>.
With one input <code>x</code> this is <code>ReLU(a&middot;x + b)</code>, and since
<code>a&middot;x + b = a&middot;(x &minus; h)</code> with <code>h = &minus;b/a</code>, it is a
ReLU with its corner at <code>h</code>, scaled by <code>|a|</code>. When <code>a &lt; 0</code>
it faces left: it is zero right of <code>h</code>. A left-facing ReLU is a straight line plus a
right-facing one, <code>|a|&middot;ReLU(h &minus; x) = |a|&middot;(h &minus; x) +
|a|&middot;ReLU(x &minus; h)</code>, so nothing new appears: only corners.</p>""",
        )
    )
    sections.append(
        (
            "layer",
            "4. The last hidden layer adds them up",
            img("layer", "a hidden layer and its units' ReLUs")
            + """
<p>The output of a network with one input is a weighted sum of the units of its last hidden
layer plus a bias. Each unit is one scaled shifted ReLU (its own curve is drawn beside it), so
the network's output is</p>
<p class="formula">f(x) = b + &Sigma;<sub>i</sub> w<sub>i</sub>&middot;max(0, x &minus;
h<sub>i</sub>)</p>
<p>on any interval, once left-facing units are rewritten as above (deeper networks give the same
form: their output is still continuous and piecewise linear). This weighted sum of shifted ReLUs
is what relusum calls a <code>ReluSum</code>.</p>""",
        )
    )
    sections.append(
        (
            "two",
            "5. Two terms: one bend",
            img("two_terms", "two shifted ReLUs")
            + """
<p>Left of its knot a term is zero; right of it, it adds a straight line of slope
<code>w<sub>i</sub></code>. So from the first knot on, the sum is a line, and at the second knot
its slope changes by exactly <code>w<sub>2</sub></code>. The terms are dashed, their sum solid.
</p>""",
        )
    )
    sections.append(
        (
            "three",
            "6. Three terms: two bends",
            img("three_terms", "three ReLUs")
            + """
<p>Every further term adds one more bend at its own knot, with its weight as the change of
slope. With enough bends, placed where the target curves, a sum of straight-line pieces can
follow any continuous curve: this is how a network of ReLUs, each of them "linear" on both
sides of its corner, computes a non-linear function.</p>""",
        )
    )
    rows = "".join(
        f"<tr><td>{r.report.n_units}</td><td>{r.report.n_pieces}</td>"
        f"<td>{r.report.max_abs_error:.3g}</td><td>{r.report.rmse:.3g}</td></tr>"
        for r in panel_results
    )
    sections.append(
        (
            "units",
            "7. More units, closer fit",
            img("units", "the target with more and more units")
            + f"""
<p>The target <code>{label}</code> on [{a:.6g}, {b:.6g}], approximated with
{", ".join(str(n) for n in panels)} units. Each panel is a real least-squares fit with knots
spaced evenly over the domain: on top, the target (black) and the sum (blue); underneath, the
scaled shifted ReLUs whose sum it is. With a few units the sum is visibly a chain of straight
pieces; with {panels[-1]} it is hard to tell from the curve. The individual terms can be large
and of both signs: they cancel in the sum, leaving only the bends.</p>
<table><tr><th>units</th><th>linear pieces</th><th>max |error|</th><th>RMS error</th></tr>
{rows}</table>""",
        )
    )
    sections.append(
        (
            "convergence",
            "8. How fast the error falls",
            img("convergence", "error against the number of units")
            + _convergence_text(conv, train),
        )
    )
    if "trained_units" in figures:
        versus = (
            " The ticks along the bottom are the optimal knots for the same number of units."
            if "optimal_l2" in conv.methods
            else ""
        )
        sections.append(
            (
                "trained",
                "8b. What a trained network does with its units",
                img("trained_units", "a trained network's units")
                + f"""
<p>The units of a small network trained by gradient descent (Adam, fixed seed), each drawn as
its own scaled ReLU <code>v&middot;max(0, a&middot;x + b)</code>, with the network's output.
Every live unit contributes one knot <code>h = &minus;b/a</code>; units whose knot lies
outside the domain are just straight lines there, or zero ("dead"), and add no bend.{versus}
</p>""",
            )
        )
    sections.append(
        (
            "animation",
            "9. Adding units one at a time",
            img("animation", "animation adding units")
            + f"""
<p>Units are added one by one, from 1 to {max_units}, each frame a least-squares fit with
uniform knots. Watch the sum (blue) close in on the target while the terms underneath multiply
and shrink.</p>""",
        )
    )

    nav = "".join(f'<li><a href="#{anchor}">{e(head)}</a></li>' for anchor, head, _ in sections)
    body = "".join(
        f'<section id="{anchor}"><h2>{e(head)}</h2>{text}</section>'
        for anchor, head, text in sections
    )
    if formula and methods is None:
        cmd = (
            "relusum tour"
            if tgt.label == DEFAULT_TARGET and (a, b) == parse_domain(DEFAULT_DOMAIN)
            else f'relusum tour --target "{label}" --domain {a:.17g} {b:.17g}'
        )
        if max_units != 100:
            cmd += f" --max-units {max_units}"
        if fmt != "png":
            cmd += f" --format {fmt}"
        if not train:
            cmd += " --no-train"
    else:
        what = f'"{label}"' if formula else label
        cmd = (
            f"from relusum.tour import make_tour\n"
            f"make_tour({what}, domain=({a:.17g}, {b:.17g}), max_units={max_units}, "
            f'fmt="{fmt}", train={train}'
            + ("" if methods is None else f", methods={list(methods)!r}")
            + ")"
        )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Why ReLU networks are non-linear: a tour with {label}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Why a network of ReLUs is non-linear</h1>
<p class="lead">ReLU looks like two straight lines. So how can a network built from it follow a
curve? Because its output is a sum of ReLUs with their corners in different places, and every
corner is a bend. This tour shows it step by step, ending with real fits of
<code>{label}</code> on [{a:.6g}, {b:.6g}].</p>
<nav><ul>{nav}</ul></nav>
{body}
<h2>Reproduce</h2>
<p>Every figure here was made by <code>relusum</code> from the fits it describes; the numbers
are in <a href="convergence.csv">convergence.csv</a>. To make this page again (same input, same
files):</p>
<pre>{cmd}</pre>
<p class="note">Errors are measured on a verification grid of at least 100,000 points, separate
from the 2,000 samples each fit was made from.</p>
</body>
</html>
"""


def _convergence_text(conv: Convergence, train: bool) -> str:
    e = html.escape
    lines = []
    for m in conv.methods:
        p = conv.slope(m)
        rate = f"falls like n<sup>{p:.2f}</sup>" if np.isfinite(p) else "too few points for a slope"
        lines.append(f"<li><b>{e(conv.labels[m])}</b>: {rate}</li>")
    missing = ""
    if conv.unavailable:
        items = "".join(
            f"<li>{e(METHODS[m][0] if m in METHODS else TRAINED[1])}: {e(why)}</li>"
            for m, why in conv.unavailable.items()
        )
        missing = f'<p class="note">Not shown here:</p><ul class="note">{items}</ul>'
    trained = ""
    if TRAINED[0] in conv.methods:
        trained = (
            "<p>The trained networks are ordinary one-hidden-layer networks fitted by gradient "
            f"descent ({TRAIN_STEPS} Adam steps from a random start). They usually stay well "
            "above the least-squares fits with the same number of units: training finds "
            "neither the best knots nor the best weights, and some units end up with no knot "
            "inside the domain at all. The fits above solve for the weights exactly.</p>"
        )
    head = "".join(f"<th>{e(conv.labels[m])}</th>" for m in conv.methods)
    rows = "".join(
        f"<tr><td>{int(n)}</td>"
        + "".join(
            f"<td>{conv.max_error[m][k]:.3g}</td>"
            if np.isfinite(conv.max_error[m][k])
            else "<td></td>"
            for m in conv.methods
        )
        + "</tr>"
        for k, n in enumerate(conv.units)
    )
    return f"""
<p>Each point is a fit made for this page, its error measured on a fine verification grid. With
evenly spaced knots the spacing is 1/n of the domain, and on a smooth curve a straight piece
misses by about (spacing)&sup2; &times; curvature / 8, so the error falls like
<b>n<sup>&minus;2</sup></b> (dotted line): ten times the units, a hundred times smaller error.
Knots placed where the curve bends most lower the error further; where the target has a corner
or a very sharp bend, evenly spaced knots fall behind that rate and well-placed ones keep it.
Measured here:</p>
<ul>{"".join(lines)}</ul>
<p>Slopes are fitted on the larger unit counts of the log&ndash;log plot.</p>{trained}
{missing}
<table><tr><th>units</th>{head}</tr>{rows}</table>
<p class="note">Largest absolute error of each fit.</p>"""
