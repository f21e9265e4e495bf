"""``portgate serve`` with parts of the hot path put back as they were, for before/after figures.

    python -m bench.variant --config portgate.yaml --port 8000 [--httpx] [--aiohttp]
        [--print-per-request]

``--httpx``: ports are reached through an httpx client (the app's port client before aiohttp;
the same limits it had). ``--aiohttp``: ports are reached through aiohttp's pool
(:class:`gateway.ports.upstream_aiohttp.PortSessions`, the port client before the gateway's own
connections). ``--print-per-request``: every port document is printed anew for each
request (no cache of printed documents). Everything else is
``portgate serve`` as it is.
"""

import argparse
from pathlib import Path

import httpx
import uvicorn

import gateway.app
from gateway.app import create_app
from gateway.config import load_settings
from gateway.planning.plan import Planner
from gateway.ports.upstream_aiohttp import PortSessions
from gateway.record.tracing import configure_tracing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--httpx", action="store_true")
    parser.add_argument("--aiohttp", action="store_true")
    parser.add_argument("--print-per-request", action="store_true")
    args = parser.parse_args()
    settings = load_settings(args.config)
    if args.print_per_request:
        planner_init = Planner.__init__

        def uncached(self: Planner, *a: object, **k: object) -> None:
            planner_init(self, *a, **k)  # type: ignore[arg-type]
            self._document = self._print_document  # type: ignore[method-assign]

        Planner.__init__ = uncached  # type: ignore[method-assign]
    if args.aiohttp:
        gateway.app.PortConnections = PortSessions  # type: ignore[misc, assignment]
    client = None
    if args.httpx:
        limit = settings.port_defaults.max_connections * max(len(settings.ports), 1)
        client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
            follow_redirects=False,
        )
    configure_tracing()
    app = create_app(settings, client=client)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="info")


if __name__ == "__main__":
    main()
