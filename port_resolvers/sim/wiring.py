"""Which adapter reads which simulated port: ``source_for(port_id, base_url, client)``.

Los Angeles and Oakland are read through their DCSA Track & Trace API, completed by their
terminal API on the same base URL; Long Beach, Hueneme and San Diego through their terminal
API alone. The terminal API adapter reads what the port's system publishes of the optional
capabilities (:data:`~port_resolvers.sim.reference.OFFERS`); a DCSA port offers what its
terminal API does. The demo builds the five port resolvers from these.
"""

from collections.abc import Callable
from datetime import datetime

import httpx

from port_resolvers.kit.source import PortDataSource
from port_resolvers.sim.reference import OFFERS
from port_resolvers.sim.systems import PORT_SYSTEM_KINDS, SystemKind
from port_resolvers.sources.dcsa import DcsaTrackAndTraceSource
from port_resolvers.sources.native_json import NativeJsonSource


def source_for(
    port_id: str,
    base_url: str,
    client: httpx.AsyncClient,
    *,
    clock: Callable[[], datetime] | None = None,
) -> PortDataSource:
    """The adapter for simulated port ``port_id`` whose system answers at ``base_url``.

    ``clock`` (DCSA ports only) is what the adapter takes as now when it derives call phases;
    by default the current time.
    """
    kind = PORT_SYSTEM_KINDS.get(port_id)
    if kind is None:
        raise ValueError(f"no simulated system for port {port_id!r}")
    terminal_api = NativeJsonSource(client, base_url, offers=OFFERS[port_id])
    if kind is SystemKind.NATIVE:
        return terminal_api
    if clock is None:
        return DcsaTrackAndTraceSource(client, base_url, port_id, supplement=terminal_api)
    return DcsaTrackAndTraceSource(client, base_url, port_id, supplement=terminal_api, clock=clock)
