"""Event subscriptions of a simulated DCSA T&T 2.2 port, and the push of new events to them.

DCSA T&T 2.2 lets a subscriber register a callback (``POST /v2/event-subscriptions``) and have
the events that match its filters pushed there as they occur. This module is that part of the
simulated system, without its HTTP routes (:mod:`port_resolvers.sim.dcsa_api` serves them):

- :func:`parse_subscription` checks a body against ``subscriptionBodyWithSecret`` (on create) or
  ``subscription`` (on update): ``callbackUrl`` (required), ``secret`` (Base64, 16 to 1024
  bytes once decoded; on create only) and the spec's filters, lists as JSON arrays (OR within a
  list, AND between filters, as ``GET /v2/events`` applies them). Unknown keys and bad values
  raise :class:`SubscriptionError` (a 400).
- **Callbacks go to loopback only**: a ``callbackUrl`` whose scheme is not http or https, or
  whose host is not ``127.0.0.1``, ``::1`` or ``localhost``, is refused when the subscription is
  made or changed (:func:`check_callback_url`); this simulator never sends traffic elsewhere.
- :class:`EventSubscriptions` holds at most :data:`MAX_SUBSCRIPTIONS` per system (a 409 past
  them) and pushes: :meth:`EventSubscriptions.publish` (called by the T&T API with the events a
  recorded box made new) puts, for each subscription its filters match, one batch in that
  subscription's outbox. A task on the running event loop sends the batches of one outbox in
  order, each as one ``POST`` of a JSON array of events, with ``Notification-Signature:
  sha256=<hex HMAC-SHA256 of the body, keyed with the decoded secret>``, ``Subscription-ID``,
  ``API-Version: 2.2.0`` and ``Content-Type: application/json``. A batch that fails (no 2xx, or
  no answer) is tried :attr:`PushSettings.attempts` times in all, with
  :attr:`PushSettings.backoff` between tries, then dropped and logged; an outbox holds at most
  :attr:`PushSettings.outbox_limit` batches and drops its oldest, logged, when full.

Not pushed: the deprecated ``Signature`` header of the spec's callback (only
``Notification-Signature``). Subscriptions live in memory, as long as the system does.
"""

import asyncio
import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import logging
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from port_resolvers.sim.dcsa_query import (
    EQUIPMENT_CODES,
    EVENT_TYPES,
    TRANSPORT_CODES,
    BadQuery,
    EventQuery,
    IndexedEvent,
)

log = logging.getLogger(__name__)

API_VERSION = "2.2.0"
MAX_SUBSCRIPTIONS = 100  # per simulated system
DEFAULT_PAGE_SIZE = 100  # of the subscription list, as of GET /v2/events
MAX_BODY_BYTES = 64 * 1024  # of a request to the subscription endpoints
MAX_URL_LENGTH = 2048
SECRET_BYTES = (16, 1024)  # the least and most a decoded secret may hold
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
PUSH_TIMEOUT_SECONDS = 5.0
DELIVERY_ATTEMPTS = 4  # tries of one batch, the first included
OUTBOX_LIMIT = 100  # batches waiting for one subscription

# The filters of subscriptionBody (T&T 2.2): lists, with the values each may hold ...
SHIPMENT_CODES = frozenset({
    "RECE", "DRFT", "PENA", "PENU", "REJE", "APPR", "ISSU", "SURR", "SUBM", "VOID", "CONF",
    "REQS", "CMPL", "HOLD", "RELS",
})  # fmt: skip
DOCUMENT_TYPE_CODES = frozenset({
    "CBR", "BKG", "SHI", "SRM", "TRD", "ARN", "VGM", "CAS", "CUS", "DGD", "OOG",
})  # fmt: skip
LIST_FILTERS: dict[str, frozenset[str]] = {
    "eventType": EVENT_TYPES,
    "equipmentEventTypeCode": EQUIPMENT_CODES,
    "transportEventTypeCode": TRANSPORT_CODES,
    "shipmentEventTypeCode": SHIPMENT_CODES,
    "documentTypeCode": DOCUMENT_TYPE_CODES,
    "transportDocumentTypeCode": frozenset({"BOL", "SWB"}),  # deprecated; shipment events only
}
# ... and single values, with their maximum length (None: a UUID).
TEXT_FILTERS: dict[str, int | None] = {
    "equipmentReference": 15,
    "UNLocationCode": 5,
    "carrierBookingReference": 35,
    "bookingReference": 35,  # deprecated
    "transportDocumentReference": 20,
    "transportDocumentID": None,  # deprecated
    "transportCallID": 100,
    "vesselIMONumber": 7,
    "carrierServiceCode": 5,
    "exportVoyageNumber": 50,
    "carrierVoyageNumber": 50,  # deprecated
    "scheduleID": None,  # deprecated
}


class SubscriptionError(ValueError):
    """A request the subscription endpoints refuse; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def default_backoff(attempt: int) -> float:
    """Seconds to wait after the ``attempt``-th failed try of a batch: 0.2, 0.4, 0.8, ..."""
    return min(0.2 * 2.0 ** (attempt - 1), 5.0)


@dataclass(frozen=True, slots=True)
class PushSettings:
    """How a system pushes. ``client`` is the caller's to close; without one the system opens
    its own (``timeout=5``, no proxies from the environment, no redirects) on the first push
    and closes it in :meth:`EventSubscriptions.aclose`."""

    client: httpx.AsyncClient | None = None
    attempts: int = DELIVERY_ATTEMPTS
    backoff: Callable[[int], float] = default_backoff
    outbox_limit: int = OUTBOX_LIMIT

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.outbox_limit < 1:
            raise ValueError("attempts and outbox_limit are at least 1")


def check_callback_url(value: Any) -> str:
    """``value`` if it is an http(s) URL to this machine's loopback; else SubscriptionError.

    Both the standard library's parser and httpx's (what sends the push) must read the same
    loopback host, so no URL that one of them reads differently gets through."""
    if not isinstance(value, str) or not value:
        raise SubscriptionError("callbackUrl is a URL")
    if len(value) > MAX_URL_LENGTH:
        raise SubscriptionError(f"callbackUrl is at most {MAX_URL_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() or c == "\\" for c in value):
        raise SubscriptionError("callbackUrl holds whitespace, control characters or a backslash")
    try:
        split = urlsplit(value)
        split.port  # noqa: B018 - raises on a bad port
        url = httpx.URL(value)
    except (ValueError, httpx.InvalidURL) as exc:
        raise SubscriptionError("callbackUrl is not a valid URL") from exc
    if split.scheme.lower() not in ("http", "https") or url.scheme not in ("http", "https"):
        raise SubscriptionError("callbackUrl must be an http or https URL")
    if split.username is not None or split.password is not None or url.userinfo:
        raise SubscriptionError("callbackUrl must not carry user information")
    if split.hostname not in LOOPBACK_HOSTS or url.host not in LOOPBACK_HOSTS:
        raise SubscriptionError(
            "callbackUrl must be on loopback (127.0.0.1, [::1] or localhost): "
            "a simulated port pushes to this machine only"
        )
    return value


def parse_secret(value: Any) -> bytes:
    """The decoded bytes of a Base64 ``secret``; SubscriptionError when it is not one."""
    if not isinstance(value, str):
        raise SubscriptionError("secret is a Base64 string")
    try:
        secret = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SubscriptionError("secret is not valid Base64") from exc
    least, most = SECRET_BYTES
    if not least <= len(secret) <= most:
        raise SubscriptionError(f"secret must decode to {least} to {most} bytes")
    return secret


def _filter_value(name: str, value: Any) -> tuple[Any, str]:
    """The filter as given (for the subscription's answers) and as a query parameter."""
    if name in LIST_FILTERS:
        allowed = LIST_FILTERS[name]
        if not isinstance(value, list) or not value:
            raise SubscriptionError(f"{name} is a non-empty array")
        if not all(isinstance(v, str) and v in allowed for v in value):
            raise SubscriptionError(f"{name} values must be among {', '.join(sorted(allowed))}")
        return list(value), ",".join(value)
    if not isinstance(value, str) or not value:
        raise SubscriptionError(f"{name} is a non-empty string")
    most = TEXT_FILTERS[name]
    if most is None:
        try:
            uuid.UUID(value)
        except ValueError as exc:
            raise SubscriptionError(f"{name} is a UUID") from exc
    elif len(value) > most:
        raise SubscriptionError(f"{name} is at most {most} characters")
    return value, value


@dataclass(frozen=True, slots=True)
class SubscriptionRequest:
    """A checked subscription body: its callback, its filters as given, their query, and
    its secret when the body carried one."""

    callback_url: str
    filters: dict[str, Any]
    query: EventQuery
    secret: bytes | None


def parse_subscription(
    body: Any, *, with_secret: bool, subscription_id: str | None = None
) -> SubscriptionRequest:
    """Check a create (``with_secret``: ``subscriptionBodyWithSecret``) or update body
    (``subscription``: no secret; a ``subscriptionID`` in it must be ``subscription_id``)."""
    if not isinstance(body, dict):
        raise SubscriptionError("the body is a JSON object")
    body = dict(body)
    if "callbackUrl" not in body:
        raise SubscriptionError("callbackUrl is required")
    callback_url = check_callback_url(body.pop("callbackUrl"))
    secret = None
    if with_secret:
        if "secret" not in body:
            raise SubscriptionError("secret is required")
        secret = parse_secret(body.pop("secret"))
    elif "secret" in body:
        raise SubscriptionError(
            "secret is only valid when creating a subscription; "
            "change it with PUT /v2/event-subscriptions/{subscriptionID}/secret"
        )
    given_id = body.pop("subscriptionID", None) if subscription_id is not None else None
    if given_id is not None and given_id != subscription_id:
        raise SubscriptionError("subscriptionID in the body is not the one in the path")
    unknown = body.keys() - LIST_FILTERS.keys() - TEXT_FILTERS.keys()
    if unknown:
        raise SubscriptionError(f"unknown fields: {', '.join(sorted(unknown))}")
    filters, params = {}, {}
    for name, value in body.items():
        filters[name], params[name] = _filter_value(name, value)
    shipments_only = params.pop("transportDocumentTypeCode", None) is not None
    try:
        query = EventQuery.parse(params)
    except BadQuery as exc:
        raise SubscriptionError(str(exc)) from exc
    if shipments_only:  # like the other shipment filters: the port sends no shipment events
        query = dataclasses.replace(query, kinds=query.kinds & {"SHIPMENT"})
    return SubscriptionRequest(callback_url, filters, query, secret)


def notification_signature(secret: bytes, body: bytes) -> str:
    """The ``Notification-Signature`` of ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass(slots=True)
class Subscription:
    subscription_id: str
    callback_url: str
    secret: bytes
    filters: dict[str, Any]  # as the subscriber gave them
    query: EventQuery

    def body(self) -> dict[str, Any]:
        """The subscription as the API answers it (DCSA ``subscription``): never the secret."""
        return {
            "subscriptionID": self.subscription_id,
            "callbackUrl": self.callback_url,
            **self.filters,
        }


@dataclass(slots=True)
class _Outbox:
    """The batches (signed request bodies) waiting for one subscription, and its sender."""

    batches: deque[bytes] = field(default_factory=deque)
    sender: asyncio.Task[None] | None = None


def page_cursor(offset: int, limit: int) -> str:
    """An opaque cursor for the page of the subscription list at ``offset``."""
    raw = json.dumps({"offset": offset, "limit": limit}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def page_of(cursor: str) -> tuple[int, int]:
    """The (offset, limit) a :func:`page_cursor` carries; SubscriptionError for anything else."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset, limit = decoded["offset"], decoded["limit"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise SubscriptionError("cursor is not one this API issued") from exc
    if not (isinstance(offset, int) and isinstance(limit, int) and offset >= 0 and limit >= 1):
        raise SubscriptionError("cursor is not one this API issued")
    return offset, limit


class EventSubscriptions:
    """One system's subscriptions and their outboxes; see the module docstring.

    ``render`` gives an event's body as the system would serve it at that moment (its knobs
    applied)."""

    def __init__(
        self,
        render: Callable[[IndexedEvent], dict[str, Any]],
        settings: PushSettings | None = None,
        limit: int = MAX_SUBSCRIPTIONS,
    ) -> None:
        self.render = render
        self.settings = settings or PushSettings()
        self.limit = limit
        self._subscriptions: dict[str, Subscription] = {}
        self._outboxes: dict[str, _Outbox] = {}
        self._own_client: httpx.AsyncClient | None = None

    # the store ---------------------------------------------------------------------------

    def all(self) -> list[Subscription]:
        """Every subscription, oldest first."""
        return list(self._subscriptions.values())

    def get(self, subscription_id: str) -> Subscription:
        try:
            return self._subscriptions[subscription_id]
        except KeyError:
            raise SubscriptionError(f"no subscription {subscription_id!r}", 404) from None

    def create(self, body: Any) -> Subscription:
        request = parse_subscription(body, with_secret=True)
        if len(self._subscriptions) >= self.limit:
            raise SubscriptionError(f"this system holds at most {self.limit} subscriptions", 409)
        assert request.secret is not None
        subscription = Subscription(
            str(uuid.uuid4()),
            request.callback_url,
            request.secret,
            request.filters,
            request.query,
        )
        self._subscriptions[subscription.subscription_id] = subscription
        return subscription

    def update(self, subscription_id: str, body: Any) -> Subscription:
        """Replace the callback and the filters (not the secret)."""
        subscription = self.get(subscription_id)
        request = parse_subscription(body, with_secret=False, subscription_id=subscription_id)
        subscription.callback_url = request.callback_url
        subscription.filters = request.filters
        subscription.query = request.query
        return subscription

    def reset_secret(self, subscription_id: str, body: Any) -> None:
        subscription = self.get(subscription_id)
        if not isinstance(body, dict) or body.keys() != {"secret"}:
            raise SubscriptionError('the body is {"secret": "<Base64>"}')
        subscription.secret = parse_secret(body["secret"])

    def delete(self, subscription_id: str) -> None:
        """Forget the subscription; what is waiting in its outbox is not sent."""
        self.get(subscription_id)
        del self._subscriptions[subscription_id]
        outbox = self._outboxes.pop(subscription_id, None)
        if outbox is not None and outbox.sender is not None:
            outbox.sender.cancel()

    # the push ----------------------------------------------------------------------------

    def publish(self, events: Sequence[IndexedEvent]) -> None:
        """Queue ``events`` (new ones, in order) for every subscription whose filters match
        some of them: one batch each, of the events it matches. Called from within the running
        event loop; without one, nothing can be sent, and the batches are dropped (logged)."""
        rendered: dict[str, dict[str, Any]] = {}
        for subscription in self._subscriptions.values():
            matched = [e for e in events if subscription.query.matches(e)]
            if not matched:
                continue
            bodies = []
            for event in matched:
                event_id = event.body["eventID"]
                if event_id not in rendered:
                    rendered[event_id] = self.render(event)
                bodies.append(rendered[event_id])
            self._enqueue(subscription.subscription_id, orjson.dumps(bodies))

    def _enqueue(self, subscription_id: str, batch: bytes) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.warning("no running event loop: a push to %s is dropped", subscription_id)
            return
        outbox = self._outboxes.setdefault(subscription_id, _Outbox())
        if len(outbox.batches) >= self.settings.outbox_limit:
            outbox.batches.popleft()
            log.warning(
                "outbox of subscription %s is full: its oldest push is dropped", subscription_id
            )
        outbox.batches.append(batch)
        if outbox.sender is None or outbox.sender.done():
            outbox.sender = loop.create_task(self._send_outbox(subscription_id, outbox))

    async def _send_outbox(self, subscription_id: str, outbox: _Outbox) -> None:
        """Send the outbox's batches one after the other until it is empty."""
        while outbox.batches and self._outboxes.get(subscription_id) is outbox:
            try:
                await self._send(subscription_id, outbox.batches.popleft())
            except Exception:  # a bug, not a failed push: the next batch still goes
                log.exception("push to subscription %s failed", subscription_id)

    def _client(self) -> httpx.AsyncClient:
        if self.settings.client is not None:
            return self.settings.client
        if self._own_client is None:
            self._own_client = httpx.AsyncClient(
                timeout=PUSH_TIMEOUT_SECONDS, trust_env=False, follow_redirects=False
            )
        return self._own_client

    async def _send(self, subscription_id: str, batch: bytes) -> None:
        """POST one batch, tried ``attempts`` times; dropped (logged) when none succeeds."""
        failure = ""
        for attempt in range(1, self.settings.attempts + 1):
            subscription = self._subscriptions.get(subscription_id)
            if subscription is None:  # deleted meanwhile
                return
            # The callback and secret are read at each try: a PUT in between takes effect.
            headers = {
                "Content-Type": "application/json",
                "API-Version": API_VERSION,
                "Subscription-ID": subscription_id,
                "Notification-Signature": notification_signature(subscription.secret, batch),
            }
            try:
                response = await self._client().post(
                    subscription.callback_url, content=batch, headers=headers
                )
            except httpx.HTTPError as exc:
                failure = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return
                failure = f"HTTP {response.status_code}"
            if attempt < self.settings.attempts:
                await asyncio.sleep(self.settings.backoff(attempt))
        log.warning(
            "push to subscription %s dropped after %d attempts (last: %s)",
            subscription_id,
            self.settings.attempts,
            failure,
        )

    async def aclose(self) -> None:
        """Stop sending (what waits is dropped) and close the client this system opened.
        The subscriptions stay: a system served again pushes to them again."""
        senders = [o.sender for o in self._outboxes.values() if o.sender is not None]
        self._outboxes.clear()
        for sender in senders:
            sender.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        if self._own_client is not None:
            client, self._own_client = self._own_client, None
            await client.aclose()
