"""``portgate serve`` itself, as a process listening on loopback: it ignores forwarded-for
headers from peers that are not trusted proxies (uvicorn alone would trust any client on the
same host), times out slow headers, and serves /metrics on its own listener when configured."""

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from tests.gateway.edge_server import HANG_GUARD_SECONDS, exchange, status_of

PORTGATE = Path(sys.executable).parent / "portgate"
CONFIG = """
rate_limit: {anonymous_requests: 1, window: 1h}
server: {header_timeout: 300ms}
metrics: {listen: "127.0.0.1:0"}
"""
LISTENING = re.compile(rb"(Uvicorn running|Metrics) on (http://127\.0\.0\.1:\d+)")


@contextlib.asynccontextmanager
async def portgate_serve(config: Path) -> AsyncIterator[dict[str, str]]:
    """``portgate serve`` on free ports of 127.0.0.1; yields the URLs it says it listens on,
    by what they serve (``Uvicorn running``, ``Metrics``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    process = await asyncio.create_subprocess_exec(
        str(PORTGATE), "serve", "--config", str(config), "--host", "127.0.0.1", "--port", "0",
        cwd=config.parent, env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    urls: dict[str, str] = {}
    try:
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            while len(urls) < 2:
                line = await process.stderr.readline()
                assert line, "portgate serve stopped before listening"
                if match := LISTENING.search(line):
                    urls[match[1].decode()] = match[2].decode()
        drain = asyncio.create_task(process.stderr.read())  # keep its pipe from filling up
        yield urls
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            await process.wait()
        with contextlib.suppress(NameError):
            await drain


async def test_portgate_serve_keeps_to_the_edge_settings(tmp_path: Path) -> None:
    config = tmp_path / "portgate.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    async with (
        portgate_serve(config) as urls,
        httpx.AsyncClient(base_url=urls["Uvicorn running"], timeout=HANG_GUARD_SECONDS) as api,
    ):
        statuses = [
            (
                await api.post(
                    "/graphql", json={"query": "{ __typename }"}, headers={"x-forwarded-for": ip}
                )
            ).status_code
            for ip in ("203.0.113.1", "203.0.113.2", "203.0.113.3")
        ]
        assert statuses == [200, 429, 429]  # one client, whatever it claims to be
        host, port = urls["Uvicorn running"].removeprefix("http://").split(":")
        assert status_of(await exchange((host, int(port)), b"GET /healthz HTTP/1.1\r\n")) == 408
        assert (await api.get("/metrics")).status_code == 404
        metrics = (await api.get(urls["Metrics"] + "/metrics")).text
        assert 'portgate_requests_refused_total{reason="rate_limited"} 2.0' in metrics
        assert 'portgate_requests_refused_total{reason="header_timeout"} 1.0' in metrics
