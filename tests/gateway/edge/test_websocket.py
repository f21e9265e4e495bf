"""Subscriptions over WebSocket (graphql-transport-ws), end to end on loopback: a real gateway in
front of a resolver kit whose data the test changes, spoken to with the ``websockets`` client. A
change at the port reaches the subscriber; several subscriptions share a connection; the
protocol's close codes; a refused subscribe is an ``error``; a revoked key ends its subscription;
the client's ``complete`` and its leaving end subscriptions; one audit record per subscription.

Nothing here waits on time: the client waits for the message it expects (with a guard far past
any bound), a ``ping`` answered with ``pong`` shows the server has read what came before it,
and :meth:`GraphQLWebSockets.drained` says every connection has ended and been audited."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from gateway.access.apikeys import ApiKeyStore
from gateway.app import create_app
from gateway.cli.server import serving
from gateway.config import load_settings
from gateway.edge.websocket import SUBPROTOCOL
from tests.gateway.edge.test_streams import BOX, SUBSCRIPTION, CountingPort, box, gateway_with
from tests.gateway.served import HANG_GUARD_SECONDS, Served

OTHER_BOX = "MSKU1234565"


def url(served: Served, path: str = "/graphql") -> str:
    return served.url.replace("http://", "ws://", 1) + path


@contextlib.asynccontextmanager
async def socket(
    served: Served,
    headers: dict[str, str] | None = None,
    subprotocols: list[str] | None = None,
    path: str = "/graphql",
) -> AsyncIterator[ClientConnection]:
    async with connect(
        url(served, path), subprotocols=[Subprotocol(p) for p in subprotocols or [SUBPROTOCOL]],
        additional_headers=headers, proxy=None, open_timeout=HANG_GUARD_SECONDS,
    ) as ws:  # fmt: skip
        yield ws


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(orjson.dumps(message).decode())


async def receive(ws: ClientConnection) -> dict[str, Any]:
    """The server's next message that is not its heartbeat ``ping``."""
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        while True:
            message: dict[str, Any] = orjson.loads(await ws.recv())
            if message["type"] != "ping":
                return message


async def closed_with(ws: ClientConnection) -> tuple[int, str]:
    """The code and reason the server closes the connection with (messages before it skipped)."""
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        with pytest.raises(ConnectionClosed) as closing:
            await read_to_the_end(ws)
    assert closing.value.rcvd is not None, "closed without a close frame"
    return closing.value.rcvd.code, closing.value.rcvd.reason


async def read_to_the_end(ws: ClientConnection) -> None:
    while True:
        await ws.recv()


async def initialised(ws: ClientConnection, payload: dict[str, Any] | None = None) -> None:
    await send(ws, {"type": "connection_init"} | ({"payload": payload} if payload else {}))
    assert await receive(ws) == {"type": "connection_ack"}


async def subscribe(
    ws: ClientConnection, id: str, refs: list[str], query: str = SUBSCRIPTION
) -> None:
    payload = {"query": query, "variables": {"refs": refs}}
    await send(ws, {"id": id, "type": "subscribe", "payload": payload})


async def read_up_to_here(ws: ClientConnection) -> None:
    """Return once the server has handled every message sent before: it answers in order."""
    await send(ws, {"type": "ping", "payload": {"mark": 1}})
    while (message := await receive(ws))["type"] != "pong":
        pass
    assert message == {"type": "pong", "payload": {"mark": 1}}


def events(message: dict[str, Any]) -> list[str]:
    [only] = message["payload"]["data"]["containerUpdates"]
    return [e["equipmentEventTypeCode"] for e in only["events"]]


async def audited(served: Served, client_id: str) -> list[Any]:
    """The audit records of ``client_id``, once every connection has ended."""
    await served.app.state.websockets.drained()
    trail = served.app.state.observer.trail
    await trail.flush()
    return [s.record for s in await trail.store.search() if s.record.client_id == client_id]


async def test_a_change_at_the_port_reaches_the_subscriber(tmp_path: Path) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port) as served, socket(served) as ws:
        assert ws.subprotocol == SUBPROTOCOL
        await initialised(ws, served.as_("admin"))
        await subscribe(ws, "1", [BOX])
        first = await receive(ws)
        assert (first["type"], first["id"]) == ("next", "1"), first
        assert events(first) == ["DISC"]
        assert first["payload"]["extensions"]["sources"][0]["port"] == "USLAX"
        port.containers_known[:] = [box("DISC", "GTOT")]
        changed = await receive(ws)
        assert (changed["type"], changed["id"]) == ("next", "1")
        assert events(changed) == ["DISC", "GTOT"]


async def test_the_credential_may_come_with_the_upgrade_and_none_is_anonymous(
    tmp_path: Path,
) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port) as served:
        async with socket(served, headers=served.as_("admin")) as ws:
            await send(ws, {"type": "ping"})  # answered before the connection is initialised
            assert await receive(ws) == {"type": "pong"}
            await initialised(ws)
            await subscribe(ws, "1", [BOX])
            assert (await receive(ws))["type"] == "next"
        async with socket(served) as ws:
            await initialised(ws)
            await subscribe(ws, "1", [BOX])
            assert (await receive(ws))["type"] == "next"
        assert [r.messages for r in await audited(served, "ops")] == [1]
        assert [r.messages for r in await audited(served, "anonymous")] == [1]


async def test_two_subscriptions_share_a_connection_and_complete_ends_one(tmp_path: Path) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port) as served:
        live = served.app.state.live
        async with socket(served) as ws:
            await initialised(ws, {"X-API-Key": served.keys["admin"]})
            await subscribe(ws, "a", [BOX])
            await subscribe(ws, "b", [BOX, OTHER_BOX])
            firsts = {m["id"]: m for m in [await receive(ws), await receive(ws)]}
            assert {m["type"] for m in firsts.values()} == {"next"}
            assert set(firsts) == {"a", "b"}
            assert live.total == 2
            await send(ws, {"id": "a", "type": "complete"})
            await read_up_to_here(ws)
            assert live.total == 1
            port.containers_known[:] = [box("DISC", "GTOT")]
            changed = await receive(ws)  # only b is told
            assert (changed["type"], changed["id"]) == ("next", "b")
            assert events(changed) == ["DISC", "GTOT"]
            await subscribe(ws, "a", [BOX])  # a completed id may be used again
            again = await receive(ws)
            assert (again["type"], again["id"]) == ("next", "a")
        records = await audited(served, "ops")
        assert sorted(r.messages for r in records) == [1, 1, 2]
        assert {r.operation_type for r in records} == {"subscription"}
        assert live.total == 0


async def test_leaving_ends_every_subscription_of_the_connection(tmp_path: Path) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port) as served:
        live = served.app.state.live
        async with socket(served) as ws:
            await initialised(ws, served.as_("admin"))
            for id in ("1", "2", "3"):
                await subscribe(ws, id, [BOX])
                assert (await receive(ws))["id"] == id
            assert live.total == 3
        await served.app.state.websockets.drained()
        assert live.total == 0
        assert not live.feeds
        records = await audited(served, "ops")
        assert [r.messages for r in records] == [1, 1, 1]
        assert all(r.error_codes == () for r in records)


async def test_a_refused_subscribe_is_an_error_and_the_connection_goes_on(tmp_path: Path) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port) as served:
        async with socket(served) as ws:
            await initialised(ws, served.as_("admin"))
            wrong = (
                "subscription ($refs: [String!]!) { containerUpdates(references: $refs) { nope } }"
            )
            await subscribe(ws, "1", [BOX], wrong)
            refused = await receive(ws)
            assert (refused["type"], refused["id"]) == ("error", "1")
            assert refused["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
            await subscribe(ws, "2", [BOX], "{ ports { UNLocationCode } }")
            query = await receive(ws)
            assert (query["type"], query["id"]) == ("error", "2")
            assert query["payload"][0]["extensions"]["code"] == "NOT_A_SUBSCRIPTION"
            served.app.state.live.max_per_principal = 1
            await subscribe(ws, "1", [BOX])  # an id refused is free again
            assert (await receive(ws))["type"] == "next"
            await subscribe(ws, "3", [BOX])
            too_many = await receive(ws)
            assert (too_many["type"], too_many["id"]) == ("error", "3")
            assert too_many["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
        records = await audited(served, "ops")
        assert sorted(r.error_codes for r in records) == [
            (),
            ("GRAPHQL_VALIDATION_FAILED",),
            ("NOT_A_SUBSCRIPTION",),
            ("TOO_MANY_SUBSCRIPTIONS",),
        ]


async def test_a_revoked_key_ends_its_subscription(tmp_path: Path) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port) as served:
        store = ApiKeyStore(tmp_path / "keys.sqlite3")
        key, record = store.create(client_id="hauler", organisation="Haul Co", roles=["trucker"])
        async with socket(served) as ws:
            await initialised(ws, {"Authorization": f"Bearer {key}"})
            await subscribe(ws, "1", [BOX])
            assert (await receive(ws))["type"] == "next"
            store.revoke(record.key_id)
            ended = await receive(ws)
            assert (ended["type"], ended["id"]) == ("next", "1")
            assert "data" not in ended["payload"]
            assert ended["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert await receive(ws) == {"id": "1", "type": "complete"}
            await subscribe(ws, "2", [BOX])  # refused before its first message: an error
            refused = await receive(ws)
            assert (refused["type"], refused["id"]) == ("error", "2")
            assert refused["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        store.close()
        records = await audited(served, "hauler")
        assert sorted((r.messages, r.error_codes) for r in records) == [
            (0, ("UNAUTHENTICATED",)), (1, ("UNAUTHENTICATED",)),
        ]  # fmt: skip


async def test_a_bad_credential_is_forbidden(tmp_path: Path) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port) as served:
        for headers, payload in [
            (None, {"x-api-key": "pgk_nope_nope"}),
            (served.as_("admin"), {"x-api-key": "pgk_nope_nope"}),  # the payload's counts
            ({"x-api-key": "pgk_nope_nope"}, None),
            (None, {"x-api-key": served.keys["admin"], "authorization": "Bearer x"}),
            (None, {"x-api-key": 7}),
        ]:
            async with socket(served, headers=headers) as ws:
                message = {"type": "connection_init"} | ({"payload": payload} if payload else {})
                await send(ws, message)
                code, reason = await closed_with(ws)
                assert code == 4403, (headers, payload, reason)
                assert reason.startswith("Forbidden")


async def test_the_protocol_s_close_codes(tmp_path: Path) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port) as served:
        async with socket(served) as ws:
            await subscribe(ws, "1", [BOX])
            assert (await closed_with(ws))[0] == 4401  # subscribe before the ack
        async with socket(served) as ws:
            await initialised(ws)
            await send(ws, {"type": "connection_init"})
            assert await closed_with(ws) == (4429, "Too many initialisation requests")
        async with socket(served) as ws:
            await initialised(ws)
            await subscribe(ws, "1", [BOX])
            await subscribe(ws, "1", [BOX])
            assert await closed_with(ws) == (4409, "Subscriber for 1 already exists")
        for bad in ["not json", "[]", '{"type": 1}', '{"type": "next", "id": "1"}',
                    '{"type": "subscribe", "id": "1", "payload": {"query": 5}}',
                    '{"type": "subscribe", "payload": {"query": "x"}}']:  # fmt: skip
            async with socket(served) as ws:
                await initialised(ws)
                await ws.send(bad)
                assert (await closed_with(ws))[0] == 4400, bad
        async with socket(served) as ws:
            await initialised(ws)
            limit = served.app.state.websockets.max_message_bytes
            await send(ws, {"type": "ping", "payload": {"pad": "x" * limit}})
            assert (await closed_with(ws))[0] == 4400
        served.app.state.websockets.init_timeout = 0.05
        async with socket(served) as ws:
            assert await closed_with(ws) == (4408, "Connection initialisation timeout")
        async with socket(served, subprotocols=["graphql-ws"]) as ws:
            assert (await closed_with(ws))[0] == 4406
        assert served.app.state.live.total == 0


async def test_a_quiet_connection_gets_pings_and_other_paths_are_refused(tmp_path: Path) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port) as served:
        async with socket(served) as ws:
            await initialised(ws)
            async with asyncio.timeout(HANG_GUARD_SECONDS):
                assert orjson.loads(await ws.recv()) == {"type": "ping"}
        for path in ["/healthz", "/graphiql/static/x.js", "/nowhere"]:
            with pytest.raises(InvalidStatus) as refused:
                async with socket(served, path=path):
                    pass
            assert refused.value.response.status_code == 403
        health = await served.client.get("/healthz")  # HTTP goes on as before
        assert health.status_code == 200


async def test_portgate_serve_s_server_takes_the_upgrade(tmp_path: Path) -> None:
    """The server `portgate serve` runs (its own HTTP protocol, gateway/cli/server.py) hands the
    upgrade on to uvicorn's WebSocket protocol, as the plain one the other tests use does."""
    settings = load_settings(
        None,
        audit={"store": f"sqlite:///{tmp_path / 'audit.sqlite3'}"},
        registry={"store": f"sqlite:///{tmp_path / 'registry.sqlite3'}"},
        auth={"api_keys": {"database": tmp_path / "keys.sqlite3"}},
    )
    app = create_app(settings)
    async with (
        serving(app, settings) as listeners,
        connect(
            listeners.api.replace("http://", "ws://", 1) + "/graphql",
            subprotocols=[Subprotocol(SUBPROTOCOL)], proxy=None, open_timeout=HANG_GUARD_SECONDS,
        ) as ws,
    ):  # fmt: skip
        await initialised(ws)
        await read_up_to_here(ws)


async def test_open_sockets_are_bounded_per_address_and_per_gateway(tmp_path: Path) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port) as served:
        sockets = served.app.state.websockets
        sockets.max_per_address = 2
        async with socket(served) as first, socket(served) as second:
            await initialised(first)
            await initialised(second)
            with pytest.raises(InvalidStatus) as refused:
                async with socket(served):
                    pass
            assert refused.value.response.status_code == 403
        await sockets.drained()  # both closed at the server too
        async with socket(served) as again:  # a place came free
            await initialised(again)
            sockets.max_connections = 1
            with pytest.raises(InvalidStatus):
                async with socket(served):
                    pass
