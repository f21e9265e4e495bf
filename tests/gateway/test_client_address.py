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
from gateway.http.client_address import MAX_HOPS, ClientAddress, TrustedProxies
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
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    async def receive() -> Message:
        raise AssertionError("not read")

    async def send(message: Message) -> None:
        raise AssertionError("not sent")

    middleware = ClientAddress(app, ["10.0.0.0/8"], "x-forwarded-for")
    headers = [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", b"https")]
    scope: Scope = {"type": "http", "scheme": "http", "client": (peer, 5), "headers": headers}
    await middleware(scope, receive, send)
    assert (seen[0]["client"][0], seen[0]["scheme"]) == (client, scheme)


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
