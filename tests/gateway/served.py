"""A gateway served on loopback the way `portgate serve` runs it (aiohttp to its ports, its
lifespan, stores in a temporary directory), in front of port resolvers on loopback, with API keys
for an admin and for USLAX's port admin; and the servers that play hostile endpoints."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiohttp.abc import AbstractResolver
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.access.apikeys import ApiKeyStore
from gateway.app import create_app
from gateway.config import load_settings
from port_resolvers.kit import create_resolver_app
from port_resolvers.loopback import serve_on_loopback
from tests.gateway.conftest import OPEN_POLICY, PORT_NAMES, EmptyPort

# What an endpoint says that must never reach anyone through the gateway.
SECRET = "INTERNAL: db password hunter2 at 10.9.8.7"
# A guard far past every bound in these tests: reaching it means something hung.
HANG_GUARD_SECONDS = 20


def token(port: str) -> str:
    return f"gateway-token-for-{port}"


@dataclass
class Recorder:
    """A loopback server that records what reaches it and answers ``SECRET`` in a GraphQL
    error (or, with ``status``, in an HTTP error): an operator's internal service, or a port
    resolver that talks too much."""

    status: int = 200
    requests: list[tuple[str, str]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def anything(request: Request) -> Response:
            self.requests.append((request.method, request.url.path))
            body = {"errors": [{"message": SECRET}], "data": None}
            return Response(orjson.dumps(body), self.status, media_type="application/json")

        return Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST"])])


@dataclass
class Hanging:
    """A loopback server that accepts connections and never answers, until closed."""

    url: str = ""
    accepted: int = 0
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.connected.set()
        await self._release.wait()
        writer.close()

    def release(self) -> None:
        """Close every connection it holds (the client then sees the connection drop)."""
        self._release.set()


@contextlib.asynccontextmanager
async def hanging_server() -> AsyncIterator[Hanging]:
    hanging = Hanging()
    server = await asyncio.start_server(hanging._hold, "127.0.0.1", 0)
    hanging.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/graphql"
    try:
        yield hanging
    finally:
        hanging.release()
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def resolvers(ports: Sequence[str]) -> AsyncIterator[dict[str, str]]:
    """A resolver kit on loopback for each port (each answering only the gateway's token)."""
    async with contextlib.AsyncExitStack() as stack:
        urls = {}
        for port in ports:
            app = create_resolver_app(EmptyPort(port), port, gateway_token=token(port))
            urls[port] = await stack.enter_async_context(serve_on_loopback(app)) + "/graphql"
        yield urls


@dataclass
class Served:
    url: str
    client: httpx.AsyncClient
    keys: dict[str, str]
    app: Any = None  # the gateway's app, to look at what it holds

    def as_(self, who: str) -> dict[str, str]:
        return {"x-api-key": self.keys[who]}


def admin_keys(path: Path, *also: str) -> dict[str, str]:
    """API keys in the key file ``path``: ``admin``, ``lax_admin`` (a port_admin bound to
    USLAX) and one for each role in ``also``, named after it."""
    store = ApiKeyStore(path)
    keys = {
        "admin": store.create(client_id="ops", organisation="CPDP", roles=["admin"])[0],
        "lax_admin": store.create(
            client_id="lax-it", organisation="POLA", roles=["port_admin"], ports=["USLAX"]
        )[0],
    }
    for role in also:
        keys[role] = store.create(client_id=role, organisation=role, roles=[role])[0]
    store.close()
    return keys


@contextlib.asynccontextmanager
async def served_gateway(
    tmp_path: Path,
    ports: Sequence[dict[str, Any]],
    *,
    resolver: AbstractResolver | None = None,
    **settings: Any,
) -> AsyncIterator[Served]:
    """The gateway on loopback with ``ports`` as its config's ports (credentials added)."""
    keys_file = tmp_path / "keys.sqlite3"
    keys = admin_keys(keys_file)
    settings.setdefault("policy", {"file": OPEN_POLICY})
    registry = {"store": f"sqlite:///{tmp_path / 'registry.sqlite3'}"} | settings.pop(
        "registry", {}
    )
    config = load_settings(
        None,
        ports=[
            {"name": PORT_NAMES.get(p["id"], p["id"]), "credential": token(p["id"])} | p
            for p in ports
        ],
        auth={"api_keys": {"database": keys_file}},
        audit={"store": f"sqlite:///{tmp_path / 'audit.sqlite3'}"},
        registry=registry,
        **settings,
    )
    app = create_app(config, resolver=resolver)
    async with (
        serve_on_loopback(app) as url,
        httpx.AsyncClient(base_url=url, timeout=HANG_GUARD_SECONDS) as client,
    ):
        yield Served(url, client, keys, app)
