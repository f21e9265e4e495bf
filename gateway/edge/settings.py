"""The edge's section of the configuration: the server in front of the gateway, load shedding
and cross-origin access."""

import ipaddress
from typing import Literal

from pydantic import (
    Field,
    field_validator,
)

from gateway.config_types import Duration, Strict
from gateway.ports.settings import EgressSettings


def _network(value: str) -> str:
    """``value`` as a network (``10.0.0.0/8``, ``192.0.2.7``, ``::1``), normalised; else raise."""
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or network (CIDR)") from None


class ServerSettings(Strict):
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


class LoadSheddingSettings(Strict):
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


class CorsSettings(Strict):
    """Cross-origin browser access (Starlette's CORSMiddleware); none unless origins are set.
    A browser's WebSocket is accepted from these origins and the gateway's own only."""

    allow_origins: tuple[str, ...] = Field(
        (),
        description="Origins allowed to call the API from a browser (`https://app.example`), "
        "and to open WebSockets to it (besides the gateway's own origin; an upgrade from any "
        "other is refused with HTTP 403 `ORIGIN_NOT_ALLOWED`).",
    )
    allow_credentials: bool = Field(False, description="Let browsers send cookies along.")
    max_age: Duration = Field(600.0, description="How long a browser may keep a preflight answer.")


class DcsaSettings(Strict):
    """The DCSA Track & Trace 2.2 facade (`/dcsa/tnt`): the key of its paging cursors, and its
    event subscriptions, held in this process's memory and delivered from the gateway's own
    subscriptions."""

    callback_egress: EgressSettings = Field(
        default_factory=EgressSettings,
        description="Which addresses a subscription's callbackUrl may have, judged as a port's "
        "endpoint is (`registry.egress`): when it is made or changed, and on the resolved "
        "address of every delivery. By default https to public addresses only.",
    )
    max_subscriptions_per_client: int = Field(
        20, ge=1, description="Event subscriptions one client may hold at once."
    )
    max_subscriptions: int = Field(
        200,
        ge=1,
        description="Event subscriptions one gateway process holds at once. Each remembers "
        "what it sent of at most 5,000 boxes or calls: about 1 MB at most.",
    )
    delivery_attempts: int = Field(
        3, ge=1, le=10, description="Tries of one delivery to a callback before it is dropped."
    )
    delivery_timeout: Duration = Field(
        5.0, description="How long one try of a delivery may take, connecting included."
    )
    cursor_key_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="The name of an environment variable holding the key (at least "
        "32 characters) the facade signs its paging cursors with, read at start-up and never "
        "shown or logged. Give every replica and every worker the same one: a cursor one of "
        "them gave out is then accepted by the others, and after a restart. Unset: each "
        "process signs with a random key of its own, so a cursor is accepted only by the "
        "process that gave it out, until it stops.",
    )
