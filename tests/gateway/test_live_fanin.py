"""A thousand subscribers to one box cost the port what one query costs, once per interval,
counted where it is paid: at the simulated port's own system.

End to end on loopback: Long Beach's simulated system and its port resolver, a gateway over
them, and 1,000 graphql-transport-ws subscriptions to one of that port's containers, carried
by ten WebSockets of the ``websockets`` client. The feed's wait between polls is the test's:
the hub's ``sleep`` is replaced by a gate the test opens one interval at a time, so nothing
waits on the clock and each interval's requests are counted exactly. A query for the same box
(past the cache) says what one answer costs the system; every interval, with its 1,000
subscribers, must cost exactly that. Were each subscriber to ask for itself, the system would
see a thousand times as much.
"""

import asyncio
import contextlib
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection

from port_resolvers.sim.cluster import run_simulated_ports
from port_resolvers.sim.systems import SimulatedPortSystem
from tests.gateway.edge.test_streams import POLICY
from tests.gateway.edge.test_websocket import initialised, receive, send, socket
from tests.gateway.served import HANG_GUARD_SECONDS, served_gateway

SUBSCRIBERS = 1_000
SOCKETS = 10  # each carries a hundred subscriptions
INTERVALS = 3  # polls counted after the first: one with a change at the port, two quiet
FIELDS = "equipmentReference availability { holds { type status } }"
SUBSCRIPTION = (
    f"subscription Box($refs: [String!]!) {{ containerUpdates(references: $refs) {{ {FIELDS} }} }}"
)
QUERY = f"query Box($refs: [String!]!) {{ containers(references: $refs) {{ {FIELDS} }} }}"


class Gate:
    """The hub's sleep between polls, stepped by the test: a feed that has polled waits here for
    its turn. In each interval every feed waiting gets one turn, one after another, as feeds
    begun at different moments poll at different moments (were they let go at once, their
    identical fetches would share one request in flight and hide a feed too many)."""

    def __init__(self) -> None:
        self.waits = 0  # how many times a feed came here after a poll
        self._arrived = asyncio.Condition()
        self._waiting: list[asyncio.Future[None]] = []

    async def sleep(self, seconds: float) -> None:
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        async with self._arrived:
            self.waits += 1
            self._arrived.notify_all()
        await turn

    async def polled(self, times: int) -> None:
        """Return once feeds have finished ``times`` polls in all."""
        async with asyncio.timeout(HANG_GUARD_SECONDS), self._arrived:
            await self._arrived.wait_for(lambda: self.waits >= times)

    async def next_interval(self) -> None:
        """Let every waiting feed poll once, one at a time; return when the last is done."""
        turns, self._waiting = self._waiting, []
        for turn in turns:
            done = self.waits
            turn.set_result(None)
            await self.polled(done + 1)


def asked(system: SimulatedPortSystem) -> Counter[str]:
    """What the system has been asked so far, by endpoint (a copy)."""
    return Counter(system.stats.requests)


async def one_next_each(sockets: dict[ClientConnection, list[str]]) -> list[Any]:
    """One ``next`` for each subscription (the ids on each socket), in any order: the items
    each was sent."""
    sent: list[Any] = []
    for ws, ids in sockets.items():
        got: dict[str, Any] = {}
        while len(got) < len(ids):
            message = await receive(ws)
            assert message["type"] == "next", message
            assert message["id"] not in got, f"a second message for {message['id']}"
            got[message["id"]] = message["payload"]["data"]["containerUpdates"]
        assert sorted(got) == sorted(ids)
        sent += got.values()
    return sent


async def test_a_thousand_subscribers_cost_the_port_one_query_per_interval(
    tmp_path: Path,
) -> None:
    async with run_simulated_ports(port_ids=["USLGB"]) as [port]:
        system, data = port.system, port.system.data
        box = next(c for c in data.containers if c.availability is not None
                   and any(h.status == "HOLD" for h in c.availability.holds))  # fmt: skip
        (tmp_path / "policy.yaml").write_text(POLICY, encoding="utf-8")
        async with served_gateway(
            tmp_path, [{"id": port.id, "url": port.resolver_url}],
            subscriptions={"interval": "1h", "heartbeat": "1h",
                           "max_per_client": SUBSCRIBERS, "max_total": SUBSCRIBERS},
            registry={"egress": {"schemes": ["http"], "hosts": ["127.0.0.1"]},
                      "health_interval": "1h"},
            policy={"file": tmp_path / "policy.yaml"},
            rate_limit={"enabled": False},  # a thousand subscribes from one client, at once
        ) as served:  # fmt: skip
            refs = {"refs": [box.reference]}

            async def query_once() -> Any:
                """The box asked once as a query, past the gateway's cache: its answer."""
                response = await served.client.post(
                    "/graphql", json={"query": QUERY, "variables": refs},
                    headers=served.as_("admin") | {"cache-control": "no-cache"},
                )  # fmt: skip
                assert response.status_code == 200, response.text
                [answered] = response.json()["data"]["containers"]
                return answered

            await query_once()  # the adapter reads the port's facility once, and keeps it
            before = asked(system)
            answered = await query_once()
            per_query = asked(system) - before
            assert answered["equipmentReference"] == box.reference
            assert per_query.total() > 0, "the query reached the system"

            gate = Gate()
            live = served.app.state.live
            live.sleep = gate.sleep  # the feed waits between polls for the test, not the clock
            async with contextlib.AsyncExitStack() as stack:
                sockets = [await stack.enter_async_context(socket(served)) for _ in range(SOCKETS)]
                for ws in sockets:
                    await initialised(ws, served.as_("admin"))
                ids = {ws: [f"{n}-{i}" for i in range(SUBSCRIBERS // SOCKETS)]
                       for n, ws in enumerate(sockets)}  # fmt: skip
                before = asked(system)
                for ws, its in ids.items():
                    for id in its:
                        payload = {"query": SUBSCRIPTION, "variables": refs}
                        await send(ws, {"id": id, "type": "subscribe", "payload": payload})
                assert all(first == [answered] for first in await one_next_each(ids))
                await gate.polled(1)
                assert asked(system) - before == per_query  # the first poll

                assert box.availability is not None
                released = tuple(replace(h, status="RELEASED") for h in box.availability.holds)
                data.record(replace(box, availability=replace(box.availability, holds=released)))
                for interval in range(1, 1 + INTERVALS):
                    before = asked(system)
                    await gate.next_interval()
                    assert asked(system) - before == per_query, f"interval {interval}"
                    if interval == 1:  # the release reaches every subscriber
                        for [now] in await one_next_each(ids):
                            assert now["equipmentReference"] == box.reference
                            assert {h["status"] for h in now["availability"]["holds"]} == {
                                "RELEASED"}  # fmt: skip
                assert live.total == SUBSCRIBERS
                [feed] = live.feeds.values()  # the hub agrees: one feed, one poll an interval
                assert feed.polls == 1 + INTERVALS
