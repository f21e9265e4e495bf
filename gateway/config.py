"""The gateway's configuration: one pydantic model tree, read from a YAML file and the
environment (``PORTGATE_`` prefix, ``__`` between levels), validated at start-up.

Unknown keys are errors; durations are human-readable (``250ms``, ``2s``, ``1m``); per-port
settings are the ``port_defaults`` plus each port's own overrides.

Example ``portgate.yaml``::

    deadline: 3s
    port_defaults:
      timeout: 2s
    ports:
      - id: USLAX
        name: Port of Los Angeles
        url: http://127.0.0.1:9101/graphql
      - id: USOAK
        name: Port of Oakland
        url: http://127.0.0.1:9103/graphql
        timeout: 1500ms
    registry:
      egress:               # endpoints on this machine, over http: listed one by one
        schemes: [http]
        hosts: ["127.0.0.1:9101", "127.0.0.1:9103"]
"""

import difflib
import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gateway.egress import DEFAULT_SCHEMES, EgressRules, parse_host_entry
from portcontract.identifiers import UNLOCODE_PATTERN

DEFAULT_PORT_TIMEOUT = 2.0
DEFAULT_DEADLINE = 5.0
DEFAULT_MAX_BODY_BYTES = 256 * 1024
DEFAULT_MAX_CONNECTIONS_PER_PORT = 64
DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024
DEFAULT_CACHE_MAX_BYTES = 64 * 1024 * 1024
SMDG_TERMINAL_PATTERN = re.compile(r"[A-Z0-9]{1,6}")
ROOT_FIELDS = ("ports", "container", "containers", "vesselCalls", "vessel", "portMetrics")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """Seconds from ``250ms``, ``2s``, ``1.5m``, ``1h``, ``400d`` or a plain number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match[1]) * _UNITS[match[2]]
    else:
        raise ValueError(f"{value!r} is not a duration (use e.g. 250ms, 2s, 1m)")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PortDefaults(_Strict):
    """Settings every port gets unless it overrides them."""

    timeout: Duration = Field(
        DEFAULT_PORT_TIMEOUT,
        description="How long one request to a port may take; at most `deadline`.",
    )
    max_connections: int = Field(
        DEFAULT_MAX_CONNECTIONS_PER_PORT,
        ge=1,
        description="Pooled HTTP connections kept to each port's resolver.",
    )
    max_answer_bytes: int = Field(
        DEFAULT_MAX_ANSWER_BYTES,
        ge=1024,
        description="Largest answer body read from a port; a larger one is a PORT_ERROR, read "
        "no further.",
    )


class PortConfig(_Strict):
    """One port resolver endpoint."""

    id: str = Field(description="The port's UN/LOCODE, e.g. USLAX.")
    name: str = Field(description="The port's name as shown to clients.")
    url: AnyHttpUrl = Field(
        description="The port resolver's GraphQL endpoint (http or https, as `registry.egress` "
        "allows)."
    )
    timeout: Duration | None = Field(
        None, description="Overrides port_defaults.timeout; at most `deadline`."
    )
    capabilities: tuple[str, ...] = Field(
        ROOT_FIELDS, description="Root fields this port answers; by default all of them."
    )
    credential: SecretStr | None = Field(
        None,
        description="Bearer token the gateway presents to this port's resolver (which checks "
        "it). Never shown in any response or log. In the config file, write `credential_env: "
        "NAME` instead to read it from the environment variable NAME at start-up.",
    )
    paused: bool = Field(False, description="Registered but not asked until resumed.")
    terminals: tuple[str, ...] = Field(
        (),
        description="SMDG codes of the port's terminals. When given, a row of the port's "
        "answers that names another terminal is dropped (PORT_CONTRACT_VIOLATION); when "
        "empty, terminals are not checked.",
    )
    cache_ttl: dict[str, Duration] = Field(
        default_factory=dict,
        description="Per-root-field TTLs for this port, over `cache.ttl` (`{container: 10s}`).",
    )

    @field_validator("cache_ttl")
    @classmethod
    def _known_ttl_fields(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(ROOT_FIELDS))
        if unknown:
            raise ValueError(f"unknown root fields {unknown}; known: {list(ROOT_FIELDS)}")
        return value

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: AnyHttpUrl) -> AnyHttpUrl:
        if value.scheme not in ("http", "https"):
            raise ValueError("a resolver URL is http or https")
        return value

    @field_validator("terminals")
    @classmethod
    def _smdg_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [code for code in value if not SMDG_TERMINAL_PATTERN.fullmatch(code)]
        if bad:
            raise ValueError(f"not SMDG terminal codes (1-6 letters or digits): {bad}")
        return value

    @field_validator("id")
    @classmethod
    def _unlocode(cls, value: str) -> str:
        if not UNLOCODE_PATTERN.match(value):
            raise ValueError(f"{value!r} is not a UN/LOCODE (like USLAX)")
        return value

    @field_validator("capabilities")
    @classmethod
    def _known_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(ROOT_FIELDS))
        if unknown:
            raise ValueError(f"unknown root fields {unknown}; known: {list(ROOT_FIELDS)}")
        return value


DEFAULT_TTLS = {
    "ports": 3600.0,
    "container": 30.0,
    "containers": 30.0,
    "vesselCalls": 60.0,
    "vessel": 3600.0,
    "portMetrics": 300.0,
}


class CacheSettings(_Strict):
    """Port answers kept briefly: in memory (bounded in bytes), or in Redis shared by replicas."""

    enabled: bool = Field(True, description="Cache port answers at all.")
    redis_url: str | None = Field(
        None,
        description="redis://host:port/db of a Redis shared by every replica; in memory when "
        "unset. May hold a password: never printed.",
        repr=False,
    )
    namespace: str = Field("portgate", description="Prefix of every cache key.")
    max_bytes: int = Field(
        DEFAULT_CACHE_MAX_BYTES,
        ge=64 * 1024,
        description="Bytes of answers the in-memory cache holds at most (least recently used "
        "go first). With Redis, bound Redis itself (maxmemory with an LRU policy).",
    )
    ttl: dict[str, dict[str, Duration]] = Field(
        default_factory=lambda: {"all": dict(DEFAULT_TTLS)},
        description="How long an answer stays fresh, per root field: `all` for every port, "
        "then per-port overrides (`USLAX: {container: 10s}`). Capped by the port's "
        "Cache-Control max-age.",
    )
    max_staleness: Duration = Field(
        600.0,
        description="How long past its TTL an answer may still be served when its port fails "
        "(stale-if-error); then it is gone.",
    )
    coalesce: bool = Field(
        True,
        description="Share one port request among identical concurrent fetches (in process; "
        "across replicas too with Redis).",
    )
    bypass_roles: tuple[str, ...] = Field(
        ("admin", "port_operator"),
        description="Roles that may skip the cache with a `Cache-Control: no-cache` request.",
    )

    @field_validator("ttl")
    @classmethod
    def _known_ttl_keys(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for scope, fields in value.items():
            if scope != "all" and not UNLOCODE_PATTERN.match(scope):
                raise ValueError(f"{scope!r} is neither `all` nor a UN/LOCODE")
            unknown = sorted(set(fields) - set(ROOT_FIELDS))
            if unknown:
                raise ValueError(f"{scope}: unknown root fields {unknown}")
        return value

    def ttl_for(self, port: str, field: str) -> float:
        for scope in (port, "all"):
            if field in self.ttl.get(scope, {}):
                return self.ttl[scope][field]
        return DEFAULT_TTLS[field]


class BreakerSettings(_Strict):
    """Per-port circuit breaker."""

    failure_threshold: int = Field(5, ge=1, description="Failures in a row that open the breaker.")
    reset_timeout: Duration = Field(
        30.0, description="How long it stays open before one trial request is let through."
    )


class RetrySettings(_Strict):
    """Retries of port reads after a refused connection or a 5xx, never past the deadline."""

    attempts: int = Field(2, ge=1, le=5, description="Tries in all, the first included.")
    backoff: Duration = Field(0.05, description="Base of the jittered exponential backoff.")
    max_backoff: Duration = Field(0.5, description="Longest wait between two tries.")
    on_timeout: bool = Field(
        False, description="Also retry after a port's own timeout (costly: off by default)."
    )


API_KEY_DATABASE_NAME = "portgate-keys.sqlite3"
DEFAULT_JWT_ALGORITHMS = ("RS256", "ES256")
ASYMMETRIC_JWT_ALGORITHMS = frozenset({
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
})  # fmt: skip


class OidcSettings(_Strict):
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


class ApiKeySettings(_Strict):
    """API keys made with `portgate keys create`, stored as hashes in a SQLite file."""

    enabled: bool = Field(True, description="Accept API keys at all.")
    database: Path | None = Field(
        None,
        description=f"The key file; by default `{API_KEY_DATABASE_NAME}` next to the config "
        "file (in the working directory without one). Relative to the config file.",
    )


class AuthSettings(_Strict):
    """Who is asking: API keys, OIDC bearer tokens, or nobody (the `public` role)."""

    allow_anonymous: bool = Field(
        True, description="A request without a credential gets the `public` role; else 401."
    )
    api_keys: ApiKeySettings = Field(default_factory=ApiKeySettings)
    oidc: OidcSettings | None = Field(None, description="Accept this provider's bearer tokens.")


class PolicySettings(_Strict):
    """Which role sees which field (the policy file format is in gateway/policy.py)."""

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


AUDIT_STORE_URL = "sqlite:///portgate-audit.sqlite3"


class AuditSettings(_Strict):
    """The audit trail: one record per operation, hash-chained (see gateway/audit.py)."""

    store: str = Field(
        AUDIT_STORE_URL,
        description="Where records are kept: `sqlite:///relative/file.sqlite3` (relative to the "
        "working directory), `sqlite:////absolute/file.sqlite3`, or `postgresql://...` for a "
        "trail shared by several replicas. May hold a password: never printed.",
        repr=False,
    )
    required: bool = Field(
        False,
        description="Fail an operation closed (AUDIT_UNAVAILABLE, no answer) when its record "
        "cannot be written, and refuse to start when the store cannot be reached; else the "
        "failure is logged and counted, the answer goes out, and a store that cannot be reached "
        "at start-up is tried again in the background while records wait in the queue.",
    )
    queue_size: int = Field(
        10_000,
        ge=1,
        description="Records waiting for the store (when not required) before new ones are "
        "dropped, logged and counted.",
    )
    queue_max_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1024 * 1024,
        description="Bytes of the records waiting for the store (their texts plus about 4 KB "
        "each); past it, as past `queue_size`, new ones are dropped, logged and counted.",
    )
    batch_window: Duration = Field(
        0.05,
        description="How long the writer gathers records into one transaction (when not "
        "required): a record is in the store at most this long after its answer.",
    )
    max_document_bytes: int = Field(
        16_384,
        ge=256,
        description="The most of one GraphQL document the trail keeps. Each distinct document is "
        "kept once, by its SHA-256; a longer one keeps its first this many bytes, and the record "
        "keeps the SHA-256 and size of the whole, so a known document can still be matched.",
    )
    max_variables_bytes: int = Field(
        8_192,
        ge=64,
        description="The most of one operation's variables (as canonical JSON) a record keeps. "
        "Longer variables are kept as their first this many bytes, with the SHA-256 and size "
        "of the whole.",
    )
    retention: Duration | None = Field(
        None,
        description="How long records are kept, e.g. `400d`; none: for ever. `portgate audit "
        "prune` archives and prunes older records; with `prune_every` the gateway does so itself.",
    )
    prune_every: Duration | None = Field(
        None,
        description="How often the gateway applies `retention` itself (archives, then prunes, "
        "leaving a checkpoint in the chain); none: only `portgate audit prune` prunes. With "
        "PostgreSQL the gateway's role then needs DELETE on the trail's tables.",
    )
    archive_dir: Path | None = Field(
        None,
        description="Where pruned records are archived (JSON Lines, one file per prune, "
        "verifiable on its own). Relative to the working directory. None: the gateway prunes "
        "without an archive; `portgate audit prune` asks for `--archive` or `--no-archive`.",
    )
    connect_backoff: Duration = Field(
        0.5,
        description="When the store cannot be reached at start-up (and `required` is false), the "
        "first wait before trying again; each failure doubles it, up to `connect_backoff_max`.",
    )
    connect_backoff_max: Duration = Field(
        30.0, description="The longest wait between two attempts to reach the store."
    )

    @field_validator("store")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("use sqlite:///path or postgresql://...")
        return value

    @model_validator(mode="after")
    def _prune_needs_retention(self) -> "AuditSettings":
        if self.prune_every is not None and self.retention is None:
            raise ValueError("prune_every needs a retention: how long records are kept")
        return self


class EgressSettings(_Strict):
    """Which addresses a port's endpoint may have (see gateway/egress.py). Checked when a port
    is registered or changed, for the config's ports at start-up, and again on the resolved
    address of every connection; redirects are never followed. By default: https only, to
    public addresses; loopback, link-local, private, shared (CGNAT) and other special-purpose
    addresses are refused unless listed here."""

    schemes: tuple[Literal["http", "https"], ...] = Field(
        DEFAULT_SCHEMES,
        min_length=1,
        description="URL schemes an endpoint may use. `http` sends the port's credential in "
        "clear: allow it only inside a network you trust.",
    )
    hosts: tuple[str, ...] = Field(
        (),
        description="Trusted destinations: host names (`resolver.example`, or `*.ports.example` "
        "for every name under it: whatever they resolve to is allowed) and single addresses "
        "(`10.0.0.7`, `[::1]`), each optionally with `:port` to allow that TCP port only "
        "(`sim-ports:9101`, `127.0.0.1:9101`).",
    )
    networks: tuple[str, ...] = Field(
        (),
        description="CIDRs allowed beyond the public internet (`10.20.0.0/16`, `fd00:1::/64`).",
    )
    public_addresses: bool = Field(
        True, description="Allow public addresses; off: only `hosts` and `networks` are allowed."
    )

    @field_validator("hosts")
    @classmethod
    def _known_hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            parse_host_entry(entry)
        return value

    @field_validator("networks")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not a CIDR (like 10.0.0.0/8)") from None
        return value

    def rules(self) -> EgressRules:
        return EgressRules(
            schemes=self.schemes,
            hosts=self.hosts,
            networks=self.networks,
            public_addresses=self.public_addresses,
        )


class RegistrySettings(_Strict):
    """Where registered ports are kept, how often they are re-read and probed, and which
    endpoints they may have."""

    store: str = Field(
        "sqlite:///portgate-registry.sqlite3",
        description="`sqlite:///file` (one gateway) or `postgresql://...` (replicas share it: "
        "each sees the others' changes within `refresh_interval`). May hold a password: never "
        "printed.",
        repr=False,
    )
    refresh_interval: Duration = Field(
        2.0, description="How often a replica re-reads the registry for others' changes."
    )
    health_interval: Duration = Field(15.0, description="How often each port is probed.")
    probe_timeout: Duration = Field(
        3.0,
        description="How long a probe or a check (before an endpoint takes traffic) of one "
        "port may take, and never longer than that port's own timeout. Each port is probed "
        "under its own bound: a hanging port delays no other.",
    )
    store_timeout: Duration = Field(
        5.0,
        description="How long opening the store may take at start-up. If it cannot be opened, "
        "the gateway serves the config's ports and retries in the background.",
    )
    store_retry_interval: Duration = Field(
        10.0, description="How often an unavailable store is tried again."
    )
    egress: EgressSettings = Field(default_factory=EgressSettings)

    @field_validator("store")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("use sqlite:///file or postgresql://...")
        return value


DEFAULT_MAX_COST = 50_000


class LimitSettings(_Strict):
    """Limits on one operation, each checked before any port is asked: over one, the request is
    refused with HTTP 400 and the limit's own code (see gateway/errors.py)."""

    max_depth: int = Field(
        10, ge=1, description="Deepest nesting of fields, the root field being 1 (QUERY_TOO_DEEP)."
    )
    max_aliases: int = Field(
        30, ge=0, description="Aliased fields, counted through fragments (QUERY_TOO_MANY_ALIASES)."
    )
    max_root_fields: int = Field(
        10, ge=1, description="Root fields of one operation (QUERY_TOO_MANY_ROOT_FIELDS)."
    )
    max_tokens: int = Field(
        2_000,
        ge=10,
        description="Lexical tokens (comments included) before parsing stops "
        "(QUERY_TOO_MANY_TOKENS).",
    )
    max_cost: int = Field(
        DEFAULT_MAX_COST,
        ge=1,
        description="Largest estimated cost: per root field, list size (references, `first`, "
        "metrics) x selected fields x ports asked, summed (QUERY_TOO_COMPLEX). An `outlook` "
        "costs what its inner queries cost, each page of vessel calls included.",
    )


DEFAULT_OUTLOOK_MAX_CALL_PAGES = 3


class OutlookSettings(_Strict):
    """The computed `outlook` field. Its inner queries run under the operation's deadline and
    count towards its cost (`limits.max_cost`), pages included."""

    window_alignment: Duration = Field(
        60.0,
        description="The window starts at now floored to a whole multiple of this (since the "
        "epoch, UTC), so outlooks asked within it send the same inner queries and share them "
        "through the cache and coalescing. At most a day.",
    )
    max_call_pages: int = Field(
        DEFAULT_OUTLOOK_MAX_CALL_PAGES,
        ge=1,
        le=20,
        description="Pages of 100 vessel calls an outlook may ask, one after another; a window "
        "holding more is counted up to the last page asked (OUTLOOK_TRUNCATED). Each page "
        "counts in the cost estimate.",
    )

    late_after: Duration = Field(
        86_400.0,
        description="An expected call is late when its estimated berth arrival is this much or "
        "more after its planned one. A day, as schedule-reliability measures count a vessel on "
        "time within a day of its schedule; lower it to see smaller slips.",
    )

    @field_validator("window_alignment")
    @classmethod
    def _at_most_a_day(cls, value: float) -> float:
        if value > 86_400:
            raise ValueError("at most a day (24h)")
        return value


class RateLimitSettings(_Strict):
    """Requests per client over a sliding window; past it, HTTP 429 ``RATE_LIMITED``."""

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


def _network(value: str) -> str:
    """``value`` as a network (``10.0.0.0/8``, ``192.0.2.7``, ``::1``), normalised; else raise."""
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or network (CIDR)") from None


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``127.0.0.1:9464``, ``[::1]:9464``, ``0.0.0.0:9464``) as (host, port);
    port 0 is any free port."""
    host, colon, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port (like 127.0.0.1:9464 or [::1]:9464)")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host!r} is not an IP address to listen on") from None
    return host, int(port)


class ServerSettings(_Strict):
    """The HTTP edge: who the client is behind a proxy, and how long a client may take to send
    its request. `portgate serve` applies the timeouts in its HTTP server (uvicorn) and ignores
    forwarded-for headers except as described here."""

    trusted_proxies: tuple[str, ...] = Field(
        (),
        description="Addresses or networks (`10.0.0.0/8`, `192.0.2.7`, `::1`) of the reverse "
        "proxies in front of the gateway. Only a request whose peer is one of them has its "
        "client address taken from `client_ip_header`: the right-most address in it that is not "
        "itself a trusted proxy. From any other peer, forwarded headers are ignored. Empty: the "
        "peer is the client.",
    )
    client_ip_header: Literal["x-forwarded-for", "forwarded", "x-real-ip"] = Field(
        "x-forwarded-for",
        description="The one header the trusted proxies set with the client's address "
        "(`Forwarded` is read for its `for=` parameters). The others are ignored, so a client "
        "cannot slip a different one past a proxy that only appends to this one.",
    )
    header_timeout: Duration = Field(
        10.0,
        description="A request's line and headers must arrive within this, from its first "
        "byte (or from the connection's opening, for its first request): else HTTP 408 and the "
        "connection is closed. A connection that sends nothing is closed after it too.",
    )
    max_header_bytes: int = Field(
        65_536,
        ge=1024,
        description="Largest request line plus headers; past it, HTTP 431 and the connection "
        "is closed.",
    )
    body_timeout: Duration = Field(
        15.0,
        description="A request's whole body must arrive within this once the gateway starts "
        "reading it: else HTTP 408 `REQUEST_TIMEOUT` and the connection is closed.",
    )
    keep_alive_timeout: Duration = Field(
        5.0,
        description="An idle connection between two requests is closed after this (whole "
        "seconds, rounded up).",
    )
    shutdown_timeout: Duration = Field(
        20.0,
        description="On SIGTERM, how long requests under way may take to finish before they "
        "are cancelled (keep it under the orchestrator's grace period).",
    )
    gc_young_threshold: int = Field(
        20_000,
        ge=0,
        description="Objects allocated (less those freed) before Python's cycle collector "
        "looks at the newest ones (its generation-0 threshold; Python's own is 700). A large "
        "answer makes tens of thousands of short-lived objects, nearly all freed as soon as "
        "they are done with, so at 700 the collector runs dozens of times for one request. "
        "`portgate serve` also freezes what start-up made (`gc.freeze`), so the collector never "
        "walks it again. 0 keeps Python's threshold.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_network(v) for v in value)


class LoadSheddingSettings(_Strict):
    """Refuse work the gateway cannot do in time, early and cheaply, instead of letting every
    client's queries (and the ports' breakers) suffer."""

    max_in_flight: int = Field(
        1024,
        ge=1,
        description="GraphQL requests being served at once by one gateway; past it, HTTP 503 "
        "`OVERLOADED` with Retry-After.",
    )
    max_event_loop_lag: Duration | None = Field(
        0.5,
        description="When the gateway's event loop runs this late in two measurements in a "
        "row (it is short of CPU), new GraphQL requests get HTTP 503 `OVERLOADED` with "
        "Retry-After until it catches up. `null`: never shed on lag.",
    )
    lag_interval: Duration = Field(0.1, description="How often the event loop's lag is measured.")
    retry_after: int = Field(
        1, ge=1, description="Seconds a shed client is told to wait (the Retry-After header)."
    )


class MetricsSettings(_Strict):
    """Where `/metrics` (Prometheus) is served and who may read it."""

    listen: str | None = Field(
        None,
        description="`host:port` of a listener of its own for `/metrics` (`127.0.0.1:9464`), "
        "started by `portgate serve` beside the API's; the API's listener then answers 404 "
        "for `/metrics`. Unset: `/metrics` is on the API's listener.",
    )
    roles: tuple[str, ...] = Field(
        (),
        description="Roles whose credential (API key or bearer token) may read `/metrics`, "
        "wherever it is served: another role is 403 (so is no credential, which is the "
        "`public` role, unless anonymous use is off: then 401). Empty: anyone who can reach "
        "the listener.",
    )

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value


class DocumentSettings(_Strict):
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


class CorsSettings(_Strict):
    """Cross-origin browser access (Starlette's CORSMiddleware); none unless origins are set."""

    allow_origins: tuple[str, ...] = Field(
        (), description="Origins allowed to call the API from a browser (`https://app.example`)."
    )
    allow_credentials: bool = Field(False, description="Let browsers send cookies along.")
    max_age: Duration = Field(600.0, description="How long a browser may keep a preflight answer.")


class ResolvedPort(_Strict):
    """A port with its defaults applied: what the fan-out uses."""

    credential: SecretStr | None = Field(None, repr=False)
    cache_ttl: dict[str, float] = Field(default_factory=dict)
    terminals: frozenset[str] = frozenset()

    id: str
    name: str
    url: str
    timeout: float
    capabilities: frozenset[str]


class GatewaySettings(BaseSettings):
    """Everything the gateway needs to start. Secrets are never printed in errors."""

    model_config = SettingsConfigDict(
        extra="forbid", frozen=True, env_prefix="PORTGATE_", env_nested_delimiter="__"
    )

    deadline: Duration = Field(
        DEFAULT_DEADLINE,
        description="The whole query's deadline: no port is waited for past it.",
    )
    port_defaults: PortDefaults = Field(default_factory=PortDefaults)
    ports: tuple[PortConfig, ...] = Field(
        (), description="The port resolver endpoints, in the order results are listed."
    )
    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES, ge=1024, description="Largest request body accepted."
    )
    graphiql: bool = Field(
        True, description="Serve GraphiQL at GET /graphql (a 404 when off, for production)."
    )
    dashboard: bool = Field(
        True,
        description="Serve the outlook dashboard at GET /dashboard (a 404 when off). It asks "
        "/graphql from the browser, with the visitor's own API key if one is pasted.",
    )
    introspection: bool = Field(
        True, description="Answer __schema and __type; off for production (INTROSPECTION_DISABLED)."
    )
    csrf_protection: bool = Field(
        True,
        description="Refuse GET queries and form or text/plain POSTs that carry neither a JSON "
        "content type nor an `X-Portgate-CSRF` (or `Apollo-Require-Preflight`) header.",
    )
    limits: LimitSettings = Field(default_factory=LimitSettings)
    outlook: OutlookSettings = Field(default_factory=OutlookSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    documents: DocumentSettings = Field(default_factory=DocumentSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    load_shedding: LoadSheddingSettings = Field(default_factory=LoadSheddingSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    @model_validator(mode="after")
    def _unique_ports(self) -> "GatewaySettings":
        ids = [p.id for p in self.ports]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"ports listed more than once: {duplicates}")
        return self

    @model_validator(mode="after")
    def _ports_within_bounds(self) -> "GatewaySettings":
        """Every port's timeout within the deadline, every seed endpoint within the egress
        rules (as far as its URL tells: names are resolved at start-up)."""
        problems = [
            f"{key} is {timeout:g}s, over the deadline ({self.deadline:g}s): no port is waited "
            "for longer than the whole query"
            for key, timeout in (
                ("port_defaults.timeout", self.port_defaults.timeout),
                *((f"ports.{i}.timeout [{p.id}]", p.timeout) for i, p in enumerate(self.ports)),
            )
            if timeout is not None and timeout > self.deadline
        ]
        rules = self.registry.egress.rules()
        problems += [
            f"ports.{i}.url [{p.id}] is refused by registry.egress: {reason}"
            for i, p in enumerate(self.ports)
            if (reason := rules.refuses_url(str(p.url))) is not None
        ]
        if problems:
            raise ValueError("\n    ".join(problems))
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment variables override the file, which is passed in as init arguments.
        return env_settings, init_settings

    def resolved_ports(self) -> tuple[ResolvedPort, ...]:
        return tuple(
            ResolvedPort(
                id=p.id,
                name=p.name,
                url=str(p.url),
                timeout=p.timeout or self.port_defaults.timeout,
                capabilities=frozenset(p.capabilities),
                credential=p.credential,
                cache_ttl=dict(p.cache_ttl),
                terminals=frozenset(p.terminals),
            )
            for p in self.ports
            if not p.paused
        )


class ConfigError(Exception):
    """A configuration file that cannot be used; the message points at each bad key."""


def load_settings(path: Path | None = None, **overrides: Any) -> GatewaySettings:
    """Read and validate a YAML config file (or none: defaults and environment only)."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of settings")
        data = _credentials_from_environment(loaded or {}, path)
    data.update(overrides)
    try:
        settings = GatewaySettings(**data)
    except ValidationError as exc:
        where = f"{path}: " if path else ""
        raise ConfigError(where + describe_validation_error(exc)) from None
    return settings if path is None else _relative_to(settings, path.parent)


def _credentials_from_environment(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """A port's ``credential_env: NAME`` in the config file, replaced by its ``credential``
    read from the environment variable NAME, so that the file holds no secret. Only the file
    can do this: the admin API takes the credential itself, never the name of one of the
    gateway's own variables (whose value would then go to an endpoint the caller chose)."""
    ports = data.get("ports")
    if not isinstance(ports, list):
        return data
    read = []
    for index, port in enumerate(ports):
        if isinstance(port, dict) and "credential_env" in port:
            port = dict(port)
            name = port.pop("credential_env")
            where = f"{path}: ports.{index}.credential_env"
            if "credential" in port:
                raise ConfigError(f"{where}: the port also has a credential; keep one of them")
            value = os.environ.get(name) if isinstance(name, str) else None
            if not value:
                raise ConfigError(f"{where}: the environment variable {name!r} is not set")
            port["credential"] = value
        read.append(port)
    return {**data, "ports": read}


def _relative_to(settings: GatewaySettings, base: Path) -> GatewaySettings:
    """Files named in a config file are found next to it: the key file, the policy file, the
    trusted documents' manifest."""
    keys, policy = settings.auth.api_keys, settings.policy
    database = base / (keys.database or API_KEY_DATABASE_NAME)
    policy_file = None if policy.file is None else base / policy.file
    documents = settings.documents
    manifest = None if documents.manifest is None else base / documents.manifest
    return settings.model_copy(
        update={
            "documents": documents.model_copy(update={"manifest": manifest}),
            "auth": settings.auth.model_copy(
                update={"api_keys": keys.model_copy(update={"database": database})}
            ),
            "policy": policy.model_copy(update={"file": policy_file}),
        }
    )


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The settings model a field holds (itself, or the items of its list or mapping)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _near_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Known keys like the last of ``loc``, where it was written (at most three)."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue  # an item of a list: the same model
        field = current.model_fields.get(part)
        current = _model_in(field.annotation) if field is not None else None
    if current is None:
        return []
    wanted = str(loc[-1])
    known = {name: name for name in current.model_fields}
    known |= {f.alias: f.alias for f in current.model_fields.values() if f.alias}
    return difflib.get_close_matches(wanted, list(known), n=3, cutoff=0.6)


def describe_validation_error(exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    """One line per bad key, without echoing the offending values (they may be secrets); an
    unknown key of ``model`` (by default the gateway's settings) with the nearest known ones."""
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
            near = _near_keys(model or GatewaySettings, error["loc"])
            if near:
                message += f" (did you mean {' or '.join(near)}?)"
        lines.append(f"  {key}: {message}")
    return f"{exc.error_count()} invalid setting(s):\n" + "\n".join(lines)
