"""The five simulated ports at one fixed ``now``, and their systems behind in-process clients."""

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from openapi_core import OpenAPI

from port_resolvers.sim.data import generate_all_ports
from port_resolvers.sim.model import PortData
from port_resolvers.sim.systems import SimulatedPortSystem, create_port_system
from port_resolvers.sim.transport import TimedASGITransport

# A Monday afternoon; the call window spans the spring DST change of 2026-03-08.
NOW = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)
SEED = 2024
DCSA_SPEC = (
    Path(__file__).parents[3] / ".." / "shared" / "reference" / "dcsa" / "tnt-2.2-bundled.yaml"
)


@pytest.fixture(scope="session")
def now() -> datetime:
    return NOW


@pytest.fixture(scope="session")
def all_ports() -> dict[str, PortData]:
    return generate_all_ports(seed=SEED, now=NOW)


@pytest.fixture
def system_for(all_ports: dict[str, PortData]) -> Callable[[str], SimulatedPortSystem]:
    """A fresh system (knobs off, stats empty) over the session's data of a port."""
    return lambda port_id: create_port_system(port_id, data=all_ports[port_id], seed=SEED)


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """An in-process client to a system, closed after the test."""
    clients: list[httpx.AsyncClient] = []

    def make(system: SimulatedPortSystem, timeout: float = 5.0) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=TimedASGITransport(app=system.app),
            base_url=f"http://{system.port_id.lower()}.sim",
            timeout=timeout,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture(scope="session")
def dcsa_openapi() -> OpenAPI:
    if not DCSA_SPEC.is_file():
        pytest.skip(f"the DCSA T&T 2.2 OpenAPI is not at {DCSA_SPEC.resolve()}")
    return OpenAPI.from_file_path(str(DCSA_SPEC))
