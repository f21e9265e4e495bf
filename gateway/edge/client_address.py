"""The client's address behind trusted reverse proxies, and nobody else's word for it.

Pure ASGI middleware, first in the stack: every later stage (the anonymous rate limit, the
in-flight limit per client, logs) reads the client from ``scope["client"]``. A request whose
peer (the TCP connection's other end) is one of ``server.trusted_proxies`` has its client taken
from the one header those proxies set (``server.client_ip_header``):

- the header's addresses are read right to left, each proxy having appended the address it saw;
  the client is the first one that is not itself a trusted proxy, so whatever a client wrote
  into the header before it reached the first proxy is never believed;
- when every address is a trusted proxy, the client is the left-most one;
- an entry that is not an IP address (``unknown``, an obfuscated ``_name``) ends the walk: the
  client is then the trusted proxy right of it; so does the ``MAX_HOPS``-th proxy;
- ``X-Forwarded-Proto`` (``http`` or ``https``) from a trusted peer sets the scheme.

From any other peer every forwarded header is ignored, and the peer is the client. The server
must not rewrite the client itself: ``portgate serve`` runs uvicorn with its own proxy-header
handling off (:mod:`gateway.cli.server`), so this setting is the one source of truth.

Per request: nothing when no proxy is trusted (the middleware is not installed); otherwise one
cached lookup of the peer and, from a trusted peer, one pass over the headers and a cached
lookup per address read.
"""

import functools
import ipaddress
from collections.abc import Sequence
from typing import Literal

from starlette.types import ASGIApp, Receive, Scope, Send

ClientIpHeader = Literal["x-forwarded-for", "forwarded", "x-real-ip"]
TRUST_CACHE_SIZE = 4096  # addresses whose trust is remembered (each a few dozen bytes)
MAX_HOPS = 16  # proxies walked through at most; a longer chain ends at the 16th
_PROTO_HEADER = b"x-forwarded-proto"


class TrustedProxies:
    """Which addresses are trusted proxies: a set of networks, with lookups cached (a proxy's
    own address and its regular clients' are looked up once, not parsed per request)."""

    def __init__(self, networks: Sequence[str]) -> None:
        self._networks = tuple(ipaddress.ip_network(n, strict=False) for n in networks)
        self.trusts = functools.lru_cache(maxsize=TRUST_CACHE_SIZE)(self._trusts)
        self._hop = functools.lru_cache(maxsize=TRUST_CACHE_SIZE)(self._read_hop)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def _trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def _read_hop(self, entry: str) -> tuple[str | None, bool]:
        """A forwarded entry's address (normalised; None if it holds none), and whether it is a
        trusted proxy."""
        address = _address(entry)
        return address, address is not None and self.trusts(address)

    def client(self, addresses: Sequence[str]) -> str | None:
        """The client among ``addresses`` (as the proxies appended them, left to right), or None
        when the right-most one is not an address at all."""
        client = None
        for entry in reversed(addresses):
            address, trusted = self._hop(entry)
            if address is None:
                return client
            client = address
            if not trusted:
                return address
        return client


class ClientAddress:
    def __init__(
        self, app: ASGIApp, trusted_proxies: Sequence[str], header: ClientIpHeader
    ) -> None:
        self.app = app
        self.proxies = TrustedProxies(trusted_proxies)
        self.header = header.encode("latin-1")
        self._for_values = _forwarded_for if header == "forwarded" else _list_values

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            peer = scope.get("client")
            if peer and self.proxies.trusts(peer[0]):
                self._rewrite(scope)
        await self.app(scope, receive, send)

    def _rewrite(self, scope: Scope) -> None:
        values: list[bytes] = []
        for name, value in scope["headers"]:
            if name == self.header:
                values.append(value)
            elif name == _PROTO_HEADER and scope["type"] == "http":
                proto = value.decode("latin-1").strip().lower()
                if proto in ("http", "https"):
                    scope["scheme"] = proto
        if not values:
            return
        client = self.proxies.client(self._for_values(b",".join(values).decode("latin-1")))
        if client is not None:
            scope["client"] = (client, 0)


def _list_values(header: str) -> list[str]:
    return header.rsplit(",", MAX_HOPS)  # bounded work, however long the header


def _forwarded_for(header: str) -> list[str]:
    """The ``for=`` of each element of an RFC 7239 ``Forwarded`` header; an element without one
    counts as an unknown address."""
    values = []
    for element in header.rsplit(",", MAX_HOPS):
        found = "unknown"
        for pair in element.split(";"):
            name, _, value = pair.partition("=")
            if name.strip().lower() == "for":
                found = value.strip().strip('"')
        values.append(found)
    return values


def _address(entry: str) -> str | None:
    """The IP address in a forwarded entry (``192.0.2.7``, ``192.0.2.7:4711``, ``2001:db8::1``,
    ``[2001:db8::1]:4711``), normalised; None when it holds none."""
    entry = entry.strip()
    if entry.startswith("["):
        entry = entry[1 : entry.find("]")] if "]" in entry else ""
    elif entry.count(":") == 1:
        entry = entry.partition(":")[0]
    try:
        return str(ipaddress.ip_address(entry))
    except ValueError:
        return None
