"""The per-port fetch pipeline with fake clocks: cache, stale-if-error, breaker, retries."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from gateway.boundary import PortBoundary
from gateway.cache import memory_cache
from gateway.config import BreakerSettings, CacheSettings, ResolvedPort, RetrySettings
from gateway.errors import PortError, PortFailure, PortTimeout, PortUnavailable
from gateway.fetch import FanOut, PortOutcome
from gateway.plan import AskedField, PortQuery
from gateway.schema import build_schema
from gateway.selection import Shape
from gateway.upstream import PortAnswer, PortRequest

PORT = ResolvedPort(
    id="USLAX", name="LA", url="http://lax/graphql", timeout=2.0, capabilities=frozenset()
)
QUERY = PortQuery(PORT, "{ ports { UNLocationCode } }", {}, ["ports"], ["ports"])
DATA = {"ports": [{"UNLocationCode": "USLAX"}]}


@dataclass
class Clocks:
    wall: float = 1_000_000.0
    mono: float = 100.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


@dataclass
class ScriptedPort:
    """An upstream answering from a script: each call pops the next step (or repeats the last)."""

    port: str = "USLAX"
    steps: list[Callable[[], PortAnswer]] = field(default_factory=list)
    calls: int = 0

    async def execute(self, request: PortRequest, *, timeout: float) -> PortAnswer:
        self.calls += 1
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        return step()


def answers(data: dict[str, Any] = DATA, cache_control: str | None = None) -> Callable[[], Any]:
    return lambda: PortAnswer(data, [], cache_control)


def fails(failure: PortFailure) -> Callable[[], PortAnswer]:
    def step() -> PortAnswer:
        raise failure

    return step


def fan_out(
    port: ScriptedPort, clocks: Clocks, *, cached: bool = True, **settings: Any
) -> tuple[FanOut, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clocks.advance(seconds)

    fan = FanOut(
        lambda _: port,
        cache=memory_cache(clock=lambda: clocks.wall) if cached else None,
        cache_settings=CacheSettings(
            ttl={"all": {"ports": 10}},
            max_staleness=settings.pop("max_staleness", 60),
            coalesce=settings.pop("coalesce", True),
        ),
        breaker_settings=BreakerSettings(failure_threshold=3, reset_timeout=30),
        retry_settings=RetrySettings(**settings),
        clock=lambda: clocks.wall,
        monotonic=lambda: clocks.mono,
        sleep=sleep,
    )
    return fan, slept


async def ask(fan: FanOut, clocks: Clocks, *, bypass: bool = False) -> PortOutcome:
    [outcome] = await fan.fetch([QUERY], clocks.mono + 5, bypass_cache=bypass)
    return outcome


async def test_a_fresh_answer_is_served_from_the_cache_until_its_ttl() -> None:
    clocks, port = Clocks(), ScriptedPort(steps=[answers()])
    fan, _ = fan_out(port, clocks)
    assert (await ask(fan, clocks)).status == "ok"
    clocks.advance(9)
    cached = await ask(fan, clocks)
    assert (cached.status, cached.cache_age, port.calls) == ("cached", 9, 1)
    clocks.advance(2)  # past the 10 s TTL
    assert (await ask(fan, clocks)).status == "ok"
    assert port.calls == 2


async def test_max_age_caps_the_ttl_and_no_store_is_never_kept() -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[answers(cache_control="max-age=3")])
    fan, _ = fan_out(port, clocks)
    await ask(fan, clocks)
    clocks.advance(4)
    assert (await ask(fan, clocks)).status == "ok"

    port = ScriptedPort(steps=[answers(cache_control="no-store")])
    fan, _ = fan_out(port, clocks)
    await ask(fan, clocks)
    assert (await ask(fan, clocks)).status == "ok"
    assert port.calls == 2


async def test_answers_with_errors_are_never_cached() -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[lambda: PortAnswer(DATA, [{"message": "half broken"}])])
    fan, _ = fan_out(port, clocks)
    await ask(fan, clocks)
    await ask(fan, clocks)
    assert port.calls == 2


async def test_bypass_skips_the_lookup_but_refreshes_the_entry() -> None:
    clocks, port = Clocks(), ScriptedPort(steps=[answers()])
    fan, _ = fan_out(port, clocks)
    await ask(fan, clocks)
    assert (await ask(fan, clocks, bypass=True)).status == "ok"
    assert (await ask(fan, clocks)).status == "cached"
    assert port.calls == 2


async def test_breaker_opens_stale_is_served_within_bound_then_error_then_recovery() -> None:
    clocks = Clocks()
    down = fails(PortUnavailable("USLAX", "refused"))
    port = ScriptedPort(steps=[answers(), down])
    fan, _ = fan_out(port, clocks, attempts=1, max_staleness=20)
    await ask(fan, clocks)  # a good answer, fresh for 10 s, then stale-servable for 20 s
    clocks.advance(11)

    for _ in range(3):  # three failures in a row: stale answers stand in, the breaker opens
        outcome = await ask(fan, clocks)
        assert outcome.status == "stale"
        assert outcome.failure is not None
        assert outcome.failure.code == "PORT_UNAVAILABLE"
        assert outcome.answer is not None
        assert outcome.answer.data == DATA
    assert port.calls == 4
    assert fan.breaker("USLAX").state.value == "open"

    outcome = await ask(fan, clocks)  # not asked while open; still stale
    assert (outcome.status, port.calls) == ("stale", 4)
    assert outcome.failure is not None
    assert outcome.failure.code == "PORT_CIRCUIT_OPEN"

    clocks.advance(20)  # past the staleness bound, breaker still open: an error, no data
    outcome = await ask(fan, clocks)
    assert (outcome.status, outcome.answer) == ("circuit_open", None)
    assert port.calls == 4

    port.steps = [answers()]  # the port comes back; after the reset timeout one trial goes
    clocks.advance(30)
    assert fan.breaker("USLAX").state.value == "half_open"
    assert (await ask(fan, clocks)).status == "ok"
    assert fan.breaker("USLAX").state.value == "closed"


async def test_a_failed_trial_reopens_the_breaker() -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[fails(PortUnavailable("USLAX", "refused"))])
    fan, _ = fan_out(port, clocks, attempts=1, cached=False)
    for _ in range(3):
        await ask(fan, clocks)
    clocks.advance(30)
    assert (await ask(fan, clocks)).status == "error"  # the trial
    assert fan.breaker("USLAX").state.value == "open"
    assert (await ask(fan, clocks)).status == "circuit_open"
    assert port.calls == 4


async def test_transient_failures_are_retried_with_jittered_backoff() -> None:
    clocks = Clocks()
    refused = fails(PortUnavailable("USLAX", "refused", transient=True))
    port = ScriptedPort(steps=[refused, refused, refused, answers()])
    fan, slept = fan_out(port, clocks, attempts=4, backoff=0.1, max_backoff=0.3)
    draws = iter([0.5, 0.25, 1.0])
    fan._rng.random = lambda: next(draws)  # type: ignore[method-assign]
    outcome = await ask(fan, clocks)
    assert (outcome.status, outcome.attempts, port.calls) == ("ok", 4, 4)
    # Full jitter: a draw times min(max_backoff, backoff * 2**(attempt - 1)).
    assert slept == pytest.approx([0.5 * 0.1, 0.25 * 0.2, 1.0 * 0.3])


@pytest.mark.parametrize(
    "failure",
    [PortError("USLAX", "HTTP 400: bad", transient=False), PortError("USLAX", "not GraphQL")],
)
async def test_permanent_failures_are_not_retried(failure: PortFailure) -> None:
    clocks, port = Clocks(), ScriptedPort(steps=[fails(failure)])
    fan, slept = fan_out(port, clocks, attempts=3, cached=False)
    assert (await ask(fan, clocks)).status == "error"
    assert (port.calls, slept) == (1, [])


async def test_no_retry_past_the_deadline() -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[fails(PortUnavailable("USLAX", "refused", transient=True))])
    fan, slept = fan_out(port, clocks, attempts=5, backoff=10, max_backoff=10, cached=False)
    fan._rng.random = lambda: 1.0  # type: ignore[method-assign]  # the longest wait: 10 s
    outcome = await ask(fan, clocks)  # the deadline is 5 s away
    assert (outcome.status, port.calls, slept) == ("error", 1, [])


@pytest.mark.parametrize(("coalesce", "requests"), [(True, 1), (False, 50)])
async def test_identical_concurrent_fetches_share_one_request(
    coalesce: bool, requests: int
) -> None:
    clocks, arrived, gate = Clocks(), asyncio.Event(), asyncio.Event()

    class GatedPort(ScriptedPort):
        async def execute(self, request: PortRequest, *, timeout: float) -> PortAnswer:
            self.calls += 1
            arrived.set()
            await gate.wait()
            return PortAnswer(DATA, [])

    port = GatedPort()
    fan, _ = fan_out(port, clocks, cached=False, coalesce=coalesce)
    tasks = [asyncio.create_task(ask(fan, clocks)) for _ in range(50)]
    await arrived.wait()  # the first fetch reached the port; the rest have joined it
    gate.set()
    outcomes = await asyncio.gather(*tasks)
    assert {o.status for o in outcomes} == {"ok"}
    assert port.calls == requests


async def test_timeouts_while_the_gateway_is_overloaded_do_not_open_the_breaker() -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[fails(PortTimeout("USLAX", "slow"))])
    overloaded = True
    fan, _ = fan_out(port, clocks, cached=False)
    fan._overloaded = lambda: overloaded  # type: ignore[method-assign]
    for _ in range(5):
        await ask(fan, clocks)
    assert fan.breaker("USLAX").state.value == "closed"
    overloaded = False
    for _ in range(3):  # the threshold: the port's own timeouts count
        await ask(fan, clocks)
    assert fan.breaker("USLAX").state.value == "open"


async def test_a_new_endpoint_starts_with_no_cached_answer_and_a_closed_breaker() -> None:
    clocks = Clocks()
    old = ScriptedPort(steps=[answers()])
    new = ScriptedPort(steps=[fails(PortUnavailable("USLAX", "refused"))])
    fan, _ = fan_out(old, clocks)
    await ask(fan, clocks)  # cached for the old endpoint
    fan._connect = lambda _: new  # type: ignore[method-assign]
    fan.breaker("USLAX").record_failure()
    moved = PORT.model_copy(update={"url": "http://elsewhere/graphql"})
    [outcome] = await fan.fetch(
        [PortQuery(moved, QUERY.document, {}, ["ports"], ["ports"])], clocks.mono + 5
    )
    # No stale stand-in from the old endpoint: the new one's failure is the answer.
    assert (outcome.status, outcome.answer, new.calls) == ("error", None, 1)
    assert fan.breaker("USLAX")._failures == 1  # counted afresh for the new endpoint


async def test_forgetting_a_port_drops_its_answers_and_breaker() -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[answers()])
    fan, _ = fan_out(port, clocks)
    await ask(fan, clocks)
    fan.breaker("USLAX").record_failure()
    await fan.forget("USLAX")
    assert "USLAX" not in fan.breakers()
    assert (await ask(fan, clocks)).status == "ok"  # asked again, not served from the cache
    assert port.calls == 2


async def test_what_is_cached_is_the_answer_held_to_the_contract() -> None:
    clocks = Clocks()
    spoofed = {"ports": [{"UNLocationCode": "USLAX"}, {"UNLocationCode": "USOAK"}]}
    port = ScriptedPort(steps=[answers(spoofed)])
    fan, _ = fan_out(port, clocks)
    fan._boundary = PortBoundary(build_schema()._schema)
    query = PortQuery(
        PORT, QUERY.document, {}, ["ports"], ["ports"],
        [AskedField("ports", "ports", Shape((("UNLocationCode", "UNLocationCode", None),)), {})],
    )  # fmt: skip
    fresh = await fan.fetch([query], clocks.mono + 5)
    cached = await fan.fetch([query], clocks.mono + 5)
    for [outcome] in (fresh, cached):
        assert outcome.answer is not None
        assert outcome.answer.data == {"ports": [{"UNLocationCode": "USLAX"}]}
        assert outcome.answer.dropped == {"OTHER_PORT": 1}
    assert (fresh[0].status, cached[0].status, port.calls) == ("ok", "cached", 1)
