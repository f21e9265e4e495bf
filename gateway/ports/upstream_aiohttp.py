"""aiohttp's client as a :class:`~gateway.ports.port_http.PortHttp`: how the served gateway reached
its ports before its own connections (:mod:`gateway.ports.port_client`), kept to measure against
(``bench.variant --aiohttp``) and held to the same tests
(tests/gateway/ports/test_upstream_aiohttp.py runs against both). Loaded only then: the served
gateway does not import aiohttp.

Measured on two cores with 32 requests in flight (bench/results/bench.md, "hot path"), httpx's
connection pool cost about 1.4-1.9 ms of CPU per port request, httpx over the ``httpx-aiohttp``
transport about 0.26 ms, and aiohttp itself about 0.08 ms; the gateway's own connections took
the hot path from 974 to 1,237 req/s beside it (bench/results/targets.md).

Its connector resolves names through an :class:`EgressResolver`, which drops every address the
egress rules refuse before a connection is made (an IP literal in a URL is judged before the
request: aiohttp does not resolve those); redirects are never followed. aiohttp's exceptions
are translated into ``PortFailure`` here, and nowhere else.
"""

import socket
from collections.abc import Mapping

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from gateway.errors import PortEgressRefused, PortTimeout, PortUnavailable
from gateway.ports.egress import EgressRefused, EgressRules, allowed_addresses
from gateway.ports.port_http import HttpAnswer, UrlVerdicts
from gateway.ports.upstream import (
    read_capped,
)

KEEPALIVE_SECONDS = 15.0  # idle pooled connections are closed after this
CHUNK_BYTES = 64 * 1024


class EgressResolver(AbstractResolver):
    """Resolves through ``inner`` and keeps only the addresses the egress rules allow; a name
    listed in the rules keeps all of its addresses. None left: :class:`EgressRefused`."""

    def __init__(self, rules: EgressRules, inner: AbstractResolver) -> None:
        self._rules = rules
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        allowed = allowed_addresses(self._rules, host, port, found)  # raises when none is
        return [r for r in found if any(r is kept for kept in allowed)]

    async def close(self) -> None:
        await self._inner.close()


class PortSessions:
    """The aiohttp client session every port upstream shares (one pool, per-port limits), and
    the :class:`~gateway.ports.port_http.PortHttp` of the served gateway."""

    def __init__(
        self,
        per_port: int,
        rules: EgressRules | None = None,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self._per_port = per_port
        self._rules = rules or EgressRules()
        self._verdicts = UrlVerdicts(self._rules)
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The shared session, opened in the running loop on first use."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=0,  # no overall limit: ports come and go with the registry
                limit_per_host=self._per_port,
                keepalive_timeout=KEEPALIVE_SECONDS,
                resolver=EgressResolver(self._rules, self._resolver or DefaultResolver()),
            )
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def post(
        self,
        port: str,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        timeout: float,
        max_bytes: int,
    ) -> HttpAnswer:
        self._verdicts.admit(port, url)
        try:
            async with self.session().post(
                url,
                data=body,
                headers=dict(headers),
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as response:
                chunks = response.content.iter_chunked(CHUNK_BYTES)
                content = await read_capped(port, chunks, max_bytes)
        except TimeoutError as exc:
            raise PortTimeout(port, f"no answer within {timeout:.3g}s") from exc
        except aiohttp.ClientConnectorDNSError as exc:
            if isinstance(exc.os_error, EgressRefused):
                raise PortEgressRefused(port, exc.os_error.reason) from exc
            raise PortUnavailable(port, "cannot resolve its host", transient=True) from exc
        except aiohttp.ClientError as exc:
            raise PortUnavailable(
                port, f"cannot connect ({type(exc).__name__})", transient=True
            ) from exc
        return HttpAnswer(response.status, content, response.headers.get("cache-control"))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
