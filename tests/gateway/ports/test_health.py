"""Health probes and checks: each port under its own bound, so a port that hangs (a loopback
server that accepts and never answers) delays nobody else; health belongs to one registration."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.config import PortConfig, PortDefaults
from gateway.ports.egress import EgressRules
from gateway.ports.endpoint_check import EndpointChecker
from gateway.ports.health import PortHealth, PortProber
from gateway.ports.registry import PortRegistry, RegistryStore
from gateway.ports.registry_store import SqliteRegistryStore
from gateway.ports.upstream_aiohttp import PortSessions
from gateway.schema import build_schema
from port_resolvers.loopback import serve_on_loopback
from tests.gateway.fake_dns import ScriptedResolver
from tests.gateway.served import (
    HANG_GUARD_SECONDS,
    hanging_server,
    resolvers,
    served_gateway,
    token,
)

FIVE = ["USLAX", "USLGB", "USOAK", "USNTD"]  # and USSAN, which hangs
LOOPBACK = {"schemes": ["http"], "hosts": ["127.0.0.1"]}
SCHEMA = build_schema()._schema


def seed(port: str, url: str, **more: object) -> PortConfig:
    return PortConfig.model_validate(
        {"id": port, "name": port, "url": url, "credential": token(port)} | more
    )


@contextlib.asynccontextmanager
async def prober_for(registry: PortRegistry, probe_timeout: float) -> AsyncIterator[PortProber]:
    rules = EgressRules(schemes=LOOPBACK["schemes"], hosts=LOOPBACK["hosts"])
    sessions = PortSessions(4, rules)
    checker = EndpointChecker(sessions, SCHEMA, rules, ScriptedResolver({}))
    try:
        yield PortProber(registry, checker, probe_timeout)
    finally:
        await sessions.aclose()


async def test_a_hanging_port_delays_no_other_ports_probe() -> None:
    async with resolvers(FIVE) as urls, hanging_server() as hanging:
        # The hanging port first: probing one port after another would never reach the rest.
        seeds = [seed("USSAN", hanging.url)] + [seed(p, u) for p, u in urls.items()]
        # Long bounds: the hanging port's probe is still waiting when the others are done.
        registry = PortRegistry(PortDefaults(timeout=30.0), seeds)
        async with prober_for(registry, probe_timeout=30.0) as prober:
            others_done = asyncio.Event()
            seen: dict[str, PortHealth] = {}

            def arrived(port: str, health: PortHealth) -> None:
                seen[port] = health
                if set(FIVE) <= set(seen):
                    others_done.set()

            prober.on_health(arrived)
            probing = asyncio.create_task(prober.probe_all())
            async with asyncio.timeout(HANG_GUARD_SECONDS):
                await others_done.wait()
                await hanging.connected.wait()
            assert {p: h.status for p, h in prober.health.items()} == dict.fromkeys(FIVE, "up")
            assert "USSAN" not in prober.health
            assert not probing.done()
            hanging.release()  # it hangs up: the last probe ends, as down
            async with asyncio.timeout(HANG_GUARD_SECONDS):
                await probing
    down = prober.health["USSAN"]
    assert (down.status, down.finding and down.finding.reason) == ("down", "UNREACHABLE")


async def test_a_hanging_port_is_down_within_its_own_bound() -> None:
    async with hanging_server() as hanging:
        registry = PortRegistry(PortDefaults(), [seed("USSAN", hanging.url, timeout="200ms")])
        async with prober_for(registry, probe_timeout=30.0) as prober:
            async with asyncio.timeout(HANG_GUARD_SECONDS):
                await prober.probe_all()
    health = prober.health["USSAN"]
    assert health.status == "down"
    assert health.finding is not None
    assert (health.finding.reason, health.finding.message) == ("TIMEOUT", "no answer within 0.2s")
    assert hanging.accepted == 1


async def test_check_asks_only_its_port_and_never_hangs(tmp_path: Path) -> None:
    async with (
        resolvers(["USLAX"]) as urls,
        hanging_server() as hanging,
        served_gateway(
            tmp_path,
            [
                {"id": "USLAX", "url": urls["USLAX"]},
                {"id": "USSAN", "url": hanging.url, "timeout": "300ms"},
            ],
            registry={"egress": LOOPBACK, "health_interval": "1h"},  # no probe round meanwhile
        ) as gw,
    ):
        admin = gw.as_("admin")
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            lax = await gw.client.post("/admin/ports/USLAX/check", headers=admin)
            assert hanging.accepted == 0  # USLAX's check asked USLAX only
            san = await gw.client.post("/admin/ports/USSAN/check", headers=admin)
    assert lax.status_code == 200
    assert (lax.json()["check"], lax.json()["health"]["status"]) == ({"passed": True}, "up")
    assert san.status_code == 200
    assert san.json()["check"] == {
        "passed": False, "reason": "TIMEOUT", "message": "no answer within 0.3s"
    }  # fmt: skip
    assert san.json()["health"]["status"] == "down"
    assert hanging.accepted == 1


async def opened(store: RegistryStore) -> RegistryStore:
    return store


async def test_a_probe_of_a_changed_registration_is_dropped(tmp_path: Path) -> None:
    answering = asyncio.Event()
    asked = asyncio.Event()

    async def slow_lax(_: Request) -> Response:
        asked.set()
        await answering.wait()
        return Response(b'{"data": {"ports": [{"UNLocationCode": "USLAX"}]}}')

    app = Starlette(routes=[Route("/graphql", slow_lax, methods=["POST"])])
    async with serve_on_loopback(app) as url:
        registry = PortRegistry(PortDefaults(), [seed("USLAX", f"{url}/graphql")])
        store = SqliteRegistryStore(tmp_path / "registry.sqlite3")
        await registry.attach(partial(opened, store), refresh_interval=3600)
        try:
            async with prober_for(registry, probe_timeout=30.0) as prober:
                [entry] = registry.snapshot().entries
                probing = asyncio.create_task(prober.probe(entry))
                async with asyncio.timeout(HANG_GUARD_SECONDS):
                    await asked.wait()
                    # Moved while its probe runs: what the probe sees is not the new one's.
                    await registry.put(entry.model_copy(update={"url": "http://127.0.0.1:9/g"}))
                    answering.set()
                    assert await probing is None
                assert "USLAX" not in prober.health
                await registry.put(registry.snapshot().entries[0].model_copy(
                    update={"paused": True}))  # fmt: skip
                assert prober.health["USLAX"].status == "paused"  # at once, not next round
        finally:
            await registry.detach()
