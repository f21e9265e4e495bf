"""The outlook dashboard, served from the package: no CDN, no framework, works offline.

``GET /dashboard`` is a plain page; its own script (``static/dashboard.js``) POSTs the
``outlook`` query to the GraphQL endpoint with ``X-Portgate-CSRF: 1`` (and the API key the user
pasted, kept in the browser's localStorage), and draws the answer: a table of the ports, bar
charts as inline SVG, the late arrivals, the comparison and each port's freshness from
``extensions.sources``. A port that did not answer is shown as missing, never as zero. The page
refreshes itself on an interval.
"""

import json
from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/dashboard/static"
PAGE_PATH = "/dashboard"
REFRESH_SECONDS = 30
OUTLOOK_DAYS = 3

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>portgate outlook</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="{static}/dashboard.css">
</head>
<body>
  <header>
    <h1>Port outlook <small id="window"></small></h1>
    <p class="meta">
      <span id="status" role="status">Loading…</span>
      · last updated <time id="last-updated">never</time>
      · refreshes every <span id="refresh-seconds"></span> s
      <button type="button" id="refresh-now">Refresh now</button>
    </p>
    <form id="key-form">
      <label>API key <input type="password" id="api-key" autocomplete="off"
        placeholder="none: public view"></label>
      <button type="submit">Use key</button>
      <button type="button" id="forget-key">Forget key</button>
    </form>
  </header>
  <main>
    <p id="comparison" class="comparison"></p>
    <section>
      <h2>Ports</h2>
      <table id="ports">
        <thead><tr>
          <th>Port</th><th>Answered</th><th>At anchor</th><th>At berth</th>
          <th>Expected arrivals</th><th>Avg delay (h)</th><th>Dwell (days)</th>
          <th>Truck turn (min)</th><th>Status</th>
        </tr></thead>
        <tbody></tbody>
      </table>
    </section>
    <section class="charts">
      <figure><figcaption>Vessels at anchor</figcaption><div id="chart-anchor"></div></figure>
      <figure><figcaption>Average delay (hours)</figcaption><div id="chart-delay"></div></figure>
      <figure><figcaption>Container dwell (days)</figcaption><div id="chart-dwell"></div></figure>
    </section>
    <section>
      <h2>Sources</h2>
      <table id="sources">
        <thead><tr>
          <th>Port</th><th>Source</th><th>Latency / cache age</th><th>Code</th>
        </tr></thead>
        <tbody></tbody>
      </table>
    </section>
    <section>
      <h2>Late arrivals</h2>
      <table id="late">
        <thead><tr>
          <th>Port</th><th>Vessel</th><th>Call</th><th>Planned</th><th>Estimated</th>
          <th>Delay (h)</th>
        </tr></thead>
        <tbody></tbody>
      </table>
    </section>
    <section id="errors-section" hidden>
      <h2>Notes from the gateway</h2>
      <ul id="errors"></ul>
    </section>
    <p id="withheld" class="withheld" hidden></p>
  </main>
  <script id="portgate-dashboard-config" type="application/json">{config}</script>
  <script src="{static}/dashboard.js"></script>
</body>
</html>
"""


def page_config(endpoint: str) -> dict[str, object]:
    """What the page's script needs: where to send the query, how often, for how many days."""
    return {"endpoint": endpoint, "refreshSeconds": REFRESH_SECONDS, "days": OUTLOOK_DAYS}


def dashboard_page(endpoint: str = "/graphql") -> HTMLResponse:
    """The dashboard page, asking the GraphQL endpoint at ``endpoint``."""
    # "<" escaped so that no value can close the <script> element it sits in.
    config = json.dumps(page_config(endpoint)).replace("<", "\\u003c")
    return HTMLResponse(_PAGE.format(static=STATIC_PATH, config=config))


def static_files() -> StaticFiles:
    """The dashboard's script and stylesheet, to mount at :data:`STATIC_PATH`."""
    return StaticFiles(directory=STATIC_DIR)
