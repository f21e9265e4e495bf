"""The per-port fetch pipeline with fake clocks: cache, stale-if-error, breaker, retries."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import SecretStr

from gateway.config import BreakerSettings, CacheSettings, ResolvedPort, RetrySettings
from gateway.errors import PortError, PortFailure, PortTimeout, PortUnavailable
from gateway.planning.plan import AskedField, PortQuery
from gateway.planning.selection import Shape
from gateway.ports.boundary import PortBoundary
from gateway.ports.cache import CachedAnswer, answer_key, endpoint_fingerprint, memory_cache
from gateway.ports.fetch import LEASE_POLL_SECONDS, FanOut, PortOutcome
from gateway.ports.upstream import PortAnswer, PortRequest
from gateway.schema import build_schema

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
    requests: list[PortRequest] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)  # each call's timeout, as it was given

    async def execute(self, request: PortRequest, *, timeout: float) -> PortAnswer:
        self.calls += 1
        self.requests.append(request)
        self.timeouts.append(timeout)
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

    store = settings.pop("cache", None)
    tracer_provider = settings.pop("tracer_provider", None)
    if store is None and cached:
        store = memory_cache(clock=lambda: clocks.wall)
    fan = FanOut(
        lambda _: port,
        cache=store,
        cache_settings=CacheSettings(
            ttl=settings.pop("ttl", {"all": {"ports": 10}}),
            max_staleness=settings.pop("max_staleness", 60),
            coalesce=settings.pop("coalesce", True),
        ),
        breaker_settings=BreakerSettings(failure_threshold=3, reset_timeout=30),
        retry_settings=RetrySettings(**settings),
        clock=lambda: clocks.wall,
        monotonic=lambda: clocks.mono,
        sleep=sleep,
        tracer_provider=tracer_provider,
    )
    return fan, slept


async def ask(
    fan: FanOut, clocks: Clocks, *, bypass: bool = False, within: float = 5
) -> PortOutcome:
    """The outcome of QUERY under a deadline ``within`` seconds away."""
    [outcome] = await fan.fetch([QUERY], clocks.mono + within, bypass_cache=bypass)
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


# -- the deadline, the port's timeout and retries ------------------------------------------------


async def test_a_port_is_given_the_time_left_when_the_deadline_is_nearer_than_its_timeout() -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[fails(PortTimeout("USLAX", "slow"))])
    fan, _ = fan_out(port, clocks, cached=False)
    outcome = await ask(fan, clocks, within=1)  # PORT's own timeout is 2 s
    assert port.timeouts == [1.0]
    assert outcome.failure is not None
    # Cut off by the deadline, not by its own timeout: not the port's fault.
    assert outcome.failure.code == "DEADLINE_EXCEEDED"
    assert outcome.failure.message == "port USLAX: no answer before the query's deadline (1s)"


async def test_a_port_that_had_its_whole_timeout_timed_out_itself() -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[fails(PortTimeout("USLAX", "slow"))])
    fan, _ = fan_out(port, clocks, cached=False)
    outcome = await ask(fan, clocks, within=2)  # as long as PORT's timeout, to the instant
    assert port.timeouts == [2.0]
    assert outcome.failure is not None
    assert outcome.failure.code == "PORT_TIMEOUT"
    assert outcome.failure.message == "port USLAX: no answer within its timeout of 2s"


@pytest.mark.parametrize(
    ("on_timeout", "calls", "status"), [(True, 2, "ok"), (False, 1, "timeout")]
)
async def test_a_ports_own_timeout_is_retried_only_when_configured(
    on_timeout: bool, calls: int, status: str
) -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[fails(PortTimeout("USLAX", "slow")), answers()])
    fan, _ = fan_out(port, clocks, cached=False, attempts=2, on_timeout=on_timeout)
    outcome = await ask(fan, clocks)
    assert (outcome.status, port.calls) == (status, calls)


async def test_a_port_is_tried_no_more_often_than_the_attempts_configured() -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[fails(PortUnavailable("USLAX", "refused", transient=True))])
    fan, slept = fan_out(port, clocks, cached=False, attempts=3, backoff=0.01, max_backoff=0.01)
    outcome = await ask(fan, clocks)
    assert (outcome.status, port.calls, len(slept)) == ("error", 3, 2)


async def test_no_retry_that_would_start_at_the_deadline() -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[fails(PortUnavailable("USLAX", "refused", transient=True))])
    fan, slept = fan_out(port, clocks, attempts=5, backoff=5, max_backoff=5, cached=False)
    fan._rng.random = lambda: 1.0  # type: ignore[method-assign]  # a wait of 5 s exactly
    outcome = await ask(fan, clocks, within=5)
    assert (outcome.status, port.calls, slept) == ("error", 1, [])


def slow(
    seconds: float, clocks: Clocks, then: Callable[[], PortAnswer]
) -> Callable[[], PortAnswer]:
    """A step that takes ``seconds`` of the fake clocks, then does what ``then`` does."""

    def step() -> PortAnswer:
        clocks.advance(seconds)
        return then()

    return step


async def test_latency_is_the_time_spent_on_the_port_retries_included() -> None:
    clocks = Clocks()
    refused = fails(PortUnavailable("USLAX", "refused", transient=True))
    port = ScriptedPort(steps=[slow(1.5, clocks, answers())])
    fan, slept = fan_out(port, clocks, attempts=2, backoff=0.1, max_backoff=0.1)
    fan._rng.random = lambda: 0.5  # type: ignore[method-assign]  # each wait 0.05 s
    assert (await ask(fan, clocks)).latency == 1.5
    assert (await ask(fan, clocks)).latency == 0.0  # from the cache
    clocks.advance(11)  # stale now
    port.steps = [slow(0.25, clocks, refused)]
    stale = await ask(fan, clocks)
    assert stale.status == "stale"
    assert slept == [0.05]
    assert stale.latency == pytest.approx(0.25 + 0.05 + 0.25)
    fresh_fan, _ = fan_out(ScriptedPort(steps=[slow(0.5, clocks, refused)]), clocks, attempts=1)
    failed = await ask(fresh_fan, clocks)
    assert (failed.status, failed.latency) == ("error", 0.5)


# -- stale-if-error ------------------------------------------------------------------------------


async def test_a_stale_answer_is_the_ports_for_its_fields_and_says_how_old_it_is() -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[answers(), fails(PortUnavailable("USLAX", "refused"))])
    fan, _ = fan_out(port, clocks, attempts=1)
    await ask(fan, clocks)
    clocks.advance(12)
    stale = await ask(fan, clocks)
    assert (stale.status, stale.port, stale.keys, stale.cache_age) == (
        "stale", PORT, ["ports"], 12
    )  # fmt: skip
    assert stale.answer is not None
    assert stale.answer.data == DATA


def key_of(query: PortQuery, credential: str | None = None) -> str:
    return answer_key(
        query.port.id, query.document, query.variables, endpoint_fingerprint(PORT.url, credential)
    )


@pytest.mark.parametrize(("past_fresh", "status"), [(20, "stale"), (20.5, "error")])
async def test_no_stand_in_past_the_staleness_bound_however_long_the_cache_keeps_it(
    past_fresh: float, status: str
) -> None:
    """A shared cache may keep an answer longer than this replica's bound (another replica's
    settings): the bound is this replica's own, counted from the end of the answer's TTL."""
    clocks = Clocks()
    cache = memory_cache(clock=lambda: clocks.wall)
    await cache.put(key_of(QUERY), DATA, 10, 3600)  # kept an hour past its 10 s
    port = ScriptedPort(steps=[fails(PortUnavailable("USLAX", "refused"))])
    fan, _ = fan_out(port, clocks, attempts=1, max_staleness=20, cache=cache)
    clocks.advance(10 + past_fresh)
    assert (await ask(fan, clocks)).status == status


# -- what a cached answer is -----------------------------------------------------------------------


async def test_answers_to_other_variables_are_other_answers() -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[answers(DATA), answers({"ports": []})])
    fan, _ = fan_out(port, clocks)
    document = "query ($a0: String) { ports(UNLocationCode: $a0) { UNLocationCode } }"
    outcomes = [
        (await fan.fetch([PortQuery(PORT, document, {"a0": code}, ["ports"], ["ports"])],
                         clocks.mono + 5))[0]
        for code in ("USLAX", "USOAK")
    ]  # fmt: skip
    assert [o.status for o in outcomes] == ["ok", "ok"]
    assert [o.answer.data if o.answer else None for o in outcomes] == [DATA, {"ports": []}]


async def test_an_answer_without_data_is_not_kept() -> None:
    clocks, port = Clocks(), ScriptedPort(steps=[lambda: PortAnswer(None, [])])
    fan, _ = fan_out(port, clocks)
    await ask(fan, clocks)
    assert (await ask(fan, clocks)).status == "ok"
    assert port.calls == 2


NOTICE = {"code": "EVENTS_TRUNCATED", "path": ["ports"], "count": 2}


async def test_an_answer_whose_only_errors_are_notices_is_kept_with_them() -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[lambda: PortAnswer(DATA, [NOTICE])])
    fan, _ = fan_out(port, clocks)
    await ask(fan, clocks)
    cached = await ask(fan, clocks)
    assert (cached.status, port.calls) == ("cached", 1)
    assert cached.answer is not None
    assert (cached.answer.data, cached.answer.errors) == (DATA, [NOTICE])

    port = ScriptedPort(steps=[lambda: PortAnswer(DATA, [NOTICE, {"message": "broken"}])])
    fan, _ = fan_out(port, clocks)
    await ask(fan, clocks)
    assert (await ask(fan, clocks)).status == "ok"  # an error beside the notice: not kept
    assert port.calls == 2


@pytest.mark.parametrize(
    ("own", "ttl", "fresh_for"),
    [
        ({"ports": 2}, {"USLAX": {"ports": 3}, "all": {"ports": 10}}, 2),  # the registry's own
        ({}, {"USLAX": {"ports": 3}, "all": {"ports": 10}}, 3),  # the port's in the settings
        ({}, {"USOAK": {"ports": 3}, "all": {"ports": 10}}, 10),  # every port's
    ],
)
async def test_an_answer_is_kept_for_the_ports_own_ttl_first(
    own: dict[str, float], ttl: dict[str, dict[str, float]], fresh_for: float
) -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[answers()])
    fan, _ = fan_out(port, clocks, ttl=ttl)
    query = PortQuery(PORT.model_copy(update={"cache_ttl": own}), QUERY.document, {},
                      ["ports"], ["ports"])  # fmt: skip
    await fan.fetch([query], clocks.mono + 5)
    clocks.advance(fresh_for - 0.5)
    assert (await fan.fetch([query], clocks.mono + 5))[0].status == "cached"
    clocks.advance(1)
    assert (await fan.fetch([query], clocks.mono + 5))[0].status == "ok"


async def test_max_age_zero_is_never_kept_and_one_second_is() -> None:
    clocks = Clocks()
    refused = fails(PortUnavailable("USLAX", "refused"))
    port = ScriptedPort(steps=[answers(cache_control="max-age=0"), refused])
    fan, _ = fan_out(port, clocks, attempts=1)
    await ask(fan, clocks)
    assert (await ask(fan, clocks)).status == "error"  # not even a stand-in

    port = ScriptedPort(steps=[answers(cache_control="max-age=1"), refused])
    fan, _ = fan_out(port, clocks, attempts=1)
    await ask(fan, clocks)
    clocks.advance(0.5)
    assert (await ask(fan, clocks)).status == "cached"


# -- endpoints ---------------------------------------------------------------------------------


async def test_a_new_credential_is_a_new_endpoint_with_nothing_cached() -> None:
    clocks = Clocks()
    old, new = ScriptedPort(steps=[answers()]), ScriptedPort(steps=[answers({"ports": []})])
    fan, _ = fan_out(old, clocks)
    keyed = PORT.model_copy(update={"credential": SecretStr("first")})
    await fan.fetch([PortQuery(keyed, QUERY.document, {}, ["ports"], ["ports"])], clocks.mono + 5)
    fan._connect = lambda _: new  # type: ignore[method-assign]
    rekeyed = PORT.model_copy(update={"credential": SecretStr("second")})
    [outcome] = await fan.fetch(
        [PortQuery(rekeyed, QUERY.document, {}, ["ports"], ["ports"])], clocks.mono + 5
    )
    assert (outcome.status, new.calls) == ("ok", 1)
    assert outcome.answer is not None
    assert outcome.answer.data == {"ports": []}


def test_one_upstream_per_endpoint_made_when_it_changes() -> None:
    made: list[ResolvedPort] = []

    def connect(port: ResolvedPort) -> ScriptedPort:
        made.append(port)
        return ScriptedPort()

    fan = FanOut(connect)  # type: ignore[arg-type]
    first = fan.upstream(PORT)
    assert fan.upstream(PORT) is first
    moved = PORT.model_copy(update={"url": "http://elsewhere/graphql"})
    assert fan.upstream(moved) is not first  # no fetch yet: the port has no breaker to drop
    assert [p.url for p in made] == [PORT.url, moved.url]


async def test_forgetting_a_port_drops_its_upstream_and_a_port_never_seen_is_no_error() -> None:
    made = 0

    def connect(port: ResolvedPort) -> ScriptedPort:
        nonlocal made
        made += 1
        return ScriptedPort()

    fan = FanOut(connect)  # type: ignore[arg-type]
    fan.upstream(PORT)
    await fan.forget("USLAX")
    fan.upstream(PORT)
    assert made == 2
    await fan.forget("USXXX")  # never asked, nothing kept


# -- health --------------------------------------------------------------------------------------


def test_health_is_the_breakers_and_a_stale_port_is_degraded_if_closed_and_down_if_open() -> None:
    clocks = Clocks()
    fan = FanOut(
        lambda _: ScriptedPort(),  # type: ignore[arg-type,return-value]
        breaker_settings=BreakerSettings(failure_threshold=1, reset_timeout=30),
        monotonic=lambda: clocks.mono,
    )
    fan.breaker("USOAK").record_failure()
    clocks.advance(30)  # USOAK's breaker half open
    fan.breaker("USLGB").record_failure()  # open
    assert fan.health() == {"USOAK": "DEGRADED", "USLGB": "DOWN"}
    refused = PortUnavailable("x", "refused")

    def stale(port_id: str) -> PortOutcome:
        port = PORT.model_copy(update={"id": port_id})
        return PortOutcome(port, [], 0.0, "stale", PortAnswer({}, []), refused)

    # USLAX has no breaker yet (never asked until this outcome): closed, as a new one is.
    assert fan.health([stale("USLAX"), stale("USLGB")]) == {
        "USLAX": "DEGRADED", "USOAK": "DEGRADED", "USLGB": "DOWN"
    }  # fmt: skip


# -- the circuit breaker and coalesced callers ---------------------------------------------------


async def test_a_resting_port_is_named_and_not_asked() -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[fails(PortUnavailable("USLAX", "refused"))])
    fan, _ = fan_out(port, clocks, attempts=1, cached=False)
    for _ in range(3):
        await ask(fan, clocks)
    outcome = await ask(fan, clocks)
    assert (outcome.status, port.calls) == ("circuit_open", 3)
    assert outcome.failure is not None
    assert outcome.failure.message == "port USLAX: not asked: it failed repeatedly and is resting"


async def test_callers_join_the_one_trial_of_a_half_open_breaker() -> None:
    clocks, arrived, gate = Clocks(), asyncio.Event(), asyncio.Event()
    # Lookups 1-3 are the failures, 4 the trial's; the second caller's, 5, lets the trial's
    # port answer: that caller meets the breaker while the trial is still in flight.
    cache = WatchedCache(clocks, lambda n: gate.set() if n == 5 else None)

    class FailingThenGated(ScriptedPort):
        async def execute(self, request: PortRequest, *, timeout: float) -> PortAnswer:
            self.calls += 1
            if self.calls <= 3:
                raise PortUnavailable("USLAX", "refused")
            arrived.set()
            await gate.wait()
            return PortAnswer(DATA, [])

    port = FailingThenGated()
    fan, _ = fan_out(port, clocks, attempts=1, cache=cache)
    for _ in range(3):
        await ask(fan, clocks)
    clocks.advance(30)  # half open: one trial may go
    trial = asyncio.create_task(ask(fan, clocks))
    await arrived.wait()
    joined = await ask(fan, clocks)  # the same key: it joins the trial in flight
    assert [(await trial).status, joined.status] == ["ok", "ok"]
    assert port.calls == 4


class WatchedCache:
    """A memory cache that calls ``on_get`` with the number of each lookup."""

    shared = False

    def __init__(self, clocks: Clocks, on_get: Callable[[int], None]) -> None:
        self.answers = memory_cache(clock=lambda: clocks.wall)
        self.on_get = on_get
        self.gets = 0

    async def get(self, key: str) -> CachedAnswer | None:
        self.gets += 1
        self.on_get(self.gets)
        return await self.answers.get(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.answers, name)


async def test_a_caller_out_of_time_leaves_a_joined_fetch_at_once_with_its_stale_answer() -> None:
    """The follower's deadline has passed when it joins the leader's fetch: it does not wait for
    the leader, which answers right after, but stands in the answer it has."""
    clocks, arrived, gate = Clocks(), asyncio.Event(), asyncio.Event()
    cache = WatchedCache(clocks, lambda n: gate.set() if n == 3 else None)

    class Gated(ScriptedPort):
        async def execute(self, request: PortRequest, *, timeout: float) -> PortAnswer:
            self.calls += 1
            if self.calls > 1:
                arrived.set()
                await gate.wait()
            return PortAnswer(DATA, [])

    port = Gated()
    fan, _ = fan_out(port, clocks, cache=cache)
    await ask(fan, clocks)  # lookup 1; kept for 10 s
    clocks.advance(11)
    leader = asyncio.create_task(ask(fan, clocks))  # lookup 2: stale, asks the port
    await arrived.wait()
    # Lookup 3, the follower's, lets the leader's port answer: the follower joins the fetch
    # with no time left, and the answer comes right after.
    follower = await ask(fan, clocks, within=0)
    assert follower.status == "stale"
    assert follower.failure is not None
    assert follower.failure.message == "port USLAX: no answer before the query's deadline"
    assert (await leader).status == "ok"


# -- replicas sharing a cache: one fetches a key, the others wait for its answer ---------------


class SharedCache:
    """A cache other replicas share, as this replica sees it: answers in memory, and a lease
    another replica may hold. ``grants`` answers this replica's lease requests in turn (then
    always yes); when one is refused, ``holders_answer`` lands as the holder stores it."""

    shared = True

    def __init__(self, clocks: Clocks, *grants: bool, lease_takes: float = 0.0) -> None:
        self.answers = memory_cache(clock=lambda: clocks.wall)
        self.clocks = clocks
        self.grants = list(grants)
        self.lease_takes = lease_takes  # a slow cache
        self.holders_answer: dict[str, Any] | None = None
        self.leases: list[tuple[str, float]] = []
        self.released: list[str] = []

    async def get(self, key: str) -> CachedAnswer | None:
        return await self.answers.get(key)

    async def put(self, key: str, data: dict[str, Any], fresh: float, stale: float,
                  dropped: dict[str, int] | None = None,
                  notices: list[dict[str, Any]] | None = None) -> None:  # fmt: skip
        await self.answers.put(key, data, fresh, stale, dropped, notices)

    async def drop_port(self, port: str) -> int:
        return await self.answers.drop_port(port)

    async def lease(self, key: str, seconds: float) -> bool:
        self.leases.append((key, seconds))
        self.clocks.advance(self.lease_takes)
        granted = self.grants.pop(0) if self.grants else True
        if not granted and self.holders_answer is not None:
            await self.answers.put(key, self.holders_answer, 10, 60)
            self.holders_answer = None
        return granted

    async def release(self, key: str) -> None:
        self.released.append(key)

    async def close(self) -> None:
        await self.answers.close()


async def test_the_replica_holding_the_lease_asks_the_port_keeps_the_answer_and_lets_go() -> None:
    clocks = Clocks()
    cache = SharedCache(clocks)
    port = ScriptedPort(steps=[answers()])
    fan, _ = fan_out(port, clocks, cache=cache)
    outcome = await ask(fan, clocks, within=0.5)
    key = key_of(QUERY)
    assert (outcome.status, port.calls) == ("ok", 1)
    assert cache.leases == [(key, 0.5)]  # held until the deadline at most
    assert cache.released == [key]
    assert await cache.get(key) is not None


async def test_a_replica_finding_the_lease_taken_serves_the_holders_answer() -> None:
    clocks = Clocks()
    cache = SharedCache(clocks, False)
    cache.holders_answer = DATA
    port = ScriptedPort(steps=[answers({"ports": []})])
    fan, slept = fan_out(port, clocks, cache=cache)
    outcome = await ask(fan, clocks)
    assert (outcome.status, outcome.attempts, port.calls) == ("cached", 0, 0)
    assert outcome.answer is not None
    assert outcome.answer.data == DATA
    assert slept == [LEASE_POLL_SECONDS]
    assert outcome.cache_age == pytest.approx(LEASE_POLL_SECONDS)  # stored one poll ago
    assert cache.released == []  # it held nothing


async def test_when_the_holder_gives_up_the_waiting_replica_fetches_itself() -> None:
    clocks = Clocks()
    cache = SharedCache(clocks, False, True)  # taken; free again at the first poll
    port = ScriptedPort(steps=[answers()])
    fan, slept = fan_out(port, clocks, cache=cache)
    outcome = await ask(fan, clocks, within=0.5)
    key = key_of(QUERY)
    assert (outcome.status, port.calls, slept) == ("ok", 1, [LEASE_POLL_SECONDS])
    assert [k for k, _ in cache.leases] == [key, key]
    assert [s for _, s in cache.leases] == pytest.approx([0.5, 0.5 - LEASE_POLL_SECONDS])
    assert cache.released == [key]  # the lease it took only to learn it was free


async def test_a_replica_waits_for_the_holder_no_longer_than_its_deadline() -> None:
    clocks = Clocks()
    deadline = clocks.mono + 0.5
    cache = SharedCache(clocks, *[False] * 100)  # held, and no answer ever lands
    asked_at: list[float] = []
    port = ScriptedPort(steps=[lambda: asked_at.append(clocks.mono) or PortAnswer(DATA, [])])
    fan, slept = fan_out(port, clocks, cache=cache)
    [outcome] = await fan.fetch([QUERY], deadline)
    assert slept  # it waited
    assert clocks.mono < deadline  # but never slept past its deadline
    assert asked_at == [clocks.mono]  # then asked with the time left
    assert outcome.status == "ok"


async def test_with_no_time_left_for_a_poll_a_replica_asks_its_port_at_once() -> None:
    clocks = Clocks()
    cache = SharedCache(clocks, *[False] * 10)
    port = ScriptedPort(steps=[answers()])
    fan, slept = fan_out(port, clocks, cache=cache)
    outcome = await ask(fan, clocks, within=LEASE_POLL_SECONDS)  # a poll would end at the deadline
    assert (outcome.status, slept, port.calls) == ("ok", [], 1)


async def test_a_lease_that_took_the_time_left_leaves_none_to_ask_the_port() -> None:
    clocks = Clocks()
    cache = SharedCache(clocks, lease_takes=0.5)  # a slow cache: the deadline passes meanwhile
    port = ScriptedPort(steps=[answers()])
    fan, _ = fan_out(port, clocks, cache=cache)
    outcome = await ask(fan, clocks, within=0.5)
    assert (outcome.status, port.calls) == ("timeout", 0)
    assert outcome.failure is not None
    assert outcome.failure.code == "DEADLINE_EXCEEDED"
    assert outcome.failure.message == (
        "port USLAX: the query's deadline passed before it was asked"
    )
    assert cache.released == [key_of(QUERY)]


class BrokenCache:
    """A shared cache that does not answer at all."""

    shared = True

    async def get(self, key: str) -> CachedAnswer | None:
        raise ConnectionError("cache down")

    async def put(self, *args: Any) -> None:
        raise ConnectionError("cache down")

    async def drop_port(self, port: str) -> int:
        raise ConnectionError("cache down")

    async def lease(self, key: str, seconds: float) -> bool:
        raise ConnectionError("cache down")

    async def release(self, key: str) -> None:
        raise ConnectionError("cache down")

    async def close(self) -> None:
        return None


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, bool]]:
    """What gateway.ports.fetch logged: level, message, and whether the traceback goes with it."""
    return [(r.levelname, r.getMessage(), bool(r.exc_info))
            for r in caplog.records if r.name == "gateway.ports.fetch"]  # fmt: skip


async def test_a_cache_that_fails_is_a_miss_and_says_so_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[answers()])
    fan, slept = fan_out(port, clocks, cache=BrokenCache())
    with caplog.at_level("INFO", logger="gateway.ports.fetch"):
        outcome = await ask(fan, clocks)
        await fan.forget("USLAX")
    assert (outcome.status, port.calls, slept) == ("ok", 1, [])  # no wait for a lease
    assert warnings_logged(caplog) == [
        ("WARNING", "cache lookup failed; asking the port", True),
        ("WARNING", "cache lease failed; fetching anyway", True),
        ("WARNING", "cache store failed", True),
        ("WARNING", "cache lease release failed; it expires by itself", True),
        ("WARNING", "could not drop USLAX's cached answers", True),
    ]


async def test_forgetting_a_port_logs_how_many_answers_went(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clocks = Clocks()
    port = ScriptedPort(steps=[answers()])
    fan, _ = fan_out(port, clocks)
    await ask(fan, clocks)
    with caplog.at_level("INFO", logger="gateway.ports.fetch"):
        await fan.forget("USLAX")
    assert warnings_logged(caplog) == [
        ("INFO", "port USLAX changed: 1 cached answer(s) dropped", False)
    ]


# -- tracing -------------------------------------------------------------------------------------


async def test_each_port_fetch_is_a_client_span_the_port_continues() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    clocks = Clocks()
    refused = fails(PortUnavailable("USLAX", "refused", transient=True))
    port = ScriptedPort(steps=[refused, refused, answers()])
    fan, _ = fan_out(port, clocks, attempts=3, max_staleness=20, tracer_provider=provider)
    await ask(fan, clocks)  # ok on the third try
    await ask(fan, clocks)  # cached
    clocks.advance(11)
    port.steps = [fails(PortUnavailable("USLAX", "refused"))]
    for _ in range(3):  # stale three times; the breaker opens
        await ask(fan, clocks)
    clocks.advance(20)  # past the staleness bound, the breaker still open: no stand-in
    await ask(fan, clocks)

    spans = exporter.get_finished_spans()
    assert {(s.name, s.kind) for s in spans} == {("portgate.fetch", SpanKind.CLIENT)}
    seen = [dict(s.attributes or {}) for s in spans]
    assert [(a["portgate.port"], a["portgate.fields"]) for a in seen] == [("USLAX", ("ports",))] * 6
    assert [a["portgate.status"] for a in seen] == ["ok", "cached", "stale", "stale", "stale",
                                                    "circuit_open"]  # fmt: skip
    assert [a["portgate.attempts"] for a in seen] == [3, 0, 0, 0, 0, 0]
    assert [a["portgate.retries"] for a in seen] == [2, 0, 0, 0, 0, 0]
    assert [a["portgate.breaker"] for a in seen] == ["closed"] * 4 + ["open"] * 2
    assert [a.get("portgate.cache_age_seconds") for a in seen] == [None, 0.0, 11.0, 11.0, 11.0,
                                                                   None]  # fmt: skip
    assert [a.get("portgate.error_code") for a in seen] == [None, None] + [
        "PORT_UNAVAILABLE"
    ] * 3 + ["PORT_CIRCUIT_OPEN"]
    # Only a port that gave nothing, not even a stand-in, is an error.
    assert [(s.status.status_code, s.status.description) for s in spans] == [
        (StatusCode.UNSET, None)
    ] * 5 + [(StatusCode.ERROR, "PORT_CIRCUIT_OPEN")]
    # The port's request carries the span's context (W3C traceparent): its trace continues it.
    first = spans[0].context
    assert first is not None
    assert {tuple(r.headers["traceparent"].split("-")[1:3]) for r in port.requests[:3]} == {
        (f"{first.trace_id:032x}", f"{first.span_id:016x}")
    }
