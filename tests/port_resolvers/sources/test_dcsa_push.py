"""The DCSA resolver told by its source (port_resolvers/sources/dcsa_push.py): it subscribes with a
callback and a secret, keeps the subscription, takes only callbacks whose signature verifies,
passes on names of what changed, and tells the gateway only while the source has it."""

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from port_resolvers.kit.changes import ChangeNotices
from port_resolvers.sources.dcsa_push import (
    NOTIFICATIONS_PATH,
    DcsaEventPush,
    notice_of,
    signature,
    verifies,
)
from portcontract.changes import EVERYTHING, ChangeNotice

SECRET = b"0123456789abcdef0123456789abcdef"
BOX_EVENT = {"eventType": "EQUIPMENT", "equipmentReference": "mscu6639871 "}
CALL_EVENT = {"eventType": "TRANSPORT", "transportCall": {"transportCallID": "USLAX-0042"}}


def test_a_signature_verifies_only_with_the_secret_over_the_exact_body() -> None:
    body = b'[{"eventType": "EQUIPMENT"}]\n'
    header = signature(SECRET, body)
    assert header.startswith("sha256=")
    assert verifies(SECRET, body, header)
    assert verifies(SECRET, body, " SHA256=" + header[7:].upper() + " ")
    assert not verifies(SECRET, body + b" ", header)
    assert not verifies(b"another secret", body, header)
    assert not verifies(SECRET, body, "sha1=" + header[7:])
    assert not verifies(SECRET, body, None)


def test_events_become_the_names_of_what_changed() -> None:
    assert notice_of([BOX_EVENT, CALL_EVENT, "junk", {"eventType": "SHIPMENT"}]) == ChangeNotice(
        frozenset({"MSCU6639871"}), frozenset({"USLAX-0042"})
    )
    assert notice_of([{"eventType": "TRANSPORT", "transportCall": {}}]) is EVERYTHING
    assert notice_of([{"eventType": "EQUIPMENT", "equipmentReference": "no spaces!"}]) is EVERYTHING
    assert notice_of([]).empty


class Source:
    """A T&T API's event subscriptions: what it was asked, what it answers."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.refuse = 0  # the next so many POSTs answer 503
        self.posts = 0
        self.deleted: list[str] = []

    def app(self) -> Starlette:
        async def create(request: Request) -> Response:
            self.posts += 1
            if self.refuse:
                self.refuse -= 1
                return Response(status_code=503)
            body = await request.json()
            made = f"sub-{self.posts}"
            self.subscriptions[made] = body
            public = {k: v for k, v in body.items() if k != "secret"}
            return JSONResponse({"subscriptionID": made} | public, status_code=201)

        async def one(request: Request) -> Response:
            made = request.path_params["id"]
            if request.method == "DELETE":
                self.deleted.append(made)
                self.subscriptions.pop(made, None)
                return Response(status_code=204)
            if made not in self.subscriptions:
                return JSONResponse({"statusCode": 404}, status_code=404)
            return JSONResponse({"subscriptionID": made})

        return Starlette(routes=[
            Route("/v2/event-subscriptions", create, methods=["POST"]),
            Route("/v2/event-subscriptions/{id}", one, methods=["GET", "DELETE"]),
        ])  # fmt: skip


class Ticks:
    """The push's sleep: each returns when the test lets it."""

    def __init__(self) -> None:
        self.waits: asyncio.Queue[tuple[float, asyncio.Future[None]]] = asyncio.Queue()

    async def sleep(self, seconds: float) -> None:
        done = asyncio.get_running_loop().create_future()
        await self.waits.put((seconds, done))
        await done

    async def next(self) -> float:
        seconds, done = await self.waits.get()
        self._done = done
        return seconds

    def go(self) -> None:
        self._done.set_result(None)


@contextlib.asynccontextmanager
async def pushing(source: Source, ticks: Ticks) -> AsyncIterator[DcsaEventPush]:
    transport = httpx.ASGITransport(app=source.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://source") as client:
        push = DcsaEventPush(client, "http://source/", ChangeNotices(), secret=SECRET,
                             sleep=ticks.sleep, check_every=300)  # fmt: skip
        yield push
        await push.stop()


async def test_it_subscribes_keeps_the_subscription_and_deletes_it_at_the_end() -> None:
    source, ticks = Source(), Ticks()
    source.refuse = 2
    async with pushing(source, ticks) as push:
        assert not push.notices.available  # nothing to pass on before the source has it
        push.start("http://resolver.test/dcsa/notifications")
        assert await ticks.next() == 1.0  # refused: tried again after a doubling backoff
        ticks.go()
        assert await ticks.next() == 2.0
        ticks.go()
        assert await ticks.next() == 300  # subscribed; looked at again in five minutes
        assert push.subscription_id == "sub-3"
        assert push.notices.available
        made = source.subscriptions["sub-3"]
        assert made["callbackUrl"] == "http://resolver.test/dcsa/notifications"
        assert base64.b64decode(made["secret"]) == SECRET
        assert made["eventType"] == ["EQUIPMENT", "TRANSPORT"]
        source.subscriptions.clear()  # the source forgot it
        ticks.go()
        assert await ticks.next() == 300
        assert push.subscription_id == "sub-4"  # made anew
    assert source.deleted == ["sub-4"]
    assert not push.notices.available


async def callback(push: DcsaEventPush, body: bytes, **headers: str) -> int:
    app = Starlette(routes=[Route(NOTIFICATIONS_PATH, push.receive, methods=["POST"])])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://resolver") as client:
        response = await client.post(NOTIFICATIONS_PATH, content=body, headers=headers)
        return response.status_code


@pytest.mark.parametrize(
    ("body", "header", "status"),
    [
        (orjson.dumps([BOX_EVENT]), "good", 204),
        (orjson.dumps([BOX_EVENT]), "sha256=" + "0" * 64, 401),
        (orjson.dumps([BOX_EVENT]), None, 401),
        (b"not json", "good", 400),
        (b'{"eventType": "EQUIPMENT"}', "good", 400),
        (b"[" + b" " * 2048 + b"]", "good", 413),
    ],
)
async def test_only_a_signed_list_of_events_is_taken(
    body: bytes, header: str | None, status: int
) -> None:
    source, ticks = Source(), Ticks()
    async with pushing(source, ticks) as push:
        push.max_body_bytes = 1024
        push.notices.resume()
        told: list[bytes] = []
        frames = push.notices.listen()
        assert await anext(frames)  # listening
        headers = (
            {}
            if header is None
            else {"Notification-Signature": signature(SECRET, body) if header == "good" else header}
        )
        assert await callback(push, body, **headers) == status
        if status == 204:
            told.append(await anext(frames))
            assert told == [ChangeNotice(frozenset({"MSCU6639871"})).to_event()]
            assert push.received == 1
        else:
            assert push.refused == 1
            assert push.notices.published == 0


async def test_a_callback_for_another_subscription_is_refused() -> None:
    source, ticks = Source(), Ticks()
    async with pushing(source, ticks) as push:
        push.start("http://resolver.test/dcsa/notifications")
        assert await ticks.next() == 300
        body = orjson.dumps([BOX_EVENT])
        signed = signature(SECRET, body)
        assert await callback(push, body, **{"Notification-Signature": signed,
                                             "Subscription-ID": "sub-999"}) == 401  # fmt: skip
        assert await callback(push, body, **{"Notification-Signature": signed,
                                             "Subscription-ID": "sub-1"}) == 204  # fmt: skip
