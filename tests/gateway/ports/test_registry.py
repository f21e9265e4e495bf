"""Ports register, change, pause and leave while the gateway serves (admin API + registry).

Resolvers are kits over tiny in-memory sources, each requiring its own gateway token, reached
in process through one router; the gateway runs its lifespan (registry store, audit trail)."""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from gateway.app import create_app
from gateway.config import PortConfig, PortDefaults, load_settings
from gateway.ports.registry import PortEntry, PortRegistry, RegistryStore
from gateway.ports.registry_store import PostgresRegistryStore, SqliteRegistryStore
from port_resolvers.kit import create_resolver_app
from tests.gateway.conftest import TEST_EGRESS, EmptyPort, PortRouter, port_url
from tests.gateway.served import admin_keys, resolvers, served_gateway

NAMES = {"USLAX": "Port of Los Angeles", "USOAK": "Port of Oakland", "USRCH": "Port of Richmond"}
TOKENS = {port: f"token-{port}-{uuid.uuid4().hex}" for port in NAMES}
QUERY = "{ ports { UNLocationCode name status } }"


def not_a_resolver() -> Starlette:
    async def page(_: Any) -> HTMLResponse:
        return HTMLResponse("<html>a web site, not a port resolver</html>")

    return Starlette(routes=[Route("/graphql", page, methods=["GET", "POST"])])


Admin = Callable[[], Awaitable[tuple[httpx.AsyncClient, dict[str, str]]]]


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[Admin]:
    async with AsyncExitStack() as exits:

        async def make() -> tuple[httpx.AsyncClient, dict[str, str]]:
            transports: dict[str, httpx.AsyncBaseTransport] = {
                p: httpx.ASGITransport(
                    app=create_resolver_app(EmptyPort(p), p, gateway_token=TOKENS[p])
                )
                for p in NAMES
            }
            transports["USLGB"] = httpx.ASGITransport(app=not_a_resolver())
            keys_file = tmp_path / "keys.sqlite3"
            keys = admin_keys(keys_file, "trucker")
            config = load_settings(
                None,
                ports=[
                    {"id": p, "name": NAMES[p], "url": port_url(p), "credential": TOKENS[p]}
                    for p in ("USLAX", "USOAK")
                ],
                auth={"api_keys": {"database": keys_file}},
                policy={"file": Path(__file__).parent.parent / "policies" / "open.yaml"},
                registry={"store": f"sqlite:///{tmp_path / 'registry.sqlite3'}",
                          "egress": TEST_EGRESS},
            )  # fmt: skip
            upstream = await exits.enter_async_context(
                httpx.AsyncClient(transport=PortRouter(transports))
            )
            app = create_app(config, client=upstream)
            await exits.enter_async_context(app.router.lifespan_context(app))
            client = await exits.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")
            )
            return client, keys

        yield make


def ports_of(body: dict[str, Any]) -> dict[str, str]:
    return {p["UNLocationCode"]: p["status"] for p in body["data"]["ports"]}


async def test_a_port_registered_while_queries_run_is_in_the_next_query(admin: Admin) -> None:
    client, keys = await admin()
    richmond = {"id": "USRCH", "name": NAMES["USRCH"], "url": port_url("USRCH"),
                "credential": TOKENS["USRCH"]}  # fmt: skip
    during, registered = await asyncio.gather(
        client.post("/graphql", json={"query": QUERY}),
        client.post("/admin/ports", json=richmond, headers={"x-api-key": keys["admin"]}),
    )
    assert registered.status_code == 201, registered.text
    assert set(ports_of(during.json())) <= {"USLAX", "USOAK", "USRCH"}
    after = (await client.post("/graphql", json={"query": QUERY})).json()
    assert ports_of(after) == {"USLAX": "UP", "USOAK": "UP", "USRCH": "UP"}
    assert [p["name"] for p in after["data"]["ports"]][-1] == "Port of Richmond"


async def test_a_paused_port_is_skipped_then_resumed(admin: Admin) -> None:
    client, keys = await admin()
    headers = {"x-api-key": keys["admin"]}
    assert (await client.post("/admin/ports/USOAK/pause", headers=headers)).status_code == 200
    body = (await client.post("/graphql", json={"query": QUERY})).json()
    assert ports_of(body) == {"USLAX": "UP", "USOAK": "PAUSED"}
    sources = {s["port"]: s for s in body["extensions"]["sources"]}
    assert (sources["USOAK"]["status"], sources["USOAK"]["reason"]) == ("skipped", "paused")
    assert (await client.post("/admin/ports/USOAK/resume", headers=headers)).status_code == 200
    body = (await client.post("/graphql", json={"query": QUERY})).json()
    assert ports_of(body) == {"USLAX": "UP", "USOAK": "UP"}


async def test_a_port_admin_touches_only_its_own_port(admin: Admin) -> None:
    client, keys = await admin()
    lax = {"x-api-key": keys["lax_admin"]}
    assert (
        await client.patch("/admin/ports/USOAK", json={"timeout": "1s"}, headers=lax)
    ).status_code == 403
    assert (await client.delete("/admin/ports/USOAK", headers=lax)).status_code == 403
    changed = await client.patch("/admin/ports/USLAX", json={"timeout": "1500ms"}, headers=lax)
    assert changed.status_code == 200, changed.text
    assert changed.json()["timeout"] == 1.5
    trucker = {"x-api-key": keys["trucker"]}
    assert (await client.get("/admin/ports", headers=trucker)).status_code == 403
    assert (await client.get("/admin/ports")).status_code == 403  # anonymous: public


async def test_an_endpoint_that_is_not_a_resolver_is_refused_with_a_reason(admin: Admin) -> None:
    client, keys = await admin()
    headers = {"x-api-key": keys["admin"]}
    refused = await client.post(
        "/admin/ports",
        json={"id": "USLGB", "name": "Port of Long Beach", "url": port_url("USLGB")},
        headers=headers,
    )
    assert refused.status_code == 422
    error = refused.json()["errors"][0]
    assert error["extensions"] == {"code": "PORT_CHECK_FAILED", "reason": "NOT_GRAPHQL"}
    assert "not a GraphQL response" in error["message"]
    assert "web site" not in error["message"]  # the gateway's words, never the endpoint's
    wrong_token = await client.post(
        "/admin/ports",
        json={"id": "USRCH", "name": "Richmond", "url": port_url("USRCH"), "credential": "nope"},
        headers=headers,
    )
    assert wrong_token.status_code == 422
    [error] = wrong_token.json()["errors"]
    assert error["extensions"]["reason"] == "CREDENTIAL_REFUSED"
    assert "refused the gateway's credential" in error["message"]
    bad = await client.post(
        "/admin/ports", json={"id": "usrch", "name": "x", "url": "ftp://h/"}, headers=headers
    )
    assert bad.status_code == 400
    assert "id" in bad.text
    assert "url" in bad.text
    # The name of one of the gateway's own variables is no credential: its value would go to
    # an endpoint the caller chose. Only the config file may name one.
    from_env = await client.post(
        "/admin/ports",
        json={"id": "USRCH", "name": "x", "url": port_url("USRCH"), "credential_env": "HOME"},
        headers=headers,
    )
    assert from_env.status_code == 400
    assert "credential_env: unknown key (did you mean credential?)" in from_env.text
    listed = (await client.get("/admin/ports", headers=headers)).json()["ports"]
    assert [p["id"] for p in listed] == ["USLAX", "USOAK"]


async def test_secrets_never_appear_in_responses_or_logs(
    admin: Admin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, keys = await admin()
    headers = {"x-api-key": keys["admin"]}
    texts = [
        (await client.get("/admin/ports", headers=headers)).text,
        (await client.get("/admin/ports/USLAX", headers=headers)).text,
        (
            await client.patch(
                "/admin/ports/USLAX", json={"credential": TOKENS["USLAX"]}, headers=headers
            )
        ).text,
        (await client.post("/admin/ports/USOAK/pause", headers=headers)).text,
        (await client.post("/graphql", json={"query": QUERY})).text,
    ]
    listed = (await client.get("/admin/ports", headers=headers)).json()["ports"]
    assert {p["credential"] for p in listed} == {"set"}
    texts.append(caplog.text)
    for token in TOKENS.values():
        assert all(token not in text for text in texts)


async def test_a_resolver_answers_the_gateway_only() -> None:
    app = create_resolver_app(EmptyPort("USLAX"), "USLAX", gateway_token=TOKENS["USLAX"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as c:
        refused = await c.post("/graphql", json={"query": QUERY})
        forged = await c.post(
            "/graphql", json={"query": QUERY}, headers={"authorization": "Bearer forged"}
        )
        answered = await c.post(
            "/graphql",
            json={"query": "{ ports { UNLocationCode } }"},
            headers={"authorization": f"Bearer {TOKENS['USLAX']}"},
        )
        health = await c.get("/healthz")
    assert (refused.status_code, forged.status_code) == (401, 401)
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert answered.json() == {"data": {"ports": [{"UNLocationCode": "USLAX"}]}}
    assert health.status_code == 200


async def opened(store: RegistryStore) -> RegistryStore:
    return store


def entry(port: str, **changes: Any) -> PortEntry:
    return PortEntry(id=port, name=NAMES.get(port, port), url=port_url(port), **changes)


async def test_sqlite_store_keeps_order_versions_and_the_api_word(tmp_path: Path) -> None:
    store = SqliteRegistryStore(tmp_path / "registry.sqlite3")
    await store.put(entry("USOAK"))
    await store.put(entry("USLAX", source="api", timeout=1.0))
    assert await store.put(entry("USLAX"), unless_api=True) == 2  # a seed does not override
    version, entries = await store.load()
    assert (version, [e.id for e in entries], entries[1].timeout) == (2, ["USOAK", "USLAX"], 1.0)
    assert await store.remove("USOAK")
    assert await store.version() == 3


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    import psycopg

    name = f"registry_{uuid.uuid4().hex[:8]}"
    url = "postgresql://postgres@127.0.0.1:5432/test"
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as db:
        await db.execute(f'CREATE SCHEMA "{name}"')
        yield name
        await db.execute(f'DROP SCHEMA "{name}" CASCADE')


async def test_replicas_sharing_postgresql_see_each_others_changes(pg_schema: str) -> None:
    url = "postgresql://postgres@127.0.0.1:5432/test"
    defaults = PortDefaults()
    replicas = [PortRegistry(defaults, ()), PortRegistry(defaults, ())]
    for replica in replicas:
        store = await PostgresRegistryStore(url, schema=pg_schema).open()
        await replica.attach(partial(opened, store), refresh_interval=3600)  # refreshed by hand
    first, second = replicas
    try:
        await first.put(entry("USLAX", credential="s3cret"))
        assert [p.id for p in first.snapshot().active] == ["USLAX"]
        assert second.snapshot().active == ()
        assert await second.refresh()  # what its refresh loop does every refresh_interval
        [seen] = second.snapshot().active
        assert seen.id == "USLAX"
        assert seen.credential is not None
        assert seen.credential.get_secret_value() == "s3cret"
        await second.put(entry("USLAX", paused=True, source="api"))
        await first.refresh()
        assert [p.id for p in first.snapshot().paused] == ["USLAX"]
    finally:
        for replica in replicas:
            await replica.detach()


async def test_port_health_shows_in_the_admin_api_and_metrics(admin: Admin) -> None:
    client, keys = await admin()
    headers = {"x-api-key": keys["admin"]}
    await client.post("/admin/ports/USOAK/pause", headers=headers)
    checked = (await client.post("/admin/ports/USLAX/check", headers=headers)).json()
    assert checked["health"]["status"] == "up"
    assert checked["health"]["lastSuccess"] is not None
    metrics = (await client.get("/metrics")).text
    assert 'portgate_port_health{port="USLAX",status="up"} 1.0' in metrics
    assert 'portgate_port_health{port="USOAK",status="paused"} 1.0' in metrics


async def test_every_registry_change_is_in_the_audit_trail(admin: Admin) -> None:
    client, keys = await admin()
    headers = {"x-api-key": keys["admin"]}
    await client.post("/admin/ports/USOAK/pause", headers=headers)
    await client.patch("/admin/ports/USOAK", json={"credential": TOKENS["USOAK"]}, headers=headers)
    found = await client.get("/audit/records", params={"client": "ops"}, headers=headers)
    records = [line for line in found.text.splitlines() if line]
    operations = [orjson.loads(line)["record"]["operation_name"] for line in records]
    assert operations == ["admin.ports.pause", "admin.ports.update"]
    assert TOKENS["USOAK"] not in found.text


class SteppedSleep:
    """An injected sleep that returns only when the test takes a step (one per call)."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self._steps: asyncio.Queue[None] = asyncio.Queue()
        self._asleep: asyncio.Queue[None] = asyncio.Queue()

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self._asleep.put_nowait(None)
        await self._steps.get()

    def step(self) -> None:
        self._steps.put_nowait(None)

    async def asleep(self) -> None:
        """Until the sleeper is asleep again (once per call)."""
        async with asyncio.timeout(GUARD_SECONDS):
            await self._asleep.get()


GUARD_SECONDS = 20  # reaching it means the awaited thing never happened


async def test_a_replica_refreshes_by_itself_after_its_interval(pg_schema: str) -> None:
    url = "postgresql://postgres@127.0.0.1:5432/test"
    tick = SteppedSleep()
    writer, follower = PortRegistry(PortDefaults()), PortRegistry(PortDefaults(), sleep=tick)
    changed = asyncio.Event()
    follower.on_change(lambda _: changed.set())
    for replica in (writer, follower):
        await replica.attach(PostgresRegistryStore(url, schema=pg_schema).open, 2.0)
    try:
        await writer.put(entry("USOAK"))
        assert follower.snapshot().active == ()  # not told; nobody calls refresh() by hand
        tick.step()  # its refresh interval passes
        async with asyncio.timeout(GUARD_SECONDS):
            await changed.wait()
        assert [p.id for p in follower.snapshot().active] == ["USOAK"]
        assert tick.calls[0] == 2.0
    finally:
        for replica in (writer, follower):
            await replica.detach()


class Gate:
    """A TCP gate on loopback in front of the real PostgreSQL: shut, it hangs up on every
    connection (the server is down); open, it passes bytes both ways."""

    def __init__(self) -> None:
        self.is_open = False
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> "Gate":
        self._server = await asyncio.start_server(self._pass, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _pass(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.is_open:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 5432)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer),
                             return_exceptions=True)  # fmt: skip


async def test_a_store_down_at_start_up_is_retried_while_the_config_ports_serve(
    pg_schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    tick = SteppedSleep()
    seeds = [PortConfig(id="USLAX", name="Port of Los Angeles", url=port_url("USLAX"))]
    registry = PortRegistry(PortDefaults(), seeds, sleep=tick)
    changed = asyncio.Event()
    registry.on_change(lambda _: changed.set())
    async with Gate() as gate:
        url = f"postgresql://postgres@127.0.0.1:{gate.port}/test"
        store = PostgresRegistryStore(url, schema=pg_schema)
        await registry.attach(partial(store.open, 0.3), 3600, retry_interval=7.0)
        try:
            assert not registry.store_up
            assert [p.id for p in registry.snapshot().active] == ["USLAX"]  # the seeds serve
            assert "registry store unavailable" in caplog.text
            await tick.asleep()
            tick.step()  # still down: tried again, in vain
            await tick.asleep()
            gate.is_open = True
            tick.step()
            async with asyncio.timeout(GUARD_SECONDS):
                await changed.wait()
            assert registry.store_up
            assert tick.calls[:3] == [7.0, 7.0, 3600]  # retried twice, then it follows
            await registry.put(entry("USOAK", source="api"))
            assert [p.id for p in registry.snapshot().active] == ["USLAX", "USOAK"]
        finally:
            await registry.detach()
    direct = await PostgresRegistryStore(
        "postgresql://postgres@127.0.0.1:5432/test", schema=pg_schema
    ).open()
    try:
        _, stored = await direct.load()
    finally:
        await direct.close()
    assert [e.id for e in stored] == ["USLAX", "USOAK"]  # seeded once reached


async def test_a_gateway_starts_without_its_registry_store_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Gate() as gate:  # shut: PostgreSQL is down
        monkeypatch.setenv(
            "PORTGATE_REGISTRY__STORE", f"postgresql://postgres@127.0.0.1:{gate.port}/test"
        )
        async with (
            resolvers(["USLAX"]) as urls,
            served_gateway(
                tmp_path,
                [{"id": "USLAX", "url": urls["USLAX"]}],
                registry={
                    "store_timeout": "300ms",
                    "egress": {"schemes": ["http"], "hosts": ["127.0.0.1"]},
                },
            ) as gw,
        ):
            ready = await gw.client.get("/readyz")
            metrics = (await gw.client.get("/metrics")).text
            answer = await gw.client.post("/graphql", json={"query": QUERY})
            refused = await gw.client.patch(
                "/admin/ports/USLAX", json={"timeout": "1s"}, headers=gw.as_("admin")
            )
    assert ready.status_code == 200
    readiness = ready.json()
    assert (readiness["status"], readiness["ports"]) == ("ok", ["USLAX"])
    assert readiness["registryStore"] == "unavailable"
    assert "portgate_registry_store_up 0.0" in metrics
    assert ports_of(answer.json()) == {"USLAX": "UP"}
    assert refused.status_code == 503
    assert refused.json()["errors"][0]["extensions"]["code"] == "REGISTRY_UNAVAILABLE"
    assert "registry store unavailable" in caplog.text
    assert str(gate.port) not in refused.text


async def test_readyz_and_metrics_say_the_store_is_reached(admin: Admin) -> None:
    client, _ = await admin()
    assert (await client.get("/readyz")).json()["registryStore"] == "ok"
    assert "portgate_registry_store_up 1.0" in (await client.get("/metrics")).text
