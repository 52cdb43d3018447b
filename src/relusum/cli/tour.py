"""``relusum tour``: the story of ReLU sums as figures, an animation and a web page."""

from __future__ import annotations

import argparse

from relusum.cli._common import add_domain, domain_from, positive_int

EXAMPLES = """examples:
  relusum tour                                   # x*sin(x) on [0, 10]
  relusum tour --target "exp(-x**2)" --domain -3 3 --out gauss-tour
  relusum tour --max-units 30 --format svg --no-train
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tour",
        help="write figures, an animation and index.html explaining ReLU sums",
        description="Why a ReLU network is non-linear, step by step: figures from real fits "
        "of a target, an animation adding units one by one, and an index.html that walks "
        "through them (self-contained, works offline).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--target",
        metavar="EXPR",
        help='a formula in x, e.g. "tanh(3*x)" (default: x*sin(x) on [0, 10])',
    )
    add_domain(
        p,
        help="interval [A, B] of the target (needed with --target); "
        "numbers or constant formulas such as -pi",
    )
    p.add_argument(
        "--out",
        default="relusum-tour",
        metavar="DIR",
        help="folder to write into, created if missing (default relusum-tour)",
    )
    p.add_argument(
        "--max-units",
        type=positive_int,
        default=100,
        metavar="N",
        help="most units of any fit, panel and frame (default 100, at most 500)",
    )
    p.add_argument(
        "--format",
        choices=("png", "svg"),
        default="png",
        help="format of the still figures (default png; the animation is a GIF)",
    )
    p.add_argument(
        "--no-train",
        action="store_true",
        help="leave out trained networks (they need the PyTorch extra: "
        "pip install 'relusum[torch]')",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from relusum.tour import make_tour
    from relusum.tour.page import comparison_sentence, comparisons

    domain = domain_from(args)
    target = args.target
    if target is not None and domain is None:
        raise ValueError("--target needs --domain A B")
    result = make_tour(
        target=target.strip() if target is not None else None,
        domain=domain,
        out=args.out,
        max_units=args.max_units,
        fmt=args.format,
        train=not args.no_train,
        progress=None,
    )
    conv = result.convergence
    print(
        f"tour of {result.target} on [{result.domain[0]:.6g}, {result.domain[1]:.6g}]: "
        f"wrote {len(result.files)} files to {result.out}/ in {result.seconds:.1f} s"
    )
    for path in result.files:
        print(f"  {path}")
    for m in conv.methods:
        p = conv.slope(m)
        rate = f"error ~ n^{p:.2f}" if p == p else "too few points for a slope"
        print(f"  {conv.labels[m]}: {rate}")
    for c in comparisons(conv):
        print(f"  {comparison_sentence(conv, c, html_out=False)}")
    for note in result.notes:
        print(f"  not shown: {note}")
    print(f"open {result.index}")
    return 0
