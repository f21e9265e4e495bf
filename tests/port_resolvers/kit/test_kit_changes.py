"""GET /changes: the resolver tells the gateway what changed, with the gateway's credential
only, merged for a reader that does not keep up, bounded in listeners; absent without
notices to send."""

import httpx

from port_resolvers.kit import create_resolver_app
from port_resolvers.kit.changes import HEARTBEAT, OPENED, ChangeNotices
from port_resolvers.loopback import serve_on_loopback
from portcontract.changes import EVERYTHING, ChangeNotice
from tests.gateway.query.test_merge import MemoryPort

TOKEN = {"authorization": "Bearer the-gateway"}
BOX = frozenset({"MSCU6639871"})


def resolver(notices: ChangeNotices | None) -> object:
    return create_resolver_app(MemoryPort("USLAX"), "USLAX", gateway_token="the-gateway",
                               changes=notices)  # fmt: skip


async def test_the_gateway_is_told_what_changed_and_merged_when_it_lags() -> None:
    notices = ChangeNotices(heartbeat=3600)
    async with (
        serve_on_loopback(resolver(notices)) as url,
        httpx.AsyncClient(base_url=url) as client,
        client.stream("GET", "/changes", headers=TOKEN) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        chunks = response.aiter_raw()
        assert await anext(chunks) == OPENED
        assert notices.listeners == 1
        notices.publish(ChangeNotice(BOX))
        notices.publish(ChangeNotice(vessel_calls=frozenset({"C1"})))  # before it was read
        notices.publish(ChangeNotice())  # no news: nothing sent
        assert await anext(chunks) == ChangeNotice(BOX, frozenset({"C1"})).to_event()
        notices.publish(EVERYTHING)
        assert await anext(chunks) == b'event: changed\ndata: {"all":true}\n\n'
    assert notices.published == 3


async def test_a_quiet_stream_has_heartbeats() -> None:
    notices = ChangeNotices(heartbeat=0.01)
    async with (
        serve_on_loopback(resolver(notices)) as url,
        httpx.AsyncClient(base_url=url) as client,
        client.stream("GET", "/changes", headers=TOKEN) as response,
    ):
        chunks = response.aiter_raw()
        assert await anext(chunks) == OPENED
        assert await anext(chunks) == HEARTBEAT


async def test_only_the_gateway_listens_and_only_so_many_at_once() -> None:
    notices = ChangeNotices(max_listeners=1)
    async with (
        serve_on_loopback(resolver(notices)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        refused = await client.get("/changes", headers={"authorization": "Bearer guess"})
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        async with client.stream("GET", "/changes", headers=TOKEN) as first:
            assert await anext(first.aiter_raw()) == OPENED
            second = await client.get("/changes", headers=TOKEN)
            assert second.status_code == 503
            assert second.json()["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"


async def test_a_resolver_without_notices_has_no_stream() -> None:
    async with (
        serve_on_loopback(resolver(None)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        assert (await client.get("/changes", headers=TOKEN)).status_code == 404
