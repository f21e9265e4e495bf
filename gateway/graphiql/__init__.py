"""GraphiQL served from the package: no CDN, so it works on a port's closed network.

The page loads React, ReactDOM and GraphiQL from ``static/`` (vendored from npm by
``tools/vendor-graphiql.sh``; versions and licenses in ``static/NOTICE.md``) and our own
``portgate-graphiql.js``, which reads the page's JSON config: the endpoint, one tab per kind of
user (:mod:`gateway.graphiql.examples`) and a headers hint.
"""

import json
from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from gateway.graphiql.examples import EXAMPLE_TABS, HEADERS_HINT

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/graphiql/static"

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>portgate GraphiQL</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="{static}/graphiql.min.css">
  <style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script id="portgate-graphiql-config" type="application/json">{config}</script>
  <script src="{static}/react.production.min.js"></script>
  <script src="{static}/react-dom.production.min.js"></script>
  <script src="{static}/graphiql.min.js"></script>
  <script src="{static}/portgate-graphiql.js"></script>
</body>
</html>
"""


def page_config(endpoint: str) -> dict[str, object]:
    """What the page's script needs: where to send queries, the tabs, the headers hint."""
    return {
        "endpoint": endpoint,
        "headersHint": HEADERS_HINT,
        "tabs": [
            {"query": t.query, "variables": t.variables, "headers": HEADERS_HINT}
            for t in EXAMPLE_TABS
        ],
    }


def graphiql_page(endpoint: str) -> HTMLResponse:
    """The GraphiQL page for a GraphQL endpoint path such as ``/graphql``."""
    # "<" escaped so that no value can close the <script> element it sits in.
    config = json.dumps(page_config(endpoint)).replace("<", "\\u003c")
    return HTMLResponse(_PAGE.format(static=STATIC_PATH, config=config))


def static_files() -> StaticFiles:
    """GraphiQL's assets, to mount at :data:`STATIC_PATH`."""
    return StaticFiles(directory=STATIC_DIR)
