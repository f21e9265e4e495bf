"""``portgate serve`` itself, as a process listening on loopback: it ignores forwarded-for
headers from peers that are not trusted proxies (uvicorn alone would trust any client on the
same host), times out slow headers, and serves /metrics on its own listener when configured."""

import asyncio
import contextlib
import gc
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from gateway.cli.server import tune_collector
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


def workers_of(pid: int) -> set[int]:
    """The worker processes of ``pid``, from /proc (not multiprocessing's resource tracker)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            with contextlib.suppress(FileNotFoundError):  # gone meanwhile
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.add(int(child))
    return found


async def test_workers_share_one_socket_and_a_dead_one_is_replaced(tmp_path: Path) -> None:
    config = tmp_path / "portgate.yaml"
    config.write_text("rate_limit: {enabled: false}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    process = await asyncio.create_subprocess_exec(
        str(PORTGATE), "serve", "--config", str(config), "--host", "127.0.0.1", "--port", "0",
        "--workers", "2", cwd=tmp_path, env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    assert process.stderr is not None
    url = ""

    async def started(count: int) -> None:
        """Read the log until ``count`` more workers have finished starting."""
        nonlocal url
        while count:
            line = await process.stderr.readline()  # type: ignore[union-attr]
            assert line, "portgate serve stopped"
            if match := LISTENING.search(line):
                url = match[2].decode()
            count -= b"Application startup complete" in line

    async def answered() -> list[int]:
        statuses = []
        for _ in range(6):  # a new connection each: the kernel picks a worker for each
            async with httpx.AsyncClient(base_url=url, timeout=HANG_GUARD_SECONDS) as client:
                response = await client.post("/graphql", json={"query": "{ __typename }"})
                statuses.append(response.status_code)
        return statuses

    try:
        async with asyncio.timeout(4 * HANG_GUARD_SECONDS):
            await started(2)
            workers = workers_of(process.pid)
            assert len(workers) == 2
            assert await answered() == [200] * 6
            lost = min(workers)
            os.kill(lost, signal.SIGKILL)
            await started(1)  # the supervisor starts one in its place
            replaced = workers_of(process.pid)
            assert len(replaced) == 2
            assert lost not in replaced
            assert await answered() == [200] * 6
            drain = asyncio.create_task(process.stderr.read())  # its last words, unread
            process.send_signal(signal.SIGTERM)
            assert await process.wait() == 0
            await drain
            assert not any(os.path.exists(f"/proc/{pid}") for pid in replaced)  # noqa: ASYNC240
    finally:
        if process.returncode is None:  # the supervisor and its workers, whatever happened
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            async with asyncio.timeout(HANG_GUARD_SECONDS):
                await process.wait()


async def test_one_metrics_listener_is_refused_with_several_workers(tmp_path: Path) -> None:
    config = tmp_path / "portgate.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        str(PORTGATE), "serve", "--config", str(config), "--port", "0", "--workers", "2",
        cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        _, stderr = await process.communicate()
    assert process.returncode == 2
    assert b"metrics.listen serves one process" in stderr


def test_the_collector_is_tuned_for_a_server_and_zero_keeps_pythons_threshold() -> None:
    threshold = gc.get_threshold()
    try:
        made_at_start_up = [object() for _ in range(10)]
        tune_collector(20_000)
        assert gc.get_threshold() == (20_000, threshold[1], threshold[2])
        assert gc.get_freeze_count() >= len(made_at_start_up)  # out of the collector's view
        gc.unfreeze()
        gc.set_threshold(*threshold)
        tune_collector(0)
        assert gc.get_threshold() == threshold
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
