"""Authenticate every GraphQL request before anything else looks at it.

Pure ASGI middleware in front of the ``/graphql`` route: a request that carries a GraphQL
operation (any POST, or a GET with a ``query`` parameter, or with ``extensions`` naming a
persisted query) gets its :class:`~gateway.access.auth.Principal`
on ``request.state.principal``, or an HTTP 401 in the GraphQL error format with a
``WWW-Authenticate`` header. GraphiQL's page (a GET without ``query``), ``/healthz`` and
``/readyz`` need no credential. Every request to the DCSA facade (:mod:`gateway.edge.guarded`)
is authenticated alike, before the in-flight limit per client counts it; its refusals are the
facade's DCSA ``error`` bodies.

A request carries at most one credential header: ``X-API-Key`` twice, ``Authorization`` twice,
or one of each is HTTP 400 ``AMBIGUOUS_CREDENTIALS`` (the gateway will not guess which one
counts, and a proxy that adds its own must not silently override the client's, nor the other way
round). The same rule holds for the gateway's own APIs (:mod:`gateway.edge.authorize`).
"""

import logging
from collections.abc import Iterable
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.access.auth import API_KEY_HEADER, Authenticator
from gateway.edge.guarded import GRAPHQL_ONLY, Guarded
from gateway.errors import AmbiguousCredentials, Unauthenticated

log = logging.getLogger(__name__)

REALM = 'Bearer realm="portgate"'
CREDENTIAL_HEADERS = frozenset({b"authorization", API_KEY_HEADER.encode()})
AMBIGUOUS = "send one credential: a single X-API-Key or a single Authorization header, not several"


def credential_headers(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The credential headers of a request (raw ASGI headers, names in lower case), as the
    :class:`~gateway.access.auth.Authenticator` takes them; :class:`AmbiguousCredentials` when there
    is more than one."""
    found: dict[str, str] = {}
    for name, value in headers:
        if name in CREDENTIAL_HEADERS:
            if found:
                raise AmbiguousCredentials(AMBIGUOUS)
            found[name.decode("latin-1")] = value.decode("latin-1")
    return found


class Authenticate:
    def __init__(
        self, app: ASGIApp, authenticator: Authenticator, paths: Guarded = GRAPHQL_ONLY
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refuse = self.paths.refusal(scope["path"]) if scope["type"] == "http" else None
        if refuse is None or (
            scope["path"] == self.paths.graphql and not _carries_operation(scope)
        ):
            await self.app(scope, receive, send)
            return
        try:
            headers = credential_headers(scope["headers"])
        except AmbiguousCredentials as exc:
            log.info("400 %s %s: %s", scope.get("method"), scope["path"], exc.message)
            await refuse(scope, 400, exc, {})(scope, receive, send)
            return
        try:
            principal = await self.authenticator.authenticate(headers)
        except Unauthenticated as exc:
            challenge = f'{REALM}, error="invalid_token"' if headers else REALM
            log.info("401 %s %s: %s", scope.get("method"), scope["path"], exc.message)
            await refuse(scope, 401, exc, {"WWW-Authenticate": challenge})(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def _carries_operation(scope: Scope) -> bool:
    if scope.get("method") != "GET":
        return True
    query_string = scope.get("query_string", b"").decode("latin-1")
    params = parse_qs(query_string, keep_blank_values=True)
    return "query" in params or "extensions" in params
