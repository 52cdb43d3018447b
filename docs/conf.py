"""Sphinx configuration for the relusum documentation (built by ``bash scripts/docs.sh``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")

import relusum  # noqa: E402


def _write_api_page() -> None:
    """``reference/api.rst`` lists every name of ``relusum.__all__`` (so none is ever missed)."""
    names = [n for n in relusum.__all__ if not n.startswith("_")]
    text = (
        "Python API\n==========\n\n"
        "Every public name of ``relusum`` (``relusum.__all__``), from its docstring.\n\n"
        ".. currentmodule:: relusum\n\n"
        ".. autosummary::\n   :toctree: ../generated/api\n   :nosignatures:\n\n"
        + "".join(f"   {n}\n" for n in names)
    )
    page = HERE / "reference" / "api.rst"
    if not page.exists() or page.read_text() != text:
        page.write_text(text)


_write_api_page()

project = "relusum"
author = "relusum developers"
copyright = "2026, relusum developers"
release = version = relusum.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served from the site itself: readable offline
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "relusum_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = [
    "_build",
    "README.md",
    "bench/*.md",
    "*/GALLERY_HEADER.rst",
    "sg_execution_times.rst",
]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]  # docs/benchmarks.md starts its sections at level 2

autosummary_generate = True
autodoc_default_options = {
    "members": True,
    "show-inheritance": False,
    # scikit-learn's generated metadata-routing methods carry sklearn's own cross-references.
    "exclude-members": "set_fit_request,set_score_request,set_predict_request,score",
}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

sphinx_gallery_conf = {
    "examples_dirs": ["tutorial", "howto", "examples"],
    "gallery_dirs": ["generated/tutorial", "generated/howto", "generated/examples"],
    "filename_pattern": r"/plot_|/howto_|/tutorial_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "show_memory": False,
    "write_computation_times": False,
    "plot_gallery": "True",
    "default_thumb_file": None,
}

html_theme = "furo"
html_title = f"relusum {release}"
html_static_path: list[str] = []
templates_path = ["_templates"]
html_show_sourcelink = False


def _skip_reexports(app, what, name, obj, skip, options):  # noqa: ANN001, ANN202
    """On a module page, skip members that already have their own top-level page."""
    if what == "module" and name in relusum.__all__ and getattr(relusum, name, None) is obj:
        return True
    return None


def setup(app):  # noqa: ANN001, ANN201
    app.connect("autodoc-skip-member", _skip_reexports)
