"""``relusum explore``: a local web page to build curves from shifted ReLUs and fit them.

The page (``static/``, with the vendored uPlot chart library) talks to a
Starlette app (:mod:`relusum.explore.app`) served by uvicorn
(:mod:`relusum.explore.server`, with the connection guards of
:mod:`relusum.explore.protocol`) whose JSON API (:mod:`relusum.explore.api`)
runs every fit in a worker process with a time limit
(:mod:`relusum.explore.worker`).  Nothing is fetched from the internet.

Examples
--------
>>> from relusum.explore import make_server
>>> srv = make_server(port=0, workers=1).start()
>>> srv.url.startswith("http://127.0.0.1:")
True
>>> srv.close()
"""

from relusum.explore.api import ApiError, ExploreApi, Limits
from relusum.explore.server import ExploreServer, make_server

__all__ = ["make_server", "ExploreServer", "ExploreApi", "Limits", "ApiError"]
