"""The client's address comes from forwarded headers only when the peer is a trusted proxy
(``server.trusted_proxies``), and then it is the right-most address no trusted proxy wrote.

The rules are checked on :class:`TrustedProxies` directly; their effect through a real uvicorn
on loopback, served as ``portgate serve`` serves the gateway, is seen where it matters: the
anonymous rate limit (one request per client IP), which puts two addresses in two buckets and
one address in one."""

from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from gateway.config import ConfigError, load_settings
from gateway.edge.client_address import MAX_HOPS, TRUST_CACHE_SIZE, ClientAddress, TrustedProxies
from tests.gateway.conftest import answering
from tests.gateway.edge_server import uvicorn_gateway

PORTS = {"ports": [{"UNLocationCode": "USLAX", "name": "LA", "_pg_port": "USLAX"}]}
ONE_PER_CLIENT = {"anonymous_requests": 1, "window": "1h"}


@pytest.mark.parametrize(
    ("trusted", "forwarded", "client"),
    [
        (["10.0.0.0/8"], ["203.0.113.7"], "203.0.113.7"),
        # What the client wrote before reaching the first proxy is never believed.
        (["10.0.0.0/8"], ["198.51.100.1", "203.0.113.7"], "203.0.113.7"),
        (["10.0.0.0/8"], ["198.51.100.1", "203.0.113.7", "10.1.1.1"], "203.0.113.7"),
        # Every hop trusted: the client sits inside the trusted network, left-most.
        (["10.0.0.0/8"], ["10.9.9.9", "10.1.1.1"], "10.9.9.9"),
        # Ports and brackets go; IPv6 is written one way only.
        (["10.0.0.0/8"], ["203.0.113.7:4711"], "203.0.113.7"),
        (["10.0.0.0/8"], ["[2001:DB8::1]:4711"], "2001:db8::1"),
        (["10.0.0.0/8"], ["2001:db8:0:0::1"], "2001:db8::1"),
        # Not an address: the walk ends at the trusted hop right of it.
        (["10.0.0.0/8"], ["203.0.113.7", "unknown", "10.1.1.1"], "10.1.1.1"),
        (["10.0.0.0/8"], ["_hidden"], None),
        (["2001:db8::/32"], ["203.0.113.7", "2001:db8::5"], "203.0.113.7"),
    ],
)
def test_the_client_is_the_right_most_address_no_trusted_proxy_wrote(
    trusted: list[str], forwarded: list[str], client: str | None
) -> None:
    assert TrustedProxies(trusted).client(forwarded) == client


def test_the_walk_through_trusted_hops_is_bounded() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"])
    hops = [f"10.0.0.{i}" for i in range(MAX_HOPS)]
    assert proxies.client(["203.0.113.7", *hops]) == "203.0.113.7"
    # Past MAX_HOPS trusted proxies the walk stops at the last one it read.
    header = ",".join(["203.0.113.7", "10.0.0.99", *hops])
    assert proxies.client(header.rsplit(",", MAX_HOPS)) == "10.0.0.0"


@pytest.mark.parametrize(
    ("peer", "client", "scheme"),
    [("10.0.0.2", "203.0.113.7", "https"), ("192.0.2.1", "192.0.2.1", "http")],
)
async def test_the_scope_carries_the_client_and_scheme_the_trusted_proxy_saw(
    peer: str, client: str, scheme: str
) -> None:
    headers = [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", b"https")]
    seen = await seen_by_the_app(headers, peer=(peer, 5))
    assert (seen["client"][0], seen["scheme"]) == (client, scheme)


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    settings = load_settings(None, server={"trusted_proxies": ["10.1.2.3/8", "::1"]})
    assert settings.server.trusted_proxies == ("10.0.0.0/8", "::1/128")
    with pytest.raises(ConfigError, match=r"server\.trusted_proxies"):
        load_settings(None, server={"trusted_proxies": ["nginx"]})


async def statuses(client: httpx.AsyncClient, *headers: dict[str, str]) -> list[int]:
    return [
        (await client.post("/graphql", json={"query": "{ __typename }"}, headers=h)).status_code
        for h in headers
    ]


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored() -> None:
    """The default: no trusted proxy, so a client on this very host (which uvicorn itself
    would trust) cannot pick a new address per request."""
    async with uvicorn_gateway({"USLAX": answering(PORTS)}, rate_limit=ONE_PER_CLIENT) as gateway:
        assert await statuses(
            gateway.client,
            {"x-forwarded-for": "203.0.113.1"},
            {"x-forwarded-for": "203.0.113.2"},
            {"forwarded": "for=203.0.113.3"},
            {"x-real-ip": "203.0.113.4"},
        ) == [200, 429, 429, 429]


async def test_behind_a_trusted_proxy_each_client_has_its_own_allowance() -> None:
    async with uvicorn_gateway(
        {"USLAX": answering(PORTS)},
        rate_limit=ONE_PER_CLIENT,
        server={"trusted_proxies": ["127.0.0.1", "10.0.0.0/8"]},
    ) as gateway:
        assert await statuses(
            gateway.client,
            {"x-forwarded-for": "203.0.113.1"},
            {"x-forwarded-for": "203.0.113.2"},
            {"x-forwarded-for": "203.0.113.1"},
            # A client that writes a fake address first is still the one the proxy saw.
            {"x-forwarded-for": "198.51.100.9, 203.0.113.2"},
            # Two proxies: the client is left of the inner one.
            {"x-forwarded-for": "203.0.113.3, 10.0.0.5"},
            {"x-forwarded-for": "203.0.113.3"},
            # The one header the proxies set counts; another one is the client's own word.
            {"x-forwarded-for": "203.0.113.4", "x-real-ip": "203.0.113.3"},
        ) == [200, 200, 429, 429, 200, 429, 200]


async def test_the_proxies_header_is_the_one_configured() -> None:
    async with uvicorn_gateway(
        {"USLAX": answering(PORTS)},
        rate_limit=ONE_PER_CLIENT,
        server={"trusted_proxies": ["127.0.0.1"], "client_ip_header": "forwarded"},
    ) as gateway:
        assert await statuses(
            gateway.client,
            {"forwarded": 'for=203.0.113.1;proto=https, for="127.0.0.1"'},
            {"forwarded": "for=203.0.113.2"},
            # X-Forwarded-For is not what these proxies set: the peer is the client.
            {"x-forwarded-for": "203.0.113.3"},
            {"x-forwarded-for": "203.0.113.4"},
        ) == [200, 200, 200, 429]


async def test_ipv6_clients_behind_a_proxy_are_counted_by_network() -> None:
    """Served on ::1, trusted as the proxy: one /64 is one client; another /64 is another."""
    settings: dict[str, Any] = {
        "rate_limit": ONE_PER_CLIENT,
        "server": {"trusted_proxies": ["::1"]},
    }
    async with uvicorn_gateway({"USLAX": answering(PORTS)}, host="::1", **settings) as gateway:
        assert await statuses(
            gateway.client,
            {"x-forwarded-for": "2001:db8:1:1::1"},
            {"x-forwarded-for": "2001:db8:1:1::2"},
            {"x-forwarded-for": "2001:db8:1:2::1"},
        ) == [200, 429, 200]


# -- the middleware on its own, every header shape a proxy (or a client) can send ---------------


async def seen_by_the_app(
    headers: list[tuple[bytes, bytes]],
    *,
    header: str = "x-forwarded-for",
    peer: tuple[str, int] = ("10.0.0.2", 5),
    kind: str = "http",
    scheme: str = "http",
) -> Scope:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    async def receive() -> Message:
        raise AssertionError("not read")

    async def send(message: Message) -> None:
        raise AssertionError("not sent")

    middleware = ClientAddress(app, ["10.0.0.0/8"], header)  # type: ignore[arg-type]
    scope: Scope = {"type": kind, "scheme": scheme, "client": peer, "headers": headers}
    await middleware(scope, receive, send)
    return seen[0]


async def test_the_client_replaces_the_peer_with_no_port_of_its_own() -> None:
    """A forwarded address has no port the gateway could know: 0, as ASGI says for unknown."""
    scope = await seen_by_the_app([(b"x-forwarded-for", b"203.0.113.7:4711")])
    assert scope["client"] == ("203.0.113.7", 0)


async def test_a_websocket_connection_gets_the_client_the_proxy_saw() -> None:
    scope = await seen_by_the_app([(b"x-forwarded-for", b"203.0.113.7")], kind="websocket")
    assert scope["client"] == ("203.0.113.7", 0)


async def test_other_kinds_of_connection_are_passed_on_untouched() -> None:
    scope = await seen_by_the_app([(b"x-forwarded-for", b"203.0.113.7")], kind="lifespan")
    assert scope["client"] == ("10.0.0.2", 5)


async def test_a_peer_that_is_not_an_ip_address_is_never_a_trusted_proxy() -> None:
    """A test client or a Unix socket names its peer with a word, which no network holds."""
    scope = await seen_by_the_app(
        [(b"x-forwarded-for", b"203.0.113.7")], peer=("testclient", 50000)
    )
    assert scope["client"] == ("testclient", 50000)


async def test_several_header_lines_are_read_as_one_list() -> None:
    """RFC 9110: a list header sent on two lines is the lines joined with commas."""
    scope = await seen_by_the_app(
        [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-for", b"10.0.0.9")]
    )
    assert scope["client"] == ("203.0.113.7", 0)


@pytest.mark.parametrize(("proto", "scheme"), [(b"http", "http"), (b" HTTPS ", "https")])
async def test_the_proxy_s_scheme_replaces_the_connection_s(proto: bytes, scheme: str) -> None:
    """Behind a proxy that ends TLS elsewhere a request may reach the gateway over TLS from a
    client that used plain HTTP; the proxy's word decides, in either direction."""
    opposite = "https" if scheme == "http" else "http"
    scope = await seen_by_the_app([(b"x-forwarded-proto", proto)], scheme=opposite)
    assert scope["scheme"] == scheme


async def test_only_the_proto_header_sets_the_scheme() -> None:
    scope = await seen_by_the_app([(b"x-upstream", b"https"), (b"x-forwarded-proto", b"ftp")])
    assert scope["scheme"] == "http"


async def test_a_websocket_keeps_its_scheme_whatever_the_proto_header_says() -> None:
    scope = await seen_by_the_app([(b"x-forwarded-proto", b"https")], kind="websocket", scheme="ws")
    assert scope["scheme"] == "ws"


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        # Elements are separated by commas, with or without a space.
        ("for=203.0.113.7,for=10.0.0.9", "203.0.113.7"),
        ('for=203.0.113.7, for="[2001:db8::9]:80";proto=https', "2001:db8::9"),
        ("for=203.0.113.7;by=10.0.0.1, for=10.0.0.9", "203.0.113.7"),
        # An element without for= is an unknown address: the walk ends at the trusted peer.
        ("for=203.0.113.7, proto=https", None),
        # Only the quotes are taken off a value, nothing else.
        ("for=XX203.0.113.7", None),
        ('for="203.0.113.7"', "203.0.113.7"),
    ],
)
async def test_the_forwarded_header_s_for_values_are_read(
    forwarded: str, client: str | None
) -> None:
    scope = await seen_by_the_app([(b"forwarded", forwarded.encode())], header="forwarded")
    assert scope["client"] == ((client, 0) if client else ("10.0.0.2", 5))


@pytest.mark.parametrize("header", ["x-forwarded-for", "forwarded"])
async def test_a_chain_longer_than_max_hops_ends_at_the_last_hop_read(header: str) -> None:
    """However long the header, at most MAX_HOPS + 1 entries are split off its right end; the
    rest is one entry that is no address, so the walk ends at the MAX_HOPS-th trusted proxy and
    what the client wrote at the left is never reached."""
    hops = [f"10.0.1.{i}" for i in range(MAX_HOPS + 4)]
    entries = ["203.0.113.7", *hops]
    if header == "forwarded":
        entries = [f"for={entry}" for entry in entries]
    scope = await seen_by_the_app([(header.encode(), ",".join(entries).encode())], header=header)
    assert scope["client"] == (hops[-MAX_HOPS], 0)


@pytest.mark.parametrize(
    ("entry", "address"),
    [
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1", None),  # no closing bracket: no address
        ("[2001:db8::1]:80]", "2001:db8::1"),  # up to the first closing bracket
        ("2001:db8::1", "2001:db8::1"),
        (" 192.0.2.7:4711 ", "192.0.2.7"),
    ],
)
def test_an_entry_s_address_is_what_its_brackets_or_its_port_leave(
    entry: str, address: str | None
) -> None:
    assert TrustedProxies(["0.0.0.0/0", "::/0"]).client([entry]) == address


def test_a_network_written_with_host_bits_is_the_network_they_are_in() -> None:
    assert TrustedProxies(["10.1.2.3/8"]).trusts("10.200.0.1")


def test_trusting_no_network_is_false_and_any_network_true() -> None:
    """The app installs the middleware only when some proxy is trusted."""
    assert not TrustedProxies([])
    assert TrustedProxies(["10.0.0.0/8"])


def test_the_lookups_remembered_are_bounded() -> None:
    """A client cannot grow the gateway's memory by sending new addresses."""
    proxies = TrustedProxies(["10.0.0.0/8"])
    addresses = [f"198.18.{i // 256}.{i % 256}" for i in range(TRUST_CACHE_SIZE + 500)]
    for address in addresses:
        proxies.client([address])
    assert proxies.trusts.cache_info().currsize <= TRUST_CACHE_SIZE
    assert proxies._hop.cache_info().currsize <= TRUST_CACHE_SIZE
