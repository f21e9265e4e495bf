"""Serve ASGI apps on this machine's loopback with uvicorn, inside the running event loop.

Used by the demo (five simulated port systems, five resolvers and the gateway in one process),
the end-to-end tests and the benchmarks. The context manager returns once the socket is
listening, so callers never poll or sleep to wait for a server.
"""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import ASGIApp

LOOPBACK = "127.0.0.1"
SHUTDOWN_GRACE_SECONDS = 2  # requests still running then are cut off


@contextlib.asynccontextmanager
async def serve_on_loopback(
    app: ASGIApp, *, host: str = LOOPBACK, port: int = 0, log_level: str = "warning"
) -> AsyncIterator[str]:
    """Serve ``app`` on ``host:port`` (port 0 picks a free one); yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )
    server = uvicorn.Server(config)
    config.load()
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    if server.should_exit:  # the app's lifespan startup failed
        sock.close()
        raise RuntimeError(f"the app on {host}:{bound_port} did not start")
    main_loop = asyncio.create_task(server.main_loop())
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        # main_loop only ticks housekeeping every 0.1 s; stop it at once rather than wait a tick.
        main_loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await main_loop
        await server.shutdown(sockets=[sock])
        sock.close()
