"""The five simulated port systems: which kind each port runs, and a factory that builds one.

- ``DCSA`` ports (Los Angeles, Oakland) serve ``GET /v2/events`` per DCSA Track & Trace 2.2
  (:mod:`port_resolvers.sim.dcsa_api`) and, as its companion, the terminal API
  (:mod:`port_resolvers.sim.native_api`) without container moves.
- ``NATIVE`` ports (Long Beach, Hueneme, San Diego) serve the terminal API only.

Every system also serves the ``/_sim`` knob and statistics routes and applies its knobs to all
other requests (:mod:`port_resolvers.sim.knobs`, :mod:`port_resolvers.sim.conditions`).

A DCSA system also takes event subscriptions and pushes the events of boxes recorded with
``data.record(...)`` to them (:mod:`port_resolvers.sim.dcsa_push`); the app's lifespan stops
the pushes and closes their client when it is served no longer.
"""

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from types import MappingProxyType
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from starlette.types import Scope

from port_resolvers.sim.conditions import SimulatedConditions, plain_error_body
from port_resolvers.sim.data import DEFAULT_SCALE, DEFAULT_SEED, generate_port_data
from port_resolvers.sim.dcsa_api import TrackAndTraceApi, dcsa_error_body
from port_resolvers.sim.dcsa_push import PushSettings
from port_resolvers.sim.knobs import SimKnobs, SystemStats, sim_routes
from port_resolvers.sim.model import PortData
from port_resolvers.sim.native_api import TerminalSystemApi


class SystemKind(Enum):
    DCSA = "DCSA"  # DCSA Track & Trace 2.2, plus the terminal API as its companion
    NATIVE = "NATIVE"  # the proprietary terminal API only


PORT_SYSTEM_KINDS = MappingProxyType({
    "USLAX": SystemKind.DCSA,
    "USLGB": SystemKind.NATIVE,
    "USOAK": SystemKind.DCSA,
    "USNTD": SystemKind.NATIVE,
    "USSAN": SystemKind.NATIVE,
})  # fmt: skip


def _error_body_by_api(scope: Scope, status: int, reason: str) -> Any:
    """DCSA errors on the T&T API, the terminal API's own errors elsewhere."""
    if scope["path"].startswith("/v2/"):
        return dcsa_error_body(scope, status, reason)
    return plain_error_body(scope, status, reason)


@dataclass(frozen=True, slots=True)
class SimulatedPortSystem:
    """One port's simulated system: serve ``app`` (ASGI), turn ``knobs``, read ``stats``."""

    port_id: str
    kind: SystemKind
    app: Starlette
    knobs: SimKnobs
    stats: SystemStats
    data: PortData
    track_and_trace: TrackAndTraceApi | None = None  # DCSA systems: events and subscriptions


def create_port_system(
    port_id: str,
    *,
    data: PortData | None = None,
    knobs: SimKnobs | None = None,
    seed: int = DEFAULT_SEED,
    now: datetime | None = None,
    scale: float = DEFAULT_SCALE,
    clock: Callable[[], datetime] | None = None,
    push: PushSettings | None = None,
) -> SimulatedPortSystem:
    """The simulated system of ``port_id``, over ``data`` or data generated from seed and now.

    ``clock`` is what the system's statistics take as now, to serve the weeks that have ended
    by then; by default the data's own ``now``. ``push`` says how a DCSA system pushes events
    to its subscriptions (client, attempts, backoff); by default with a client of its own.
    """
    if data is None:
        data = generate_port_data(port_id, seed=seed, now=now, scale=scale)
    elif data.port_id != port_id:
        raise ValueError(f"data is for {data.port_id}, not {port_id}")
    knobs = knobs if knobs is not None else SimKnobs(seed=seed)
    stats = SystemStats()
    kind = PORT_SYSTEM_KINDS[port_id]
    routes: list[BaseRoute] = []
    track_and_trace = None
    if kind is SystemKind.DCSA:
        track_and_trace = TrackAndTraceApi(data, knobs, push=push)
        routes += track_and_trace.routes()
        routes += TerminalSystemApi(data, knobs, with_moves=False, clock=clock).routes()
        error_body = _error_body_by_api
    else:
        routes += TerminalSystemApi(data, knobs, clock=clock).routes()
        error_body = plain_error_body
    conditions = Middleware(
        SimulatedConditions, knobs=knobs, stats=stats, routes=routes, error_body=error_body
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if track_and_trace is not None:
                await track_and_trace.aclose()

    app = Starlette(
        routes=[*routes, *sim_routes(knobs, stats)], middleware=[conditions], lifespan=lifespan
    )
    return SimulatedPortSystem(port_id, kind, app, knobs, stats, data, track_and_trace)
