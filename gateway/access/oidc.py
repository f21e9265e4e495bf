"""OIDC / JWT bearer tokens, verified against the identity provider's JWKS.

Checked on every token: the algorithm is on the allow-list (asymmetric only: never ``none``,
never HS* with a public key), the signing key (by ``kid``) is in the provider's JWKS, the
signature, the issuer, the audience, the expiry (with a small leeway) and the lifetime: a token
living longer than ``max_lifetime`` (``exp - iat``, or ``exp`` that far from now) is refused.
Claims give the principal: the client id from ``azp``, ``client_id`` or ``sub``; roles,
organisation and ports from configurable claims, dotted paths allowed (``realm_access.roles``).
The ports claim (a list of UN/LOCODEs, or one space-separated string) binds the token to those
ports as an API key is bound; a ``port_admin`` without it is only ``public``
(:func:`gateway.access.auth.bound_to_its_ports`). A ports claim that is not UN/LOCODEs is refused.

The JWKS is fetched with the app's shared ``httpx.AsyncClient`` and its keys cached by ``kid``.
An unknown ``kid`` (a key rotation) fetches it again, at most once per
``jwks_refresh_interval`` however many tokens name unknown keys; keys older than
``jwks_max_age`` are fetched again on the next token. A failed fetch keeps the keys already
known. Messages to clients never carry the JWKS URL or key material; the log says more.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from gateway.access.auth import Principal
from gateway.access.settings import OidcSettings
from gateway.errors import Unauthenticated
from portcontract.identifiers import UNLOCODE_PATTERN

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class OidcVerifier:
    """Verifies bearer tokens of one identity provider. ``clock`` paces JWKS fetches."""

    def __init__(
        self, settings: OidcSettings, client: httpx.AsyncClient, *, clock: Clock = time.monotonic
    ) -> None:
        self._settings = settings
        self._client = client
        self._clock = clock
        self._jwks: dict[str, dict[str, Any]] = {}  # kid -> JWK as published
        self._keys: dict[tuple[str, str], jwt.PyJWK] = {}  # (kid, alg) -> parsed key
        self._fetched_at: float | None = None
        self._last_attempt: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0  # JWKS requests made, successful or not

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("malformed bearer token") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in self._settings.algorithms:
            raise Unauthenticated("the bearer token's signing algorithm is not accepted")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("the bearer token names no signing key (kid)")
        key = await self._key(kid, algorithm)
        if key is None:
            raise Unauthenticated("the bearer token is signed by a key this gateway does not trust")
        settings = self._settings
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the bearer token has expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated("the bearer token is not meant for this gateway") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated("the bearer token comes from an untrusted issuer") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("the bearer token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            log.info("bearer token rejected: %s", exc)
            raise Unauthenticated("invalid bearer token") from None
        self._check_lifetime(claims)
        return self._principal(claims)

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        limit = self._settings.max_lifetime
        expires, issued = claims["exp"], claims.get("iat")
        too_long = expires - time.time() > limit + self._settings.leeway  # as PyJWT judges exp
        if isinstance(issued, int | float) and not isinstance(issued, bool):
            too_long = too_long or expires - issued > limit
        if too_long:
            raise Unauthenticated(
                f"the bearer token lives longer than the {_duration(limit)} this gateway "
                "accepts: ask your identity provider for a shorter-lived token"
            )

    def _principal(self, claims: dict[str, Any]) -> Principal:
        client_id = next(
            (v for c in ("azp", "client_id", "sub") if isinstance(v := claims.get(c), str) and v),
            None,
        )
        if client_id is None:
            raise Unauthenticated("the bearer token names no client (azp, client_id or sub)")
        organisation = claim(claims, self._settings.organisation_claim)
        return Principal(
            client_id=client_id,
            organisation=organisation if isinstance(organisation, str) else "",
            roles=frozenset(_roles(claim(claims, self._settings.roles_claim))),
            ports=_ports(claim(claims, self._settings.ports_claim)),
            method="oidc",
        )

    async def _key(self, kid: str, algorithm: str) -> jwt.PyJWK | None:
        if self._is_fresh() and kid in self._jwks:
            return self._parsed(kid, algorithm)
        async with self._lock:  # one fetch, however many requests are waiting for it
            if not (self._is_fresh() and kid in self._jwks) and self._may_fetch():
                await self._fetch()
        return self._parsed(kid, algorithm) if kid in self._jwks else None

    def _is_fresh(self) -> bool:
        return (
            self._fetched_at is not None
            and self._clock() - self._fetched_at < self._settings.jwks_max_age
        )

    def _may_fetch(self) -> bool:
        return (
            self._last_attempt is None
            or self._clock() - self._last_attempt >= self._settings.jwks_refresh_interval
        )

    async def _fetch(self) -> None:
        self._last_attempt = self._clock()
        self.fetches += 1
        url = str(self._settings.jwks_url)
        try:
            response = await self._client.get(
                url,
                headers={"accept": "application/json"},
                timeout=httpx.Timeout(self._settings.jwks_timeout),
            )
            response.raise_for_status()
            document = response.json()
            published = document.get("keys") if isinstance(document, dict) else None
            if not isinstance(published, list):
                raise ValueError("no 'keys' list")
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("JWKS fetch from %s failed (%s); keeping the keys known", url, exc)
            return
        self._jwks = {
            jwk["kid"]: jwk
            for jwk in published
            if isinstance(jwk, dict)
            and isinstance(jwk.get("kid"), str)
            and jwk.get("kty") in ("RSA", "EC", "OKP")  # public keys only, never "oct"
            and jwk.get("use", "sig") == "sig"
        }
        self._keys = {}
        self._fetched_at = self._clock()
        log.info("JWKS fetched: %d signing key(s)", len(self._jwks))

    def _parsed(self, kid: str, algorithm: str) -> jwt.PyJWK | None:
        cached = self._keys.get((kid, algorithm))
        if cached is not None:
            return cached
        jwk = self._jwks[kid]
        if jwk.get("alg", algorithm) != algorithm:
            return None  # the key is published for another algorithm
        try:
            key = jwt.PyJWK(jwk, algorithm=algorithm)
        except jwt.PyJWTError as exc:
            log.warning("JWKS key %s unusable with %s: %s", kid, algorithm, exc)
            return None
        self._keys[(kid, algorithm)] = key
        return key


def claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by dotted path: ``realm_access.roles`` -> ``claims["realm_access"]["roles"]``."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _ports(value: Any) -> frozenset[str] | None:
    """Ports from a claim (a list, or one space-separated string); None without the claim."""
    if value is None:
        return None
    ports = value.split() if isinstance(value, str) else value
    if not isinstance(ports, list) or not all(
        isinstance(p, str) and UNLOCODE_PATTERN.match(p) for p in ports
    ):
        raise Unauthenticated("the bearer token's ports claim is not a list of UN/LOCODEs")
    return frozenset(ports)


def _duration(seconds: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _roles(value: Any) -> list[str]:
    """Roles from a claim: a list of strings, or one space-separated string (like ``scope``)."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []
