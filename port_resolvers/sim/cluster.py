"""The five simulated ports running on loopback, for the demo, end-to-end tests and benchmarks.

``async with run_simulated_ports(seed=...) as ports`` generates the data, then serves, per port,
its simulated system (``system_url``: ``/v2/events``, ``/api/v1/...``, ``/_sim/knobs``) and a
port resolver (``resolver_url``, the resolver kit's ``/graphql``) whose adapter reads that
system over HTTP, exactly as a real port's resolver would read its own systems. The resolvers of
the DCSA ports (Los Angeles, Oakland) also subscribe to their system's events (T&T 2.2 event
subscriptions, signed callbacks) and tell the gateway what changed on ``GET /changes``; the
others are polled. Every server
listens on an ephemeral port of ``host`` (loopback by default) and stops when the block ends.
The servers do not take over Ctrl-C: the demo's own server handles it, and leaving the block
stops the ports.
"""

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
from starlette.routing import Route

from port_resolvers.kit import create_resolver_app
from port_resolvers.kit.changes import ChangeNotices
from port_resolvers.loopback import LOOPBACK, serve_on_loopback
from port_resolvers.sim.data import DEFAULT_SCALE, DEFAULT_SEED, generate_all_ports
from port_resolvers.sim.reference import PORT_IDS
from port_resolvers.sim.systems import SimulatedPortSystem, SystemKind, create_port_system
from port_resolvers.sim.wiring import source_for
from port_resolvers.sources.dcsa_push import NOTIFICATIONS_PATH, DcsaEventPush

SYSTEM_TIMEOUT_SECONDS = 5.0  # how long a resolver waits for its port's system


@dataclass(frozen=True, slots=True)
class RunningPort:
    """One simulated port being served: its system and its resolver, by URL."""

    id: str
    name: str
    kind: str  # DCSA | NATIVE: what the port's own system speaks
    system_url: str
    resolver_url: str
    system: SimulatedPortSystem
    gateway_token: str | None = None  # what the gateway must present to the resolver
    push: DcsaEventPush | None = None  # DCSA ports: the resolver's subscription to its system


def _frozen(now: datetime) -> Callable[[], datetime]:
    return lambda: now


@contextlib.asynccontextmanager
async def run_simulated_ports(
    *,
    seed: int = DEFAULT_SEED,
    now: datetime | None = None,
    scale: float = DEFAULT_SCALE,
    host: str = LOOPBACK,
    port_ids: Sequence[str] = PORT_IDS,
    gateway_tokens: bool = False,
    base_port: int = 0,
    clock: Callable[[], datetime] | None = None,
) -> AsyncIterator[list[RunningPort]]:
    """Serve the simulated systems and resolvers of ``port_ids``; yields them, in that order.

    With ``gateway_tokens`` each resolver answers only requests carrying its own random token
    (``RunningPort.gateway_token``), which the gateway must present for that port.
    With ``base_port`` the servers listen on fixed ports (for containers): the i-th port's
    system on ``base_port + 2i``, its resolver on ``base_port + 2i + 1``; else on free ones.
    ``clock`` is what the systems' statistics and the resolvers take as now for metric periods
    (the weeks that have ended by then); by default the data's ``now``.
    """
    data = generate_all_ports(seed=seed, now=now, scale=scale)
    async with (
        httpx.AsyncClient(timeout=SYSTEM_TIMEOUT_SECONDS) as client,
        contextlib.AsyncExitStack() as servers,
    ):
        ports = []
        for i, port_id in enumerate(port_ids):
            fixed = base_port + 2 * i if base_port else 0
            now_of_port = clock or _frozen(data[port_id].now)
            system = create_port_system(port_id, data=data[port_id], seed=seed, clock=now_of_port)
            system_url = await servers.enter_async_context(
                serve_on_loopback(system.app, host=host, port=fixed)
            )
            token = secrets.token_urlsafe(24) if gateway_tokens else None
            push = None
            if system.kind is SystemKind.DCSA:  # its system can push: it is told, not polled
                push = DcsaEventPush(client, system_url, ChangeNotices())
            resolver = create_resolver_app(
                source_for(port_id, system_url, client),
                port_id,
                gateway_token=token,
                clock=now_of_port,
                changes=push.notices if push is not None else None,
                routes=[Route(NOTIFICATIONS_PATH, push.receive, methods=["POST"])] if push else (),
            )
            resolver_url = await servers.enter_async_context(
                serve_on_loopback(resolver, host=host, port=fixed + 1 if fixed else 0)
            )
            if push is not None:
                push.start(resolver_url + NOTIFICATIONS_PATH)
                servers.push_async_callback(push.stop)
            ports.append(
                RunningPort(
                    port_id,
                    system.data.port.name,
                    system.kind.value,
                    system_url,
                    resolver_url + "/graphql",
                    system,
                    token,
                    push,
                )
            )
        yield ports
