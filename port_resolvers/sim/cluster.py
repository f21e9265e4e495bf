"""The five simulated ports running on loopback, for the demo.

``async with run_simulated_ports(seed=...) as ports`` generates the data, then serves, per port,
its simulated system (``system_url``: ``/v2/events``, ``/api/v1/...``, ``/_sim/knobs``) and a
port resolver (``resolver_url``, the resolver kit's ``/graphql``) whose adapter reads that
system over HTTP, exactly as a real port's resolver would read its own systems. Every server
listens on an ephemeral port of ``host`` (loopback by default) and stops when the block ends.

The servers do not take over Ctrl-C: the demo's own server handles it, and leaving the block
stops the ports.
"""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
import uvicorn
from starlette.types import ASGIApp

from port_resolvers.kit import create_resolver_app
from port_resolvers.sim.data import DEFAULT_SCALE, DEFAULT_SEED, generate_all_ports
from port_resolvers.sim.reference import PORT_IDS
from port_resolvers.sim.systems import SimulatedPortSystem, create_port_system
from port_resolvers.sim.wiring import source_for

LOOPBACK = "127.0.0.1"
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


class _PortServer(uvicorn.Server):
    """A uvicorn server that leaves Ctrl-C to the demo's own server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _LoopbackServers:
    """Uvicorn servers on ephemeral ports of one host, stopped together."""

    def __init__(self, host: str) -> None:
        self.host = host
        self._servers: list[_PortServer] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def serve(self, app: ASGIApp) -> str:
        """Serve ``app``; its base URL once it accepts connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        server = _PortServer(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        self._servers.append(server)
        self._tasks.append(task)
        while not server.started:
            if task.done():
                task.result()  # raises why the server did not start
                raise RuntimeError("a simulated port's server stopped while starting")
            await asyncio.sleep(0.01)
        return f"http://{self.host}:{sock.getsockname()[1]}"

    async def stop(self) -> None:
        for server in self._servers:
            server.should_exit = True
        await asyncio.gather(*self._tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def run_simulated_ports(
    *,
    seed: int = DEFAULT_SEED,
    now: datetime | None = None,
    scale: float = DEFAULT_SCALE,
    host: str = LOOPBACK,
    port_ids: Sequence[str] = PORT_IDS,
) -> AsyncIterator[list[RunningPort]]:
    """Serve the simulated systems and resolvers of ``port_ids``; yields them, in that order."""
    data = generate_all_ports(seed=seed, now=now, scale=scale)
    servers = _LoopbackServers(host)
    async with httpx.AsyncClient(timeout=SYSTEM_TIMEOUT_SECONDS) as client:
        try:
            ports = []
            for port_id in port_ids:
                system = create_port_system(port_id, data=data[port_id], seed=seed)
                system_url = await servers.serve(system.app)
                resolver = create_resolver_app(source_for(port_id, system_url, client), port_id)
                resolver_url = await servers.serve(resolver) + "/graphql"
                name = system.data.port.name
                ports.append(
                    RunningPort(port_id, name, system.kind.value, system_url, resolver_url, system)
                )
            yield ports
        finally:
            await servers.stop()
