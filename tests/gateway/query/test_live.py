"""Subscriptions answered by asking again (gateway/query/live.py), without a server: the query a
subscription becomes, one poll per interval shared by every subscriber, what each message
carries, the bounds, a slow subscriber collapsed, a credential that stops being accepted, and
the end. Polls are stepped by hand (the hub's sleep waits for the test), never timed."""

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from graphql import DocumentNode, ExecutionResult, parse, print_ast

from gateway.access.auth import Principal
from gateway.ports.fetch import Bypass
from gateway.query.live import (
    FROM_VARIABLE,
    KEY_ALIAS,
    PORT_ALIAS,
    TO_VARIABLE,
    LiveQueries,
    Subscriber,
    TooManySubscriptions,
    poll_document,
)
from gateway.query.pipeline import OperationResult
from portcontract.changes import EVERYTHING, ChangeNotice

TRUCKER = Principal("t-1", "Haul Co", frozenset({"trucker"}), None, "api_key")
OTHER_TRUCKER = Principal("t-2", "Other Haul", frozenset({"trucker"}), None, "api_key")
OWNER = Principal("o-1", "Shipper", frozenset({"cargo_owner"}), None, "api_key")
BOXES = "subscription Boxes($refs: [String!]!) { containerUpdates(references: $refs) { status } }"


class Steps:
    """The hub's sleep: each feed, after each poll, waits until the test lets it go."""

    def __init__(self) -> None:
        self.go = asyncio.Semaphore(0)
        self.slept = 0  # sleeps begun: one per poll of each feed
        self.released = 0
        self.changed = asyncio.Condition()

    async def sleep(self, _: float) -> None:
        async with self.changed:
            self.slept += 1
            self.changed.notify_all()
        await self.go.acquire()

    async def next_poll(self, feeds: int = 1) -> None:
        """Once every one of ``feeds`` feeds is asleep, let each poll once more, and wait
        until each is asleep again."""
        async with self.changed:
            await self.changed.wait_for(lambda: self.slept >= self.released + feeds)
        for _ in range(feeds):
            self.go.release()
        self.released += feeds
        async with self.changed:
            await self.changed.wait_for(lambda: self.slept >= self.released + feeds)


class Port:
    """What the pipeline answers: containers by reference, counted per ask."""

    def __init__(self) -> None:
        self.status = {"MSCU6639871": "AT_TERMINAL", "CSQU3054383": "ON_VESSEL"}
        self.asked: list[tuple[str, Mapping[str, Any], frozenset[str]]] = []
        self.bypassed: list[Bypass] = []  # what each ask asked past the cache
        self.reject = False

    async def run(
        self,
        document: DocumentNode,
        name: str | None,
        values: Mapping[str, Any],
        who: Principal,
        bypass: Bypass = True,
    ) -> OperationResult:
        self.asked.append((print_ast(document), values, who.roles))
        self.bypassed.append(bypass)
        if self.reject:
            error = {"message": "denied", "extensions": {"code": "FORBIDDEN_FIELD"}}
            return OperationResult(ExecutionResult(None, [_error(error)]), status=403)
        rows = [
            {"status": self.status[r], KEY_ALIAS: r, PORT_ALIAS: None}
            for r in values.get("refs", [])
            if r in self.status
        ]
        return OperationResult(ExecutionResult({"containerUpdates": rows}))


def _error(formatted: dict[str, Any]) -> Any:
    from graphql import GraphQLError

    return GraphQLError(formatted["message"], extensions=formatted["extensions"])


async def allowed() -> bool:
    return True


def hub(port: Port, steps: Steps, **bounds: int) -> LiveQueries:
    return LiveQueries(
        port.run,
        interval=5.0,
        max_per_principal=bounds.get("per_principal", 20),
        max_total=bounds.get("total", 10_000),
        sleep=steps.sleep,
    )


def boxes(live: LiveQueries, who: Principal, *refs: str, still: Any = allowed) -> Subscriber:
    return live.open(parse(BOXES), None, {"refs": list(refs)}, who, still, arguments={})


async def test_a_subscription_becomes_the_query_with_each_items_key_under_a_hidden_alias() -> None:
    document = parse(
        'subscription { calls: vesselCallUpdates(ports: ["USLAX"], window: 12) { status } }'
    )
    query = " ".join(print_ast(poll_document(document, None)).split())
    assert query.startswith(f"query (${FROM_VARIABLE}: DateTime!, ${TO_VARIABLE}: DateTime!)")
    assert (
        f'calls: vesselCalls( ports: ["USLAX"] from: ${FROM_VARIABLE} to: ${TO_VARIABLE}' in query
    )
    assert "first: 100" in query
    assert "window" not in query
    assert (
        f"nodes {{ status {KEY_ALIAS}: transportCallReference {PORT_ALIAS}: UNLocationCode }}"
        in query
    )
    with pytest.raises(ValueError, match="not a subscription"):
        poll_document(parse("{ ports { name } }"), None)


async def test_every_subscriber_of_one_box_costs_the_port_one_ask_per_interval() -> None:
    port, steps = Port(), Steps()
    live = hub(port, steps, per_principal=500)
    subscribers = [
        boxes(live, TRUCKER if i % 2 else OTHER_TRUCKER, "MSCU6639871") for i in range(1000)
    ]
    firsts = await asyncio.gather(*(s.take() for s in subscribers))
    assert all(f == {"data": {"containerUpdates": [{"status": "AT_TERMINAL"}]}} for f in firsts)
    await steps.next_poll()
    await steps.next_poll()
    assert len(port.asked) == 3  # three polls, for a thousand subscribers of two clients
    assert len(live.feeds) == 1
    for subscriber in subscribers:
        subscriber.close()
    assert live.feeds == {}
    assert live.total == 0


async def test_only_what_changed_is_sent_and_a_role_of_its_own_is_asked_apart() -> None:
    port, steps = Port(), Steps()
    live = hub(port, steps)
    trucker = boxes(live, TRUCKER, "MSCU6639871", "CSQU3054383")
    owner = boxes(live, OWNER, "MSCU6639871", "CSQU3054383")
    assert len((await trucker.take())["data"]["containerUpdates"]) == 2
    assert len((await owner.take())["data"]["containerUpdates"]) == 2
    assert len(live.feeds) == 2  # the policy sees roles: each role its own answer
    port.status["CSQU3054383"] = "DISCHARGED"
    await steps.next_poll()
    await steps.next_poll()  # both feeds polled (one step each, either order)
    assert await trucker.take() == {"data": {"containerUpdates": [{"status": "DISCHARGED"}]}}
    assert await owner.take(0.01) in (
        {"data": {"containerUpdates": [{"status": "DISCHARGED"}]}},
        {},
    )
    assert await trucker.take(0.01) == {}  # nothing changed since: a heartbeat is due


async def test_a_subscriber_that_does_not_keep_up_gets_the_latest_state_collapsed() -> None:
    port, steps = Port(), Steps()
    live = hub(port, steps)
    slow = boxes(live, TRUCKER, "MSCU6639871", "CSQU3054383")
    await slow.take()
    for status in ("DISCHARGED", "AVAILABLE", "GATED_OUT"):
        port.status["MSCU6639871"] = status
        await steps.next_poll()
    port.status["CSQU3054383"] = "DISCHARGED"
    await steps.next_poll()
    message = await slow.take()
    assert message == {"data": {"containerUpdates": [
        {"status": "GATED_OUT"}, {"status": "DISCHARGED"}]}}  # fmt: skip
    assert slow.collapsed == 3
    assert slow.messages == 2


async def test_bounds_per_client_and_per_gateway() -> None:
    port, steps = Port(), Steps()
    live = hub(port, steps, per_principal=2, total=3)
    kept = [boxes(live, TRUCKER, "MSCU6639871"), boxes(live, TRUCKER, "CSQU3054383")]
    with pytest.raises(TooManySubscriptions, match="at most 2"):
        boxes(live, TRUCKER, "MSCU6639871")
    kept.append(boxes(live, OWNER, "MSCU6639871"))
    with pytest.raises(TooManySubscriptions, match="holds 3"):
        boxes(live, OTHER_TRUCKER, "MSCU6639871")
    kept[0].close()
    kept.append(boxes(live, TRUCKER, "MSCU6639871"))  # a place came free
    assert live.total == 3


async def test_a_credential_no_longer_accepted_ends_the_subscription() -> None:
    port, steps = Port(), Steps()
    live = hub(port, steps)
    accepted = True

    async def still() -> bool:
        return accepted

    subscriber = boxes(live, TRUCKER, "MSCU6639871", still=still)
    await subscriber.take()
    accepted = False
    ended = await subscriber.take(0.01)  # quiet: checked at the heartbeat too
    assert ended == {"errors": [{"message": "the credential is no longer accepted",
                                 "extensions": {"code": "UNAUTHENTICATED"}}]}  # fmt: skip
    assert await subscriber.take() is None
    assert live.total == 0
    assert live.feeds == {}


async def test_a_policy_that_refuses_ends_it_with_the_refusal() -> None:
    port, steps = Port(), Steps()
    port.reject = True
    live = hub(port, steps)
    subscriber = boxes(live, TRUCKER, "MSCU6639871")
    message = await subscriber.take()
    assert message is not None
    assert message["errors"][0]["extensions"]["code"] == "FORBIDDEN_FIELD"
    assert await subscriber.take() is None


async def test_closing_the_hub_ends_every_subscription() -> None:
    port, steps = Port(), Steps()
    live = hub(port, steps)
    subscribers = [boxes(live, TRUCKER, "MSCU6639871"), boxes(live, OWNER, "CSQU3054383")]
    for subscriber in subscribers:
        await subscriber.take()
    await live.close()
    assert [await s.take() for s in subscribers] == [None, None]
    assert live.total == 0


async def test_anonymous_callers_are_counted_by_their_address_not_as_one() -> None:
    port, steps = Port(), Steps()
    live = hub(port, steps, per_principal=1)
    anonymous = Principal("anonymous", "", frozenset({"public"}), None, "anonymous")

    def by(address: str) -> Subscriber:
        return live.open(parse(BOXES), None, {"refs": ["MSCU6639871"]}, anonymous, allowed,
                         arguments={}, holder=f"ip:{address}")  # fmt: skip

    kept = [by("192.0.2.1"), by("192.0.2.2")]  # two callers, one subscription each
    with pytest.raises(TooManySubscriptions):
        by("192.0.2.1")
    kept[0].close()
    kept.append(by("192.0.2.1"))
    assert live.total == 2


# Ports that say when something changed ---------------------------------------------------


class Timers:
    """The hub's sleep, for the push tests: each wait is recorded and ends when the test says."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.pending: list[asyncio.Future[None]] = []
        self.changed = asyncio.Condition()

    async def sleep(self, seconds: float) -> None:
        done = asyncio.get_running_loop().create_future()
        async with self.changed:
            self.waits.append(seconds)
            self.pending.append(done)
            self.changed.notify_all()
        await done

    async def begun(self, count: int) -> None:
        """Once ``count`` waits have begun."""
        async with self.changed:
            await self.changed.wait_for(lambda: len(self.waits) >= count)

    def end(self, seconds: float) -> None:
        """End the wait of ``seconds`` still running."""
        for i, done in enumerate(self.pending):
            if not done.done() and self.waits[i] == seconds:
                done.set_result(None)
                return
        raise AssertionError(f"no wait of {seconds}s is running: {self.waits}")


class Pushes:
    """Which ports push, and whether the hub listens to them."""

    def __init__(self, *pushing: str) -> None:
        self.ports = set(pushing)
        self.started = self.stopped = 0

    def pushing(self, port: str) -> bool:
        return port in self.ports

    def start(self) -> None:
        self.started += 1

    def stop(self) -> None:
        self.stopped += 1

    async def close(self) -> None:
        self.stop()


class TwoPorts(Port):
    """Answers as if Los Angeles and Long Beach had both answered."""

    async def run(
        self,
        document: DocumentNode,
        name: str | None,
        values: Mapping[str, Any],
        who: Principal,
        bypass: Bypass = True,
    ) -> OperationResult:
        result = await super().run(document, name, values, who, bypass)
        result.sources = [{"port": "USLAX", "status": "ok"}, {"port": "USLGB", "status": "ok"},
                          {"port": "USOAK", "status": "skipped"}]  # fmt: skip
        return result


def pushed_hub(port: Port, timers: Timers, pushes: Pushes) -> LiveQueries:
    return LiveQueries(port.run, interval=5.0, max_per_principal=20, max_total=100,
                       sleep=timers.sleep, pushes=pushes, pushed_interval=60.0,
                       min_gap=0.5)  # fmt: skip


def box(live: LiveQueries, *refs: str) -> Subscriber:
    values = {"refs": list(refs)}
    return live.open(
        parse(BOXES), None, values, TRUCKER, allowed, arguments={"references": values["refs"]}
    )


async def test_ports_that_push_are_asked_when_they_say_a_box_changed_not_every_interval() -> None:
    port, timers, pushes = TwoPorts(), Timers(), Pushes("USLAX", "USLGB")
    live = pushed_hub(port, timers, pushes)
    trucker = box(live, "MSCU6639871")
    assert (await trucker.take())["data"]["containerUpdates"] == [{"status": "AT_TERMINAL"}]
    await timers.begun(1)
    assert timers.waits == [60.0]  # every port pushes: asked again in a minute, unless told
    assert pushes.started == 1

    live.told("USLGB", ChangeNotice(containers=frozenset({"CSQU3054383"})))  # not its box
    live.told("USOAK", EVERYTHING)  # a port the answer did not come from
    port.status["MSCU6639871"] = "AVAILABLE"
    live.told("USLAX", ChangeNotice(containers=frozenset({"MSCU6639871"})))
    await timers.begun(2)
    assert timers.waits == [60.0, 0.5]  # notices within half a second make one ask
    live.told("USLAX", ChangeNotice(containers=frozenset({"MSCU6639871"})))
    timers.end(0.5)
    changed = await trucker.take()
    assert changed["data"] == {"containerUpdates": [{"status": "AVAILABLE"}]}
    assert port.bypassed == [True, frozenset({"USLAX"})]  # only the port that said so, once
    live.told("USLAX", ChangeNotice(containers=frozenset({"MSCU6639871"})))
    await timers.begun(3)
    timers.end(0.5)
    await _asked(port, 3)
    assert timers.waits == [60.0, 0.5, 0.5]  # the minute runs on across the asks
    timers.end(60.0)  # the minute is up: every port is asked, in case a notice was lost
    await _asked(port, 4)
    assert port.bypassed == [True, frozenset({"USLAX"}), frozenset({"USLAX"}), True]
    trucker.close()
    assert pushes.stopped == 1  # nobody subscribes: the gateway stops listening


async def test_ports_that_do_not_push_are_still_asked_every_interval() -> None:
    port, timers, pushes = TwoPorts(), Timers(), Pushes("USLAX")
    live = pushed_hub(port, timers, pushes)
    trucker = box(live, "MSCU6639871")
    await trucker.take()
    await timers.begun(1)
    assert timers.waits == [5.0]
    live.told("USLAX", EVERYTHING)
    await timers.begun(2)
    timers.end(0.5)
    await _asked(port, 2)
    assert port.bypassed == [True, frozenset({"USLAX"})]
    assert timers.waits == [5.0, 0.5]  # the interval runs on across the ask the notice brought
    timers.end(5.0)
    await _asked(port, 3)
    assert port.bypassed[2] == frozenset({"USLGB"})  # Los Angeles answers from the cache
    await timers.begun(3)
    pushes.ports.clear()  # Los Angeles stops pushing: it is asked every interval again
    timers.end(5.0)
    await _asked(port, 4)
    assert port.bypassed[3] == frozenset({"USLAX", "USLGB"})
    trucker.close()


async def _asked(port: Port, times: int) -> None:
    for _ in range(100):
        if len(port.asked) >= times:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"asked {len(port.asked)} times, not {times}")
