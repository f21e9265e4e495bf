"""Outlook benchmark: what a warm outlook costs next to the queries it is made of, and what a
repeated outlook costs the ports.

    .venv/bin/python -m bench.outlook_bench [--rounds 5] [--requests 40]

The five simulated ports run in this process, on loopback; the gateway runs as its own process
(``portgate serve``), twice: with the default window alignment (a minute) and with a 1 ms
alignment, which is how the outlook behaved before its window was aligned (every request a new
window, so nothing shared). Both have ``limits.max_cost`` raised, so ten aliased outlooks run.

1. Latency, sequential requests, every side warm: the outlook (``days: 3``), a ``vesselCalls``
   page of 20, the outlook's own first inner query asked as a client query (calls, metrics and
   ports), and the outlook on the unaligned gateway. Median of each round, median of rounds; the
   sides alternate within a round so machine noise hits them all.
2. Port-system requests (what reaches the five ports' own systems), each round at the start of
   a new minute (a new window: nothing cached for it): one outlook cold, the same request
   again; ten aliased outlooks in one request; ten identical outlook requests at once, each
   case on a window of its own. Results go to bench/results/outlook.{md,json}.
"""

import argparse
import asyncio
import os
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psutil

from bench.cache_bench import gateway_server, run_facts, system_requests, write_results
from port_resolvers.sim.cluster import RunningPort, run_simulated_ports

OUTLOOK_FIELDS = """windowStart windowEnd
    ports { UNLocationCode answered vesselsAtAnchor vesselsAtBerth expectedArrivals
            lateArrivals { vesselName delayHours } averageDelayHours containerDwellDays
            truckTurnTimeMinutes }
    comparison { mostVesselsAtAnchor mostDelayed missing }"""
OUTLOOK = "query Outlook($days: Int!) { outlook(days: $days) { " + OUTLOOK_FIELDS + " } }"
TEN_OUTLOOKS = (
    "query Ten($days: Int!) { "
    + " ".join(f"o{i}: outlook(days: $days) {{ {OUTLOOK_FIELDS} }}" for i in range(10))
    + " }"
)
VESSEL_CALLS = """query Calls { vesselCalls(first: 20) {
    edges { node { UNLocationCode facilityCode phase vessel { vesselName }
                   plannedArrivalDateTime estimatedArrivalDateTime } }
    pageInfo { hasNextPage endCursor } } }"""
# What an outlook asks first, as a client would ask it (gateway/query/outlook.py, FIRST_PAGE).
INNER = """query Inner($from: DateTime!, $to: DateTime!) {
  calls: vesselCalls(from: $from, to: $to, first: 100) {
    edges { node { UNLocationCode transportCallReference facilityCode statusCode
                   plannedArrivalDateTime estimatedArrivalDateTime actualArrivalDateTime
                   vessel { vesselName vesselIMONumber } } }
    pageInfo { hasNextPage endCursor } }
  metrics: portMetrics(period: LAST_7_DAYS, metrics: [VESSELS_AT_ANCHOR, VESSELS_AT_BERTH,
      CONTAINER_DWELL_DAYS, TRUCK_TURN_TIME_MINUTES]) { UNLocationCode facilityCode metric value }
  ports { UNLocationCode name status } }"""
SETTINGS: dict[str, Any] = {
    "limits": {"max_cost": 10_000_000},  # ten aliased outlooks run, on purpose
    "registry": {"health_interval": "1h"},  # no probe adds to the port-system counts
}

UNALIGNED = {"window_alignment": "1ms"}  # every request a new window, as before alignment

Ask = Callable[[], Awaitable[Any]]


# The default policy withholds metric values over small samples from the public: expected.
EXPECTED = frozenset({"FORBIDDEN_FIELD"})
PORT_FAILURES = frozenset({"PORT_TIMEOUT", "DEADLINE_EXCEEDED", "PORT_UNAVAILABLE", "PORT_ERROR"})


class Gateway:
    """One gateway process, asked over HTTP. A port failure is counted in ``failures``, not
    fatal (a simulated port's system may drop a kept-alive connection now and then); any other
    error stops the benchmark."""

    def __init__(
        self, client: httpx.AsyncClient, url: str, pid: int, failures: Counter[str]
    ) -> None:
        self.client = client
        self.url = url
        self.process = psutil.Process(pid)
        self.failures = failures

    def cpu_seconds(self) -> float:
        """CPU the gateway process has used so far (user and system)."""
        times = self.process.cpu_times()
        return float(times.user + times.system)

    async def ask(self, query: str, **variables: Any) -> Any:
        response = await self.client.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or None}
        )
        body = response.json()
        assert response.status_code == 200, body
        for error in body.get("errors") or ():
            code = error["extensions"]["code"]
            assert code in EXPECTED | PORT_FAILURES, body["errors"]
            if code in PORT_FAILURES:
                self.failures[code] += 1
        return body


async def timed(ask: Ask) -> float:
    started = time.perf_counter()
    await ask()
    return (time.perf_counter() - started) * 1000


def inner_variables() -> dict[str, str]:
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    return {
        "from": (start - timedelta(days=2)).isoformat(),
        "to": (start + timedelta(days=3)).isoformat(),
    }


async def latency(
    aligned: Gateway, unaligned: Gateway, rounds: int, requests: int
) -> dict[str, Any]:
    """Wall time per request as the client sees it, and the gateway process's CPU time per
    request (what the request costs the gateway, less sensitive to a busy machine)."""
    sides: dict[str, tuple[Gateway, Ask]] = {
        "outlook": (aligned, lambda: aligned.ask(OUTLOOK, days=3)),
        "vesselCalls": (aligned, lambda: aligned.ask(VESSEL_CALLS)),
        "inner": (aligned, lambda: aligned.ask(INNER, **inner_variables())),
        "outlook_unaligned": (unaligned, lambda: unaligned.ask(OUTLOOK, days=3)),
    }
    wall: dict[str, list[float]] = {side: [] for side in sides}
    cpu: dict[str, list[float]] = {side: [] for side in sides}
    for _ in range(rounds):
        for side, (gateway, ask) in sides.items():
            await ask()  # warm (the unaligned side is never warm: that is its point)
            before = gateway.cpu_seconds()
            samples = [await timed(ask) for _ in range(requests)]
            cpu[side].append((gateway.cpu_seconds() - before) * 1000 / requests)
            wall[side].append(statistics.median(samples))
    p50 = {side: round(statistics.median(values), 2) for side, values in wall.items()}
    cpu_ms = {side: round(statistics.median(values), 2) for side, values in cpu.items()}
    return {
        "p50_ms": p50,
        "gateway_cpu_ms": cpu_ms,
        "outlook_over_vessel_calls": round(p50["outlook"] / p50["vesselCalls"], 2),
        "outlook_over_inner": round(p50["outlook"] / p50["inner"], 2),
        "unaligned_over_aligned": round(p50["outlook_unaligned"] / p50["outlook"], 1),
        "cpu_outlook_over_vessel_calls": round(cpu_ms["outlook"] / cpu_ms["vesselCalls"], 2),
        "cpu_outlook_over_inner": round(cpu_ms["outlook"] / cpu_ms["inner"], 2),
        "cpu_unaligned_over_aligned": round(cpu_ms["outlook_unaligned"] / cpu_ms["outlook"], 1),
        "rounds_p50_ms": wall,
        "rounds_gateway_cpu_ms": cpu,
    }


async def next_minute() -> None:
    """Wait for a new minute: a new window, so the aligned gateway has nothing cached for it."""
    now = datetime.now(UTC)
    await asyncio.sleep(60.2 - now.second - now.microsecond / 1e6)


async def counted(ports: list[RunningPort], ask: Ask) -> int:
    before = system_requests(ports)
    await ask()
    return system_requests(ports) - before


def repeat_cases(gateway: Gateway) -> dict[str, Ask]:
    """What :func:`port_requests` asks of one gateway, each case on a window of its own."""
    return {
        "cold": lambda: gateway.ask(OUTLOOK, days=14),
        "repeated": lambda: gateway.ask(OUTLOOK, days=14),
        "ten_aliased_cold": lambda: gateway.ask(TEN_OUTLOOKS, days=13),
        "ten_concurrent_cold": lambda: asyncio.gather(
            *(gateway.ask(OUTLOOK, days=12) for _ in range(10))
        ),
    }


async def port_requests(
    ports: list[RunningPort], gateways: dict[str, Gateway], rounds: int
) -> dict[str, Any]:
    counts: dict[str, list[int]] = {}
    for _ in range(rounds):
        await next_minute()
        for side, gateway in gateways.items():
            cases = repeat_cases(gateway)
            for case, ask in cases.items():
                counts.setdefault(f"{side}.{case}", []).append(await counted(ports, ask))
    return {
        "median": {case: statistics.median(values) for case, values in counts.items()},
        "rounds": counts,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--count-rounds", type=int, default=3, help="a minute each")
    parser.add_argument("--port-latency-ms", type=float, default=0.0)
    args = parser.parse_args()

    started = time.monotonic()
    async with run_simulated_ports() as ports:
        for port in ports:
            port.system.knobs.latency_ms = args.port_latency_ms
        failures: Counter[str] = Counter()
        async with (
            gateway_server(ports, **SETTINGS) as (aligned_url, aligned_pid),
            gateway_server(ports, **SETTINGS, outlook=UNALIGNED) as (unaligned_url, unaligned_pid),
            httpx.AsyncClient(timeout=60) as client,
        ):
            aligned = Gateway(client, aligned_url, aligned_pid, failures)
            unaligned = Gateway(client, unaligned_url, unaligned_pid, failures)
            timing = await latency(aligned, unaligned, args.rounds, args.requests)
            requests = await port_requests(
                ports, {"aligned": aligned, "unaligned": unaligned}, args.count_rounds
            )

    result = {
        **run_facts("bench.outlook_bench", vars(args)),
        "minutes": round((time.monotonic() - started) / 60, 1),
        "latency": timing,
        "port_system_requests": requests,
        "port_failures": dict(failures),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    write_results("outlook", result, render)


def render(r: dict[str, Any]) -> str:
    lat, s = r["latency"], r["settings"]
    p50, cpu = lat["p50_ms"], lat["gateway_cpu_ms"]
    n = r["port_system_requests"]["median"]
    return f"""# Outlook benchmark

`{r["command"]}` ({r["minutes"]} min) on {r["machine"]["cpus"]} CPUs, \
{r["machine"]["platform"]}, Python {r["machine"]["python"]}; \
{", ".join(f"{k} {v}" for k, v in r["versions"].items())}.
Five simulated ports in the benchmark's process, each port system adding \
{s["port_latency_ms"]:g} ms; the gateway in its own process (`portgate serve`), once with the \
default window alignment (a minute) and once with a 1 ms alignment, as the outlook was before \
its window was aligned.

## Latency: a warm outlook and the queries it is made of

Medians over {s["rounds"]} rounds of {s["requests"]} sequential requests per side, the sides \
alternating within each round; every side warm (its answers cached) except the unaligned \
outlook, whose window moves with every request.

| query | p50 ms | gateway CPU ms per request |
|---|---|---|
| `outlook(days: 3)`, warm | {p50["outlook"]} | {cpu["outlook"]} |
| `vesselCalls(first: 20)`, warm | {p50["vesselCalls"]} | {cpu["vesselCalls"]} |
| the outlook's first inner query (100 calls, metrics, ports) asked directly, warm | \
{p50["inner"]} | {cpu["inner"]} |
| `outlook(days: 3)`, window not aligned (every request asks the ports) | \
{p50["outlook_unaligned"]} | {cpu["outlook_unaligned"]} |

Warm outlook / warm vesselCalls: {lat["outlook_over_vessel_calls"]}x in time, \
{lat["cpu_outlook_over_vessel_calls"]}x in gateway CPU; warm outlook / its inner query asked \
directly: {lat["outlook_over_inner"]}x in time, {lat["cpu_outlook_over_inner"]}x in CPU; \
unaligned / aligned: {lat["unaligned_over_aligned"]}x in time, \
{lat["cpu_unaligned_over_aligned"]}x in CPU. The machine's load during the run: \
{r["load_average"]} (1, 5, 15 min, at the end); time figures suffer from it, CPU figures much \
less.

## Requests reaching the ports' own systems

Each round at the start of a new minute, each case on a window of its own; medians of \
{s["count_rounds"]} rounds. The two DCSA \
ports read events and their supplement, so a port request can be two system requests.

| request | aligned (1 min) | unaligned (1 ms) |
|---|---|---|
| `outlook(days: 14)`, first time | {n["aligned.cold"]} | {n["unaligned.cold"]} |
| the same request again | {n["aligned.repeated"]} | {n["unaligned.repeated"]} |
| ten aliased outlooks in one request, first time | {n["aligned.ten_aliased_cold"]} | \
{n["unaligned.ten_aliased_cold"]} |
| ten identical outlook requests at once, first time | \
{n["aligned.ten_concurrent_cold"]} | {n["unaligned.ten_concurrent_cold"]} |

Port failures during the run (a simulated system dropping a connection, say): \
{sum(r["port_failures"].values())} {r["port_failures"] or ""}

Before the outlook lived inside its query's budget (issue 14, measured on the demo): one \
`outlook(days: 14)` caused 28 port-system requests (further pages asked the aggregates and the \
port list again), ten aliased outlooks 280, the same request again 280 again, and a warm \
outlook took about 100 ms against 4 ms for a cached `vesselCalls`. The unaligned column undoes \
only the alignment: aliases in one request still share one window and are computed once.
"""


if __name__ == "__main__":
    asyncio.run(main())
