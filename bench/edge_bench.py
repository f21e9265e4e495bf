"""What the HTTP edge costs one request: the middleware before the GraphQL view, and the server's
protocol, each side by side with what the gateway ran before them.

    .venv/bin/python -m bench.edge_bench [--rounds 9] [--requests 20000]

**Middleware** (in process, no sockets): a JSON POST of a small query goes through a stack of the
gateway's own middleware classes to an endpoint that reads the body and answers 200. Stacks:

- ``before``: body size limit, authentication, rate limit (memory), CSRF, as the gateway had;
- ``after``: the same plus load shedding, the in-flight limit per client and the body read
  deadline, as ``create_app`` builds it now (no trusted proxy: that middleware is then absent);
- ``after + trusted proxy``: and the client address taken from ``X-Forwarded-For``.

**Protocol** (real uvicorn on loopback): sequential keep-alive requests to ``/healthz`` of a
bare Starlette app, with uvicorn's httptools protocol and with the edge's
(:class:`gateway.cli.server.EdgeHttpProtocol`).

**Operation choice**: :func:`check_operation_choice` on a request without ``operationName``.

Every figure is CPU time of this process (client and server both, for the protocol), not wall
time, so other work on a shared machine weighs less on it; a median over rounds in which the
sides alternate. Results go to bench/results/edge.{md,json}.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import AsyncIterator
from importlib import metadata
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.access.auth import Authenticator
from gateway.access.ratelimit import MemoryCounters, RateLimiter
from gateway.cli.server import edge_protocol
from gateway.edge.authenticate import Authenticate
from gateway.edge.body_limit import BodyLimits, ReadDeadlines
from gateway.edge.client_address import ClientAddress
from gateway.edge.counts import EdgeCounts
from gateway.edge.csrf import CsrfProtection
from gateway.edge.in_flight import ClientConcurrency
from gateway.edge.operation_choice import check_operation_choice
from gateway.edge.overload import EventLoopLag, Overload
from gateway.edge.rate_limit import ClientRate, RateLimit
from gateway.edge.settings import ServerSettings

RESULTS = Path(__file__).parent / "results"
BODY = b'{"query": "query Calls { vesselCalls(first: 20) { totalCount } }"}'
BIG = 10**9  # limits no benchmark request reaches


async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def stack(*, shedding: bool, deadline: bool, proxy: bool) -> ASGIApp:
    """The middleware as create_app folds it, outermost first."""
    counts = EdgeCounts()
    app: ASGIApp = CsrfProtection(endpoint)
    limiter = RateLimiter(MemoryCounters(), 60.0)
    app = RateLimit(app, ClientRate(limiter, requests=BIG, anonymous_requests=BIG, counts=counts))
    if shedding:
        app = ClientConcurrency(app, counts, limit=BIG, retry_after=1)
    authenticator = Authenticator(allow_anonymous=True, api_keys=None, tokens=None)
    app = Authenticate(app, authenticator)
    reads = ReadDeadlines(15.0) if deadline else None
    app = BodyLimits(app, 262_144, deadlines=reads, counts=counts)
    if shedding:
        app = Overload(app, counts, EventLoopLag(0.1), max_in_flight=BIG, max_lag=0.5,
                       retry_after=1)  # fmt: skip
    if proxy:
        app = ClientAddress(app, ["10.0.0.0/8"], "x-forwarded-for")
    return app


async def middleware_round(app: ASGIApp, requests: int, proxy: bool) -> float:
    """Microseconds per request through ``app``."""
    headers = [
        (b"host", b"gw"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
        (b"user-agent", b"bench"),
        (b"accept", b"*/*"),
    ]
    if proxy:
        headers.append((b"x-forwarded-for", b"203.0.113.7, 10.1.2.3"))

    async def send(message: Message) -> None:
        pass

    started = time.process_time()
    for i in range(requests):
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}

        scope = {
            "type": "http", "method": "POST", "path": "/graphql", "query_string": b"",
            "headers": list(headers), "client": ("10.9.8.7", 40000 + i % 1000), "state": {},
        }  # fmt: skip
        await app(scope, receive, send)
    return (time.process_time() - started) / requests * 1e6


async def healthz(_: Request) -> Response:
    return PlainTextResponse("ok")


@contextlib.asynccontextmanager
async def bare_server(protocol: type[asyncio.Protocol]) -> AsyncIterator[int]:
    app = Starlette(routes=[Route("/healthz", healthz)])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, http=protocol, lifespan="off",
                            log_level="warning", access_log=False, proxy_headers=False)  # fmt: skip
    server = uvicorn.Server(config)
    config.load()
    server.lifespan = config.lifespan_class(config)
    await server.startup()
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        await server.shutdown()


async def protocol_round(port: int, requests: int) -> float:
    """Microseconds per keep-alive request/response on one connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n"
    started = time.process_time()
    for _ in range(requests):
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
        await reader.readexactly(length)
    elapsed = time.process_time() - started
    writer.close()
    return elapsed / requests * 1e6


def operation_choice_round(requests: int) -> float:
    document = "query Calls($after: String) { vesselCalls(first: 20, after: $after) { " \
               "edges { node { UNLocationCode vessel { vesselName } } } totalCount } }"  # fmt: skip
    started = time.process_time()
    for _ in range(requests):
        check_operation_choice(document, None, 2000)
    return (time.process_time() - started) / requests * 1e6


def medians(samples: dict[str, list[float]]) -> dict[str, float]:
    return {name: round(statistics.median(values), 2) for name, values in samples.items()}


async def run(rounds: int, requests: int) -> dict[str, Any]:
    stacks: dict[str, tuple[ASGIApp, bool]] = {
        "before": (stack(shedding=False, deadline=False, proxy=False), False),
        "after": (stack(shedding=True, deadline=True, proxy=False), False),
        "after + trusted proxy": (stack(shedding=True, deadline=True, proxy=True), True),
    }
    middleware: dict[str, list[float]] = {name: [] for name in stacks}
    protocols: dict[str, type[asyncio.Protocol]] = {
        "uvicorn httptools": HttpToolsProtocol,
        "edge protocol": edge_protocol(ServerSettings(), EdgeCounts()),
    }
    protocol: dict[str, list[float]] = {name: [] for name in protocols}
    choice: list[float] = []
    load_before = os.getloadavg()[0]
    async with contextlib.AsyncExitStack() as stack_:
        ports = {n: await stack_.enter_async_context(bare_server(p)) for n, p in protocols.items()}
        for round_ in range(rounds):
            order = list(stacks) if round_ % 2 == 0 else list(reversed(stacks))
            for name in order:
                app, proxy = stacks[name]
                middleware[name].append(await middleware_round(app, requests, proxy))
            for name in protocols if round_ % 2 == 0 else reversed(list(protocols)):
                protocol[name].append(await protocol_round(ports[name], requests // 5))
            choice.append(operation_choice_round(requests))
    return {
        "middleware_us_per_request": medians(middleware),
        "protocol_us_per_request": medians(protocol),
        "operation_choice_us_per_request": round(statistics.median(choice), 3),
        "rounds": rounds,
        "requests_per_round": requests,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
    }


def report(results: dict[str, Any], command: str) -> str:
    mw = results["middleware_us_per_request"]
    pr = results["protocol_us_per_request"]
    lines = [
        "# The HTTP edge's cost per request",
        "",
        f"`{command}` on {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, uvicorn {metadata.version('uvicorn')}, "
        f"starlette {metadata.version('starlette')}; medians of {results['rounds']} rounds, "
        f"sides alternating, CPU time of the process; {results['cpus']} CPUs, load average "
        f"{results['load_average'][0]} before and {results['load_average'][1]} after (other "
        "work on the machine still inflates every figure alike: read the differences).",
        "",
        "| middleware stack (in process) | us per request | added over `before` |",
        "|---|---|---|",
    ]
    for name, value in mw.items():
        lines.append(f"| {name} | {value:.2f} | {value - mw['before']:+.2f} |")
    lines += [
        "",
        "| server protocol (keep-alive GET on loopback) | us per request |",
        "|---|---|",
        *(f"| {name} | {value:.1f} |" for name, value in pr.items()),
        "",
        f"`check_operation_choice` without operationName, one-operation document: "
        f"{results['operation_choice_us_per_request']:.3f} us.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    results = asyncio.run(run(args.rounds, args.requests))
    command = "python -m bench.edge_bench " + " ".join(sys.argv[1:])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "edge.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "edge.md").write_text(report(results, command.strip()), encoding="utf-8")
    print(report(results, command.strip()))


if __name__ == "__main__":
    main()
