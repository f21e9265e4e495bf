"""The simulated ports' systems behind in-process clients, and the adapters that read them."""

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from port_resolvers.kit import notices
from port_resolvers.kit.source import PortDataSource
from port_resolvers.sim.data import generate_all_ports
from port_resolvers.sim.model import PortData
from port_resolvers.sim.records import InMemoryPortSource
from port_resolvers.sim.systems import SimulatedPortSystem, create_port_system
from port_resolvers.sim.transport import TimedASGITransport
from port_resolvers.sim.wiring import source_for

NOW = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)


@dataclass
class Wired:
    """One port: its simulated system, the adapter reading it, and what it should answer."""

    system: SimulatedPortSystem
    client: httpx.AsyncClient
    source: PortDataSource
    expected: InMemoryPortSource

    @property
    def data(self) -> PortData:
        return self.system.data


@pytest.fixture(scope="session")
def now() -> datetime:
    return NOW


@pytest.fixture(scope="session")
def all_ports() -> dict[str, PortData]:
    return generate_all_ports(seed=7, now=NOW)


@pytest.fixture
async def wire(all_ports: dict[str, PortData]) -> AsyncIterator[Callable[..., Wired]]:
    """``wire(port_id, timeout=5.0)``: a fresh system and its adapter (clock fixed at NOW)."""
    clients: list[httpx.AsyncClient] = []

    def make(port_id: str, timeout: float = 5.0) -> Wired:
        system = create_port_system(port_id, data=all_ports[port_id])
        base_url = f"http://{port_id.lower()}.sim"
        client = httpx.AsyncClient(transport=TimedASGITransport(app=system.app), timeout=timeout)
        clients.append(client)
        source = source_for(port_id, base_url, client, clock=lambda: NOW)
        return Wired(system, client, source, InMemoryPortSource(system.data))

    yield make
    for client in clients:
        await client.aclose()


def without_nones(value: Any) -> Any:
    """A record with None-valued keys left out, at any depth (absent and None mean the same)."""
    if isinstance(value, dict):
        return {k: without_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nones(v) for v in value]
    return value


@pytest.fixture(scope="session")
def normalise() -> Callable[[Any], Any]:
    return without_nones


@contextmanager
def collected() -> Iterator[list[tuple[str, int]]]:
    """What a source reports it left out inside the block, as (code, count) pairs."""
    result: list[tuple[str, int]] = []
    with notices.for_request() as gathered, notices.for_root_field("field"):
        yield result
    result.extend((n.code, n.count) for f in gathered for n in f.notices)


def all_keys(value: Any) -> set[str]:
    """Every dict key in a JSON-like value, at any depth."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in all_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in all_keys(v)}
    return set()
