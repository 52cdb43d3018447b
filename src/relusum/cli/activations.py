"""``relusum activations``: certified ReLU-sum activations for a ``torch.export`` model.

Loads a ``.pt2`` archive with ``torch.export.load`` (a graph, no pickled code), runs
the calibration inputs (a ``.npy`` file, batch first) through ``ep.module()``,
replaces every GELU, SiLU, tanh, sigmoid, Mish and Hardswish node by a
:class:`relusum.nn.ReluSumActivation` certified within ``--tol`` on all of R,
and writes the result again with ``torch.export.export`` / ``torch.export.save``,
optionally as ONNX (activations as Add/Relu/Mul only) and a JSON report.
Needs the extra ``relusum[torch]``; anything that cannot be handled is one line
on stderr with exit status 2, and nothing is written.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from relusum.cli._common import check_output, positive_float

EXAMPLES = """examples:
  relusum activations model.pt2 --calibration data.npy --tol 1e-3 --out model_relu.pt2
  relusum activations model.pt2 --calibration data.npy --tol 1e-2 --out m.pt2 \\
      --onnx m.onnx --report report.json
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "activations",
        help="replace a torch.export model's activations by certified ReLU sums",
        description="Replace the GELU, SiLU, tanh, sigmoid, Mish and Hardswish of a model "
        "saved with torch.export (.pt2) by ReLU sums whose error is at most --tol on all of "
        "R, fitted on the ranges seen on the calibration inputs.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="a .pt2 file written by torch.export.save")
    p.add_argument(
        "--calibration", required=True, metavar="DATA.npy", help="model inputs, batch first"
    )
    p.add_argument(
        "--tol", type=positive_float, default=1e-3, help="error bound per activation on R"
    )
    p.add_argument("--out", required=True, metavar="OUT.pt2", help="the approximated model")
    p.add_argument("--onnx", metavar="OUT.onnx", help="also write ONNX (Add/Relu/Mul only)")
    p.add_argument("--report", metavar="REPORT.json", help="per-activation report as JSON")
    p.set_defaults(func=run)


def _input_shape(ep) -> tuple:
    import torch

    users = [s for s in ep.graph_signature.input_specs if s.kind.name == "USER_INPUT"]
    if len(users) != 1:
        raise ValueError(f"the model takes {len(users)} inputs; only one-input models are handled")
    name = users[0].arg.name
    for node in ep.graph.nodes:
        if node.op == "placeholder" and node.name == name:
            val = node.meta.get("val")
            if isinstance(val, torch.Tensor):
                return tuple(val.shape), val.dtype
    raise ValueError("the model's input is not a tensor")


def run(args: argparse.Namespace) -> int:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        import numpy as np
        import torch
    except ImportError:
        raise ValueError(
            "relusum activations needs PyTorch: pip install 'relusum[torch]'"
        ) from None
    from relusum._io import atomic_write_bytes, atomic_write_text
    from relusum.nn import approximate_activations, export_onnx

    src = Path(args.model)
    if src.suffix.lower() != ".pt2":
        raise ValueError(f"{str(src)!r} is not a .pt2 file (save the model with torch.export.save)")
    if not src.is_file():
        raise ValueError(f"no such file: {str(src)!r}")
    cal = Path(args.calibration)
    if cal.suffix.lower() != ".npy" or not cal.is_file():
        raise ValueError(f"calibration {str(cal)!r} must be an existing .npy file")
    out = check_output(args.out, (".pt2",), "output")
    onnx_path = check_output(args.onnx, (".onnx",), "ONNX") if args.onnx else None
    report_path = check_output(args.report, (".json",), "report") if args.report else None
    try:
        ep = torch.export.load(str(src))
    except Exception as exc:  # noqa: BLE001 - any unreadable archive is a user error
        raise ValueError(f"cannot read {str(src)!r} as a torch.export archive ({exc})") from None
    shape, dtype = _input_shape(ep)
    try:
        data = np.load(cal, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"cannot read {str(cal)!r} as a .npy array ({exc})") from None
    if data.dtype.kind not in "fiu" or data.ndim != len(shape) or data.shape[0] < 1:
        raise ValueError(
            f"calibration array has shape {data.shape} ({data.dtype}); the model takes "
            f"{len(shape)}-d numeric inputs, batch first"
        )
    static = [int(d) if isinstance(d, int) else None for d in shape]
    if any(a is not None and a != b for a, b in zip(static[1:], data.shape[1:])):
        raise ValueError(
            f"calibration array has shape {data.shape}; the model takes {tuple(shape)}"
        )
    x = torch.from_numpy(np.ascontiguousarray(data)).to(dtype)
    batch = static[0]
    if batch is None:
        batches = [x[i : i + 4096] for i in range(0, len(x), 4096)]
    else:
        if len(x) < batch:
            raise ValueError(
                f"the model was exported for batches of {batch}; give at least {batch} rows"
            )
        batches = [x[i : i + batch] for i in range(0, len(x) - batch + 1, batch)]
    module = ep.module()
    new, reports = approximate_activations(module, tol=args.tol, calibration=batches)
    example = batches[0]
    dynamic = None if batch is not None else ({0: torch.export.Dim.AUTO},)
    new_ep = torch.export.export(new, (example,), dynamic_shapes=dynamic)
    buf = io.BytesIO()
    torch.export.save(new_ep, buf)
    payload = {
        "model": str(src),
        "tol": args.tol,
        "activations": [r.to_dict() for r in reports],
    }
    if onnx_path is not None:
        export_onnx(new, example, onnx_path)
    atomic_write_bytes(out, buf.getvalue())
    if report_path is not None:
        atomic_write_text(report_path, json.dumps(payload, indent=2))
    for r in reports:
        print(
            f"{r.name}: {r.function} -> {r.n_units} ReLU units on "
            f"[{r.fitted_domain[0]:.4g}, {r.fitted_domain[1]:.4g}], max error on R "
            f"{r.max_error_everywhere:.2e} ({r.n_outside} of {r.n_inputs} inputs outside)"
        )
    print(
        f"wrote {out}"
        + (f", {onnx_path}" if onnx_path else "")
        + (f", {report_path}" if report_path else "")
    )
    sys.stdout.flush()
    return 0
