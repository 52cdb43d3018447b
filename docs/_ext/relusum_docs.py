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


def setup(app):  # noqa: ANN001, ANN201
    app.add_directive("relusum-json-example", JsonExample)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
