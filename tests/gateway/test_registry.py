"""Ports register, change, pause and leave while the gateway serves (admin API + registry).

Resolvers are kits over tiny in-memory sources, each requiring its own gateway token, reached
in process through one router; the gateway runs its lifespan (registry store, audit trail)."""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from gateway.apikeys import ApiKeyStore
from gateway.app import create_app
from gateway.config import PortDefaults, load_settings
from gateway.registry import PortEntry, PortRegistry
from gateway.registry_store import PostgresRegistryStore, SqliteRegistryStore
from port_resolvers.kit import create_resolver_app
from tests.gateway.conftest import EmptyPort, PortRouter, port_url

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
            store = ApiKeyStore(keys_file)
            keys = {
                "admin": store.create(client_id="ops", organisation="CPDP", roles=["admin"])[0],
                "lax_admin": store.create(
                    client_id="lax-it", organisation="POLA", roles=["port_admin"], ports=["USLAX"]
                )[0],
                "trucker": store.create(client_id="t", organisation="T", roles=["trucker"])[0],
            }
            store.close()
            config = load_settings(
                None,
                ports=[
                    {"id": p, "name": NAMES[p], "url": port_url(p), "credential": TOKENS[p]}
                    for p in ("USLAX", "USOAK")
                ],
                auth={"api_keys": {"database": keys_file}},
                policy={"file": Path(__file__).parent / "policies" / "open.yaml"},
            )
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
    assert error["extensions"]["code"] == "PORT_CHECK_FAILED"
    assert "not a GraphQL response" in error["message"]
    wrong_token = await client.post(
        "/admin/ports",
        json={"id": "USRCH", "name": "Richmond", "url": port_url("USRCH"), "credential": "nope"},
        headers=headers,
    )
    assert wrong_token.status_code == 422
    assert "refused the credential" in wrong_token.json()["errors"][0]["message"]
    bad = await client.post(
        "/admin/ports", json={"id": "usrch", "name": "x", "url": "ftp://h/"}, headers=headers
    )
    assert bad.status_code == 400
    assert "id" in bad.text
    assert "url" in bad.text
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
        await replica.attach(store, refresh_interval=3600)  # refreshed by hand below
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
