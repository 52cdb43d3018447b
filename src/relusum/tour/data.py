"""What the tour computes and returns: its constants, the convergence table, the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_TARGET",
    "DEFAULT_DOMAIN",
    "PANEL_UNITS",
    "CONVERGENCE_UNITS",
    "TRAIN_UNITS",
    "TRAIN_STEPS",
    "MAX_TOUR_UNITS",
    "LINF_MAX_UNITS",
    "METHODS",
    "TRAINED",
    "Comparison",
    "Convergence",
    "TourResult",
    "panel_units",
    "convergence_units",
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
#: Most units of the smallest-max-error fits in the convergence figure: they are exact minimax
#: fits with a certificate, and cost seconds each beyond this (the tour would spend most of its
#: time on them); their slope and factor are measured on the counts up to here.
LINF_MAX_UNITS = 30
#: Key and label of the trained networks' line.
TRAINED = ("trained", "trained network (gradient descent)")
#: Two slopes closer than this are "the same rate" in the tour's text: slopes fitted over one
#: decade of n still carry the pre-asymptotic drift of the factor between two methods (about
#: 0.2 for optimal against uniform knots on x*sin(x), whose factor settles from 2.4 to 1.5).
SAME_RATE = 0.25


@dataclass(frozen=True)
class Comparison:
    """How one method's error compares with a reference method's at the larger unit counts.

    Attributes
    ----------
    method, reference : str
        The keys compared.
    slope, reference_slope : float
        Their fitted log-log slopes (see :meth:`Convergence.slope`).
    factor : float
        Geometric mean of ``reference error / method error`` over the unit counts
        of the slope fit where both were measured (> 1: the method is better).
    low, high : float
        Smallest and largest of those ratios.
    first, last : float
        The ratio at the smallest and at the largest unit count compared.
    units : ndarray of int
        The unit counts compared.
    """

    method: str
    reference: str
    slope: float
    reference_slope: float
    factor: float
    low: float
    high: float
    first: float
    last: float
    units: np.ndarray

    @property
    def same_rate(self) -> bool:
        """Whether the two slopes differ by less than :data:`SAME_RATE`."""
        return abs(self.slope - self.reference_slope) < SAME_RATE


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

    def _asymptotic(self, errors: np.ndarray) -> np.ndarray:
        n = self.units.astype(float)
        ok = np.isfinite(errors) & (errors > 0)
        top = n[ok].max() if np.any(ok) else n.max()  # the method's own largest count
        return ok & (n >= max(3.0, top / 10.0))

    def slope(self, method: str, which: str = "max_error") -> float:
        """The least-squares slope of log(error) against log(units) on the larger unit counts.

        Uses the points with ``n >= max(3, n_max / 10)`` (the asymptotic range; ``n_max``
        the largest count the method was measured at);
        NaN with fewer than three such points.  About ``-2`` for a smooth target.

        Examples
        --------
        >>> import numpy as np
        >>> from relusum.tour import Convergence
        >>> n = np.array([10, 20, 40, 80])
        >>> c = Convergence(n, {"a": 3.0 / n**2}, {"a": 1.0 / n**2}, {"a": "a"})
        >>> round(c.slope("a"), 6)
        -2.0
        """
        errors = getattr(self, which)[method]
        ok = self._asymptotic(errors)
        if np.count_nonzero(ok) < 3:
            return float("nan")
        n = self.units.astype(float)
        return float(np.polyfit(np.log(n[ok]), np.log(errors[ok]), 1)[0])

    def compare(self, method: str, reference: str, which: str = "max_error") -> Comparison | None:
        """How much smaller ``method``'s error is than ``reference``'s, on the larger unit counts.

        Both slopes and the ratios use the same counts: those where both were
        measured, from a tenth of the largest of them on.  ``None`` with fewer
        than three such counts.

        Examples
        --------
        >>> import numpy as np
        >>> from relusum.tour import Convergence
        >>> n = np.array([10, 20, 40, 80])
        >>> e = {"uniform": 4.0 / n**2, "optimal": 1.0 / n**2}
        >>> c = Convergence(n, e, e, {"uniform": "u", "optimal": "o"})
        >>> r = c.compare("optimal", "uniform")
        >>> round(r.factor, 6), r.same_rate
        (4.0, True)
        """
        if method not in self.methods or reference not in self.methods:
            return None
        mine, ref = getattr(self, which)[method], getattr(self, which)[reference]
        n = self.units.astype(float)
        common = np.isfinite(mine) & (mine > 0) & np.isfinite(ref) & (ref > 0)
        if not np.any(common):
            return None
        both = common & (n >= max(3.0, n[common].max() / 10.0))  # one range for both slopes
        if np.count_nonzero(both) < 3:
            return None
        p, q = (float(np.polyfit(np.log(n[both]), np.log(e[both]), 1)[0]) for e in (mine, ref))
        ratio = ref[both] / mine[both]
        return Comparison(
            method,
            reference,
            p,
            q,
            float(np.exp(np.mean(np.log(ratio)))),
            float(ratio.min()),
            float(ratio.max()),
            float(ratio[0]),
            float(ratio[-1]),
            self.units[both].copy(),
        )

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
    """What :func:`~relusum.tour.make_tour` wrote and the data behind it.

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
    frames : tuple of Frame
        The fits the animation shows, one per frame (see
        :class:`relusum.tour.frames.Frame`).
    notes : tuple of str
        One line per thing left out and why (e.g. the trained networks without
        PyTorch), as the page says it.
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
    frames: tuple[Any, ...] = ()
    notes: tuple[str, ...] = ()


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
