"""The tour's slow, independent work, run in worker processes beside the figures.

The optimal-knot fits of the convergence figure and the trained networks do
not depend on anything the figures need first, so :class:`Background` starts
them in worker processes (``spawn``, so nothing of this process is shared)
while this process fits uniform knots and draws.  Each job is a plain
function of picklable arguments returning picklable results; run inline (no
workers, a Python function as target, or no way to start a process) the same
functions give the same numbers, so the files are the same either way.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from relusum.model import ReluSum
from relusum.tour.data import Convergence
from relusum.tour.progress import Progress

__all__ = ["Background", "draw_story", "optimal_job", "train_job", "torch_available"]


def torch_available() -> bool:
    """Whether PyTorch can be imported here (without importing it)."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def optimal_job(
    fit_target: Any, dom: tuple[float, float], units: tuple[int, ...], chosen: tuple[str, ...]
) -> tuple[Convergence, dict[int, ReluSum]]:
    """The convergence fits of the methods ``chosen`` (optimal knots), and the l2 models."""
    from relusum.tour.fits import convergence

    return convergence(fit_target, dom, units, {}, chosen, Progress(0, False))


def train_job(
    fit_target: Any,
    dom: tuple[float, float],
    units: tuple[int, ...],
    figure: Path | None,
) -> tuple[dict[int, tuple[float, float]], str | None, Path | None]:
    """Train and measure one network per unit count; draw figure 8b into ``figure``.

    Returns ``(rmse, max error)`` on the verification grid per unit count
    (empty when they could not be trained), the reason then, and the figure's
    path if it was written.
    """
    from relusum.targets import make_target
    from relusum.tour.training import train_curve, trainer

    train_many, plot_units, reason = trainer()
    if train_many is None:
        return {}, reason, None
    tgt = make_target(fit_target, dom)
    errors, trained, reason = train_curve(train_many, fit_target, dom, tgt, units)
    written = None
    if trained and figure is not None and plot_units is not None:
        written = draw_trained(plot_units, trained, fit_target, dom, tgt, figure)
    return errors, reason, written


def draw_story(out_dir: Path, ext: str) -> dict[str, Path]:
    """Figures 1-6 (the same for every target), by name in tour order."""
    from relusum.plot import save_figure
    from relusum.tour import _figures, story

    figures = {}
    with _figures():
        for name, stem, make in (
            ("relu", "01_relu", story.fig_relu),
            ("shift", "02_shift", story.fig_shift),
            ("neuron", "03_neuron", story.fig_neuron),
            ("layer", "04_layer", story.fig_layer),
            ("two_terms", "05_two_terms", lambda: story.fig_terms(2)),
            ("three_terms", "06_three_terms", lambda: story.fig_terms(3)),
        ):
            path = out_dir / (stem + ext)
            figures[name] = save_figure(make(), path, dpi=story.DPI, bbox_inches=None)
    return figures


def draw_trained(
    plot_units: Callable[..., Any],
    trained: dict[int, Any],
    fit_target: Any,
    dom: tuple[float, float],
    tgt: Any,
    path: Path,
) -> Path | None:
    """Figure 8b, with the optimal knots of the same unit count as ticks; its path or None."""
    from relusum.fitting.api import fit
    from relusum.plot import save_figure
    from relusum.tour import _figures
    from relusum.tour.results import fig_trained, trained_units_shown
    from relusum.tour.story import DPI

    n = trained_units_shown(trained)
    try:
        optimal = {n: fit(fit_target, dom, n_units=n, knots="optimal", progress=False).model}
    except (ValueError, ImportError, NotImplementedError):
        optimal = {}
    with _figures():
        fig = fig_trained(plot_units, trained, optimal, tgt)
        if fig is None:
            return None
        return save_figure(fig, path, dpi=DPI, bbox_inches=None)


class Job:
    """A job started in a worker, or run here: :meth:`result` gives its value either way.

    If the worker process dies (killed, out of memory) the job runs again here.
    """

    def __init__(
        self, fn: Callable[..., Any], args: tuple[Any, ...], future: Future[Any] | None
    ) -> None:
        self.fn, self.args, self.future = fn, args, future
        self._done = future is None
        self._value = fn(*args) if future is None else None

    def result(self) -> Any:
        """The job's value (waiting for the worker); its exception if it raised one."""
        if not self._done:
            from concurrent.futures.process import BrokenProcessPool

            try:
                self._value = self.future.result()  # type: ignore[union-attr]
            except BrokenProcessPool:
                self._value = self.fn(*self.args)
            self._done = True
        return self._value


class Background:
    """Run jobs in up to ``workers`` spawned processes, or inline when ``workers`` is 0.

    Falls back to running inline when no process can be started.  Use as a
    context manager: leaving it waits for the workers and shuts them down.
    """

    def __init__(self, workers: int) -> None:
        self.pool = None
        if workers > 0:
            try:
                import multiprocessing as mp
                from concurrent.futures import ProcessPoolExecutor

                self.pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))
            except (OSError, RuntimeError, ValueError, ImportError):  # pragma: no cover
                self.pool = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Job:
        """Start ``fn(*args)`` in a worker (or run it now, inline)."""
        if self.pool is not None:
            try:
                return Job(fn, args, self.pool.submit(fn, *args))
            except RuntimeError:  # pragma: no cover - the pool broke before the job
                pass
        return Job(fn, args, None)

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
