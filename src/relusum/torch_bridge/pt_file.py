"""``.pt`` files: writing a network's weights, and reading them back with validation.

:func:`save_pt` writes a plain dict that loads with ``torch.load(...,
weights_only=True)``; :func:`read_pt` and :func:`load_pt` read it (or the bare
``state_dict`` of an ``nn.Sequential`` of ``Linear`` layers) and check every
layer description, size and weight before building the network.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from relusum._io import atomic_path
from relusum.model import ReluSum
from relusum.targets import parse_domain
from relusum.torch_bridge.convert import to_torch
from relusum.torch_bridge.layers import _ops

#: The ``format`` tag stored in every ``.pt`` file written by :func:`save_pt`.
PT_FORMAT = "relusum-pt/1"


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
