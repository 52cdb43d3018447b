"""The hidden units of a one-hidden-layer network: classified, tabulated and drawn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
from torch import nn

from relusum._text import plural
from relusum.model import ReluSum
from relusum.targets import parse_domain
from relusum.torch_bridge.layers import _forward, _ops, describe_layers

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes


@dataclass(frozen=True)
class Neuron:
    """One hidden unit ``v * max(0, a x + b)`` of a one-hidden-layer network.

    Attributes
    ----------
    index : int
    a, b : float
        Input weight and bias of the unit.
    v : float
        Its output weight.
    knot : float or None
        ``h = -b / a``, where the unit switches; ``None`` when ``a == 0``.
    facing : {"right", "left", "flat"}
        ``right`` (``a > 0``): ``v a max(0, x - h)``; ``left`` (``a < 0``):
        ``v |a| max(0, h - x) = v |a| ((x - h)+ - (x - h))``; ``flat``: ``a == 0``.
    state : {"live", "linear", "dead"}
        On the domain: ``live`` if the knot is strictly inside, ``linear`` if
        the unit is active on the whole domain (it only adds a straight
        line), ``dead`` if it is zero on the whole domain.
    weight : float
        ``v * |a|``: the change of slope of the output at the knot.
    """

    index: int
    a: float
    b: float
    v: float
    knot: float | None
    facing: str
    state: str
    weight: float

    def __call__(self, x: ArrayLike) -> np.ndarray:
        """The unit's contribution ``v * max(0, a x + b)`` at ``x``."""
        xa = np.asarray(x, dtype=float)
        return self.v * np.maximum(0.0, self.a * xa + self.b)


def _one_hidden(model: nn.Sequential) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    ops = _ops(model)
    kinds = [o[0] for o in ops]
    if kinds != ["linear", "relu", "linear"]:
        raise ValueError(
            "expected a one-hidden-layer network Linear(1, n), ReLU, Linear(n, 1); got "
            + describe_layers(model)
        )
    (_, w1, b1), _, (_, w2, b2) = ops
    return w1[:, 0], b1, w2[0], float(b2[0])


def neurons(model: nn.Sequential, domain: Sequence[Any]) -> list[Neuron]:
    """The hidden units of a one-hidden-layer ReLU network, classified on a domain.

    Examples
    --------
    >>> from relusum import ReluSum
    >>> from relusum.torch_bridge import neurons, to_torch
    >>> units = neurons(to_torch(ReluSum(0.0, [-5.0, 0.5], [1.0, 2.0])), (0, 1))
    >>> [(u.state, u.facing, u.knot) for u in units]
    [('linear', 'right', -5.0), ('live', 'right', 0.5)]
    """
    dom = parse_domain(domain)
    if dom is None:
        raise ValueError("neurons needs a domain (A, B)")
    lo, hi = dom
    a, b, v, _ = _one_hidden(model)
    out = []
    for i in range(a.size):
        ai, bi, vi = float(a[i]), float(b[i]), float(v[i])
        pa, pb = ai * lo + bi, ai * hi + bi
        knot = -bi / ai if ai != 0 else None
        facing = "right" if ai > 0 else "left" if ai < 0 else "flat"
        if knot is not None and lo < knot < hi:
            state = "live"
        elif min(pa, pb) >= 0 and max(pa, pb) > 0:
            state = "linear"
        else:
            state = "dead"
        out.append(Neuron(i, ai, bi, vi, knot, facing, state, vi * abs(ai)))
    return out


def neuron_table(units: Sequence[Neuron]) -> str:
    """The units as a fixed-width text table (one line per unit, with a header).

    Examples
    --------
    >>> from relusum import ReluSum
    >>> from relusum.torch_bridge import neuron_table, neurons, to_torch
    >>> print(neuron_table(neurons(to_torch(ReluSum(0.0, [0.5], [2.0])), (0, 1))))
    ... # doctest: +NORMALIZE_WHITESPACE
        i            a            b     v (out)     knot h  facing  state
        0            1         -0.5           2        0.5  right   live
    """
    head = f"{'i':>5} {'a':>12} {'b':>12} {'v (out)':>11} {'knot h':>10}  {'facing':<6}  state"
    lines = [head]
    for u in units:
        knot = "-" if u.knot is None else f"{u.knot:.6g}"
        lines.append(
            f"{u.index:>5} {u.a:>12.6g} {u.b:>12.6g} {u.v:>11.6g} {knot:>10}  "
            f"{u.facing:<6}  {u.state}"
        )
    return "\n".join(lines)


_UNIT_STYLE = {
    ("live", "right"): ("#ff7f0e", "-", "live, facing right"),
    ("live", "left"): ("#9467bd", "-", "live, facing left"),
    ("linear", None): ("#2ca02c", "--", "linear on the domain"),
    ("dead", None): ("#aaaaaa", ":", "dead on the domain"),
}


def plot_units(
    model: nn.Sequential,
    domain: Sequence[Any],
    ax: Axes | None = None,
    optimal: ReluSum | ArrayLike | None = None,
) -> Axes:
    """Draw a one-hidden-layer network's units ``v max(0, a x + b)`` and their sum.

    Live units are coloured by the way they face, linear ones dashed green,
    dead ones dotted grey; the knots of live units are marked on the output
    curve.  ``optimal`` (a :class:`ReluSum` or an array of knots) adds the
    optimal knots as ticks along the bottom for comparison.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from relusum import ReluSum
    >>> from relusum.torch_bridge import plot_units, to_torch
    >>> ax = plot_units(to_torch(ReluSum(0.0, [0.5], [2.0])), (0, 1), optimal=[0.4])
    >>> ax.get_xlabel()
    'x'
    """
    from relusum.plot import COLORS, _axes, _style

    dom = parse_domain(domain)
    if dom is None:
        raise ValueError("plot_units needs a domain (A, B)")
    units = neurons(model, dom)
    a, b = dom
    ax = _axes(ax)
    knots_in = [u.knot for u in units if u.state == "live"]
    x = np.unique(np.concatenate((np.linspace(a, b, 600), np.asarray(knots_in, float))))
    seen: set[tuple] = set()
    counts: dict[tuple, int] = {}
    for u in units:
        key = (u.state, u.facing if u.state == "live" else None)
        counts[key] = counts.get(key, 0) + 1
    for u in units:
        key = (u.state, u.facing if u.state == "live" else None)
        color, ls, name = _UNIT_STYLE[key]
        label = None if key in seen else f"{name} ({counts[key]})"
        seen.add(key)
        ax.plot(x, u(x), ls, color=color, lw=1.1, alpha=0.85, label=label)
    _, _, _, c = _one_hidden(model)
    y = _forward(_ops(model), x)
    ax.plot(x, y, color=COLORS["sum"], lw=2.2, label="network output")
    if knots_in:
        kx = np.asarray(knots_in, float)
        ax.plot(
            kx,
            _forward(_ops(model), kx),
            "o",
            ms=4,
            color=COLORS["knot"],
            label="knots of live units",
            zorder=5,
        )
    if optimal is not None:
        hk = optimal.knots if isinstance(optimal, ReluSum) else np.asarray(optimal, float).ravel()
        hk = hk[(hk >= a) & (hk <= b)]
        if hk.size:
            ax.plot(
                hk,
                np.zeros_like(hk),
                "|",
                transform=ax.get_xaxis_transform(),
                ms=14,
                mew=2,
                color="#222222",
                label="optimal knots",
                zorder=6,
            )
    n = len(units)
    live = counts.get(("live", "right"), 0) + counts.get(("live", "left"), 0)
    ax.set_title(
        f"{plural(n, 'unit')}: {live} live ({counts.get(('live', 'left'), 0)} facing left), "
        f"{counts.get(('linear', None), 0)} linear, {counts.get(('dead', None), 0)} dead",
        fontsize=10,
    )
    ax.set_xlabel("x")
    ax.set_ylabel("unit output v·max(0, a x + b)")
    ax.set_xlim(a, b)
    _style(ax)
    ax.legend(loc="best", frameon=False, fontsize=8)
    return ax
