"""DCSA Track & Trace 2.2 event subscriptions over every port: ``/dcsa/tnt/v2/event-subscriptions``
(docs/dcsa-clients.md).

A DCSA client registers a ``callbackUrl`` and a Base64 ``secret`` with filters; every new event
that matches is POSTed to the callback as a JSON list, signed (``Notification-Signature:
sha256=<hex>``, HMAC-SHA256 of the exact body with the secret), with ``Subscription-ID`` and
``API-Version``. Nothing is stored but the subscription itself, in this process's memory:

- **Delivered from the gateway's own subscriptions** (:mod:`gateway.query.live`). A DCSA
  subscription becomes ``containerUpdates`` of its ``equipmentReference`` (equipment events)
  and ``vesselCallUpdates`` of its ``UNLocationCode`` or every port (transport events), opened
  with its owner's principal: the same feeds, the same polling or change notices, the same
  policy (a withheld field is left out of the event) as any subscriber's. Each change is
  mapped to DCSA events (:mod:`gateway.edge.dcsa_events`); those that match the filters and
  were not sent before are delivered. What is there when the subscription is made is not sent:
  a subscription tells of events as they occur.
- **Callbacks only where the egress rules allow** (``dcsa.callback_egress``; by default https
  to public addresses): judged when the subscription is made or changed, names resolved, and
  again at every delivery on the resolved address, redirects never followed.
- **Bounded.** ``max_subscriptions_per_client`` and ``max_subscriptions``; a delivery is tried
  ``delivery_attempts`` times, each within ``delivery_timeout``, then dropped; at most
  ``OUTBOX_LIMIT`` deliveries wait per subscription (the oldest dropped past it). What was
  sent is remembered per item (a box, a call) as a set of hashes of its events, for at most
  ``ITEMS_LIMIT`` items per subscription (the longest unchanged forgotten first; an item
  forgotten and changed again has its events sent again rather than lost).
- **Owned.** A subscription is seen, changed and deleted only by the client that made it;
  another's is a 404. Its credential is checked again before each delivery: a revoked key
  ends it (one audit record per subscription, when it ends, with the deliveries made).
"""

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.access.auth import Authenticator, Principal
from gateway.edge.authenticate import credential_headers
from gateway.edge.dcsa_events import (
    CONTAINER_FIELDS,
    VESSEL_CALL_FIELDS,
    equipment_events,
    transport_events,
)
from gateway.edge.dcsa_query import (
    LIST_FILTERS,
    TEXT_FILTERS,
    DcsaError,
    Filters,
    code_list,
    matches,
    page_headers,
    text_filter,
)
from gateway.edge.dcsa_tnt import API_VERSION, PREFIX, DcsaTrackAndTrace
from gateway.edge.subscribing import audit_subscription, still_allowed
from gateway.errors import GatewayError, PortFailure
from gateway.ports.egress import EgressRules, Resolver
from gateway.ports.port_http import PortHttp
from gateway.query.execute import GatewaySchema
from gateway.query.live import LiveQueries, Subscriber
from gateway.query.observe import OperationObserver

log = logging.getLogger(__name__)

PATH: Final = f"{PREFIX}/v2/event-subscriptions"
OUTBOX_LIMIT: Final = 100
ITEMS_LIMIT: Final = 5_000  # boxes or calls whose sent events a subscription remembers
MAX_BODY_BYTES: Final = 64 * 1024
CALL_WINDOW_HOURS: Final = 336  # transport events of calls up to two weeks ahead
_BODY_FILTERS: Final = frozenset({*TEXT_FILTERS, *LIST_FILTERS}) - {"documentTypeCode"}
_DOCUMENT_FILTERS: Final = frozenset(
    {"documentTypeCode", "transportDocumentReference", "carrierBookingReference",
     "shipmentEventTypeCode"}
)  # fmt: skip

Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class DcsaSubscription:
    """One DCSA client's subscription, in memory."""

    id: str
    principal: Principal
    headers: dict[str, str]  # the credential it was made with, asked again before deliveries
    callback_url: str
    secret: bytes
    filters: Filters
    body: dict[str, Any]  # as DCSA shows it: the filters and the callback, never the secret
    started: float = field(default_factory=time.perf_counter)
    delivered: int = 0
    # What was sent of each item (by the hash of its port and box or call): the hashes of its
    # events' (eventID, eventDateTime), packed eight bytes each (about 0.2 KB for a call).
    known: "OrderedDict[int, bytes]" = field(default_factory=OrderedDict)
    outbox: deque[bytes] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    watching: int = 0  # the watches that have taken their first answer (what is there already)
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # every watch has
    tasks: list["asyncio.Task[None]"] = field(default_factory=list)
    subscribers: list[Subscriber] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {"subscriptionID": self.id, **self.body}


class DcsaSubscriptions:
    """The facade's event subscriptions (module docstring)."""

    def __init__(
        self,
        facade: DcsaTrackAndTrace,
        *,
        schema: GatewaySchema,
        live: LiveQueries,
        authenticator: Authenticator,
        sender: PortHttp,
        rules: EgressRules,
        resolver: Resolver,
        observer: OperationObserver | None = None,
        max_per_client: int = 20,
        max_total: int = 200,
        attempts: int = 3,
        timeout: float = 5.0,
        backoff: float = 1.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.facade = facade
        self.schema = schema
        self.live = live
        self.authenticator = authenticator
        self.sender = sender
        self.rules = rules
        self.resolver = resolver
        self.observer = observer
        self.max_per_client = max_per_client
        self.max_total = max_total
        self.attempts = attempts
        self.timeout = timeout
        self.backoff = backoff
        self.sleep = sleep
        self.subscriptions: dict[str, DcsaSubscription] = {}

    def routes(self) -> list[BaseRoute]:
        return [
            Route(PATH, self.create, methods=["POST"]),
            Route(PATH, self.list_all, methods=["GET"]),
            Route(f"{PATH}/{{subscriptionID}}", self.one, methods=["GET", "PUT", "DELETE"]),
            Route(f"{PATH}/{{subscriptionID}}/secret", self.new_secret, methods=["PUT"]),
        ]

    # the endpoints -----------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        try:
            principal = await self._admit(request)
            body = await _json_body(request)
            subscription = await self._parsed(body, principal, request, with_secret=True)
            owned = sum(s.principal.client_id == principal.client_id
                        for s in self.subscriptions.values())  # fmt: skip
            if owned >= self.max_per_client:
                many = f"at most {self.max_per_client} subscriptions for one client"
                raise DcsaError(429, "tooManySubscriptions", many)
            if len(self.subscriptions) >= self.max_total:
                many = f"this gateway holds {self.max_total} subscriptions"
                raise DcsaError(429, "tooManySubscriptions", many)
            self._start(subscription)
            return self.facade.json(201, subscription.public(), {})
        except DcsaError as exc:
            return self.facade.error(request, exc)

    async def list_all(self, request: Request) -> Response:
        """The caller's subscriptions, oldest first, paged as the spec pages lists: ``limit``,
        and ``cursor`` from a ``*-Page`` header (sent alone)."""
        try:
            principal = await self._admit(request)
            params = request.query_params
            unknown = set(params) - {"limit", "cursor"}
            if unknown:
                raise DcsaError(400, "invalidParameter",
                                f"unknown query parameter {sorted(unknown)[0]}")  # fmt: skip
            if "cursor" in params:
                if "limit" in params:
                    raise DcsaError(400, "invalidParameter", "a cursor carries the limit: "
                                    "send it alone")  # fmt: skip
                offset, limit = _page_of(params["cursor"])
            else:
                offset, limit = 0, _limit(params.get("limit", "100"))
            own = [s.public() for s in self.subscriptions.values()
                   if s.principal.client_id == principal.client_id]  # fmt: skip

            def link(at: int) -> str:
                return str(request.url.replace(query=f"cursor={_page_cursor(at, limit)}"))

            headers = page_headers(link, offset, limit, len(own))
            return self.facade.json(200, own[offset : offset + limit], headers)
        except DcsaError as exc:
            return self.facade.error(request, exc)

    async def one(self, request: Request) -> Response:
        try:
            principal = await self._admit(request)
            subscription = self._owned(request, principal)
            if request.method == "GET":
                return self.facade.json(200, subscription.public(), {})
            if request.method == "DELETE":
                await self._end(subscription, [])
                return Response(status_code=204, headers={"API-Version": API_VERSION})
            body = await _json_body(request)
            if body.get("subscriptionID", subscription.id) != subscription.id:
                raise DcsaError(400, "invalidBody", "subscriptionID differs from the path's")
            changed = await self._parsed(
                body, principal, request, with_secret=False, secret=subscription.secret,
                id=subscription.id,
            )  # fmt: skip
            await self._end(subscription, [], audited=False)
            changed.known = subscription.known  # what was sent is not sent again
            changed.started = subscription.started
            changed.delivered = subscription.delivered
            self._start(changed)
            return self.facade.json(200, changed.public(), {})
        except DcsaError as exc:
            return self.facade.error(request, exc)

    async def new_secret(self, request: Request) -> Response:
        try:
            principal = await self._admit(request)
            subscription = self._owned(request, principal)
            body = await _json_body(request)
            if set(body) != {"secret"}:
                raise DcsaError(400, "invalidBody", 'the body is {"secret": <Base64>} alone')
            subscription.secret = _secret(body["secret"])
            return Response(status_code=204, headers={"API-Version": API_VERSION})
        except DcsaError as exc:
            return self.facade.error(request, exc)

    async def close(self) -> None:
        """End every subscription (at shutdown)."""
        for subscription in list(self.subscriptions.values()):
            await self._end(subscription, [])

    # parts -------------------------------------------------------------------------------

    async def _admit(self, request: Request) -> Principal:
        await self.facade.admit(request)
        principal: Principal = request.state.principal
        if principal.method == "anonymous":
            raise DcsaError(401, "unauthenticated", "a subscription needs a credential")
        return principal

    def _owned(self, request: Request, principal: Principal) -> DcsaSubscription:
        wanted = request.path_params["subscriptionID"]
        found = self.subscriptions.get(wanted)
        if found is None or found.principal.client_id != principal.client_id:
            raise DcsaError(404, "notFound", f"no subscription {wanted}")
        return found

    async def _parsed(
        self,
        body: dict[str, Any],
        principal: Principal,
        request: Request,
        *,
        with_secret: bool,
        secret: bytes | None = None,
        id: str | None = None,
    ) -> DcsaSubscription:
        allowed = {"callbackUrl", *_BODY_FILTERS, *_DOCUMENT_FILTERS}
        allowed |= {"secret"} if with_secret else {"subscriptionID"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise DcsaError(400, "invalidBody", f"unknown or misplaced field {unknown[0]}")
        callback = body.get("callbackUrl")
        if not isinstance(callback, str) or not callback:
            raise DcsaError(400, "invalidBody", "callbackUrl is required")
        reason = await self.rules.admit(callback, self.resolver)
        if reason is not None:
            raise DcsaError(400, "invalidBody", f"callbackUrl is refused: {reason}")
        if with_secret:
            if "secret" not in body:
                raise DcsaError(400, "invalidBody", "secret is required")
            secret = _secret(body["secret"])
        assert secret is not None
        filters = Filters()
        for name, value in body.items():
            if name in TEXT_FILTERS:
                if not isinstance(value, str):
                    raise DcsaError(400, "invalidBody", f"{name} is a string")
                filters.text[name] = text_filter(name, value)
            elif name in LIST_FILTERS:
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise DcsaError(400, "invalidBody", f"{name} is a list of codes")
                filters.lists[name] = code_list(name, ",".join(value), LIST_FILTERS[name])
        types = filters.types()
        if "EQUIPMENT" in types and "equipmentReference" not in filters.text:
            types.discard("EQUIPMENT")
            if filters.lists.get("eventType") == ["EQUIPMENT"] or "equipmentEventTypeCode" in (
                filters.lists
            ):
                raise DcsaError(400, "invalidBody", "a subscription to equipment events needs "
                                "an equipmentReference")  # fmt: skip
        if not types & {"EQUIPMENT", "TRANSPORT"}:
            raise DcsaError(400, "invalidBody", "these filters match no event the ports publish: "
                            "equipment events need an equipmentReference; no shipment events "
                            "are published")  # fmt: skip
        public = {k: v for k, v in body.items() if k not in ("secret", "subscriptionID")}
        headers = credential_headers(request.scope["headers"])
        return DcsaSubscription(id or str(uuid.uuid4()), principal, headers, callback, secret,
                                filters, public)  # fmt: skip

    def _watches(self, subscription: DcsaSubscription) -> list[tuple[str, str, dict[str, Any]]]:
        """The GraphQL subscriptions that tell of the events it asks for."""
        filters = subscription.filters
        types = filters.types()
        port = filters.text.get("UNLocationCode")
        ports = [port] if port else None
        watches = []
        if "EQUIPMENT" in types and "equipmentReference" in filters.text:
            watches.append((
                "containerUpdates",
                "subscription DcsaEquipment($refs: [String!]!, $ports: [String!]) { "
                f"containerUpdates(references: $refs, ports: $ports) {{ {CONTAINER_FIELDS} }} }}",
                {"refs": [filters.text["equipmentReference"]], "ports": ports},
            ))  # fmt: skip
        if "TRANSPORT" in types:
            watches.append((
                "vesselCallUpdates",
                "subscription DcsaTransport($ports: [String!]) { vesselCallUpdates(ports: "
                f"$ports, window: {CALL_WINDOW_HOURS}) {{ {VESSEL_CALL_FIELDS} }} }}",
                {"ports": ports},
            ))  # fmt: skip
        return watches

    def _start(self, subscription: DcsaSubscription) -> None:
        for field_name, query, variables in self._watches(subscription):
            prepared = self.schema.prepared_subscription(query, None, variables)
            if isinstance(prepared, list):  # our own document: a fault, never the client's
                raise DcsaError(500, "internalError", "the subscription could not be made")
            try:
                subscriber = self.live.open(
                    prepared.document, None, prepared.variables, subscription.principal,
                    still_allowed(self.authenticator, subscription.headers, subscription.principal),
                    arguments=prepared.arguments,
                    holder=f"client:{subscription.principal.client_id}",
                )  # fmt: skip
            except GatewayError as exc:
                for opened in subscription.subscribers:
                    opened.close()
                raise DcsaError(429, "tooManySubscriptions", exc.message) from None
            subscription.subscribers.append(subscriber)
            subscription.tasks.append(asyncio.create_task(
                self._watch(subscription, subscriber, field_name),
                name=f"dcsa subscription {subscription.id}",
            ))  # fmt: skip
        subscription.tasks.append(asyncio.create_task(self._send(subscription)))
        self.subscriptions[subscription.id] = subscription

    async def _end(
        self, subscription: DcsaSubscription, errors: list[Any], *, audited: bool = True
    ) -> None:
        if self.subscriptions.get(subscription.id) is subscription:
            del self.subscriptions[subscription.id]
        for subscriber in subscription.subscribers:
            subscriber.close()
        current = asyncio.current_task()
        for task in subscription.tasks:
            if task is not current:
                task.cancel()
        for task in subscription.tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if audited:
            await audit_subscription(
                self.observer, self.schema,
                query="\n".join(q for _, q, _ in self._watches(subscription)), name=None,
                variables={"subscriptionID": subscription.id},
                principal=subscription.principal, started=subscription.started,
                errors=errors, messages=subscription.delivered,
            )  # fmt: skip

    async def _watch(
        self, subscription: DcsaSubscription, subscriber: Subscriber, field_name: str
    ) -> None:
        first = True
        while (message := await subscriber.take()) is not None:
            if "data" not in message:  # ended: its credential is no longer accepted
                await self._end(subscription, message.get("errors", []))
                return
            items = message["data"].get(field_name) or []
            fresh = []
            for item in items if isinstance(items, list) else []:
                equipment = field_name == "containerUpdates"
                mapped = equipment_events(item) if equipment else transport_events(item)
                events = [e for e in mapped.events if matches(e, subscription.filters)]
                hashes = {hash((e.event_id, str(e.body.get("eventDateTime")))): e for e in events}
                key = hash((item.get("sourcePort") if equipment else item.get("UNLocationCode"),
                            item.get("equipmentReference" if equipment
                                     else "transportCallReference")))  # fmt: skip
                sent = _unpacked(subscription.known.pop(key, b""))
                fresh += [e for h, e in hashes.items() if h not in sent]
                subscription.known[key] = _packed(hashes)
                if len(subscription.known) > ITEMS_LIMIT:
                    subscription.known.popitem(last=False)
            if first:
                subscription.watching += 1
                if subscription.watching == len(subscription.subscribers):
                    subscription.ready.set()
            if fresh and not first:  # what is there when it is made is not news
                fresh.sort(key=lambda e: e.key())
                subscription.outbox.append(orjson.dumps([e.body for e in fresh]))
                if len(subscription.outbox) > OUTBOX_LIMIT:
                    subscription.outbox.popleft()
                    log.warning("subscription %s: a delivery dropped, the callback lags",
                                subscription.id)  # fmt: skip
                subscription.wake.set()
            first = False

    async def _send(self, subscription: DcsaSubscription) -> None:
        while True:
            await subscription.wake.wait()
            subscription.wake.clear()
            while subscription.outbox:
                body = subscription.outbox.popleft()
                if await self._deliver(subscription, body):
                    subscription.delivered += 1

    async def _deliver(self, subscription: DcsaSubscription, body: bytes) -> bool:
        for attempt in range(self.attempts):
            if not await still_allowed(self.authenticator, subscription.headers,
                                       subscription.principal)():  # fmt: skip
                return False
            headers = {
                "content-type": "application/json",
                "API-Version": API_VERSION,
                "Subscription-ID": subscription.id,
                "Notification-Signature": signature_of(subscription.secret, body),
            }
            try:
                answer = await self.sender.post(
                    f"callback {subscription.id}", subscription.callback_url, body, headers,
                    timeout=self.timeout, max_bytes=64 * 1024,
                )  # fmt: skip
            except PortFailure as exc:
                log.info("subscription %s: delivery failed: %s", subscription.id, exc.message)
            else:
                if 200 <= answer.status < 300:
                    return True
                log.info("subscription %s: the callback answered %d", subscription.id,
                         answer.status)  # fmt: skip
            if attempt + 1 < self.attempts:
                await self.sleep(self.backoff * 2**attempt)
        log.warning("subscription %s: a delivery dropped after %d attempts", subscription.id,
                    self.attempts)  # fmt: skip
        return False


def _limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 1000:
        raise DcsaError(400, "invalidParameter", "limit must be an integer from 1 to 1000")
    return int(value)


def _page_cursor(offset: int, limit: int) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{limit}".encode()).decode().rstrip("=")


def _page_of(cursor: str) -> tuple[int, int]:
    """A list's page from its cursor: it names a page of the caller's own list, nothing more."""
    try:
        offset, _, limit = (
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            .decode("ascii")
            .partition(":")
        )
        if offset.isdigit() and len(offset) < 10:
            return int(offset), _limit(limit)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise DcsaError(400, "invalidCursor", "the cursor is not one this publisher gave out")


def _packed(hashes: Iterable[int]) -> bytes:
    return b"".join(h.to_bytes(8, "little", signed=True) for h in sorted(hashes))


def _unpacked(packed: bytes) -> set[int]:
    return {int.from_bytes(packed[i : i + 8], "little", signed=True)
            for i in range(0, len(packed), 8)}  # fmt: skip


def _secret(value: Any) -> bytes:
    try:
        secret = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (binascii.Error, ValueError):
        secret = b""
    if not 16 <= len(secret) <= 1024:
        raise DcsaError(400, "invalidBody", "secret is Base64 of 16 to 1024 bytes")
    return secret


async def _json_body(request: Request) -> dict[str, Any]:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise DcsaError(413, "tooLarge", f"a body is at most {MAX_BODY_BYTES} bytes")
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise DcsaError(400, "invalidBody", "the body is not JSON") from None
    if not isinstance(parsed, dict):
        raise DcsaError(400, "invalidBody", "the body is a JSON object")
    return parsed


def signature_of(secret: bytes, body: bytes) -> str:
    """``Notification-Signature`` of ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
