"""Caching and coalescing seen through the HTTP API."""

import asyncio
from pathlib import Path
from typing import Any

import httpx

from gateway.app import create_app
from gateway.config import load_settings
from port_resolvers.sim.cluster import run_simulated_ports
from tests.gateway.conftest import TEST_EGRESS, GatewayFactory

PORTS = {"ports": [{"UNLocationCode": "USLAX", "_pg_port": "USLAX"}]}
QUERY = "{ ports { UNLocationCode } }"


def counting() -> tuple[httpx.MockTransport, list[httpx.Request]]:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"data": PORTS})

    return httpx.MockTransport(handler), calls


async def test_cache_control_no_cache_bypasses_only_for_allowed_roles(
    make_gateway: GatewayFactory,
) -> None:
    transport, calls = counting()
    strict = await make_gateway({"USLAX": transport})  # public may not bypass
    await strict.query(QUERY)
    body = (await strict.query(QUERY, headers={"cache-control": "no-cache"})).json()
    assert body["extensions"]["sources"][0]["status"] == "cached"
    assert len(calls) == 1

    transport, calls = counting()
    open_ = await make_gateway({"USLAX": transport}, cache={"bypass_roles": ["public"]})
    await open_.query(QUERY)
    body = (await open_.query(QUERY, headers={"cache-control": "no-cache"})).json()
    assert body["extensions"]["sources"][0]["status"] == "ok"
    assert len(calls) == 2


async def test_cache_can_be_switched_off(make_gateway: GatewayFactory) -> None:
    transport, calls = counting()
    gateway = await make_gateway({"USLAX": transport}, cache={"enabled": False})
    await gateway.query(QUERY)
    await gateway.query(QUERY)
    assert len(calls) == 2


async def test_200_identical_concurrent_queries_ask_each_port_once(tmp_path: Path) -> None:
    """Counted by the simulated ports' own systems: the burst costs what one query costs."""
    query = """{ vesselCalls(first: 5) { totalCount }
                 portMetrics(metrics: [VESSELS_AT_BERTH]) { value } }"""
    async with run_simulated_ports() as ports:
        settings = load_settings(
            None,
            ports=[{"id": p.id, "name": p.name, "url": p.resolver_url} for p in ports],
            rate_limit={"enabled": False},  # a burst from one client: about coalescing, not rate
            # About coalescing, not time: no port may miss its turn on a busy machine.
            deadline="60s",
            port_defaults={"timeout": "60s"},
            registry={"egress": TEST_EGRESS, "store": f"sqlite:///{tmp_path / 'registry.db'}"},
            audit={"store": f"sqlite:///{tmp_path / 'audit.db'}"},
        )

        async def burst(size: int) -> dict[str, dict[str, int]]:
            for port in ports:
                port.system.stats.requests.clear()
            app = create_app(settings)  # a fresh, empty cache
            async with (
                app.router.lifespan_context(app),  # closes its connections to the ports
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://gw"
                ) as client,
            ):
                bodies: list[Any] = await asyncio.gather(
                    *(client.post("/graphql", json={"query": query}) for _ in range(size))
                )
            assert all("errors" not in b.json() for b in bodies)
            return {p.id: dict(p.system.stats.requests) for p in ports}

        await burst(1)  # adapters read what they keep (a port's facility list) once
        one = await burst(1)
        many = await burst(200)
    assert all(one.values())  # every port's own system was asked something
    assert many == one
