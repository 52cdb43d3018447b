"""``relusum.fit``: one entry point for every fit, returning a model and a report.

``fit`` checks the options, builds the target and a
:class:`~relusum.fitting.problem.Problem`, and hands it to the solver table
(:mod:`relusum.fitting.solvers`) or, with ``tol=``, to the tolerance search
(:mod:`relusum.fitting.tolerance`).  Reports and verification live in
:mod:`relusum.fitting.report` (re-exported here).
Errors
    For a function they are measured on the verification grid of
    :func:`relusum.targets.verification_grid` plus every knot (``error_on =
    "grid"``); for data on the data (``error_on = "data"``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from relusum.fitting.asymptotes import max_error_everywhere
from relusum.fitting.constraints import Constraints
from relusum.fitting.fixed import check_capacity, check_knots, check_n_units, uniform_knots
from relusum.fitting.problem import Problem
from relusum.fitting.report import FitReport, FitResult, finish, measure
from relusum.fitting.solvers import losses, solve
from relusum.fitting.tolerance import fit_tolerance
from relusum.targets import Target, TargetLike, make_target

__all__ = [
    "fit",
    "FitResult",
    "FitReport",
    "measure",
    "finish",
    "Constraints",
    "DEFAULT_UNITS",
    "LOSSES",
]

#: Units used when neither ``n_units``, explicit knots nor ``tol`` are given.
DEFAULT_UNITS = 16
#: The losses of the solver table.
LOSSES = losses()


def _knots_kind(knots: Any) -> str:
    if isinstance(knots, str):
        if knots not in ("uniform", "optimal"):
            raise ValueError(f"knots must be 'uniform', 'optimal' or an array, got {knots!r}")
        return knots
    return "given"


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
        # Refuse before allocating n_units knots (10**9 would be 8 GB).
        check_capacity(target.x, n_units, data=target.fn is None)
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
    loss: str | None = None,
    interpolate: bool = False,
    samples: int | None = None,
    sample_weight: ArrayLike | None = None,
    *,
    tol: float | None = None,
    max_units: int = 1000,
    progress: bool | None = None,
    monotone: str | None = None,
    shape: str | None = None,
    slope_bounds: tuple[float | None, float | None] | None = None,
    value_bounds: tuple[float | None, float | None] | None = None,
    through: Sequence[tuple[float, float]] | None = None,
    right_slope: float | None = None,
    huber_delta: float | None = None,
    quantile: float | None = None,
    pieces: int | None = None,
    selection: str = "cv",
    folds: int = 5,
    search: str = "thorough",
    agree: float | None = None,
) -> FitResult:
    """Fit a weighted sum of shifted ReLUs to a function or to data.

    Parameters
    ----------
    target : str, callable, Data or (x, y)
        A formula in ``x`` (``"sin(x)"``), a vectorised callable, or data.
        Data may also be a Dask DataFrame of two columns (x, y) or a pair of
        Dask arrays (extra ``relusum[dask]``): least squares, fitted by passes
        over the partitions (:mod:`relusum.scale.dask`).
    domain : (A, B), optional
        Interval of the fit; required for functions, defaults to the data range.
        Ends may be constant formulas such as ``"-pi"``.
    n_units : int or "auto", optional
        Number of ReLU terms (default 16; with ``interpolate=True`` on data,
        one per data point but the last).  With ``knots="optimal"`` the first
        knot may lie right of ``A``: up to ``n_units + 1`` linear pieces, the
        first one flat.
        one per data point but the last).  ``"auto"`` chooses it for data by
        ``selection`` (see :mod:`relusum.fitting.select`); the report's
        ``extra["selection_curve"]`` keeps every ``(n, score)``.
    knots : "uniform", "optimal" or array_like
        Uniform knots ``A + i (B - A) / n``, optimal ones, or the knots to use
        (distinct, in ``[A, B)``).
    loss : {"l2", "linf", "l1", "huber", "quantile"}, optional
        Least squares (weighted by ``sample_weight``), the largest absolute
        error, least absolute deviations, Huber's loss (``huber_delta``) or
        the pinball loss of quantile ``quantile``.  Default: ``"l2"``, but
        ``"linf"`` with ``tol``.
    interpolate : bool
        Make the sum equal the target at every knot and at ``B`` instead.
    samples : int, optional
        Uniform samples of a function (default 2,000).
    sample_weight : array_like, optional
        Weights of the samples or data points (``l2`` only).
    tol : float, optional
        Instead of ``n_units``: the fewest units whose error is at most ``tol``.
        The error is the one ``loss`` names: the max absolute error when
        ``loss`` is None or ``"linf"``, the RMSE with ``loss="l2"``.  The
        report says which (``report.extra["tol_loss"]`` and ``"tol_bounds"``).
    max_units : int
        Upper limit of units for ``tol``.
    progress : bool, optional
        Show a progress bar for long fits (default: when stderr is a terminal).
    monotone : {"increasing", "decreasing"}, optional
    shape : {"convex", "concave"}, optional
    slope_bounds, value_bounds : (lo, hi), optional
        Bounds on every slope on the domain, and on the values on the domain
        (either side may be None).
    through : sequence of (x, y), optional
        Points the fit passes through exactly.
    right_slope : float, optional
        The slope beyond the last knot (the left tail is flat).  For built-in
        targets with known asymptotes the report's
        ``extra["max_error_everywhere"]`` is then the largest error on R.
        See :mod:`relusum.fitting.constraints`; all constraints combine, with
        every loss and with uniform, given or optimal knots (optimal knots
        under constraints are a heuristic, their weights exact).
    huber_delta : float, optional
        Where Huber's loss turns linear (default ``1.345 * 1.4826 * MAD`` of
        the residuals).
    quantile : float, optional
        The quantile ``q`` in (0, 1) of ``loss="quantile"`` (default 0.5): a
        fraction ``q`` of the points lies below the fit.
    pieces : int, optional
        Instead of ``n_units``: exactly ``pieces`` sloped linear pieces, the
        first knot at ``A`` (``pieces`` units) -- the family of ``k``-segment
        continuous piecewise-linear regression (pwlf, PWLFit,
        piecewise-regression).  With ``knots="optimal"`` for ``l2`` and ``linf``;
        with uniform knots it is the same as ``n_units=pieces``.
    selection : {"cv", "bic", "gcv"}
        How ``n_units="auto"`` scores each n (K-fold cross-validation, seeded).
    folds : int
        Folds of ``selection="cv"``.
    search : {"thorough", "quick"}
        How hard free-knot least squares (``knots="optimal"``, ``loss="l2"``)
        searches.  ``"thorough"`` (default) runs every start and move of
        :mod:`relusum.fitting.free_l2`; ``"quick"`` a reduced search for many
        curves (about 0.5-0.6x the CPU time on 1,000-point curves; on 320
        seeded problems the same SSR on 259, a smaller one on 14, a larger one
        on 47: 95th percentile +1%, worst +20%; see
        ``docs/bench/bench_many_optimal.md``).
        Above 20,000 samples both search the same per-bin summary.  Any other
        fit has one method, so ``"quick"`` is refused there (ValueError).
        ``report.extra["search"]`` says which search ran.
    agree : float, optional
        Max-error fits of a function with optimal knots (``knots="optimal"``,
        ``loss="linf"``, a formula or callable): the fit samples are refined
        until the error anywhere (on the verification grid and at located
        peaks) is within ``agree`` (relative) of the error on the samples, the
        error the certificate is proven on.  Default: 2e-4, or 5e-5 where the
        refinement starts from clusters around a quick fit's knots (most smooth
        targets).  Smaller brings the samples' optimum closer to the continuous
        one, at a cost: 1e-6 puts ``x**2`` on [0, 1] within 1e-6 of the theory
        for every n = 1..64 (the default within about 1.3e-5) and takes 1x
        to 2.5x the time at 64 units.  Where new samples would have to come
        closer than 1e-9 of the domain it stops short (Runge and gelu with 64
        units: within 1.3e-6 and 2e-6).  Between
        1e-7 and 1e-2; ``report.extra["agree"]`` echoes it.  Other fits have no
        sample refinement: giving it there is a ValueError.

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
    >>> r = relusum.fit("x**2", domain=(0, 1), n_units=4, knots="optimal", loss="linf")
    >>> round(r.report.max_abs_error * 2 * 9**2, 2)  # the optimum is 1 / (2 (2n+1)^2)
    1.0
    >>> r = relusum.fit("sin(x)", domain=(0, 3), n_units=8, monotone="increasing")
    >>> bool(r.model.slopes.min() >= -1e-12)  # to rounding
    True
    >>> r = relusum.fit("abs(x - 0.3)", domain=(0, 1), pieces=2, knots="optimal")
    >>> r.report.n_pieces, r.model.knots.round(9).tolist()
    (2, [0.0, 0.3])
    """
    constraints = Constraints(monotone, shape, slope_bounds, value_bounds, through, right_slope)
    _check_search(search, knots, loss, tol, n_units, constraints.active or _is_dask(target))
    agree = _check_agree(agree, knots, loss, tol, n_units, constraints.active or _is_dask(target))
    if constraints.active and (
        _is_dask(target) or (isinstance(n_units, str) and n_units == "auto")
    ):
        raise ValueError(
            f"{', '.join(constraints.names())} cannot be used with Dask data or "
            "n_units='auto' yet; give n_units"
        )
    if pieces is not None:
        if n_units is not None:
            raise ValueError(
                "give either n_units or pieces (exactly that many sloped pieces), not both"
            )
        if tol is not None:
            raise ValueError("pieces= fixes the number of pieces; it cannot be used with tol")
        if not isinstance(knots, str):
            raise ValueError("pieces= cannot be used with given knots (they fix the pieces)")
        try:
            n_units = check_n_units(pieces)
        except ValueError as exc:
            raise ValueError(str(exc).replace("n_units", "pieces")) from None
    if _is_dask(target):  # a Dask DataFrame or a pair of Dask arrays (extra relusum[dask])
        return _fit_dask(
            target, domain, n_units, knots, loss, interpolate, samples, sample_weight, tol, progress
        )
    if loss is None:
        loss = "linf" if tol is not None else "l2"
    if loss not in losses():
        raise ValueError(f"loss must be one of {', '.join(losses())}; got {loss!r}")
    kind = _knots_kind(knots)
    if isinstance(n_units, str) and n_units == "auto":
        from relusum.fitting.select import fit_auto

        return fit_auto(
            target,
            domain,
            kind,
            loss,
            samples,
            sample_weight,
            selection,
            folds,
            max_units,
            progress,
            fit=fit,
        )
    if n_units is not None:
        n_units = check_n_units(n_units)
    _check_combination(kind, loss, n_units, interpolate, sample_weight, tol)
    options = _loss_options(loss, huber_delta, quantile)
    if interpolate and constraints.active:
        raise ValueError(
            "interpolate=True fixes every value at the knots, so "
            f"{', '.join(constraints.names())} cannot be added; drop one of them"
        )
    start = time.perf_counter()
    tgt = make_target(target, domain, samples, sample_weight)
    constraints.check(tgt.domain)
    if agree is not None:
        if tgt.fn is None:
            raise ValueError(
                "agree= applies to a function target (a formula or callable); data are "
                "fitted exactly on their points: drop agree="
            )
        options["agree"] = agree
    if tol is not None:
        return fit_tolerance(
            tgt,
            kind,
            loss,
            tol,
            max_units=max_units,
            progress=progress,
            start=start,
            interpolate=interpolate,
            constraints=constraints,
            options=options,
        )
    if kind == "optimal":
        n = DEFAULT_UNITS if n_units is None else n_units
        check_capacity(tgt.x, n, data=tgt.fn is None)
        if pieces is not None:
            options["pin_first"] = True
        if loss == "l2":
            options["search"] = search
        problem = Problem(tgt, loss, n_units=n, progress=progress)
        how = "optimal"
    else:
        h, how = _resolve_knots(tgt, n_units, knots, interpolate)
        problem = Problem(tgt, "interpolate" if interpolate else loss, knots=h, progress=progress)
    problem = problem.with_(constraints=constraints, options=options)
    model, facts = solve(problem)
    seconds = time.perf_counter() - start
    if constraints.active:
        facts["constraints"] = constraints.to_dict()
    result = finish(model, tgt, seconds, loss=loss, knots=how, interpolate=interpolate, extra=facts)
    if constraints.right_slope is not None:
        everywhere = max_error_everywhere(model, tgt, result.report.max_abs_error)
        if everywhere is not None:
            result.report.extra["max_error_everywhere"] = everywhere
    return result


def _check_search(
    search: object, knots: Any, loss: str | None, tol: Any, n_units: Any, other: bool
) -> None:
    """``search`` is "thorough" or "quick"; "quick" only for plain free-knot least squares."""
    if not isinstance(search, str) or search not in ("thorough", "quick"):
        raise ValueError(f"search must be 'thorough' or 'quick', got {search!r}")
    if search == "thorough":
        return
    free_l2 = isinstance(knots, str) and knots == "optimal" and loss in (None, "l2") and tol is None
    if not free_l2 or other or (isinstance(n_units, str) and n_units == "auto"):
        raise ValueError(
            "search='quick' applies to free-knot least squares (knots='optimal', loss='l2', "
            "with n_units or pieces, in memory, without constraints); other fits have one "
            "method: drop search="
        )


def _check_agree(
    agree: object, knots: Any, loss: str | None, tol: Any, n_units: Any, other: bool
) -> float | None:
    """``agree`` is None or a number in [1e-7, 1e-2], for a plain free-knot max-error fit."""
    if agree is None:
        return None
    if isinstance(agree, bool) or not isinstance(agree, (int, float, np.floating, np.integer)):
        raise TypeError(f"agree must be a number, got {type(agree).__name__}")
    value = float(agree)
    if not 1e-7 <= value <= 1e-2:  # also refuses nan
        raise ValueError(f"agree must be between 1e-7 and 1e-2, got {agree!r}")
    minimax = isinstance(knots, str) and knots == "optimal" and loss == "linf" and tol is None
    if not minimax or other or (isinstance(n_units, str) and n_units == "auto"):
        raise ValueError(
            "agree= applies to max-error fits of a function with optimal knots "
            "(knots='optimal', loss='linf', with n_units or pieces, without tol, constraints "
            "or Dask): drop agree="
        )
    return value


def _loss_options(loss: str, huber_delta: Any, quantile: Any) -> dict[str, Any]:
    from relusum.fitting.robust import check_huber_delta, check_quantile

    options: dict[str, Any] = {}
    if huber_delta is not None:
        if loss != "huber":
            raise ValueError(f"huber_delta applies to loss='huber', not loss={loss!r}")
        options["huber_delta"] = check_huber_delta(huber_delta)
    if quantile is not None:
        if loss != "quantile":
            raise ValueError(f"quantile= applies to loss='quantile', not loss={loss!r}")
        options["quantile"] = check_quantile(quantile)
    elif loss == "quantile":
        options["quantile"] = 0.5
    return options


def _check_combination(
    kind: str,
    loss: str,
    n_units: int | None,
    interpolate: bool,
    sample_weight: ArrayLike | None,
    tol: float | None,
) -> None:
    """Refuse option combinations that mean nothing, before any work."""
    if tol is not None:
        if loss not in ("l2", "linf"):
            raise ValueError(
                f"tol= bounds the max error (loss='linf') or the RMSE (loss='l2'); "
                f"with loss={loss!r} give n_units instead"
            )
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
        if sample_weight is not None and tol is None:
            raise ValueError("sample_weight has no effect with interpolate=True; drop one")
    if interpolate and loss not in ("l2", "linf"):
        raise ValueError(f"interpolate=True leaves loss={loss!r} nothing to choose; drop one")
    if sample_weight is not None and loss == "linf":
        raise ValueError(
            "sample_weight applies to least squares (loss='l2'); the max error ignores weights"
        )


def _is_dask(target: Any) -> bool:
    def dask(obj: Any) -> bool:
        return (type(obj).__module__ or "").startswith(("dask.", "dask_expr"))

    return dask(target) or (
        isinstance(target, tuple) and len(target) == 2 and all(dask(t) for t in target)
    )


def _fit_dask(
    target, domain, n_units, knots, loss, interpolate, samples, sample_weight, tol, progress=None
):
    """Dask data: passes over the partitions on the cluster (:mod:`relusum.scale.dask`)."""
    for name, value in (
        ("interpolate", interpolate or None),
        ("samples", samples),
        ("sample_weight", sample_weight),
        ("tol", tol),
    ):
        if value is not None:
            raise ValueError(f"{name}= is not available for Dask data")
    from relusum.scale.dask import fit_dask

    return fit_dask(
        target, n_units=n_units, knots=knots, domain=domain, loss=loss, progress=progress
    )
