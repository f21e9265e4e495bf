"""Subscriptions over HTTP: GraphQL over Server-Sent Events at ``/graphql``.

A subscription in a request that accepts ``text/event-stream`` (``POST`` with a JSON body, or
``GET`` with ``query``, ``variables`` and ``operationName`` in the query string) is answered
here; any other request goes on (a query asked so is answered as usual, in one response). It has
passed every check at the edge first, as any request does (client address, load shedding, body
limit, authentication, in-flight and rate limits, CSRF), and its document is resolved like any
other (trusted documents, automatic persisted queries), parsed and validated with every limit
(:meth:`gateway.query.execute.GatewaySchema.prepared_subscription`).

Then, in the "distinct connections" mode of the GraphQL over SSE protocol: each message is an
``event: next`` whose data is the result as JSON, a comment line is sent as a heartbeat when
nothing else was, and ``event: complete`` ends the stream. A subscription refused before its
first message (a bad document: 400; a subscription too many: 429; a field the policy refuses
in its ``reject`` mode: 403; a credential no longer accepted: 401) is answered with that
status and the errors as JSON, like a query. One audit record is written per subscription when
it ends, with its duration and the number of messages it was sent.
"""

import asyncio
import contextlib
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.access.auth import Authenticator, Principal, principal_of
from gateway.access.documents import DocumentResolver
from gateway.edge.graphql_view import read_body, replaying
from gateway.edge.in_flight import release_in_flight
from gateway.edge.subscribing import (
    audit_subscription,
    coded_error,
    first_code,
    holder,
    still_allowed,
)
from gateway.errors import GatewayError
from gateway.query.execute import GatewaySchema
from gateway.query.live import LiveQueries, Subscriber, TooManySubscriptions
from gateway.query.observe import OperationObserver
from gateway.query.request_errors import NOT_A_SUBSCRIPTION, PARSE_FAILED

EVENT_STREAM = b"text/event-stream"
_ANSWERED_AS_USUAL = (NOT_A_SUBSCRIPTION, PARSE_FAILED)  # not a subscription: not this one's
_STATUS_BY_CODE = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN_FIELD": 403,
    "FORBIDDEN_PORT": 403,
    "TOO_MANY_SUBSCRIPTIONS": 429,
}


class SubscriptionStreams:
    """GraphQL over SSE for ``path``; every other request goes on to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        schema: GatewaySchema,
        live: LiveQueries,
        authenticator: Authenticator,
        documents: DocumentResolver | None,
        observer: OperationObserver | None,
        heartbeat: float,
        path: str = "/graphql",
    ) -> None:
        self.app = app
        self.schema = schema
        self.live = live
        self.authenticator = authenticator
        self.documents = documents
        self.observer = observer
        self.heartbeat = heartbeat
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _takes(scope, self.path):
            await self.app(scope, receive, send)
            return
        body, messages = await read_body(receive) if scope["method"] == "POST" else (b"", [])
        if body is None:  # the client went away before its request was whole
            return
        receive = replaying(messages, receive)
        request = Request(scope, receive)
        started = time.perf_counter()
        try:
            data = _request_data(request, body)
            query = data.get("query")
            if self.documents is not None:
                query = await self.documents.resolve(query, data.get("extensions"))
            if not isinstance(query, str) or not query:
                raise _Refused(400, [coded_error("BAD_REQUEST", "A subscription needs a query.")])
            variables = data.get("variables")
            name = data.get("operationName") or None
            if not isinstance(variables, dict | None) or not isinstance(name, str | None):
                message = "`variables` must be an object and `operationName` a string."
                raise _Refused(400, [coded_error("BAD_REQUEST", message)])
        except GatewayError as exc:
            await _json(send, _status(exc.code, 400), {"errors": [exc.to_graphql().formatted]})
            return
        except _Refused:  # not a request this reads: answered as any other is
            await self.app(scope, receive, send)
            return
        principal = principal_of(request.state)
        if principal is None:  # never behind the authentication middleware: fail closed
            unauthenticated = coded_error("UNAUTHENTICATED", "Not authenticated.")
            await _json(send, 401, {"errors": [unauthenticated]})
            return
        prepared = self.schema.prepared_subscription(query, name, variables)
        if isinstance(prepared, list) and first_code(prepared) in _ANSWERED_AS_USUAL:
            await self.app(scope, receive, send)  # not a subscription: answered as usual
            return
        if isinstance(prepared, list):
            errors = [e.formatted for e in prepared]
            await _json(send, 400, {"errors": errors})
            await self._audit(query, name, variables, principal, started, errors, 0)
            return
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            subscriber = self.live.open(
                prepared.document, name, prepared.variables, principal,
                still_allowed(self.authenticator, headers, principal),
                arguments=prepared.arguments, holder=holder(scope, principal),
            )  # fmt: skip
        except TooManySubscriptions as exc:
            errors = [exc.to_graphql().formatted]
            await _json(send, 429, {"errors": errors})
            await self._audit(query, name, variables, principal, started, errors, 0)
            return
        try:
            errors = await self._stream(subscriber, scope, receive, send)
        finally:
            subscriber.close()
        await self._audit(query, name, variables, principal, started, errors, subscriber.messages)

    async def _stream(
        self, subscriber: Subscriber, scope: Scope, receive: Receive, send: Send
    ) -> list[Any]:
        """Send the subscription's messages until it ends or the client leaves; the errors
        it ended with. Before the first message nothing is sent, so a refusal has its status."""
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()
            subscriber.end()

        watcher = asyncio.create_task(watch())
        try:
            first = await subscriber.take()
            if first is None or gone.is_set():
                return []
            if "data" not in first:
                errors: list[Any] = first.get("errors", [])
                code = errors[0].get("extensions", {}).get("code") if errors else None
                await _json(send, _status(code, 400), first)
                return errors
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no"),
            ]})  # fmt: skip
            release_in_flight(scope)
            await _event(send, first)
            ended: list[Any] = []
            while not gone.is_set():
                message = await subscriber.take(self.heartbeat)
                if message is None:
                    break
                if not message:
                    await send({"type": "http.response.body", "body": b":\n\n", "more_body": True})
                    continue
                if "data" not in message:
                    ended = message.get("errors", [])
                await _event(send, message)
            if not gone.is_set():
                await send({"type": "http.response.body",
                            "body": b"event: complete\ndata:\n\n", "more_body": False})  # fmt: skip
            return ended
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _audit(
        self,
        query: str,
        name: str | None,
        variables: dict[str, Any] | None,
        principal: Principal,
        started: float,
        errors: list[Any],
        messages: int,
    ) -> None:
        await audit_subscription(
            self.observer, self.schema, query=query, name=name, variables=variables,
            principal=principal, started=started, errors=errors, messages=messages,
        )  # fmt: skip


class _Refused(Exception):
    def __init__(self, status: int, errors: list[Any]) -> None:
        self.status = status
        self.errors = errors


def _takes(scope: Scope, path: str) -> bool:
    if scope["type"] != "http" or scope["method"] not in ("GET", "POST"):
        return False
    if scope["path"] != path:
        return False
    accept = b"".join(v for k, v in scope["headers"] if k == b"accept").lower()
    return EVENT_STREAM in accept


def _request_data(request: Request, body: bytes) -> dict[str, Any]:
    if request.method == "GET":
        params = request.query_params
        data: dict[str, Any] = {k: params[k] for k in ("query", "operationName") if k in params}
        for key in ("variables", "extensions"):
            if key in params:
                data[key] = _parsed(params[key], key)
        return data
    data = _parsed(body, "the body")
    if not isinstance(data, dict):
        raise _Refused(400, [coded_error("BAD_REQUEST", "The body must be one JSON object.")])
    return data


def _parsed(text: str | bytes, what: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise _Refused(400, [coded_error("BAD_REQUEST", f"{what} is not JSON.")]) from None


def _status(code: Any, default: int) -> int:
    return _STATUS_BY_CODE.get(str(code), default)


async def _json(send: Send, status: int, payload: Any) -> None:
    body = orjson.dumps(payload)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
    ]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


async def _event(send: Send, payload: Any) -> None:
    body = b"event: next\ndata: " + orjson.dumps(payload) + b"\n\n"
    await send({"type": "http.response.body", "body": body, "more_body": True})
