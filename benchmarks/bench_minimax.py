"""Benchmark of the max-error (minimax) fits; writes docs/bench/bench_minimax.md.

Run ``python benchmarks/bench_minimax.py`` (about 30-40 minutes on the loaded
2 cores) or ``python benchmarks/bench_minimax.py --quick`` (about 5 minutes).

Tables
    1. L-infinity error per target and unit count n: optimal knots next to
       uniform knots (both measured on relusum's verification grid), the
       asymptotic free-knot value (integral of sqrt|f''|)^2 / (16 n^2), and
       the lower bound from the best *discontinuous* approximation with n + 1
       pieces on the same 1,000 samples (no continuous fit with n units can
       beat it there; the gap to it is the number to track).
    2. Units needed for a max error of 1e-3 and 1e-4 (tolerance search),
       optimal against uniform knots.
    3. Exact against the 0.1.0 greedy sweep (loaded from git history when the
       checkout has it): per target and n the error on the verification
       grid, the certified lower bound, the gap, the grid / samples ratio and
       the seconds; then brute-force mismatches of both on random small sets
       (N <= 12, n <= 3; convex, non-convex, jumps, repeated x).
    4. Scaling: seconds of the L-infinity fit (and of free-knot least squares,
       when ``relusum.fitting.free_l2`` is present) as the number of points N
       and of units n grow.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import relusum  # noqa: E402
from relusum._io import atomic_write_text  # noqa: E402
from relusum.fitting.minimax import minimax_discontinuous  # noqa: E402
from relusum.targets import make_target, read_csv  # noqa: E402

TARGETS = [
    ("sin(x)", (0.0, 2 * math.pi)),
    ("x**2", (0.0, 1.0)),
    ("exp(x)", (-2.0, 2.0)),
    ("gelu(x)", (-8.0, 8.0)),
    ("tanh(x)", (-6.0, 6.0)),
    ("1/(1+25*x**2)", (-1.0, 1.0)),
    ("sqrt(x)", (0.0, 1.0)),
]
TOL_TARGETS = [
    ("gelu(x)", (-8.0, 8.0)),
    ("silu(x)", (-8.0, 8.0)),
    ("tanh(x)", (-8.0, 8.0)),
    ("sigmoid(x)", (-8.0, 8.0)),
    ("exp(x)", (-8.0, 0.0)),
]
SAMPLES = 1000


def asymptotic_constant(formula: str, domain: tuple[float, float]) -> float:
    """(integral of sqrt|f''| dx)^2 / 16, from second differences on a fine grid."""
    from relusum.formula import parse_formula

    f = parse_formula(formula)
    a, b = domain
    m = 2_000_000
    h = (b - a) / m
    x = a + (np.arange(m) + 0.5) * h  # midpoints: avoids the end point of sqrt
    d2 = (f(x + h / 4) - 2 * f(x) + f(x - h / 4)) / (h / 4) ** 2
    with np.errstate(invalid="ignore"):
        integral = float(np.nansum(np.sqrt(np.abs(d2))) * h)
    return integral**2 / 16.0


def fmt(v: float) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.3g}"


def table_linf(ns: list[int], pwlf_csv: Path | None) -> list[str]:
    rows = [
        "| target | n | uniform L∞ | optimal L∞ | uniform / optimal | asymptotic "
        "(∫√\\|f''\\|)²/(16n²) | optimal / asymptotic | discontinuous lower bound "
        "(n+1 pieces) | optimal / lower bound | optimal fit CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    cases = [(f, d, make_target(f, d, samples=SAMPLES)) for f, d in TARGETS]
    if pwlf_csv is not None and pwlf_csv.exists():
        cases.append(("pwlf example data", None, make_target(read_csv(pwlf_csv))))
    for label, dom, tgt in cases:
        c = asymptotic_constant(label, dom) if dom is not None else None
        distinct = int(np.unique(tgt.x).size)
        for n in ns:
            if n > distinct - 1:
                continue
            t0 = time.process_time()
            opt = relusum.fit(
                tgt.fn if tgt.fn else (tgt.x, tgt.y),
                domain=tgt.domain,
                n_units=n,
                knots="optimal",
                loss="linf",
                samples=SAMPLES if tgt.fn else None,
                progress=False,
            )
            sec = time.process_time() - t0
            uni = relusum.fit(
                tgt.fn if tgt.fn else (tgt.x, tgt.y),
                domain=tgt.domain,
                n_units=n,
                knots="uniform",
                loss="linf",
                samples=SAMPLES if tgt.fn else None,
            )
            lower = minimax_discontinuous(tgt.x, tgt.y, n + 1, domain=tgt.domain, rtol=1e-6)
            e_opt, e_uni = opt.report.max_abs_error, uni.report.max_abs_error
            asym = c / n**2 if c is not None else None
            rows.append(
                f"| {label} | {n} | {fmt(e_uni)} | {fmt(e_opt)} | {fmt(e_uni / e_opt)} | "
                f"{fmt(asym)} | {fmt(e_opt / asym) if asym else '-'} | {fmt(lower)} | "
                f"{fmt(e_opt / lower) if lower > 0 else '-'} | {sec:.2f} |"
            )
            print(rows[-1], flush=True)
    return rows


def _old_module():
    """The 0.1.0 greedy minimax module from git history, or None."""
    import importlib.util
    import subprocess
    import tempfile

    try:
        text = subprocess.run(
            ["git", "-C", str(ROOT), "show", "42c9cde:src/relusum/fitting/minimax.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "minimax_010.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("minimax_010", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["minimax_010"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def table_exact(ns: list[int], n_sets: int, repeat: int = 1) -> list[str]:
    """The exact-vs-0.1.0 table; times are the median of ``repeat`` runs, the two interleaved."""
    from relusum.fitting.report import measure

    old = _old_module()
    rows = [
        "| target | n | 0.1.0 greedy L∞ (grid) | 0.1.0 s | exact L∞ (grid) | lower bound | gap | "
        "grid / samples | exact s | exact / 0.1.0 time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    # Both sides timed as a fit: sampling the target, the fit, the measure on
    # the verification grid (what relusum.fit did in 0.1.0 and does now), in
    # CPU seconds of this process (the shared machine's load moves wall time).
    for formula, dom in TARGETS:
        for n in ns:
            e_old = t_old = None
            olds, news = [], []
            for _ in range(max(repeat, 1)):
                if old is not None:
                    t0 = time.process_time()
                    tgt = make_target(formula, dom, samples=SAMPLES)
                    m_old, _ = old.minimax_target(tgt, n)
                    e_old = measure(m_old, tgt)[1]
                    olds.append(time.process_time() - t0)
                t0 = time.process_time()
                r = relusum.fit(
                    formula,
                    domain=dom,
                    n_units=n,
                    knots="optimal",
                    loss="linf",
                    samples=SAMPLES,
                    progress=False,
                )
                news.append(time.process_time() - t0)
            t_old = float(np.median(olds)) if olds else None
            sec = float(np.median(news))
            ex = r.report.extra
            ratio = (
                r.report.max_abs_error / ex["sample_max_error"]
                if ex.get("sample_max_error")
                else float("nan")
            )
            rows.append(
                f"| {formula} | {n} | {fmt(e_old)} | "
                f"{'-' if t_old is None else f'{t_old:.3f}'} | {fmt(r.report.max_abs_error)} | "
                f"{fmt(ex.get('lower_bound'))} | {fmt(ex.get('gap'))} | {ratio:.5f} | {sec:.3f} | "
                f"{'-' if not t_old else f'{sec / t_old:.2f}'} |"
            )
            print(rows[-1], flush=True)
    rows += ["", *table_brute_force(old, n_sets)]
    return rows


_EXACT = "## Exact minimax against the 0.1.0 greedy sweep"


def _only_exact(args: argparse.Namespace) -> int:
    """Rerun the exact-vs-0.1.0 table alone and splice it into the existing report."""
    out = Path(args.out)
    text = out.read_text() if out.exists() else ""
    if _EXACT not in text:
        print(f"{out} has no section '{_EXACT}': run the whole benchmark", file=sys.stderr)
        return 2
    head, rest = text.split(_EXACT, 1)
    nxt = rest.find("\n## ")
    body, tail = (rest, "") if nxt < 0 else (rest[:nxt], rest[nxt:])
    old_lines = body.strip("\n").split("\n")
    intro = old_lines[0]  # the paragraph above the table
    brute = [ln for ln in old_lines if ln.startswith("Brute force")]
    sets = 0 if args.brute_sets is None else args.brute_sets
    # Compile (or load) the kernels first: the table times fits, not the JIT.
    relusum.fit("sin(x)", domain=(0.0, 1.0), n_units=4, knots="optimal", loss="linf")
    t0 = time.perf_counter()
    ns = [2, 8, 32] if args.quick else [2, 8, 16, 32, 64]
    rows = table_exact(ns, max(sets, 0), args.repeat)
    if sets <= 0:  # keep the earlier brute-force count instead of a new, short one
        rows = [ln for ln in rows if not ln.startswith("Brute force")]
        while rows and rows[-1] == "":
            rows.pop()
        rows += ["", *brute]
    note = (
        f"(This section alone rerun by `benchmarks/bench_minimax.py --only-exact"
        f"{' --quick' if args.quick else ''} --repeat {args.repeat}` in "
        f"{time.perf_counter() - t0:.0f} s; times are CPU seconds of whole fits (sampling, fit, "
        f"measure on the grid), medians of {args.repeat} interleaved runs"
        + ("; the brute-force count is from the whole run." if sets <= 0 else ".")
        + ")"
    )
    section = "\n".join([_EXACT, "", intro, "", note, "", *rows, ""])
    atomic_write_text(out, head + section + tail)
    print(f"wrote {out}")
    return 0


def table_brute_force(old, n_sets: int) -> list[str]:
    sys.path.insert(0, str(ROOT / "tests"))
    from minimax_reference import brute_force_below
    from relusum.fitting.minimax import minimax_points

    rng = np.random.default_rng(2026)
    bad_new = bad_old = checked = 0
    worst_old = 1.0
    t0 = time.perf_counter()
    for case in range(3 * n_sets):
        if checked == n_sets:
            break
        m = int(rng.integers(2, 13))
        x = np.sort(rng.uniform(0.0, 1.0, m))
        if rng.random() < 0.25:
            x = np.sort(rng.integers(0, max(2, m - 2), m).astype(float)) / m
        kind = case % 3
        if kind == 0:
            y = np.exp(2.0 * x)
        elif kind == 1:
            y = rng.normal(size=m)
        else:
            y = np.where(x > np.median(x), 2.0, 0.0) + 0.3 * rng.normal(size=m)
        n = int(rng.integers(1, 4))
        flat = bool(rng.integers(0, 2))
        if np.unique(x).size - 1 < n:
            continue
        checked += 1
        tiny = 1e-12 * (1.0 + float(np.ptp(y)))
        pieces = n + 1 if flat else n
        _, e = minimax_points(x, y, n, flat_first=flat)
        if brute_force_below(x, y, pieces, e * (1 - 1e-9) - tiny, flat) is not None:
            bad_new += 1
        if old is not None:
            _, e_old = old.minimax_points(x, y, n, flat_first=flat)
            hit = brute_force_below(x, y, pieces, e_old * (1 - 1e-9) - tiny, flat)
            if hit is not None:
                bad_old += 1
                if e > 1e-9 * (1.0 + float(np.ptp(y))):  # a ratio to ~0 says nothing
                    worst_old = max(worst_old, e_old / e)
    sec = time.perf_counter() - t0
    return [
        f"Brute force (tests/minimax_reference.py) on {checked:,} random sets, "
        f"{sec:.0f} s: the exact sweep missed the optimum by more than 1e-9 in "
        f"**{bad_new}**; the 0.1.0 greedy in **{bad_old if old else '-'}** "
        f"(worst {worst_old:.3g} times the optimum where that is not ~0).",
    ]


def table_tol(tols: list[float], max_uniform: int) -> list[str]:
    rows = [
        "| target | max error | units, optimal knots | units, uniform knots | "
        "uniform / optimal | optimal search CPU s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for formula, dom in TOL_TARGETS:
        for tol in tols:
            t0 = time.process_time()
            opt = relusum.fit(
                formula, domain=dom, knots="optimal", loss="linf", tol=tol, progress=False
            )
            sec = time.process_time() - t0
            try:
                uni = relusum.fit(
                    formula,
                    domain=dom,
                    knots="uniform",
                    loss="linf",
                    tol=tol,
                    max_units=max_uniform,
                    progress=False,
                )
                nu = uni.report.n_units
                ratio = fmt(nu / opt.report.n_units)
                nu_s = str(nu)
            except ValueError:
                nu_s, ratio = f"> {max_uniform}", "-"
            rows.append(
                f"| {formula} on [{dom[0]:g}, {dom[1]:g}] | {tol:g} | "
                f"{opt.report.n_units} | {nu_s} | {ratio} | {sec:.2f} |"
            )
            print(rows[-1], flush=True)
    return rows


def _warm_up() -> None:
    """Load (or compile) the kernels before anything is timed: the first fit of a
    process pays for them (seconds), which no table should count as fitting time."""
    from relusum.fitting.free_l2 import free_knot_l2

    for loss in ("linf", "l2"):
        relusum.fit("sin(x)", domain=(0, 3), n_units=4, knots="optimal", loss=loss, progress=False)
    x = np.linspace(-8, 8, 2_000)
    free_knot_l2(make_target((x, np.tanh(x))), 8, progress=False)


def table_scaling(big_ns: list[int], unit_ns: list[int], n_fixed: int, N_fixed: int) -> list[str]:
    try:
        from relusum.fitting.free_l2 import free_knot_l2
    except ImportError:  # pragma: no cover - depends on the checkout
        free_knot_l2 = None
    from relusum.fitting.minimax import minimax_target

    rows = [
        "| N points | n units | L∞ fit CPU s | L∞ µs per point and sweep | "
        "L2 fit CPU s (free_knot_l2) |",
        "|---:|---:|---:|---:|---:|",
    ]

    def case(N: int, n: int) -> None:
        x = np.linspace(-8, 8, N)
        y = x * 0.5 * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))
        tgt = make_target((x, y))
        t0 = time.process_time()
        _, info = minimax_target(tgt, n, rtol=1e-6)
        t_inf = time.process_time() - t0
        per = t_inf / (info.iterations * N) * 1e6
        t_l2 = "-"
        if free_knot_l2 is not None:
            t0 = time.process_time()
            free_knot_l2(tgt, n, progress=False)
            t_l2 = f"{time.process_time() - t0:.2f}"
        rows.append(f"| {N:,} | {n} | {t_inf:.2f} | {per:.2f} | {t_l2} |")
        print(rows[-1], flush=True)

    for N in big_ns:
        case(N, n_fixed)
    for n in unit_ns:
        if n != n_fixed or N_fixed not in big_ns:
            case(N_fixed, n)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer cases (under ~3 minutes)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "bench" / "bench_minimax.md"))
    ap.add_argument(
        "--only-exact",
        action="store_true",
        help="rerun only the exact-vs-0.1.0 table and replace that section of an existing --out",
    )
    ap.add_argument(
        "--brute-sets",
        type=int,
        default=None,
        help="random sets for the brute-force count (default 2,000, --quick 150; with "
        "--only-exact, 0 keeps the existing count)",
    )
    ap.add_argument(
        "--repeat", type=int, default=1, help="exact-vs-0.1.0 times: median of this many runs"
    )
    args = ap.parse_args(argv)
    quick = args.quick
    if args.only_exact:
        return _only_exact(args)
    pwlf_csv = ROOT.parent / "shared" / "data" / "pwlf_example.csv"
    if not pwlf_csv.exists():
        pwlf_csv = ROOT.parent / "shared" / "pwlf_example.csv"
    t_all = time.perf_counter()
    _warm_up()
    ns = [2, 8, 32] if quick else [2, 4, 8, 16, 32, 64]
    linf = table_linf(ns, pwlf_csv)
    sets = args.brute_sets if args.brute_sets is not None else (150 if quick else 2000)
    exact = table_exact([2, 8, 32] if quick else [2, 8, 16, 32, 64], sets, args.repeat)
    tol = table_tol([1e-3] if quick else [1e-3, 1e-4], 400 if quick else 1000)
    if quick:
        scaling = table_scaling([1_000, 10_000, 100_000], [8, 64, 256], 16, 10_000)
    else:
        scaling = table_scaling(
            [1_000, 10_000, 100_000, 1_000_000], [8, 32, 128, 512, 1024], 16, 100_000
        )
    total = time.perf_counter() - t_all
    import scipy

    text = "\n".join(
        [
            "# Max-error (minimax) fits: benchmark",
            "",
            "Written by `benchmarks/bench_minimax.py`"
            + (" --quick" if quick else "")
            + "; do not edit by hand.",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}; "
            f"whole run {total:.0f} s.",
            "",
            "## L∞ error: optimal against uniform knots, theory and a lower bound",
            "",
            f"Functions are fitted on {SAMPLES:,} uniform samples; the L∞ errors of the fits are "
            "measured on relusum's verification grid (100,000 points, separate from the samples). "
            "The asymptotic value is the free-knot optimum for large n. The lower bound is the "
            "best max error of n + 1 lines that need not join, on the same samples "
            "(exact: greedy + bisection); no continuous n-unit fit beats it on those points.",
            "",
            *linf,
            "",
            "## Exact minimax against the 0.1.0 greedy sweep",
            "",
            "Errors on the verification grid. The lower bound is proven on the final (refined) "
            "fit samples (exact feasibility test at the bisection's lower end); gap = error on "
            "those samples / lower bound - 1. For a function the fit is the exact optimum on "
            "samples refined until the grid agrees (grid / samples is the ratio of the two "
            "errors); where that cannot be reached the earlier interpolant fit is used if it "
            "is better, and the gap says how far it is from certified. Times are CPU seconds of "
            "whole fits on both sides (sampling, fit, measure on the verification grid), medians "
            "of interleaved runs.",
            "",
            *exact,
            "",
            "## Units needed for a max error (tolerance search)",
            "",
            "Error measured on the verification grid; uniform knots searched up to the cap shown.",
            "",
            *tol,
            "",
            "## Scaling",
            "",
            "Data targets (GELU sampled at N points). `L∞ fit` is the whole free-knot "
            "minimax fit (bisection on the error to rtol 1e-6, one greedy sweep per step); "
            "the per-point column divides by N and by the number of sweeps.",
            "",
            *scaling,
            "",
        ]
    )
    atomic_write_text(args.out, text)
    print(f"wrote {args.out} in {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
