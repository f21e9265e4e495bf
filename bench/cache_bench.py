"""Cache and coalescing benchmark: cold vs warm latency, and what a burst costs the ports.

    .venv/bin/python -m bench.cache_bench [--rounds 5] [--requests 100] [--burst 200]

The five simulated ports (with an added latency on their own systems) run in this process; the
gateway runs as its own process (``portgate serve``), once per configuration. Every figure is a
median over rounds, and the two sides of each comparison are measured in the same run,
alternating, so machine noise hits both. Results go to bench/results/cache.{md,json}.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import yaml

from port_resolvers.sim.cluster import RunningPort, run_simulated_ports
from port_resolvers.sim.data import DEFAULT_SEED, generate_all_ports

RESULTS = Path(__file__).parent / "results"
QUERY = """query Boxes($refs: [String!]!) {
  containers(references: $refs) {
    equipmentReference sourcePort status
    availability { availableForPickup lastFreeDay holds { type status } }
    events { equipmentEventTypeCode eventClassifierCode eventDateTime }
  }
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gateway(config: Path, port: int) -> subprocess.Popen[bytes]:
    """``portgate serve``; its log goes to $BENCH_GATEWAY_LOG when set."""
    portgate = Path(sys.executable).parent / "portgate"
    with open(os.environ.get("BENCH_GATEWAY_LOG", os.devnull), "ab") as log:
        return subprocess.Popen(
            [str(portgate), "serve", "--config", str(config), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


@contextlib.asynccontextmanager
async def gateway_process(ports: list[RunningPort], **settings: Any) -> AsyncIterator[str]:
    """``portgate serve`` in its own process, with a config for these ports: its URL."""
    async with gateway_server(ports, **settings) as (url, _pid):
        yield url


@contextlib.asynccontextmanager
async def gateway_server(
    ports: list[RunningPort], **settings: Any
) -> AsyncIterator[tuple[str, int]]:
    """``portgate serve`` in its own process, with a config for these ports: its URL and
    process id."""
    config = {
        # Generous: the in-process simulated ports are slow under a burst, and the burst
        # figures count requests, not time.
        "deadline": "60s",
        "port_defaults": {"timeout": "30s"},
        "rate_limit": {"enabled": False},  # bursts from one client on purpose
        "ports": [{"id": p.id, "name": p.name, "url": p.resolver_url} for p in ports],
        "registry": {"egress": {"schemes": ["http"], "hosts": ["127.0.0.1"]}},  # its ports
        **settings,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(config, handle)
    port = free_port()
    process = start_gateway(Path(handle.name), port)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(1200):  # it starts in about a second; a busy machine may take longer
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the gateway did not start")
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)
        os.unlink(handle.name)


async def timed(client: httpx.AsyncClient, url: str, refs: list[str]) -> float:
    started = time.perf_counter()
    response = await client.post(
        f"{url}/graphql", json={"query": QUERY, "variables": {"refs": refs}}
    )
    elapsed = time.perf_counter() - started
    body = response.json()
    assert "errors" not in body, body["errors"]
    return elapsed * 1000


def system_requests(ports: list[RunningPort]) -> int:
    return sum(sum(p.system.stats.requests.values()) for p in ports)


async def cold_vs_warm(
    ports: list[RunningPort], references: list[str], rounds: int, requests: int
) -> dict[str, Any]:
    """Cold: every request a new reference (a miss at every port). Warm: one repeated request."""
    per_round: dict[str, list[float]] = {"cold": [], "warm": []}
    p90: dict[str, list[float]] = {"cold": [], "warm": []}
    fresh = iter(references)
    async with gateway_process(ports) as url, httpx.AsyncClient(timeout=30) as client:
        warm_refs = [references[0]]
        await timed(client, url, warm_refs)
        for _ in range(rounds):
            for side in ("cold", "warm"):
                samples = [
                    await timed(client, url, [next(fresh)] if side == "cold" else warm_refs)
                    for _ in range(requests)
                ]
                per_round[side].append(statistics.median(samples))
                p90[side].append(statistics.quantiles(samples, n=10)[-1])
    cold, warm = statistics.median(per_round["cold"]), statistics.median(per_round["warm"])
    return {
        "cold_p50_ms": round(cold, 2),
        "warm_p50_ms": round(warm, 2),
        "cold_p90_ms": round(statistics.median(p90["cold"]), 2),
        "warm_p90_ms": round(statistics.median(p90["warm"]), 2),
        "speedup": round(cold / warm, 1),
        "rounds_p50_ms": per_round,
    }


async def burst_cost(
    ports: list[RunningPort], references: list[str], rounds: int, burst: int
) -> dict[str, Any]:
    """A burst of identical concurrent queries, cache off: port-system requests it caused."""
    counts: dict[str, list[int]] = {"coalesced": [], "not_coalesced": []}
    servers = {
        side: gateway_process(ports, cache={"enabled": False, "coalesce": side == "coalesced"})
        for side in counts
    }
    async with contextlib.AsyncExitStack() as stack:
        urls = {side: await stack.enter_async_context(cm) for side, cm in servers.items()}
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=burst)) as c:
            for round_ in range(rounds):
                refs = [references[round_]]
                for side, url in urls.items():
                    await timed(c, url, [references[-1 - round_]])  # warm the adapters
                    before = system_requests(ports)
                    await asyncio.gather(*(timed(c, url, refs) for _ in range(burst)))
                    counts[side].append(system_requests(ports) - before)
    single = counts["coalesced"]
    return {
        "burst": burst,
        "port_system_requests_coalesced": statistics.median(single),
        "port_system_requests_not_coalesced": statistics.median(counts["not_coalesced"]),
        "rounds": counts,
    }


def versions() -> dict[str, str]:
    names = ("strawberry-graphql", "graphql-core", "httpx", "aiocache", "uvicorn", "starlette")
    return {name: metadata.version(name) for name in names}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--port-latency-ms", type=float, default=20.0)
    args = parser.parse_args()

    data = generate_all_ports(seed=DEFAULT_SEED)
    references = [c.reference for d in data.values() for c in d.containers]
    async with run_simulated_ports() as ports:
        for port in ports:
            port.system.knobs.latency_ms = args.port_latency_ms
        latency = await cold_vs_warm(ports, references, args.rounds, args.requests)
        burst = await burst_cost(ports, references, args.rounds, args.burst)

    result = {
        **run_facts("bench.cache_bench", vars(args)),
        "cold_vs_warm": latency,
        "burst": burst,
    }
    write_results("cache", result, render)


def run_facts(module: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The command, the machine, the library versions and the settings of a benchmark run."""
    return {
        "command": " ".join([Path(sys.executable).name, "-m", module, *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "versions": versions(),
        "settings": settings,
    }  # fmt: skip


def write_results(
    name: str, result: dict[str, Any], render: Callable[[dict[str, Any]], str]
) -> None:
    """bench/results/NAME.json and NAME.md, and the markdown on stdout."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(render(result))
    print(render(result))


def render(r: dict[str, Any]) -> str:
    lat, burst = r["cold_vs_warm"], r["burst"]
    s = r["settings"]
    return f"""# Cache and coalescing benchmark

`{r["command"]}` on {r["machine"]["cpus"]} CPUs, {r["machine"]["platform"]}, Python \
{r["machine"]["python"]}; {", ".join(f"{k} {v}" for k, v in r["versions"].items())}.
Five simulated ports, each port system adding {s["port_latency_ms"]:g} ms; the gateway in its \
own process. Medians over {s["rounds"]} rounds of {s["requests"]} sequential requests per side, \
alternating.

| containers query | p50 ms | p90 ms |
|---|---|---|
| cold cache (a new container number each request) | {lat["cold_p50_ms"]} | {lat["cold_p90_ms"]} |
| warm cache (the same request again) | {lat["warm_p50_ms"]} | {lat["warm_p90_ms"]} |
| ratio cold / warm | {lat["speedup"]}x | |

A burst of {burst["burst"]} identical concurrent queries with the cache off, requests reaching \
the five ports' own systems (median of {s["rounds"]} rounds):

| | port system requests |
|---|---|
| with coalescing | {burst["port_system_requests_coalesced"]} |
| without coalescing | {burst["port_system_requests_not_coalesced"]} |
"""


if __name__ == "__main__":
    asyncio.run(main())
