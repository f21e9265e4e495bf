"""The HTTP face of a port resolver: a Starlette app serving the shared schema for one port.

Routes:

- ``POST /graphql`` (JSON body) and ``GET /graphql?query=...``: 200 with ``data`` (and field
  errors, if any); 400 (413) with ``{"errors": [...]}`` for a request that cannot run. Every
  answer carries ``Cache-Control``: ``max-age`` = the smallest TTL of the root fields asked,
  or ``no-store`` (errors other than notices, or a port configured ``no_store=True``).
- ``GET /healthz``: 200 ``{"status": "ok", "port": ...}`` while the process serves (liveness).
- ``GET /changes`` (with ``changes``): a stream of change notices for the gateway
  (:mod:`port_resolvers.kit.changes`), with the same credential as ``/graphql``.
- ``GET /readyz``: asks the source for the port; 200 ``{"status": "ready", ...}``, or 503
  ``{"status": "unavailable", ...}`` when the port's systems do not answer (or answer for
  another port).
"""

import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any, Final

import orjson
from opentelemetry import trace
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from port_resolvers.kit import errors, tracing
from port_resolvers.kit.cache_control import NO_STORE, CacheTtls, cache_control, max_age
from port_resolvers.kit.changes import ChangeNotices, NotListening
from port_resolvers.kit.execution import (
    DEFAULT_DOCUMENT_CACHE_SIZE,
    Answer,
    PortGraphQL,
    request_error,
)
from port_resolvers.kit.request import DEFAULT_MAX_BODY_BYTES, RequestRejected, read_graphql_request
from port_resolvers.kit.resolvers import PortContext, PortZone, utc_now
from port_resolvers.kit.source import PortDataSource
from portcontract.changes import MEDIA_TYPE as EVENT_STREAM
from portcontract.identifiers import check_unlocode

logger = logging.getLogger("port_resolvers.kit")

JSON_MEDIA_TYPE: Final = "application/json"
_SERVER_FAILURES: Final = frozenset({errors.INTERNAL_ERROR, errors.SOURCE_UNAVAILABLE})


def _json(body: Any, status: int, cache: str = NO_STORE) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=JSON_MEDIA_TYPE,
        headers={"cache-control": cache},
    )


def _failed(answer: Answer) -> bool:
    if answer.status >= 500:
        return True
    return any(
        error.get("extensions", {}).get("code") in _SERVER_FAILURES
        for error in answer.body.get("errors") or ()
    )


class ResolverEndpoints:
    """The request handlers of one port's resolver app."""

    def __init__(
        self,
        source: PortDataSource,
        port_id: str,
        *,
        cache_ttls: CacheTtls,
        no_store: bool,
        tracer: trace.Tracer,
        document_cache_size: int,
        max_body_bytes: int,
        gateway_token: str | None = None,
        time_zone: str | None = None,
        clock: Callable[[], datetime] | None = None,
        changes: ChangeNotices | None = None,
    ) -> None:
        self.changes = changes
        self._authorization = (
            f"Bearer {gateway_token}".encode() if gateway_token is not None else None
        )
        self.source = source
        self.port_id = port_id
        self.cache_ttls = cache_ttls
        self.no_store = no_store
        self.tracer = tracer
        self.max_body_bytes = max_body_bytes
        context = PortContext(source, port_id, PortZone(time_zone), clock or utc_now)
        self.graphql = PortGraphQL(context, document_cache_size=document_cache_size)

    async def graphql_endpoint(self, request: Request) -> Response:
        if not self._from_the_gateway(request):
            logger.info("%s: refused a request without the gateway's credential", self.port_id)
            body = request_error("this resolver answers the gateway only", errors.UNAUTHENTICATED)
            return _json(body, 401)
        with tracing.server_span(self.tracer, request, self.port_id) as span:
            answer = await self._answer(request)
            tracing.record_operation(span, answer.operation_name)
            tracing.record_outcome(span, answer.status, failed=_failed(answer))
            header = cache_control(
                max_age(self.cache_ttls, answer.root_fields, timely=answer.timely),
                has_errors=answer.has_errors or answer.status != 200,
                no_store=self.no_store,
            )
            return _json(answer.body, answer.status, header)

    async def changes_endpoint(self, request: Request) -> Response:
        if not self._from_the_gateway(request):
            body = request_error("this resolver answers the gateway only", errors.UNAUTHENTICATED)
            return _json(body, 401)
        assert self.changes is not None  # the route exists only with them
        try:
            frames = self.changes.listen()
        except NotListening as exc:
            return _json(request_error(str(exc), errors.SOURCE_UNAVAILABLE), 503)
        headers = {"cache-control": NO_STORE, "x-accel-buffering": "no"}
        return StreamingResponse(frames, media_type=EVENT_STREAM, headers=headers)

    def _from_the_gateway(self, request: Request) -> bool:
        if self._authorization is None:
            return True
        presented = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(presented, self._authorization)

    async def _answer(self, request: Request) -> Answer:
        try:
            graphql_request = await read_graphql_request(
                request, max_body_bytes=self.max_body_bytes
            )
            return await self.graphql.run(graphql_request)
        except RequestRejected as rejected:
            return Answer(rejected.status, request_error(rejected.message, rejected.code))
        except Exception:
            logger.exception("%s: the resolver failed to answer a request", self.port_id)
            return Answer(500, request_error(errors.INTERNAL_ERROR_MESSAGE, errors.INTERNAL_ERROR))

    async def healthz(self, request: Request) -> Response:
        return _json({"status": "ok", "port": self.port_id}, 200)

    async def readyz(self, request: Request) -> Response:
        try:
            port = await self.source.port()
        except Exception as exc:
            logger.warning("%s: not ready: the source did not answer: %r", self.port_id, exc)
            return _json({"status": "unavailable", "port": self.port_id}, 503)
        answered_for = port.get("UNLocationCode")
        if answered_for != self.port_id:
            logger.error("%s: not ready: the source answers for %r", self.port_id, answered_for)
            return _json({"status": "misconfigured", "port": self.port_id}, 503)
        return _json({"status": "ready", "port": self.port_id}, 200)


def create_resolver_app(
    source: PortDataSource,
    port_id: str,
    *,
    cache_ttls: CacheTtls | None = None,
    no_store: bool = False,
    tracer_provider: trace.TracerProvider | None = None,
    document_cache_size: int = DEFAULT_DOCUMENT_CACHE_SIZE,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    gateway_token: str | None = None,
    time_zone: str | None = None,
    clock: Callable[[], datetime] | None = None,
    changes: ChangeNotices | None = None,
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """A Starlette app answering the shared schema for the port ``port_id`` from ``source``.

    :param source: the port's systems, as a :class:`PortDataSource`.
    :param port_id: the port's UN/LOCODE, e.g. ``USLAX``.
    :param cache_ttls: seconds an answer may be cached, per kind of root field.
    :param no_store: answer ``Cache-Control: no-store`` always (nothing may be cached).
    :param tracer_provider: OpenTelemetry tracer provider; the global one when None.
    :param document_cache_size: how many parsed and validated documents to keep.
    :param max_body_bytes: largest POST body accepted (413 above it).
    :param gateway_token: when set, /graphql answers only requests carrying
        ``Authorization: Bearer <gateway_token>`` (the credential registered for this port at
        the gateway) and refuses others with 401 ``UNAUTHENTICATED``; health routes stay open.
    :param time_zone: the IANA time zone the port's metric weeks are whole weeks of (e.g.
        ``America/Los_Angeles``); by default the source's ``PortRecord.timeZone``, else UTC.
    :param clock: what the kit takes as now when it checks that metric periods have ended;
        by default the current time.
    :param changes: where the port's systems report what changed; when given, ``GET /changes``
        streams it to the gateway, which then asks again at once instead of at its next poll
        (:mod:`port_resolvers.kit.changes`). Without it the gateway polls.
    :param routes: more routes beside the kit's, e.g. where a source calls back with events.
    """
    endpoints = ResolverEndpoints(
        source,
        check_unlocode(port_id),
        cache_ttls=cache_ttls or CacheTtls(),
        no_store=no_store,
        tracer=tracing.tracer_for(tracer_provider),
        document_cache_size=document_cache_size,
        max_body_bytes=max_body_bytes,
        gateway_token=gateway_token,
        time_zone=time_zone,
        clock=clock,
        changes=changes,
    )
    served: list[BaseRoute] = [
        *routes,
        Route("/graphql", endpoints.graphql_endpoint, methods=["GET", "POST"]),
        Route("/healthz", endpoints.healthz, methods=["GET"]),
        Route("/readyz", endpoints.readyz, methods=["GET"]),
    ]
    if changes is None:
        return Starlette(routes=served)
    served.append(Route("/changes", endpoints.changes_endpoint, methods=["GET"]))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            changes.close()  # whatever gateway stream is still open ends

    return Starlette(routes=served, lifespan=lifespan)
