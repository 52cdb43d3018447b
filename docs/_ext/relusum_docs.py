"""Small Sphinx directives for the relusum docs, rendered from the code at build time."""

from __future__ import annotations

from docutils import nodes
from sphinx.util.docutils import SphinxDirective


class JsonExample(SphinxDirective):
    """A model file written by the current ``ReluSum.to_json`` (so the page cannot go stale)."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        import json

        from relusum import ReluSum

        model = ReluSum(0.5, [0.0, 1.0], [1.0, -2.0], (-1.0, 2.0))
        text = json.dumps(json.loads(model.to_json()), indent=2)
        block = nodes.literal_block(text, text)
        block["language"] = "json"
        return [block]


class CliHelp(SphinxDirective):
    """``relusum --help`` and ``relusum COMMAND --help``, from the argparse parser itself.

    The text is exactly what the command prints (at 100 columns), one section per command,
    so the reference cannot drift from the code and no help text is re-read as markup.
    """

    has_content = False

    def run(self) -> list[nodes.Node]:
        import os

        from relusum.cli import build_parser

        old = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "100"
        try:
            parser = build_parser()
            out: list[nodes.Node] = [_literal(parser.format_help())]
            choices = parser._subparsers._group_actions[0].choices  # the subcommands
            for name, sub in choices.items():
                section = nodes.section(ids=[f"cli-{name}"], names=[f"relusum {name}"])
                section += nodes.title(text=f"relusum {name}")
                section += _literal(sub.format_help())
                self.state.document.note_implicit_target(section)
                out.append(section)
        finally:
            if old is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = old
        return out


def _literal(text: str) -> nodes.literal_block:
    block = nodes.literal_block(text, text)
    block["language"] = "text"
    return block


def setup(app):  # noqa: ANN001, ANN201
    app.add_directive("relusum-json-example", JsonExample)
    app.add_directive("relusum-cli-help", CliHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
