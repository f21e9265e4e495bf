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

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gateway.access.settings import (
    API_KEY_DATABASE_NAME,
    ApiKeySettings,
    AuthSettings,
    DocumentSettings,
    OidcSettings,
    PolicySettings,
    RateLimitSettings,
)
from gateway.config_types import (
    ConfigError,
    Duration,
    ResolvedPort,
    describe_validation_error,
    parse_duration,
    parse_listen,
)
from gateway.edge.settings import (
    CorsSettings,
    DcsaSettings,
    LoadSheddingSettings,
    ServerSettings,
)
from gateway.ports.settings import (
    DEFAULT_CACHE_MAX_BYTES,
    DEFAULT_MAX_ANSWER_BYTES,
    ROOT_FIELDS,
    BreakerSettings,
    CacheSettings,
    EgressSettings,
    PortConfig,
    PortDefaults,
    RegistrySettings,
    RetrySettings,
)
from gateway.query.settings import (
    LimitSettings,
    OutlookSettings,
    SubscriptionSettings,
)
from gateway.record.settings import (
    AuditSettings,
    MetricsSettings,
)

__all__ = [
    "API_KEY_DATABASE_NAME",
    "DEFAULT_CACHE_MAX_BYTES",
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_ANSWER_BYTES",
    "DEFAULT_MAX_BODY_BYTES",
    "ROOT_FIELDS",
    "ApiKeySettings",
    "AuditSettings",
    "AuthSettings",
    "BreakerSettings",
    "CacheSettings",
    "ConfigError",
    "CorsSettings",
    "DcsaSettings",
    "DocumentSettings",
    "Duration",
    "EgressSettings",
    "GatewaySettings",
    "LimitSettings",
    "LoadSheddingSettings",
    "MetricsSettings",
    "OidcSettings",
    "OutlookSettings",
    "PolicySettings",
    "PortConfig",
    "PortDefaults",
    "RateLimitSettings",
    "RegistrySettings",
    "ResolvedPort",
    "RetrySettings",
    "ServerSettings",
    "SubscriptionSettings",
    "describe_validation_error",
    "load_settings",
    "parse_duration",
    "parse_listen",
]

DEFAULT_DEADLINE = 5.0
DEFAULT_MAX_BODY_BYTES = 256 * 1024


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
    subscriptions: SubscriptionSettings = Field(default_factory=SubscriptionSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    documents: DocumentSettings = Field(default_factory=DocumentSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)
    dcsa: DcsaSettings = Field(default_factory=DcsaSettings)
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
        raise ConfigError(where + describe_validation_error(exc, GatewaySettings)) from None
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
