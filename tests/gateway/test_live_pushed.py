"""Subscriptions told instead of asking, end to end on loopback: the gateway polls nothing
here (its interval is an hour), so a change reaches the subscriber only because the port said
so. A resolver that reports changes itself; and a DCSA port whose system pushes signed events
to its resolver (T&T 2.2 event subscriptions), which tells the gateway."""

import asyncio
import dataclasses
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.ports.changes import PortChanges
from port_resolvers.kit import create_resolver_app
from port_resolvers.kit.changes import ChangeNotices
from port_resolvers.loopback import serve_on_loopback
from port_resolvers.sim.cluster import run_simulated_ports
from portcontract.changes import ChangeNotice
from tests.gateway.edge.test_streams import (
    BOX,
    POLICY,
    STREAM,
    SUBSCRIPTION,
    CountingPort,
    box,
    events,
    next_message,
)
from tests.gateway.served import HANG_GUARD_SECONDS, Served, served_gateway, token

TOLD_ONLY = {"interval": "1h", "heartbeat": "1h", "push_min_gap": "10ms"}


def gateway(tmp_path: Path, port_id: str, url: str) -> Any:
    (tmp_path / "policy.yaml").write_text(POLICY, encoding="utf-8")
    return served_gateway(
        tmp_path, [{"id": port_id, "url": url}], subscriptions=TOLD_ONLY,
        registry={"egress": {"schemes": ["http"], "hosts": ["127.0.0.1"]},
                  "health_interval": "1h"},
        policy={"file": tmp_path / "policy.yaml"},
    )  # fmt: skip


async def pushing(served: Served, port_id: str) -> None:
    changes = served.app.state.live.pushes
    assert isinstance(changes, PortChanges)
    await asyncio.wait_for(changes.until_pushing(port_id), HANG_GUARD_SECONDS)


async def test_a_change_the_port_reports_reaches_the_subscriber_without_a_poll(
    tmp_path: Path,
) -> None:
    port = CountingPort("USLAX", [box("GTIN")])
    notices = ChangeNotices(heartbeat=3600)
    app = create_resolver_app(port, "USLAX", gateway_token=token("USLAX"), changes=notices)
    async with (
        serve_on_loopback(app) as url,
        gateway(tmp_path, "USLAX", url + "/graphql") as served,
        served.client.stream("POST", "/graphql", headers=STREAM,
                             json={"query": SUBSCRIPTION, "variables": {"refs": [BOX]}}) as answer,
    ):  # fmt: skip
        stream = aiter(events(answer))
        _, first = await next_message(stream)
        assert codes(first) == ["GTIN"]
        await pushing(served, "USLAX")
        port.containers_known[0] = box("GTIN", "GTOT")
        notices.publish(ChangeNotice(frozenset({BOX})))
        _, changed = await next_message(stream)
        assert codes(changed) == ["GTIN", "GTOT"]
        assert port.asks <= 3  # the first answer, the one when the stream opened, this one
        metrics = (await served.client.get("/metrics")).text
        assert 'portgate_port_pushing{port="USLAX"} 1.0' in metrics
        assert "portgate_subscriptions 1.0" in metrics
        assert "portgate_subscription_feeds 1.0" in metrics


def codes(message: dict[str, Any]) -> list[str]:
    [container] = message["data"]["containerUpdates"]
    return [e["equipmentEventTypeCode"] for e in container["events"]]


async def test_an_event_the_dcsa_system_pushes_reaches_the_subscriber_without_a_poll(
    tmp_path: Path,
) -> None:
    async with run_simulated_ports(port_ids=["USLAX"]) as [port]:
        data = port.system.data
        held = next(c for c in data.containers if c.availability is not None and c.events)
        query = (
            f'subscription {{ containerUpdates(references: ["{held.reference}"]) '
            "{ equipmentReference events { eventID equipmentEventTypeCode } } }"
        )
        async with (
            gateway(tmp_path, "USLAX", port.resolver_url) as served,
            served.client.stream("POST", "/graphql", headers=STREAM,
                                 json={"query": query}) as answer,
        ):  # fmt: skip
            stream = aiter(events(answer))
            _, first = await next_message(stream)
            known = {e["eventID"] for e in first["data"]["containerUpdates"][0]["events"]}
            await pushing(served, "USLAX")
            at = data.now - timedelta(minutes=5)
            released = dataclasses.replace(
                held.events[-1], event_id="5e1f0b8e-1c4b-4a53-9d0e-0c0ffee00001", created=at,
                event_datetime=at, classifier="ACT", type_code="CUSR", call=None, train=None,
            )  # fmt: skip
            data.record(replace(held, events=(*held.events, released)))
            _, changed = await next_message(stream)
            [now] = changed["data"]["containerUpdates"]
            assert now["equipmentReference"] == held.reference
            new = [e for e in now["events"] if e["eventID"] not in known]
            assert [e["equipmentEventTypeCode"] for e in new] == ["CUSR"]
            assert port.push is not None
            assert port.push.received == 1  # the system's signed callback, verified


def moved_eta(data: Any) -> tuple[Any, datetime]:
    """A Los Angeles call due within two days, not arrived, with its ETA moved three hours."""
    call = next(c for c in data.vessel_calls if c.actual_arrival is None
                and c.status_code is None and c.eta_revisions
                and data.now < c.planned_arrival < data.now + timedelta(hours=48))  # fmt: skip
    eta = (call.estimated_arrival or call.planned_arrival) + timedelta(hours=3)
    created = data.now - timedelta(minutes=5)
    revisions = (*call.eta_revisions, (created, eta))
    return dataclasses.replace(call, estimated_arrival=eta, eta_revisions=revisions), eta


async def test_an_eta_the_dcsa_system_pushes_reaches_the_subscriber_without_a_poll(
    tmp_path: Path,
) -> None:
    async with run_simulated_ports(port_ids=["USLAX"]) as [port]:
        data = port.system.data
        moved, eta = moved_eta(data)
        query = ("subscription { vesselCallUpdates(window: 72) "
                 "{ transportCallReference estimatedArrivalDateTime } }")  # fmt: skip
        async with (
            gateway(tmp_path, "USLAX", port.resolver_url) as served,
            served.client.stream("POST", "/graphql", headers=STREAM,
                                 json={"query": query}) as answer,
        ):  # fmt: skip
            stream = aiter(events(answer))
            _, first = await next_message(stream)
            assert moved.reference in {c["transportCallReference"]
                                       for c in first["data"]["vesselCallUpdates"]}  # fmt: skip
            await pushing(served, "USLAX")
            data.record_call(moved)
            _, changed = await next_message(stream)
            [now] = changed["data"]["vesselCallUpdates"]
            assert now["transportCallReference"] == moved.reference
            assert datetime.fromisoformat(now["estimatedArrivalDateTime"]) == eta
            assert port.push is not None
            assert port.push.received == 1
