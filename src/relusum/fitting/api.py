"""``relusum.fit``: one entry point for every fit, returning a model and a report.

Combinations
    ``knots="uniform"`` or an array, with ``loss="l2"`` (banded least squares)
    or ``interpolate=True``.  The optimal-knot and max-error fits plug in here
    (``knots="optimal"``, ``loss="linf"``, ``tol=``).
Errors
    For a function they are measured on the verification grid of
    :func:`relusum.targets.verification_grid` plus every knot (``error_on =
    "grid"``); for data on the data (``error_on = "data"``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from relusum.fitting.fixed import (
    check_knots,
    check_n_units,
    interpolate_knots,
    lstsq_knots,
    uniform_knots,
)
from relusum.model import ReluSum
from relusum.targets import Target, TargetLike, make_target

__all__ = ["fit", "FitResult", "FitReport", "measure", "DEFAULT_UNITS", "LOSSES"]

#: Units used when neither ``n_units``, explicit knots nor ``tol`` are given.
DEFAULT_UNITS = 16
LOSSES = ("l2", "linf")


@dataclass(frozen=True)
class FitReport:
    """What a fit reached, measured on the verification set.

    Attributes
    ----------
    n_units, n_pieces : int
        ReLU terms, and linear pieces on the domain.
    rmse, max_abs_error : float
        Root-mean-square and largest absolute error.
    error_on : {"grid", "data"}
        Where the errors were measured: the verification grid of a function
        (separate from the fit samples) or the data themselves.
    seconds : float
        Wall time of the fit (sampling included, verification excluded).
    loss, knots : str
        The loss minimised and how the knots were chosen.
    interpolate : bool
    n_samples : int
        Number of fit samples (function) or data points.
    n_verify : int
        Number of points the errors were measured on.
    extra : dict
        Method-specific fields (e.g. the tolerance asked for).
    """

    n_units: int
    n_pieces: int
    rmse: float
    max_abs_error: float
    error_on: str
    seconds: float
    loss: str
    knots: str
    interpolate: bool
    n_samples: int
    n_verify: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        extra = d.pop("extra")
        d["knots_method"] = d.pop("knots")
        d.update(extra)
        return d


@dataclass(frozen=True)
class FitResult:
    """The outcome of :func:`fit`: the :class:`ReluSum` and its :class:`FitReport`.

    Examples
    --------
    >>> import relusum
    >>> r = relusum.fit("x**2", domain=(0, 1), n_units=4, interpolate=True)
    >>> r.model(0.5), r.report.n_pieces
    (0.25, 4)
    """

    model: ReluSum
    report: FitReport
    target: Target = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``relusum fit --json``: model fields, report fields, target."""
        d = self.model.to_dict()
        d.update(self.report.to_dict())
        d["target"] = self.target.label
        return d

    def __call__(self, x: ArrayLike) -> np.ndarray | float:
        """Evaluate the fitted model (same as ``result.model(x)``)."""
        return self.model(x)


def measure(model: ReluSum, target: Target) -> tuple[float, float, int]:
    """RMSE, max absolute error and point count on the target's verification set."""
    x, y = target.verification(extra=model.knots)
    r = model(x) - y
    return float(np.sqrt(np.mean(r * r))), float(np.max(np.abs(r))), int(x.size)


def _resolve_knots(
    target: Target, n_units: int | None, knots: str | ArrayLike, interpolate: bool
) -> tuple[np.ndarray, str]:
    if isinstance(knots, str):
        if knots != "uniform":
            raise ValueError(f"knots must be 'uniform', 'optimal' or an array, got {knots!r}")
        if n_units is None:
            if interpolate and target.fn is None:
                # A knot at every data point but the last: the data exactly.
                xs = np.unique(target.x)
                if xs.size < 2:
                    raise ValueError("interpolation needs at least two distinct x values")
                return xs[:-1], "data"
            n_units = DEFAULT_UNITS
        return uniform_knots(target.domain, n_units), "uniform"
    h = check_knots(knots, target.domain)
    if n_units is not None and n_units != h.size:
        raise ValueError(f"n_units={n_units} does not match the {h.size} knots given")
    return h, "given"


def fit(
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
) -> FitResult:
    """Fit a weighted sum of shifted ReLUs to a function or to data.

    Parameters
    ----------
    target : str, callable, Data or (x, y)
        A formula in ``x`` (``"sin(x)"``), a vectorised callable, or data.
    domain : (A, B), optional
        Interval of the fit; required for functions, defaults to the data range.
        Ends may be constant formulas such as ``"-pi"``.
    n_units : int, optional
        Number of ReLU terms (default 16; with ``interpolate=True`` on data,
        one per data point but the last).
    knots : "uniform", "optimal" or array_like
        Uniform knots ``A + i (B - A) / n``, optimal ones, or the knots to use
        (distinct, in ``[A, B)``).
    loss : {"l2", "linf"}
        Least squares (weighted by ``sample_weight``) or the largest absolute error.
    interpolate : bool
        Make the sum equal the target at every knot and at ``B`` instead.
    samples : int, optional
        Uniform samples of a function (default 2,000).
    sample_weight : array_like, optional
        Weights of the samples or data points (``l2`` only).
    tol : float, optional
        Instead of ``n_units``: the fewest units whose error is at most ``tol``.
    max_units : int
        Upper limit of units for ``tol``.
    progress : bool, optional
        Show a progress bar for long fits (default: when stderr is a terminal).

    Returns
    -------
    FitResult
        ``.model`` (a :class:`ReluSum`) and ``.report`` (errors measured on a
        verification grid separate from the samples, or on the data).

    Examples
    --------
    >>> import relusum
    >>> r = relusum.fit("sin(x)", domain=(0, "2*pi"), n_units=16)
    >>> r.report.n_units, r.report.error_on
    (16, 'grid')
    >>> bool(r.report.max_abs_error < 0.02)
    True
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
    if tol is not None or (isinstance(knots, str) and knots == "optimal") or loss == "linf":
        return _fit_extended(
            target,
            domain,
            n_units,
            knots,
            loss,
            interpolate,
            samples,
            sample_weight,
            tol=tol,
            max_units=max_units,
            progress=progress,
        )
    if n_units is not None:
        n_units = check_n_units(n_units)
    start = time.perf_counter()
    tgt = make_target(target, domain, samples, sample_weight)
    h, how = _resolve_knots(tgt, n_units, knots, interpolate)
    if interpolate:
        if sample_weight is not None:
            raise ValueError("sample_weight has no effect with interpolate=True; drop one")
        model = interpolate_knots(tgt, h)
    else:
        model = lstsq_knots(tgt, h)
    seconds = time.perf_counter() - start
    return finish(model, tgt, seconds, loss="l2", knots=how, interpolate=interpolate)


def finish(
    model: ReluSum,
    target: Target,
    seconds: float,
    *,
    loss: str,
    knots: str,
    interpolate: bool = False,
    extra: dict[str, Any] | None = None,
) -> FitResult:
    """Measure ``model`` on the verification set and wrap it in a :class:`FitResult`."""
    rmse, mae, n_verify = measure(model, target)
    report = FitReport(
        n_units=model.n_units,
        n_pieces=model.n_pieces,
        rmse=rmse,
        max_abs_error=mae,
        error_on="grid" if target.is_function else "data",
        seconds=seconds,
        loss=loss,
        knots=knots,
        interpolate=interpolate,
        n_samples=int(target.x.size),
        n_verify=n_verify,
        extra=dict(extra or {}),
    )
    return FitResult(model, report, target)


def _fit_extended(*args: Any, **kwargs: Any) -> FitResult:
    """Optimal knots, max-error fits and tolerance search (see ``relusum.fitting.optimal``)."""
    try:
        from relusum.fitting import optimal
    except ImportError:
        raise ValueError(
            "knots='optimal', loss='linf' and tol= are not available in this version"
        ) from None
    return optimal.fit_extended(*args, **kwargs)
