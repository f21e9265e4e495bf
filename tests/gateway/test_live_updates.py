"""Subscriptions end to end on loopback (GraphQL over SSE): a hold released at a simulated
port reaches the trucker; an ETA moved at the port reaches the subscriber as that call alone; a port
that goes down shows in the outlook as not answering, and coming back as answering again; an outlook
whose figures did not change is not sent again, though it is computed anew each time."""

import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from port_resolvers.kit import create_resolver_app
from port_resolvers.loopback import serve_on_loopback
from port_resolvers.sim.cluster import run_simulated_ports
from tests.gateway.edge.test_streams import STREAM, events, gateway_at, next_message
from tests.gateway.query.test_merge import MemoryPort, call
from tests.gateway.served import token

CALLS = (
    "subscription { vesselCallUpdates(window: 48) "
    "{ transportCallReference estimatedArrivalDateTime } }"
)
OUTLOOK = (
    "subscription { outlookUpdates(days: 2) { generatedAt ports { UNLocationCode answered } } }"
)


async def test_a_moved_eta_is_sent_as_that_call_alone(tmp_path: Path) -> None:
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=6)
    port = MemoryPort("USLAX", calls=[call("USLAX", "C1", soon), call("USLAX", "C2", soon)])
    app = create_resolver_app(port, "USLAX", gateway_token=token("USLAX"))
    async with (
        serve_on_loopback(app) as url,
        gateway_at(tmp_path, "USLAX", url, heartbeat="1s") as served,
        served.client.stream(
            "POST", "/graphql", headers=STREAM, json={"query": CALLS}
        ) as response,
    ):  # fmt: skip
        stream = aiter(events(response))
        _, first = await next_message(stream)
        assert [c["transportCallReference"] for c in first["data"]["vesselCallUpdates"]] == [
            "C1", "C2"]  # fmt: skip
        port.calls[1] = call("USLAX", "C2", soon) | {
            "estimatedArrivalDateTime": soon + timedelta(hours=3)
        }
        _, moved = await next_message(stream)
        assert moved["data"]["vesselCallUpdates"] == [
            {"transportCallReference": "C2",
             "estimatedArrivalDateTime": (soon + timedelta(hours=3)).isoformat()}
        ]  # fmt: skip


async def test_a_port_going_down_and_back_shows_in_the_outlook(tmp_path: Path) -> None:
    app = create_resolver_app(MemoryPort("USLAX"), "USLAX", gateway_token=token("USLAX"))
    port_up = contextlib.AsyncExitStack()
    url = await port_up.enter_async_context(serve_on_loopback(app))
    number = int(url.rpartition(":")[2])
    async with (
        port_up,
        gateway_at(tmp_path, "USLAX", url, heartbeat="1s") as served,
        served.client.stream(
            "POST", "/graphql", headers=STREAM, json={"query": OUTLOOK}
        ) as response,
    ):  # fmt: skip
        stream = aiter(events(response))
        _, first = await next_message(stream)
        assert first["data"]["outlookUpdates"]["ports"] == [
            {"UNLocationCode": "USLAX", "answered": True}]  # fmt: skip
        await port_up.aclose()  # the port goes down
        _, down = await next_message(stream)
        assert down["data"]["outlookUpdates"]["ports"] == [
            {"UNLocationCode": "USLAX", "answered": False}]  # fmt: skip
        async with serve_on_loopback(app, port=number):  # and comes back where it was
            _, back = await next_message(stream)
            assert back["data"]["outlookUpdates"]["ports"] == [
                {"UNLocationCode": "USLAX", "answered": True}]  # fmt: skip
            assert (
                back["data"]["outlookUpdates"]["generatedAt"]
                != first["data"]["outlookUpdates"]["generatedAt"]
            )  # computed anew, sent because it changed


async def test_a_hold_released_at_the_simulated_port_reaches_the_trucker(tmp_path: Path) -> None:
    async with run_simulated_ports(port_ids=["USLGB"]) as [port]:
        data = port.system.data
        box = next(c for c in data.containers if c.availability is not None
                   and any(h.status == "HOLD" for h in c.availability.holds))  # fmt: skip
        query = (
            f'subscription {{ containerUpdates(references: ["{box.reference}"]) '
            "{ equipmentReference availability { holds { type status } } } }"
        )
        async with (
            gateway_at(tmp_path, "USLGB", port.resolver_url.removesuffix("/graphql"),
                       heartbeat="1s") as served,
            served.client.stream("POST", "/graphql", headers=STREAM,
                                 json={"query": query}) as response,
        ):  # fmt: skip
            stream = aiter(events(response))
            _, first = await next_message(stream)
            [held] = first["data"]["containerUpdates"]
            assert any(h["status"] == "HOLD" for h in held["availability"]["holds"])
            assert box.availability is not None
            released = tuple(replace(h, status="RELEASED") for h in box.availability.holds)
            data.record(replace(box, availability=replace(box.availability, holds=released)))
            _, changed = await next_message(stream)  # within the next poll or two
            [now] = changed["data"]["containerUpdates"]
            assert now["equipmentReference"] == box.reference
            assert {h["status"] for h in now["availability"]["holds"]} == {"RELEASED"}
