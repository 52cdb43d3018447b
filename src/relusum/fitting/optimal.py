"""The fits behind ``knots="optimal"``, ``loss="linf"`` and ``tol=`` (via :func:`relusum.fit`).

============================  =========================================================
combination                   method
============================  =========================================================
uniform/given knots, linf     linear program (HiGHS), :func:`~.minimax.linf_fixed_target`
optimal knots, l2             free-knot least squares, :mod:`relusum.fitting.free_l2`
optimal knots, linf           greedy sweep + bisection, :func:`~.minimax.minimax_target`
``tol=``                      fewest units, :func:`relusum.fitting.tolerance.fit_tolerance`
============================  =========================================================

``knots="optimal"`` with ``interpolate=True`` is not implemented (a clear
error); ``sample_weight`` applies to least squares only.  Every result is
built by :func:`relusum.fitting.api.finish`, so its errors are measured on the
verification grid (functions) or the data.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from relusum.fitting import api
from relusum.fitting.fixed import check_capacity, check_n_units, uniform_knots
from relusum.fitting.minimax import linf_fixed_target, minimax_target
from relusum.model import ReluSum
from relusum.targets import Target, TargetLike, make_target

__all__ = ["fit_extended", "fit_optimal", "progress_bar"]


class _Bar:
    """A tqdm bar on stderr, shown at once (``progress=True``) or after 2 s on a terminal."""

    def __init__(self, progress: bool | None, desc: str, unit: str) -> None:
        self._bar = None
        if progress is False:
            return
        if progress is None and not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(
            desc=desc,
            unit=unit,
            file=sys.stderr,
            leave=False,
            delay=0.0 if progress else 2.0,
        )

    def __call__(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress_bar(progress: bool | None, desc: str, unit: str = "step") -> _Bar:
    """A callable that advances a progress bar (a no-op when no bar is shown).

    ``progress=True`` shows it at once, ``None`` only on a terminal and only
    once the work has run for 2 s, ``False`` never.

    Examples
    --------
    >>> from relusum.fitting.optimal import progress_bar
    >>> with progress_bar(False, "fit") as tick:
    ...     tick()
    """
    return _Bar(progress, desc, unit)


def _check_units(n_units: Any) -> int | None:
    if n_units is None:
        return None
    return check_n_units(n_units)


def _knots_kind(knots: Any) -> str:
    if isinstance(knots, str):
        if knots not in ("uniform", "optimal"):
            raise ValueError(f"knots must be 'uniform', 'optimal' or an array, got {knots!r}")
        return knots
    return "given"


def fit_optimal(
    target: Target,
    n_units: int,
    loss: str,
    *,
    progress: bool | None = None,
    init: ArrayLike | ReluSum | None = None,
) -> tuple[ReluSum, dict[str, Any]]:
    """Optimal knots for ``n_units`` units and ``loss`` on a ready target.

    Returns the model and the method details for the report.  ``init`` warm
    starts: knots for ``l2`` (see :func:`~relusum.fitting.free_l2.free_knot_l2`),
    a :class:`ReluSum` with at most ``n_units`` units for ``linf`` (the result
    is never worse than it, so a chain n = 1, 2, ... never gets worse).

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> from relusum.fitting.optimal import fit_optimal
    >>> s, extra = fit_optimal(make_target("abs(x)", (-1, 1)), 2, "linf")
    >>> (s.knots.round(9) + 0.0).tolist(), extra["method"]
    ([-1.0, 0.0], 'greedy minimax')
    """
    if loss == "l2":
        try:
            from relusum.fitting.free_l2 import free_knot_l2
        except ImportError:
            raise ValueError(
                "free-knot least squares (knots='optimal', loss='l2') is not available "
                "in this version"
            ) from None
        kwargs: dict[str, Any] = {"progress": progress}
        if isinstance(init, ReluSum):
            init = init.knots
        if init is not None:
            kwargs["init"] = init
        model = free_knot_l2(target, n_units, **kwargs)
        return model, {"method": "free-knot least squares"}
    with progress_bar(progress, f"minimax fit, {n_units} units", "sweep") as tick:
        model, info = minimax_target(target, n_units, progress=tick)
    extra = {
        "method": "greedy minimax",
        "sample_max_error": info.eps,
        "points_used": info.n_points,
        "sweeps": info.iterations,
        "refinements": info.rounds,
    }
    if info.eps > 0:
        # Never worse than the uniform-knot minimax fit, nor than a warm start
        # (the greedy is exact on convex or concave data; on wiggly data it can
        # miss the optimum).
        best = api.measure(model, target)[1]
        candidates = []
        if not _convex_or_concave(target):
            candidates.append(
                (
                    "uniform knots (linear program)",
                    lambda: linf_fixed_target(target, uniform_knots(target.domain, n_units)),
                )
            )
        if isinstance(init, ReluSum) and init.n_units <= n_units:
            candidates.append(("warm start", lambda: init))
        for name, make in candidates:
            other = make()
            err = api.measure(other, target)[1]
            if err < best:
                model, best = other, err
                extra["method"] = f"{name}, better than the greedy"
    return model, extra


def _convex_or_concave(target: Target) -> bool:
    """Whether the samples are convex or concave (there the greedy is exact)."""
    x, y = target.x, target.y
    if np.any(np.diff(x) == 0) or x.size < 3:
        return False
    s = np.diff(y) / np.diff(x)
    ds = np.diff(s)
    tol = 1e-12 * (float(np.max(np.abs(s))) + 1.0)
    return bool(np.all(ds >= -tol) or np.all(ds <= tol))


def fit_extended(
    target: TargetLike,
    domain: Sequence[Any] | None = None,
    n_units: int | None = None,
    knots: str | ArrayLike = "uniform",
    loss: str = "l2",
    interpolate: bool = False,
    samples: int | None = None,
    sample_weight: ArrayLike | None = None,
    *,
    tol: float | None = None,
    max_units: int = 1000,
    progress: bool | None = None,
) -> api.FitResult:
    """Optimal-knot, max-error and tolerance fits; see :func:`relusum.fit` for the parameters.

    Examples
    --------
    >>> import relusum
    >>> r = relusum.fit("x**2", domain=(0, 1), n_units=4, knots="optimal", loss="linf")
    >>> round(r.report.max_abs_error * 2 * 9**2, 2)  # the optimum is 1 / (2 (2n+1)^2)
    1.0
    """
    if loss not in api.LOSSES:
        raise ValueError(f"loss must be one of {', '.join(api.LOSSES)}; got {loss!r}")
    kind = _knots_kind(knots)
    n_units = _check_units(n_units)
    if tol is not None:
        if n_units is not None:
            raise ValueError("give either n_units or tol (the fewest units for an error), not both")
        if kind == "given":
            raise ValueError("tol= chooses the number of units; it cannot be used with given knots")
    if interpolate:
        if kind == "optimal":
            raise ValueError(
                "knots='optimal' with interpolate=True is not implemented; "
                "use loss='l2' or loss='linf' with optimal knots, or uniform knots"
            )
        if loss == "linf" and tol is None:
            raise ValueError(
                "interpolate=True fixes the values at the knots, so loss='linf' has nothing "
                "to choose; drop one of them"
            )
    if sample_weight is not None and loss == "linf":
        raise ValueError(
            "sample_weight applies to least squares (loss='l2'); the max error ignores weights"
        )
    start = time.perf_counter()
    tgt = make_target(target, domain, samples, sample_weight)
    if tol is not None:
        from relusum.fitting.tolerance import fit_tolerance

        return fit_tolerance(
            tgt,
            kind,
            loss,
            tol,
            max_units=max_units,
            progress=progress,
            start=start,
            interpolate=interpolate,
        )
    if kind == "optimal":
        n = api.DEFAULT_UNITS if n_units is None else n_units
        _check_capacity(tgt, n)
        model, extra = fit_optimal(tgt, n, loss, progress=progress)
        seconds = time.perf_counter() - start
        return api.finish(model, tgt, seconds, loss=loss, knots="optimal", extra=extra)
    # Uniform or given knots, max error: a linear program.
    h, how = api._resolve_knots(tgt, n_units, knots, False)
    _check_capacity(tgt, h.size)
    model = linf_fixed_target(tgt, h)
    seconds = time.perf_counter() - start
    return api.finish(
        model, tgt, seconds, loss="linf", knots=how, extra={"method": "linear program"}
    )


def _check_capacity(tgt: Target, n: int) -> None:
    check_capacity(tgt.x, n, data=tgt.fn is None)


def _finite_positive(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v
