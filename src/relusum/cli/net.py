"""``relusum train`` and ``relusum decompose``: the PyTorch bridge on the command line.

Both need the extra ``relusum[torch]``; without it they stop with one line
naming the extra (exit status 2).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from relusum._io import OutputPlan
from relusum._pieces import MAX_PIECES
from relusum._text import or_list, plural
from relusum.cli._common import (
    add_domain,
    add_no_clobber,
    commit_outputs,
    domain_from,
    dump_json,
    positive_float,
    positive_int,
    terms_table,
)
from relusum.plot import FIGURE_SUFFIXES

TRAIN_EXAMPLES = """examples:
  relusum train "sin(x)" --domain 0 2*pi --units 16
  relusum train "gelu(x)" --domain -8 8 --units 8 --steps 1000 --seed 3 --json
  relusum train "1/(1+25*x**2)" --domain -1 1 --units 16 --init fit --plot units.png
"""

DECOMPOSE_EXAMPLES = """examples:
  relusum fit "sin(x)" --domain 0 2*pi --units 8 --export net.pt
  relusum decompose net.pt --domain 0 2*pi
  relusum decompose net.pt --domain -1 7 --plot units.png --json
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a one-hidden-layer ReLU network and compare it with the optimal fit",
        description="Train a one-hidden-layer ReLU network (Adam, cosine schedule) on the "
        "samples relusum fit uses, and report its error on the verification grid beside "
        "the optimal fit's with the same number of units.",
        epilog=TRAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", help='a formula in x, e.g. "sin(x)"')
    add_domain(p, required=True)
    p.add_argument(
        "--units", type=positive_int, default=16, metavar="N", help="hidden units (default 16)"
    )
    p.add_argument(
        "--steps", type=positive_int, default=3000, metavar="N", help="Adam steps (default 3000)"
    )
    p.add_argument(
        "--lr",
        type=positive_float,
        metavar="LR",
        help="peak learning rate (default 1e-2, or 1e-4 with --init fit)",
    )
    p.add_argument(
        "--seed", type=int, default=0, metavar="S", help="initialisation seed (default 0)"
    )
    p.add_argument(
        "--init",
        choices=("default", "fit"),
        default="default",
        help="PyTorch's default initialisation, or start from the optimal fit",
    )
    p.add_argument(
        "--samples", type=positive_int, metavar="N", help="samples of the formula (default 2000)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--plot", metavar="FILE", help=f"figure of the trained units ({or_list(FIGURE_SUFFIXES)})"
    )
    p.add_argument(
        "--export",
        metavar="FILE",
        action="append",
        default=[],
        help="write the trained network: .pt, .onnx or .json (repeatable)",
    )
    add_no_clobber(p)
    p.set_defaults(func=run_train)

    p = sub.add_parser(
        "decompose",
        help="take a saved ReLU network apart exactly into shifted ReLUs",
        description="Read a network saved as .pt (by relusum, or the state_dict of an "
        "nn.Sequential of Linear layers with ReLU between them; loaded with "
        "weights_only=True, never unpickling objects) and print its exact sum of "
        "shifted ReLUs on the domain; for one hidden layer also each unit's state.",
        epilog=DECOMPOSE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="a .pt file")
    add_domain(p, help="interval [A, B] (default: the domain stored in the file)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--plot",
        metavar="FILE",
        help=f"figure of the units or the sum ({or_list(FIGURE_SUFFIXES)})",
    )
    p.add_argument("--save", metavar="FILE.json", help="write the exact sum as a model JSON")
    p.add_argument(
        "--max-pieces",
        type=positive_int,
        default=MAX_PIECES,
        metavar="N",
        help=f"refuse networks with more linear pieces on the domain than N "
        f"(default {MAX_PIECES:,}; a deep network can have 2^depth)",
    )
    add_no_clobber(p)
    p.set_defaults(func=run_decompose)


def _bridge():
    try:
        from relusum import torch_bridge
    except ImportError as exc:
        raise ValueError(
            f"this command needs PyTorch: pip install 'relusum[torch]' ({exc})"
        ) from None
    return torch_bridge


def _save_plot(draw, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from relusum.plot import save_figure

    ax = draw()
    try:
        save_figure(ax.figure, path)
    finally:
        plt.close(ax.figure)


def _optimal(target: str, domain, units: int, samples) -> tuple[Any, str]:
    from relusum.fitting.api import fit

    try:
        r = fit(target, domain, units, knots="optimal", samples=samples, progress=False)
        return r, "optimal knots"
    except (ValueError, ImportError, NotImplementedError) as exc:
        if "not available" not in str(exc) and not isinstance(exc, ImportError):
            raise
        return fit(target, domain, units, samples=samples), "uniform knots (optimal unavailable)"


def run_train(args: argparse.Namespace) -> int:
    from relusum.plot import FIGURE_SUFFIXES

    if args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {args.seed}")
    with OutputPlan(no_clobber=args.no_clobber) as plan:
        tmp_plot = plan.add(args.plot, FIGURE_SUFFIXES, "--plot") if args.plot else None
        tmp_exports = [plan.add(p, (".pt", ".onnx", ".json"), "--export") for p in args.export]
        domain = domain_from(args)
        tb = _bridge()
        target = args.target.strip()
        res = tb.train(
            target,
            domain,
            args.units,
            steps=args.steps,
            lr=args.lr,
            seed=args.seed,
            init=args.init,
            samples=args.samples,
        )
        rmse, mae, n_verify = res.errors()
        opt, how = _optimal(target, domain, args.units, args.samples)
        units = tb.neurons(res.model, res.target.domain)
        counts = {k: sum(u.state == k for u in units) for k in ("live", "linear", "dead")}
        left = sum(u.state == "live" and u.facing == "left" for u in units)
        text = None
        if args.json:
            text = dump_json(
                {
                    "target": res.target.label,
                    "domain": list(res.target.domain),
                    "units": args.units,
                    "steps": res.steps,
                    "seed": res.seed,
                    "init": res.init,
                    "start": res.start,
                    "lr": res.lr,
                    "trained": {
                        "rmse": rmse,
                        "max_abs_error": mae,
                        "seconds": res.seconds,
                        "final_loss": float(res.history[-1]),
                        "best_loss": float(res.history.min()),
                        "n_pieces": res.relusum.n_pieces,
                        "live": counts["live"],
                        "linear": counts["linear"],
                        "dead": counts["dead"],
                        "facing_left": left,
                    },
                    "optimal": {
                        "rmse": opt.report.rmse,
                        "max_abs_error": opt.report.max_abs_error,
                        "seconds": opt.report.seconds,
                        "knots": how,
                    },
                    "error_on": "grid",
                    "n_verify": n_verify,
                    "relusum": res.relusum.to_dict(),
                }
            )
        for tmp in tmp_exports:
            if tmp.suffix.lower() == ".json":
                res.relusum.save(tmp, target=res.target.label, trained=True)
            elif tmp.suffix.lower() == ".onnx":
                tb.to_onnx(res.model, tmp)
            else:
                tb.save_pt(res.model, tmp)
        if tmp_plot is not None:
            _save_plot(
                lambda: tb.plot_units(res.model, res.target.domain, optimal=opt.model), tmp_plot
            )
        commit_outputs(plan)
    if text is not None:
        print(text)
        return 0
    a, b = res.target.domain
    out = sys.stdout
    print(
        f"train {res.target.label} on [{a:.6g}, {b:.6g}]: {plural(args.units, 'unit')}, "
        f"{res.steps} Adam steps, seed {res.seed}, init {res.start}",
        file=out,
    )
    print(f"  errors on a {n_verify:,}-point verification grid:", file=out)
    print(f"  {'':<26}{'RMSE':>12}{'max |error|':>14}{'seconds':>10}", file=out)
    print(f"  {'trained network':<26}{rmse:>12.4g}{mae:>14.4g}{res.seconds:>10.2f}", file=out)
    print(
        f"  {'fit, ' + how.split(' (')[0]:<26}{opt.report.rmse:>12.4g}"
        f"{opt.report.max_abs_error:>14.4g}{opt.report.seconds:>10.2f}",
        file=out,
    )
    if "unavailable" in how:
        print(
            "  (optimal knots are not available in this version: uniform least squares shown)",
            file=out,
        )
    ratio = mae / opt.report.max_abs_error if opt.report.max_abs_error > 0 else float("inf")
    print(f"  the trained network's max error is {ratio:.3g}x the fit's", file=out)
    print(
        f"  units: {counts['live']} live ({left} facing left), {counts['linear']} linear, "
        f"{counts['dead']} dead; {plural(res.relusum.n_pieces, 'linear piece')}",
        file=out,
    )
    for path in args.export:
        print(f"  exported: {path}", file=out)
    if args.plot:
        print(f"  wrote plot: {args.plot}", file=out)
    return 0


def run_decompose(args: argparse.Namespace) -> int:
    from relusum.plot import FIGURE_SUFFIXES

    with OutputPlan(no_clobber=args.no_clobber) as plan:
        tmp_plot = plan.add(args.plot, FIGURE_SUFFIXES, "--plot") if args.plot else None
        tmp_save = plan.add(args.save, (".json",), "--save") if args.save else None
        domain = domain_from(args)
        tb = _bridge()
        net, stored = tb.read_pt(args.model)
        domain = domain or stored
        if domain is None:
            raise ValueError(f"{args.model!r} stores no domain; give --domain A B")
        s = tb.from_torch(net, domain, max_pieces=args.max_pieces)
        arch = tb.describe_layers(net)
        try:
            units = tb.neurons(net, domain)
        except ValueError:
            units = None
        text = None
        if args.json:
            payload: dict[str, Any] = {
                "network": arch,
                "domain": list(domain),
                "n_pieces": s.n_pieces,
                "relusum": s.to_dict(),
            }
            if units is not None:
                payload["neurons"] = [
                    {
                        "index": u.index,
                        "a": u.a,
                        "b": u.b,
                        "v": u.v,
                        "knot": u.knot,
                        "facing": u.facing,
                        "state": u.state,
                        "weight": u.weight,
                    }
                    for u in units
                ]
            text = dump_json(payload)
        if tmp_save is not None:
            s.save(tmp_save, source=str(args.model), network=arch)
        if tmp_plot is not None:
            if units is not None:
                _save_plot(lambda: tb.plot_units(net, domain), tmp_plot)
            else:
                from relusum.plot import plot_relusum

                _save_plot(lambda: plot_relusum(s, domain=domain), tmp_plot)
        commit_outputs(plan)
    if text is not None:
        print(text)
        return 0
    a, b = domain
    print(f"network {arch}")
    print(f"on [{a:.10g}, {b:.10g}] it is exactly f(x) = bias + sum_i w_i * max(0, x - h_i):")
    print(f"bias {s.bias:.10g}; {plural(s.n_units, 'term')}; {plural(s.n_pieces, 'linear piece')}")
    print(terms_table(s))
    if units is not None:
        print()
        print("hidden units v * max(0, a x + b) on the domain:")
        print(tb.neuron_table(units))
        n_left = sum(u.state == "live" and u.facing == "left" for u in units)
        print(
            f"{sum(u.state == 'live' for u in units)} live ({n_left} facing left), "
            f"{sum(u.state == 'linear' for u in units)} linear, "
            f"{sum(u.state == 'dead' for u in units)} dead"
        )
    for label, path in (("model", args.save), ("plot", args.plot)):
        if path:
            print(f"wrote {label}: {path}")
    return 0
