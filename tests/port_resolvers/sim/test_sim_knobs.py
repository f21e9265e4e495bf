"""Knobs of the simulated systems, from Python and over HTTP, and the request statistics."""

from collections.abc import Callable

import httpx
import pytest

from port_resolvers.sim.knobs import SimKnobs
from port_resolvers.sim.model import PortData
from port_resolvers.sim.systems import SimulatedPortSystem, create_port_system

Client = Callable[..., httpx.AsyncClient]


@pytest.fixture
def san(system_for: Callable[[str], SimulatedPortSystem]) -> SimulatedPortSystem:
    return system_for("USSAN")


async def test_knobs_over_http(san: SimulatedPortSystem, client_for: Client):
    client = client_for(san)
    assert (await client.get("/_sim/knobs")).json() == {
        "latency_ms": 0.0,
        "error_rate": 0.0,
        "down": False,
        "labor_keys": False,
        "jit_places": False,
        "seed": 2024,
    }
    changed = await client.post("/_sim/knobs", json={"down": True, "latency_ms": 250})
    assert changed.json()["down"] is True
    assert san.knobs.down is True
    assert san.knobs.latency_ms == 250
    for body in ({"down": "yes"}, {"error_rate": 1.5}, {"colour": "red"}):
        rejected = await client.post("/_sim/knobs", json=body)
        assert rejected.status_code == 422
        assert rejected.json()["errors"]
    assert san.knobs.error_rate == 0.0


async def test_down_answers_503_but_knobs_stay_reachable(
    san: SimulatedPortSystem, client_for: Client
):
    client = client_for(san)
    san.knobs.down = True
    response = await client.get("/api/v1/facility")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    await client.post("/_sim/knobs", json={"down": False})
    assert (await client.get("/api/v1/facility")).status_code == 200
    assert san.stats.down_rejections == 1


async def test_error_rate_is_a_seeded_sequence(
    system_for: Callable[[str], SimulatedPortSystem], client_for: Client
):
    async def statuses() -> list[int]:
        system = system_for("USNTD")
        system.knobs.error_rate = 0.3
        client = client_for(system)
        return [(await client.get("/api/v1/facility")).status_code for _ in range(60)]

    first, second = await statuses(), await statuses()
    assert first == second
    assert set(first) == {200, 500}
    assert 5 <= first.count(500) <= 35


async def test_error_rate_one_fails_every_request(san: SimulatedPortSystem, client_for: Client):
    san.knobs.error_rate = 1.0
    client = client_for(san)
    assert {(await client.get("/api/v1/facility")).status_code for _ in range(5)} == {500}
    assert san.stats.errors_injected == 5


async def test_latency_past_the_client_timeout_times_out(
    san: SimulatedPortSystem, client_for: Client
):
    san.knobs.latency_ms = 60_000
    client = client_for(san, timeout=0.01)
    with pytest.raises(httpx.ReadTimeout):
        await client.get("/api/v1/facility")


async def test_stats_count_requests_per_endpoint(
    system_for: Callable[[str], SimulatedPortSystem], client_for: Client
):
    lax = system_for("USLAX")
    client = client_for(lax)
    await client.get("/v2/events", params={"limit": 1})
    await client.get("/v2/events", params={"limit": 2})
    await client.get(f"/api/v1/vessels/{lax.data.vessels[0].imo}")
    await client.get("/nowhere")
    await client.get("/_sim/knobs")
    stats = (await client.get("/_sim/stats")).json()
    assert stats["requests"] == {
        "GET /api/v1/vessels/{imo}": 1,
        "GET /nowhere": 1,
        "GET /v2/events": 2,
    }
    assert (await client.delete("/_sim/stats")).json()["requests"] == {}


async def test_injected_errors_use_the_apis_own_error_format(
    system_for: Callable[[str], SimulatedPortSystem], client_for: Client
):
    lax = system_for("USLAX")
    lax.knobs.error_rate = 1.0
    client = client_for(lax)
    dcsa = (await client.get("/v2/events")).json()
    assert dcsa["statusCode"] == 500
    assert dcsa["httpMethod"] == "GET"
    native = (await client.get("/api/v1/facility")).json()
    assert native["error"]["status"] == 500


def test_a_system_can_share_knobs_given_from_python(all_ports: dict[str, PortData]):
    knobs = SimKnobs(labor_keys=True)
    system = create_port_system("USOAK", data=all_ports["USOAK"], knobs=knobs)
    assert system.knobs is knobs
    with pytest.raises(ValueError, match="USOAK"):
        create_port_system("USLAX", data=all_ports["USOAK"])
