"""The gateway's errors and their stable codes.

Every error a client can see carries a ``code`` that becomes ``extensions.code``; errors caused by
a port also name it in ``extensions.port``. Foreign exceptions (httpx, graphql-core) are
translated into these at exactly one place each (:mod:`gateway.upstream`, :mod:`gateway.plan`).

    GatewayError                      code
    ├── BadUserInput                  BAD_USER_INPUT      a malformed argument or variable
    ├── BadRequest                    BAD_REQUEST         not a GraphQL request at all
    ├── Unauthenticated               UNAUTHENTICATED     no usable credential (HTTP 401)
    ├── ForbiddenField                FORBIDDEN_FIELD     the policy withholds a field from the
    │                                                     caller's roles (null, or HTTP 403)
    ├── AuditUnavailable              AUDIT_UNAVAILABLE   auditing is required and the audit
    │                                                     store failed: the answer is withheld
    └── PortFailure                   (names the port)
        ├── PortTimeout               PORT_TIMEOUT        the port's own timeout passed
        ├── DeadlineExceeded          DEADLINE_EXCEEDED   the query's deadline passed first
        ├── PortUnavailable           PORT_UNAVAILABLE    no connection, or the port's source down
        ├── PortError                 PORT_ERROR          an HTTP error or an unusable answer
        └── PortCircuitOpen           PORT_CIRCUIT_OPEN   not asked: it failed too often lately

Codes reserved for later stages: ``RATE_LIMITED``, ``QUERY_TOO_DEEP``, ``QUERY_TOO_COMPLEX``,
``PERSISTED_QUERY_NOT_FOUND``.
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


class PortError(PortFailure):
    code = "PORT_ERROR"


class PortCircuitOpen(PortFailure):
    code = "PORT_CIRCUIT_OPEN"
    status = "circuit_open"
