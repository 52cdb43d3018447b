"""A tiny dependency-free SVG sketch of a ReluSum (for Jupyter's ``_repr_svg_``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from relusum._text import plural

if TYPE_CHECKING:  # pragma: no cover
    from relusum.model import ReluSum


def sketch(s: ReluSum, width: int = 320, height: int = 160) -> str:
    """Return SVG text drawing ``s`` on its domain (or around its knots), knots as dots."""
    if s.domain is not None:
        a, b = s.domain
    elif s.n_units:
        a, b = float(s.knots[0]), float(s.knots[-1])
        pad = (b - a) * 0.1 or 1.0
        a, b = a - pad, b + pad
    else:
        a, b = -1.0, 1.0
    h = s.knots[(s.knots > a) & (s.knots < b)]
    xs = np.unique(np.concatenate(([a, b], h)))
    ys = np.asarray(s(xs))
    lo, hi = float(ys.min()), float(ys.max())
    if hi - lo < 1e-300:
        lo, hi = lo - 1.0, hi + 1.0
    m = 10.0

    def px(x: np.ndarray) -> np.ndarray:
        return m + (x - a) / (b - a) * (width - 2 * m)

    def py(y: np.ndarray) -> np.ndarray:
        return height - m - (y - lo) / (hi - lo) * (height - 2 * m)

    pts = " ".join(f"{u:.2f},{v:.2f}" for u, v in zip(px(xs), py(ys)))
    dots = "".join(
        f'<circle cx="{u:.2f}" cy="{v:.2f}" r="2" fill="#d62728"/>'
        for u, v in zip(px(h), py(np.asarray(s(h))))
    )
    title = (
        f"ReluSum: {plural(s.n_units, 'unit')}, {plural(s.n_pieces, 'linear piece')} "
        f"on [{a:.4g}, {b:.4g}]"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{title}</title>'
        f'<rect width="100%" height="100%" fill="white" stroke="#ccc"/>'
        f'<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{pts}"/>{dots}'
        f'<text x="{m}" y="{height - 2}" font-size="10" font-family="sans-serif">'
        f"{title}</text></svg>"
    )
