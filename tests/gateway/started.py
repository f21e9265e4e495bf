"""A gateway app with its lifespan running (audit trail, stores opened and closed), for tests
that need what the lifespan owns; ports are httpx transports as in conftest.py."""

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from gateway.app import create_app
from gateway.config import load_settings
from tests.gateway.conftest import (
    OPEN_POLICY,
    PORT_NAMES,
    Gateway,
    PortRouter,
    port_url,
    with_test_egress,
)


@contextlib.asynccontextmanager
async def started_gateway(
    transports: Mapping[str, httpx.AsyncBaseTransport],
    *,
    client_ip: str = "127.0.0.1",
    lean: bool = True,
    **settings: Any,
) -> AsyncIterator[Gateway]:
    """The gateway, started; its client connects from ``client_ip``; ``lean`` as
    :func:`gateway.app.create_app` takes it."""
    settings.setdefault("policy", {"file": OPEN_POLICY})
    router = PortRouter(transports)
    config = load_settings(
        None,
        ports=[
            {"id": port, "name": PORT_NAMES.get(port, port), "url": port_url(port)}
            for port in transports
        ],
        **with_test_egress(settings),
    )
    async with contextlib.AsyncExitStack() as stack:
        upstream = await stack.enter_async_context(httpx.AsyncClient(transport=router))
        app = create_app(config, client=upstream, lean=lean)
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=(client_ip, 40000)),
                base_url="http://gw",
            )
        )
        yield Gateway(client, router, app)
