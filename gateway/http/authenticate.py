"""Authenticate every GraphQL request before anything else looks at it.

Pure ASGI middleware in front of the ``/graphql`` route: a request that carries a GraphQL
operation (any POST, or a GET with a ``query`` parameter, or with ``extensions`` naming a
persisted query) gets its :class:`~gateway.auth.Principal`
on ``request.state.principal``, or an HTTP 401 in the GraphQL error format with a
``WWW-Authenticate`` header. GraphiQL's page (a GET without ``query``), ``/healthz`` and
``/readyz`` need no credential.
"""

import logging
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.auth import Authenticator
from gateway.errors import Unauthenticated
from gateway.http.responses import graphql_error_response

log = logging.getLogger(__name__)

REALM = 'Bearer realm="portgate"'


class Authenticate:
    def __init__(self, app: ASGIApp, authenticator: Authenticator, path: str = "/graphql") -> None:
        self.app = app
        self.authenticator = authenticator
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or not _carries_operation(scope):
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope["headers"]
        }
        try:
            principal = await self.authenticator.authenticate(headers)
        except Unauthenticated as exc:
            presented = "authorization" in headers or "x-api-key" in headers
            challenge = f'{REALM}, error="invalid_token"' if presented else REALM
            response = graphql_error_response(exc.message, exc.code, 401)
            response.headers["WWW-Authenticate"] = challenge
            log.info("401 %s %s: %s", scope.get("method"), self.path, exc.message)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def _carries_operation(scope: Scope) -> bool:
    if scope.get("method") != "GET":
        return True
    query_string = scope.get("query_string", b"").decode("latin-1")
    params = parse_qs(query_string, keep_blank_values=True)
    return "query" in params or "extensions" in params
