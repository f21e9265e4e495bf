"""Subscriptions benchmark: subscribers one gateway holds, what they cost it in memory, what they
cost the ports, and how many messages a second it delivers.

    .venv/bin/python -m bench.live_bench [--subscribers 100,1000] [--seconds 10]

1. Held: ``portgate serve`` (its own process) in front of the five simulated ports (in this
   process). N GraphQL-over-SSE subscribers to one container each (ten distinct containers, so
   ten feeds), held for ``--seconds``: the gateway's RSS before and with them (MB per
   subscriber), and the requests the simulated systems received meanwhile, against the polls
   the interval allows (one per feed per interval, however many subscribe). Run twice, side by
   side: with the ports' change notices (Los Angeles and Oakland push, the other three are
   polled) and with ``subscriptions.push: false`` (all five polled); each system's requests.
2. Delivered: the subscription hub alone (gateway/query/live.py, in this process), with an
   answer that changes at every poll: N subscribers on K feeds, each poll's changes taken by
   every subscriber; messages a second (median of rounds), and the Python heap per subscriber
   (tracemalloc).

Results: bench/results/live.{md,json}. Never part of ``make test``.
"""

import argparse
import asyncio
import contextlib
import json
import statistics
import time
import tracemalloc
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import psutil
from graphql import DocumentNode, ExecutionResult, parse

from bench.cache_bench import gateway_server, system_requests
from gateway.access.auth import Principal
from gateway.query.live import KEY_ALIAS, PORT_ALIAS, LiveQueries
from gateway.query.pipeline import OperationResult
from port_resolvers.sim.cluster import run_simulated_ports
from port_resolvers.sim.data import DEFAULT_SEED, generate_all_ports

RESULTS = Path(__file__).parent / "results"
SUBSCRIPTION = (
    "subscription Box($refs: [String!]!) { containerUpdates(references: $refs) "
    "{ equipmentReference status availability { availableForPickup holds { type status } } } }"
)
INTERVAL = 1.0
WHO = Principal("bench", "bench", frozenset({"public"}), None, "anonymous")


async def held(count: int, seconds: float, *, push: bool = True) -> dict[str, Any]:
    async with run_simulated_ports() as ports:
        data = generate_all_ports(seed=DEFAULT_SEED)
        references = [c.reference for c in data["USLAX"].containers[:10]]
        async with gateway_server(
            ports, subscriptions={"interval": f"{INTERVAL}s", "max_per_client": count,
                                  "max_total": count + 10, "push": push},
        ) as (url, pid):  # fmt: skip
            gateway = psutil.Process(pid)
            limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=0)
            async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
                await client.get("/healthz")
                rest = gateway.memory_info().rss
                async with contextlib.AsyncExitStack() as stack:
                    for i in range(count):
                        response = await stack.enter_async_context(client.stream(
                            "POST", "/graphql", headers={"accept": "text/event-stream"},
                            json={"query": SUBSCRIPTION,
                                  "variables": {"refs": [references[i % len(references)]]}},
                        ))  # fmt: skip
                        assert response.status_code == 200, await response.aread()
                    await asyncio.sleep(2 * INTERVAL)  # past the first answers and notice streams
                    before = system_requests(ports)
                    by_port = {p.id: sum(p.system.stats.requests.values()) for p in ports}
                    started = time.monotonic()
                    await asyncio.sleep(seconds)  # the subscribers are held meanwhile
                    elapsed = time.monotonic() - started
                    asked = system_requests(ports) - before
                    by_port = {p.id: sum(p.system.stats.requests.values()) - by_port[p.id]
                               for p in ports}  # fmt: skip
                    holding = gateway.memory_info().rss
    feeds = len(references)
    return {
        "subscribers": count,
        "feeds": feeds,
        "rest_rss_mb": round(rest / 2**20, 1),
        "held_rss_mb": round(holding / 2**20, 1),
        "kb_per_subscriber": round((holding - rest) / 1024 / count, 1),
        "seconds": round(elapsed, 1),
        "system_requests": asked,
        "by_port": by_port,
        "push": push,
        "polls_allowed": round(feeds * elapsed / INTERVAL),
    }


class Changing:
    """An answer of 10 containers per feed whose status changes at every poll."""

    def __init__(self) -> None:
        self.polls = 0

    async def run(
        self,
        document: DocumentNode,
        name: str | None,
        values: Mapping[str, Any],
        who: Any,
        bypass: Any = True,
    ) -> OperationResult:
        self.polls += 1
        rows = [{"status": f"S{self.polls}", KEY_ALIAS: f"{r}-{i}", PORT_ALIAS: None}
                for i, r in enumerate(values["refs"] * 10)]  # fmt: skip
        return OperationResult(ExecutionResult({"containerUpdates": rows}))


async def allowed() -> bool:
    return True


async def delivered(count: int, feeds: int, rounds: int) -> dict[str, Any]:
    changing = Changing()
    gate = asyncio.Event()

    async def sleep(_: float) -> None:
        await gate.wait()

    live = LiveQueries(changing.run, interval=1, max_per_principal=count, max_total=count,
                       sleep=sleep)  # fmt: skip
    document = parse(SUBSCRIPTION)
    tracemalloc.start()
    heap = tracemalloc.get_traced_memory()[0]
    subscribers = [live.open(document, None, {"refs": [f"BOX{i % feeds}"]}, WHO, allowed,
                             arguments={}) for i in range(count)]  # fmt: skip
    await asyncio.gather(*(s.take() for s in subscribers))  # the first state
    per_subscriber = (tracemalloc.get_traced_memory()[0] - heap) / count
    tracemalloc.stop()
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        for feed in list(live.feeds.values()):
            await feed.poll()
        taken = await asyncio.gather(*(s.take() for s in subscribers))
        rates.append(len(taken) / (time.perf_counter() - started))
    await live.close()
    return {
        "subscribers": count,
        "feeds": feeds,
        "messages_per_second": round(statistics.median(rates)),
        "heap_kb_per_subscriber": round(per_subscriber / 1024, 2),
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        "# Subscriptions", "",
        f"`python -m bench.live_bench {result['args']}`, interval {INTERVAL:g} s.", "",
        "## Held: GraphQL-over-SSE subscribers on one `portgate serve`, five simulated ports", "",
        "| subscribers | feeds | RSS at rest MB | RSS holding them MB | KB per subscriber "
        "| seconds | requests at the simulated systems | feed polls the interval allows |",
        "|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for h in result["held"]:
        lines.append(
            f"| {h['subscribers']:,} | {h['feeds']} | {h['rest_rss_mb']} | {h['held_rss_mb']} "
            f"| {h['kb_per_subscriber']} | {h['seconds']} | {h['system_requests']} "
            f"| {h['polls_allowed']} |"
        )
    lines += ["", "Each feed poll asks every port that answers `containers` (five), and a "
              "resolver may ask its system more than once; what matters is that the requests do "
              "not grow with the subscribers."]  # fmt: skip
    ports = sorted(result["held"][0]["by_port"])
    lines += ["", "## Told or asked: each system's requests, the same subscribers with and "
              "without change notices", "",
              "Los Angeles and Oakland run DCSA systems whose resolvers subscribe to their events "
              "and tell the gateway (nothing changes at the ports here, so they are asked only "
              "when their notice stream opens and every `push_interval`); the other three are "
              "polled.", "",
              "| subscribers | change notices | " + " | ".join(ports) + " |",
              "|---|---|" + "---|" * len(ports)]  # fmt: skip
    for h in [*result["held"], *result.get("polled", [])]:
        cells = " | ".join(str(h["by_port"][p]) for p in ports)
        lines.append(f"| {h['subscribers']:,} | {'on' if h['push'] else 'off'} | {cells} |")
    lines += ["", "## Delivered: the hub alone, every item changing at every poll", "",
              "| subscribers | feeds | messages a second (median) | heap KB per subscriber |",
              "|---|---|---|---|"]  # fmt: skip
    for d in result["delivered"]:
        lines.append(f"| {d['subscribers']:,} | {d['feeds']} | {d['messages_per_second']:,} "
                     f"| {d['heap_kb_per_subscriber']} |")  # fmt: skip
    return "\n".join(lines) + "\n"


async def main(args: argparse.Namespace) -> dict[str, Any]:
    counts = [int(c) for c in args.subscribers.split(",")]
    result: dict[str, Any] = {"held": [], "delivered": []}
    result["polled"] = []
    for count in counts:
        result["held"].append(await held(count, args.seconds))
        result["polled"].append(await held(count, args.seconds, push=False))
        result["delivered"].append(await delivered(count, 10, args.rounds))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", default="100,1000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    outcome = asyncio.run(main(arguments))
    outcome["args"] = " ".join(f"--{k} {v}" for k, v in vars(arguments).items())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "live.json").write_text(json.dumps(outcome, indent=2) + "\n")
    (RESULTS / "live.md").write_text(report(outcome))
    print(report(outcome))
