"""Where a one-input ReLU network bends on ``[A, B]``, with the work bounded before it is done.

Used by :func:`relusum.torch_bridge.from_torch`.  The network comes as a list of
float64 operations ``("linear", W, b)``, ``("relu",)``, ``("leaky", slope)``.

Bounds
    A network of depth ``L`` can have ``2**L`` linear pieces (a sawtooth), and a
    wide layer makes every piece a long row of unit values.  So the pass that
    follows the input line through the layers stops -- before allocating --
    when the pieces found exceed ``max_pieces`` (:class:`PieceLimitError`,
    saying how many were found by which layer) or when one layer would need
    more than :data:`MAX_WORK` values (pieces times width).
One hidden layer
    ``Linear(1, n), ReLU, Linear(n, 1)`` is read off directly in ``O(n log n)``
    (each unit's knot is ``-b/a`` and its weight ``v |a|``), so a very wide
    shallow network needs no ``pieces x width`` table at all.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_PIECES", "MAX_WORK", "PieceLimitError", "breakpoints", "one_hidden_layer"]

#: Default largest number of linear pieces :func:`breakpoints` follows.
MAX_PIECES = 1_000_000
#: Largest number of float64 values (pieces x layer width) one layer may need (256 MB).
MAX_WORK = 1 << 25


class PieceLimitError(ValueError):
    """The network has more linear pieces on the domain than the limit allows."""

    def __init__(self, message: str, found: int) -> None:
        super().__init__(message)
        self.found = found


def _apply(op: tuple, v: np.ndarray) -> np.ndarray:
    if op[0] == "linear":
        return v @ op[1].T + op[2]
    if op[0] == "relu":
        return np.maximum(v, 0.0)
    return np.where(v >= 0.0, v, op[1] * v)


def size_bound(ops: list[tuple]) -> int:
    """Most pieces a one-input network of these layer sizes can have: prod (width + 1)."""
    bound, width = 1, 1
    for op in ops:
        if op[0] == "linear":
            width = int(op[1].shape[0])
        else:
            bound *= width + 1
    return bound


def _fmt_big(n: int) -> str:
    return f"{n:,}" if n < 10**12 else f"about 10^{math.log10(n):.0f}"


def breakpoints(ops: list[tuple], a: float, b: float, max_pieces: int = MAX_PIECES) -> np.ndarray:
    """Every x in ``[a, b]`` where some unit before an activation changes sign, with ``a``, ``b``.

    Raises :class:`PieceLimitError` as soon as more than ``max_pieces`` pieces
    are found, and ``ValueError`` when a layer would need more than
    :data:`MAX_WORK` values; both before the large arrays are built.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum._pieces import breakpoints
    >>> ops = [("linear", np.array([[1.0], [1.0]]), np.array([-0.25, -0.5])), ("relu",)]
    >>> breakpoints(ops, 0.0, 1.0).tolist()
    [0.0, 0.25, 0.5, 1.0]
    """
    n_act = sum(op[0] != "linear" for op in ops)
    t = np.array([a, b], dtype=float)
    v = t.reshape(-1, 1)
    layer = 0
    for op in ops:
        if op[0] != "linear":
            layer += 1
            _check_work(t.size, v.shape[1], layer, n_act)
            z0, z1 = v[:-1], v[1:]
            j, k = np.nonzero(((z0 < 0) & (z1 > 0)) | ((z0 > 0) & (z1 < 0)))
            if j.size:
                frac = z0[j, k] / (z0[j, k] - z1[j, k])
                tn = t[j] + frac * (t[j + 1] - t[j])
                inside = (tn > t[j]) & (tn < t[j + 1])
                j, k, frac, tn = j[inside], k[inside], frac[inside], tn[inside]
                n_new = t.size + int(np.unique(tn).size)
                if n_new - 1 > max_pieces:
                    raise PieceLimitError(
                        f"the network has more than {max_pieces:,} linear pieces on "
                        f"[{a:.6g}, {b:.6g}]: {n_new - 1:,} after activation layer {layer} "
                        f"of {n_act} (its layer sizes allow up to {_fmt_big(size_bound(ops))})"
                        "; raise the limit (--max-pieces) to take it apart anyway",
                        n_new - 1,
                    )
                _check_work(t.size + j.size, v.shape[1], layer, n_act)
                vn = v[j] + frac[:, None] * (v[j + 1] - v[j])
                vn[np.arange(j.size), k] = 0.0
                t_all = np.concatenate((t, tn))
                v_all = np.concatenate((v, vn))
                order = np.argsort(t_all, kind="stable")
                t_all, v_all = t_all[order], v_all[order]
                keep = np.concatenate(([True], np.diff(t_all) > 0))
                t, v = t_all[keep], v_all[keep]
        else:
            _check_work(t.size, op[1].shape[0], layer, n_act)
        v = _apply(op, v)
    return t


def _check_work(points: int, width: int, layer: int, n_act: int) -> None:
    if points * width > MAX_WORK:
        raise ValueError(
            f"taking the network apart needs {points:,} points x {width:,} units = "
            f"{points * width:,} values at activation layer {max(layer, 1)} of {n_act} "
            f"(about {points * width * 8 / 2**30:.1f} GiB); the limit is {MAX_WORK:,}: "
            "the network is too wide for an exact decomposition on this domain"
        )


def one_hidden_layer(
    ops: list[tuple], a: float, b: float, max_pieces: int = MAX_PIECES
) -> tuple[float, np.ndarray, np.ndarray] | None:
    """``(bias, knots, weights)`` of ``Linear(1, n), ReLU, Linear(n, 1)`` on ``[a, b]``, or None.

    The sum has a knot at ``a`` carrying the slope there and one knot per unit
    that switches inside ``(a, b)``; None when ``ops`` is another architecture.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum._pieces import one_hidden_layer
    >>> ops = [("linear", np.array([[1.0], [-2.0]]), np.array([-0.5, 0.5])), ("relu",),
    ...        ("linear", np.array([[3.0, 1.0]]), np.array([0.0]))]
    >>> bias, h, w = one_hidden_layer(ops, 0.0, 1.0)
    >>> bias, h.tolist(), w.tolist()
    (0.5, [0.0, 0.25, 0.5], [-2.0, 2.0, 3.0])
    """
    if [op[0] for op in ops] != ["linear", "relu", "linear"]:
        return None
    w1, b1 = ops[0][1][:, 0], ops[0][2]
    v, c = ops[2][1][0], float(ops[2][2][0])
    za = w1 * a + b1
    bias = c + float(np.sum(v * np.maximum(za, 0.0)))
    on_right = (za > 0) | ((za == 0) & (w1 > 0))
    slope_a = float(np.sum((v * w1)[on_right]))
    with np.errstate(divide="ignore", invalid="ignore"):
        knot = -b1 / w1
    inside = (w1 != 0) & (knot > a) & (knot < b)
    weight = (v * np.abs(w1))[inside]
    knot = knot[inside]
    order = np.argsort(knot, kind="stable")
    knot, weight = knot[order], weight[order]
    bends = weight != 0
    n_pieces = int(np.unique(knot[bends]).size) + 1
    if n_pieces > max_pieces:
        raise PieceLimitError(
            f"the network has {n_pieces:,} linear pieces on [{a:.6g}, {b:.6g}], more than "
            f"the limit {max_pieces:,}; raise it (--max-pieces) to take it apart anyway",
            n_pieces,
        )
    return bias, np.concatenate(([a], knot)), np.concatenate(([slope_a], weight))
