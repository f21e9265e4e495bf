"""Subscriptions over GraphQL over SSE, end to end on loopback: a real gateway in front of a
resolver kit whose data the test changes, read with a streaming HTTP client. A change at the
port reaches the subscriber; the stream is refused with a status before its first message;
a revoked key ends its stream; one audit record per subscription; the port asked once per
poll however many subscribe, and more streams open
at once than one client may have requests in flight (a stream, once open, is held by the
subscription limits)."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from gateway.access.apikeys import ApiKeyStore
from port_resolvers.kit import create_resolver_app
from port_resolvers.loopback import serve_on_loopback
from tests.gateway.query.test_merge import T0, MemoryPort, container
from tests.gateway.served import Served, served_gateway, token

BOX = "CSQU3054383"
SUBSCRIPTION = (
    "subscription Box($refs: [String!]!) { containerUpdates(references: $refs) "
    "{ equipmentReference events { eventID equipmentEventTypeCode } } }"
)
STREAM = {"accept": "text/event-stream"}


class CountingPort(MemoryPort):
    asks = 0

    async def containers(self, references: Any) -> Any:
        self.asks += 1
        return await super().containers(references)


# Every role sees every field here: these tests are about the stream, not the policy.
POLICY = """roles:
  public: {allow: ["*"]}
  trucker: {allow: ["*"]}
  admin: {allow: ["*"]}
"""


@contextlib.asynccontextmanager
async def gateway_with(tmp_path: Path, port: MemoryPort, **settings: Any) -> AsyncIterator[Served]:
    app = create_resolver_app(port, port.port_id, gateway_token=token(port.port_id))
    async with (
        serve_on_loopback(app) as url,
        gateway_at(tmp_path, port.port_id, url, heartbeat="50ms", **settings) as served,
    ):
        yield served


@contextlib.asynccontextmanager
async def gateway_at(
    tmp_path: Path, port_id: str, url: str, *, heartbeat: str, **settings: Any
) -> AsyncIterator[Served]:
    """A gateway on loopback in front of the resolver at ``url``, polling every 50 ms, with a
    policy that lets every role see every field (and any other ``settings``)."""
    (tmp_path / "policy.yaml").write_text(POLICY, encoding="utf-8")
    async with served_gateway(
        tmp_path, [{"id": port_id, "url": url + "/graphql"}],
        subscriptions={"interval": "50ms", "heartbeat": heartbeat},
        registry={"egress": {"schemes": ["http"], "hosts": ["127.0.0.1"]}},
        policy={"file": tmp_path / "policy.yaml"}, **settings,
    ) as served:  # fmt: skip
        yield served


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """(event, data) as they come; ("heartbeat", None) for a comment line."""
    event, data = "", ""
    async for line in response.aiter_lines():
        if line.startswith(":"):
            yield "heartbeat", None
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data:"):
            data = line[5:].strip()
        elif line == "" and event:
            yield event, orjson.loads(data) if data else None
            event, data = "", ""


def subscribe(served: Served, who: dict[str, str], refs: list[str]) -> Any:
    return served.client.stream(
        "POST", "/graphql", headers=STREAM | who,
        json={"query": SUBSCRIPTION, "variables": {"refs": refs}},
    )  # fmt: skip


async def next_message(stream: AsyncIterator[tuple[str, Any]]) -> tuple[str, Any]:
    async for event, data in stream:
        if event != "heartbeat":
            return event, data
    raise AssertionError("the stream ended")


def box(*events: str) -> dict[str, Any]:
    record = container(BOX, T0, "USLAX")
    record["events"] = [
        {"eventID": f"E{i}", "eventDateTime": T0, "eventClassifierCode": "ACT",
         "equipmentEventTypeCode": code} for i, code in enumerate(events)
    ]  # fmt: skip
    return record


async def test_a_change_at_the_port_reaches_the_subscriber(tmp_path: Path) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with (
        gateway_with(tmp_path, port) as served,
        subscribe(served, served.as_("admin"), [BOX]) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = aiter(events(response))
        event, first = await next_message(stream)
        assert event == "next", first
        assert first["data"]["containerUpdates"], first
        [(only)] = first["data"]["containerUpdates"]
        assert [e["equipmentEventTypeCode"] for e in only["events"]] == ["DISC"]
        assert first["extensions"]["sources"][0]["port"] == "USLAX"
        port.containers_known[:] = [box("DISC", "GTOT")]
        event, changed = await next_message(stream)
        [(only)] = changed["data"]["containerUpdates"]
        assert [e["equipmentEventTypeCode"] for e in only["events"]] == ["DISC", "GTOT"]


async def test_many_subscribers_cost_the_port_one_ask_per_poll(tmp_path: Path) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port) as served, contextlib.AsyncExitStack() as stack:
        streams = []
        for _ in range(20):
            response = await stack.enter_async_context(
                subscribe(served, served.as_("admin"), [BOX])
            )
            streams.append(aiter(events(response)))
            await next_message(streams[-1])
        live = served.app.state.live
        [feed] = live.feeds.values()
        assert live.total == 20
        assert port.asks == feed.polls  # one ask per poll, for twenty subscribers


async def test_refusals_come_before_the_stream_with_their_status(tmp_path: Path) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port) as served:
        wrong = 'subscription { containerUpdates(references: ["X"]) { nope } }'
        bad = await served.client.post("/graphql", headers=STREAM, json={"query": wrong})
        assert bad.status_code == 400
        assert bad.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        asked = {"query": SUBSCRIPTION, "variables": {"refs": [BOX]}}
        plain = await served.client.post("/graphql", json=asked)
        assert plain.status_code == 400
        assert plain.json()["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_NEEDS_STREAM"
        query = await served.client.post("/graphql", headers=STREAM, json={
            "query": "{ ports { UNLocationCode } }"})  # fmt: skip
        assert query.status_code == 200
        assert query.json()["data"]["ports"] == [{"UNLocationCode": "USLAX"}]


async def test_a_revoked_key_ends_its_subscription_and_the_audit_has_one_record(
    tmp_path: Path,
) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port) as served:
        store = ApiKeyStore(tmp_path / "keys.sqlite3")
        key, record = store.create(client_id="hauler", organisation="Haul Co", roles=["trucker"])
        async with subscribe(served, {"x-api-key": key}, [BOX]) as response:
            stream = aiter(events(response))
            assert (await next_message(stream))[0] == "next"
            store.revoke(record.key_id)
            _, ended = await next_message(stream)
            assert ended["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert (await next_message(stream))[0] == "complete"
        store.close()
        trail = served.app.state.observer.trail
        await trail.flush()
        [audited] = [s.record for s in await trail.store.search() if s.record.client_id == "hauler"]
        assert audited.operation_type == "subscription"
        assert audited.messages == 1
        assert audited.error_codes == ("UNAUTHENTICATED",)
