"""The rate limit at the HTTP edge (:class:`gateway.edge.rate_limit.RateLimit`), driven as the
ASGI middleware it is: who a request counts against (an authenticated client by its id, anyone
else by its IP address, an IPv6 one by its network), which requests are counted at all, and
what a refused one is told. The counting itself is tests/gateway/access/test_rate_limit.py's."""

import logging
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from starlette.types import Message, Receive, Scope, Send

from gateway.access.auth import ANONYMOUS, Principal
from gateway.access.ratelimit import MemoryCounters, RateLimiter
from gateway.edge.counts import EdgeCounts
from gateway.edge.rate_limit import ClientRate, RateLimit, client_key

WINDOW_START = 60.0 * 20_000_000  # the start of a 60 s window
ALICE = Principal("alice", "A", frozenset({"public"}), None, "api_key")
BOB = Principal("bob", "B", frozenset({"public"}), None, "oidc")
BODY = b'{"query": "{ __typename }"}'


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: dict[str, Any] | None
    served: bool  # the request reached the application


class Edge:
    """A RateLimit in front of an application that answers 200, on a fixed clock."""

    def __init__(
        self,
        *,
        requests: int = 2,
        anonymous_requests: int = 1,
        path: str = "/graphql",
        **options: Any,
    ) -> None:
        self.counts = EdgeCounts()
        self.limiter = RateLimiter(MemoryCounters(), 60.0, clock=lambda: WINDOW_START)
        rate = ClientRate(
            self.limiter,
            requests=requests,
            anonymous_requests=anonymous_requests,
            counts=self.counts,
            **options,
        )
        self.middleware = RateLimit(self.app, rate, path=path)
        self.served = 0

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.served += 1
        if scope["type"] == "http":
            # The request reaches the application whole: it reads the body the client sent.
            assert await receive() == {"type": "http.request", "body": BODY, "more_body": False}
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    async def __call__(self, scope: Scope) -> Answer:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": BODY, "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        served = self.served
        await self.middleware(scope, receive, send)
        start = next((m for m in sent if m["type"] == "http.response.start"), None)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return Answer(
            start["status"] if start else 0,
            {k.decode(): v.decode() for k, v in start["headers"]} if start else {},
            orjson.loads(body) if body else None,
            self.served > served,
        )


def http(
    client: str | None = "192.0.2.1",
    principal: Principal | None = None,
    *,
    path: str = "/graphql",
    state_as: str = "dict",
) -> Scope:
    """An HTTP request's scope, its principal on its state as the authentication middleware
    leaves it: in a dict (``scope["state"]``), or as an attribute (a state object)."""
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [],
        "client": (client, 40000) if client is not None else None,
    }
    if principal is not None:
        scope["state"] = (
            {"principal": principal} if state_as == "dict" else SimpleNamespace(principal=principal)
        )
    return scope


@pytest.mark.parametrize("state_as", ["dict", "object"])
def test_an_authenticated_client_counts_by_its_id(state_as: str) -> None:
    assert client_key(http(principal=ALICE, state_as=state_as)) == ("client:alice", True)
    assert client_key(http(principal=BOB, state_as=state_as)) == ("client:bob", True)


@pytest.mark.parametrize(
    ("client", "principal", "key"),
    [
        ("192.0.2.1", ANONYMOUS, "ip:192.0.2.1"),  # no credential: by address
        ("192.0.2.1", None, "ip:192.0.2.1"),  # before authentication ran
        (None, None, "ip:unknown"),  # no address at all (not a TCP client)
        ("2001:db8:1:2:3:4:5:6", None, "ip:2001:db8:1:2::/64"),  # IPv6: its /64
        ("::ffff:192.0.2.7", None, "ip:192.0.2.7"),  # an IPv4 client of a dual-stack socket
        ("unix:/run/portgate.sock", None, "ip:unix:/run/portgate.sock"),  # not an address
    ],
)
def test_anyone_else_counts_by_their_address(
    client: str | None, principal: Principal | None, key: str
) -> None:
    assert client_key(http(client, principal)) == (key, False)


def test_an_ipv6_address_counts_by_the_network_of_the_prefix_configured() -> None:
    scope = http("2001:db8:aaaa:bbbb:cccc::1")
    assert client_key(scope, 48) == ("ip:2001:db8:aaaa::/48", False)
    assert client_key(scope) == ("ip:2001:db8:aaaa:bbbb::/64", False)  # the default


async def test_clients_have_their_own_allowance_and_anonymous_callers_the_smaller_one() -> None:
    edge = Edge(requests=2, anonymous_requests=1)
    assert [(await edge(http("192.0.2.1", ALICE))).status for _ in range(3)] == [200, 200, 429]
    # Alice from another address is still Alice; Bob from Alice's address is Bob.
    assert (await edge(http("192.0.2.9", ALICE))).status == 429
    assert (await edge(http("192.0.2.1", BOB))).status == 200
    # Without a credential, one request per address.
    assert [(await edge(http("198.51.100.1"))).status for _ in range(2)] == [200, 429]
    assert (await edge(http("198.51.100.2", ANONYMOUS))).status == 200
    assert (await edge(http("198.51.100.2", ANONYMOUS))).status == 429


async def test_a_refused_request_is_told_when_to_come_back_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    edge = Edge(anonymous_requests=1)
    assert (await edge(http("198.51.100.1"))).served
    with caplog.at_level(logging.INFO, logger="gateway.edge.rate_limit"):
        refused = await edge(http("198.51.100.1"))
    assert (refused.status, refused.served) == (429, False)
    assert refused.body is not None
    [error] = refused.body["errors"]
    retry_after = error["extensions"]["retryAfter"]
    # The whole 60 s window is left, and part of the next one, where this one still weighs.
    assert 60 <= retry_after <= 120
    assert refused.headers["retry-after"] == str(retry_after)
    assert error["extensions"]["code"] == "RATE_LIMITED"
    message = f"rate limit of 1 requests per 60s exceeded; retry after {retry_after}s"
    assert error["message"] == message
    assert edge.counts.refused["rate_limited"] == 1
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", f"429 ip:198.51.100.1: {message}")
    ]
    assert (await edge(http("198.51.100.1"))).status == 429
    assert edge.counts.refused["rate_limited"] == 2  # each refusal counts


@pytest.mark.parametrize(
    "scope",
    [
        http(path="/healthz"),
        http(path="/metrics"),
        {"type": "websocket", "path": "/graphql", "client": ("198.51.100.1", 1), "headers": []},
        {"type": "lifespan"},
    ],
)
async def test_only_http_requests_to_the_graphql_path_are_counted(scope: Scope) -> None:
    edge = Edge(anonymous_requests=1)
    for _ in range(3):
        assert (await edge(scope)).served
    assert edge.counts.refused["rate_limited"] == 0
    assert (await edge(http("198.51.100.1"))).served  # nothing of the above was counted


async def test_the_path_counted_is_the_one_configured() -> None:
    edge = Edge(anonymous_requests=1, path="/api/graphql")
    assert [(await edge(http(path="/api/graphql"))).status for _ in range(2)] == [200, 429]
    assert [(await edge(http(path="/graphql"))).status for _ in range(2)] == [200, 200]


async def test_ipv6_callers_count_by_the_network_of_the_prefix_the_edge_was_given() -> None:
    """Two addresses in one /48 but in two /64s: one caller at /48, two at the default /64."""
    first, second = http("2001:db8:aaaa:1::1"), http("2001:db8:aaaa:2::1")
    wide = Edge(anonymous_requests=1, ipv6_prefix=48)
    assert [(await wide(first)).status, (await wide(second)).status] == [200, 429]
    default = Edge(anonymous_requests=1)
    assert [(await default(first)).status, (await default(second)).status] == [200, 200]
