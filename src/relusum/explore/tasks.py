"""The work the explorer's worker processes do: fits, sweeps, measures, training, ONNX.

Every function here takes a request that :mod:`relusum.explore.api` has already
validated and bounded, and returns plain JSON types (or ``bytes``).  They run
inside a worker process (see :mod:`relusum.explore.worker`) so that a run over
its time limit can be stopped by killing the process.  The table
:data:`TASKS` is the only way in: a worker runs nothing that is not named there.
"""

from __future__ import annotations

import math
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TASKS", "METHODS", "build_target", "fit_spec", "pytorch_snippet"]

#: Method key -> keyword arguments of :func:`relusum.fit` (``train`` is separate).
METHODS: dict[str, dict[str, Any]] = {
    "interp": {"interpolate": True},
    "lstsq": {},
    "opt-l2": {"knots": "optimal", "loss": "l2"},
    "opt-linf": {"knots": "optimal", "loss": "linf"},
}

#: Points of the target sent to the page for drawing a function.
PLOT_POINTS = 1001


def _finite_list(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def build_target(spec: dict[str, Any]):
    """A :class:`relusum.targets.Target` from a validated target spec.

    ``spec`` has ``formula`` (text, parsed by :mod:`relusum.formula`) and
    ``domain``, or ``data`` (``{"x": [...], "y": [...]}``), and ``samples``.

    Examples
    --------
    >>> build_target({"formula": "x**2", "domain": [0, 1], "samples": 5}).y[-1]
    np.float64(1.0)
    """
    from relusum.targets import Data, make_target

    if spec.get("data") is not None:
        d = spec["data"]
        return make_target(
            Data(np.asarray(d["x"]), np.asarray(d["y"]), name="dropped CSV"), spec.get("domain")
        )
    return make_target(spec["formula"], spec["domain"], samples=spec.get("samples"))


def _report(result) -> dict[str, Any]:
    rep = result.report.to_dict()
    return {
        k: (v if not isinstance(v, float) or math.isfinite(v) else None)
        for k, v in rep.items()
        if isinstance(v, (int, float, str, bool)) or v is None
    }


def fit_spec(spec: dict[str, Any], method: str, n_units: int, knots: list[float] | None = None):
    """Run :func:`relusum.fit` for one of :data:`METHODS`; returns the ``FitResult``.

    ``knots`` (least squares or interpolation only) replaces the uniform knots.
    """
    import relusum

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}")
    target = build_target(spec)
    kwargs = dict(METHODS[method])
    if knots is not None:
        kwargs["knots"] = np.asarray(knots, dtype=float)
    return relusum.fit(target_for_fit(target), domain=target.domain, n_units=n_units, **kwargs)


def target_for_fit(target):
    """What :func:`relusum.fit` takes for a built target: the data or the formula text."""
    from relusum.targets import Data

    if target.fn is None:
        return Data(target.x, target.y, target.weight, name=target.label)
    return target.label


def task_target(spec: dict[str, Any]) -> dict[str, Any]:
    """Points of the target for drawing: a uniform grid of a function, or the data."""
    target = build_target(spec)
    a, b = target.domain
    if target.fn is not None:
        x = np.linspace(a, b, PLOT_POINTS)
        y = target.evaluate(x)
        kind = "function"
    else:
        x, y = target.x, target.y
        kind = "data"
    return {
        "kind": kind,
        "label": target.label,
        "domain": [a, b],
        "x": _finite_list(x),
        "y": _finite_list(y),
    }


def task_fit(
    spec: dict[str, Any], method: str, n_units: int, knots: list[float] | None = None
) -> dict[str, Any]:
    """Fit and report: ``{"model": ReluSum.to_dict(), "report": {...}}``."""
    result = fit_spec(spec, method, n_units, knots)
    return {"model": result.model.to_dict(), "report": _report(result), "method": method}


def task_sweep(
    spec: dict[str, Any], method: str, units: list[int], budget: float
) -> dict[str, Any]:
    """Errors against units for one method; stops early when ``budget`` seconds are spent."""
    start = time.perf_counter()
    rows = []
    for n in units:
        try:
            result = fit_spec(spec, method, n)
        except ValueError:
            if not rows:
                raise
            break  # e.g. more units than data points allow

        rows.append(
            {"units": n, "rmse": result.report.rmse, "max_abs_error": result.report.max_abs_error}
        )
        if time.perf_counter() - start > budget:
            break
    return {"method": method, "rows": rows, "complete": len(rows) == len(units)}


def task_measure(spec: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
    """RMSE and max error of a (hand-made) model on the target's verification set."""
    from relusum.fitting.api import measure
    from relusum.model import ReluSum

    target = build_target(spec)
    s = ReluSum.from_dict(model).with_domain(target.domain)
    rmse, mae, n = measure(s, target)
    return {
        "rmse": rmse,
        "max_abs_error": mae,
        "n_verify": n,
        "error_on": "grid" if target.fn is not None else "data",
        "n_units": s.n_units,
        "n_pieces": s.n_pieces,
    }


class _ProgressStream:
    """A stand-in for stderr that turns a tqdm bar's ``k/n`` into progress calls."""

    _pattern = re.compile(r"(\d+)/(\d+)")

    def __init__(self, progress: Callable[[float, str], None]) -> None:
        self.progress = progress

    def write(self, text: str) -> int:
        found = self._pattern.findall(text)
        if found:
            k, n = (int(v) for v in found[-1])
            if n > 0:
                self.progress(min(k / n, 1.0), "training")
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def task_train(
    spec: dict[str, Any],
    n_units: int,
    steps: int,
    seed: int,
    progress: Callable[[float, str], None],
) -> dict[str, Any]:
    """Train a one-hidden-layer network with :func:`relusum.torch_bridge.train`.

    The training's progress bar (tqdm, on stderr) is read back as progress.
    """
    try:
        from relusum import torch_bridge
    except ImportError:  # one line, never the import's own text
        raise ValueError(
            "the trained-network curve needs PyTorch: pip install 'relusum[torch]'"
        ) from None
    from relusum.fitting.api import finish

    target = build_target(spec)
    start = time.perf_counter()
    progress(0.0, "starting")
    saved = sys.stderr
    sys.stderr = _ProgressStream(progress)  # type: ignore[assignment]
    try:
        res = torch_bridge.train(
            target_for_fit(target), target.domain, n_units, steps=steps, seed=seed, progress=True
        )
    finally:
        sys.stderr = saved
    model = res.relusum.with_domain(target.domain)
    result = finish(
        model,
        target,
        time.perf_counter() - start,
        loss="l2",
        knots="trained",
        extra={"steps": steps, "seed": seed},
    )
    progress(1.0, "done")
    return {"model": result.model.to_dict(), "report": _report(result), "method": "train"}


def task_onnx(model: dict[str, Any]) -> bytes:
    """The model as an ONNX file's bytes, written by :mod:`relusum.export` into a private folder."""
    from relusum.export import export
    from relusum.model import ReluSum

    s = ReluSum.from_dict(model)
    with tempfile.TemporaryDirectory(prefix="relusum-explore-") as tmp:
        path = Path(tmp) / "model.onnx"
        export(s, path)
        return path.read_bytes()


def task_sleep(seconds: float, bar: bool = False) -> dict[str, Any]:
    """Sleep (bounded to 60 s); used by the tests of the worker pool's timeout.

    With ``bar=True`` a tqdm progress bar is shown meanwhile, as training does.
    """
    if not bar:
        time.sleep(min(float(seconds), 60.0))
        return {"slept": seconds}
    from tqdm import tqdm

    steps = max(int(min(float(seconds), 60.0) / 0.05), 1)
    with tqdm(total=steps) as progress:
        for _ in range(steps):
            time.sleep(0.05)
            progress.update(1)
    return {"slept": seconds}


def pytorch_snippet(model: dict[str, Any]) -> str:
    """Python source that builds the model as a ``torch.nn.Sequential`` network.

    Unit ``i`` is the neuron ``ReLU(a*x + b)`` with ``a = 1``, ``b = -h_i`` and
    output weight ``w_i``.

    Examples
    --------
    >>> text = pytorch_snippet({"bias": 0.5, "knots": [0.0], "weights": [2.0]})
    >>> "nn.Linear(1, 1)" in text
    True
    """
    from relusum.model import ReluSum

    s = ReluSum.from_dict(model)
    n = s.n_units
    knots = ", ".join(repr(float(v)) for v in s.knots)
    weights = ", ".join(repr(float(v)) for v in s.weights)
    dom = s.domain
    xs = f"torch.linspace({dom[0]!r}, {dom[1]!r}, 5" if dom else "torch.linspace(-1.0, 1.0, 5"
    return f"""import torch
from torch import nn

# f(x) = bias + sum_i w_i * max(0, x - h_i): one hidden layer of {n} ReLU units.
# Unit i is ReLU(a*x + b) with a = 1 and b = -h_i, scaled by its output weight w_i.
knots = [{knots}]  # h_i
weights = [{weights}]  # w_i
bias = {s.bias!r}

net = nn.Sequential(nn.Linear(1, {n}), nn.ReLU(), nn.Linear({n}, 1)).double()
with torch.no_grad():
    net[0].weight.fill_(1.0)  # a_i = 1
    net[0].bias.copy_(-torch.tensor(knots, dtype=torch.float64))  # b_i = -h_i
    net[2].weight.copy_(torch.tensor([weights], dtype=torch.float64))
    net[2].bias.fill_(bias)

x = {xs}, dtype=torch.float64).unsqueeze(1)
print(net(x).squeeze(1))
"""


#: name -> function; the only work a worker process will run.
TASKS: dict[str, Callable[..., Any]] = {
    "target": task_target,
    "fit": task_fit,
    "sweep": task_sweep,
    "measure": task_measure,
    "train": task_train,
    "onnx": task_onnx,
    "sleep": task_sleep,
}
