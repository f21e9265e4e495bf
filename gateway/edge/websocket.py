"""Subscriptions over WebSocket: the graphql-transport-ws protocol at ``/graphql``.

The protocol of the graphql-ws project (subprotocol ``graphql-transport-ws``), for clients that
subscribe over WebSocket rather than GraphQL over SSE (:mod:`gateway.edge.streams`); both answer
the same subscriptions, from the same :class:`~gateway.query.live.LiveQueries`, with the same
checks. A WebSocket anywhere but ``/graphql`` is refused (HTTP 403 to the upgrade), and so is
one to ``/graphql`` that does not offer the subprotocol (accepted, then closed with 4406).

Before an upgrade is accepted (each refusal an HTTP response, with a JSON body where the server
lets the app send one, uvicorn's does; a bare 403 otherwise):

- its ``Origin``, when it has one, must be the gateway's own or one CORS allows
  (:func:`gateway.edge.csrf.foreign_origin`): else 403 ``ORIGIN_NOT_ALLOWED``, whatever
  credential it carries;
- there must be room: sockets are bounded per client address and per gateway (else 403);
- it counts against the client's rate as an HTTP request does (:class:`ClientRate`): against
  the client id of the credential in its headers, else against its address; past the rate,
  429 ``RATE_LIMITED`` with ``Retry-After``.

A connection:

- ``connection_init`` must come within :data:`INIT_TIMEOUT` seconds (else close 4408), once
  (a second one: 4429). Its credential is taken from its payload (``x-api-key`` or
  ``Authorization``, names in any case), else from the upgrade request's headers, and
  authenticated as an HTTP request's is: no credential is the anonymous principal where
  anonymous use is allowed; a credential refused (or none where one is required, or two) closes
  the connection with 4403. Then ``connection_ack``.
- ``subscribe`` before the ack closes with 4401; with an ``id`` already running, 4409. Its
  document is resolved like any other (trusted documents, automatic persisted queries), parsed
  and validated with every limit. Several subscriptions may run on one connection, each a task
  taking from its :class:`~gateway.query.live.Subscriber`, within the subscription limits per
  client and per gateway. Each ``subscribe`` counts against the connection's client's rate
  (its client id, else its address); past it, that subscription is an ``error``
  (``RATE_LIMITED``) and the connection goes on.
- A subscription refused before its first message (a bad document, one too many, a field the
  policy refuses in its ``reject`` mode, a credential no longer accepted) is an ``error``
  message with the errors, and nothing more for that ``id``. Each message is a ``next``; one
  that ends with errors once it has begun (a credential revoked since, a failed feed) sends them
  in a last ``next`` (an execution result with errors, as the graphql-ws server does), then
  ``complete``. The client's ``complete`` ends that subscription, without a reply.
- ``ping`` is answered with ``pong``; the server sends ``ping`` when it has sent nothing for
  ``heartbeat`` seconds. The credential is checked again before every message and every
  ``heartbeat`` seconds of quiet.
- A message that is not one of the protocol's, or larger than ``max_message_bytes`` (the
  server's body limit), closes with 4400.

When the connection closes every subscription on it ends, and each is audited once, as over SSE.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.access.auth import API_KEY_HEADER, Authenticator, Principal
from gateway.access.documents import DocumentResolver
from gateway.edge.authenticate import AMBIGUOUS, credential_headers
from gateway.edge.counts import EdgeCounts
from gateway.edge.csrf import foreign_origin
from gateway.edge.rate_limit import ClientRate, key_of
from gateway.edge.responses import error_response
from gateway.edge.subscribing import audit_subscription, coded_error, holder, still_allowed
from gateway.errors import AmbiguousCredentials, GatewayError, OriginNotAllowed, Unauthenticated
from gateway.query.execute import GatewaySchema
from gateway.query.live import LiveQueries, Subscriber, SubscriptionFailed, TooManySubscriptions
from gateway.query.observe import OperationObserver

log = logging.getLogger(__name__)

SUBPROTOCOL: Final = "graphql-transport-ws"
INIT_TIMEOUT: Final = 3.0  # seconds for connection_init to arrive (graphql-ws's default)

BAD_MESSAGE: Final = 4400
UNAUTHORIZED: Final = 4401
FORBIDDEN: Final = 4403
SUBPROTOCOL_NOT_ACCEPTABLE: Final = 4406
INIT_TIMED_OUT: Final = 4408
ALREADY_SUBSCRIBED: Final = 4409
TOO_MANY_INITS: Final = 4429
MAX_REASON_BYTES: Final = 123  # a close frame's reason, at most

_CREDENTIALS = (API_KEY_HEADER, "authorization")


class _Close(Exception):
    """End the connection with a close code and its reason."""

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


class _Gone(Exception):
    """The client went away."""


class GraphQLWebSockets:
    """The ASGI app for every WebSocket the gateway is asked: graphql-transport-ws at ``path``,
    a refusal anywhere else. ``init_timeout`` is how long ``connection_init`` may take; ``rate``
    is the HTTP edge's (None: no rate limit); ``allow_origins`` are the origins CORS allows."""

    def __init__(
        self,
        *,
        schema: GatewaySchema,
        live: LiveQueries,
        authenticator: Authenticator,
        documents: DocumentResolver | None,
        observer: OperationObserver | None,
        heartbeat: float,
        max_message_bytes: int,
        max_connections: int = 10_000,
        max_per_address: int = 20,
        init_timeout: float = INIT_TIMEOUT,
        path: str = "/graphql",
        rate: ClientRate | None = None,
        allow_origins: Collection[str] = (),
        counts: EdgeCounts | None = None,
    ) -> None:
        self.schema = schema
        self.live = live
        self.authenticator = authenticator
        self.documents = documents
        self.observer = observer
        self.heartbeat = heartbeat
        self.max_message_bytes = max_message_bytes
        self.init_timeout = init_timeout
        self.path = path
        self.max_connections = max_connections
        self.max_per_address = max_per_address
        self.rate = rate
        self.allow_origins = frozenset(allow_origins)
        self.counts = counts or EdgeCounts()
        self.connections = 0
        self._by_address: dict[str, int] = {}
        self._idle = asyncio.Condition()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("GraphQLWebSockets answers WebSockets only")
        if scope["path"] != self.path:
            await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
            return
        if (await receive())["type"] != "websocket.connect":
            return
        # A page of another site may not open a socket with its visitor's credentials: checked
        # first, so that no credential it carries is even looked at.
        origin = foreign_origin(scope["headers"], self.allow_origins)
        if origin is not None:
            self.counts.refused["cross_origin"] += 1
            log.info("403 WebSocket upgrade from the origin %r", origin[:100])
            message = f"a WebSocket from the origin {origin[:100]!r} is not allowed"
            await _refuse_upgrade(scope, receive, send, OriginNotAllowed(message), 403, 1008)
            return
        # Open sockets are bounded like the subscriptions on them: per client address (the
        # one the edge found, behind trusted proxies) and per gateway; past either the upgrade
        # is refused (HTTP 403) before anything is read. Asked before the rate (a refused
        # upgrade is not counted against it) and again after it (others may have come in).
        address = str((scope.get("client") or ("",))[0])
        if not self._room(address):
            await send({"type": "websocket.close", "code": 1013})
            return
        if self.rate is not None:
            principal = await self._upgrade_principal(scope)
            key = key_of(principal, scope.get("client"), self.rate.ipv6_prefix)
            refused = await self.rate.take(*key)
            if refused is not None:
                await _refuse_upgrade(scope, receive, send, refused, 429, 1013)
                return
            if not self._room(address):
                await send({"type": "websocket.close", "code": 1013})
                return
        self.connections += 1
        self._by_address[address] = self._by_address.get(address, 0) + 1
        try:
            await _Connection(self, scope, receive, send).serve()
        finally:
            self.connections -= 1
            left = self._by_address[address] - 1
            if left:
                self._by_address[address] = left
            else:
                del self._by_address[address]
            async with self._idle:
                self._idle.notify_all()

    def _room(self, address: str) -> bool:
        """Whether one more socket fits, from ``address`` and in the gateway."""
        held = self._by_address.get(address, 0)
        return self.connections < self.max_connections and held < self.max_per_address

    async def _upgrade_principal(self, scope: Scope) -> Principal | None:
        """Whom the credential in the upgrade's own headers stands for, for its rate: None
        without one, or for one refused (``connection_init`` answers that, or brings its own)."""
        try:
            headers = credential_headers(scope["headers"])
            return await self.authenticator.authenticate(headers) if headers else None
        except GatewayError:
            return None

    async def drained(self) -> None:
        """Return once no connection is open, each one's subscriptions ended and audited."""
        async with self._idle:
            await self._idle.wait_for(lambda: self.connections == 0)


class WebSocketsFirst:
    """ASGI middleware: every WebSocket goes to ``websockets``, everything else to ``app``."""

    def __init__(self, app: ASGIApp, *, websockets: ASGIApp) -> None:
        self.app = app
        self.websockets = websockets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.websockets(scope, receive, send)
        else:
            await self.app(scope, receive, send)


@dataclass(slots=True)
class _Subscription:
    """One running subscription of a connection."""

    id: str
    subscriber: Subscriber
    completed_by_client: bool = False


@dataclass(frozen=True, slots=True)
class _Audit:
    """What a subscription's audit record says of it, besides how it ended."""

    query: str
    name: str | None
    variables: dict[str, Any] | None
    principal: Principal
    started: float


class _Connection:
    """One WebSocket: the protocol's state, its subscriptions, one sender at a time."""

    def __init__(self, ws: GraphQLWebSockets, scope: Scope, receive: Receive, send: Send) -> None:
        self.ws = ws
        self.scope = scope
        self._receive = receive
        self._send = send
        self._sending = asyncio.Lock()
        self._sent = asyncio.Event()  # something went out since the last heartbeat check
        self.open = False
        self.principal: Principal | None = None
        self.headers: dict[str, str] = {}
        self.subscriptions: dict[str, _Subscription] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def serve(self) -> None:
        if SUBPROTOCOL not in self.scope.get("subprotocols", ()):
            await self._send({"type": "websocket.accept"})
            self.open = True
            await self._close(SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable")
            return
        await self._send({"type": "websocket.accept", "subprotocol": SUBPROTOCOL})
        self.open = True
        heartbeat: asyncio.Task[None] | None = None
        try:
            try:
                await self._initialise()
                heartbeat = asyncio.create_task(self._heartbeat())
                while True:
                    await self._handle(await self._message())
            except _Close as close:
                await self._close(close.code, close.reason)
            except _Gone:
                self.open = False
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
            for subscription in list(self.subscriptions.values()):
                _stop(subscription.subscriber)
            self.subscriptions.clear()
            if self.tasks:  # each ends at once (its subscriber closed) and writes its audit
                await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _initialise(self) -> None:
        """Wait for ``connection_init`` (pings are answered meanwhile), authenticate, ack."""
        try:
            async with asyncio.timeout(self.ws.init_timeout):
                while True:
                    message = await self._message()
                    kind = message["type"]
                    if kind == "connection_init":
                        break
                    if kind == "subscribe":
                        raise _Close(UNAUTHORIZED, "Unauthorized")
                    if kind in ("ping", "pong"):
                        await self._handle(message)
                        continue
                    raise _Close(BAD_MESSAGE, f"Unexpected message of type {kind} before init")
        except TimeoutError:
            raise _Close(INIT_TIMED_OUT, "Connection initialisation timeout") from None
        payload = message.get("payload")
        if not isinstance(payload, dict | None):
            raise _Close(BAD_MESSAGE, "The connection_init payload must be an object")
        try:
            self.headers = self._credential(payload or {})
            self.principal = await self.ws.authenticator.authenticate(self.headers)
        except GatewayError as exc:
            raise _Close(FORBIDDEN, f"Forbidden: {exc.message}") from None
        await self._emit({"type": "connection_ack"})

    def _credential(self, payload: Mapping[str, Any]) -> dict[str, str]:
        """The credential in ``payload``, else in the upgrade request's headers (names in lower
        case, as the authenticator takes them)."""
        found: dict[str, str] = {}
        for key, value in payload.items():
            name = key.lower()
            if name not in _CREDENTIALS:
                continue
            if found:
                raise AmbiguousCredentials(AMBIGUOUS)
            if not isinstance(value, str):
                raise Unauthenticated(f"the credential {key} must be a string")
            found[name] = value
        return found or credential_headers(self.scope["headers"])

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "ping":
            pong: dict[str, Any] = {"type": "pong"}
            if message.get("payload") is not None:
                pong["payload"] = message["payload"]
            await self._emit(pong)
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            await self._subscribe(message)
        elif kind == "complete":
            self._completed(_id(message))
        elif kind == "connection_init":
            raise _Close(TOO_MANY_INITS, "Too many initialisation requests")
        else:
            raise _Close(BAD_MESSAGE, f"Unexpected message of type {kind}")

    async def _subscribe(self, message: dict[str, Any]) -> None:
        id = _id(message)
        if id in self.subscriptions:
            raise _Close(ALREADY_SUBSCRIBED, f"Subscriber for {id} already exists")
        payload = message.get("payload")
        if not isinstance(payload, dict):
            raise _Close(BAD_MESSAGE, "A subscribe message needs a payload object")
        query = payload.get("query")
        variables = payload.get("variables")
        name = payload.get("operationName") or None
        extensions = payload.get("extensions")
        if not (
            isinstance(query, str | None)
            and isinstance(variables, dict | None)
            and isinstance(name, str | None)
            and isinstance(extensions, dict | None)
        ):
            raise _Close(BAD_MESSAGE, "Invalid subscribe payload")
        assert self.principal is not None  # acknowledged
        rate = self.ws.rate
        if rate is not None:  # each subscribe is a request: a socket may not open them unbounded
            key = key_of(self.principal, self.scope.get("client"), rate.ipv6_prefix)
            refused = await rate.take(*key)
            if refused is not None:
                limited = [refused.to_graphql().formatted]
                await self._emit({"id": id, "type": "error", "payload": limited})
                return
        started = time.perf_counter()
        try:
            if self.ws.documents is not None:
                query = await self.ws.documents.resolve(query, extensions)
        except GatewayError as exc:  # e.g. a persisted query not found: the client may retry
            await self._emit({"id": id, "type": "error", "payload": [exc.to_graphql().formatted]})
            return
        if not query:
            errors = [coded_error("BAD_REQUEST", "A subscription needs a query.")]
            await self._emit({"id": id, "type": "error", "payload": errors})
            return
        audit = _Audit(query, name, variables, self.principal, started)
        prepared = self.ws.schema.prepared_subscription(query, name, variables)
        if isinstance(prepared, list):
            await self._refuse(id, [e.formatted for e in prepared], audit)
            return
        try:
            subscriber = self.ws.live.open(
                prepared.document, name, prepared.variables, self.principal,
                still_allowed(self.ws.authenticator, self.headers, self.principal),
                arguments=prepared.arguments, holder=holder(self.scope, self.principal),
            )  # fmt: skip
        except TooManySubscriptions as exc:
            await self._refuse(id, [exc.to_graphql().formatted], audit)
            return
        subscription = _Subscription(id, subscriber)
        self.subscriptions[id] = subscription
        task = asyncio.create_task(self._run(subscription, audit), name=f"portgate ws {id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _refuse(self, id: str, errors: list[Any], audit: _Audit) -> None:
        await self._emit({"id": id, "type": "error", "payload": errors})
        await self._audit(audit, errors, 0)

    def _completed(self, id: str) -> None:
        """The client's ``complete``: that subscription ends now, and says nothing more."""
        subscription = self.subscriptions.pop(id, None)
        if subscription is not None:
            subscription.completed_by_client = True
            _stop(subscription.subscriber)

    async def _run(self, subscription: _Subscription, audit: _Audit) -> None:
        """Send one subscription's messages until it ends, the client completes it or leaves."""
        id, subscriber = subscription.id, subscription.subscriber
        ended: list[Any] = []
        begun = False
        try:
            while (message := await subscriber.take(self.ws.heartbeat)) is not None:
                if subscription.completed_by_client:
                    break
                if not message:  # quiet, the credential checked again
                    continue
                if "data" not in message:
                    ended = message.get("errors", [])
                    if not begun:  # refused before its first message: an error, and no more
                        await self._emit({"id": id, "type": "error", "payload": ended})
                        return
                await self._emit({"id": id, "type": "next", "payload": message})
                begun = True
            if not subscription.completed_by_client:
                await self._emit({"id": id, "type": "complete"})
        except _Gone:
            pass
        except Exception:  # a fault: logged, and the client told that subscription is over
            log.exception("a subscription over WebSocket failed")
            failed = SubscriptionFailed("the subscription failed; subscribe again")
            ended = [failed.to_graphql().formatted]
            with contextlib.suppress(_Gone):
                await self._emit({"id": id, "type": "error", "payload": ended})
        finally:
            subscriber.close()
            if self.subscriptions.get(id) is subscription:
                del self.subscriptions[id]
            await self._audit(audit, ended, subscriber.messages)

    async def _audit(self, audit: _Audit, errors: list[Any], messages: int) -> None:
        await audit_subscription(
            self.ws.observer, self.ws.schema, query=audit.query, name=audit.name,
            variables=audit.variables, principal=audit.principal, started=audit.started,
            errors=errors, messages=messages,
        )  # fmt: skip

    async def _heartbeat(self) -> None:
        """A ``ping`` whenever nothing was sent for ``heartbeat`` seconds."""
        while self.open:
            self._sent.clear()
            try:
                await asyncio.wait_for(self._sent.wait(), self.ws.heartbeat)
            except TimeoutError:
                with contextlib.suppress(_Gone):
                    await self._emit({"type": "ping"})

    async def _message(self) -> dict[str, Any]:
        """The client's next protocol message; raises :class:`_Gone` when it left and
        :class:`_Close` for one that is not the protocol's."""
        event = await self._receive()
        if event["type"] == "websocket.disconnect":
            self.open = False
            raise _Gone
        raw = event.get("text")
        if raw is None:
            raw = event.get("bytes") or b""
        size = len(raw.encode()) if isinstance(raw, str) else len(raw)
        if size > self.ws.max_message_bytes:
            raise _Close(BAD_MESSAGE, f"A message is at most {self.ws.max_message_bytes} bytes")
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _Close(BAD_MESSAGE, "Invalid message received: not JSON") from None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise _Close(BAD_MESSAGE, "Invalid message received: no type")
        return message

    async def _emit(self, message: dict[str, Any]) -> None:
        async with self._sending:
            if not self.open:
                raise _Gone
            try:
                await self._send({"type": "websocket.send", "text": orjson.dumps(message).decode()})
            except OSError:  # the connection is gone (uvicorn's ClientDisconnected is one)
                self.open = False
                raise _Gone from None
        self._sent.set()

    async def _close(self, code: int, reason: str) -> None:
        async with self._sending:
            if not self.open:
                return
            self.open = False
            reason = reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore")
            with contextlib.suppress(OSError):
                await self._send({"type": "websocket.close", "code": code, "reason": reason})


async def _refuse_upgrade(
    scope: Scope, receive: Receive, send: Send, error: GatewayError, status: int, code: int
) -> None:
    """Refuse an upgrade before accepting it: an HTTP ``status`` with ``error`` as the body (and
    ``Retry-After`` when it says when to come back), where the server takes an HTTP response to
    an upgrade (ASGI's ``websocket.http.response``); else a close with ``code`` (a bare 403)."""
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await error_response(error, status)(scope, receive, send)
    else:
        await send({"type": "websocket.close", "code": code})


def _stop(subscriber: Subscriber) -> None:
    """End a subscription from this side: its task wakes to find it ended, and it leaves its
    feed now (the hub counts it no more)."""
    subscriber.end()
    subscriber.close()


def _id(message: Mapping[str, Any]) -> str:
    id = message.get("id")
    if not isinstance(id, str) or not id:
        raise _Close(BAD_MESSAGE, f"A {message['type']} message needs an id")
    return id
