"""The documentation site builds offline with warnings as errors (issue 15).

Runs ``scripts/docs.sh`` into a temporary folder: every gallery script, the tutorial
and every how-to page are executed, the API reference is generated from the docstrings
and the CLI reference from the argparse parser. A broken example or reference fails here.
On the 2-core CI machine the build takes about 2-3 minutes (the gallery is most of it).
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "docs.sh"), str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1500,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return out


def test_gallery_has_at_least_12_executed_examples(site):
    pages = sorted((site / "generated" / "examples").glob("plot_*.html"))
    assert len(pages) >= 12
    for page in pages:
        text = page.read_text()
        assert "sphx_glr_plot_" in text and ".png" in text, page.name  # a figure was made


def test_tutorial_and_howtos_ran(site):
    tut = (site / "generated" / "tutorial" / "tutorial_relu_story.html").read_text()
    assert tut.count(".png") >= 5
    assert "uniform" in tut and "ratio" in tut  # the printed convergence table
    howtos = sorted((site / "generated" / "howto").glob("howto_*.html"))
    assert len(howtos) >= 10


def test_cli_reference_is_generated_from_the_parser(site):
    sys.path.insert(0, str(ROOT / "src"))
    from relusum.cli import build_parser

    text = (site / "reference" / "cli.html").read_text()
    sub = build_parser()._subparsers._group_actions[0].choices
    for name, parser in sub.items():
        assert name in text
        for action in parser._actions:
            for opt in action.option_strings:
                if opt.startswith("--"):
                    assert opt in text, (name, opt)


def test_cli_reference_is_exactly_the_help_text(site, monkeypatch):
    sys.path.insert(0, str(ROOT / "src"))
    from relusum.cli import build_parser

    monkeypatch.setenv("COLUMNS", "100")  # the width the docs render at
    page = (site / "reference" / "cli.html").read_text()
    blocks = [
        html.unescape(re.sub(r"<[^>]+>", "", b))
        for b in re.findall(r"<pre>(.*?)</pre>", page, re.S)
    ]
    parser = build_parser()
    expected = [parser.format_help()]
    expected += [s.format_help() for s in parser._subparsers._group_actions[0].choices.values()]
    assert [b.strip() for b in blocks] == [e.strip() for e in expected]


def test_api_reference_covers_every_public_name(site):
    import relusum

    api = site / "generated" / "api"
    for name in relusum.__all__:
        if name == "__version__":
            continue
        assert (api / f"relusum.{name}.html").exists(), name


def test_model_format_page_shows_current_json(site):
    text = (site / "reference" / "format.html").read_text()
    assert re.search(r"relusum/1", text)
    assert "weights" in text


def test_site_works_offline(site):
    # No page pulls scripts or styles from the network (MathJax is served locally).
    for page in site.rglob("*.html"):
        text = page.read_text()
        m = re.search(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', text)
        assert m is None, (page, m and m.group(1))
    assert list(site.rglob("mathjax/**/tex-chtml*.js"))
