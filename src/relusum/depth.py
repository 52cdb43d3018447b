"""Depth, shown exactly: Telgarsky's sawtooth and Yarotsky's x² as real networks.

Telgarsky's sawtooth
    The tent ``T(x) = 2 max(0, x) - 4 max(0, x - 1/2)`` maps ``[0, 1]`` onto
    itself with two linear pieces.  ``k`` compositions (``k`` hidden layers of
    two units) give ``2^k`` pieces; a network with one hidden layer of ``n``
    units has at most ``n + 1`` pieces on an interval, so it needs about
    ``2^k`` units for the same function.
Yarotsky's x²
    With ``g_s`` the ``s``-fold tent, ``f_m(x) = x - sum_{s=1}^m g_s(x) / 4^s``
    is the piecewise-linear interpolant of ``x²`` at ``2^m + 1`` uniform points
    of ``[0, 1]``: ``2^m`` pieces and largest error ``2^(-2m-2)``, from ``m``
    hidden layers of four units.

All weights are dyadic, so the networks are exact in floating point and
:func:`relusum.torch_bridge.from_torch` recovers their pieces exactly.
Needs the extra ``relusum[torch]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from relusum.torch_bridge import from_torch, nn, torch

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["sawtooth", "yarotsky_square", "depth_table", "plot_depth"]


def _linear(w: list[list[float]], b: list[float], dtype: torch.dtype) -> nn.Linear:
    wt = torch.tensor(w, dtype=dtype)
    lin = torch.nn.utils.skip_init(nn.Linear, wt.shape[1], wt.shape[0], dtype=dtype)
    with torch.no_grad():
        lin.weight.copy_(wt)
        lin.bias.copy_(torch.tensor(b, dtype=dtype))
    return lin


def _check_count(name: str, k: int, low: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < low or k > 40:
        raise ValueError(f"{name} must be an integer from {low} to 40, got {k!r}")
    return int(k)


def sawtooth(k: int, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """Telgarsky's sawtooth: ``k`` compositions of the tent map, ``2^k`` pieces on ``[0, 1]``.

    ``k`` hidden layers of 2 units each (``Linear(1, 2)``, then ``Linear(2, 2)``).

    Examples
    --------
    >>> from relusum.depth import sawtooth
    >>> from relusum.torch_bridge import from_torch
    >>> from_torch(sawtooth(5), (0, 1)).n_pieces
    32
    """
    k = _check_count("k", k, 1)
    layers: list[nn.Module] = [_linear([[1.0], [1.0]], [0.0, -0.5], dtype), nn.ReLU()]
    for _ in range(k - 1):
        layers += [_linear([[2.0, -4.0], [2.0, -4.0]], [0.0, -0.5], dtype), nn.ReLU()]
    layers.append(_linear([[2.0, -4.0]], [0.0], dtype))
    return nn.Sequential(*layers)


def yarotsky_square(m: int, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """Yarotsky's network for ``x²`` on ``[0, 1]``: ``2^m`` pieces, max error ``2^(-2m-2)``.

    ``m`` hidden layers of 4 units carry ``x``, the two tent units and the
    running sum; ``m = 0`` is the line ``f(x) = x``.

    Examples
    --------
    >>> from relusum.depth import yarotsky_square
    >>> from relusum.torch_bridge import from_torch
    >>> s = from_torch(yarotsky_square(3), (0, 1))
    >>> s.n_pieces, float(max(abs(s(x) - x * x) for x in (1 / 16, 3 / 16)))
    (8, 0.00390625)
    """
    m = _check_count("m", m, 0)
    if m == 0:
        return nn.Sequential(_linear([[1.0]], [0.0], dtype))
    layers: list[nn.Module] = [
        _linear([[1.0], [1.0], [1.0], [0.0]], [0.0, 0.0, -0.5, 0.0], dtype),
        nn.ReLU(),
    ]
    for s in range(1, m):
        q = 4.0**-s
        w = [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 2.0, -4.0, 0.0],
            [0.0, 2.0, -4.0, 0.0],
            [0.0, 2.0 * q, -4.0 * q, 1.0],
        ]
        layers += [_linear(w, [0.0, 0.0, -0.5, 0.0], dtype), nn.ReLU()]
    q = 4.0**-m
    layers.append(_linear([[1.0, -2.0 * q, 4.0 * q, -1.0]], [0.0], dtype))
    return nn.Sequential(*layers)


def depth_table(max_depth: int = 8) -> list[dict[str, int]]:
    """Pieces of the sawtooth against units, deep and shallow, measured with ``from_torch``.

    One row per depth ``k = 1 .. max_depth``: ``deep_units`` (``2k``),
    ``pieces`` (counted exactly by :func:`~relusum.torch_bridge.from_torch`),
    and ``shallow_units``: the units of the one-hidden-layer network that is
    the same function (from the exact decomposition, rebuilt as a network and
    checked).

    Examples
    --------
    >>> from relusum.depth import depth_table
    >>> depth_table(3)[-1]
    {'depth': 3, 'deep_units': 6, 'pieces': 8, 'shallow_units': 8}
    """
    from relusum.torch_bridge import to_torch

    max_depth = _check_count("max_depth", max_depth, 1)
    rows = []
    for k in range(1, max_depth + 1):
        s = from_torch(sawtooth(k), (0, 1))
        shallow = to_torch(s)
        assert from_torch(shallow, (0, 1)).n_pieces == s.n_pieces
        rows.append(
            {
                "depth": k,
                "deep_units": 2 * k,
                "pieces": s.n_pieces,
                "shallow_units": shallow[0].out_features,
            }
        )
    return rows


def plot_depth(ax: Axes | None = None, max_depth: int = 8) -> Axes:
    """Depth against width: pieces of the sawtooth per hidden unit, deep and shallow.

    Deep: ``k`` layers of 2 units give ``2^k`` pieces (measured with
    ``from_torch``).  Shallow: ``n`` units in one layer give at most ``n + 1``
    pieces; the sawtooth's exact one-layer form is marked.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from relusum.depth import plot_depth
    >>> plot_depth(max_depth=4).get_yscale()
    'log'
    """
    from relusum.plot import COLORS, _axes, _style

    rows = depth_table(max_depth)
    ax = _axes(ax)
    deep_u = np.array([r["deep_units"] for r in rows])
    pieces = np.array([r["pieces"] for r in rows])
    shallow_u = np.array([r["shallow_units"] for r in rows])
    ax.plot(
        deep_u,
        pieces,
        "o-",
        color=COLORS["sum"],
        lw=2,
        label="deep: k layers of 2 units (sawtooth), 2^k pieces",
    )
    n = np.arange(1, int(shallow_u.max()) + 1)
    ax.plot(
        n, n + 1, "-", color=COLORS["terms"], lw=1.6, label="one hidden layer: at most n + 1 pieces"
    )
    ax.plot(
        shallow_u,
        pieces,
        "s",
        color=COLORS["terms"],
        ms=5,
        label="same sawtooth with one hidden layer",
    )
    for r in rows:
        ax.annotate(
            f"k={r['depth']}",
            (r["deep_units"], r["pieces"]),
            textcoords="offset points",
            xytext=(-6, 6),
            fontsize=7,
            ha="right",
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("hidden units (neurons)")
    ax.set_ylabel("linear pieces on [0, 1]")
    ax.set_title("Depth against width: pieces per unit", fontsize=10)
    _style(ax)
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    return ax
