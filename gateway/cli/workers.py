"""``portgate serve --workers N``: N gateway processes on one listening socket.

One Python process serves one core. With ``--workers N`` the ``portgate`` process binds the
socket and becomes a supervisor (uvicorn's :class:`~uvicorn.supervisors.Multiprocess`): it
starts N worker processes that accept on that one socket (the kernel spreads connections across
them), checks each every few seconds, starts a new one in place of one that died or hangs,
and on SIGINT or SIGTERM stops them all gracefully. Each worker builds its own gateway from the
same config file (:class:`WorkerConfig`), so each is exactly what ``portgate serve`` runs alone.

What N processes share, and what each keeps to itself:

- **Shared through their stores**: the port registry (every worker follows the store within
  ``registry.refresh_interval``, so an admin change made through one reaches all), the audit
  trail (SQLite appends take the file's write lock, so the chain never forks; PostgreSQL the
  same), API keys.
- **Per worker unless Redis is configured**: the answer cache and APQ documents
  (``cache.redis_url`` shares them), rate-limit counters (``rate_limit.redis_url``; without it a
  client gets up to N times its rate).
- **Always per worker**: circuit breakers and port health (each worker judges the ports it
  asks), coalescing of identical fetches, in-flight limits per client and load shedding,
  metrics. ``/metrics`` on the API listener answers for the worker that took the connection;
  ``metrics.listen`` (one listener) is refused with more than one worker: scale out by replicas
  (one process each) when every scrape must see one whole process.
"""

import logging
import sys
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from gateway.cli.server import api_options, edge_protocol, tune_collector
from gateway.config import ConfigError, GatewaySettings

log = logging.getLogger("uvicorn.error")


class WorkerConfig(uvicorn.Config):
    """A worker's uvicorn configuration. It is sent to each worker process (so it holds only the
    config file's path, never the app), and the worker builds its own gateway in :meth:`load`:
    the settings (files and ``PORTGATE_*`` variables, as the supervisor read them), the app and
    the edge's HTTP protocol."""

    def __init__(self, config_path: Path | None, **kwargs: Any) -> None:
        super().__init__("gateway.app:create_app", **kwargs)  # replaced in load()
        self.portgate_config = config_path

    def load(self) -> None:
        if self.loaded:
            return
        from gateway.app import create_app  # in the worker process
        from gateway.config import load_settings
        from gateway.record.tracing import configure_tracing

        try:
            settings = load_settings(self.portgate_config)
            app = create_app(settings)
        except Exception as exc:  # checked by the supervisor first; a file changed since
            log.error("worker cannot build the gateway: %s", exc)
            sys.exit(STARTUP_FAILURE)  # the supervisor stops rather than retry forever
        configure_tracing()
        self.app = app
        self.http = edge_protocol(settings.server, app.state.edge.counts)
        super().load()
        tune_collector(settings.server.gc_young_threshold)


def check_workers(settings: GatewaySettings, workers: int) -> None:
    """Refuse what several workers cannot do: raises ConfigError."""
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    if workers > 1 and settings.metrics.listen is not None:
        raise ConfigError(
            "metrics.listen serves one process: with --workers, scrape /metrics on the API "
            "listener (each answer is one worker's) or run one process per replica"
        )


def run_workers(
    config_path: Path | None,
    settings: GatewaySettings,
    *,
    host: str,
    port: int,
    workers: int,
    access_log: bool = False,
) -> None:
    """Bind ``host:port`` and supervise ``workers`` gateway processes on it until stopped."""
    check_workers(settings, workers)
    config = WorkerConfig(
        config_path,
        host=host,
        port=port,
        workers=workers,
        **api_options(settings.server),
        access_log=access_log,
    )
    sock = config.bind_socket()
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
