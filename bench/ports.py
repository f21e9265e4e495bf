"""Benchmark port resolvers: N resolver-kit apps in one process, on loopback ports it picks.

    .venv/bin/python -m bench.ports --count 100 --latency-ms 20 [--memo]

Each port is the resolver kit (``create_resolver_app``, graphql-core execution) over an
in-memory source holding the Los Angeles simulated data, under its own UN/LOCODE (the first is
USLAX, the others XA000, XA001, ...). ``--latency-ms`` adds a fixed wait to every answer: the
port's own systems taking that long, at no CPU cost.

``--memo`` keeps each answer by request body after the kit computed it once, and serves it
again to an identical request. Then a port costs every gateway in front of it the same small
amount of CPU per request (HTTP and a dictionary lookup), and what a benchmark measures is the
gateways' own work, not graphql-core on the port side competing with them for the two cores.

The process prints one JSON line when every port listens: ``{"ports": [{"id", "url"}, ...],
"stats": url}``. ``GET <stats>`` answers ``{"requests": total, "executed": total}`` (since the
last ``POST <stats>``, which resets them): requests are every POST /graphql that reached a port,
executed the ones the kit computed (not served from the memo).
"""

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvloop

from port_resolvers.kit import create_resolver_app
from port_resolvers.loopback import serve_on_loopback
from port_resolvers.sim.data import DEFAULT_SEED, generate_port_data
from port_resolvers.sim.model import PortData
from port_resolvers.sim.records import InMemoryPortSource

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DATA_PORT = "USLAX"  # about 1,000 containers with their events at scale 1.0


def port_ids(count: int) -> list[str]:
    """USLAX, then XA000, XA001, ...: valid UN/LOCODEs (digits 2-9 and letters only)."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    extra = [
        f"XA{alphabet[i // len(alphabet) ** 2 % len(alphabet)]}"
        f"{alphabet[i // len(alphabet) % len(alphabet)]}{alphabet[i % len(alphabet)]}"
        for i in range(count - 1)
    ]
    return [DATA_PORT, *extra]


def bench_data(seed: int = DEFAULT_SEED) -> PortData:
    return generate_port_data(DATA_PORT, seed=seed)


@dataclass(slots=True)
class Counters:
    requests: int = 0
    executed: int = 0


@dataclass(slots=True)
class BenchPort:
    """A kit app behind a fixed latency, and optionally a memo of answers by request body."""

    app: ASGIApp
    latency: float
    memo: bool
    counters: Counters
    answers: dict[bytes, list[Message]] = field(default_factory=dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        self.counters.requests += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        stored = self.answers.get(body) if self.memo else None
        if stored is None:
            self.counters.executed += 1
            stored = []

            async def replay() -> Message:
                return {"type": "http.request", "body": body, "more_body": False}

            async def keep(message: Message) -> None:
                stored.append(message)

            await self.app(scope, replay, keep)
            if self.memo:
                self.answers[body] = stored
        for message in stored:
            await send(message)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def stats_app(counters: Counters) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = orjson.dumps({"requests": counters.requests, "executed": counters.executed})
        if scope["method"] == "POST":
            counters.requests = counters.executed = 0
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


async def serve(count: int, latency_ms: float, memo: bool, seed: int) -> None:
    data = bench_data(seed)
    counters = Counters()
    async with contextlib.AsyncExitStack() as servers:
        ports = []
        for port_id in port_ids(count):
            kit = create_resolver_app(InMemoryPortSource(data), port_id)
            app = BenchPort(kit, latency_ms / 1000, memo, counters)
            url = await servers.enter_async_context(serve_on_loopback(app))
            ports.append({"id": port_id, "url": f"{url}/graphql"})
        stats = await servers.enter_async_context(serve_on_loopback(stats_app(counters)))
        print(orjson.dumps({"ports": ports, "stats": stats}).decode(), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_reader(sys.stdin.fileno(), stop.set)  # the harness closes our stdin to stop us
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--memo", action="store_true")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    uvloop.run(serve(args.count, args.latency_ms, args.memo, args.seed))


if __name__ == "__main__":
    main()
