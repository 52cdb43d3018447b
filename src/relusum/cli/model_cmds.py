"""``relusum eval`` and ``relusum show``: use a saved model."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate a saved model at points, one value per line",
        description="Print f(x) for each x, one value per line.",
    )
    p.add_argument("model", help="a model JSON file (from relusum fit --save)")
    p.add_argument("x", nargs="+", help="points: numbers or constant formulas such as -pi/2")
    p.set_defaults(func=run_eval)

    p = sub.add_parser(
        "show",
        help="print a saved model as a table of knots, weights and slopes",
        description="Print a model's bias, domain and a table of its units.",
    )
    p.add_argument("model", help="a model JSON file")
    p.set_defaults(func=run_show)


def run_eval(args: argparse.Namespace) -> int:
    from relusum.formula import evaluate_constant
    from relusum.model import ReluSum

    model = ReluSum.load(args.model)
    xs = [evaluate_constant(t.strip()) for t in args.x]
    for v in model(xs):
        print(repr(float(v)))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from relusum.model import ReluSum

    s = ReluSum.load(args.model)
    dom = "none" if s.domain is None else f"[{s.domain[0]:.10g}, {s.domain[1]:.10g}]"
    print("f(x) = bias + sum_i w_i * max(0, x - h_i)")
    print(f"bias {s.bias:.10g}; domain {dom}; {s.n_units} units; {s.n_pieces} linear pieces")
    print(f"{'i':>5}  {'knot h_i':>16}  {'weight w_i':>16}  {'slope after':>16}  {'f(h_i)':>16}")
    slopes = s.slopes[1:]
    values = s(s.knots) if s.n_units else []
    for i in range(s.n_units):
        print(
            f"{i:>5}  {s.knots[i]:>16.10g}  {s.weights[i]:>16.10g}  {slopes[i]:>16.10g}"
            f"  {values[i]:>16.10g}"
        )
    return 0
