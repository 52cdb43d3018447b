"""Uncertainty of least-squares fits: standard errors, confidence and prediction bands.

Fixed knots
    With its knots fixed, a sum is linear in its values ``c`` at the
    breakpoints ``t`` (the hat basis), so the classical linear-model formulas
    are exact under their assumptions (independent errors, constant variance,
    correct knots)::

        G = B^T W B                     (tridiagonal, built by bincount)
        sigma^2 = sum_i w_i r_i^2 / (N - p)
        Cov(c) = sigma^2 G^-1                           classical
        Cov(c) = N/(N-p) G^-1 (B^T W^2 diag(r^2) B) G^-1   robust (HC1)

    ``f(x)`` touches two values, ``(1 - lam) c_j + lam c_{j+1}``, so its
    variance is a 2 x 2 quadratic form; slopes and ReLU weights are fixed
    linear maps of ``c``.  Bands use Student's t with ``N - p`` degrees of
    freedom; a prediction band adds ``sigma^2 / w`` (``w = 1`` for new points).
Free knots
    With optimal knots the knot positions are parameters too.  The delta
    method (Gauss--Newton covariance, as in Muggeo's segmented regression)
    linearises ``f(x) = b + sum_i w_i (x - h_i)_+`` in ``(b, w, h)``::

        df/db = 1,   df/dw_i = (x - h_i)_+,   df/dh_i = -w_i [x > h_i]

    and ``Cov = sigma^2 (J^T W J)^-1``, with ``J^T W J`` accumulated over
    blocks of rows (never an ``N x p`` matrix of all rows at once).  A knot
    pinned at ``A`` (a sloped first piece) is not a parameter.  These are
    asymptotic: intervals are trustworthy when each knot has data on both
    sides and its slope change is well above the noise.

Nothing here applies to max-error (``linf``) fits, which are not estimators
with a sampling model.

Examples
--------
>>> import numpy as np
>>> from relusum.fitting.stats import fixed_inference
>>> rng = np.random.default_rng(0)
>>> x = np.sort(rng.uniform(0, 1, 400)); y = 2 * x + rng.normal(0, 0.1, x.size)
>>> inf = fixed_inference(x, y, knots=[0.0, 0.5], domain=(0, 1))
>>> lo, hi = inf.band([0.25, 0.75])
>>> bool(np.all(lo < 2 * np.array([0.25, 0.75])) and np.all(2 * np.array([0.25, 0.75]) < hi))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from relusum.fitting.fixed import breakpoints_for
from relusum.fitting.hat import _locate, hat_lstsq, values_to_relusum
from relusum.model import ReluSum

__all__ = ["Inference", "fixed_inference", "free_inference", "inference_for", "BAND_KINDS"]

BAND_KINDS = ("confidence", "prediction")
_BLOCK = 65_536


def _check_level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)):
        raise TypeError(f"level must be a number in (0, 1), got {level!r}")
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return level


def _t_quantile(level: float, dof: int) -> float:
    from scipy.stats import t as student_t

    return float(student_t.ppf(0.5 + level / 2.0, dof))


@dataclass(frozen=True)
class Inference:
    """Parameter covariance of a least-squares sum and what follows from it.

    Attributes
    ----------
    model : ReluSum
        The fitted sum.
    sigma2 : float
        Residual variance ``sum w r^2 / dof``.
    dof : int
        Residual degrees of freedom ``N - p``.
    n_params : int
        ``p``: values at the breakpoints (fixed knots) or bias, weights and
        free knot positions (free knots).
    robust : bool
        Heteroscedasticity-robust (HC1) covariance instead of the classical one.
    free_knots : ndarray
        Indices into ``model.knots`` of the knots treated as parameters
        (empty for fixed knots).
    """

    model: ReluSum
    sigma2: float
    dof: int
    n_params: int
    robust: bool
    free_knots: np.ndarray
    _grad: object  # callable x -> (N, p) gradient rows of f(x) w.r.t. the parameters
    _cov: np.ndarray  # (p, p)
    _weight_map: np.ndarray  # (n_units, p): ReLU weights as linear maps (first order)
    _knot_rows: np.ndarray  # rows of the parameter vector that are knot positions

    # -- bands -------------------------------------------------------------
    def se(self, x: ArrayLike) -> np.ndarray:
        """Standard error of the fitted value ``f(x)`` at each ``x``."""
        xa = np.asarray(x, dtype=float).ravel()
        if not np.all(np.isfinite(xa)):
            raise ValueError("x must be finite")
        out = np.empty(xa.size)
        for s in range(0, xa.size, _BLOCK):
            g = self._grad(xa[s : s + _BLOCK])
            out[s : s + _BLOCK] = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", g, self._cov, g), 0))
        return out.reshape(np.shape(x))

    def band(
        self, x: ArrayLike, level: float = 0.95, kind: str = "confidence"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper ends of the pointwise band at ``x``.

        ``kind="confidence"`` covers the true curve ``f(x)``;
        ``kind="prediction"`` a new observation at ``x`` (weight 1).
        """
        level = _check_level(level)
        if kind not in BAND_KINDS:
            raise ValueError(f"kind must be one of {', '.join(BAND_KINDS)}; got {kind!r}")
        xa = np.asarray(x, dtype=float)
        se = self.se(xa)
        if kind == "prediction":
            se = np.sqrt(se * se + self.sigma2)
        q = _t_quantile(level, self.dof)
        f = np.asarray(self.model(xa), dtype=float)
        return f - q * se, f + q * se

    # -- parameters ---------------------------------------------------------
    def weight_se(self) -> np.ndarray:
        """Standard errors of the ReLU weights ``model.weights``."""
        m = self._weight_map
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", m, self._cov, m), 0))

    def slope_se(self) -> np.ndarray:
        """Standard errors of the slopes ``model.slopes`` (cumulative sums of the weights)."""
        m = np.cumsum(self._weight_map, axis=0)
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", m, self._cov, m), 0))

    def value_se(self) -> np.ndarray:
        """Standard errors of the values at the knots."""
        return self.se(self.model.knots)

    def knot_se(self) -> np.ndarray:
        """Standard errors of the free knot positions (``free_knots``), by the delta method."""
        r = self._knot_rows
        return np.sqrt(np.maximum(np.diag(self._cov)[r], 0))

    def knot_intervals(self, level: float = 0.95) -> np.ndarray:
        """``(k, 2)`` confidence intervals of the free knot positions (Student's t)."""
        level = _check_level(level)
        q = _t_quantile(level, self.dof)
        h = self.model.knots[self.free_knots]
        se = self.knot_se()
        return np.column_stack((h - q * se, h + q * se))

    def to_dict(self, level: float = 0.95) -> dict:
        """JSON-ready summary: standard errors of weights, slopes, values and knots."""
        d = {
            "sigma": float(np.sqrt(self.sigma2)),
            "dof": int(self.dof),
            "robust": bool(self.robust),
            "weight_se": self.weight_se().tolist(),
            "slope_se": self.slope_se().tolist(),
            "value_se": self.value_se().tolist(),
        }
        if self.free_knots.size:
            d["free_knots"] = self.free_knots.tolist()
            d["knot_se"] = self.knot_se().tolist()
            d["knot_interval"] = self.knot_intervals(level).tolist()
            d["level"] = level
        return d


def _prepare(x: ArrayLike, y: ArrayLike, weight: ArrayLike | None):
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        raise ValueError("x and y must be finite")
    w = np.ones_like(xa) if weight is None else np.asarray(weight, dtype=float).ravel()
    if w.shape != xa.shape:
        raise ValueError(f"weight must have one value per point, got {w.size} for {xa.size}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weight must be finite and non-negative")
    return xa, ya, w


def _dof(n_obs: int, p: int) -> int:
    dof = n_obs - p
    if dof < 1:
        raise ValueError(
            f"uncertainty needs more points than parameters: {n_obs} points with weight > 0 "
            f"for {p} parameters"
        )
    return dof


def _sandwich(bread: np.ndarray, meat: np.ndarray, n_obs: int, p: int) -> np.ndarray:
    return bread @ meat @ bread * (n_obs / (n_obs - p))


def fixed_inference(
    x: ArrayLike,
    y: ArrayLike,
    knots: ArrayLike,
    domain: tuple[float, float],
    weight: ArrayLike | None = None,
    robust: bool = False,
) -> Inference:
    """Least-squares fit with fixed knots and its exact linear-model covariance.

    Parameters
    ----------
    x, y : array_like
        Data (any order).
    knots : array_like
        Knots in ``[A, B)`` (a knot at ``A`` makes the first piece sloped).
    domain : (A, B)
    weight : array_like, optional
        Precision weights (variance of point i is ``sigma^2 / w_i``).
    robust : bool
        HC1 sandwich covariance (heteroscedasticity-robust).

    Returns
    -------
    Inference
        Its ``model`` equals ``relusum.fit((x, y), knots=knots)``'s.
    """
    xa, ya, w = _prepare(x, y, weight)
    h = np.sort(np.asarray(knots, dtype=float).ravel())
    t, flat_first = breakpoints_for(h, domain)
    c = hat_lstsq(xa, ya, t, w, flat_first)
    model = values_to_relusum(t, c, flat_first, domain)
    nun = t.size - 1 if flat_first else t.size
    off = 1 if flat_first else 0

    def rows(xs: np.ndarray) -> np.ndarray:
        # Hat values of f at xs, clamped like the sum outside [A, B]: flat on
        # the left, continuing the last piece on the right.
        j = np.searchsorted(t, xs, side="right") - 1
        np.clip(j, 0, t.size - 2, out=j)
        lam = (xs - t[j]) / (t[j + 1] - t[j])
        lam = np.where(xs < t[0], 0.0, lam)
        g = np.zeros((xs.size, nun))
        r = np.arange(xs.size)
        np.add.at(g, (r, np.maximum(j - off, 0)), 1.0 - lam)
        np.add.at(g, (r, j + 1 - off), lam)
        return g

    # Gram and meat, tridiagonal, by bincount (O(N + n)).
    j, lam = _locate(xa, t)
    left = np.maximum(j - off, 0)
    right = j + 1 - off
    a, b = 1.0 - lam, lam
    resid = ya - model(xa)

    def tridiag(v: np.ndarray) -> np.ndarray:
        d = np.bincount(left, v * a * a, minlength=nun) + np.bincount(
            right, v * b * b, minlength=nun
        )
        same = left == right
        cross = v * a * b
        d += np.bincount(left[same], 2.0 * cross[same], minlength=nun)
        cross = np.where(same, 0.0, cross)
        o = np.bincount(left, cross, minlength=nun)[: nun - 1]
        return np.diag(d) + np.diag(o, 1) + np.diag(o, -1)

    gram = tridiag(w)
    n_obs = int(np.count_nonzero(w > 0))
    p = nun
    dof = _dof(n_obs, p)
    sigma2 = float(np.sum(w * resid * resid) / dof)
    bread = np.linalg.pinv(gram, hermitian=True)
    cov = _sandwich(bread, tridiag(w * w * resid * resid), n_obs, p) if robust else sigma2 * bread
    # ReLU weights from the unknowns: values -> slopes -> slope changes.
    expand = np.zeros((t.size, nun))
    expand[np.arange(t.size), np.maximum(np.arange(t.size) - off, 0)] = 1.0
    slopes = np.diff(expand, axis=0) / np.diff(t)[:, None]
    if flat_first:
        slopes = slopes[1:]
    wmap = np.diff(slopes, axis=0, prepend=0.0)
    return Inference(
        model,
        sigma2,
        dof,
        p,
        bool(robust),
        np.array([], dtype=int),
        rows,
        cov,
        wmap,
        np.array([], dtype=int),
    )


def free_inference(
    x: ArrayLike,
    y: ArrayLike,
    model: ReluSum,
    weight: ArrayLike | None = None,
    robust: bool = False,
) -> Inference:
    """Delta-method covariance of a free-knot least-squares sum ``model``.

    Every knot strictly right of the domain's left end ``A`` is a parameter;
    a knot at ``A`` (a sloped first piece) is fixed.  ``model`` should be a
    least-squares optimum for ``(x, y)`` (e.g. ``fit(..., knots="optimal")``):
    the formulas assume the gradient of the residual vanishes there.
    """
    xa, ya, w = _prepare(x, y, weight)
    if model.domain is None:
        raise ValueError("the model needs a domain (A, B) for free-knot inference")
    a_end = model.domain[0]
    h = model.knots
    wts = model.weights
    free = np.flatnonzero(h > a_end)
    n = h.size
    p = 1 + n + free.size

    def rows(xs: np.ndarray) -> np.ndarray:
        g = np.empty((xs.size, p))
        g[:, 0] = 1.0
        d = xs[:, None] - h[None, :]
        g[:, 1 : 1 + n] = np.maximum(d, 0.0)
        g[:, 1 + n :] = -wts[free][None, :] * (d[:, free] > 0)
        return g

    resid = ya - model(xa)
    n_obs = int(np.count_nonzero(w > 0))
    dof = _dof(n_obs, p)
    gram = np.zeros((p, p))
    meat = np.zeros((p, p))
    for s in range(0, xa.size, _BLOCK):
        g = rows(xa[s : s + _BLOCK])
        ws = w[s : s + _BLOCK]
        gram += g.T @ (g * ws[:, None])
        if robust:
            rs = resid[s : s + _BLOCK]
            meat += g.T @ (g * (ws * ws * rs * rs)[:, None])
    sigma2 = float(np.sum(w * resid * resid) / dof)
    bread = np.linalg.pinv(gram, hermitian=True)
    cov = _sandwich(bread, meat, n_obs, p) if robust else sigma2 * bread
    wmap = np.zeros((n, p))
    wmap[np.arange(n), 1 + np.arange(n)] = 1.0
    knot_rows = 1 + n + np.arange(free.size)
    return Inference(model, sigma2, dof, p, bool(robust), free, rows, cov, wmap, knot_rows)


def inference_for(result, robust: bool = False) -> Inference:
    """The :class:`Inference` of a :class:`~relusum.fitting.FitResult` (least squares only)."""
    rep = result.report
    if rep.loss not in (None, "l2"):
        raise ValueError(
            f"uncertainty is defined for least-squares fits (loss='l2'), not loss={rep.loss!r}"
        )
    if rep.interpolate:
        raise ValueError("an interpolating fit has no residuals to estimate uncertainty from")
    tgt = result.target
    if rep.knots == "optimal":
        return free_inference(tgt.x, tgt.y, result.model, tgt.weight, robust)
    return fixed_inference(tgt.x, tgt.y, result.model.knots, tgt.domain, tgt.weight, robust)


def bootstrap_band(
    result,
    x: ArrayLike,
    level: float = 0.95,
    kind: str = "confidence",
    n_boot: int = 200,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile band from ``n_boot`` pairs-bootstrap refits (seeded, same knot choice).

    Fixed knots are refitted by banded least squares; optimal knots by the
    free-knot search again (a first knot pinned at ``A`` stays pinned).
    ``kind="prediction"`` adds resampled residuals to each refitted curve.
    """
    from relusum.fitting.fixed import lstsq_knots
    from relusum.fitting.free_l2 import free_knot_l2
    from relusum.targets import make_target

    level = _check_level(level)
    if kind not in BAND_KINDS:
        raise ValueError(f"kind must be one of {', '.join(BAND_KINDS)}; got {kind!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 10:
        raise ValueError(f"bootstrap must be an integer >= 10, got {n_boot!r}")
    rep, tgt = result.report, result.target
    if tgt.fn is not None:
        raise ValueError("a bootstrap band needs data, not a function target")
    xa = np.asarray(x, dtype=float)
    rng = np.random.default_rng(seed)
    n = tgt.x.size
    resid = tgt.y - result.model(tgt.x)
    curves = np.empty((int(n_boot), xa.size))
    free = rep.knots == "optimal"
    model = result.model
    pinned = free and model.n_units > 0 and model.knots[0] == tgt.domain[0]
    for b in range(int(n_boot)):
        idx = rng.integers(0, n, n)
        w = None if tgt.weight is None else tgt.weight[idx]
        try:
            t = make_target((tgt.x[idx], tgt.y[idx]), tgt.domain, sample_weight=w)
            if free:
                m = free_knot_l2(t, model.n_units, progress=False, pin_first=pinned)
            else:
                m = lstsq_knots(t, model.knots)
        except ValueError:  # a resample without enough distinct x for n units
            m = model
        f = np.asarray(m(xa.ravel()), dtype=float)
        if kind == "prediction":
            f = f + rng.choice(resid, f.size)
        curves[b] = f
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(curves, [alpha, 1.0 - alpha], axis=0)
    return lo.reshape(xa.shape), hi.reshape(xa.shape)
