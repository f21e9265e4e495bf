"""Authenticate: a request's credential -> the :class:`Principal` every later stage sees.

A credential comes as ``Authorization: Bearer <token>`` or ``X-API-Key: <key>``:

- an API key (``pgk_<key id>_<secret>``, see :mod:`gateway.access.apikeys`), looked up by its key id
  and compared by hash in constant time, revocations seen on the next request;
- an OIDC access token (a JWT, see :mod:`gateway.access.oidc`), verified against the identity
  provider's JWKS.

No credential at all gives the ``public`` role when anonymous use is allowed, else
:class:`~gateway.errors.Unauthenticated`. A credential that is present but bad (malformed,
unknown, revoked, expired, wrongly signed) is always ``Unauthenticated``: never a silent
downgrade to ``public``.

A credential may be bound to ports (an API key's ``--port``, a token's ports claim): its roles
then reach those ports only. The roles in ``PORT_BOUND_ROLES`` (``port_admin``) exist only
bound: a credential holding one and bound to no port fails closed, to the ``public`` role alone
(in the admin API and in the field policy alike).
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from gateway.errors import Unauthenticated

log = logging.getLogger(__name__)

PUBLIC_ROLE = "public"
PORT_BOUND_ROLES = frozenset({"port_admin"})
API_KEY_HEADER = "x-api-key"
API_KEY_PREFIX = "pgk_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking. Policies depend on ``roles`` (and ``ports``) only, never on who it is."""

    client_id: str
    organisation: str
    roles: frozenset[str]
    ports: frozenset[str] | None  # None: every port its roles reach; else only these
    method: str  # "anonymous", "api_key" or "oidc"


ANONYMOUS = Principal("anonymous", "", frozenset({PUBLIC_ROLE}), None, "anonymous")


def bound_to_its_ports(principal: Principal) -> Principal:
    """``principal``, or only ``public`` when it holds a port-bound role and names no port."""
    if principal.roles & PORT_BOUND_ROLES and not principal.ports:
        log.info(
            "%s (%s) holds %s but is bound to no port: public only",
            principal.client_id, principal.method, sorted(principal.roles & PORT_BOUND_ROLES),
        )  # fmt: skip
        return replace(principal, roles=frozenset({PUBLIC_ROLE}), ports=None)
    return principal


class KeyVerifier(Protocol):
    def verify(self, key: str) -> Principal:
        """The principal an API key stands for, or raise ``Unauthenticated``."""
        ...


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Principal:
        """The principal a bearer token stands for, or raise ``Unauthenticated``."""
        ...


class Authenticator:
    """Turns request headers into a :class:`Principal`; the only place credentials are read."""

    def __init__(
        self,
        *,
        allow_anonymous: bool,
        api_keys: KeyVerifier | None,
        tokens: TokenVerifier | None,
    ) -> None:
        self._allow_anonymous = allow_anonymous
        self._api_keys = api_keys
        self._tokens = tokens

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """``headers`` with lower-case names. Raises ``Unauthenticated``."""
        authorization = headers.get("authorization")
        api_key = headers.get(API_KEY_HEADER)
        if authorization is not None and api_key is not None:
            raise Unauthenticated("send one credential: Authorization or X-API-Key, not both")
        if api_key is not None:
            return bound_to_its_ports(self._verify_key(api_key.strip()))
        if authorization is not None:
            scheme, _, credential = authorization.strip().partition(" ")
            credential = credential.strip()
            if scheme.lower() != "bearer" or not credential:
                raise Unauthenticated("the Authorization header must be 'Bearer <credential>'")
            if credential.startswith(API_KEY_PREFIX):
                return bound_to_its_ports(self._verify_key(credential))
            if self._tokens is None:
                raise Unauthenticated("bearer tokens are not accepted here; use an API key")
            return bound_to_its_ports(await self._tokens.verify(credential))
        if self._allow_anonymous:
            return ANONYMOUS
        raise Unauthenticated("a credential is required: an API key or a bearer token")

    def _verify_key(self, key: str) -> Principal:
        if self._api_keys is None:
            raise Unauthenticated("API keys are not accepted here")
        return self._api_keys.verify(key)


def principal_of(scope_state: Any) -> Principal | None:
    """The principal the authentication middleware put on a request's state, if any."""
    principal = getattr(scope_state, "principal", None)
    if principal is None and isinstance(scope_state, Mapping):
        principal = scope_state.get("principal")
    return principal if isinstance(principal, Principal) else None
