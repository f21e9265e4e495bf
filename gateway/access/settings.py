"""The access section of the configuration: credentials (OIDC, API keys), the field policy,
rate limits and which documents may run."""

from pathlib import Path
from typing import Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    field_validator,
    model_validator,
)

from gateway.config_types import Duration, Strict

API_KEY_DATABASE_NAME = "portgate-keys.sqlite3"
DEFAULT_JWT_ALGORITHMS = ("RS256", "ES256")
ASYMMETRIC_JWT_ALGORITHMS = frozenset({
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
})  # fmt: skip


class OidcSettings(Strict):
    """An OpenID Connect identity provider whose access tokens (JWTs) the gateway accepts."""

    issuer: str = Field(description="The `iss` every token must carry.")
    audience: str = Field(description="The `aud` every token must carry: this gateway's id.")
    jwks_url: AnyHttpUrl = Field(description="The provider's JWKS document (its `jwks_uri`).")
    algorithms: tuple[str, ...] = Field(
        DEFAULT_JWT_ALGORITHMS,
        description="Signing algorithms accepted; asymmetric only (never `none` or HS*).",
    )
    roles_claim: str = Field(
        "roles",
        description="Claim holding the roles, a dotted path into objects allowed "
        "(`realm_access.roles`): a list, or one space-separated string.",
    )
    organisation_claim: str = Field("org", description="Claim naming the organisation.")
    ports_claim: str = Field(
        "ports",
        description="Claim binding the token to ports (a list of UN/LOCODEs, or one "
        "space-separated string; dotted paths allowed), as `portgate keys create --port` binds "
        "a key: its roles then reach those ports only. A `port_admin` without it (or with an "
        "empty one) gets no more than `public`.",
    )
    max_lifetime: Duration = Field(
        86_400.0,
        description="Longest token lifetime accepted: a token whose `exp` is further than this "
        "from its `iat`, or from now (plus `leeway`), is refused (UNAUTHENTICATED).",
    )
    leeway: Duration = Field(30.0, description="Clock skew allowed on `exp` and `nbf`.")
    jwks_refresh_interval: Duration = Field(
        60.0, description="Least time between two JWKS fetches caused by an unknown `kid`."
    )
    jwks_max_age: Duration = Field(3600.0, description="Keys older than this are fetched again.")
    jwks_timeout: Duration = Field(2.0, description="How long one JWKS fetch may take.")

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        refused = sorted(set(value) - ASYMMETRIC_JWT_ALGORITHMS)
        if refused or not value:
            raise ValueError(
                f"not accepted: {refused or 'an empty list'}; use some of "
                f"{sorted(ASYMMETRIC_JWT_ALGORITHMS)}"
            )
        return value


class ApiKeySettings(Strict):
    """API keys made with `portgate keys create`, stored as hashes in a SQLite file."""

    enabled: bool = Field(True, description="Accept API keys at all.")
    database: Path | None = Field(
        None,
        description=f"The key file; by default `{API_KEY_DATABASE_NAME}` next to the config "
        "file (in the working directory without one). Relative to the config file.",
    )


class AuthSettings(Strict):
    """Who is asking: API keys, OIDC bearer tokens, or nobody (the `public` role)."""

    allow_anonymous: bool = Field(
        True, description="A request without a credential gets the `public` role; else 401."
    )
    api_keys: ApiKeySettings = Field(default_factory=ApiKeySettings)
    oidc: OidcSettings | None = Field(None, description="Accept this provider's bearer tokens.")


class PolicySettings(Strict):
    """Which role sees which field (the policy file format is in gateway/access/policy.py)."""

    file: Path | None = Field(
        None,
        description="The policy YAML; by default the policy shipped with the gateway. "
        "Relative to the config file. Reloaded when it changes.",
    )
    on_denied: Literal["null", "reject"] = Field(
        "null",
        description="`null`: a denied field is null with a FORBIDDEN_FIELD error; `reject`: "
        "the whole request is refused with HTTP 403.",
    )


class RateLimitSettings(Strict):
    """Requests per client over a sliding window; past it, HTTP 429 ``RATE_LIMITED``. A
    WebSocket upgrade and each subscribe on a socket count as requests."""

    enabled: bool = Field(True, description="Limit the rate of GraphQL requests at all.")
    requests: int = Field(
        600, ge=1, description="Requests per window for each authenticated client id."
    )
    anonymous_requests: int = Field(
        120, ge=1, description="Requests per window for each client IP without a credential."
    )
    window: Duration = Field(60.0, description="The sliding window the counts are over.")
    redis_url: str | None = Field(
        None,
        description="redis://host:port/db shared by every replica, so they share counters; in "
        "memory (per replica) when unset. May hold a password: never printed.",
        repr=False,
    )
    namespace: str = Field("portgate", description="Prefix of every counter key in Redis.")
    max_in_flight: int = Field(
        8,
        ge=1,
        description="Requests being served at once for one client (the same client as for "
        "the rate); past it, HTTP 429 `CONCURRENCY_LIMITED` with Retry-After, not counted "
        "against the rate.",
    )
    anonymous_ipv6_prefix: int = Field(
        64,
        ge=32,
        le=128,
        description="A caller without a credential from an IPv6 address is counted by its "
        "network of this prefix length (one subscriber usually holds a whole /64).",
    )
    memory_max_bytes: int = Field(
        8 * 1024 * 1024,
        ge=64 * 1024,
        description="Bytes of counters kept in memory when `redis_url` is unset (about 300 "
        "bytes a client); past it the least recently seen clients are forgotten.",
    )


class DocumentSettings(Strict):
    """Which documents run: any (with automatic persisted queries), or registered ones only."""

    trusted_only: bool = Field(
        False,
        description="Production mode: run only the documents in `manifest` (by SHA-256); any "
        "other is refused with PERSISTED_QUERY_NOT_IN_LIST.",
    )
    manifest: Path | None = Field(
        None,
        description="JSON manifest of trusted documents (Apollo's persisted query manifest, "
        "or a map of sha256 -> document), read at start-up. Relative to the config file.",
    )
    apq: bool = Field(
        True,
        description="Automatic persisted queries (`extensions.persistedQuery`) when not "
        "`trusted_only`; kept in the cache's Redis when `cache.redis_url` is set.",
    )
    apq_max_bytes: int = Field(
        8 * 1024 * 1024,
        ge=64 * 1024,
        description="Bytes of APQ documents kept in memory (least recently used go first).",
    )
    apq_ttl: Duration = Field(86_400.0, description="How long Redis keeps a registered document.")

    @model_validator(mode="after")
    def _manifest_when_trusted(self) -> "DocumentSettings":
        if self.trusted_only and self.manifest is None:
            raise ValueError("trusted_only needs a manifest of the documents to run")
        return self
