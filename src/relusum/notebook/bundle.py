"""The widget's front end, assembled from the explorer's static files (one source for both).

``relusum explore`` serves ``explore/static/`` as files: ``index.html`` loads the
vendored uPlot and ``app.js``, which imports the shared ``explorer.js``.  The
notebook widget needs one ES module (anywidget's ``_esm``), so :func:`esm`
joins the same files as they are: uPlot (a script that defines ``uPlot``),
``explorer.js`` and ``widget.js`` with their relative ``import`` lines removed,
and a last line that hands the markup (``index.html``'s body) and the styles
(uPlot's, ``app.css`` and ``widget.css``) to ``makeWidget``.  No bundler, and
nothing in the result names another host: the widget loads nothing from outside.

Examples
--------
>>> code = esm()
>>> code.rstrip().splitlines()[-1].startswith("export default makeWidget(")
True
>>> "https://" in code or "http://" in code
False
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

__all__ = ["esm", "markup", "styles", "read_static"]

# `import { a, b } from "./explorer.js";` -- the only imports the front-end files make.
_IMPORT = re.compile(r'^import\s*\{[^}]*\}\s*from\s*"\./[\w-]+\.js";[ \t]*\n', re.M)
# uPlot's first line, `/*! https://github.com/leeoniya/uPlot (v1.6.32) */`: its home page.
_BANNER = re.compile(r"\A/\*!\s*https?://\S+\s*\((v[\d.]+)\)\s*\*/")


def read_static(name: str) -> str:
    """The text of ``relusum/explore/static/<name>``."""
    return (resources.files("relusum.explore") / "static" / name).read_text(encoding="utf-8")


def _module_body(name: str) -> str:
    """A front-end module without its relative imports (the bundle defines those names)."""
    text = read_static(name)
    body = _IMPORT.sub("", text)
    if re.search(r"^\s*import[\s{(]", body, re.M):  # pragma: no cover - guards edits to the files
        raise RuntimeError(f"{name}: an import the widget bundle cannot resolve")
    return body


def markup() -> str:
    """The explorer's markup: the body of ``index.html`` (the page's scripts stay out)."""
    html = read_static("index.html")
    m = re.search(r"<body[^>]*>(.*)</body>", html, re.S)
    if m is None:  # pragma: no cover - guards edits to index.html
        raise RuntimeError("index.html has no <body>")
    return re.sub(r"<script\b.*?</script>", "", m.group(1), flags=re.S).strip()


def styles() -> str:
    """uPlot's styles, ``app.css`` scoped to the widget's shadow root, and ``widget.css``."""
    app = read_static("app.css").replace(":root {", ":host {")
    return "\n".join([read_static("vendor/uPlot.min.css"), app, read_static("widget.css")])


@lru_cache(maxsize=1)
def esm() -> str:
    """The widget's ES module (anywidget's ``_esm``): uPlot, explorer.js, widget.js, the markup."""
    uplot = _BANNER.sub(
        r"/*! uPlot \1, MIT licence (relusum/explore/static/vendor/uPlot.LICENSE) */",
        read_static("vendor/uPlot.iife.min.js"),
    )
    config = json.dumps({"css": styles(), "markup": markup()}, ensure_ascii=False)
    return "\n".join(
        [
            "/* relusum notebook widget, built from explore/static by notebook/bundle.py */",
            uplot,
            _module_body("explorer.js"),
            _module_body("widget.js"),
            f"export default makeWidget({{ uPlot, ...{config} }});",
            "",
        ]
    )
