"""The gateway's errors and their stable codes.

Every error a client can see carries a ``code`` that becomes ``extensions.code``; errors caused by
a port also name it in ``extensions.port``. Foreign exceptions (httpx, graphql-core) are
translated into these at exactly one place each (:mod:`gateway.ports.upstream`,
:mod:`gateway.planning.plan`).

    GatewayError                      code
    ├── BadUserInput                  BAD_USER_INPUT      a malformed argument or variable
    ├── BadRequest                    BAD_REQUEST         not a GraphQL request at all
    ├── Unauthenticated               UNAUTHENTICATED     no usable credential (HTTP 401)
    ├── ForbiddenField                FORBIDDEN_FIELD     the policy withholds a field from the
    │                                                     caller's roles (null, or HTTP 403)
    ├── AuditUnavailable              AUDIT_UNAVAILABLE   auditing is required and the audit
    │                                                     store failed: the answer is withheld
    ├── QueryLimitExceeded            (HTTP 400, no port asked; extensions: limit, actual)
    │   ├── QueryTooDeep              QUERY_TOO_DEEP             fields nested too deep
    │   ├── TooManyAliases            QUERY_TOO_MANY_ALIASES     too many aliased fields
    │   ├── TooManyRootFields         QUERY_TOO_MANY_ROOT_FIELDS too many root fields
    │   ├── TooManyTokens             QUERY_TOO_MANY_TOKENS      a document too long to parse
    │   └── QueryTooComplex           QUERY_TOO_COMPLEX          estimated cost over the maximum
    ├── OutlookTruncated              OUTLOOK_TRUNCATED   an outlook's window holds more vessel
    │                                                     calls than it may page through
    ├── RateLimited                   RATE_LIMITED        past the caller's rate (HTTP 429 with
    │   │                                                 Retry-After)
    │   └── ConcurrencyLimited        CONCURRENCY_LIMITED too many of the caller's requests in
    │                                                     flight at once (HTTP 429, Retry-After)
    ├── Overloaded                    OVERLOADED          the gateway itself is short of capacity
    │                                                     and sheds new work (HTTP 503,
    │                                                     Retry-After)
    ├── RequestTimeout                REQUEST_TIMEOUT     the client sent its headers or body too
    │                                                     slowly (HTTP 408, connection closed)
    ├── AmbiguousCredentials          AMBIGUOUS_CREDENTIALS  more than one credential header
    │                                                     (HTTP 400)
    ├── OperationResolutionFailure    OPERATION_RESOLUTION_FAILURE  which operation of the
    │                                                     document to run cannot be told (several
    │                                                     and no operationName, or an unknown
    │                                                     one; HTTP 400)
    ├── PersistedQueryNotFound        PERSISTED_QUERY_NOT_FOUND  an unknown hash: resend the query
    ├── PersistedQueryNotInList       PERSISTED_QUERY_NOT_IN_LIST  trusted-documents mode: not a
    │                                                     registered document (HTTP 400)
    ├── PersistedQueryHashMismatch    PERSISTED_QUERY_HASH_MISMATCH  the hash is not the query's
    ├── PreflightRequired             PREFLIGHT_REQUIRED  a GET or simple POST without the CSRF
    │                                                     header (HTTP 400)
    ├── OriginNotAllowed              ORIGIN_NOT_ALLOWED  a WebSocket upgrade from a page of
    │                                                     another site (HTTP 403)
    ├── PortCheckFailed               PORT_CHECK_FAILED   admin API: an endpoint may not take
    │                                                     traffic (HTTP 422; extensions.reason)
    ├── RegistryUnavailable           REGISTRY_UNAVAILABLE  admin API: the registry store cannot
    │                                                     be reached now (HTTP 503)
    └── PortFailure                   (names the port)
        ├── PortTimeout               PORT_TIMEOUT        the port's own timeout passed
        ├── DeadlineExceeded          DEADLINE_EXCEEDED   the query's deadline passed first
        ├── PortUnavailable           PORT_UNAVAILABLE    no connection, or the port's source down
        │   └── PortEgressRefused     PORT_UNAVAILABLE    its address is refused by the egress
        │                                                 rules: nothing was sent
        ├── PortError                 PORT_ERROR          an HTTP error or an unusable answer
        └── PortCircuitOpen           PORT_CIRCUIT_OPEN   not asked: it failed too often lately

A port whose answer broke the shared contract is not an error: what the boundary dropped is
reported in its ``extensions.sources`` entry as ``partial`` with the code
``PORT_CONTRACT_VIOLATION`` (:mod:`gateway.ports.boundary`). A port's own error is ``PORT_ERROR``
(or ``PORT_UNAVAILABLE`` for ``SOURCE_UNAVAILABLE``) in the gateway's words, with the port's
contract code (:mod:`portcontract.errors`) as ``extensions.portCode``.

Introspection refused in production mode is ``INTROSPECTION_DISABLED`` (a validation error);
an unexpected failure is ``INTERNAL_SERVER_ERROR`` with an ``incident`` id that is in the logs
and the audit record, and nothing else about it.
"""

from typing import Any, ClassVar

from graphql import GraphQLError


class GatewayError(Exception):
    """Base of every error the gateway reports to a client."""

    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code}

    def to_graphql(self, path: list[str | int] | None = None) -> GraphQLError:
        return GraphQLError(self.message, path=path, extensions=self.extensions())


class BadUserInput(GatewayError):
    code = "BAD_USER_INPUT"


class BadRequest(GatewayError):
    code = "BAD_REQUEST"


class Unauthenticated(GatewayError):
    """A credential that is missing (when anonymous use is off), malformed, expired, revoked or
    wrongly signed. The message says which, never how the gateway checked it (no key material,
    no identity provider URL)."""

    code = "UNAUTHENTICATED"


class ForbiddenField(GatewayError):
    """A field the caller's roles may not see: ``coordinate`` is its schema coordinate
    (``Container.availability``); ``ports`` names the ports whose sharing rules withhold it,
    when only some of the ports asked do."""

    code = "FORBIDDEN_FIELD"

    def __init__(self, message: str, coordinate: str, ports: list[str] | None = None) -> None:
        super().__init__(message)
        self.coordinate = coordinate
        self.ports = ports

    def extensions(self) -> dict[str, Any]:
        extensions: dict[str, Any] = {"code": self.code, "coordinate": self.coordinate}
        if self.ports:
            extensions["ports"] = self.ports
        return extensions


class AuditUnavailable(GatewayError):
    """The audit store could not record an operation while ``audit.required`` is on: the
    operation fails closed. The message never names the store (its URL may hold a password)."""

    code = "AUDIT_UNAVAILABLE"

    def __init__(self, message: str = "the audit trail is unavailable: no answer is given") -> None:
        super().__init__(message)


class QueryLimitExceeded(GatewayError):
    """An operation over one of the configured ``limits``: refused before any port is asked.
    ``limit`` is the configured maximum and ``actual`` what the operation has."""

    def __init__(self, message: str, *, limit: int, actual: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.actual = actual

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "limit": self.limit, "actual": self.actual}


class QueryTooDeep(QueryLimitExceeded):
    code = "QUERY_TOO_DEEP"


class TooManyAliases(QueryLimitExceeded):
    code = "QUERY_TOO_MANY_ALIASES"


class TooManyRootFields(QueryLimitExceeded):
    code = "QUERY_TOO_MANY_ROOT_FIELDS"


class TooManyTokens(QueryLimitExceeded):
    code = "QUERY_TOO_MANY_TOKENS"


class QueryTooComplex(QueryLimitExceeded):
    """The estimated cost (list size x selected fields x ports asked, summed over the root
    fields) is over ``limits.max_cost``; the message says the cost and the limit."""

    code = "QUERY_TOO_COMPLEX"


class OutlookTruncated(GatewayError):
    """An outlook's window holds more vessel calls than ``outlook.max_call_pages`` pages: its
    figures count only the calls of the pages asked, and the message says up to when. The
    outlook is still answered (HTTP 200)."""

    code = "OUTLOOK_TRUNCATED"


class RateLimited(GatewayError):
    """The caller sent more requests than its rate allows; ``retry_after`` whole seconds."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "retryAfter": self.retry_after}


class ConcurrencyLimited(RateLimited):
    """The caller already has ``rate_limit.max_in_flight`` requests being served:
    one more would take capacity from everyone else. Wait ``retry_after`` seconds."""

    code = "CONCURRENCY_LIMITED"


class Overloaded(GatewayError):
    """The gateway sheds new work (its event loop runs late, or too many requests are in
    flight): answered at once with HTTP 503 rather than slowly for everyone. The fault is the
    gateway's, never a port's, so no port's breaker counts it."""

    code = "OVERLOADED"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "retryAfter": self.retry_after}


class RequestTimeout(GatewayError):
    """The client did not send its request's headers (``server.header_timeout``) or body
    (``server.body_timeout``) in time; the connection is closed after the answer."""

    code = "REQUEST_TIMEOUT"


class AmbiguousCredentials(GatewayError):
    """A request carries more than one credential header (``X-API-Key`` twice,
    ``Authorization`` twice, or one of each): the gateway will not guess which one counts."""

    code = "AMBIGUOUS_CREDENTIALS"


class OperationResolutionFailure(GatewayError):
    """GraphQL's GetOperation() fails: the document holds several operations and the request
    names none (``operationName``), or names one the document does not hold. Nothing runs."""

    code = "OPERATION_RESOLUTION_FAILURE"


class PersistedQueryNotFound(GatewayError):
    """Automatic persisted queries: the hash is unknown here; the client sends it again with
    its query, which registers it. The message is the one Apollo clients look for."""

    code = "PERSISTED_QUERY_NOT_FOUND"

    def __init__(self, message: str = "PersistedQueryNotFound") -> None:
        super().__init__(message)


class PersistedQueryNotInList(GatewayError):
    """Trusted-documents mode: the document is not one of the registered operations."""

    code = "PERSISTED_QUERY_NOT_IN_LIST"


class PersistedQueryHashMismatch(GatewayError):
    """The ``sha256Hash`` sent is not the SHA-256 of the query sent with it."""

    code = "PERSISTED_QUERY_HASH_MISMATCH"


class PreflightRequired(GatewayError):
    """CSRF protection: a request a browser could send cross-site without a CORS preflight (a GET
    query, a form or text/plain POST) must carry a header that forces one."""

    code = "PREFLIGHT_REQUIRED"


class OriginNotAllowed(GatewayError):
    """Cross-site WebSocket hijacking: a WebSocket upgrade whose ``Origin`` is neither the
    gateway's own nor one of ``cors.allow_origins``, refused before it is accepted, whatever
    credential it carries."""

    code = "ORIGIN_NOT_ALLOWED"


class PortCheckFailed(GatewayError):
    """An endpoint that may not take traffic (admin API, HTTP 422). ``reason`` is one of the
    reason codes of :mod:`gateway.ports.endpoint_check` (``EGRESS_REFUSED``, ``TIMEOUT``, ...); the
    message is the gateway's own words, never text from the endpoint."""

    code = "PORT_CHECK_FAILED"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "reason": self.reason}


class RegistryUnavailable(GatewayError):
    """The registry store cannot be reached now (the gateway serves the ports it knows and
    retries): a change cannot be made (admin API, HTTP 503)."""

    code = "REGISTRY_UNAVAILABLE"

    def __init__(
        self, message: str = "the port registry's store is unavailable: try again later"
    ) -> None:
        super().__init__(message)


class PortFailure(GatewayError):
    """A port did not give a usable answer; the rest of the query goes on without it."""

    status: ClassVar[str] = "error"

    def __init__(self, port: str, message: str, *, transient: bool = False) -> None:
        super().__init__(f"port {port}: {message}")
        self.port = port
        self.transient = transient  # worth retrying (a refused connection, a 5xx)

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "port": self.port}


class PortTimeout(PortFailure):
    code = "PORT_TIMEOUT"
    status = "timeout"


class DeadlineExceeded(PortFailure):
    code = "DEADLINE_EXCEEDED"
    status = "timeout"


class PortUnavailable(PortFailure):
    code = "PORT_UNAVAILABLE"


class PortEgressRefused(PortUnavailable):
    """The port's endpoint resolves only to addresses the egress rules refuse (or its URL is
    refused outright): no connection was made. ``reason`` says why, in the gateway's words."""

    def __init__(self, port: str, reason: str) -> None:
        super().__init__(port, "its endpoint's address is refused by the egress rules")
        self.reason = reason


class PortError(PortFailure):
    code = "PORT_ERROR"


class PortCircuitOpen(PortFailure):
    code = "PORT_CIRCUIT_OPEN"
    status = "circuit_open"
