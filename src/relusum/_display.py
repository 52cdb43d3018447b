"""Rich Jupyter display (``_repr_html_``, ``_repr_markdown_``) without matplotlib.

The HTML is an inline SVG drawn here from NumPy arrays (no plotting library is
imported, so displaying a model costs milliseconds) plus a compact table.  Large
sums are truncated: at most :data:`MAX_ROWS` table rows and :data:`MAX_UNITS_DRAWN`
unit curves are shown, and the sum itself is drawn with one point per knot at
one decimal of a pixel, so 1,000 units stay well under 50 kB.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np

from relusum._text import plural

if TYPE_CHECKING:  # pragma: no cover
    from relusum.fitting.report import FitResult
    from relusum.model import ReluSum

__all__ = ["relusum_html", "relusum_markdown", "fit_result_html"]

#: Table rows shown before the middle of a long table is elided.
MAX_ROWS = 10
#: Individual units drawn under the sum (the largest by |weight| beyond this).
MAX_UNITS_DRAWN = 40
WIDTH, PANEL, MARGIN = 480, 150, 8

_SUM, _UNIT, _KNOT, _TARGET, _ERR = "#1f77b4", "#9aa5b1", "#d62728", "#ff7f0e", "#2ca02c"


def _f(v: float) -> str:
    return f"{v:.6g}"


def _span(s: ReluSum) -> tuple[float, float]:
    if s.domain is not None:
        return s.domain
    if s.n_units:
        a, b = float(s.knots[0]), float(s.knots[-1])
        pad = (b - a) * 0.1 or 1.0
        return a - pad, b + pad
    return -1.0, 1.0


class _Panel:
    """Maps data to pixels in one horizontal strip of the figure."""

    def __init__(self, a: float, b: float, ys: list[np.ndarray], top: float) -> None:
        finite = [y[np.isfinite(y)] for y in ys if np.size(y)]
        lo = min((float(y.min()) for y in finite if y.size), default=-1.0)
        hi = max((float(y.max()) for y in finite if y.size), default=1.0)
        if hi - lo < 1e-300 * max(1.0, abs(hi)):
            lo, hi = lo - 1.0, hi + 1.0
        pad = 0.05 * (hi - lo)
        self.a, self.b, self.lo, self.hi, self.top = a, b, lo - pad, hi + pad, top

    def px(self, x: np.ndarray) -> np.ndarray:
        return MARGIN + (np.asarray(x, float) - self.a) / (self.b - self.a) * (WIDTH - 2 * MARGIN)

    def py(self, y: np.ndarray) -> np.ndarray:
        frac = (np.asarray(y, float) - self.lo) / (self.hi - self.lo)
        return self.top + PANEL - MARGIN - frac * (PANEL - 2 * MARGIN)

    def path(self, x: np.ndarray, y: np.ndarray) -> str:
        u, v = self.px(x), self.py(y)
        return "M" + "L".join(f"{p:.1f},{q:.1f}" for p, q in zip(u, v))

    def dots(self, x: np.ndarray, y: np.ndarray) -> str:
        u, v = self.px(x), self.py(y)
        return "".join(f"M{p:.1f},{q:.1f}h0" for p, q in zip(u, v))

    def frame(self, label: str) -> str:
        zero = ""
        if self.lo < 0 < self.hi:
            z = float(self.py(0.0))
            zero = (
                f'<line x1="{MARGIN}" x2="{WIDTH - MARGIN}" y1="{z:.1f}" y2="{z:.1f}" '
                'stroke="#ddd"/>'
            )
        return (
            f'<rect x="0.5" y="{self.top + 0.5}" width="{WIDTH - 1}" height="{PANEL - 1}" '
            f'fill="white" stroke="#ccc"/>{zero}'
            f'<text x="{MARGIN + 2}" y="{self.top + 14}" font-size="11">{html.escape(label)}</text>'
        )


def _svg(body: str, n_panels: int, title: str) -> str:
    h = n_panels * PANEL
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{h}" '
        f'viewBox="0 0 {WIDTH} {h}" font-family="sans-serif">'
        f"<title>{html.escape(title)}</title>{body}</svg>"
    )


def _stroke(d: str, color: str, width: float = 1.5, extra: str = "") -> str:
    return f'<path fill="none" stroke="{color}" stroke-width="{width}"{extra} d="{d}"/>'


def _summary(s: ReluSum) -> str:
    a, b = _span(s)
    where = "on" if s.domain is not None else "around its knots,"
    return (
        f"ReluSum: {plural(s.n_units, 'unit')}, {plural(s.n_pieces, 'linear piece')} "
        f"{where} [{a:.4g}, {b:.4g}], bias {_f(s.bias)}"
    )


def relusum_svg(s: ReluSum) -> str:
    """Two panels: the sum with its knots, then its units ``w_i * max(0, x - h_i)``."""
    a, b = _span(s)
    inside = (s.knots >= a) & (s.knots < b)
    h = s.knots[inside]
    xs = np.unique(np.concatenate(([a, b], h)))
    top = _Panel(a, b, [np.asarray(s(xs))], 0.0)
    body = top.frame(f"f(x), {plural(h.size, 'knot')} in view")
    body += _stroke(top.path(xs, np.asarray(s(xs))), _SUM, 2.0)
    if h.size:
        dot = 5.0 if h.size <= 100 else 3.0
        body += _stroke(top.dots(h, np.asarray(s(h))), _KNOT, dot, ' stroke-linecap="round"')
    idx = np.flatnonzero(inside)
    shown = idx
    if idx.size > MAX_UNITS_DRAWN:
        big = np.argsort(-np.abs(s.weights[idx]), kind="stable")[:MAX_UNITS_DRAWN]
        shown = np.sort(idx[big])
    ends = s.weights[shown] * (b - s.knots[shown])
    low = _Panel(a, b, [np.array([0.0]), ends], PANEL)
    label = f"units w·max(0, x − h): {shown.size}"
    label += f" largest of {idx.size}" if shown.size < idx.size else " shown"
    body += low.frame(label)
    d = "".join(
        low.path(np.array([a, hk, b]), np.array([0.0, 0.0, e]))
        for hk, e in zip(s.knots[shown], ends)
    )
    if d:
        body += _stroke(d, _UNIT, 1.0)
    return _svg(body, 2, _summary(s))


def _rows_table(head: list[str], rows: list[list[str]], n: int) -> str:
    out = ["<table><thead><tr>"]
    out += [f"<th>{html.escape(c)}</th>" for c in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        if row is None:
            hidden = n - (len(rows) - 1)
            out.append(
                f'<tr><td colspan="{len(head)}" style="text-align:center">'
                f"… {plural(hidden, 'more row')} …</td></tr>"
            )
            continue
        out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def relusum_table(s: ReluSum) -> str:
    """Knots, weights and the slope after each knot; the middle elided for long sums."""
    n = s.n_units
    keep = list(range(n))
    if n > MAX_ROWS:
        half = MAX_ROWS // 2
        keep = list(range(half)) + [-1] + list(range(n - half, n))
    slopes = np.cumsum(s.weights)
    rows: list[Any] = [
        None if i < 0 else [str(i), _f(s.knots[i]), _f(s.weights[i]), _f(slopes[i])] for i in keep
    ]
    return _rows_table(["i", "knot h", "weight w", "slope after h"], rows, n)


def relusum_html(s: ReluSum) -> str:
    """The HTML shown by Jupyter for a :class:`~relusum.ReluSum`."""
    return (
        '<div class="relusum-repr">'
        f"<p><strong>{html.escape(_summary(s))}</strong></p>"
        f"{relusum_svg(s)}{relusum_table(s)}</div>"
    )


def relusum_markdown(s: ReluSum) -> str:
    """One line of Markdown describing the sum."""
    return "**" + _summary(s).replace(": ", "**: ", 1)


def fit_result_svg(r: FitResult) -> str:
    """The fit against its target, then the error ``model - target``."""
    s, t = r.model, r.target
    a, b = t.domain
    h = s.knots[(s.knots > a) & (s.knots < b)]
    # Beyond ~one point per pixel more vertices only add bytes: many knots are
    # drawn through a fine uniform grid instead of through every knot.
    base = np.linspace(a, b, 400)
    grid = np.unique(np.concatenate((base, h))) if h.size <= 400 else np.linspace(a, b, 960)
    if t.fn is not None:
        tx, ty = base, t.evaluate(base)
    else:
        step = max(1, t.x.size // 400)
        tx, ty = t.x[::step], t.y[::step]
    fy = np.asarray(s(grid))
    top = _Panel(a, b, [ty, fy], 0.0)
    body = top.frame(f"fit ({_SUM_NAME}) and target {t.label} ({_TARGET_NAME})")
    if t.fn is not None:
        body += _stroke(top.path(tx, ty), _TARGET, 3.0, ' stroke-opacity="0.6"')
    else:
        body += _stroke(top.dots(tx, ty), _TARGET, 3.0, ' stroke-linecap="round"')
    body += _stroke(top.path(grid, fy), _SUM, 1.5)
    err = np.asarray(s(tx)) - ty
    low = _Panel(a, b, [np.array([0.0]), err], PANEL)
    body += low.frame(f"error model − target (max |e| = {np.max(np.abs(err)):.3g})")
    if t.fn is not None:
        body += _stroke(low.path(tx, err), _ERR, 1.2)
    else:
        body += _stroke(low.dots(tx, err), _ERR, 3.0, ' stroke-linecap="round"')
    return _svg(body, 2, f"fit of {t.label} with {plural(s.n_units, 'unit')}")


_SUM_NAME, _TARGET_NAME = "blue", "orange"


def fit_result_html(r: FitResult) -> str:
    """The HTML shown by Jupyter for a :class:`~relusum.FitResult`."""
    rep = r.report
    rows = [
        ["target", r.target.label],
        ["units / linear pieces", f"{rep.n_units} / {rep.n_pieces}"],
        ["RMSE", _f(rep.rmse)],
        ["max |error|", _f(rep.max_abs_error)],
        ["errors measured on", f"{rep.error_on} ({plural(rep.n_verify, 'point')})"],
        ["loss / knots", f"{rep.loss} / {rep.knots}"],
        ["fit samples", f"{rep.n_samples:,}"],
        ["seconds", f"{rep.seconds:.3g}"],
    ]
    rows += [[str(k), _f(v) if isinstance(v, float) else str(v)] for k, v in rep.extra.items()]
    table = _rows_table(["report", "value"], rows, len(rows))
    return (
        '<div class="relusum-repr">'
        f"<p><strong>FitResult</strong>: {html.escape(_summary(r.model))}</p>"
        f"{fit_result_svg(r)}{table}{relusum_table(r.model)}</div>"
    )
