"""The tour: why a ReLU network is non-linear, told in figures made from real fits.

:func:`make_tour` writes into one folder:

=========================  ====================================================
``01_relu``                ReLU(x) = max(0, x): two straight pieces and a corner
``02_shift``               ReLU(x - h): the same corner moved to x = h
``03_neuron``              a neuron (diagram) and ReLU(a x + b) as a scaled ReLU
                           at h = -b/a, facing left when a < 0
``04_layer``               the last hidden layer feeding the output, each unit's
                           ReLU drawn beside it
``05_two_terms``           two shifted ReLUs: flat before the first knot, one bend
``06_three_terms``         three: two bends
``07_units``               the target with 2, 3, 5, 10, 20, 50, 100 units: target,
                           sum, and the scaled shifted ReLUs underneath
``08_convergence``         error against units (log-log) for every fitting method
                           available, with the n^-2 reference line
``08b_trained_units``      a trained network's units, the target and the optimal
                           knots (only with the PyTorch bridge and training on)
``09_adding_units.gif``    an animation adding one unit per frame where the error
                           is largest, the earlier knots kept
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

The package, one idea per module: :mod:`~relusum.tour.data` (constants, the
convergence table, the result), :mod:`~relusum.tour.fits` (uniform and optimal
fits), :mod:`~relusum.tour.frames` (units added one at a time),
:mod:`~relusum.tour.training` (trained networks), :mod:`~relusum.tour.story`
(figures 1-6), :mod:`~relusum.tour.labels` (labels clear of lines),
:mod:`~relusum.tour.results` (figures 7, 8, 8b), :mod:`~relusum.tour.animation`
(the GIF), :mod:`~relusum.tour.page` (``index.html``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from relusum._io import atomic_write_text
from relusum.targets import make_target, parse_domain
from relusum.tour.data import (
    CONVERGENCE_UNITS,
    DEFAULT_DOMAIN,
    DEFAULT_TARGET,
    MAX_TOUR_UNITS,
    METHODS,
    PANEL_UNITS,
    TRAIN_STEPS,
    TRAIN_UNITS,
    TRAINED,
    Comparison,
    Convergence,
    TourResult,
    convergence_units,
    panel_units,
)
from relusum.tour.progress import Progress

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "DEFAULT_TARGET",
    "DEFAULT_DOMAIN",
    "PANEL_UNITS",
    "CONVERGENCE_UNITS",
    "TRAIN_UNITS",
    "TRAIN_STEPS",
    "MAX_TOUR_UNITS",
    "METHODS",
    "TRAINED",
    "Comparison",
    "Convergence",
    "TourResult",
    "make_tour",
    "convergence_units",
    "panel_units",
]


@contextmanager
def _figures() -> Iterator[None]:
    import matplotlib

    from relusum.plot import style
    from relusum.tour.story import DPI

    with style(), matplotlib.rc_context({"figure.dpi": DPI}):
        yield


def _check(
    target: Any,
    domain: Sequence[Any] | None,
    max_units: Any,
    fmt: str,
    methods: Sequence[str] | None,
) -> tuple[Any, tuple[float, float], int, tuple[str, ...]]:
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
    if dom is None:  # pragma: no cover - parse_domain gives a domain or raises
        raise ValueError("the tour needs a domain A B")
    chosen = tuple(METHODS) if methods is None else tuple(methods)
    unknown = [m for m in chosen if m not in METHODS]
    if unknown or not chosen:
        raise ValueError(f"methods must be some of {', '.join(METHODS)}; got {list(chosen)!r}")
    return target, dom, max_units, chosen


def make_tour(
    target: str | Callable[[np.ndarray], Any] | None = None,
    domain: Sequence[Any] | None = None,
    out: str | os.PathLike[str] = "relusum-tour",
    max_units: int = 100,
    fmt: str = "png",
    train: bool = True,
    progress: bool | None = None,
    methods: Sequence[str] | None = None,
    workers: int | None = None,
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
        bridge is available (without it the page says, in one line, how to
        install it: :data:`relusum.tour.training.TORCH_HINT`).
    progress : bool, optional
        A progress bar on stderr: ``None`` shows it once the tour has run 2 s.
    methods : sequence of str, optional
        The fitting methods of the convergence figure, keys of :data:`METHODS`
        (default: all; those not available here are left out and named on the
        page).  Trained networks are governed by ``train``.
    workers : int, optional
        Worker processes for the optimal-knot fits and the training, which then
        run while this process draws (at most 2; ``0``: everything here).  By
        default they are used when training or with ``max_units >= 30``.  The
        files are the same either way.

    Returns
    -------
    TourResult
        Paths of everything written, the convergence data and the frames.

    Examples
    --------
    >>> import tempfile
    >>> from relusum.tour import make_tour
    >>> r = make_tour("x**2", (-1, 1), out=tempfile.mkdtemp(), max_units=5, train=False,
    ...               progress=False)
    >>> sorted(r.figures)[:3], r.frame_units
    (['animation', 'convergence', 'layer'], (1, 2, 3, 4, 5))
    """
    from relusum.tour import fits, training
    from relusum.tour import frames as frames_mod
    from relusum.tour.background import (
        Background,
        draw_story,
        optimal_job,
        torch_available,
        train_job,
    )

    start = time.perf_counter()
    target, dom, max_units, chosen = _check(target, domain, max_units, fmt, methods)
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 0
    ):
        raise ValueError(f"workers must be a non-negative integer or None, got {workers!r}")
    tgt = make_target(target, dom)
    fit_target = target.strip() if isinstance(target, str) else target
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"cannot write the tour into {str(out_dir)!r}: it is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)

    conv_n = convergence_units(max_units)
    panels = panel_units(max_units)
    uniform_n = sorted(set(conv_n) | set(panels))
    far = tuple(m for m in chosen if m.startswith("optimal"))  # the slow fits: in a worker
    near = tuple(m for m in chosen if m not in far)
    can_train = train and torch_available()
    train_reason = training.TORCH_HINT if train and not can_train else None
    train_n = tuple(n for n in TRAIN_UNITS if n <= max_units) if can_train else ()
    if workers is None:  # worth a process: training, or a large tour
        workers = 2 if train_n or max_units >= 30 else 0
    if not isinstance(fit_target, str):
        workers = 0  # a Python function cannot be sent to another process
    ext = "." + fmt
    bar = Progress(
        total=len(uniform_n)
        + max_units * 2
        + len(conv_n) * (len(far) + len(near) - ("lstsq" in near))
        + len(train_n)
        + 9
        + 1,
        progress=progress,
    )
    try:
        with Background(min(int(workers), 2)) as bg:
            # 1. Started first, in workers: optimal knots and trained networks, the
            #    longest jobs first so that two workers finish together.
            trained_path = out_dir / ("08b_trained_units" + ext)
            far_jobs = {}
            if "optimal_linf" in far:
                far_jobs["optimal_linf"] = bg.submit(
                    optimal_job, fit_target, dom, conv_n, ("optimal_linf",)
                )
            train_job_ = (
                bg.submit(train_job, fit_target, dom, train_n, trained_path) if train_n else None
            )
            # Figures 1-6 do not depend on the target: drawn in a worker too.
            story_job = bg.submit(draw_story, out_dir, ext)
            if "optimal_l2" in far:
                far_jobs["optimal_l2"] = bg.submit(
                    optimal_job, fit_target, dom, conv_n, ("optimal_l2",)
                )
            # 2. Here meanwhile: uniform least squares (panels, convergence), units one at
            #    a time (animation), interpolation; the figures that need nothing else.
            lstsq = fits.uniform_fits(fit_target, dom, uniform_n, tgt.label, bar)
            shown = frames_mod.grow(tgt, max_units, bar)
            conv, _ = fits.convergence(fit_target, dom, conv_n, lstsq, near, bar)
            figures = _draw(out_dir, ext, tgt, [lstsq[n] for n in panels], shown, bar)
            # 3. Then what the workers did.
            story = story_job.result()
            for stem in story.values():
                bar.step(f"figure {stem.stem}")
            figures = {**story, **figures}
            for key, job in far_jobs.items():
                conv = _merge(conv, job.result()[0], chosen)
                bar.step(METHODS[key][0], len(conv_n))
            written = None
            if train_job_ is not None:
                errors, why, written = train_job_.result()
                train_reason = train_reason or why
                if not errors:
                    bar.step("training failed", len(train_n))
                e_max = np.full(conv.units.size, np.nan)
                e_rms = np.full(conv.units.size, np.nan)
                for n, (rmse, mae) in errors.items():
                    k = int(np.flatnonzero(conv.units == n)[0]) if n in conv.units else None
                    if k is not None:
                        e_rms[k], e_max[k] = rmse, mae
                    bar.step(f"trained network, {n} units")
                if np.any(np.isfinite(e_max)):
                    key, label = TRAINED
                    conv.max_error[key], conv.rmse[key], conv.labels[key] = e_max, e_rms, label
                    train_reason = None
        if train_reason:
            conv.unavailable[TRAINED[0]] = train_reason
        figures = _draw_convergence(out_dir, ext, tgt, conv, figures, bar)
        if written is not None:
            figures = {
                **dict(list(figures.items())[:-1]),
                "trained_units": written,
                "animation": figures["animation"],
            }
        csv_path = atomic_write_text(out_dir / "convergence.csv", conv.to_csv())
        from relusum.tour.page import page

        index = out_dir / "index.html"
        text = page(
            tgt,
            dom,
            figures,
            conv,
            panels,
            max_units,
            fmt,
            train,
            [lstsq[n] for n in panels],
            shown,
            isinstance(fit_target, str),
            None if methods is None else chosen,
        )
        atomic_write_text(index, text)
        bar.step("index.html")
    finally:
        bar.close()
    files = (*figures.values(), csv_path, index)
    notes = tuple(
        f"{TRAINED[1] if m == TRAINED[0] else METHODS[m][0]}: {why}"
        for m, why in conv.unavailable.items()
    )
    return TourResult(
        out=out_dir,
        index=index,
        figures=figures,
        files=tuple(files),
        target=tgt.label,
        domain=dom,
        convergence=conv,
        panel_units=panels,
        frame_units=tuple(f.n_units for f in shown),
        seconds=time.perf_counter() - start,
        frames=shown,
        notes=notes,
    )


def _merge(here: Convergence, there: Convergence, chosen: tuple[str, ...]) -> Convergence:
    """One convergence table from two with the same unit counts, methods in drawing order."""
    order = [m for m in METHODS if m in chosen]
    max_error = {**here.max_error, **there.max_error}
    rmse = {**here.rmse, **there.rmse}
    labels = {**here.labels, **there.labels}
    return Convergence(
        here.units,
        {m: max_error[m] for m in order if m in max_error},
        {m: rmse[m] for m in order if m in rmse},
        {m: labels[m] for m in order if m in labels},
        {m: why for src in (here, there) for m, why in src.unavailable.items()},
    )


def _save(out_dir: Path, ext: str, figures: dict[str, Path], bar: Progress):
    from relusum.plot import save_figure
    from relusum.tour.story import DPI

    def save(name: str, stem: str, fig: Figure) -> None:
        # Laid out already (fixed or constrained): no second drawing pass to crop it.
        figures[name] = save_figure(fig, out_dir / (stem + ext), dpi=DPI, bbox_inches=None)
        bar.step(f"figure {stem}")

    return save


def _draw(
    out_dir: Path,
    ext: str,
    tgt: Any,
    panel_results: list[Any],
    shown: tuple[Any, ...],
    bar: Progress,
) -> dict[str, Path]:
    """Figure 7 and the animation; by name, in tour order."""
    from relusum.tour import animation, results

    figures: dict[str, Path] = {}
    save = _save(out_dir, ext, figures, bar)
    with _figures():
        save("units", "07_units", results.fig_units(tgt, panel_results))
        gif = out_dir / "09_adding_units.gif"
        animation.write_gif(tgt, shown, gif, bar)
        figures["animation"] = gif
    return figures


def _draw_convergence(
    out_dir: Path,
    ext: str,
    tgt: Any,
    conv: Convergence,
    figures: dict[str, Path],
    bar: Progress,
) -> dict[str, Path]:
    """Figure 8, put before the animation."""
    from relusum.tour import results

    done: dict[str, Path] = {}
    save = _save(out_dir, ext, done, bar)
    with _figures():
        save("convergence", "08_convergence", results.fig_convergence(tgt, conv))
    items = list(figures.items())
    return {**dict(items[:-1]), **done, items[-1][0]: items[-1][1]}
