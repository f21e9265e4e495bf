"""Egress rules: which addresses a port's endpoint may have.

Ports are separate organisations, and a registration names a URL the gateway will then call
with the port's credential. Without rules, whoever may register or move a port could point the
gateway at anything it can reach: its own admin API, a cloud metadata service, a database on
the operator's network. The rules (``registry.egress``) say what may be an endpoint:

- ``schemes``: the URL schemes allowed (by default ``https`` only: a port's credential never
  travels in clear unless the operator allows ``http``);
- ``hosts``: names trusted by name (``resolver.example``, or ``*.ports.example`` for every name
  under it), and single addresses (``127.0.0.1``, ``[::1]``), each optionally with a TCP port
  (``sim-ports:9101``, ``127.0.0.1:9101``) to allow that port only;
- ``networks``: CIDRs allowed beyond the public internet (``10.20.0.0/16``);
- ``public_addresses``: whether public addresses are allowed at all (by default they are).

Every other address is refused: loopback, link-local (169.254.0.0/16, fe80::/10), private
(RFC 1918, fc00::/7), shared (CGNAT, 100.64.0.0/10), unspecified, multicast, reserved and other
special-purpose ranges, also when written as IPv4-mapped, NAT64 or 6to4 IPv6 addresses.

The rules are enforced twice. At registration (the admin API's check, and the config's seed
entries at start-up) an IP literal is judged directly, a listed name is trusted, and any other
name is resolved (through an injectable :class:`Resolver`) and every address it resolves to must
be allowed. At connect time the served gateway resolves through a resolver that drops refused
addresses before any connection is made (:mod:`gateway.ports.upstream_aiohttp`), so a name that
resolves elsewhere later (DNS rebinding) is refused then. Redirects are never followed.

This module is pure (no I/O but the resolver it is handed): the config validates against it
and both HTTP clients consult it.
"""

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_SCHEMES: tuple[Literal["http", "https"], ...] = ("https",)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_NAME = re.compile(rf"^(\*\.)?({_LABEL}\.)*{_LABEL}$")
_RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_ULA = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class EgressRefused(OSError):
    """A destination the egress rules refuse; ``reason`` is in the gateway's own words.

    An ``OSError``, so that an HTTP client's resolver may raise it where name resolution fails.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Resolver(Protocol):
    """Name resolution, as aiohttp's resolvers do it: each result's ``host`` is an address."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> Sequence[Mapping[str, object]]: ...


class SystemResolver:
    """The operating system's resolver (``getaddrinfo``), without blocking the event loop."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> Sequence[Mapping[str, object]]:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, family=family, type=socket.SOCK_STREAM
        )
        return [{"hostname": host, "host": str(info[4][0]), "port": port} for info in infos]


def allowed_addresses(
    rules: "EgressRules", host: str, port: int, found: Sequence[Mapping[str, object]]
) -> list[Mapping[str, object]]:
    """What ``host`` resolved to, less every address the rules refuse (a name the rules list
    keeps all of its addresses); :class:`EgressRefused` when none is left. Each result's
    ``host`` is an address, as :class:`Resolver` gives it."""
    if rules.trusts_name(host, port):
        return list(found)
    allowed = [
        r
        for r in found
        if rules.refuses_address(ipaddress.ip_address(str(r["host"])), port) is None
    ]
    if not allowed:
        raise EgressRefused(f"{host} resolves only to addresses the egress rules refuse")
    return allowed


def refused_class(address: IPAddress) -> str | None:
    """The kind of address ``address`` is when it is not a public one (``"loopback"``,
    ``"private"``, ...), or None for a public address. IPv6 forms of an IPv4 address (mapped,
    NAT64, 6to4) are judged as that IPv4 address."""
    address = _embedded_ipv4(address) or address
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (any(address in n for n in _RFC1918), "private (RFC 1918)"),
        (address in _CGNAT, "shared (CGNAT)"),
        (address in _ULA, "private (unique local)"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "site-local"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "special-purpose"),
    )
    return next((name for refused, name in checks if refused), None)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


@dataclass(frozen=True, slots=True)
class _Name:
    """A trusted name: exact, or (``*.suffix``) every name under ``suffix``; one TCP port or
    any."""

    name: str
    wildcard: bool
    port: int | None

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.wildcard:
            return host.endswith("." + self.name)
        return host == self.name


@dataclass(frozen=True, slots=True)
class _Address:
    address: IPAddress
    port: int | None

    def matches(self, address: IPAddress, port: int) -> bool:
        return self.address == address and self.port in (None, port)


def parse_host_entry(entry: str) -> _Name | _Address:
    """``name``, ``*.suffix``, ``1.2.3.4``, ``::1`` or ``[::1]``, each optionally ``:port``
    (IPv6 with a port in brackets). Raises ValueError saying what is wrong."""
    text = entry.strip().lower()
    port: int | None = None
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{entry!r}: write an IPv6 address with a port as [addr]:port")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
        port = int(port_text)
    try:
        return _Address(ipaddress.ip_address(host), port)
    except ValueError:
        pass
    host = host.rstrip(".")
    if not host or not _NAME.match(host):
        raise ValueError(f"{entry!r} is neither a host name, a `*.suffix` nor an IP address")
    wildcard = host.startswith("*.")
    return _Name(host[2:] if wildcard else host, wildcard, port)


class EgressRules:
    """The compiled ``registry.egress`` settings; see the module docstring."""

    def __init__(
        self,
        *,
        schemes: Iterable[str] = DEFAULT_SCHEMES,
        hosts: Iterable[str] = (),
        networks: Iterable[str] = (),
        public_addresses: bool = True,
    ) -> None:
        self.schemes = tuple(schemes)
        entries = [parse_host_entry(h) for h in hosts]
        self._names = [e for e in entries if isinstance(e, _Name)]
        self._addresses = [e for e in entries if isinstance(e, _Address)]
        self._networks: list[IPNetwork] = [ipaddress.ip_network(n, strict=False) for n in networks]
        self._public = public_addresses

    def trusts_name(self, host: str, port: int) -> bool:
        """Whether ``host`` is listed by name (then whatever it resolves to is allowed)."""
        host = host.lower().rstrip(".")
        return any(n.matches(host, port) for n in self._names)

    def refuses_address(self, address: IPAddress, port: int) -> str | None:
        """Why ``address:port`` may not be connected to, or None."""
        if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
            address = ipaddress.IPv6Address(str(address).partition("%")[0])
        forms = {address, _embedded_ipv4(address) or address}  # ::ffff:10.0.0.1 is 10.0.0.1
        if any(a.matches(form, port) for a in self._addresses for form in forms):
            return None
        if any(form in n for n in self._networks for form in forms):
            return None
        kind = refused_class(address)
        if kind is not None:
            return f"{address} is a {kind} address, not listed in the egress rules"
        if not self._public:
            return f"{address} is not listed in the egress rules (public addresses are off)"
        return None

    def refuses_url(self, url: str) -> str | None:
        """What the URL alone says: a scheme not allowed, or an IP literal refused. A name that
        is not listed passes here: it is judged on what it resolves to (:meth:`admit`)."""
        target = _target(url)
        if isinstance(target, str):
            return target
        scheme, host, port = target
        if scheme not in self.schemes:
            return f"the scheme {scheme} is not allowed (allowed: {', '.join(self.schemes)})"
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None
        return self.refuses_address(address, port)

    async def admit(self, url: str, resolver: Resolver) -> str | None:
        """Why ``url`` may not be a port's endpoint, or None: the URL itself, then, for a name
        that is not listed, every address it resolves to. A name that does not resolve now is
        not refused here (it is unreachable, and its addresses are judged when connecting)."""
        refusal = self.refuses_url(url)
        target = _target(url)
        if refusal is not None or isinstance(target, str):
            return refusal
        _, host, port = target
        if _is_address(host) or self.trusts_name(host, port):
            return None
        if not self._public and not self._networks:
            # Only what is listed passes, and a name passes by being listed: this one is
            # refused without being looked up.
            return f"the host {host} is not listed in the egress rules (public addresses are off)"
        try:
            results = await resolver.resolve(host, port, socket.AF_UNSPEC)
        except OSError:
            return None
        for result in results:
            address = ipaddress.ip_address(str(result["host"]).partition("%")[0])
            if self.refuses_address(address, port) is not None:
                kind = refused_class(address) or "not allowed"
                return f"the host {host} resolves to an address the egress rules refuse ({kind})"
        return None


def _target(url: str) -> tuple[str, str, int] | str:
    """(scheme, host, port) of ``url``, or why it has none."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "the URL is malformed"
    scheme = parts.scheme.lower()
    if not parts.hostname:
        return "the URL names no host"
    return scheme, parts.hostname.rstrip("."), port or _DEFAULT_PORTS.get(scheme, 0)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
