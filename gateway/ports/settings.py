"""The ports' section of the configuration: the ports and their defaults, the cache, the
breaker and retries, the registry and its egress rules, and a port as the fan-out sees it."""

import ipaddress
import re
from typing import Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    field_validator,
)

from gateway.config_types import Duration, Strict
from gateway.ports.egress import DEFAULT_SCHEMES, EgressRules, parse_host_entry
from portcontract.identifiers import UNLOCODE_PATTERN

DEFAULT_PORT_TIMEOUT = 2.0
DEFAULT_MAX_CONNECTIONS_PER_PORT = 64
DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024
DEFAULT_CACHE_MAX_BYTES = 64 * 1024 * 1024
SMDG_TERMINAL_PATTERN = re.compile(r"[A-Z0-9]{1,6}")
ROOT_FIELDS = ("ports", "container", "containers", "vesselCalls", "vessel", "portMetrics")


class PortDefaults(Strict):
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


class PortConfig(Strict):
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


class CacheSettings(Strict):
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


class BreakerSettings(Strict):
    """Per-port circuit breaker."""

    failure_threshold: int = Field(5, ge=1, description="Failures in a row that open the breaker.")
    reset_timeout: Duration = Field(
        30.0, description="How long it stays open before one trial request is let through."
    )


class RetrySettings(Strict):
    """Retries of port reads after a refused connection or a 5xx, never past the deadline."""

    attempts: int = Field(2, ge=1, le=5, description="Tries in all, the first included.")
    backoff: Duration = Field(0.05, description="Base of the jittered exponential backoff.")
    max_backoff: Duration = Field(0.5, description="Longest wait between two tries.")
    on_timeout: bool = Field(
        False, description="Also retry after a port's own timeout (costly: off by default)."
    )


class EgressSettings(Strict):
    """Which addresses a port's endpoint may have (see gateway/ports/egress.py). Checked when a port
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


class RegistrySettings(Strict):
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
