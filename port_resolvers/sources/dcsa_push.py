"""Being told by a DCSA Track & Trace 2.2 source instead of asking it: event subscriptions.

T&T 2.2 lets a subscriber register a callback (``POST /v2/event-subscriptions`` with a
``callbackUrl`` and a Base64 ``secret``); the publisher then POSTs every new event that matches
to the callback, as a JSON list, signed: ``Notification-Signature: sha256=<hex>``, the HMAC-SHA256
of the exact body with the secret. :class:`DcsaEventPush` does the subscriber's side for a port
resolver:

- :meth:`DcsaEventPush.start` subscribes (for equipment and transport events) and keeps the
  subscription: retried with a doubling backoff while the source refuses or does not answer,
  looked at every ``check_every`` and made anew when the source no longer has it;
  :meth:`DcsaEventPush.stop` deletes it (at shutdown).
- :meth:`DcsaEventPush.receive` is the callback (``POST /dcsa/notifications``): a body larger
  than ``max_body_bytes`` is refused (413), a signature that does not verify is refused (401)
  and nothing of the body is read; a verified list of events becomes one change notice: the
  equipment references of the equipment events, the transport call IDs of the transport
  events (:mod:`portcontract.changes`), published to the gateway on the resolver's
  ``GET /changes`` (:class:`~port_resolvers.kit.changes.ChangeNotices`).
- The gateway listens only while the subscription stands: ``ChangeNotices`` are suspended
  until the source has it, and again whenever it is lost, so the gateway polls meanwhile.

A notice carries names only: the gateway then asks the resolver, which reads the source as it
always does. The secret is random per subscription unless given, and never logged.
"""

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import httpx
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from port_resolvers.kit.changes import ChangeNotices
from portcontract.changes import EVERYTHING, ChangeNotice, InvalidNotice, parse_notice

logger = logging.getLogger("port_resolvers.sources.dcsa")

SUBSCRIPTIONS_PATH: Final = "/v2/event-subscriptions"
NOTIFICATIONS_PATH: Final = "/dcsa/notifications"  # where the resolver takes callbacks
SIGNATURE_HEADER: Final = "Notification-Signature"
DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
DEFAULT_CHECK_EVERY: Final = 300.0
EVENT_TYPES: Final = ("EQUIPMENT", "TRANSPORT")


def signature(secret: bytes, body: bytes) -> str:
    """The ``Notification-Signature`` of ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verifies(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the body's signature with ``secret`` (only sha256 is known)."""
    if header is None:
        return False
    kind, _, digest = header.strip().partition("=")
    if kind.strip().lower() != "sha256":
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), digest.strip().lower().encode())


def notice_of(events: list[Any]) -> ChangeNotice:
    """What a callback's events say changed: boxes and calls by name, or everything when a
    name cannot be passed on as one."""
    boxes: set[str] = set()
    calls: set[str] = set()
    for event in events:
        if not isinstance(event, dict):
            continue
        kind = event.get("eventType")
        if kind == "EQUIPMENT" and isinstance(event.get("equipmentReference"), str):
            boxes.add(event["equipmentReference"].strip().upper())
        call = event.get("transportCall")
        if kind == "TRANSPORT" and isinstance(call, dict):
            if isinstance(call.get("transportCallID"), str):
                calls.add(call["transportCallID"])
            else:
                return EVERYTHING  # a call it cannot name: every call may have moved
    try:  # the same checks the gateway makes, before it is sent
        return parse_notice(ChangeNotice(frozenset(boxes), frozenset(calls)).to_json())
    except InvalidNotice:
        return EVERYTHING


Sleep = Callable[[float], Awaitable[None]]


class DcsaEventPush:
    """One event subscription at a T&T 2.2 source, and its callback (module docstring)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        source: str,
        notices: ChangeNotices,
        *,
        headers: Mapping[str, str] | None = None,
        secret: bytes | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        check_every: float = DEFAULT_CHECK_EVERY,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.client = client
        self.url = source.rstrip("/") + SUBSCRIPTIONS_PATH
        self.notices = notices
        self.headers = {"API-Version": "2", **(headers or {})}
        self.secret = secret or secrets.token_bytes(32)
        self.max_body_bytes = max_body_bytes
        self.check_every = check_every
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self.subscription_id: str | None = None
        self.received = 0  # verified callbacks
        self.refused = 0  # callbacks refused (size, signature, body)
        self._task: asyncio.Task[None] | None = None
        notices.suspend()  # nothing to pass on until the source has the subscription

    # the subscription --------------------------------------------------------------------

    def start(self, callback_url: str) -> None:
        """Subscribe (in the background, until it holds) with ``callback_url``: where the
        source reaches :meth:`receive`."""
        if self._task is None:
            self._task = asyncio.create_task(self._keep(callback_url), name="dcsa push")

    async def stop(self) -> None:
        """Stop keeping the subscription and delete it at the source (best effort)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.notices.suspend()
        if self.subscription_id is not None:
            with contextlib.suppress(httpx.HTTPError):
                await self.client.delete(f"{self.url}/{self.subscription_id}", headers=self.headers)
            self.subscription_id = None

    async def _keep(self, callback_url: str) -> None:
        failures = 0
        while True:
            try:
                if self.subscription_id is None or not await self._still_there():
                    self.notices.suspend()
                    self.subscription_id = await self._subscribe(callback_url)
                    self.notices.resume()
                    logger.info("subscribed to the source's events (%s)", self.subscription_id)
                failures = 0
                await self._sleep(self.check_every)
            except (httpx.HTTPError, ValueError) as exc:
                logger.warning("cannot subscribe to the source's events: %s", exc)
                await self._sleep(min(self.backoff * 2**failures, self.max_backoff))
                failures = min(failures + 1, 32)

    async def _subscribe(self, callback_url: str) -> str:
        body = {
            "callbackUrl": callback_url,
            "secret": base64.b64encode(self.secret).decode(),
            "eventType": list(EVENT_TYPES),
        }
        response = await self.client.post(self.url, json=body, headers=self.headers)
        if response.status_code != 201:
            raise ValueError(f"the source answered {response.status_code}")
        made = response.json()
        if not isinstance(made, dict) or not isinstance(made.get("subscriptionID"), str):
            raise ValueError("the source's answer names no subscriptionID")
        return str(made["subscriptionID"])

    async def _still_there(self) -> bool:
        response = await self.client.get(f"{self.url}/{self.subscription_id}", headers=self.headers)
        if response.status_code == 404:
            logger.warning("the source no longer has the subscription: subscribing again")
            self.subscription_id = None
            return False
        return True  # any other answer: the source is busy, not forgetful

    # the callback ------------------------------------------------------------------------

    async def receive(self, request: Request) -> Response:
        """``POST /dcsa/notifications``: the source's signed events (module docstring)."""
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            return self._refuse(413, "the notification is too large")
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > self.max_body_bytes:
                    return self._refuse(413, "the notification is too large")
        except ClientDisconnect:
            return Response(status_code=400)
        if not verifies(self.secret, bytes(body), request.headers.get(SIGNATURE_HEADER)):
            return self._refuse(401, "the notification's signature does not verify")
        sent_for = request.headers.get("Subscription-ID")
        if sent_for is not None and self.subscription_id not in (None, sent_for):
            return self._refuse(401, "the notification is for another subscription")
        try:
            events = orjson.loads(body)
        except orjson.JSONDecodeError:
            return self._refuse(400, "the notification is not JSON")
        if not isinstance(events, list):
            return self._refuse(400, "the notification is not a list of events")
        self.received += 1
        self.notices.publish(notice_of(events))
        return Response(status_code=204)

    def _refuse(self, status: int, reason: str) -> Response:
        self.refused += 1
        logger.warning("refused a notification from the source: %s", reason)
        return Response(status_code=status)
