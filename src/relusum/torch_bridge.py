"""The network bridge: ReLU networks taken apart exactly into shifted ReLUs, and back.

A network with one input built from ``Linear``, ``ReLU`` and ``LeakyReLU``
layers is a continuous piecewise-linear function of ``x``.  This module turns
such a network into the exact :class:`~relusum.model.ReluSum` on a domain
(:func:`from_torch`), a ``ReluSum`` into a one-hidden-layer network
(:func:`to_torch`), lists the units of a one-hidden-layer network
(:func:`neurons`, :func:`plot_units`), trains such a network with Adam for
comparison with the optimal fit (:func:`train`), shrinks a deep network to the
smallest one-hidden-layer network within a tolerance (:func:`compress`) and
writes networks as ONNX (:func:`to_onnx`) or as a ``.pt`` file that loads with
``torch.load(..., weights_only=True)`` (:func:`save_pt`, :func:`load_pt`).

Needs the extra ``relusum[torch]`` (``pip install 'relusum[torch]'``);
``import relusum`` never imports this module or PyTorch.

How :func:`from_torch` finds the knots
    The input line ``[A, B]`` is followed through the network.  The values of
    every layer are kept at a sorted list of breakpoints; between two
    breakpoints every unit is affine in ``x``.  A linear layer maps the values;
    before an activation, every unit whose value changes sign between two
    breakpoints adds the point where it crosses zero (found by linear
    interpolation, exact for an affine piece) and the values there are
    interpolated.  No sampling is involved: the breakpoints found are every
    point where some unit switches on or off.  The final values are computed by
    a float64 forward pass of the network at the breakpoints, and breakpoints
    where the output does not bend (a unit switching with no effect on the
    output) are dropped.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from relusum._io import atomic_path, atomic_write_bytes
from relusum._pieces import MAX_PIECES, breakpoints, one_hidden_layer
from relusum._text import plural
from relusum.model import ReluSum
from relusum.targets import Target, TargetLike, make_target, parse_domain

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes


class MissingExtraError(ImportError, ValueError):
    """PyTorch or ONNX is not installed: ``pip install 'relusum[torch]'``."""


try:
    import torch
    from torch import nn
except ImportError as _exc:  # pragma: no cover - exercised only without torch
    raise MissingExtraError(
        f"relusum.torch_bridge needs PyTorch: pip install 'relusum[torch]' ({_exc})"
    ) from None

__all__ = [
    "MissingExtraError",
    "to_torch",
    "from_torch",
    "describe_layers",
    "Neuron",
    "neurons",
    "neuron_table",
    "plot_units",
    "TrainResult",
    "train",
    "CompressResult",
    "compress",
    "to_onnx",
    "save_pt",
    "load_pt",
    "read_pt",
    "PT_FORMAT",
]

#: Most hidden activations (units x samples) one training step may hold, about
#: 2 GiB in float64 with the tensors autograd keeps.
MAX_TRAIN_WORK = 1 << 26

#: The ``format`` tag stored in every ``.pt`` file written by :func:`save_pt`.
PT_FORMAT = "relusum-pt/1"

_PASS_THROUGH = (nn.Identity, nn.Flatten, nn.Dropout)


# ---------------------------------------------------------------- layer list
# A network is turned into a list of operations on float64 numpy arrays:
#   ("linear", W (out, in), b (out,)), ("relu",), ("leaky", slope)


def _as_sequential_layers(model: Any) -> list[tuple[str, nn.Module]]:
    if not isinstance(model, nn.Sequential):
        raise ValueError(
            f"expected a torch.nn.Sequential network, got {type(model).__name__}; "
            "wrap the layers in nn.Sequential(...)"
        )
    out: list[tuple[str, nn.Module]] = []

    def walk(seq: nn.Sequential, prefix: str) -> None:
        for name, layer in seq.named_children():
            path = f"{prefix}{name}"
            if isinstance(layer, nn.Sequential):
                walk(layer, path + ".")
            else:
                out.append((path, layer))

    walk(model, "")
    return out


def _ops(model: Any) -> list[tuple]:
    """The network as float64 operations; a precise ValueError for anything else."""
    ops: list[tuple] = []
    width = 1
    for path, layer in _as_sequential_layers(model):
        kind = type(layer).__name__
        if isinstance(layer, nn.Linear):
            w = layer.weight.detach().to(device="cpu", dtype=torch.float64).numpy().copy()
            if layer.bias is None:
                b = np.zeros(w.shape[0])
            else:
                b = layer.bias.detach().to(device="cpu", dtype=torch.float64).numpy().copy()
            if w.shape[1] != width:
                what = "network input" if not any(o[0] == "linear" for o in ops) else "layer"
                raise ValueError(
                    f"layer {path} (Linear({w.shape[1]}, {w.shape[0]})) takes {w.shape[1]} "
                    f"inputs but the {what} before it gives {width}; "
                    "the network must have exactly one input"
                )
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                raise ValueError(f"layer {path} (Linear) has non-finite weights")
            ops.append(("linear", w, b))
            width = w.shape[0]
        elif isinstance(layer, nn.ReLU):
            ops.append(("relu",))
        elif isinstance(layer, nn.LeakyReLU):
            ops.append(("leaky", float(layer.negative_slope)))
        elif isinstance(layer, _PASS_THROUGH):
            if isinstance(layer, nn.Dropout) and layer.training and layer.p > 0:
                raise ValueError(
                    f"layer {path} (Dropout) is in training mode, so the network is random; "
                    "call model.eval() first"
                )
            if isinstance(layer, nn.Flatten) and layer.start_dim == 0:
                raise ValueError(
                    f"layer {path} (Flatten(start_dim=0)) mixes the batch; unsupported"
                )
        else:
            raise ValueError(
                f"layer {path} ({kind}) is not supported: a network must be built from "
                "Linear, ReLU and LeakyReLU (and Identity, Flatten, Dropout in eval mode)"
            )
    if width != 1:
        raise ValueError(f"the network has {width} outputs; a ReluSum needs exactly one output")
    return ops


def _forward(ops: list[tuple], x: np.ndarray) -> np.ndarray:
    """Evaluate the operations at points ``x`` (float64); returns shape (N,)."""
    v = np.asarray(x, dtype=float).reshape(-1, 1)
    for op in ops:
        v = _apply(op, v)
    return v[:, 0]


def _apply(op: tuple, v: np.ndarray) -> np.ndarray:
    if op[0] == "linear":
        return v @ op[1].T + op[2]
    if op[0] == "relu":
        return np.maximum(v, 0.0)
    return np.where(v >= 0.0, v, op[1] * v)


def describe_layers(model: nn.Sequential) -> str:
    """A one-line description such as ``1 -> 16 -> ReLU -> 1`` (validates the network).

    Examples
    --------
    >>> from torch import nn
    >>> from relusum.torch_bridge import describe_layers
    >>> describe_layers(nn.Sequential(nn.Linear(1, 8), nn.ReLU(), nn.Linear(8, 1)))
    '1 -> Linear -> 8 -> ReLU -> Linear -> 1'
    """
    ops = _ops(model)
    parts = ["1"]
    for op in ops:
        if op[0] == "linear":
            parts += ["Linear", str(op[1].shape[0])]
        elif op[0] == "relu":
            parts.append("ReLU")
        else:
            parts.append(f"LeakyReLU({op[1]:g})")
    return " -> ".join(parts)


# ---------------------------------------------------------------- to / from
def to_torch(s: ReluSum, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """The :class:`ReluSum` as ``nn.Sequential(Linear(1, n), ReLU(), Linear(n, 1))``.

    Hidden unit ``i`` computes ``max(0, x - h_i)`` (input weight 1, bias
    ``-h_i``) and the output layer has weights ``w_i`` and bias ``b``, so the
    network equals the sum for every real ``x``, not only on its domain.  A sum
    with no terms becomes a network with one unit whose output weight is 0.
    The global random state is not used.

    Parameters
    ----------
    s : ReluSum
    dtype : torch.dtype
        ``torch.float64`` (default, exact to rounding) or ``torch.float32``.

    Examples
    --------
    >>> import torch
    >>> from relusum import ReluSum
    >>> from relusum.torch_bridge import to_torch
    >>> net = to_torch(ReluSum(1.0, [0.0, 1.0], [2.0, -3.0]))
    >>> net(torch.tensor([[-1.0], [0.5], [2.0]], dtype=torch.float64)).flatten().tolist()
    [1.0, 2.0, 2.0]
    """
    if not isinstance(s, ReluSum):
        raise ValueError(f"to_torch needs a ReluSum, got {type(s).__name__}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    h, w = s.knots, s.weights
    if h.size == 0:
        h, w = np.zeros(1), np.zeros(1)
    n = h.size
    return _mlp_from_arrays(np.ones(n), -h, w, s.bias, dtype)


def _mlp_from_arrays(
    a: np.ndarray, b: np.ndarray, v: np.ndarray, c: float, dtype: torch.dtype
) -> nn.Sequential:
    n = int(a.size)
    first = torch.nn.utils.skip_init(nn.Linear, 1, n, dtype=dtype)
    second = torch.nn.utils.skip_init(nn.Linear, n, 1, dtype=dtype)
    with torch.no_grad():
        first.weight.copy_(torch.tensor(np.array(a, float).reshape(n, 1), dtype=dtype))
        first.bias.copy_(torch.tensor(np.array(b, float).reshape(n), dtype=dtype))
        second.weight.copy_(torch.tensor(np.array(v, float).reshape(1, n), dtype=dtype))
        second.bias.fill_(float(c))
    return nn.Sequential(first, nn.ReLU(), second)


def _drop_straight(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop interior breakpoints where the output does not bend (rounding-level)."""
    if t.size <= 2:
        return t, y
    scale = float(np.max(np.abs(y)))
    scale = max(scale, float(np.max(np.abs(np.diff(y)))), np.finfo(float).tiny)
    tol = 64 * np.finfo(float).eps * scale
    lam = (t[1:-1] - t[:-2]) / (t[2:] - t[:-2])
    chord = y[:-2] + lam * (y[2:] - y[:-2])
    bend = np.abs(y[1:-1] - chord) > tol
    keep = np.concatenate(([True], bend, [True]))
    tk, yk = t[keep], y[keep]
    # Guard: the thinned interpolant must still pass through every breakpoint.
    if np.max(np.abs(np.interp(t, tk, yk) - y)) > 4 * tol:
        return t, y
    return tk, yk


def from_torch(
    model: nn.Sequential, domain: Sequence[Any], *, max_pieces: int = MAX_PIECES
) -> ReluSum:
    """The exact :class:`ReluSum` of a network with one input and one output, on a domain.

    The network may have any depth and width and use ``Linear``, ``ReLU``,
    ``LeakyReLU`` and (in eval mode) ``Identity``, ``Flatten`` and ``Dropout``
    layers; nested ``nn.Sequential`` blocks are flattened.  Its knots are the
    points where some unit switches on or off, found by following the input
    line through the activation patterns layer by layer (see the module
    docstring): no sampling.  The result equals the network on the domain (to
    float64 rounding; a float32 network is evaluated in float64 with its own
    weights); outside the domain it is flat on the left and continues the last
    piece on the right, like every ``ReluSum`` built from points.

    It has a knot at ``A`` (the slope of the first piece, dropped when 0) and
    one at every interior point where the network bends, so
    ``n_pieces`` is the exact number of linear pieces on the domain.

    Parameters
    ----------
    model : torch.nn.Sequential
    domain : (A, B)
        Numbers or constant formulas such as ``"-pi"``.
    max_pieces : int
        Refuse (before building them) networks with more linear pieces than
        this on the domain; a deep network can have ``2**depth`` pieces.

    Raises
    ------
    ValueError
        For an unsupported layer (named), more than one input or output, a
        network that is not ``nn.Sequential`` or Dropout in training mode, more
        than ``max_pieces`` pieces (:class:`relusum._pieces.PieceLimitError`,
        naming how many were found) or a layer too wide to follow.

    Examples
    --------
    >>> from torch import nn
    >>> from relusum.torch_bridge import from_torch
    >>> net = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 1))
    >>> s = from_torch(net, (-3, 3))
    >>> s.n_pieces <= 3
    True
    """
    dom = parse_domain(domain)
    if dom is None:
        raise ValueError("from_torch needs a domain (A, B)")
    if isinstance(max_pieces, bool) or not isinstance(max_pieces, (int, np.integer)):
        raise ValueError(f"max_pieces must be a positive integer, got {max_pieces!r}")
    if max_pieces < 1:
        raise ValueError(f"max_pieces must be a positive integer, got {max_pieces}")
    ops = _ops(model)
    a, b = dom
    direct = one_hidden_layer(ops, a, b, int(max_pieces))
    if direct is not None:
        bias, h, w = direct
        if not (math.isfinite(bias) and np.all(np.isfinite(w))):
            raise ValueError("the network's output is not finite on the domain")
        return ReluSum(bias, h, w, dom).simplify()
    t = breakpoints(ops, a, b, int(max_pieces))
    y = _forward(ops, t)
    if not np.all(np.isfinite(y)):
        raise ValueError("the network's output is not finite on the domain")
    t, y = _drop_straight(t, y)
    return ReluSum.from_points(t, y, dom).simplify()


# ---------------------------------------------------------------- neurons
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


# ---------------------------------------------------------------- training
@dataclass(frozen=True)
class TrainResult:
    """The outcome of :func:`train`.

    Attributes
    ----------
    model : torch.nn.Sequential
        The trained ``Linear(1, n), ReLU, Linear(n, 1)`` network (in ``x``: the
        input and output scalings used in training are folded into it); the
        parameters with the lowest training loss seen.
    history : ndarray
        The training loss (mean squared error on the samples, in the target's
        units) before each step, and after the last one.
    relusum : ReluSum
        The exact decomposition of ``model`` on the domain (:func:`from_torch`).
    seconds : float
        Wall time of the training (sampling and set-up included).
    target : Target
        The samples trained on (the same as :func:`relusum.fit` uses).
    init, start : str
        ``init`` as asked; ``start`` the starting point actually used
        (``"default"``, ``"optimal"`` or ``"uniform"`` least squares).
    seed, steps : int
    lr : float
    """

    model: nn.Sequential
    history: np.ndarray
    relusum: ReluSum
    seconds: float
    target: Target = field(repr=False)
    init: str = "default"
    start: str = "default"
    seed: int = 0
    steps: int = 0
    lr: float = 0.0

    def errors(self) -> tuple[float, float, int]:
        """RMSE, max absolute error and point count on the verification grid."""
        from relusum.fitting.api import measure

        return measure(self.relusum, self.target)


INITS = ("default", "fit")
#: Default learning rates of :func:`train` by ``init``.
DEFAULT_LR = {"default": 1e-2, "fit": 1e-4}


def _start_fit(
    target: TargetLike, domain: Any, n_units: int, samples: int | None, progress: bool | None
):
    """The optimal fit to start from, or uniform least squares if unavailable."""
    from relusum.fitting.api import fit

    try:
        r = fit(target, domain, n_units, knots="optimal", samples=samples, progress=progress)
        return r.model, "optimal"
    except (ValueError, ImportError, NotImplementedError, AttributeError):
        return fit(target, domain, n_units, knots="uniform", samples=samples).model, "uniform"


def train(
    target: TargetLike,
    domain: Sequence[Any] | None = None,
    n_units: int = 16,
    steps: int = 3000,
    lr: float | None = None,
    seed: int = 0,
    init: str = "default",
    samples: int | None = None,
    progress: bool | None = None,
    dtype: torch.dtype = torch.float64,
) -> TrainResult:
    """Train a one-hidden-layer ReLU network on the samples :func:`relusum.fit` uses.

    Full-batch Adam on the mean squared error, with a cosine learning-rate
    schedule from ``lr`` down to ``lr / 100``.  Inside training the input is
    mapped to ``[-1, 1]`` and the output standardised (the usual practice); the
    returned network takes ``x`` and gives ``y`` (the maps are folded into its
    layers).  Randomness comes from a local ``torch.Generator(seed)`` only.

    Parameters
    ----------
    target, domain, samples
        As for :func:`relusum.fit` (a formula, callable or data; the domain).
    n_units : int
        Hidden units.
    steps : int
        Adam steps.
    lr : float, optional
        Peak learning rate; default 1e-2 for ``init="default"`` and 1e-4 for
        ``init="fit"`` (a large step would throw the good start away).
    seed : int
        Seed of the initialisation.
    init : {"default", "fit"}
        PyTorch's default initialisation (``U(-1, 1)`` for the first layer in
        the scaled input, ``U(-1/sqrt(n), 1/sqrt(n))`` for the second), or the
        optimal :class:`ReluSum` (``relusum.fit(..., knots="optimal")``; uniform
        least squares if optimal knots are not available).
    progress : bool, optional
        Progress bar on stderr (default: when stderr is a terminal, shown after 2 s).
    dtype : torch.dtype
        ``torch.float64`` (default) or ``torch.float32``.

    Returns
    -------
    TrainResult

    Examples
    --------
    >>> from relusum.torch_bridge import train
    >>> r = train("sin(x)", (0, 3), n_units=4, steps=50, samples=200)
    >>> bool(r.history[-1] < r.history[0]), r.relusum.n_pieces <= 5
    (True, True)
    """
    start_time = time.perf_counter()
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}; got {init!r}")
    for name, val in (("n_units", n_units), ("steps", steps)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if lr is None:
        lr = DEFAULT_LR[init]
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    n_units, steps = int(n_units), int(steps)
    tgt = make_target(target, domain, samples)
    if n_units * tgt.x.size > MAX_TRAIN_WORK:
        raise ValueError(
            f"training {n_units:,} units on {tgt.x.size:,} samples needs "
            f"{n_units * tgt.x.size:,} activations per step (about "
            f"{4 * 8 * n_units * tgt.x.size / 2**30:.0f} GiB with gradients); at most "
            f"{MAX_TRAIN_WORK:,}: use fewer units or fewer samples"
        )
    lo, hi = tgt.domain
    c, r = 0.5 * (lo + hi), 0.5 * (hi - lo)
    wts = None if tgt.weight is None else tgt.weight / np.sum(tgt.weight)
    mu = float(np.mean(tgt.y) if wts is None else np.sum(wts * tgt.y))
    dev2 = (tgt.y - mu) ** 2
    sd = float(np.sqrt(np.mean(dev2) if wts is None else np.sum(wts * dev2)))
    if not sd > 0:
        sd = 1.0

    gen = torch.Generator().manual_seed(int(seed))
    a0 = torch.empty(n_units, dtype=dtype).uniform_(-1.0, 1.0, generator=gen)
    b0 = torch.empty(n_units, dtype=dtype).uniform_(-1.0, 1.0, generator=gen)
    bound = 1.0 / math.sqrt(n_units)
    v0 = torch.empty(n_units, dtype=dtype).uniform_(-bound, bound, generator=gen)
    c0 = torch.empty(1, dtype=dtype).uniform_(-bound, bound, generator=gen)
    start = "default"
    if init == "fit":
        s, start = _start_fit(target, domain, n_units, samples, progress)
        k = min(s.n_units, n_units)
        # Unit i: max(0, u - u_i) with u = (x - c) / r equals max(0, x - h_i) / r.
        a0[:k] = 1.0
        b0[:k] = torch.as_tensor(-(s.knots[:k] - c) / r, dtype=dtype)
        v0[:] = 0.0
        v0[:k] = torch.as_tensor(s.weights[:k] * r / sd, dtype=dtype)
        c0[:] = (s.bias - mu) / sd

    net = _mlp_from_arrays(a0.numpy(), b0.numpy(), v0.numpy(), float(c0[0]), dtype)
    u = torch.as_tensor((tgt.x - c) / r, dtype=dtype).reshape(-1, 1)
    ys = torch.as_tensor((tgt.y - mu) / sd, dtype=dtype).reshape(-1, 1)
    wt = None if wts is None else torch.as_tensor(wts, dtype=dtype).reshape(-1, 1)
    opt = torch.optim.Adam(net.parameters(), lr=float(lr))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr / 100)

    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else bool(progress)
    bar = tqdm(
        total=steps,
        desc=f"training {n_units} units",
        disable=not show,
        delay=2.0 if progress is None else 0.0,
        file=sys.stderr,
        leave=False,
    )
    history = np.empty(steps + 1)
    best = (math.inf, None)

    def loss_fn() -> torch.Tensor:
        res = (net(u) - ys) ** 2
        return res.mean() if wt is None else (wt * res).sum()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is faster and never oversubscribes
    try:
        for i in range(steps + 1):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn()
            val = float(loss.detach()) * sd * sd
            history[i] = val
            if val < best[0]:
                best = (val, [p.detach().clone() for p in net.parameters()])
            if i == steps:
                break
            loss.backward()
            opt.step()
            sched.step()
            if i % 50 == 0:
                bar.update(min(50, steps - i))
                bar.set_postfix(loss=f"{val:.3g}", refresh=False)
    finally:
        torch.set_num_threads(threads)
        bar.close()
    with torch.no_grad():
        for p, q in zip(net.parameters(), best[1], strict=True):
            p.copy_(q)
    model = _fold(net, c, r, mu, sd, dtype)
    seconds = time.perf_counter() - start_time
    rs = from_torch(model, tgt.domain)
    return TrainResult(model, history, rs, seconds, tgt, init, start, int(seed), steps, float(lr))


def _fold(net: nn.Sequential, c: float, r: float, mu: float, sd: float, dtype) -> nn.Sequential:
    """The network in x and y from one trained on u = (x - c)/r and (y - mu)/sd."""
    first, _, second = net
    a = first.weight.detach().to(torch.float64).numpy()[:, 0]
    b = first.bias.detach().to(torch.float64).numpy()
    v = second.weight.detach().to(torch.float64).numpy()[0]
    c0 = float(second.bias.detach()[0])
    return _mlp_from_arrays(a / r, b - a * c / r, v * sd, c0 * sd + mu, dtype)


# ---------------------------------------------------------------- compress
@dataclass(frozen=True)
class CompressResult:
    """The outcome of :func:`compress`.

    Attributes
    ----------
    model : torch.nn.Sequential
        ``Linear(1, n), ReLU, Linear(n, 1)`` with ``n = n_units``.
    relusum : ReluSum
        The same function as a sum of shifted ReLUs.
    n_units : int
    max_abs_error : float
        The exact largest difference from the original network on the domain
        (both are piecewise linear, so it is attained at a breakpoint of one).
    exact_units : int
        Units of the exact decomposition (an upper bound for ``n_units``).
    exact_pieces : int
        Linear pieces of the original network on the domain.
    method : str
        ``"exact"``, ``"vertices"`` (greedy chords through the network's own
        breakpoints) or ``"linf fit"`` (a max-error fit with free knots).
    """

    model: nn.Sequential
    relusum: ReluSum
    n_units: int
    max_abs_error: float
    exact_units: int
    exact_pieces: int
    method: str


def _pwl_max_diff(s1: ReluSum, s2: ReluSum, domain: tuple[float, float]) -> float:
    a, b = domain
    h = np.union1d(s1.knots, s2.knots)
    x = np.concatenate(([a, b], h[(h > a) & (h < b)]))
    return float(np.max(np.abs(s1(x) - s2(x))))


def _greedy_vertices(t: np.ndarray, y: np.ndarray, tol: float) -> np.ndarray:
    """Indices of breakpoints kept by greedy longest chords within ``tol``."""
    keep = [0]
    i, last = 0, t.size - 1
    while i < last:
        j = i + 1
        while j < last:
            cand = j + 1
            lam = (t[i + 1 : cand] - t[i]) / (t[cand] - t[i])
            chord = y[i] + lam * (y[cand] - y[i])
            if np.max(np.abs(chord - y[i + 1 : cand])) > tol:
                break
            j = cand
        keep.append(j)
        i = j
    return np.asarray(keep)


def compress(model: nn.Sequential, domain: Sequence[Any], tol: float) -> CompressResult:
    """The smallest one-hidden-layer ReLU network found within ``tol`` of a network.

    The network is decomposed exactly (:func:`from_torch`); its exact sum is an
    upper bound.  Candidates with fewer units: greedy longest chords through
    the network's own breakpoints, and, when available, a max-error fit with
    free knots (``relusum.fit(..., loss="linf", tol=...)``).  Each candidate's
    error is checked exactly (both functions are piecewise linear) and the
    smallest one within ``tol`` wins.

    Examples
    --------
    >>> from relusum.depth import sawtooth
    >>> from relusum.torch_bridge import compress
    >>> compress(sawtooth(3), (0, 1), tol=1e-9).n_units
    8
    """
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol >= 0:
        raise ValueError(f"tol must be a non-negative number, got {tol!r}")
    dom = parse_domain(domain)
    if dom is None:
        raise ValueError("compress needs a domain (A, B)")
    exact = from_torch(model, dom)
    best, method = exact, "exact"
    t, y = exact.to_points()
    if tol > 0 and t.size > 2:
        idx = _greedy_vertices(t, y, float(tol))
        cand = ReluSum.from_points(t[idx], y[idx], dom).simplify()
        if cand.n_units < best.n_units and _pwl_max_diff(cand, exact, dom) <= tol:
            best, method = cand, "vertices"
        try:
            from relusum.fitting.api import fit

            r = fit(exact, dom, loss="linf", tol=float(tol), max_units=max(best.n_units, 1))
            cand = r.model.simplify()
            if cand.n_units < best.n_units and _pwl_max_diff(cand, exact, dom) <= tol:
                best, method = cand, "linf fit"
        except (ValueError, ImportError, NotImplementedError, AttributeError, TypeError):
            pass
    err = _pwl_max_diff(best, exact, dom) if best is not exact else 0.0
    return CompressResult(
        to_torch(best), best, best.n_units, err, exact.n_units, exact.n_pieces, method
    )


# ---------------------------------------------------------------- export
def _network_ops(obj: ReluSum | nn.Sequential) -> list[tuple]:
    if isinstance(obj, ReluSum):
        return _ops(to_torch(obj))
    return _ops(obj)


def to_onnx(
    s: ReluSum | nn.Sequential, path: str | os.PathLike[str], dtype: str = "float32"
) -> Path:
    """Write a :class:`ReluSum` (or a supported network) as an ONNX model, atomically.

    The graph takes ``x`` of shape ``(N, 1)`` and returns ``y`` of shape
    ``(N, 1)``: ``MatMul``/``Add`` per linear layer and ``Relu`` (or, for
    ``LeakyReLU``, ``max(z, alpha z)``) between them (opset 13).  The domain, if any, is stored in
    the metadata.

    Parameters
    ----------
    s : ReluSum or torch.nn.Sequential
    path : path-like
    dtype : {"float32", "float64"}

    Examples
    --------
    >>> import os, tempfile
    >>> from relusum import ReluSum
    >>> from relusum.torch_bridge import to_onnx
    >>> to_onnx(ReluSum(0.0, [0.0], [1.0]), os.path.join(tempfile.mkdtemp(), "m.onnx")).suffix
    '.onnx'
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as exc:
        raise MissingExtraError(
            f"to_onnx needs onnx: pip install 'relusum[torch]' ({exc})"
        ) from None
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    npdt = np.float32 if dtype == "float32" else np.float64
    elem = TensorProto.FLOAT if dtype == "float32" else TensorProto.DOUBLE
    ops = _network_ops(s)
    nodes, inits = [], []
    cur = "x"
    for i, op in enumerate(ops):
        if op[0] == "linear":
            inits.append(numpy_helper.from_array(op[1].T.astype(npdt), f"W{i}"))
            inits.append(numpy_helper.from_array(op[2].astype(npdt), f"b{i}"))
            nodes.append(helper.make_node("MatMul", [cur, f"W{i}"], [f"m{i}"]))
            nodes.append(helper.make_node("Add", [f"m{i}", f"b{i}"], [f"z{i}"]))
            cur = f"z{i}"
        elif op[0] == "relu":
            nodes.append(helper.make_node("Relu", [cur], [f"r{i}"]))
            cur = f"r{i}"
        else:
            # LeakyReLU as max(z, alpha z) (min for alpha > 1): the same rounding as torch,
            # and onnxruntime has no double LeakyRelu kernel.
            inits.append(numpy_helper.from_array(np.array(op[1], dtype=npdt), f"alpha{i}"))
            nodes.append(helper.make_node("Mul", [cur, f"alpha{i}"], [f"s{i}"]))
            pick = "Max" if op[1] <= 1 else "Min"
            nodes.append(helper.make_node(pick, [cur, f"s{i}"], [f"r{i}"]))
            cur = f"r{i}"
    nodes.append(helper.make_node("Identity", [cur], ["y"]))
    graph = helper.make_graph(
        nodes,
        "relusum",
        [helper.make_tensor_value_info("x", elem, ["N", 1])],
        [helper.make_tensor_value_info("y", elem, ["N", 1])],
        initializer=inits,
    )
    model = helper.make_model(
        graph, producer_name="relusum", opset_imports=[helper.make_opsetid("", 13)]
    )
    model.ir_version = min(model.ir_version, 8)
    model.doc_string = "f(x) = bias + sum_i w_i * max(0, x - h_i), from relusum"
    dom = s.domain if isinstance(s, ReluSum) else None
    if dom is not None:
        helper.set_model_props(model, {"domain": f"{dom[0]!r} {dom[1]!r}"})
    onnx.checker.check_model(model)
    return atomic_write_bytes(path, model.SerializeToString())


def _layer_spec(model: nn.Sequential) -> tuple[list[list[Any]], dict[str, torch.Tensor]]:
    """Plain layer list and a state dict with keys ``"{k}.weight"`` / ``"{k}.bias"``."""
    spec: list[list[Any]] = []
    state: dict[str, torch.Tensor] = {}
    for op in _ops(model):
        k = len(spec)
        if op[0] == "linear":
            spec.append(["linear", int(op[1].shape[1]), int(op[1].shape[0])])
            state[f"{k}.weight"] = torch.as_tensor(op[1])
            state[f"{k}.bias"] = torch.as_tensor(op[2])
        elif op[0] == "relu":
            spec.append(["relu"])
        else:
            spec.append(["leaky_relu", float(op[1])])
    return spec, state


def save_pt(s: ReluSum | nn.Sequential, path: str | os.PathLike[str]) -> Path:
    """Write a network as a ``.pt`` file that loads with ``torch.load(..., weights_only=True)``.

    The file holds a plain dict: ``format`` (``"relusum-pt/1"``), ``layers``
    (e.g. ``[["linear", 1, 16], ["relu"], ["linear", 16, 1]]``), ``sizes``
    (the widths, e.g. ``[1, 16, 1]``), ``state_dict`` (float64 tensors keyed
    like ``nn.Sequential``: ``"0.weight"``, ``"0.bias"``, ``"2.weight"`` ...)
    and ``domain``.  A :class:`ReluSum` is stored as the network of
    :func:`to_torch`.  Written atomically.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from relusum import ReluSum
    >>> from relusum.torch_bridge import save_pt
    >>> p = save_pt(ReluSum(0.0, [0.0], [1.0], (0, 1)), os.path.join(tempfile.mkdtemp(), "m.pt"))
    >>> torch.load(p, weights_only=True)["sizes"]
    [1, 1, 1]
    """
    net = to_torch(s) if isinstance(s, ReluSum) else s
    spec, state = _layer_spec(net)
    sizes = [1] + [layer[2] for layer in spec if layer[0] == "linear"]
    dom = s.domain if isinstance(s, ReluSum) else None
    payload = {
        "format": PT_FORMAT,
        "layers": spec,
        "sizes": sizes,
        "state_dict": state,
        "domain": None if dom is None else [float(dom[0]), float(dom[1])],
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def _build(spec: list[Any], state: dict[str, Any], where: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for k, item in enumerate(spec):
        if not isinstance(item, (list, tuple)) or not item:
            raise ValueError(f"{where}: layer {k} is not a layer description: {item!r}")
        kind = item[0]
        if kind == "linear":
            try:
                n_in, n_out = item[1], item[2]
                w, b = state[f"{k}.weight"], state[f"{k}.bias"]
            except (IndexError, KeyError, TypeError):
                raise ValueError(
                    f"{where}: layer {k} (linear) lacks its sizes or weights"
                ) from None
            if not all(
                isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (n_in, n_out)
            ):
                raise ValueError(
                    f"{where}: layer {k} (linear) has sizes {n_in!r:.20}, {n_out!r:.20}; "
                    "expected two non-negative integers"
                )
            _check_weights(w, f"{where}: the weight of layer {k}")
            _check_weights(b, f"{where}: the bias of layer {k}")
            if tuple(w.shape) != (n_out, n_in) or tuple(b.shape) != (n_out,):
                raise ValueError(
                    f"{where}: layer {k} is declared Linear({n_in}, {n_out}) but its weights "
                    f"have shapes {tuple(w.shape)} and {tuple(b.shape)}"
                )
            lin = torch.nn.utils.skip_init(nn.Linear, n_in, n_out, dtype=w.dtype)
            with torch.no_grad():
                lin.weight.copy_(w)
                lin.bias.copy_(b)
            layers.append(lin)
        elif kind == "relu":
            layers.append(nn.ReLU())
        elif kind == "leaky_relu":
            slope = item[1] if len(item) > 1 else None
            if (
                isinstance(slope, bool)
                or not isinstance(slope, (int, float))
                or not (math.isfinite(slope))
            ):
                raise ValueError(
                    f"{where}: layer {k} (leaky_relu) needs its negative slope, a finite "
                    f"number; got {slope!r:.20}"
                )
            layers.append(nn.LeakyReLU(float(slope)))
        else:
            raise ValueError(f"{where}: layer {k} has unknown kind {kind!r}")
    return nn.Sequential(*layers)


def _check_weights(t: Any, what: str) -> None:
    """A weight must be a real floating-point tensor (not bool, int or complex)."""
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{what} is not a tensor but a {type(t).__name__}")
    if not t.dtype.is_floating_point:
        raise ValueError(
            f"{what} has dtype {str(t.dtype).replace('torch.', '')}; "
            "a network's weights are floating-point numbers"
        )


def _from_bare_state_dict(state: dict[str, Any], where: str) -> nn.Sequential:
    """A plain ``nn.Sequential`` state dict of Linear layers: ReLU assumed between them."""
    bad = [k for k in state if not isinstance(k, str)]
    if bad:
        raise ValueError(
            f"{where}: the state_dict has a key {bad[0]!r:.40} of type {type(bad[0]).__name__}; "
            "a state_dict's keys are names such as '0.weight'"
        )
    idx = sorted({int(k.split(".")[0]) for k in state if k.split(".")[0].isdigit()})
    if not idx or any(f"{i}.weight" not in state for i in idx):
        raise ValueError(
            f"{where} is neither a relusum .pt file nor the state_dict of an nn.Sequential "
            "of Linear layers"
        )
    spec, st = [], {}
    for n, i in enumerate(idx):
        w = state[f"{i}.weight"]
        _check_weights(w, f"{where}: '{i}.weight'")
        if w.ndim != 2:
            raise ValueError(f"{where}: '{i}.weight' is not a weight matrix")
        b = state.get(f"{i}.bias")
        if b is None:
            b = torch.zeros(w.shape[0], dtype=w.dtype)
        _check_weights(b, f"{where}: '{i}.bias'")
        if n:
            spec.append(["relu"])
        k = len(spec)
        spec.append(["linear", int(w.shape[1]), int(w.shape[0])])
        st[f"{k}.weight"], st[f"{k}.bias"] = w, b
    return _build(spec, st, where)


def read_pt(path: str | os.PathLike[str]) -> tuple[nn.Sequential, tuple[float, float] | None]:
    """Read a ``.pt`` file into a network and its stored domain (or None).

    Accepts files of :func:`save_pt` and bare ``state_dict`` files of an
    ``nn.Sequential`` of ``Linear`` layers (ReLU assumed between them).  Loads
    with ``weights_only=True``: no arbitrary objects are unpickled.

    Examples
    --------
    >>> import os, tempfile
    >>> from relusum import ReluSum
    >>> from relusum.torch_bridge import read_pt, save_pt
    >>> p = save_pt(ReluSum(0.0, [0.5], [1.0], (0, 1)), os.path.join(tempfile.mkdtemp(), "m.pt"))
    >>> net, domain = read_pt(p)
    >>> domain
    (0.0, 1.0)
    """
    p = Path(path)
    if not p.is_file():
        what = "not a regular file" if p.exists() else "no such file"
        raise ValueError(f"cannot read {str(p)!r}: {what}")
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        first = f"{type(exc).__name__}: {first}" if len(first) < 20 else first
        raise ValueError(
            f"{str(p)!r} is not a .pt file that loads with weights_only=True: {first}"
        ) from None
    where = repr(str(p))
    if not isinstance(data, dict):
        raise ValueError(f"{where} holds a {type(data).__name__}, not a network's weights")
    if data.get("format") == PT_FORMAT:
        state = data.get("state_dict")
        spec = data.get("layers")
        if not isinstance(state, dict) or not isinstance(spec, list):
            raise ValueError(f"{where}: a relusum .pt file needs 'layers' and 'state_dict'")
        net = _build(spec, state, where)
        dom = data.get("domain")
        domain = None
        if dom is not None:
            if not (
                isinstance(dom, (list, tuple))
                and len(dom) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in dom)
            ):
                raise ValueError(
                    f"{where}: the stored domain {dom!r:.60} is not two numbers [A, B]"
                )
            domain = parse_domain(list(dom))
        _ops(net)
        return net, domain
    if "state_dict" in data and isinstance(data["state_dict"], dict):
        data = data["state_dict"]
    net = _from_bare_state_dict(data, where)
    _ops(net)
    return net, None


def load_pt(path: str | os.PathLike[str]) -> nn.Sequential:
    """Load a network written by :func:`save_pt` (``weights_only=True``; see :func:`read_pt`).

    Examples
    --------
    >>> import os, tempfile
    >>> from relusum import ReluSum
    >>> from relusum.torch_bridge import load_pt, save_pt
    >>> p = save_pt(ReluSum(0.0, [0.0], [1.0]), os.path.join(tempfile.mkdtemp(), "m.pt"))
    >>> load_pt(p)
    Sequential(
      (0): Linear(in_features=1, out_features=1, bias=True)
      (1): ReLU()
      (2): Linear(in_features=1, out_features=1, bias=True)
    )
    """
    return read_pt(path)[0]
