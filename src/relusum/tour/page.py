"""The tour's ``index.html``: one self-contained page walking through every figure.

Every number on the page is computed from the fits of the tour (slopes and
factors included); nothing is loaded from the network.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from relusum.fitting.api import FitResult
from relusum.targets import Target, parse_domain
from relusum.tour.data import (
    DEFAULT_DOMAIN,
    DEFAULT_TARGET,
    METHODS,
    TRAIN_STEPS,
    TRAINED,
    Comparison,
    Convergence,
)
from relusum.tour.frames import Frame

__all__ = ["page", "convergence_text", "comparisons", "comparison_sentence"]

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 980px; margin: 2em auto; padding: 0 1em; line-height: 1.55; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2.2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
figure { margin: 1em 0; text-align: center; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
code, pre { background: #f5f5f5; padding: 0.1em 0.3em; border-radius: 3px; }
pre { padding: 0.6em 0.9em; overflow-x: auto; }
.lead { color: #555; font-size: 1.05em; }
.formula { font-family: Georgia, "Times New Roman", serif; font-size: 1.15em; text-align: center;
           margin: 0.8em 0; }
table { border-collapse: collapse; margin: 1em auto; font-size: 0.92em; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 0.25em 0.7em; text-align: right; }
th { background: #fafafa; }
nav ul { columns: 2; list-style: none; padding-left: 0; }
.note { color: #666; font-size: 0.92em; }
"""


def page(
    tgt: Target,
    dom: tuple[float, float],
    figures: dict[str, Path],
    conv: Convergence,
    panels: tuple[int, ...],
    max_units: int,
    fmt: str,
    train: bool,
    panel_results: list[FitResult],
    frames: tuple[Frame, ...],
    formula: bool = True,
    methods: tuple[str, ...] | None = None,
) -> str:
    """The whole ``index.html`` as text."""
    e = html.escape
    a, b = dom
    label = e(tgt.label)

    def img(name: str, alt: str) -> str:
        return f'<figure><img src="{e(figures[name].name)}" alt="{e(alt)}"></figure>'

    sections: list[tuple[str, str, str]] = []  # (anchor, heading, body)
    sections.append(
        (
            "relu",
            "1. ReLU: two straight lines",
            img("relu", "ReLU(x)")
            + """
<p>A ReLU (rectified linear unit) returns its input when it is positive and zero otherwise:
<code>ReLU(x) = max(0, x)</code>. Each half is a straight line. What matters is the
<em>corner</em> at 0, where the slope jumps from 0 to 1. A single straight line can never
bend; a ReLU bends exactly once.</p>""",
        )
    )
    sections.append(
        (
            "shift",
            "2. Shifting the corner",
            img("shift", "ReLU(x - h)")
            + """
<p>Subtracting a number <code>h</code> before the ReLU moves its corner to <code>x = h</code>.
<code>ReLU(x &minus; h)</code> is zero left of <code>h</code> and rises with slope 1 right of it.
The shift <code>h</code> is called the <em>knot</em>.</p>""",
        )
    )
    sections.append(
        (
            "neuron",
            "3. A neuron is a scaled, shifted ReLU",
            img("neuron", "a neuron diagram and ReLU(a x + b)")
            + """
<p>A neuron multiplies its inputs by weights, adds a bias and applies the ReLU:
<code>y = ReLU(a<sub>1</sub>x<sub>1</sub> + &hellip; + a<sub>n</sub>x<sub>n</sub> + b)</code>.
With one input <code>x</code> this is <code>ReLU(a&middot;x + b)</code>, and since
<code>a&middot;x + b = a&middot;(x &minus; h)</code> with <code>h = &minus;b/a</code>, it is a
ReLU with its corner at <code>h</code>, scaled by <code>|a|</code>. When <code>a &lt; 0</code>
it faces left: it is zero right of <code>h</code>. A left-facing ReLU is a straight line plus a
right-facing one, <code>|a|&middot;ReLU(h &minus; x) = |a|&middot;(h &minus; x) +
|a|&middot;ReLU(x &minus; h)</code>, so nothing new appears: only corners.</p>""",
        )
    )
    sections.append(
        (
            "layer",
            "4. The last hidden layer adds them up",
            img("layer", "a hidden layer and its units' ReLUs")
            + """
<p>The output of a network with one input is a weighted sum of the units of its last hidden
layer plus a bias. Each unit is one scaled shifted ReLU (its own curve is drawn beside it), so
the network's output is</p>
<p class="formula">f(x) = b + &Sigma;<sub>i</sub> w<sub>i</sub>&middot;max(0, x &minus;
h<sub>i</sub>)</p>
<p>on any interval, once left-facing units are rewritten as above (deeper networks give the same
form: their output is still continuous and piecewise linear). This weighted sum of shifted ReLUs
is what relusum calls a <code>ReluSum</code>.</p>""",
        )
    )
    sections.append(
        (
            "two",
            "5. Two terms: one bend",
            img("two_terms", "two shifted ReLUs")
            + """
<p>Left of its knot a term is zero; right of it, it adds a straight line of slope
<code>w<sub>i</sub></code>. So left of the first knot the sum is flat (every term is still
zero), at the first knot it starts to rise with slope <code>w<sub>1</sub></code>, and at the
second knot its slope changes by exactly <code>w<sub>2</sub></code>. The terms are dashed, their
sum solid.</p>""",
        )
    )
    sections.append(
        (
            "three",
            "6. Three terms: two bends",
            img("three_terms", "three ReLUs")
            + """
<p>Every further term adds one more bend at its own knot, with its weight as the change of
slope. With enough bends, placed where the target curves, a sum of straight-line pieces can
follow any continuous curve: this is how a network of ReLUs, each of them "linear" on both
sides of its corner, computes a non-linear function.</p>""",
        )
    )
    rows = "".join(
        f"<tr><td>{r.report.n_units}</td><td>{r.report.n_pieces}</td>"
        f"<td>{r.report.max_abs_error:.3g}</td><td>{r.report.rmse:.3g}</td></tr>"
        for r in panel_results
    )
    sections.append(
        (
            "units",
            "7. More units, closer fit",
            img("units", "the target with more and more units")
            + f"""
<p>The target <code>{label}</code> on [{a:.6g}, {b:.6g}], approximated with
{", ".join(str(n) for n in panels)} units. Each panel is a real least-squares fit with knots
spaced evenly over the domain: on top, the target (black) and the sum (blue); underneath, the
scaled shifted ReLUs whose sum it is. With a few units the sum is visibly a chain of straight
pieces; with {panels[-1]} it is hard to tell from the curve. The individual terms can be large
and of both signs: they cancel in the sum, leaving only the bends.</p>
<table><tr><th>units</th><th>linear pieces</th><th>max |error|</th><th>RMS error</th></tr>
{rows}</table>""",
        )
    )
    sections.append(
        (
            "convergence",
            "8. How fast the error falls",
            img("convergence", "error against the number of units") + convergence_text(conv, train),
        )
    )
    if "trained_units" in figures:
        versus = (
            " The ticks along the bottom are the optimal knots for the same number of units."
            if "optimal_l2" in conv.methods
            else ""
        )
        sections.append(
            (
                "trained",
                "8b. What a trained network does with its units",
                img("trained_units", "a trained network's units")
                + f"""
<p>The units of a small network trained by gradient descent (Adam, fixed seed), each drawn as
its own scaled ReLU <code>v&middot;max(0, a&middot;x + b)</code>, with the network's output.
Every live unit contributes one knot <code>h = &minus;b/a</code>; units whose knot lies
outside the domain are just straight lines there, or zero ("dead"), and add no bend.{versus}
</p>""",
            )
        )
    last = frames[-1]
    uniform = next((r for r in panel_results if r.report.n_units == last.n_units), None)
    versus = (
        ""
        if uniform is None
        else f" With the same {last.n_units} units on evenly spaced knots the RMS error is "
        f"{uniform.report.rmse:.2g}: adding units one at a time where the error is "
        "largest is easy to follow, not optimal."
    )
    sections.append(
        (
            "animation",
            "9. Adding units one at a time",
            img("animation", "animation adding units")
            + f"""
<p>Units are added one by one, from 1 to {len(frames)}. The first frame is one unit with its
knot at the left end: a straight line. Every later frame keeps all the knots of the frame before
and adds one (green): in the middle of the piece where the previous sum missed the target the
most. Then all the weights are fitted again by least squares. Because the knots are kept, the
new sum can do everything the old one could, so its error never rises: the RMS error shown goes
from {frames[0].rmse:.2g} with one unit to {last.rmse:.2g} with {last.n_units}.{versus}
Watch the sum (blue) close in on the target while the terms underneath multiply and shrink.
</p>""",
        )
    )

    nav = "".join(f'<li><a href="#{anchor}">{e(head)}</a></li>' for anchor, head, _ in sections)
    body = "".join(
        f'<section id="{anchor}"><h2>{e(head)}</h2>{text}</section>'
        for anchor, head, text in sections
    )
    if formula and methods is None:
        cmd = (
            "relusum tour"
            if tgt.label == DEFAULT_TARGET and (a, b) == parse_domain(DEFAULT_DOMAIN)
            else f'relusum tour --target "{label}" --domain {a:.17g} {b:.17g}'
        )
        if max_units != 100:
            cmd += f" --max-units {max_units}"
        if fmt != "png":
            cmd += f" --format {fmt}"
        if not train:
            cmd += " --no-train"
    else:
        what = f'"{label}"' if formula else label
        cmd = (
            f"from relusum.tour import make_tour\n"
            f"make_tour({what}, domain=({a:.17g}, {b:.17g}), max_units={max_units}, "
            f'fmt="{fmt}", train={train}'
            + ("" if methods is None else f", methods={list(methods)!r}")
            + ")"
        )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Why ReLU networks are non-linear: a tour with {label}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Why a network of ReLUs is non-linear</h1>
<p class="lead">ReLU looks like two straight lines. So how can a network built from it follow a
curve? Because its output is a sum of ReLUs with their corners in different places, and every
corner is a bend. This tour shows it step by step, ending with real fits of
<code>{label}</code> on [{a:.6g}, {b:.6g}].</p>
<nav><ul>{nav}</ul></nav>
{body}
<h2>Reproduce</h2>
<p>Every figure here was made by <code>relusum</code> from the fits it describes; the numbers
are in <a href="convergence.csv">convergence.csv</a>. To make this page again (same input, same
files):</p>
<pre>{cmd}</pre>
<p class="note">Errors are measured on a verification grid of at least 100,000 points, separate
from the 2,000 samples each fit was made from.</p>
</body>
</html>
"""


def comparisons(conv: Convergence) -> list[Comparison]:
    """Each optimal-knot method against uniform least squares, in the error it minimises.

    Least squares is compared in RMS error, the smallest max error in max error.
    """
    out = []
    for m, which in (("optimal_l2", "rmse"), ("optimal_linf", "max_error")):
        c = conv.compare(m, "lstsq", which)
        if c is not None:
            out.append(c)
    return out


def comparison_sentence(conv: Convergence, c: Comparison, html_out: bool = True) -> str:
    """One sentence: same rate and a constant factor, or a different rate, as measured.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum.tour import Convergence
    >>> from relusum.tour.page import comparison_sentence
    >>> n = np.array([10, 20, 40, 80])
    >>> e = {"lstsq": 3.0 / n**2, "optimal_l2": 1.5 / n**2}
    >>> conv = Convergence(n, e, e, {"lstsq": "uniform", "optimal_l2": "optimal"})
    >>> comparison_sentence(conv, conv.compare("optimal_l2", "lstsq"), html_out=False)[:40]
    'optimal against uniform: the same n^-2 r'
    """
    minus = "&minus;" if html_out else "-"

    def sup(t: str) -> str:
        return f"<sup>{t.replace('-', minus)}</sup>" if html_out else f"^{t}"

    which = "RMS error" if c.method == "optimal_l2" else "largest error"

    def sl(v: float) -> str:
        return f"{v:.2f}".replace("-", minus)

    name, ref = conv.labels[c.method], conv.labels[c.reference]
    lo_n, hi_n = int(c.units[0]), int(c.units[-1])
    trend = f"{c.first:.2g} times at n = {lo_n}, {c.last:.2g} times at n = {hi_n}"
    if c.same_rate:
        return (
            f"{name} against {ref}: the same n{sup('-2')} rate, as far as slopes fitted "
            f"over this range can tell (slope {sl(c.slope)} and {sl(c.reference_slope)} "
            f"in {which}), and a roughly constant factor: the {which} is "
            f"{c.factor:.2g} times smaller on average ({trend})."
        )
    faster = "a faster" if c.slope < c.reference_slope else "a slower"
    return (
        f"{name} against {ref}: {faster} rate (slope {sl(c.slope)} against "
        f"{sl(c.reference_slope)} in {which}); the {which} is {c.factor:.2g} times "
        f"smaller on average, and the factor changes with n ({trend})."
    )


def convergence_text(conv: Convergence, train: bool) -> str:
    """Section 8's text: the expected rate, the measured slopes and factors, the table."""
    e = html.escape
    lines = []
    for m in conv.methods:
        p = conv.slope(m)
        rate = (
            f"falls like n<sup>{p:.2f}</sup>".replace("-", "&minus;")
            if np.isfinite(p)
            else "too few points for a slope"
        )
        measured = conv.units[np.isfinite(conv.max_error[m])]
        upto = ""
        if m == "optimal_linf" and measured.size and measured.max() < conv.units.max():
            upto = (
                f" (fitted up to {int(measured.max())} units: these are exact minimax fits "
                "with a certificate, and cost seconds each beyond that)"
            )
        lines.append(f"<li><b>{e(conv.labels[m])}</b>: {rate}{upto}</li>")
    comps = comparisons(conv)
    if not comps:
        knots_text = (
            "Where the target has a corner or a very sharp bend, evenly spaced knots "
            "fall behind that rate and well-placed ones keep it."
        )
    elif all(c.same_rate for c in comps):
        knots_text = (
            "On this smooth target, placing the knots well does not change the rate: "
            "it lowers the error by a constant factor. Only where a target has a "
            "corner or a very sharp bend do evenly spaced knots fall behind "
            "n<sup>&minus;2</sup> while well-placed ones keep it."
        )
    else:
        knots_text = (
            "Here well-placed knots keep a faster rate than evenly spaced ones, as "
            "happens where a target has a corner or a very sharp bend."
        )
    measured = "".join(f"<li>{comparison_sentence(conv, c)}</li>" for c in comps)
    measured = f"<p>Optimal knots against uniform ones:</p><ul>{measured}</ul>" if comps else ""
    missing = ""
    if conv.unavailable:
        items = "".join(
            f"<li>{e(METHODS[m][0] if m in METHODS else TRAINED[1])}: {e(why)}</li>"
            for m, why in conv.unavailable.items()
        )
        missing = f'<p class="note">Not shown here:</p><ul class="note">{items}</ul>'
    trained = ""
    if TRAINED[0] in conv.methods:
        trained = (
            "<p>The trained networks are ordinary one-hidden-layer networks fitted by gradient "
            f"descent ({TRAIN_STEPS} Adam steps from a random start). They usually stay well "
            "above the least-squares fits with the same number of units: training finds "
            "neither the best knots nor the best weights, and some units end up with no knot "
            "inside the domain at all. The fits above solve for the weights exactly.</p>"
        )
    head = "".join(f"<th>{e(conv.labels[m])}</th>" for m in conv.methods)
    rows = "".join(
        f"<tr><td>{int(n)}</td>"
        + "".join(
            f"<td>{conv.max_error[m][k]:.3g}</td>"
            if np.isfinite(conv.max_error[m][k])
            else "<td></td>"
            for m in conv.methods
        )
        + "</tr>"
        for k, n in enumerate(conv.units)
    )
    return f"""
<p>Each point is a fit made for this page, its error measured on a fine verification grid. With
evenly spaced knots the spacing is 1/n of the domain, and on a smooth curve a straight piece
misses by about (spacing)&sup2; &times; curvature / 8, so the error falls like
<b>n<sup>&minus;2</sup></b> (dotted line): ten times the units, a hundred times smaller error.
{knots_text} Measured here:</p>
<ul>{"".join(lines)}</ul>
<p>Slopes are fitted on the larger unit counts of the log&ndash;log plot.</p>
{measured}{trained}
{missing}
<table><tr><th>units</th>{head}</tr>{rows}</table>
<p class="note">Largest absolute error of each fit.</p>"""
