"""CSRF protection: refuse GraphQL requests a browser would send cross-site without asking.

A browser sends a GET, or a POST with a "simple" content type (form data, ``text/plain``),
from any page to any site with the user's ambient credentials (cookies, TLS client
certificates, a trusted network address), without a CORS preflight. A GraphQL request of that
kind must carry a header a page cannot add without a preflight: ``X-Portgate-CSRF`` (any
value), or Apollo's ``Apollo-Require-Preflight`` / ``X-Apollo-Operation-Name``, which Apollo
clients already send. Otherwise: HTTP 400 ``PREFLIGHT_REQUIRED``, and nothing runs.

A POST of ``application/json`` always passes (a browser preflights it), and so does a GET
without a ``query`` or ``extensions`` parameter (GraphiQL's page).

A WebSocket is not covered by CORS at all: a page on any site may open one to the gateway, with
the user's ambient credentials, and read everything sent on it (cross-site WebSocket
hijacking). What stands in for the preflight is the ``Origin`` header a browser always sends
on the upgrade, which a page cannot change: :func:`foreign_origin` refuses one that is neither
the gateway's own origin (its host and port as in the ``Host`` header the upgrade was sent
with) nor one of the origins CORS lets call the API (``cors.allow_origins``, ``*`` for any, as
CORS has it). An upgrade without ``Origin`` is not a browser's, and passes.
"""

from collections.abc import Collection, Iterable
from urllib.parse import parse_qs, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.edge.responses import graphql_error_response
from gateway.errors import PreflightRequired

CSRF_HEADER = b"x-portgate-csrf"
PREFLIGHT_HEADERS = frozenset(
    {CSRF_HEADER, b"apollo-require-preflight", b"x-apollo-operation-name"}
)
SIMPLE_CONTENT_TYPES = frozenset(
    {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)
MESSAGE = (
    "this request could be a cross-site request forgery: send a POST with Content-Type: "
    "application/json, or add the header X-Portgate-CSRF: 1"
)


class CsrfProtection:
    def __init__(self, app: ASGIApp, path: str = "/graphql") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or not _needs_preflight(scope):
            await self.app(scope, receive, send)
            return
        error = PreflightRequired(MESSAGE)
        await graphql_error_response(error.message, error.code, 400)(scope, receive, send)


def _needs_preflight(scope: Scope) -> bool:
    """A request a browser sends cross-site without a preflight, carrying an operation, and
    without a header that proves a preflight happened."""
    headers = dict(scope["headers"])
    if any(headers.get(name, b"").strip() for name in PREFLIGHT_HEADERS):
        return False
    method = scope.get("method")
    if method == "GET":
        params = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        return "query" in params or "extensions" in params
    if method == "POST":
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        main = content_type.split(";", 1)[0].strip().lower()
        return not main or main in SIMPLE_CONTENT_TYPES
    return False


_DEFAULT_PORTS = {"http": 80, "https": 443}


def foreign_origin(
    headers: Iterable[tuple[bytes, bytes]], allow_origins: Collection[str]
) -> str | None:
    """The ``Origin`` of a WebSocket upgrade (raw ASGI headers) when a page of another site sent
    it: neither the gateway's own origin nor one of ``allow_origins``; else None."""
    origins: list[str] = []
    host = None
    for name, value in headers:
        if name == b"origin":
            origins.append(value.decode("latin-1"))
        elif name == b"host" and host is None:
            host = value.decode("latin-1")
    if "*" in allow_origins:
        return None
    for origin in origins:
        if origin not in allow_origins and not (host is not None and _own(origin, host)):
            return origin
    return None


def _own(origin: str, host: str) -> bool:
    """Whether ``origin`` (``https://gw.example``) is the origin of the gateway the upgrade was
    sent to (``Host: gw.example``): the same host and port, a missing port being the default
    one of the origin's scheme. Its scheme is not compared: behind a proxy that ends TLS the
    upgrade arrives as ``ws`` from an ``https`` page."""
    try:
        page = urlsplit(origin)
        asked = urlsplit("//" + host.strip())
        default = _DEFAULT_PORTS.get(page.scheme)
        return (
            default is not None
            and origin == f"{page.scheme}://{page.netloc}"
            and "@" not in page.netloc
            and "@" not in asked.netloc
            and not asked.path
            and page.hostname is not None
            and page.hostname == asked.hostname
            and (page.port or default) == (asked.port or default)
        )
    except ValueError:  # a port that is not a number, or out of range
        return False
