"""The tour's fits with ``relusum.fit``: uniform least squares and every convergence method."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from relusum.fitting.api import FitResult, fit
from relusum.model import ReluSum
from relusum.tour.data import LINF_MAX_UNITS, METHODS, Convergence
from relusum.tour.progress import Progress

__all__ = ["try_fit", "uniform_fits", "convergence"]


def try_fit(
    target: Any, domain: tuple[float, float], n: int, kwargs: dict[str, Any]
) -> tuple[FitResult | None, str | None]:
    """``relusum.fit`` with ``n`` units, or ``None`` and the first line of why it failed."""
    try:
        return fit(target, domain=domain, n_units=n, progress=False, **kwargs), None
    except (ValueError, ImportError, NotImplementedError) as exc:
        return None, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def uniform_fits(
    target: Any, domain: tuple[float, float], units: Sequence[int], label: str, bar: Progress
) -> dict[int, FitResult]:
    """Least squares with uniform knots at each unit count (panels and convergence)."""
    out: dict[int, FitResult] = {}
    for n in sorted(set(units)):
        res, why = try_fit(target, domain, n, {})
        if res is None:
            raise ValueError(f"cannot fit {label} with {n} units: {why}")
        out[n] = res
        bar.step(f"least squares, {n} units")
    return out


def convergence(
    fit_target: Any,
    dom: tuple[float, float],
    units: tuple[int, ...],
    lstsq: dict[int, FitResult],
    chosen: tuple[str, ...],
    bar: Progress,
) -> tuple[Convergence, dict[int, ReluSum]]:
    """Fit every chosen method at every unit count; also return the optimal-knot l2 models."""
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
            if key == "optimal_linf" and n > LINF_MAX_UNITS:
                bar.step(f"{label}: only up to {LINF_MAX_UNITS} units")
                continue
            if key == "lstsq":
                res: FitResult | None = lstsq[n]
            else:
                res, why = try_fit(fit_target, dom, n, kwargs)
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
