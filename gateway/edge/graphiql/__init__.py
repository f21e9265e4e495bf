"""GraphiQL served from the package: no CDN, so it works on a port's closed network.

The page loads React, ReactDOM and GraphiQL from ``static/`` (vendored from npm by
``tools/vendor-graphiql.sh``; versions and licenses in ``static/NOTICE.md``) and our own
``portgate-graphiql.js``, which reads the page's JSON config: the endpoint, one tab per kind of
user (:mod:`gateway.edge.graphiql.examples`) and a headers hint.
"""

import json
from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from gateway.edge.graphiql.examples import EXAMPLE_TABS, HEADERS_HINT

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
  <style>
    body {{ margin: 0; display: flex; flex-direction: column; height: 100vh;
           font-family: system-ui, sans-serif; }}
    #portgate-key {{ display: flex; flex-wrap: wrap; gap: .5rem; align-items: center;
                    padding: .4rem .75rem; border-bottom: 1px solid #d0d4da; font-size: .9rem; }}
    #portgate-key input {{ flex: 1 1 16rem; max-width: 32rem; font: inherit;
                          padding: .2rem .4rem; }}
    #portgate-key-status {{ color: #3b4250; }}
    #graphiql {{ flex: 1; min-height: 0; }}
  </style>
</head>
<body>
  <form id="portgate-key" aria-label="API key for every tab">
    <label for="portgate-key-input">API key, for every tab</label>
    <input id="portgate-key-input" type="password" autocomplete="off"
      placeholder="none: you are public" aria-describedby="portgate-key-status">
    <button type="submit">Use key</button>
    <button type="button" id="portgate-key-forget">Forget key</button>
    <span id="portgate-key-status" role="status"></span>
  </form>
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
