"""Event subscriptions of the simulated DCSA T&T 2.2 API, and the events they push.

Every answer of the subscription endpoints is checked against DCSA's own OpenAPI document;
pushes go to small receivers on loopback (or to an httpx mock transport), never elsewhere.
"""

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from port_resolvers.loopback import serve_on_loopback
from port_resolvers.sim.data import generate_port_data
from port_resolvers.sim.dcsa_push import MAX_SUBSCRIPTIONS, PushSettings, parse_subscription
from port_resolvers.sim.model import Container, EquipmentEvent, PortData
from port_resolvers.sim.systems import SimulatedPortSystem, create_port_system
from port_resolvers.sim.transport import TimedASGITransport

Client = Callable[[SimulatedPortSystem], httpx.AsyncClient]
SUBSCRIPTIONS = "/v2/event-subscriptions"
KEY = secrets.token_bytes(32)
SECRET = base64.b64encode(KEY).decode()
CALLBACK = "http://127.0.0.1:9/hook"  # never called: these tests record no change
WAIT_SECONDS = 20  # generous: a push on loopback takes milliseconds


def _validate(openapi: OpenAPI, response: httpx.Response, *, request: bool = True) -> None:
    """Validate an answer (and, unless told not to, its request) against the T&T 2.2 OpenAPI."""
    sent = response.request
    mock = MockRequest(
        f"{sent.url.scheme}://{sent.url.netloc.decode()}",
        sent.method,
        sent.url.path,
        args=dict(sent.url.params),
        headers=dict(sent.headers),
        data=sent.content or None,
    )
    if request:
        openapi.validate_request(mock)
    answer = MockResponse(response.content, response.status_code, headers=dict(response.headers))
    openapi.validate_response(mock, answer)


def _validate_events(openapi: OpenAPI, body: bytes) -> None:
    """Validate pushed events as the T&T 2.2 events they are (the callback's body is an array
    of the events ``GET /v2/events`` answers)."""
    request = MockRequest("http://uslax.sim", "GET", "/v2/events")
    headers = {"API-Version": "2.2.0", "Current-Page": "http://uslax.sim/v2/events?cursor=e30"}
    answer = MockResponse(body, 200, headers=headers)
    openapi.validate_response(request, answer)


def _error(response: httpx.Response, status: int, openapi: OpenAPI) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["API-Version"] == "2.2.0"
    _validate(openapi, response, request=False)
    body: dict[str, Any] = response.json()
    assert body["statusCode"] == status
    assert body["errors"][0]["message"]
    return body


def _signature(key: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def _released(box: Container, type_code: str, at: datetime) -> tuple[Container, EquipmentEvent]:
    """``box`` with one more actual event at its terminal (a customs release, a gate out)."""
    documents = tuple(
        (kind, value)
        for kind, value in (("BKG", box.booking), ("TRD", box.bill_of_lading))
        if value is not None
    )
    event = EquipmentEvent(
        event_id=str(uuid.uuid4()),
        created=at,
        event_datetime=at,
        classifier="ACT",
        type_code=type_code,
        empty_indicator=box.empty_indicator,
        facility_code=box.facility_code,
        call=None,
        documents=documents,
    )
    return replace(box, events=(*box.events, event)), event


@dataclass
class Receiver:
    """A subscriber's callback endpoint: records every request; answers 500 to the bodies
    ``fails`` picks, 204 to the others."""

    fails: Callable[[bytes], bool] = lambda body: False
    received: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        status = 500 if self.fails(body) else 204
        self.received.append((dict(request.headers), body, status))
        self.arrived.set()
        return Response(status_code=status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def until(self, count: int) -> list[tuple[dict[str, str], bytes, int]]:
        """The requests once ``count`` have arrived."""

        async def arrivals() -> None:
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(arrivals(), WAIT_SECONDS)
        return self.received


@pytest.fixture
def lax(system_for: Callable[[str], SimulatedPortSystem]) -> SimulatedPortSystem:
    return system_for("USLAX")


@pytest.fixture
def lax_data(now: datetime) -> PortData:
    """Data of its own, for a test that records changes."""
    return generate_port_data("USLAX", now=now)


def _waiting_import(data: PortData) -> Container:
    return next(
        b
        for b in data.containers
        if b.flow == "IMPORT" and b.status == "IN_TERMINAL" and b.bill_of_lading
    )


@pytest.fixture
async def served_lax(lax_data: PortData) -> AsyncIterator[Callable[..., Any]]:
    """Serves a system over ``lax_data`` on loopback; gives it and a client to it."""
    async with contextlib.AsyncExitStack() as stack:

        async def serve(
            push: PushSettings | None = None,
        ) -> tuple[SimulatedPortSystem, httpx.AsyncClient]:
            system = create_port_system("USLAX", data=lax_data, push=push)
            url = await stack.enter_async_context(serve_on_loopback(system.app))
            client = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=5))
            return system, client

        yield serve


# the endpoints -----------------------------------------------------------------------------


async def test_a_subscription_round_trip(
    lax: SimulatedPortSystem, client_for: Client, dcsa_openapi: OpenAPI
):
    client = client_for(lax)
    box = lax.data.containers[0]
    filters = {"eventType": ["EQUIPMENT"], "equipmentReference": box.reference}
    created = await client.post(
        SUBSCRIPTIONS, json={"callbackUrl": CALLBACK, "secret": SECRET, **filters}
    )
    _validate(dcsa_openapi, created)
    assert created.status_code == 201
    assert created.headers["API-Version"] == "2.2.0"
    subscription = created.json()
    subscription_id = subscription.pop("subscriptionID")
    assert uuid.UUID(subscription_id).version == 4
    assert subscription == {"callbackUrl": CALLBACK, **filters}  # never the secret
    one = f"{SUBSCRIPTIONS}/{subscription_id}"

    fetched = await client.get(one)
    _validate(dcsa_openapi, fetched)
    assert fetched.json() == created.json()
    listed = await client.get(SUBSCRIPTIONS)
    _validate(dcsa_openapi, listed)
    assert listed.json() == [created.json()]

    changed = {"callbackUrl": "http://localhost:9/other", "equipmentEventTypeCode": ["CUSR"]}
    updated = await client.put(one, json={"subscriptionID": subscription_id, **changed})
    _validate(dcsa_openapi, updated)
    assert updated.status_code == 200
    assert updated.json() == {"subscriptionID": subscription_id, **changed}
    assert (await client.get(one)).json() == updated.json()

    new_key = secrets.token_bytes(64)
    reset = await client.put(f"{one}/secret", json={"secret": base64.b64encode(new_key).decode()})
    _validate(dcsa_openapi, reset)
    assert reset.status_code == 204
    assert reset.headers["API-Version"] == "2.2.0"
    assert lax.track_and_trace is not None
    assert lax.track_and_trace.subscriptions.get(subscription_id).secret == new_key

    deleted = await client.delete(one)
    _validate(dcsa_openapi, deleted)
    assert deleted.status_code == 204
    assert deleted.headers["API-Version"] == "2.2.0"
    _error(await client.get(one), 404, dcsa_openapi)
    assert (await client.get(SUBSCRIPTIONS)).json() == []


async def test_the_list_pages_by_limit_and_cursor(
    lax: SimulatedPortSystem, client_for: Client, dcsa_openapi: OpenAPI
):
    client = client_for(lax)
    made = []
    for port in (9001, 9002, 9003):
        body = {"callbackUrl": f"http://127.0.0.1:{port}/", "secret": SECRET}
        made.append((await client.post(SUBSCRIPTIONS, json=body)).json()["subscriptionID"])
    first = await client.get(SUBSCRIPTIONS, params={"limit": 2})
    _validate(dcsa_openapi, first)
    assert [s["subscriptionID"] for s in first.json()] == made[:2]
    assert "Prev-Page" not in first.headers
    second = await client.get(first.headers["Next-Page"])
    _validate(dcsa_openapi, second)
    assert [s["subscriptionID"] for s in second.json()] == made[2:]
    assert "Next-Page" not in second.headers
    assert second.headers["First-Page"] == first.headers["Current-Page"]
    _error(await client.get(SUBSCRIPTIONS, params={"limit": "0"}), 400, dcsa_openapi)
    _error(await client.get(SUBSCRIPTIONS, params={"cursor": "nope"}), 400, dcsa_openapi)
    _error(await client.get(SUBSCRIPTIONS, params={"colour": "red"}), 400, dcsa_openapi)


def _b64(size: int) -> str:
    return base64.b64encode(b"k" * size).decode()


@pytest.mark.parametrize(
    "body",
    [
        {"secret": SECRET},  # no callbackUrl
        {"callbackUrl": CALLBACK},  # no secret
        {"callbackUrl": CALLBACK, "secret": "not base64!"},
        {"callbackUrl": CALLBACK, "secret": _b64(15)},
        {"callbackUrl": CALLBACK, "secret": _b64(1025)},
        {"callbackUrl": CALLBACK, "secret": 12345},
        {"callbackUrl": CALLBACK, "secret": SECRET, "colour": "red"},
        {"callbackUrl": CALLBACK, "secret": SECRET, "subscriptionID": str(uuid.uuid4())},
        {"callbackUrl": CALLBACK, "secret": SECRET, "eventType": ["PARCEL"]},
        {"callbackUrl": CALLBACK, "secret": SECRET, "eventType": "EQUIPMENT"},  # not a list
        {"callbackUrl": CALLBACK, "secret": SECRET, "equipmentEventTypeCode": []},
        {"callbackUrl": CALLBACK, "secret": SECRET, "equipmentReference": "X" * 16},
        {"callbackUrl": CALLBACK, "secret": SECRET, "UNLocationCode": "USLAXX"},
        {"callbackUrl": CALLBACK, "secret": SECRET, "vesselIMONumber": 9321483},
        {"callbackUrl": CALLBACK, "secret": SECRET, "scheduleID": "not-a-uuid"},
        {"callbackUrl": 42, "secret": SECRET},
        [{"callbackUrl": CALLBACK, "secret": SECRET}],
    ],
)
async def test_bad_bodies_get_a_dcsa_400(
    lax: SimulatedPortSystem, client_for: Client, dcsa_openapi: OpenAPI, body: Any
):
    _error(await client_for(lax).post(SUBSCRIPTIONS, json=body), 400, dcsa_openapi)
    assert lax.track_and_trace is not None
    assert lax.track_and_trace.subscriptions.all() == []


async def test_bad_requests_to_a_subscription_get_a_dcsa_error(
    lax: SimulatedPortSystem, client_for: Client, dcsa_openapi: OpenAPI
):
    client = client_for(lax)
    not_json = await client.post(
        SUBSCRIPTIONS, content=b"{", headers={"Content-Type": "application/json"}
    )
    _error(not_json, 400, dcsa_openapi)
    big = {"callbackUrl": CALLBACK, "secret": SECRET, "carrierServiceCode": "X" * 70_000}
    _error(await client.post(SUBSCRIPTIONS, json=big), 413, dcsa_openapi)
    version = await client.get(SUBSCRIPTIONS, headers={"API-Version": "3"})
    _error(version, 400, dcsa_openapi)

    created = await client.post(SUBSCRIPTIONS, json={"callbackUrl": CALLBACK, "secret": SECRET})
    one = f"{SUBSCRIPTIONS}/{created.json()['subscriptionID']}"
    with_secret = {"callbackUrl": CALLBACK, "secret": SECRET}
    _error(await client.put(one, json=with_secret), 400, dcsa_openapi)
    other_id = {"callbackUrl": CALLBACK, "subscriptionID": str(uuid.uuid4())}
    _error(await client.put(one, json=other_id), 400, dcsa_openapi)
    _error(await client.put(one, json={"eventType": ["TRANSPORT"]}), 400, dcsa_openapi)
    _error(await client.put(f"{one}/secret", json={"secret": _b64(8)}), 400, dcsa_openapi)
    _error(await client.put(f"{one}/secret", json={}), 400, dcsa_openapi)
    assert (await client.get(one)).json() == created.json()  # nothing of that changed it


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "", None),
        ("PUT", "", {"callbackUrl": CALLBACK}),
        ("DELETE", "", None),
        ("PUT", "/secret", {"secret": SECRET}),
    ],
)
async def test_an_unknown_subscription_is_a_dcsa_404(
    lax: SimulatedPortSystem,
    client_for: Client,
    dcsa_openapi: OpenAPI,
    method: str,
    path: str,
    body: Any,
):
    url = f"{SUBSCRIPTIONS}/{uuid.uuid4()}{path}"
    response = await client_for(lax).request(method, url, json=body)
    _error(response, 404, dcsa_openapi)


async def test_a_system_holds_a_bounded_number_of_subscriptions(
    lax: SimulatedPortSystem, client_for: Client, dcsa_openapi: OpenAPI
):
    client = client_for(lax)
    body = {"callbackUrl": CALLBACK, "secret": SECRET}
    for _ in range(MAX_SUBSCRIPTIONS):
        assert (await client.post(SUBSCRIPTIONS, json=body)).status_code == 201
    _error(await client.post(SUBSCRIPTIONS, json=body), 409, dcsa_openapi)
    listed = await client.get(SUBSCRIPTIONS, params={"limit": 1000})
    assert len(listed.json()) == MAX_SUBSCRIPTIONS


# Each is refused when the subscription is made: nothing is ever sent to any of them.
@pytest.mark.parametrize(
    "url",
    [
        "http://192.0.2.10/hook",  # TEST-NET-1
        "https://example.com/hook",
        "http://127.0.0.2/hook",  # loopback's range, not the loopback address
        "http://0.0.0.0:8000/hook",
        "http://2130706433/hook",  # 127.0.0.1 as one number
        "http://0x7f.0.0.1/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost.example.com/hook",
        "http://127.0.0.1.nip.io/hook",
        "http://127.0.0.1@192.0.2.10/hook",
        "http://user:pw@127.0.0.1/hook",
        "http://192.0.2.10#@127.0.0.1/hook",
        "http://127.0.0.1\\@192.0.2.10/hook",
        "http://127.0.0.1:99999/hook",
        "ftp://127.0.0.1/hook",
        "file:///etc/passwd",
        "/hook",
        "",
    ],
)
async def test_callbacks_off_loopback_are_refused(
    lax: SimulatedPortSystem, client_for: Client, dcsa_openapi: OpenAPI, url: str
):
    client = client_for(lax)
    body = await client.post(SUBSCRIPTIONS, json={"callbackUrl": url, "secret": SECRET})
    _error(body, 400, dcsa_openapi)
    created = await client.post(SUBSCRIPTIONS, json={"callbackUrl": CALLBACK, "secret": SECRET})
    one = f"{SUBSCRIPTIONS}/{created.json()['subscriptionID']}"
    _error(await client.put(one, json={"callbackUrl": url}), 400, dcsa_openapi)
    assert lax.track_and_trace is not None
    assert [s.callback_url for s in lax.track_and_trace.subscriptions.all()] == [CALLBACK]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/a?b=c", "https://localhost/x", "http://[::1]:9/hook"]
)
async def test_callbacks_on_loopback_are_taken(
    lax: SimulatedPortSystem, client_for: Client, dcsa_openapi: OpenAPI, url: str
):
    response = await client_for(lax).post(
        SUBSCRIPTIONS, json={"callbackUrl": url, "secret": SECRET}
    )
    _validate(dcsa_openapi, response)
    assert response.status_code == 201
    assert response.json()["callbackUrl"] == url


def test_filters_are_anded_and_lists_ored(lax_data: PortData):
    system = create_port_system("USLAX", data=lax_data)
    assert system.track_and_trace is not None
    box = _waiting_import(lax_data)
    events = system.track_and_trace.by_reference[box.reference]
    everything = system.track_and_trace.events

    def matched(**filters: Any) -> list[tuple[str, str]]:
        request = parse_subscription({"callbackUrl": CALLBACK, **filters}, with_secret=False)
        return [(e.body["eventID"], e.type_code) for e in everything if request.query.matches(e)]

    mine = [(e.body["eventID"], e.type_code) for e in events]
    assert matched(equipmentReference=box.reference) == mine
    assert matched(equipmentReference=box.reference, equipmentEventTypeCode=["DISC", "AVPU"]) == [
        e for e in mine if e[1] in {"DISC", "AVPU"}
    ]
    assert matched(equipmentReference=box.reference, UNLocationCode="USOAK") == []
    assert matched(equipmentReference=box.reference, eventType=["TRANSPORT"]) == []
    assert matched(equipmentReference=box.reference, eventType=["TRANSPORT", "EQUIPMENT"]) == mine
    assert matched(equipmentReference=box.reference, shipmentEventTypeCode=["RELS"]) == []
    assert matched(equipmentReference=box.reference, transportDocumentTypeCode=["BOL"]) == []
    documented = matched(transportDocumentReference=box.bill_of_lading)
    assert set(mine) <= set(documented)
    call = next(e.call for e in box.events if e.call is not None)
    by_vessel = matched(vesselIMONumber=call.vessel.imo, eventType=["TRANSPORT"])
    assert by_vessel
    assert all(code in {"ARRI", "DEPA"} for _, code in by_vessel)


# the pushes --------------------------------------------------------------------------------


async def test_a_recorded_change_is_pushed_signed_and_served(
    lax_data: PortData, served_lax: Callable[..., Any], dcsa_openapi: OpenAPI, now: datetime
):
    receiver = Receiver()
    box = _waiting_import(lax_data)
    async with serve_on_loopback(receiver.app()) as receiver_url:
        _, client = await served_lax()  # pushes with a client of its own
        created = await client.post(
            SUBSCRIPTIONS,
            json={
                "callbackUrl": f"{receiver_url}/hook",
                "secret": SECRET,
                "equipmentReference": box.reference,
            },
        )
        _validate(dcsa_openapi, created)
        subscription_id = created.json()["subscriptionID"]

        changed, released = _released(box, "CUSR", now + timedelta(minutes=5))
        lax_data.record(changed)
        [(headers, body, status)] = await receiver.until(1)

        assert status == 204
        pushed = json.loads(body)
        assert [e["eventID"] for e in pushed] == [released.event_id]  # the new event only
        assert pushed[0]["equipmentEventTypeCode"] == "CUSR"
        assert pushed[0]["equipmentReference"] == box.reference
        _validate_events(dcsa_openapi, body)
        assert hmac.compare_digest(headers["notification-signature"], _signature(KEY, body))
        assert headers["subscription-id"] == subscription_id
        assert headers["api-version"] == "2.2.0"
        assert headers["content-type"] == "application/json"

        served = await client.get("/v2/events", params={"equipmentReference": box.reference})
        _validate(dcsa_openapi, served)
        assert [e["eventID"] for e in served.json()] == [e.event_id for e in changed.events]
        assert served.json()[-1] == pushed[0]


async def test_a_change_its_filters_do_not_match_is_not_pushed(
    lax_data: PortData, served_lax: Callable[..., Any], dcsa_openapi: OpenAPI, now: datetime
):
    receiver = Receiver()
    box = _waiting_import(lax_data)
    async with serve_on_loopback(receiver.app()) as receiver_url:
        _, client = await served_lax()
        filters = {"equipmentReference": box.reference, "equipmentEventTypeCode": ["GTOT"]}
        body = {"callbackUrl": f"{receiver_url}/hook", "secret": SECRET, **filters}
        assert (await client.post(SUBSCRIPTIONS, json=body)).status_code == 201

        cleared, customs = _released(box, "CUSR", now + timedelta(minutes=5))
        lax_data.record(cleared)  # not a gate out: not pushed
        gone, gate_out = _released(cleared, "GTOT", now + timedelta(minutes=50))
        lax_data.record(gone)  # a gate out: pushed, after anything queued before it
        [(_, pushed, _)] = await receiver.until(1)
        assert [e["eventID"] for e in json.loads(pushed)] == [gate_out.event_id]

        served = await client.get("/v2/events", params={"equipmentReference": box.reference})
        ids = [e["eventID"] for e in served.json()]
        assert ids[-2:] == [customs.event_id, gate_out.event_id]


async def test_a_failing_receiver_is_retried_a_bounded_number_of_times(
    lax_data: PortData,
    served_lax: Callable[..., Any],
    now: datetime,
    caplog: pytest.LogCaptureFixture,
):
    waits: list[int] = []

    def backoff(attempt: int) -> float:
        waits.append(attempt)
        return 0.0

    box = _waiting_import(lax_data)
    cleared, customs = _released(box, "CUSR", now + timedelta(minutes=5))
    gone, gate_out = _released(cleared, "GTOT", now + timedelta(minutes=50))
    receiver = Receiver(fails=lambda body: customs.event_id.encode() in body)
    async with serve_on_loopback(receiver.app()) as receiver_url:
        _, client = await served_lax(PushSettings(attempts=3, backoff=backoff))
        body = {"callbackUrl": f"{receiver_url}/hook", "secret": SECRET}
        assert (await client.post(SUBSCRIPTIONS, json=body)).status_code == 201

        with caplog.at_level(logging.WARNING, logger="port_resolvers.sim.dcsa_push"):
            lax_data.record(cleared)  # its push fails every time ...
            lax_data.record(gone)  # ... and then this one goes through
            received = await receiver.until(4)

    assert [status for _, _, status in received] == [500, 500, 500, 204]
    assert all(customs.event_id.encode() in body for _, body, _ in received[:3])
    assert [e["eventID"] for e in json.loads(received[3][1])] == [gate_out.event_id]
    assert waits == [1, 2]  # between the three tries of the first push, none after the last
    assert "dropped after 3 attempts" in caplog.text


async def test_a_full_outbox_drops_its_oldest_push(
    lax_data: PortData, now: datetime, caplog: pytest.LogCaptureFixture
):
    entered, release = asyncio.Event(), asyncio.Event()
    sent: list[list[str]] = []

    async def slow_receiver(request: httpx.Request) -> httpx.Response:
        sent.append([e["eventID"] for e in json.loads(request.content)])
        entered.set()
        await release.wait()
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow_receiver)) as pusher:
        system = create_port_system(
            "USLAX", data=lax_data, push=PushSettings(client=pusher, outbox_limit=2)
        )
        client = httpx.AsyncClient(
            transport=TimedASGITransport(app=system.app), base_url="http://uslax.sim"
        )
        async with client:
            body = {"callbackUrl": CALLBACK, "secret": SECRET}
            assert (await client.post(SUBSCRIPTIONS, json=body)).status_code == 201
        box, events = _waiting_import(lax_data), []
        for minutes in range(1, 5):
            box, event = _released(box, "CUSR", now + timedelta(minutes=minutes))
            events.append(event.event_id)
            with caplog.at_level(logging.WARNING, logger="port_resolvers.sim.dcsa_push"):
                lax_data.record(box)
            if minutes == 1:
                await asyncio.wait_for(entered.wait(), WAIT_SECONDS)  # the first is sending
        release.set()
        assert system.track_and_trace is not None

        async def all_sent() -> None:
            while len(sent) < 3:
                entered.clear()
                await entered.wait()

        await asyncio.wait_for(all_sent(), WAIT_SECONDS)
        await system.track_and_trace.aclose()
    assert sent == [[events[0]], [events[2]], [events[3]]]  # the second waited, and was dropped
    assert "is full" in caplog.text


async def test_a_deleted_subscription_gets_no_more_pushes(
    lax_data: PortData, served_lax: Callable[..., Any], now: datetime
):
    receiver = Receiver()
    box = _waiting_import(lax_data)
    async with serve_on_loopback(receiver.app()) as receiver_url:
        _, client = await served_lax()
        body = {"callbackUrl": f"{receiver_url}/hook", "secret": SECRET}
        gone_id = (await client.post(SUBSCRIPTIONS, json=body)).json()["subscriptionID"]
        kept_id = (await client.post(SUBSCRIPTIONS, json=body)).json()["subscriptionID"]
        assert (await client.delete(f"{SUBSCRIPTIONS}/{gone_id}")).status_code == 204
        changed, _ = _released(box, "CUSR", now + timedelta(minutes=5))
        lax_data.record(changed)
        [(headers, _, _)] = await receiver.until(1)
        assert headers["subscription-id"] == kept_id
