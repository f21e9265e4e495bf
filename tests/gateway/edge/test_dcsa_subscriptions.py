"""DCSA event subscriptions over every port (gateway/edge/dcsa_subscriptions.py), end to end on
loopback: a DCSA client subscribes to a box at Los Angeles; a new event recorded at the
simulated system reaches its callback, signed, as a DCSA event; the subscription is the
client's own to read, change and delete; callbacks go only where the egress rules allow."""

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.access.apikeys import ApiKeyStore
from gateway.edge.dcsa_subscriptions import DcsaSubscriptions
from gateway.ports.changes import PortChanges
from port_resolvers.loopback import serve_on_loopback
from port_resolvers.sim.cluster import RunningPort, run_simulated_ports
from tests.gateway.edge.dcsa_spec import validate
from tests.gateway.edge.test_streams import POLICY
from tests.gateway.served import HANG_GUARD_SECONDS, Served, served_gateway
from tests.gateway.test_live_pushed import moved_eta

SECRET = b"a shared secret of at least sixteen bytes"
PATH = "/dcsa/tnt/v2/event-subscriptions"


class Callback:
    """A DCSA client's callback on loopback: what reached it, as it came."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[dict[str, str], bytes]] = asyncio.Queue()
        self.url = ""

    def app(self) -> Starlette:
        async def take(request: Request) -> Response:
            await self.received.put((dict(request.headers), await request.body()))
            return Response(status_code=204)

        return Starlette(routes=[Route("/events", take, methods=["POST"])])


@contextlib.asynccontextmanager
async def facade(tmp_path: Path) -> AsyncIterator[tuple[Served, RunningPort, Callback]]:
    callback = Callback()
    (tmp_path / "policy.yaml").write_text(POLICY, encoding="utf-8")
    async with (
        run_simulated_ports(port_ids=["USLAX"]) as [port],
        serve_on_loopback(callback.app()) as url,
        served_gateway(
            tmp_path, [{"id": port.id, "url": port.resolver_url}],
            subscriptions={"interval": "1h", "heartbeat": "1h", "push_min_gap": "10ms"},
            registry={"egress": {"schemes": ["http"], "hosts": ["127.0.0.1"]},
                      "health_interval": "1h"},
            dcsa={"callback_egress": {"schemes": ["http"], "hosts": ["127.0.0.1"]}},
            policy={"file": tmp_path / "policy.yaml"},
        ) as served,
    ):  # fmt: skip
        callback.url = url + "/events"
        served.client.event_hooks["response"].append(spec_checked)
        yield served, port, callback


async def spec_checked(response: httpx.Response) -> None:
    """Every answer of the facade, validated against the official spec as it comes."""
    if response.request.url.path.startswith("/dcsa/tnt/"):
        await response.aread()
        validate(response)


def body(callback: Callback, reference: str, **more: Any) -> dict[str, Any]:
    return {"callbackUrl": callback.url, "secret": base64.b64encode(SECRET).decode(),
            "equipmentReference": reference, **more}  # fmt: skip


def hub_of(served: Served) -> DcsaSubscriptions:
    for route in served.app.routes:
        endpoint = getattr(route, "endpoint", None)
        owner = getattr(endpoint, "__self__", None)
        if isinstance(owner, DcsaSubscriptions):
            return owner
    raise AssertionError("no DCSA subscriptions on the app")


async def test_a_new_event_at_the_port_reaches_the_callback_signed(tmp_path: Path) -> None:
    async with facade(tmp_path) as (served, port, callback):
        data = port.system.data
        box = next(c for c in data.containers if c.availability is not None and c.events)
        admin = served.as_("admin")
        made = await served.client.post(PATH, json=body(callback, box.reference), headers=admin)
        assert made.status_code == 201, made.text
        assert made.headers["api-version"] == "2.2.0"
        subscription = made.json()
        assert "secret" not in subscription
        assert subscription["equipmentReference"] == box.reference
        held = hub_of(served).subscriptions[subscription["subscriptionID"]]
        await asyncio.wait_for(held.ready.wait(), HANG_GUARD_SECONDS)
        changes = served.app.state.live.pushes
        assert isinstance(changes, PortChanges)
        await asyncio.wait_for(changes.until_pushing("USLAX"), HANG_GUARD_SECONDS)

        at = data.now - timedelta(minutes=5)
        gated_out = dataclasses.replace(
            box.events[-1], event_id="5e1f0b8e-1c4b-4a53-9d0e-0c0ffee00002", created=at,
            event_datetime=at, classifier="ACT", type_code="GTOT", call=None, train=None,
        )  # fmt: skip
        data.record(dataclasses.replace(box, events=(*box.events, gated_out)))
        headers, sent = await asyncio.wait_for(callback.received.get(), HANG_GUARD_SECONDS)
        expected = "sha256=" + hmac.new(SECRET, sent, hashlib.sha256).hexdigest()
        assert headers["notification-signature"] == expected
        assert headers["subscription-id"] == subscription["subscriptionID"]
        assert headers["api-version"] == "2.2.0"
        [event] = orjson.loads(sent)
        assert event["eventID"] == gated_out.event_id
        assert event["eventType"] == "EQUIPMENT"
        assert event["equipmentEventTypeCode"] == "GTOT"
        assert event["equipmentReference"] == box.reference
        assert held.delivered == 1


async def test_a_subscription_is_its_owners_to_read_change_and_delete(tmp_path: Path) -> None:
    async with facade(tmp_path) as (served, port, callback):
        reference = port.system.data.containers[0].reference
        admin, other = served.as_("admin"), served.as_("lax_admin")
        made = (await served.client.post(PATH, json=body(callback, reference),
                                         headers=admin)).json()  # fmt: skip
        one = f"{PATH}/{made['subscriptionID']}"
        assert (await served.client.get(PATH, headers=admin)).json() == [made]
        assert (await served.client.get(PATH, headers=other)).json() == []
        second = (await served.client.post(PATH, json=body(callback, reference),
                                           headers=admin)).json()  # fmt: skip
        first_page = await served.client.get(PATH, params={"limit": "1"}, headers=admin)
        assert first_page.json() == [made]
        next_page = await served.client.get(first_page.headers["Next-Page"], headers=admin)
        assert next_page.json() == [second]
        assert "Next-Page" not in next_page.headers
        bad = await served.client.get(PATH, params={"cursor": "bm9wZQ"}, headers=admin)
        assert bad.status_code == 400
        await served.client.delete(f"{PATH}/{second['subscriptionID']}", headers=admin)
        assert (await served.client.get(one, headers=admin)).json() == made
        hidden = await served.client.get(one, headers=other)
        assert hidden.status_code == 404
        assert hidden.json()["statusCode"] == 404
        assert (await served.client.delete(one, headers=other)).status_code == 404

        changed = made | {"equipmentEventTypeCode": ["GTOT", "GTIN"]}
        updated = await served.client.put(one, json=changed, headers=admin)
        assert updated.status_code == 200, updated.text
        assert updated.json()["equipmentEventTypeCode"] == ["GTOT", "GTIN"]
        with_secret = await served.client.put(one, json=changed | {"secret": "eA=="},
                                              headers=admin)  # fmt: skip
        assert with_secret.status_code == 400  # a secret is changed on its own path only
        renewed = await served.client.put(
            one + "/secret", json={"secret": base64.b64encode(b"x" * 32).decode()}, headers=admin
        )
        assert renewed.status_code == 204
        assert (await served.client.delete(one, headers=admin)).status_code == 204
        assert (await served.client.get(one, headers=admin)).status_code == 404
        assert hub_of(served).subscriptions == {}
        anonymous = await served.client.post(PATH, json=body(callback, reference))
        assert anonymous.status_code == 401


async def test_what_cannot_be_a_subscription_is_refused_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    async with facade(tmp_path) as (served, port, callback):
        reference = port.system.data.containers[0].reference
        admin = served.as_("admin")
        for bad, says in [
            ({"callbackUrl": "http://10.1.2.3/events"}, "callbackUrl is refused"),
            ({"callbackUrl": "ftp://127.0.0.1/events"}, "callbackUrl is refused"),
            ({"secret": "not base64!"}, "secret is Base64"),
            ({"secret": base64.b64encode(b"short").decode()}, "secret is Base64"),
            ({"eventType": ["SHIPMENT"]}, "match no event"),
            ({"colour": "blue"}, "unknown or misplaced field colour"),
            ({"equipmentEventTypeCode": ["TELEPORT"]}, "unknown value"),
        ]:
            answer = await served.client.post(PATH, json=body(callback, reference) | bad,
                                              headers=admin)  # fmt: skip
            assert answer.status_code == 400, bad
            assert says in answer.json()["errors"][0]["message"], answer.text
        no_box = {"callbackUrl": callback.url, "secret": base64.b64encode(SECRET).decode(),
                  "eventType": ["EQUIPMENT"]}  # fmt: skip
        answer = await served.client.post(PATH, json=no_box, headers=admin)
        assert answer.status_code == 400
        assert "needs an equipmentReference" in answer.text
        assert hub_of(served).subscriptions == {}
        assert callback.received.empty()


async def test_a_subscription_to_a_ports_calls_sends_a_new_estimate_and_nothing_before(
    tmp_path: Path,
) -> None:
    async with facade(tmp_path) as (served, port, callback):
        transport = {"callbackUrl": callback.url, "secret": base64.b64encode(SECRET).decode(),
                     "eventType": ["TRANSPORT"], "UNLocationCode": "USLAX",
                     "transportEventTypeCode": ["ARRI"]}  # fmt: skip
        made = await served.client.post(PATH, json=transport, headers=served.as_("admin"))
        assert made.status_code == 201, made.text
        held = hub_of(served).subscriptions[made.json()["subscriptionID"]]
        await asyncio.wait_for(held.ready.wait(), HANG_GUARD_SECONDS)
        assert held.known  # the window's calls, their berth arrivals mapped and remembered
        assert callback.received.empty()  # what is there when it is made is not news
        assert held.delivered == 0

        changes = served.app.state.live.pushes
        await asyncio.wait_for(changes.until_pushing("USLAX"), HANG_GUARD_SECONDS)
        moved, eta = moved_eta(port.system.data)
        port.system.data.record_call(moved)  # the carrier publishes a new ETA
        headers, sent = await asyncio.wait_for(callback.received.get(), HANG_GUARD_SECONDS)
        assert headers["subscription-id"] == held.id
        [estimate] = orjson.loads(sent)
        assert estimate["eventType"] == "TRANSPORT"
        assert (estimate["transportEventTypeCode"], estimate["eventClassifierCode"]) == (
            "ARRI", "EST")  # fmt: skip
        assert estimate["transportCall"]["transportCallID"] == moved.reference
        assert datetime.fromisoformat(estimate["eventDateTime"]) == eta


async def test_a_revoked_key_ends_its_subscription_with_one_audit_record(tmp_path: Path) -> None:
    async with facade(tmp_path) as (served, port, callback):
        data = port.system.data
        box = next(c for c in data.containers if c.availability is not None and c.events)
        store = ApiKeyStore(tmp_path / "keys.sqlite3")
        key, record = store.create(client_id="tracker", organisation="Visibility Co",
                                   roles=["admin"])  # fmt: skip
        made = await served.client.post(PATH, json=body(callback, box.reference),
                                        headers={"x-api-key": key})  # fmt: skip
        subscriptions = hub_of(served)
        held = subscriptions.subscriptions[made.json()["subscriptionID"]]
        await asyncio.wait_for(held.ready.wait(), HANG_GUARD_SECONDS)
        changes = served.app.state.live.pushes
        await asyncio.wait_for(changes.until_pushing("USLAX"), HANG_GUARD_SECONDS)
        store.revoke(record.key_id)
        store.close()
        at = data.now - timedelta(minutes=5)
        moved = dataclasses.replace(
            box.events[-1], event_id="5e1f0b8e-1c4b-4a53-9d0e-0c0ffee00003", created=at,
            event_datetime=at, classifier="ACT", type_code="GTOT", call=None, train=None,
        )  # fmt: skip
        data.record(dataclasses.replace(box, events=(*box.events, moved)))
        await asyncio.wait_for(asyncio.gather(*held.tasks, return_exceptions=True),
                               HANG_GUARD_SECONDS)  # fmt: skip
        assert subscriptions.subscriptions == {}
        assert callback.received.empty()  # nothing was sent for a key no longer accepted
        trail = served.app.state.observer.trail
        await trail.flush()
        [audited] = [s.record for s in await trail.store.search()
                     if s.record.client_id == "tracker"]  # fmt: skip
        assert audited.operation_type == "subscription"
        assert audited.messages == 0
        assert audited.error_codes == ("UNAUTHENTICATED",)
