"""What a WebSocket upgrade must pass before it is accepted, and what holds a socket once open,
beyond the socket limits (tests/gateway/edge/test_websocket.py): the HTTP edge's rate limit,
shared with HTTP requests and keyed the same way, for the upgrade and for each ``subscribe``;
and the ``Origin`` rule against cross-site WebSocket hijacking.

End to end on loopback with the ``websockets`` client, as the other WebSocket tests. The rate's
limiter runs on a clock the test holds (it moves only when the test moves it), so no count
depends on when the test runs."""

from pathlib import Path
from typing import Any, cast

import orjson
import pytest
from starlette.types import Message
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin, Subprotocol

from gateway.access.ratelimit import MemoryCounters, RateLimiter
from gateway.edge.csrf import foreign_origin
from gateway.edge.rate_limit import ClientRate
from gateway.edge.websocket import SUBPROTOCOL, GraphQLWebSockets
from tests.gateway.edge.test_streams import BOX, CountingPort, box, gateway_with
from tests.gateway.edge.test_websocket import (
    events,
    initialised,
    read_up_to_here,
    receive,
    socket,
    subscribe,
    url,
)
from tests.gateway.served import HANG_GUARD_SECONDS, Served

WINDOW = 60.0
WINDOW_START = WINDOW * 20_000_000  # the start of a window
PLANNER = "https://planner.ports.example"  # the origin CORS allows in these tests
QUERY = {"query": "{ __typename }"}


class Clock:
    """The rate limiter's time: still until the test moves it."""

    def __init__(self) -> None:
        self.now = WINDOW_START

    def __call__(self) -> float:
        return self.now


def held_clock(served: Served) -> Clock:
    """Put the gateway's rate (the one the HTTP edge and the WebSocket edge share) on a clock
    the test holds, with fresh counters."""
    clock = Clock()
    rate: ClientRate = served.app.state.websockets.rate
    rate.limiter = RateLimiter(MemoryCounters(), WINDOW, clock=clock)
    return clock


async def refused_upgrade(
    served: Served, headers: dict[str, str] | None = None, origin: str | None = None
) -> tuple[int, dict[str, str], Any]:
    """The status, headers and JSON body of an upgrade the gateway refuses."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            url(served), subprotocols=[Subprotocol(SUBPROTOCOL)], additional_headers=headers,
            origin=Origin(origin) if origin else None, proxy=None,
            open_timeout=HANG_GUARD_SECONDS,
        ):  # fmt: skip
            pass
    response = refused.value.response
    body = orjson.loads(response.body) if response.body else None
    return response.status_code, {k.lower(): v for k, v in response.headers.raw_items()}, body


def code(body: Any) -> str:
    [error] = body["errors"]
    return cast(str, error["extensions"]["code"])


async def test_an_upgrade_counts_against_the_rate_http_requests_count_against(
    tmp_path: Path,
) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    limits = {"requests": 3, "anonymous_requests": 2}
    async with gateway_with(tmp_path, port, rate_limit=limits) as served:
        held_clock(served)
        counts = served.app.state.edge.counts
        # Without a credential, by the address: one HTTP request and one upgrade fit in two.
        assert (await served.client.post("/graphql", json=QUERY)).status_code == 200
        async with socket(served) as ws:
            await initialised(ws)
            status, headers, body = await refused_upgrade(served)
            assert status == 429
            assert code(body) == "RATE_LIMITED"
            [error] = body["errors"]
            assert headers["retry-after"] == str(error["extensions"]["retryAfter"])
            assert int(headers["retry-after"]) >= 1
            assert headers["content-type"] == "application/json"
            await read_up_to_here(ws)  # the socket already open goes on
            # The same allowance, spent by the upgrade: the address's next HTTP request too.
            http = await served.client.post("/graphql", json=QUERY)
            assert http.status_code == 429
            assert http.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert counts.refused["rate_limited"] == 2
        # A credential in the upgrade's headers: by its client id, whatever its address spent.
        admin = served.as_("admin")
        assert (await served.client.post("/graphql", json=QUERY, headers=admin)).status_code == 200
        async with socket(served, headers=admin) as first, socket(served, headers=admin) as second:
            await initialised(first)
            await initialised(second)
            status, _, body = await refused_upgrade(served, headers=admin)
            assert (status, code(body)) == (429, "RATE_LIMITED")
        assert counts.refused["rate_limited"] == 3
        # A credential refused is not a client id: the upgrade counts against its address.
        status, _, body = await refused_upgrade(served, headers={"x-api-key": "pgk_nope_nope"})
        assert (status, code(body)) == (429, "RATE_LIMITED")


async def test_a_refused_upgrade_is_not_counted_and_comes_through_once_the_rate_allows(
    tmp_path: Path,
) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port, rate_limit={"anonymous_requests": 1}) as served:
        clock = held_clock(served)
        async with socket(served) as ws:
            await initialised(ws)
        status, headers, _ = await refused_upgrade(served)
        assert status == 429
        clock.now += int(headers["retry-after"])  # as long as it was told to wait, no longer
        async with socket(served) as ws:
            await initialised(ws)
            await read_up_to_here(ws)


async def test_subscribes_past_the_rate_are_errors_and_the_socket_stays_open(
    tmp_path: Path,
) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port, rate_limit={"requests": 3}) as served:
        clock = held_clock(served)
        live = served.app.state.live
        async with socket(served) as ws:  # the upgrade counts against the address
            # The credential in connection_init: each subscribe counts against its client id.
            await initialised(ws, served.as_("admin"))
            for id in ("1", "2", "3"):
                await subscribe(ws, id, [BOX])
                assert (await receive(ws))["id"] == id
            await subscribe(ws, "4", [BOX])
            refused = await receive(ws)
            assert (refused["type"], refused["id"]) == ("error", "4")
            [error] = refused["payload"]
            assert error["extensions"]["code"] == "RATE_LIMITED"
            assert error["extensions"]["retryAfter"] >= 1
            assert live.total == 3
            # The socket is open: pings are answered, the running subscriptions go on.
            await read_up_to_here(ws)
            port.containers_known[:] = [box("DISC", "GTOT")]
            changed = [await receive(ws) for _ in range(3)]
            assert sorted(m["id"] for m in changed) == ["1", "2", "3"]
            assert all(events(m) == ["DISC", "GTOT"] for m in changed)
            # The same client's HTTP requests share the allowance its subscribes spent.
            admin = served.as_("admin")
            http = await served.client.post("/graphql", json=QUERY, headers=admin)
            assert http.status_code == 429
            # Once the rate allows, the refused id is free and comes through.
            clock.now += error["extensions"]["retryAfter"]
            await subscribe(ws, "4", [BOX])
            again = await receive(ws)
            assert (again["type"], again["id"]) == ("next", "4")
        assert served.app.state.edge.counts.refused["rate_limited"] == 2


async def test_without_a_rate_limit_upgrades_and_subscribes_are_not_counted(
    tmp_path: Path,
) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port, rate_limit={"enabled": False}) as served:
        assert served.app.state.websockets.rate is None
        for _ in range(3):
            async with socket(served) as ws:
                await initialised(ws)
                await subscribe(ws, "1", [BOX])
                assert (await receive(ws))["type"] == "next"


async def test_an_upgrade_from_a_foreign_origin_is_refused_whatever_its_credential(
    tmp_path: Path,
) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port, cors={"allow_origins": [PLANNER]}) as served:
        authenticate = served.app.state.websockets.authenticator.authenticate
        looked_at: list[Any] = []

        async def watched(headers: Any) -> Any:
            looked_at.append(headers)
            return await authenticate(headers)

        served.app.state.websockets.authenticator.authenticate = watched
        for origin, headers in [
            ("https://evil.example", None),
            ("https://evil.example", served.as_("admin")),  # a credential changes nothing
            ("https://planner.ports.example.evil.example", None),
            ("http://planner.ports.example", None),  # not the origin CORS allows
            ("null", None),  # a sandboxed page, a file
            (served.url.replace("127.0.0.1", "localhost"), None),  # another host name
        ]:
            status, _, body = await refused_upgrade(served, headers=headers, origin=origin)
            assert (status, code(body)) == (403, "ORIGIN_NOT_ALLOWED"), origin
            assert origin in body["errors"][0]["message"]
        assert looked_at == []  # refused before any credential was looked at
        assert served.app.state.edge.counts.refused["cross_origin"] == 6
        assert served.app.state.websockets.connections == 0


async def test_the_own_origin_an_allowed_one_and_none_are_accepted(tmp_path: Path) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port, cors={"allow_origins": [PLANNER]}) as served:
        # The gateway's own (its Host: 127.0.0.1 and the port it listens on), one CORS allows,
        # and none at all (not a browser).
        for origin in [served.url, PLANNER, None]:
            async with connect(
                url(served), subprotocols=[Subprotocol(SUBPROTOCOL)],
                origin=Origin(origin) if origin else None, proxy=None,
                open_timeout=HANG_GUARD_SECONDS,
            ) as ws:  # fmt: skip
                await initialised(ws, served.as_("admin"))
                await subscribe(ws, "1", [BOX])
                assert (await receive(ws))["type"] == "next", origin
        assert served.app.state.edge.counts.refused["cross_origin"] == 0


async def test_without_cors_only_the_own_origin_is_accepted(tmp_path: Path) -> None:
    port = CountingPort("USLAX", [box("DISC")])
    async with gateway_with(tmp_path, port) as served:
        status, _, body = await refused_upgrade(served, origin=PLANNER)
        assert (status, code(body)) == (403, "ORIGIN_NOT_ALLOWED")
        async with connect(
            url(served), subprotocols=[Subprotocol(SUBPROTOCOL)], origin=Origin(served.url),
            proxy=None, open_timeout=HANG_GUARD_SECONDS,
        ) as ws:  # fmt: skip
            await initialised(ws)


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "foreign"),
    [
        (None, "gw.example", (), False),  # not a browser
        ("https://gw.example", "gw.example", (), False),
        ("https://gw.example", "GW.Example", (), False),  # host names in any case
        ("https://gw.example", "gw.example:443", (), False),  # the scheme's default port
        ("http://gw.example:8000", "gw.example:8000", (), False),
        ("http://[::1]:8000", "[::1]:8000", (), False),
        # The scheme is not compared: a proxy that ends TLS passes an https page's upgrade on.
        ("http://gw.example", "gw.example", (), False),
        ("https://gw.example:8443", "gw.example", (), True),  # another port
        ("https://gw.example", "gw.example:8443", (), True),
        ("https://evil.example", "gw.example", (), True),
        ("https://gw.example.evil.example", "gw.example", (), True),
        ("https://evil@gw.example", "gw.example", (), True),  # not an origin a browser sends
        ("https://gw.example/", "gw.example", (), True),
        ("chrome-extension://gw.example", "gw.example", (), True),
        ("https://gw.example:99999", "gw.example:99999", (), True),
        ("null", "gw.example", (), True),
        ("https://gw.example", None, (), True),  # no Host to be the own origin of
        ("https://app.example", "gw.example", ("https://app.example",), False),
        ("https://APP.example", "gw.example", ("https://app.example",), True),  # as CORS compares
        ("https://evil.example", "gw.example", ("*",), False),  # CORS lets any page call it
    ],
)
def test_which_origins_are_foreign(
    origin: str | None, host: str | None, allowed: tuple[str, ...], foreign: bool
) -> None:
    headers = [(b"host", host.encode())] if host is not None else []
    headers += [(b"origin", origin.encode())] if origin is not None else []
    assert foreign_origin(headers, allowed) == (origin if foreign else None)


def test_every_origin_of_an_upgrade_must_pass() -> None:
    headers = [(b"host", b"gw.example"), (b"origin", b"https://gw.example")]
    headers.append((b"origin", b"https://evil.example"))
    assert foreign_origin(headers, ()) == "https://evil.example"


async def test_a_server_that_cannot_answer_an_upgrade_with_http_gets_a_close_instead() -> None:
    """Without ASGI's ``websocket.http.response`` extension the refusal is a close before the
    accept, which the server answers with a bare HTTP 403."""
    rate = ClientRate(
        RateLimiter(MemoryCounters(), WINDOW, clock=Clock()), requests=1, anonymous_requests=1
    )
    websockets = GraphQLWebSockets(
        schema=cast(Any, None), live=cast(Any, None), authenticator=cast(Any, None),
        documents=None, observer=None, heartbeat=1.0, max_message_bytes=1024, rate=rate,
    )  # fmt: skip
    assert await rate.take("ip:192.0.2.1", False) is None  # the address's one request, spent

    async def upgrade(origin: bytes | None) -> list[Message]:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "websocket.connect"}

        async def send(message: Message) -> None:
            sent.append(message)

        headers = [(b"host", b"gw.example")] + ([(b"origin", origin)] if origin else [])
        scope = {"type": "websocket", "path": "/graphql", "headers": headers,
                 "client": ("192.0.2.1", 40000), "subprotocols": [SUBPROTOCOL]}  # fmt: skip
        await websockets(scope, receive, send)
        return sent

    assert await upgrade(b"https://evil.example") == [{"type": "websocket.close", "code": 1008}]
    assert rate.counts.refused["rate_limited"] == 0
    assert await upgrade(None) == [{"type": "websocket.close", "code": 1013}]
    assert rate.counts.refused["rate_limited"] == 1
    assert websockets.connections == 0
