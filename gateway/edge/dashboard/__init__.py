"""The outlook dashboard, served from the package: no CDN, no framework, works offline.

``GET /dashboard`` is a plain page; its own script (``static/dashboard.js``) subscribes to
``outlookUpdates`` (GraphQL over SSE) at the GraphQL endpoint with ``X-Portgate-CSRF: 1`` (and
the API key the user pasted, kept in the browser's localStorage), and draws each message: a table of
the ports, bar charts as inline SVG, the late arrivals, the comparison and each port's freshness
from ``extensions.sources``, and the outlook of the containers the user enters. A port that did not
answer is shown as missing, never as zero, and named in a banner; the page says how fresh its
figures are and turns red when they are not. When the stream cannot be had or breaks, it asks
the ``outlook`` query instead and tries the stream again every refresh interval; the window
and the interval can be changed on the page and are kept in its link (``?days=5&refresh=60``),
so a wall screen opens as it was set up. On a phone the ports table becomes one card a port.
"""

import json
from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/dashboard/static"
PAGE_PATH = "/dashboard"
REFRESH_SECONDS = 30  # the page's defaults; ?refresh= and ?days= in its link change them
OUTLOOK_DAYS = 3

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Port outlook · portgate</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="{static}/dashboard.css">
</head>
<body>
  <a class="skip" href="#ports-heading">Skip to the ports</a>
  <header>
    <div class="title">
      <h1>California port outlook</h1>
      <p id="window" class="window"></p>
    </div>
    <div id="freshness" class="freshness" role="status" aria-live="polite">
      <span id="status">Loading…</span>
      <span class="updated">last updated <time id="last-updated">never</time></span>
      <span id="age" class="age"></span>
    </div>
  </header>
  <div id="missing-banner" class="banner" role="alert" hidden></div>
  <details class="settings">
    <summary>Key, window and refresh</summary>
    <form id="key-form">
      <label for="api-key">API key</label>
      <input type="password" id="api-key" autocomplete="off" placeholder="none: public view">
      <button type="submit">Use key</button>
      <button type="button" id="forget-key">Forget key</button>
    </form>
    <form id="view-form">
      <label for="days">Window (days)</label>
      <input type="number" id="days" min="1" max="14" step="1" inputmode="numeric">
      <label for="refresh">Refresh every (s)</label>
      <input type="number" id="refresh" min="10" max="3600" step="5" inputmode="numeric">
      <button type="submit">Apply</button>
    </form>
    <p class="hint">Live by subscription; without it, refreshes every
      <span id="refresh-seconds"></span> s ·
      <button type="button" id="refresh-now">Refresh now</button>.
      The link to this page keeps the window and refresh (for a wall screen).</p>
  </details>
  <main>
    <p id="comparison" class="comparison"></p>
    <section aria-labelledby="ports-heading">
      <h2 id="ports-heading" tabindex="-1">Ports</h2>
      <div class="table-wrap">
        <table id="ports" class="cards">
          <caption class="visually-hidden">Each port's figures for the window</caption>
          <thead><tr>
            <th scope="col">Port</th><th scope="col">Answered</th>
            <th scope="col" class="num">At anchor</th><th scope="col" class="num">At berth</th>
            <th scope="col" class="num">Expected arrivals</th>
            <th scope="col" class="num">Avg delay (h)</th>
            <th scope="col" class="num">Dwell (days)</th>
            <th scope="col" class="num">Truck turn (min)</th><th scope="col">Status</th>
          </tr></thead>
          <tbody></tbody>
        </table>
      </div>
    </section>
    <section class="charts" aria-label="Charts">
      <figure><figcaption id="cap-anchor">Vessels at anchor</figcaption>
        <div id="chart-anchor"></div></figure>
      <figure><figcaption id="cap-delay">Average delay (hours)</figcaption>
        <div id="chart-delay"></div></figure>
      <figure><figcaption id="cap-dwell">Container dwell (days)</figcaption>
        <div id="chart-dwell"></div></figure>
    </section>
    <section aria-labelledby="boxes-heading">
      <h2 id="boxes-heading">My containers</h2>
      <form id="boxes-form">
        <label for="boxes">Container numbers (one per line or comma-separated, up to 20)</label>
        <textarea id="boxes" rows="2" spellcheck="false" autocomplete="off"></textarea>
        <button type="submit">Show</button>
      </form>
      <div class="table-wrap">
        <table id="containers">
          <thead><tr>
            <th scope="col">Container</th><th scope="col">Port</th><th scope="col">Status</th>
            <th scope="col">First available</th><th scope="col">Last free day</th>
            <th scope="col">Holds pending</th><th scope="col">At risk</th>
            <th scope="col">Why</th>
          </tr></thead>
          <tbody></tbody>
        </table>
      </div>
    </section>
    <section aria-labelledby="late-heading">
      <h2 id="late-heading">Late arrivals</h2>
      <div class="table-wrap">
        <table id="late">
          <thead><tr>
            <th scope="col">Port</th><th scope="col">Vessel</th><th scope="col">Call</th>
            <th scope="col">Planned</th><th scope="col">Estimated</th>
            <th scope="col" class="num">Delay (h)</th>
          </tr></thead>
          <tbody></tbody>
        </table>
      </div>
    </section>
    <section aria-labelledby="terminals-heading">
      <h2 id="terminals-heading">Terminal gates and empty returns</h2>
      <div class="table-wrap">
        <table id="terminal-notes">
          <thead><tr>
            <th scope="col">Port</th><th scope="col">Terminal</th><th scope="col">Date</th>
            <th scope="col">What</th>
          </tr></thead>
          <tbody></tbody>
        </table>
      </div>
    </section>
    <section aria-labelledby="sources-heading">
      <h2 id="sources-heading">Sources</h2>
      <div class="table-wrap">
        <table id="sources">
          <thead><tr>
            <th scope="col">Port</th><th scope="col">Source</th>
            <th scope="col">Latency / cache age</th><th scope="col">Code</th>
          </tr></thead>
          <tbody></tbody>
        </table>
      </div>
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
