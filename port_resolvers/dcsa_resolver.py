"""The ready-made resolver for a port whose system speaks DCSA Track & Trace 2.2.

A port joins with no code of its own: :class:`DcsaResolverSettings` says where its T&T API is
and what the port is; :func:`dcsa_resolver_app` builds the resolver kit's app over
:class:`~port_resolvers.sources.dcsa.DcsaTrackAndTraceSource`; :func:`serve_dcsa_resolver` runs
it with uvicorn, owning the HTTP client to the source for as long as it serves. The command
``portgate resolver dcsa`` (:mod:`port_resolvers.cli`) fills the settings from its options.

Secrets come from the environment, by name (``source_credential_env``,
``gateway_token_env``), and are never printed or logged.
"""

import os
import re
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import uvicorn
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.applications import Starlette
from starlette.routing import Route

from port_resolvers.kit import CacheTtls, PortRecord, create_resolver_app
from port_resolvers.kit.changes import ChangeNotices
from port_resolvers.sources.dcsa import (
    CALLS_AHEAD,
    CALLS_PAST,
    CONTAINER_HISTORY,
    DEFAULT_MAX_CONCURRENCY,
    SCHEDULE_HORIZON,
    DcsaTrackAndTraceSource,
    Windows,
)
from port_resolvers.sources.dcsa_paging import DEFAULT_MAX_PAGES, DEFAULT_PAGE_SIZE
from port_resolvers.sources.dcsa_push import NOTIFICATIONS_PATH, DcsaEventPush
from portcontract.identifiers import check_unlocode, is_smdg_terminal_code

DEFAULT_TIMEOUT: Final = timedelta(seconds=10)
_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SettingsError(ValueError):
    """The resolver cannot start as configured; the message says which setting and why."""


def parse_duration(text: str) -> timedelta:
    """``1500ms``, ``10s``, ``30m``, ``12h``, ``90d`` as a timedelta."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 10s, 30m, 12h or 90d")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2]])


Duration = Annotated[timedelta, Field(gt=timedelta(0))]


class Terminal(BaseModel):
    """A terminal of the port, by SMDG code, with its name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(description="SMDG terminal code (up to 6 letters and digits), e.g. APMT")
    name: str = Field(min_length=1, max_length=100, description="The terminal's name")

    @field_validator("code")
    @classmethod
    def _smdg(cls, code: str) -> str:
        if not is_smdg_terminal_code(code):
            raise ValueError("must be an SMDG terminal code: 1 to 6 capital letters and digits")
        return code


class DcsaResolverSettings(BaseModel):
    """Everything the ready-made DCSA resolver needs; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    port_id: str = Field(description="The port's UN/LOCODE, e.g. USLAX")
    source: str = Field(description="Base URL of the port's T&T 2.2 API (before /v2/events)")
    host: str = Field(default="127.0.0.1", description="Interface the resolver listens on")
    port: int = Field(default=9000, ge=0, le=65535, description="TCP port (0: any free one)")
    source_credential_env: str | None = Field(
        default=None, description="Environment variable holding the source's credential"
    )
    source_credential_header: str = Field(
        default="Authorization",
        description="Header that carries it: Authorization sends 'Bearer <credential>', any "
        "other header the credential as it is",
    )
    gateway_token_env: str | None = Field(
        default=None,
        description="Environment variable holding the token the gateway presents; without it "
        "the resolver answers anyone who reaches it",
    )
    port_name: str | None = Field(default=None, description="The port's name, e.g. Port of X")
    time_zone: str | None = Field(
        default=None,
        description="IANA time zone of the port; timestamps without a UTC offset are read in it",
    )
    terminals: tuple[Terminal, ...] = Field(default=(), description="The port's terminals")
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=1000, description="Events a page")
    max_pages: int = Field(
        default=DEFAULT_MAX_PAGES, ge=1, le=1000, description="Pages read for one question at most"
    )
    max_concurrency: int = Field(
        default=DEFAULT_MAX_CONCURRENCY, ge=1, le=64, description="Requests in flight at once"
    )
    timeout: Duration = Field(default=DEFAULT_TIMEOUT, description="One request to the source")
    container_history: Duration = Field(
        default=CONTAINER_HISTORY, description="How far back a container's events go"
    )
    calls_past: Duration = Field(
        default=CALLS_PAST, description="vesselCalls without from: calls since now - this"
    )
    calls_ahead: Duration = Field(
        default=CALLS_AHEAD, description="vesselCalls without to: calls until now + this"
    )
    schedule_horizon: Duration = Field(
        default=SCHEDULE_HORIZON,
        description="How long before a call its plan may be published",
    )
    event_time_filter: bool = Field(
        default=True,
        description="Also bound questions by eventDateTime (DCSA event domain 3); a source "
        "that refuses it is asked without",
    )
    no_store: bool = Field(default=False, description="Answers may not be cached at all")
    push_callback_url: str | None = Field(
        default=None,
        description="Where the source reaches this resolver's /dcsa/notifications: with it the "
        "resolver subscribes to the source's events (T&T 2.2 event subscriptions) and tells the "
        "gateway what changed, so the gateway need not poll; without it the gateway polls",
    )

    @field_validator("port_id")
    @classmethod
    def _unlocode(cls, port_id: str) -> str:
        return check_unlocode(port_id)

    @field_validator("source")
    @classmethod
    def _url(cls, source: str) -> str:
        url = httpx.URL(source)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http:// or https:// URL")
        if url.query or url.fragment:
            raise ValueError("must be a base URL, without a query or fragment")
        return source.rstrip("/")

    @field_validator("push_callback_url")
    @classmethod
    def _callback(cls, url: str | None) -> str | None:
        if url is not None:
            parsed = httpx.URL(url)
            if parsed.scheme not in ("http", "https") or not parsed.host:
                raise ValueError("must be an http:// or https:// URL")
            if not parsed.path.endswith(NOTIFICATIONS_PATH):
                raise ValueError(f"must end with {NOTIFICATIONS_PATH}, where the resolver listens")
        return url

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, zone: str | None) -> str | None:
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError("is not an IANA time zone, like America/Los_Angeles") from None
        return zone

    @property
    def windows(self) -> Windows:
        return Windows(
            container_history=self.container_history,
            calls_past=self.calls_past,
            calls_ahead=self.calls_ahead,
            schedule_horizon=self.schedule_horizon,
        )

    def port_record(self) -> PortRecord:
        return {
            "UNLocationCode": self.port_id,
            "name": self.port_name,
            "timeZone": self.time_zone,
            "terminals": [
                {"facilitySMDGCode": t.code, "name": t.name, "UNLocationCode": self.port_id}
                for t in self.terminals
            ],
        }


def _secret(environment: Mapping[str, str], name: str | None, option: str) -> str | None:
    if name is None:
        return None
    value = environment.get(name)
    if not value:
        raise SettingsError(f"{option}: the environment variable {name} is not set")
    return value


def source_headers(
    settings: DcsaResolverSettings, environment: Mapping[str, str]
) -> dict[str, str]:
    """The headers that carry the source's credential (none without one)."""
    credential = _secret(environment, settings.source_credential_env, "source_credential_env")
    if credential is None:
        return {}
    header = settings.source_credential_header
    if header.lower() == "authorization":
        return {"Authorization": f"Bearer {credential}"}
    return {header: credential}


def dcsa_push(
    settings: DcsaResolverSettings,
    client: httpx.AsyncClient,
    *,
    environment: Mapping[str, str] | None = None,
) -> DcsaEventPush:
    """The event subscription at the port's T&T API, for :func:`dcsa_resolver_app`; start it
    with the callback URL once the resolver listens."""
    environment = os.environ if environment is None else environment
    headers = source_headers(settings, environment)
    return DcsaEventPush(client, settings.source, ChangeNotices(), headers=headers)


def dcsa_resolver_app(
    settings: DcsaResolverSettings,
    client: httpx.AsyncClient,
    *,
    environment: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] | None = None,
    push: DcsaEventPush | None = None,
) -> Starlette:
    """The resolver kit's app for the port, reading its T&T API through ``client``; ``clock``
    is what it takes as now (by default the current time). With ``push`` (:func:`dcsa_push`)
    it takes the source's signed events at ``POST /dcsa/notifications`` and serves what
    changed on ``GET /changes``."""
    environment = os.environ if environment is None else environment
    source = DcsaTrackAndTraceSource(
        client,
        settings.source,
        settings.port_id,
        port_info=settings.port_record(),
        time_zone=settings.time_zone,
        page_size=settings.page_size,
        max_pages=settings.max_pages,
        max_concurrency=settings.max_concurrency,
        windows=settings.windows,
        event_time_filter=settings.event_time_filter,
        headers=source_headers(settings, environment),
        clock=clock or _utc_now,
    )
    return create_resolver_app(
        source,
        settings.port_id,
        cache_ttls=CacheTtls(),
        no_store=settings.no_store,
        gateway_token=_secret(environment, settings.gateway_token_env, "gateway_token_env"),
        changes=push.notices if push is not None else None,
        routes=[Route(NOTIFICATIONS_PATH, push.receive, methods=["POST"])] if push else (),
    )


def bound_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (0: a free port), for uvicorn to serve: connections
    made before uvicorn serves it wait in its backlog."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)
    except OSError as exc:
        sock.close()
        raise SettingsError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


async def serve_dcsa_resolver(
    settings: DcsaResolverSettings,
    *,
    announce: Callable[[str], None],
    log_level: str = "info",
) -> None:
    """Serve the resolver until stopped; ``announce`` hears the URL once it listens."""
    timeout = settings.timeout.total_seconds()
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        push = dcsa_push(settings, client) if settings.push_callback_url else None
        app = dcsa_resolver_app(settings, client, push=push)
        config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        sock = bound_socket(settings.host, settings.port)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        announce(
            f"{settings.port_id} resolver on http://{shown}:{port}/graphql, "
            f"reading DCSA T&T at {settings.source}"
        )
        if push is not None and settings.push_callback_url is not None:
            push.start(settings.push_callback_url)
        try:
            await server.serve(sockets=[sock])
        finally:
            sock.close()
            if push is not None:
                await push.stop()
