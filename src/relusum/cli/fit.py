"""``relusum fit``: fit a formula or data and print, save, plot or export the result."""

from __future__ import annotations

import argparse
import json
import sys

from relusum._text import or_list, plural
from relusum.cli._common import add_domain, check_output, domain_from, positive_float, positive_int
from relusum.plot import FIGURE_SUFFIXES

EXAMPLES = """examples:
  relusum fit "sin(x)" --domain 0 2*pi --units 16 --plot fit.png
  relusum fit "gelu(x)" --domain -8 8 --knots optimal --loss linf --tol 1e-3 --json
  relusum fit --data points.csv --x time --y value --units 8 --save model.json
  relusum fit --data dose.csv --monotone increasing --loss huber --units 8
  relusum fit "tanh(x)" --domain -4 4 --knots optimal --loss linf --right-slope 0
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fit",
        help="fit a sum of shifted ReLUs to a formula or to data",
        description="Fit bias + sum_i w_i * max(0, x - h_i) to a formula in x or to data.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", nargs="?", help='a formula in x, e.g. "sin(x)" (or use --data)')
    add_domain(p)
    p.add_argument(
        "--data", metavar="CSV", help="fit the points of a CSV file instead of a formula"
    )
    p.add_argument("--x", default="0", metavar="COL", help="x column: header name or 0-based index")
    p.add_argument("--y", default="1", metavar="COL", help="y column: header name or 0-based index")
    p.add_argument(
        "--units", type=positive_int, metavar="N", help="number of ReLU units (default 16)"
    )
    p.add_argument(
        "--knots",
        default="uniform",
        metavar="uniform|optimal|h1,h2,...",
        help="knot placement: uniform, optimal, or a comma-separated list",
    )
    p.add_argument(
        "--loss",
        choices=("l2", "linf", "l1", "huber", "quantile"),
        help="least squares, max error, least absolute deviations, Huber or pinball "
        "(default l2; linf with --tol)",
    )
    p.add_argument(
        "--huber-delta",
        type=positive_float,
        metavar="D",
        help="where the Huber loss turns linear (default 1.345 * 1.4826 * MAD of the residuals)",
    )
    p.add_argument(
        "--quantile",
        type=float,
        metavar="Q",
        help="with --loss quantile: the fraction of points below the fit (default 0.5)",
    )
    p.add_argument(
        "--tol",
        type=positive_float,
        metavar="EPS",
        help="fewest units with error at most EPS: the max error, or the RMSE with --loss l2",
    )
    p.add_argument(
        "--max-units",
        type=positive_int,
        default=1000,
        metavar="N",
        help="upper limit of units for --tol (default 1000)",
    )
    p.add_argument(
        "--interpolate", action="store_true", help="match the target at every knot and at B"
    )
    g = p.add_argument_group(
        "shape constraints (combinable, with every loss and knot choice; 'none' or inf for "
        "no bound)"
    )
    g.add_argument("--monotone", choices=("increasing", "decreasing"), help="monotone fit")
    g.add_argument("--shape", choices=("convex", "concave"), help="convex or concave fit")
    g.add_argument(
        "--slope-bounds", nargs=2, metavar=("LO", "HI"), help="bounds on every slope on the domain"
    )
    g.add_argument(
        "--value-bounds", nargs=2, metavar=("LO", "HI"), help="bounds on the values on the domain"
    )
    g.add_argument(
        "--through",
        action="append",
        default=[],
        metavar="X,Y",
        help="a point the fit passes through exactly (repeatable)",
    )
    g.add_argument(
        "--right-slope",
        metavar="S",
        help="the slope beyond the last knot (the left tail is flat); for built-in targets "
        "the report adds max_error_everywhere, the largest error on all of R",
    )
    p.add_argument(
        "--samples", type=positive_int, metavar="N", help="samples of a formula (default 2000)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--save", metavar="FILE.json", help="write the model and report as JSON")
    p.add_argument(
        "--plot",
        metavar="FILE",
        help=f"plot target, fit and ReLU terms ({or_list(FIGURE_SUFFIXES)})",
    )
    p.add_argument(
        "--export",
        metavar="FILE",
        action="append",
        default=[],
        help="export by extension: .json .csv .h .onnx .pt (repeatable)",
    )
    p.set_defaults(func=run)


def _knots_arg(text: str):
    text = text.strip()
    if text in ("uniform", "optimal"):
        return text
    from relusum.formula import evaluate_constant

    parts = [t for t in text.split(",") if t.strip()]
    if not parts:
        raise ValueError(f"--knots must be uniform, optimal or a list like 0,0.5,1; got {text!r}")
    return [evaluate_constant(t.strip()) for t in parts]


def _number_arg(text: str, what: str, allow_none: bool = False) -> float | None:
    from relusum.formula import evaluate_constant

    t = text.strip().lower()
    if allow_none and t in ("none", ""):
        return None
    if t in ("inf", "+inf", "infinity"):
        return float("inf")
    if t in ("-inf", "-infinity"):
        return float("-inf")
    try:
        return float(evaluate_constant(text))
    except ValueError as exc:
        raise ValueError(f"{what} needs numbers, got {text!r} ({exc})") from None


def _constraint_args(args: argparse.Namespace) -> dict:
    out: dict = {"monotone": args.monotone, "shape": args.shape}
    for name, flag in (("slope_bounds", "--slope-bounds"), ("value_bounds", "--value-bounds")):
        pair = getattr(args, name)
        if pair is not None:
            out[name] = tuple(_number_arg(v, flag, allow_none=True) for v in pair)
    pts = []
    for text in args.through:
        parts = text.split(",")
        if len(parts) != 2:
            raise ValueError(f"--through needs X,Y such as 0,0; got {text!r}")
        pts.append(tuple(_number_arg(v, "--through") for v in parts))
    if pts:
        out["through"] = pts
    if args.right_slope is not None:
        out["right_slope"] = _number_arg(args.right_slope, "--right-slope")
    return out


def run(args: argparse.Namespace) -> int:
    from relusum.export import export_suffixes
    from relusum.plot import FIGURE_SUFFIXES

    if args.target is not None and args.data is not None:
        raise ValueError("give either a formula or --data, not both")
    if args.target is None and args.data is None:
        raise ValueError('give a formula such as "sin(x)" or --data FILE.csv')
    # Validate every output path before any work, so nothing is half-done.
    if args.save:
        check_output(args.save, (".json",), "--save")
    if args.plot:
        check_output(args.plot, FIGURE_SUFFIXES, "--plot")
    for path in args.export:
        check_output(path, export_suffixes(), "--export")
    domain = domain_from(args)
    knots = _knots_arg(args.knots)
    shape_kw = _constraint_args(args)

    import relusum

    if args.data is not None:
        target = relusum.read_csv(args.data, x=args.x, y=args.y)
    else:
        target = args.target.strip()
        if domain is None:
            raise ValueError("a formula needs --domain A B")
    result = relusum.fit(
        target,
        domain=domain,
        n_units=args.units,
        knots=knots,
        loss=args.loss,
        interpolate=args.interpolate,
        samples=args.samples,
        tol=args.tol,
        max_units=args.max_units,
        huber_delta=args.huber_delta,
        quantile=args.quantile,
        **shape_kw,
    )
    payload = result.to_dict()
    if args.save:
        result.model.save(
            args.save, **{k: v for k, v in payload.items() if k not in result.model.to_dict()}
        )
    for path in args.export:
        relusum.export.export(result.model, path)
    if args.plot:
        _plot(result, args.plot)
    if args.json:
        print(json.dumps(payload))
    else:
        _print_summary(result, args)
    return 0


def _plot(result, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from relusum.plot import plot_fit, save_figure

    ax = plot_fit(result)
    save_figure(ax.figure, path)
    plt.close(ax.figure)


def _print_summary(result, args: argparse.Namespace) -> None:
    rep, s = result.report, result.model
    a, b = result.target.domain
    where = (
        f"on a {rep.n_verify:,}-point verification grid"
        if rep.error_on == "grid"
        else f"on the {rep.n_verify:,} data points"
    )
    out = sys.stdout
    print(f"fit {result.target.label} on [{a:.6g}, {b:.6g}]", file=out)
    how = "interpolation" if rep.interpolate else rep.loss
    print(
        f"  {plural(rep.n_units, 'unit')}, {plural(rep.n_pieces, 'linear piece')}; "
        f"{rep.knots} knots, {how}",
        file=out,
    )
    print(f"  RMSE {rep.rmse:.4g}, max |error| {rep.max_abs_error:.4g} ({where})", file=out)
    if "tol" in rep.extra:
        what = "max |error|" if rep.extra["tol_bounds"] == "max_abs_error" else "RMSE"
        print(
            f"  tolerance {rep.extra['tol']:g} on the {what} (loss {rep.extra['tol_loss']})",
            file=out,
        )
    if "constraints" in rep.extra:
        cons = ", ".join(f"{k} {v}" for k, v in rep.extra["constraints"].items())
        print(f"  constraints: {cons}", file=out)
    if "max_error_everywhere" in rep.extra:
        print(f"  max |error| on all of R: {rep.extra['max_error_everywhere']:.4g}", file=out)
    print(f"  fitted in {rep.seconds:.3f} s; bias {s.bias:.6g}", file=out)
    for label, path in (("model", args.save), ("plot", args.plot)):
        if path:
            print(f"  wrote {label}: {path}", file=out)
    for path in args.export:
        print(f"  exported: {path}", file=out)
