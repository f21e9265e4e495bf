"""Prometheus metrics, served at ``/metrics``.

    portgate_requests_total{operation,outcome}           operations by name and outcome
    portgate_request_duration_seconds{outcome}          whole-operation latency
    portgate_port_request_duration_seconds{port,status} per-port latency (ok, cached, stale, ...)
    portgate_cache_lookups_total{port,result}           hit | miss | stale
    portgate_port_breaker_state{port}                   0 closed, 1 half-open, 2 open
    portgate_port_health{port,status}                   1 for the latest probe's status
    portgate_policy_denials_total{coordinate}           fields withheld by the policy
    portgate_audit_records_total{result}                written | failed | dropped
    portgate_store_bytes{store}                         bytes held by each bounded store
    portgate_store_max_bytes{store}                     its bound
    portgate_store_evictions_total{store}               entries pushed out to stay within it
    portgate_audit_store_up                             1 when the audit store is reached and its
                                                        last write succeeded, else 0
    portgate_audit_queued_records                       records waiting for the audit store
    portgate_registry_store_up                          1 when the registry's store is reached,
                                                        0 while the config's ports are served
                                                        without it (retried in the background)
    portgate_requests_refused_total{reason}             turned away by the HTTP edge: rate
                                                        limit, in-flight limits, overload, slow
                                                        or oversized headers and bodies
    portgate_client_disconnects_total                   clients gone before sending their body
    portgate_requests_in_flight                         GraphQL requests being served
    portgate_event_loop_lag_seconds                     how late the event loop last ran a timer

Labels stay bounded: operation names are chosen by clients, so only the first
``MAX_OPERATION_NAMES`` well-formed names get a label of their own, the rest count as
``(other)``; an operation without a name counts as ``(unnamed)``. Neither is a GraphQL name, so
no operation can be counted as one of them, and neither reads as "unauthenticated".
Each app has its own registry (several apps in one process, as in tests, never collide).
"""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_OPERATION_NAMES = 200
UNNAMED = "(unnamed)"  # the operation label of an operation without a name
OTHER = "(other)"  # and of names past MAX_OPERATION_NAMES, or not GraphQL names
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# A breaker's state by its name (gateway.ports.breaker.BreakerState's values) as the gauge shows it.
_BREAKER_VALUE = {"closed": 0, "half_open": 1, "open": 2}
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _BreakerStates(Collector):
    def __init__(self, states: Callable[[], Mapping[str, str]]) -> None:
        self._states = states

    def collect(self) -> Iterable[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "portgate_port_breaker_state",
            "Circuit breaker per port: 0 closed, 1 half-open, 2 open",
            labels=["port"],
        )
        for port, state in self._states().items():
            gauge.add_metric([port], _BREAKER_VALUE[state])
        yield gauge


class _PortHealth(Collector):
    def __init__(self, health: Callable[[], Mapping[str, str]]) -> None:
        self._health = health

    def collect(self) -> Iterable[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "portgate_port_health",
            "Latest probe of each port: up, degraded, down or paused",
            labels=["port", "status"],
        )
        for port, status in self._health().items():
            for known in ("up", "degraded", "down", "paused"):
                gauge.add_metric([port, known], 1 if status == known else 0)
        yield gauge


class BoundedStore(Protocol):
    """A store in the gateway's memory with a byte bound (answer cache, APQ documents, ...)."""

    bytes: int
    max_bytes: int
    evictions: int


class _BoundedStores(Collector):
    def __init__(self, stores: Callable[[], Mapping[str, BoundedStore]]) -> None:
        self._stores = stores

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        held = GaugeMetricFamily(
            "portgate_store_bytes", "Bytes held by each bounded store", labels=["store"]
        )
        bound = GaugeMetricFamily(
            "portgate_store_max_bytes", "The byte bound of each store", labels=["store"]
        )
        evicted = CounterMetricFamily(
            "portgate_store_evictions",
            "Entries pushed out to stay within the bound",
            labels=["store"],
        )
        for name, store in self._stores().items():
            held.add_metric([name], store.bytes)
            bound.add_metric([name], store.max_bytes)
            evicted.add_metric([name], store.evictions)
        yield from (held, bound, evicted)


class _AuditCounts(Collector):
    def __init__(self, counts: Callable[[], Mapping[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterable[CounterMetricFamily]:
        counter = CounterMetricFamily(
            "portgate_audit_records", "Audit records by result", labels=["result"]
        )
        for result, count in self._counts().items():
            counter.add_metric([result], count)
        yield counter


class _AuditStore(Collector):
    def __init__(self, state: Callable[[], Mapping[str, int]]) -> None:
        self._state = state

    def collect(self) -> Iterable[GaugeMetricFamily]:
        state = self._state()
        if not state:  # no trail (yet)
            return
        yield GaugeMetricFamily(
            "portgate_audit_store_up",
            "1 when the audit store is reached and its last write succeeded, else 0",
            value=state["up"],
        )
        yield GaugeMetricFamily(
            "portgate_audit_queued_records", "Audit records waiting for the store",
            value=state["queued"],
        )  # fmt: skip


class _RegistryStoreUp(Collector):
    def __init__(self, up: Callable[[], bool]) -> None:
        self._up = up

    def collect(self) -> Iterable[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "portgate_registry_store_up",
            "1 when the port registry's store is reached, 0 while it is retried",
            value=1 if self._up() else 0,
        )


@dataclass(frozen=True, slots=True)
class LiveReading:
    """The subscriptions a gateway holds, and which ports tell it of their changes."""

    subscriptions: int
    feeds: int
    pushing: Mapping[str, bool]  # per active port: is its change notice stream open


class _Live(Collector):
    def __init__(self, reading: Callable[[], LiveReading]) -> None:
        self._reading = reading

    def collect(self) -> Iterable[GaugeMetricFamily]:
        reading = self._reading()
        yield GaugeMetricFamily(
            "portgate_subscriptions", "Subscriptions open", value=reading.subscriptions
        )
        yield GaugeMetricFamily(
            "portgate_subscription_feeds",
            "Distinct subscriptions, each asking the ports for all its subscribers",
            value=reading.feeds,
        )
        pushing = GaugeMetricFamily(
            "portgate_port_pushing",
            "1 while the port's change notice stream is open (it is asked when it says so), "
            "0 while it is polled",
            labels=["port"],
        )
        for port, open_ in sorted(reading.pushing.items()):
            pushing.add_metric([port], 1 if open_ else 0)
        yield pushing


@dataclass(frozen=True, slots=True)
class EdgeReading:
    """The HTTP edge's counts at one scrape (see gateway/edge/counts.py)."""

    refused: Mapping[str, int]
    client_disconnects: int
    in_flight: int
    event_loop_lag: float


class _EdgeState(Collector):
    def __init__(self, reading: Callable[[], EdgeReading]) -> None:
        self._reading = reading

    def collect(self) -> Iterable[CounterMetricFamily | GaugeMetricFamily]:
        reading = self._reading()
        refused = CounterMetricFamily(
            "portgate_requests_refused",
            "Requests the HTTP edge turned away, by reason",
            labels=["reason"],
        )
        for reason, count in reading.refused.items():
            refused.add_metric([reason], count)
        yield refused
        yield CounterMetricFamily(
            "portgate_client_disconnects",
            "Clients that went away before sending their whole request body",
            value=reading.client_disconnects,
        )
        yield GaugeMetricFamily(
            "portgate_requests_in_flight", "GraphQL requests being served", value=reading.in_flight
        )
        yield GaugeMetricFamily(
            "portgate_event_loop_lag_seconds",
            "How late the event loop last ran a timer (the gateway is short of CPU)",
            value=reading.event_loop_lag,
        )


class GatewayMetrics:
    def __init__(
        self,
        breaker_states: Callable[[], Mapping[str, str]],
        audit_counts: Callable[[], Mapping[str, int]] = dict,
        port_health: Callable[[], Mapping[str, str]] = dict,
        stores: Callable[[], Mapping[str, BoundedStore]] = dict,
        audit_store: Callable[[], Mapping[str, int]] = dict,
        *,
        registry_store_up: Callable[[], bool] | None = None,
        edge: Callable[[], EdgeReading] | None = None,
        live: Callable[[], LiveReading] | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "portgate_requests", "GraphQL operations", ["operation", "outcome"], registry=r
        )
        self.request_seconds = Histogram(
            "portgate_request_duration_seconds", "Operation latency", ["outcome"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.port_seconds = Histogram(
            "portgate_port_request_duration_seconds", "Latency of each port's part",
            ["port", "status"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.cache = Counter(
            "portgate_cache_lookups", "Cache lookups per port", ["port", "result"], registry=r
        )
        self.denials = Counter(
            "portgate_policy_denials", "Fields withheld by the policy", ["coordinate"], registry=r
        )
        r.register(_BreakerStates(breaker_states))
        r.register(_AuditCounts(audit_counts))
        r.register(_PortHealth(port_health))
        r.register(_BoundedStores(stores))
        r.register(_AuditStore(audit_store))
        if registry_store_up is not None:
            r.register(_RegistryStoreUp(registry_store_up))
        if edge is not None:
            r.register(_EdgeState(edge))
        if live is not None:
            r.register(_Live(live))
        self._operation_names: set[str] = set()

    def operation_label(self, name: str | None) -> str:
        if not name:
            return UNNAMED
        if name in self._operation_names:
            return name
        if _NAME.match(name) and len(self._operation_names) < MAX_OPERATION_NAMES:
            self._operation_names.add(name)
            return name
        return OTHER

    def observe_operation(self, name: str | None, outcome: str, seconds: float) -> None:
        self.requests.labels(self.operation_label(name), outcome).inc()
        self.request_seconds.labels(outcome).observe(seconds)

    def observe_port(self, port: str, status: str, seconds: float) -> None:
        self.port_seconds.labels(port, status).observe(seconds)
        result = {"cached": "hit", "stale": "stale"}.get(status, "miss")
        self.cache.labels(port, result).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
