"""The five simulated ports at one fixed ``now``, and their systems behind in-process clients."""

import copy
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_core import OpenAPI

import port_resolvers.sources
from port_resolvers.sim.data import generate_all_ports
from port_resolvers.sim.model import PortData
from port_resolvers.sim.systems import SimulatedPortSystem, create_port_system
from port_resolvers.sim.transport import TimedASGITransport

# A Monday afternoon; the call window spans the spring DST change of 2026-03-08.
NOW = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)
SEED = 2024
# The DCSA T&T 2.2 OpenAPI, vendored with the adapter (see its README there).
DCSA_SPEC = Path(port_resolvers.sources.__file__).parent / "dcsa_spec" / "tnt-2.2-bundled.yaml"
# What the simulated ports send beyond 2.2: the equipment event codes of DCSA's event domain 3,
# and the document reference types as DCSA's own 2.2 examples send them (the 2.2 enum lists
# "BKG (Booking)" and "TRD (Transport Document)", the description pasted into the value).
EVENT_DOMAIN_3_EQUIPMENT_CODES = ["AVPU", "AVDO", "CUSS", "CUSI", "CUSR", "CROS"]
DOCUMENT_REFERENCE_TYPES = ["BKG", "TRD"]


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
def dcsa_spec() -> dict[str, Any]:
    """The T&T 2.2 OpenAPI as a document, exactly as vendored."""
    loaded: dict[str, Any] = yaml.safe_load(DCSA_SPEC.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="session")
def strict_dcsa_openapi(dcsa_spec: dict[str, Any]) -> OpenAPI:
    """T&T 2.2, nothing added."""
    return OpenAPI.from_dict(copy.deepcopy(dcsa_spec))


@pytest.fixture(scope="session")
def dcsa_openapi(dcsa_spec: dict[str, Any]) -> OpenAPI:
    """T&T 2.2 as the simulated ports speak it: the equipment event codes DCSA added in event
    domain 3, and document reference types as DCSA's examples write them, are allowed too;
    everything else is held to 2.2."""
    spec = copy.deepcopy(dcsa_spec)
    schemas = spec["components"]["schemas"]
    codes = schemas["equipmentEventTypeCode"]
    codes["enum"] = [*codes["enum"], *EVENT_DOMAIN_3_EQUIPMENT_CODES]
    kinds = schemas["documentReferences"]["items"]["properties"]["documentReferenceType"]
    kinds["enum"] = [*kinds["enum"], *DOCUMENT_REFERENCE_TYPES]
    return OpenAPI.from_dict(spec)
