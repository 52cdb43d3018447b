"""``relusum fit``: fit a formula or data and print, save, plot or export the result."""

from __future__ import annotations

import argparse
import sys

from relusum._io import OutputPlan
from relusum._text import or_list, plural
from relusum.cli import _scale as scale_cli
from relusum.cli._common import (
    add_domain,
    add_no_clobber,
    commit_outputs,
    domain_from,
    dump_json,
    finite_payload,
    positive_float,
    positive_int,
)
from relusum.plot import FIGURE_SUFFIXES

EXAMPLES = """examples:
  relusum fit "sin(x)" --domain 0 2*pi --units 16 --plot fit.png
  relusum fit "gelu(x)" --domain -8 8 --knots optimal --loss linf --tol 1e-3 --json
  relusum fit --data points.csv --x time --y value --units 8 --save model.json
  relusum fit --data dose.csv --monotone increasing --loss huber --units 8
  relusum fit "tanh(x)" --domain -4 4 --knots optimal --loss linf --right-slope 0
  relusum fit --data 'logs/*.parquet' --x t --y v --units 32 --dask
  relusum fit --data curves.parquet --by sensor --x t --y v --units 8 --out models.parquet
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
        "--units",
        type=_units_arg,
        metavar="N|auto",
        help="number of ReLU units (default 16); auto: chosen for data by --selection",
    )
    p.add_argument(
        "--selection",
        choices=("cv", "bic", "gcv"),
        default="cv",
        help="how --units auto scores each n: 5-fold cross-validation (default), BIC or GCV",
    )
    p.add_argument(
        "--band",
        type=_level_arg,
        metavar="LEVEL",
        help="least squares on data: standard errors and a LEVEL (e.g. 0.95) confidence band "
        "(in --json; shaded by --plot)",
    )
    p.add_argument(
        "--pieces",
        type=positive_int,
        metavar="K",
        help="instead of --units: exactly K sloped pieces, the first knot at A "
        "(what pwlf and other segmented regressions fit; --knots optimal)",
    )
    p.add_argument(
        "--knots",
        default="uniform",
        metavar="uniform|optimal|h1,h2,...",
        help="knot placement: uniform, optimal, or a comma-separated list",
    )
    p.add_argument(
        "--search",
        choices=("thorough", "quick"),
        default="thorough",
        help="with --knots optimal --loss l2: the full free-knot search (default) or a quick one "
        "(about 0.6x the CPU; the same SSR on most data, larger on some)",
    )
    p.add_argument(
        "--agree",
        type=positive_float,
        metavar="R",
        help="with a formula, --knots optimal --loss linf: refine the samples until the error "
        "anywhere is within R (relative) of the error on them (default 2e-4 or 5e-5; 1e-6 is "
        "closer to the continuous optimum and slower; between 1e-7 and 1e-2)",
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
        "--samples",
        type=positive_int,
        metavar="N",
        help="samples of a formula (default 2000, at most 2,000,000)",
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
    p.add_argument(
        "--fixed-point",
        type=_fixed_point_arg,
        metavar="TOTAL,FRAC",
        help="with --tol and --export FILE.h: an integer table in Q(TOTAL,FRAC) whose error is "
        "checked on every representable input (refitting with more units if rounding breaks tol)",
    )
    add_no_clobber(p)
    scale_cli.add_arguments(p)  # --by --out --weight --stream --chunk-rows --dask (issue 11)
    p.set_defaults(func=run)


def _fixed_point_arg(text: str) -> tuple[int, int]:
    from relusum.fixedpoint import parse_fixed_point

    try:
        return parse_fixed_point(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _units_arg(text: str):
    return "auto" if text.strip() == "auto" else positive_int(text)


def _level_arg(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not 0.0 < v < 1.0:
        raise argparse.ArgumentTypeError(
            f"must be a level between 0 and 1, such as 0.95; got {text!r}"
        )
    return v


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


def _refuse_shape_for_scale(args: argparse.Namespace, shape_kw: dict) -> None:
    used = [k for k, v in shape_kw.items() if v is not None]
    if args.loss not in (None, "l2", "linf"):
        used.append(f"--loss {args.loss}")
    if used:
        flags = ", ".join("--" + u.replace("_", "-") if not u.startswith("--") else u for u in used)
        raise ValueError(f"{flags} cannot be used with --by or --dask yet")


def run(args: argparse.Namespace) -> int:
    from relusum.export import export, export_suffixes
    from relusum.plot import FIGURE_SUFFIXES

    if args.target is not None and args.data is not None:
        raise ValueError("give either a formula or --data, not both")
    if args.target is None and args.data is None:
        raise ValueError('give a formula such as "sin(x)" or --data FILE.csv')
    if args.agree is not None and args.data is not None:
        raise ValueError(
            "--agree applies to a formula (--knots optimal --loss linf); data are fitted "
            "exactly on their points"
        )
    shaped = _constraint_args(args)
    if args.data is not None and args.by is not None:  # many curves -> --out (issue 11)
        _refuse_shape_for_scale(args, shaped)
        return scale_cli.fit_data(args, domain_from(args), _knots_arg(args.knots))
    # Check every destination (and reserve its temporary file) before any work;
    # the files are moved into place together only when all have been written.
    with OutputPlan(no_clobber=args.no_clobber) as plan:
        tmp_save = plan.add(args.save, (".json",), "--save") if args.save else None
        tmp_plot = plan.add(args.plot, FIGURE_SUFFIXES, "--plot") if args.plot else None
        tmp_exports = [plan.add(path, export_suffixes(), "--export") for path in args.export]
        fixed = None
        if args.fixed_point is not None:
            _check_fixed_point_args(args)
        result = _fit(args)
        if args.fixed_point is not None:
            result, fixed = _fixed_point(args, result)
        payload = result.to_dict()
        if fixed is not None:
            payload["fixed_point"] = {
                "format": f"Q{fixed.total}.{fixed.frac}",
                "max_abs_error": fixed.max_error,
                "inputs_checked": fixed.n_checked,
            }
        if args.band is not None:
            payload["uncertainty"] = result.inference().to_dict(args.band)
        payload = finite_payload(payload)  # strict JSON for --json and --save alike
        text = dump_json(payload) if args.json else None
        if tmp_save is not None:
            model_keys = result.model.to_dict()
            result.model.save(tmp_save, **{k: v for k, v in payload.items() if k not in model_keys})
        for path, tmp in zip(args.export, tmp_exports):
            if fixed is not None and str(path).lower().endswith(".h"):
                fixed.write_header(tmp)  # integer knots, slopes and values
            else:
                export(result.model, tmp)
        if tmp_plot is not None:
            _plot(result, tmp_plot, args.band)
        commit_outputs(plan)
    if text is not None:
        print(text)
    else:
        _print_summary(result, args)
    return 0


def _check_fixed_point_args(args: argparse.Namespace) -> None:
    if args.data is not None or args.tol is None:
        raise ValueError("--fixed-point needs a formula and --tol (the error the table must keep)")
    if not any(str(p).lower().endswith(".h") for p in args.export):
        raise ValueError("--fixed-point writes a C header: add --export FILE.h")
    total, frac = args.fixed_point
    if args.tol <= 2.0 ** -(frac + 1):
        raise ValueError(
            f"Q{total}.{frac} rounds outputs to {2.0**-frac:g}, so no table reaches a max error of "
            f"{args.tol:g}; use more fraction bits or a --tol above {2.0 ** -(frac + 1):g}"
        )


def _fixed_point(args: argparse.Namespace, result):
    """Refit until the ``Q(total, frac)`` table is within --tol on every representable input."""
    import time

    from relusum.fitting.report import finish
    from relusum.fixedpoint import fixed_point_fit

    total, frac = args.fixed_point
    start = time.perf_counter()
    tgt = result.target
    model, table = fixed_point_fit(tgt.fn, tgt.domain, args.tol, total, frac, args.max_units)
    if model is not result.model:
        rep = result.report
        result = finish(
            model,
            tgt,
            rep.seconds + time.perf_counter() - start,
            loss=rep.loss,
            knots=rep.knots,
            extra=rep.extra,
        )
    return result, table


def _looks_like_a_file(text: str) -> bool:
    """Whether a formula argument names a data file (``relusum fit data.csv``)."""
    import os

    suffix = os.path.splitext(text)[1].lower()
    return suffix in (".csv", ".tsv", ".txt", ".parquet", ".gz") or (
        "/" in text and os.path.isfile(text)
    )


def _fit(args: argparse.Namespace):
    import relusum

    domain = domain_from(args)
    knots = _knots_arg(args.knots)
    shape_kw = _constraint_args(args)
    if args.data is not None and scale_cli.wants_scale(args):  # large data (issue 11)
        _refuse_shape_for_scale(args, shape_kw)
        return scale_cli.fit_data(args, domain, knots)
    if args.data is not None:
        target = relusum.read_csv(args.data, x=args.x, y=args.y)
    else:
        target = args.target.strip()
        if _looks_like_a_file(target):
            raise ValueError(
                f"{target!r} looks like a file name, not a formula: to fit a file's "
                f"points use --data {target}"
            )
        if domain is None:
            raise ValueError("a formula needs --domain A B")
        _check_units_against_samples(args, knots)
    return relusum.fit(
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
        pieces=args.pieces,
        **({"search": args.search} if args.search != "thorough" else {}),
        **({"agree": args.agree} if args.agree is not None else {}),
        **({"selection": args.selection} if args.units == "auto" else {}),
        **({"progress": False} if args.quiet else {}),
    )


def _check_units_against_samples(args: argparse.Namespace, knots) -> None:
    """Refuse more units than the samples can determine before anything is allocated."""
    from relusum.targets import DEFAULT_SAMPLES, MAX_SAMPLES

    samples = args.samples or DEFAULT_SAMPLES
    if args.samples is not None and samples > MAX_SAMPLES:
        raise ValueError(f"--samples must be at most {MAX_SAMPLES:,}, got {samples:,}")
    if args.units == "auto":
        return  # chooses units for data; a formula is refused by fit with a clear line
    units = args.units if args.units is not None else (len(knots) if isinstance(knots, list) else 0)
    if units > samples - 1:
        raise ValueError(
            f"{units:,} units need at least {units + 1:,} distinct x values, but the samples "
            f"have {samples:,}; use at most {samples - 1:,} units or more samples (--samples)"
        )


def _plot(result, path: str, band: float | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from relusum.plot import plot_band, plot_fit, plot_selection, save_figure

    if "selection_curve" in result.report.extra:  # --units auto: the fit and the scores
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
        plot_fit(result, ax)
        plot_selection(result, ax2)
    else:
        ax = plot_fit(result)
    if band is not None:
        plot_band(result, ax, band)
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
    if rep.extra.get("lower_bound") is not None and "gap" in rep.extra:
        print(
            f"  certified: lower bound {rep.extra['lower_bound']:.6g} on the max |error| at "
            f"the fit samples, gap {rep.extra['gap']:.2g}",
            file=out,
        )
    elif "certificate" in rep.extra:
        print(f"  certificate: {rep.extra['certificate']}", file=out)
    if "max_error_everywhere" in rep.extra:
        print(f"  max |error| on all of R: {rep.extra['max_error_everywhere']:.4g}", file=out)
    print(f"  fitted in {rep.seconds:.3f} s; bias {s.bias:.6g}", file=out)
    for label, path in (("model", args.save), ("plot", args.plot)):
        if path:
            print(f"  wrote {label}: {path}", file=out)
    for path in args.export:
        print(f"  exported: {path}", file=out)
