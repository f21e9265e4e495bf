"""Ask every planned port at once, each under its own timeout and all under one deadline.

For each port, in this order:

1. **cache**: a fresh cached answer to the same document and variables is served as ``cached``;
2. **coalescing**: a fetch already in flight for the same key is joined, not repeated;
3. **circuit breaker**: a port that failed too often lately is not asked (``PORT_CIRCUIT_OPEN``);
4. **lease** (shared cache only): one replica fetches a key while the others wait for its answer;
5. **timeout and retries**: transient failures (refused connection, 5xx) are retried with
   jittered backoff, never past the query's deadline;
6. the port's **upstream**; its answer is held to the contract at the **boundary**
   (:mod:`gateway.ports.boundary`), and a good answer is stored for as long as its data kind and the
   port's ``Cache-Control`` allow. Errors and ``no-store`` answers are never stored; an answer
   whose only errors are notices (:data:`portcontract.errors.NOTICE_CODES`) is stored with them.

When the port fails (or its breaker is open), the last good answer is served ``stale`` if it is
within the configured maximum staleness. Nothing here ever fails the whole query.

Everything kept about a port (cached and stale answers, its breaker, its upstream) belongs to one
endpoint: cache keys name a fingerprint of the endpoint's URL and credential, and
:meth:`FanOut.forget` drops the rest when the port's registration changes. A timeout while the
gateway itself is overloaded (``overloaded()``) is not held against the port's breaker.
"""

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from opentelemetry import propagate, trace

from gateway.config_types import ResolvedPort
from gateway.errors import DeadlineExceeded, PortCircuitOpen, PortFailure, PortTimeout
from gateway.planning.plan import PortQuery
from gateway.ports.boundary import PortBoundary
from gateway.ports.breaker import BreakerState, CircuitBreaker
from gateway.ports.cache import (
    AnswerCache,
    CachedAnswer,
    Clock,
    PortCacheControl,
    answer_key,
    endpoint_fingerprint,
)
from gateway.ports.coalesce import Coalescer
from gateway.ports.settings import BreakerSettings, CacheSettings, RetrySettings
from gateway.ports.upstream import PortAnswer, PortRequest, PortUpstream
from gateway.record import tracing
from portcontract.errors import NOTICE_CODES

log = logging.getLogger(__name__)

Bypass = bool | frozenset[str]  # past the cache for every port, for none, or for these ports

LEASE_POLL_SECONDS = 0.02  # how often a replica waiting on another's fetch looks at the cache
_BREAKER_HEALTH = {
    BreakerState.CLOSED: "UP",
    BreakerState.HALF_OPEN: "DEGRADED",
    BreakerState.OPEN: "DOWN",
}


@dataclass(frozen=True, slots=True)
class PortOutcome:
    """What one port gave this operation.

    ``status`` is ``ok`` (asked now), ``cached`` (a fresh stored answer), ``stale`` (a stored
    answer standing in for a failure, which stays in ``failure``), or the failure's own status.
    """

    port: ResolvedPort
    keys: list[str]
    latency: float
    status: str
    answer: PortAnswer | None = None
    failure: PortFailure | None = None
    cache_age: float | None = None
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class _Fetched:
    answer: PortAnswer
    attempts: int
    cache_age: float | None = None  # another replica fetched it while this one waited


class FanOut:
    """Sends each port its query concurrently, through cache, breaker and retries."""

    def __init__(
        self,
        connect: Callable[[ResolvedPort], PortUpstream],
        *,
        cache: AnswerCache | None = None,
        cache_settings: CacheSettings | None = None,
        breaker_settings: BreakerSettings | None = None,
        retry_settings: RetrySettings | None = None,
        clock: Clock = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        boundary: PortBoundary | None = None,
        overloaded: Callable[[], bool] = lambda: False,
    ) -> None:
        self._connect = connect
        self._boundary = boundary  # None only in tests of the fetch mechanics themselves
        self._overloaded = overloaded
        # port -> ((url, credential), its upstream, its endpoint fingerprint)
        self._upstreams: dict[str, tuple[tuple[str, str | None], PortUpstream, str]] = {}
        self._spans = tracing.Spans(tracer_provider)
        self._cache = cache
        self._cache_settings = cache_settings or CacheSettings()
        self._breaker_settings = breaker_settings or BreakerSettings()
        self._breakers: dict[str, CircuitBreaker] = {}
        self._retry = retry_settings or RetrySettings()
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._coalescer: Coalescer[_Fetched] = Coalescer()

    def breaker(self, port: str) -> CircuitBreaker:
        breaker = self._breakers.get(port)
        if breaker is None:
            settings = self._breaker_settings
            breaker = self._breakers[port] = CircuitBreaker(
                settings.failure_threshold, settings.reset_timeout, self._monotonic
            )
        return breaker

    def breakers(self) -> dict[str, CircuitBreaker]:
        return dict(self._breakers)

    def upstream(self, port: ResolvedPort) -> PortUpstream:
        """The port's upstream, made anew when its URL or credential changed (registry)."""
        return self._endpoint(port)[1]

    def _endpoint(self, port: ResolvedPort) -> tuple[tuple[str, str | None], PortUpstream, str]:
        credential = port.credential.get_secret_value() if port.credential else None
        signature = (port.url, credential)
        known = self._upstreams.get(port.id)
        if known is None or known[0] != signature:
            if known is not None:  # a new endpoint: nothing learnt of the old one carries over
                self._breakers.pop(port.id, None)
            fingerprint = endpoint_fingerprint(port.url, credential)
            known = self._upstreams[port.id] = (signature, self._connect(port), fingerprint)
        return known

    async def forget(self, port: str) -> None:
        """Drop everything kept about ``port``: its registration changed or it is gone."""
        self._upstreams.pop(port, None)
        self._breakers.pop(port, None)
        if self._cache is not None:
            try:
                dropped = await self._cache.drop_port(port)
            except Exception:
                log.warning("could not drop %s's cached answers", port, exc_info=True)
            else:
                log.info("port %s changed: %d cached answer(s) dropped", port, dropped)

    def health(self, outcomes: Sequence[PortOutcome] = ()) -> dict[str, str]:
        """UP, DEGRADED or DOWN per port: its breaker, and what it just did in ``outcomes``."""
        health = {port: _BREAKER_HEALTH[b.state] for port, b in self._breakers.items()}
        for outcome in outcomes:
            if outcome.status == "stale":
                known = health.get(outcome.port.id, "UP")
                health[outcome.port.id] = "DEGRADED" if known == "UP" else "DOWN"
            elif outcome.failure is not None:
                health[outcome.port.id] = "DOWN"
        return health

    async def fetch(
        self,
        queries: Sequence[PortQuery],
        deadline: float,
        *,
        bypass_cache: Bypass = False,
    ) -> list[PortOutcome]:
        """Outcomes in the order of ``queries``; ``deadline`` is a monotonic-clock instant.
        ``bypass_cache``: ask past fresh cached answers, of every port (True) or of these."""
        request = _RequestContext(deadline, bypass_cache)
        fetch = self._traced_fetch if self._spans.on else self._fetch_one
        if len(queries) == 1:  # one port: no task of its own to gather
            return [await fetch(queries[0], request)]
        return list(await asyncio.gather(*(fetch(q, request) for q in queries)))

    async def _traced_fetch(self, query: PortQuery, request: "_RequestContext") -> PortOutcome:
        """One CLIENT span per port; its context is what the port resolver continues."""
        with self._spans.tracer.start_as_current_span(
            "portgate.fetch",
            kind=trace.SpanKind.CLIENT,
            attributes={"portgate.port": query.port.id, "portgate.fields": query.keys},
        ) as span:
            outcome = await self._fetch_one(query, request)
            if span.is_recording():
                span.set_attributes(
                    {
                        "portgate.status": outcome.status,
                        "portgate.attempts": outcome.attempts,
                        "portgate.retries": max(outcome.attempts - 1, 0),
                        "portgate.breaker": self.breaker(query.port.id).state.value,
                    }
                )
                if outcome.cache_age is not None:
                    span.set_attribute("portgate.cache_age_seconds", outcome.cache_age)
                if outcome.failure is not None:
                    span.set_attribute("portgate.error_code", outcome.failure.code)
                    if outcome.answer is None:
                        span.set_status(trace.StatusCode.ERROR, outcome.failure.code)
            return outcome

    async def _fetch_one(self, query: PortQuery, request: "_RequestContext") -> PortOutcome:
        started = self._monotonic()
        port = query.port
        key = answer_key(port.id, query.document, query.variables, self._endpoint(port)[2])
        entry = await self._lookup(key)
        now = self._clock()
        if entry is not None and entry.is_fresh(now) and not request.bypasses(port.id):
            return PortOutcome(
                port, query.keys, self._monotonic() - started, "cached",
                _from_cache(entry), cache_age=entry.age(now),
            )  # fmt: skip
        breaker = self.breaker(port.id)
        flight = key if self._cache_settings.coalesce else f"{key}:{id(request)}"
        if not self._coalescer.in_flight(flight) and not breaker.allow():
            resting = PortCircuitOpen(port.id, "not asked: it failed repeatedly and is resting")
            return self._fallback(query, started, resting, entry, request)
        try:
            fetched = await self._coalescer.run(
                flight,
                lambda: self._from_port(query, key, request),
                timeout=max(0.0, request.deadline - self._monotonic()),
            )
        except PortFailure as failure:
            return self._fallback(query, started, failure, entry, request)
        except TimeoutError:  # joined another caller's fetch, which outlasted our deadline
            cut_off = DeadlineExceeded(port.id, "no answer before the query's deadline")
            return self._fallback(query, started, cut_off, entry, request)
        return PortOutcome(
            port, query.keys, self._monotonic() - started,
            "ok" if fetched.cache_age is None else "cached",
            fetched.answer, cache_age=fetched.cache_age, attempts=fetched.attempts,
        )  # fmt: skip

    def _fallback(
        self,
        query: PortQuery,
        started: float,
        failure: PortFailure,
        entry: CachedAnswer | None,
        request: "_RequestContext",
    ) -> PortOutcome:
        """Stale-if-error: the last good answer within the staleness bound, else the failure."""
        latency = self._monotonic() - started
        now = self._clock()
        within_bound = (
            entry is not None
            and now <= entry.fresh_until + self._cache_settings.max_staleness
            and not request.bypasses(query.port.id)
        )
        if entry is not None and within_bound:
            return PortOutcome(
                query.port, query.keys, latency, "stale", _from_cache(entry),
                failure=failure, cache_age=entry.age(now),
            )  # fmt: skip
        return PortOutcome(query.port, query.keys, latency, failure.status, failure=failure)

    async def _from_port(self, query: PortQuery, key: str, request: "_RequestContext") -> _Fetched:
        """One fetch shared by every coalesced caller: lease, retries, breaker, store."""
        port = query.port.id
        leased = False
        if self._cache is not None and self._cache.shared and self._cache_settings.coalesce:
            leased = await self._take_lease(key, request.deadline)
            if not leased and (entry := await self._await_other_replica(key, request)):
                return _Fetched(_from_cache(entry), 0, entry.age(self._clock()))
        breaker = self.breaker(port)
        try:
            answer, attempts = await self._ask_with_retries(query, request)
        except DeadlineExceeded:
            breaker.record_released()
            raise
        except PortTimeout:
            if self._overloaded():  # our own backlog, not the port's fault
                breaker.record_released()
            else:
                breaker.record_failure()
            raise
        except PortFailure:
            breaker.record_failure()
            raise
        else:
            breaker.record_success()
            if self._boundary is not None:
                answer = self._boundary.hold(query, answer)
            await self._store(key, query, answer)
        finally:
            if leased:
                await self._release_lease(key)
        return _Fetched(answer, attempts)

    async def _ask_with_retries(
        self, query: PortQuery, request: "_RequestContext"
    ) -> tuple[PortAnswer, int]:
        port = query.port
        upstream = self.upstream(port)
        headers: dict[str, str] = {}
        propagate.inject(headers)  # the port fetch span that leads this (coalesced) fetch
        port_request = PortRequest(query.document, query.variables, None, headers)
        attempt = 0
        while True:
            attempt += 1
            remaining = request.deadline - self._monotonic()
            budget = min(port.timeout, remaining)
            if budget <= 0:
                raise DeadlineExceeded(port.id, "the query's deadline passed before it was asked")
            try:
                async with asyncio.timeout(budget):
                    return await upstream.execute(port_request, timeout=budget), attempt
            except (TimeoutError, PortTimeout):
                if remaining < port.timeout:
                    raise DeadlineExceeded(
                        port.id, f"no answer before the query's deadline ({budget:.3g}s)"
                    ) from None
                failure: PortFailure = PortTimeout(
                    port.id, f"no answer within its timeout of {port.timeout:.3g}s"
                )
                retryable = self._retry.on_timeout
            except PortFailure as exc:
                failure, retryable = exc, exc.transient
            delay = self._backoff(attempt)
            if (
                not retryable
                or attempt >= self._retry.attempts
                or self._monotonic() + delay >= request.deadline
            ):
                raise failure
            await self._sleep(delay)

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**(attempt-1))]."""
        ceiling = min(self._retry.max_backoff, self._retry.backoff * 2.0 ** (attempt - 1))
        return ceiling * self._rng.random()

    # The cache never fails a query: a cache that does not answer is a miss.

    async def _lookup(self, key: str) -> CachedAnswer | None:
        if self._cache is None:
            return None
        try:
            return await self._cache.get(key)
        except Exception:
            log.warning("cache lookup failed; asking the port", exc_info=True)
            return None

    async def _store(self, key: str, query: PortQuery, answer: PortAnswer) -> None:
        control = PortCacheControl.parse(answer.cache_control)
        if self._cache is None or answer.data is None or control.no_store:
            return
        if any(error.get("code") not in NOTICE_CODES for error in answer.errors):
            return  # an error: asked again next time; notices only: an answer like any other
        own = query.port.cache_ttl  # the registry's per-port overrides come first
        ttl = min(
            own.get(f) or self._cache_settings.ttl_for(query.port.id, f) for f in query.fields
        )
        if control.max_age is not None:
            ttl = min(ttl, control.max_age)
        if ttl <= 0:
            return
        try:
            await self._cache.put(
                key,
                answer.data,
                ttl,
                self._cache_settings.max_staleness,
                answer.dropped,
                answer.errors,
            )
        except Exception:
            log.warning("cache store failed", exc_info=True)

    async def _take_lease(self, key: str, deadline: float) -> bool:
        assert self._cache is not None
        try:
            return await self._cache.lease(key, max(deadline - self._monotonic(), 0.001))
        except Exception:
            log.warning("cache lease failed; fetching anyway", exc_info=True)
            return True

    async def _release_lease(self, key: str) -> None:
        assert self._cache is not None
        try:
            await self._cache.release(key)
        except Exception:
            log.warning("cache lease release failed; it expires by itself", exc_info=True)

    async def _await_other_replica(
        self, key: str, request: "_RequestContext"
    ) -> CachedAnswer | None:
        """Wait for the replica holding the lease to store its answer, until our deadline."""
        while self._monotonic() + LEASE_POLL_SECONDS < request.deadline:
            await self._sleep(LEASE_POLL_SECONDS)
            entry = await self._lookup(key)
            if entry is not None and entry.is_fresh(self._clock()):
                return entry
            if self._cache is not None and await self._take_lease(key, request.deadline):
                await self._release_lease(key)  # the holder gave up: fetch ourselves
                return None
        return None


def _from_cache(entry: CachedAnswer) -> PortAnswer:
    return PortAnswer(entry.data, list(entry.notices), dropped=entry.dropped)


@dataclass(frozen=True, slots=True)
class _RequestContext:
    deadline: float
    bypass_cache: Bypass

    def bypasses(self, port: str) -> bool:
        bypass = self.bypass_cache
        return bypass if isinstance(bypass, bool) else port in bypass
