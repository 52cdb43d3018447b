"""What a fit reached: :class:`FitReport`, :class:`FitResult`, :func:`measure`, :func:`finish`.

This module sits below every solver and below :mod:`relusum.fitting.api`, so
solvers, the tolerance search and the API can all measure and report without
importing each other.  Errors are measured on the verification grid of
:func:`relusum.targets.verification_grid` plus every knot for a function
(``error_on = "grid"``; the max error also beside each jump of the target) and
on the data for data (``error_on = "data"``).
"""

from __future__ import annotations

import sys
import weakref
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from relusum.fitting.jumps import jump_sides
from relusum.model import ReluSum
from relusum.targets import Target

__all__ = ["FitReport", "FitResult", "measure", "finish"]


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
    """The outcome of :func:`relusum.fit`: the :class:`ReluSum` and its :class:`FitReport`.

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

    def _repr_html_(self) -> str:
        """Jupyter: the fit against its target, the error curve and the report as tables."""
        from relusum._display import fit_result_html

        return fit_result_html(self)

    def inference(self, robust: bool = False):
        """Standard errors of a least-squares fit: see :mod:`relusum.fitting.stats`.

        Exact linear-model formulas for fixed knots; the delta method for
        optimal (free) knots, whose positions get standard errors too.
        ``robust=True`` uses the heteroscedasticity-robust (HC1) covariance.
        """
        from relusum.fitting.stats import inference_for

        return inference_for(self, robust)

    def band(
        self,
        x: ArrayLike,
        level: float = 0.95,
        kind: str = "confidence",
        robust: bool = False,
        bootstrap: int = 0,
        seed: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise ``level`` band at ``x``: ``kind="confidence"`` or ``"prediction"``.

        ``bootstrap=B`` (> 0) refits on ``B`` seeded resamples of the data
        (pairs bootstrap, knots re-chosen as in the fit) and returns the
        percentile band of the refitted curves instead of the formula band.

        Examples
        --------
        >>> import numpy as np, relusum
        >>> rng = np.random.default_rng(1)
        >>> x = rng.uniform(0, 1, 300); y = x + rng.normal(0, 0.1, 300)
        >>> lo, hi = relusum.fit((x, y), n_units=2).band([0.5])
        >>> bool(lo[0] < 0.5 < hi[0])
        True
        """
        from relusum.fitting.stats import bootstrap_band, inference_for

        if bootstrap:
            return bootstrap_band(self, x, level, kind, bootstrap, seed)
        return inference_for(self, robust).band(x, level, kind)


#: The last few :func:`measure` calls: ``(model, weak reference to the target,
#: result)``.  A solver that measures its candidates (the minimax guard) and
#: :func:`finish` after it then pay once per model.  Both objects are
#: immutable; the model (small) is held, so its id cannot be reused, and the
#: target (perhaps large data) is not kept alive.
_LAST: list = []
_KEEP = 4


def measure(model: ReluSum, target: Target) -> tuple[float, float, int]:
    """RMSE, max absolute error and point count on the target's verification set.

    For a function the max error also includes real points beside each jump
    of the target on the grid (:func:`~relusum.fitting.jumps.jump_sides`), where
    a continuous model's error approaches its supremum, and at ``x = 0`` when
    the domain straddles it (and the target is finite there); the RMSE and
    the count are those of the grid.
    """
    for m, t, out in tuple(_LAST):
        if m is model and t() is target:
            return out
    out = _measure(model, target)
    _LAST[:] = [(model, weakref.ref(target), out), *_LAST[: _KEEP - 1]]
    return out


def _measure(model: ReluSum, target: Target) -> tuple[float, float, int]:
    x, y = target.verification(extra=model.knots)
    m = _model_values(model, x)
    rmse, mae = _residual_stats(m, y)
    if target.fn is not None:
        # Beside a jump the error's supremum is approached within rounding
        # distance of it: measure there too (real points of the domain).
        jx, jy = jump_sides(target.fn, x, y, m, mae, target.domain)
        a, b = target.domain
        at0 = target.finite_value(0.0) if a < 0.0 < b else None
        if at0 is not None:
            # x = 0 too: there float64 resolves x (and the minimax fit places
            # knots) far more finely than the grid's spacing, so a cusp such as
            # abs(x)**0.1 puts the error's supremum there, beside every grid point.
            jx = np.concatenate((jx, [0.0]))
            jy = np.concatenate((jy, [at0]))
        if jx.size:
            mae = max(mae, float(np.max(np.abs(model(jx) - jy))))
    return rmse, mae, int(x.size)


#: Grids longer than this are measured block by block (no full residual array).
_BLOCK = 1 << 22


def _residual_stats(m: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """RMSE and max ``|m - y|``; for a long grid block by block.

    A 2,000,000-sample fit is measured on 40,000,000 grid points: the residual
    and its absolute value were 640 MB beside the grid, the values and the
    model's values (the peak of such a fit).  Short grids keep the one-array
    sums (the same numbers as before, to the bit).
    """
    if m.size <= _BLOCK:
        r = m - y
        return float(np.sqrt(np.mean(r * r))), float(np.max(np.abs(r)))
    sums, tops = [], []
    for i in range(0, m.size, _BLOCK):
        r = m[i : i + _BLOCK] - y[i : i + _BLOCK]
        sums.append(float(np.dot(r, r)))
        np.abs(r, out=r)
        tops.append(float(np.max(r)))
    return float(np.sqrt(np.sum(sums) / m.size)), float(np.max(tops))


def _model_values(model: ReluSum, x: np.ndarray) -> np.ndarray:
    """``model(x)``, compiled once a minimax fit has loaded the compiled evaluator.

    :func:`~relusum.fitting.minimax.values.model_values` gives the same numbers
    to the last bit (tested) in one pass (0.4 against 3 ms on the 100,000-point
    grid); it is used only when already imported, so measuring never loads numba.
    """
    compiled = sys.modules.get("relusum.fitting.minimax.values")
    if compiled is None:
        return model(x)
    return compiled.model_values(model, x)


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
