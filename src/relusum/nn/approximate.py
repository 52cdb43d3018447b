"""Swap a model's smooth activations for ReLU sums with an error bound on all of R.

How a sum is certified (:func:`certified_sum`)
    Every supported activation ``g`` has a constant left asymptote ``L`` and a
    right asymptote line ``l(x) = s x + c`` (``s = 1`` for GELU, SiLU,
    softplus, ELU, Mish and Hardswish; ``s = 0`` for tanh and sigmoid), and it
    approaches both monotonically beyond its last turning point.

    1. Widen the range to ``[A, B]`` so that ``|g - L| <= tol/4`` left of ``A``
       and ``|g - l| <= tol/4`` right of ``B`` (and never narrower than the range
       asked for).
    2. Fit the fewest-unit optimal max-error sum within ``tol/2`` on ``[A, B]``
       (``relusum.fit(..., knots="optimal", loss="linf", tol=...)``), measured
       on the fit's dense verification grid.
    3. Add one unit at ``B`` that turns the last slope into ``s``.  Left of its
       first knot a sum is flat, so left of ``A`` it equals ``f(A)``; right of
       ``B`` it is ``f(B) + s (x - B)``.
    4. The error on R is the larger of the error on ``[A, B]`` and the two tail
       bounds, which follow from monotonicity, not from sampling:
       ``sup_{x<A} |g - f(A)| = max(|g(A) - f(A)|, |L - f(A)|)`` and
       ``sup_{x>B} |g - f| = max(|r(B) - d|, |d|)`` with ``r = g - l`` and
       ``d = f(B) - l(B)``.  Monotonicity of each tail is checked numerically
       on a logarithmic grid out to 10^8 before the bound is reported.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from relusum.model import ReluSum
from relusum.nn.activation import ReluSumActivation

__all__ = [
    "ACTIVATIONS",
    "ActivationReport",
    "Certified",
    "certified_sum",
    "approximate_activations",
]

#: Supported modules and the slope of their right asymptote.
ACTIVATIONS: dict[type, float] = {
    nn.GELU: 1.0,
    nn.SiLU: 1.0,
    nn.Softplus: 1.0,
    nn.ELU: 1.0,
    nn.Mish: 1.0,
    nn.Hardswish: 1.0,
    nn.Tanh: 0.0,
    nn.Sigmoid: 0.0,
}
_FAR = 1e4  # where the asymptotes are read off (every supported g has converged in float64)


@dataclass(frozen=True)
class Certified:
    """A ReLU sum for an activation with its certified errors."""

    model: ReluSum
    domain: tuple[float, float]
    max_error_range: float
    max_error_everywhere: float
    tol: float


@dataclass(frozen=True)
class ActivationReport:
    """What :func:`approximate_activations` did to one activation module."""

    name: str
    function: str
    range_seen: tuple[float, float]
    fitted_domain: tuple[float, float]
    n_units: int
    max_error_range: float
    max_error_everywhere: float
    n_outside: int
    n_inputs: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _numpy_fn(module: nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    """The module's own function in float64 (parameters such as ELU's alpha included)."""
    mod = copy.deepcopy(module).double().eval()

    def fn(x: np.ndarray) -> np.ndarray:
        xa = np.ascontiguousarray(x, dtype=np.float64)
        if not xa.flags.writeable:  # (a cached grid): torch warns on read-only arrays
            xa = xa.copy()
        with torch.no_grad():
            return mod(torch.from_numpy(xa)).numpy()

    return fn


def _tail_point(err: Callable[[float], float], start: float, step: float, bound: float) -> float:
    """First ``x = start + step * 2^k`` where ``err(x) <= bound`` (``step`` gives the side)."""
    x = start
    d = step
    for _ in range(80):
        if err(x) <= bound:
            return x
        x = start + d
        d *= 2.0
    raise ValueError("the activation does not approach its asymptote; cannot certify the tail")


def _monotone(v: np.ndarray, scale: float) -> bool:
    """Monotone up to rounding (``scale``: the size of the numbers ``v`` was computed from)."""
    d = np.diff(v)
    eps = 1e-14 * max(scale, 1.0)
    return bool(np.all(d >= -eps) or np.all(d <= eps))


def certified_sum(
    fn: Callable[[np.ndarray], np.ndarray],
    lo: float,
    hi: float,
    tol: float,
    right_slope: float,
    max_units: int = 400,
) -> Certified:
    """The fewest-unit optimal sum within ``tol`` on R for an activation ``fn`` (see module doc).

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.nn import certified_sum
    >>> c = certified_sum(np.tanh, -4, 4, 1e-2, right_slope=0.0)
    >>> bool(c.max_error_everywhere <= 1e-2), float(c.model.slopes[-1])
    (True, 0.0)
    """
    from relusum.fitting.api import fit

    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"the range must be finite with lo < hi, got [{lo}, {hi}]")
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    left_value = float(fn(np.array([-_FAR]))[0])
    s = float(right_slope)
    c = float(fn(np.array([_FAR]))[0]) - s * _FAR

    def g(x: float) -> float:
        return float(fn(np.array([x]))[0])

    width = hi - lo
    a = _tail_point(lambda x: abs(g(x) - left_value), lo, -0.25 * width, tol / 4)
    b = _tail_point(lambda x: abs(g(x) - (s * x + c)), hi, 0.25 * width, tol / 4)
    left_grid = -np.geomspace(max(-a, 1.0), 1e8, 400) if a < 0 else None
    xs_left = np.concatenate(([a], left_grid[left_grid < a])) if left_grid is not None else None
    xs_right = np.concatenate(([b], np.geomspace(max(b, 1.0), 1e8, 400)))
    if xs_left is not None and not _monotone(fn(xs_left), 1.0):
        raise ValueError("the activation is not monotone left of the fitted range")
    right_rest = fn(xs_right) - (s * xs_right + c)
    if not _monotone(right_rest, float(np.max(np.abs(xs_right))) * max(abs(s), 1.0)):
        raise ValueError("the activation does not approach its right asymptote monotonically")
    fit_tol = tol / 2
    for _ in range(4):
        r = fit(fn, domain=(a, b), knots="optimal", loss="linf", tol=fit_tol, max_units=max_units)
        m = r.model
        last = float(m.slopes[-1]) if m.n_units else 0.0
        if last != s:
            m = ReluSum(m.bias, np.append(m.knots, b), np.append(m.weights, s - last), (a, b))
        grid = np.union1d(np.linspace(a, b, 200_001), m.knots)
        err_range = float(np.max(np.abs(m(grid) - fn(grid))))
        fa = float(m(a))
        left = max(abs(g(a) - fa), abs(left_value - fa))
        d = float(m(b)) - (s * b + c)
        right = max(abs(g(b) - (s * b + c) - d), abs(d))
        everywhere = max(err_range, left, right)
        if everywhere <= tol:
            return Certified(m, (a, b), err_range, everywhere, tol)
        fit_tol /= 2
    raise ValueError(f"could not certify an error of {tol:g} on R within {max_units} units")


def _function_key(module: nn.Module) -> str:
    return repr(module)


def _functional_table() -> dict[Callable, type]:
    import torch.nn.functional as F

    return {
        F.gelu: nn.GELU,
        F.silu: nn.SiLU,
        F.softplus: nn.Softplus,
        F.elu: nn.ELU,
        F.mish: nn.Mish,
        F.hardswish: nn.Hardswish,
        torch.tanh: nn.Tanh,
        torch.sigmoid: nn.Sigmoid,
        F.tanh: nn.Tanh,
        F.sigmoid: nn.Sigmoid,
    }


def _modularize_attributes(model: nn.Module) -> None:
    """Activation functions stored as attributes (``layer.activation = F.gelu``) become modules.

    ``torch.nn.TransformerEncoderLayer`` and ``TransformerDecoderLayer`` keep
    ``activation="gelu"`` this way and call it in their forward; their fused fast
    path (flag ``activation_relu_or_gelu``) is switched off so that the swapped
    module is the one that runs.
    """
    table = _functional_table()
    for mod in list(model.modules()):
        for attr, value in list(vars(mod).items()):
            if attr.startswith("_") or not callable(value) or isinstance(value, nn.Module):
                continue
            try:
                cls = table.get(value)
            except TypeError:  # unhashable callables are not activations
                continue
            if cls is None:
                continue
            delattr(mod, attr)
            mod.add_module(attr, cls())
            if hasattr(mod, "activation_relu_or_gelu"):
                mod.activation_relu_or_gelu = 0


def _modularize(model: nn.Module) -> nn.Module:
    """Turn functional activation calls into modules with ``torch.fx`` (when traceable)."""
    table = _functional_table()
    aten = torch.ops.aten
    # graphs of torch.export programs (``ep.module()``) call the ATen operators
    table.update(
        {
            aten.gelu.default: nn.GELU,
            aten.silu.default: nn.SiLU,
            aten.tanh.default: nn.Tanh,
            aten.sigmoid.default: nn.Sigmoid,
            aten.mish.default: nn.Mish,
            aten.hardswish.default: nn.Hardswish,
        }
    )
    if isinstance(model, torch.fx.GraphModule):
        gm = model  # already a graph (and possibly not traceable again)
    else:
        try:
            gm = torch.fx.symbolic_trace(model)
        except Exception:  # noqa: BLE001 - untraceable models keep their functional calls
            return model
    changed = False
    for i, node in enumerate(list(gm.graph.nodes)):
        if node.op == "call_function" and node.target in table and len(node.args) == 1:
            kwargs = {k: v for k, v in node.kwargs.items() if k != "inplace"}
            try:
                mod = table[node.target](**kwargs)
            except TypeError:
                continue
            name = f"_relusum_act{i}"
            gm.add_module(name, mod)
            with gm.graph.inserting_after(node):
                new = gm.graph.call_module(name, node.args)
            node.replace_all_uses_with(new)
            gm.graph.erase_node(node)
            changed = True
    if not changed:
        return model
    gm.graph.lint()
    gm.recompile()
    return gm


def _batches(calibration: Any) -> Iterable:
    if isinstance(calibration, torch.Tensor):
        return [calibration]
    return calibration


def approximate_activations(
    model: nn.Module,
    tol: float = 1e-3,
    calibration: Any = None,
    margin: float = 0.1,
    inplace: bool = False,
    max_units: int = 400,
) -> tuple[nn.Module, list[ActivationReport]]:
    """Replace every supported activation by a certified :class:`ReluSumActivation`.

    Parameters
    ----------
    model : torch.nn.Module
    tol : float
        Error bound on all of R for each replaced activation.
    calibration : tensor or iterable of batches
        Inputs to run through the model (a batch may be a tensor or a tuple of
        arguments); the input range of every activation is recorded.
    margin : float
        Widen each recorded range by this fraction of its width on both sides.
    inplace : bool
        Modify ``model`` instead of a deep copy.
    max_units : int
        Upper limit of units per sum.

    Returns
    -------
    model, reports
        The model with ReLU-sum activations (evaluation mode) and one
        :class:`ActivationReport` per replaced module.  One sum is fitted per
        distinct (function, range) and shared between modules.
    """
    if calibration is None:
        raise ValueError(
            "calibration batches are needed to find the input range of each activation"
        )
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not (isinstance(margin, (int, float)) and margin >= 0 and math.isfinite(margin)):
        raise ValueError(f"margin must be a non-negative number, got {margin!r}")
    work = model if inplace else copy.deepcopy(model)
    _modularize_attributes(work)
    work = _modularize(work)
    work.eval()
    targets = [
        (name, mod) for name, mod in work.named_modules() if type(mod) in ACTIVATIONS and name
    ]
    if not targets:
        raise ValueError(
            "the model has no supported activation (GELU, SiLU, Tanh, Sigmoid, Softplus, ELU, "
            "Mish, Hardswish)"
        )
    seen: dict[str, list[float]] = {name: [math.inf, -math.inf, 0] for name, _ in targets}
    values: dict[str, list[torch.Tensor]] = {name: [] for name, _ in targets}
    hooks = []
    for name, mod in targets:

        def hook(_m, inputs, _out, name=name):
            x = inputs[0].detach()
            st = seen[name]
            st[0] = min(st[0], float(x.min()))
            st[1] = max(st[1], float(x.max()))
            st[2] += x.numel()
            values[name].append(x.flatten()[:: max(1, x.numel() // 100_000)].double().cpu())

        hooks.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            for batch in _batches(calibration):
                if isinstance(batch, (tuple, list)):
                    work(*batch)
                else:
                    work(batch)
    finally:
        for h in hooks:
            h.remove()
    cache: dict[tuple, Certified] = {}
    reports = []
    for name, mod in targets:
        lo, hi, count = seen[name]
        if count == 0:
            continue  # never called on the calibration data: left as it is
        pad = margin * (hi - lo) if hi > lo else 1.0
        lo_w, hi_w = lo - pad, hi + pad
        key = (_function_key(mod), round(lo_w, 12), round(hi_w, 12))
        if key not in cache:
            cache[key] = certified_sum(
                _numpy_fn(mod), lo_w, hi_w, tol, ACTIVATIONS[type(mod)], max_units
            )
        cert = cache[key]
        new = ReluSumActivation(cert.model)
        _set_module(work, name, new)
        seen_vals = torch.cat(values[name]).numpy()
        outside = int(np.count_nonzero((seen_vals < cert.domain[0]) | (seen_vals > cert.domain[1])))
        reports.append(
            ActivationReport(
                name=name,
                function=_function_key(mod),
                range_seen=(float(lo), float(hi)),
                fitted_domain=cert.domain,
                n_units=cert.model.n_units,
                max_error_range=cert.max_error_range,
                max_error_everywhere=cert.max_error_everywhere,
                n_outside=outside,
                n_inputs=int(count),
            )
        )
    # Shared sums: modules fitted for the same (function, range) reuse one object.
    return work, reports


def _set_module(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)
