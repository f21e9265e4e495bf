"""GraphQL over HTTP through a :class:`~gateway.port_http.PortHttp`, and aiohttp's client as one.

:class:`GraphQLOverAiohttp` is the upstream of every port of a served gateway, over the
gateway's own connections (:mod:`gateway.port_client`) since they were measured cheaper; its
name is from when aiohttp was the only client. :class:`PortSessions`, aiohttp's pool, remains a
:class:`~gateway.port_http.PortHttp` (``bench.variant --aiohttp`` measures it, and the upstream
tests run against both), and :class:`EgressResolver` judges resolved addresses for both.

Same contract as :class:`~gateway.upstream.GraphQLOverHTTP` (the same requests, the same answers
read by :func:`~gateway.upstream.read_answer`, the same failures), on aiohttp's client instead of
httpx's. Measured on two cores with 32 requests in flight (bench/results/bench.md, "hot path"),
httpx's connection pool cost about 1.4-1.9 ms of CPU per port request, httpx over the
``httpx-aiohttp`` transport about 0.26 ms, and aiohttp itself about 0.08 ms; a fan-out to 100
ports makes that the difference between a few milliseconds and most of a core.

The app builds one client (now :class:`~gateway.port_client.PortConnections`) and injects it
into every port's upstream, and into the health probes and endpoint checks: queries, probes and
checks reach a port by the same path. A :class:`PortSessions` session is opened in the running event
loop on first use (aiohttp needs one) and closed with the app. Its connector resolves names
through an :class:`EgressResolver`, which drops every address the egress rules refuse before a
connection is made (an IP literal in a URL is judged before the request: aiohttp does not
resolve those); redirects are never followed. aiohttp's exceptions are translated into
``PortFailure`` here, and nowhere else. Tests and other embedders that inject an
``httpx.AsyncClient`` keep :class:`~gateway.upstream.GraphQLOverHTTP`.
"""

import ipaddress
import socket
from collections.abc import Mapping

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from pydantic import SecretStr

from gateway.config import DEFAULT_MAX_ANSWER_BYTES
from gateway.egress import EgressRefused, EgressRules
from gateway.errors import PortEgressRefused, PortTimeout, PortUnavailable
from gateway.port_http import HttpAnswer, PortHttp, UrlVerdicts
from gateway.upstream import (
    PortAnswer,
    PortRequest,
    base_headers,
    read_answer,
    read_capped,
    request_body,
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
        if self._rules.trusts_name(host, port):
            return found
        allowed = [
            r
            for r in found
            if self._rules.refuses_address(ipaddress.ip_address(r["host"]), port) is None
        ]
        if not allowed:
            raise EgressRefused(f"{host} resolves only to addresses the egress rules refuse")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


class PortSessions:
    """The aiohttp client session every port upstream shares (one pool, per-port limits), and
    the :class:`~gateway.port_http.PortHttp` of the served gateway."""

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


class GraphQLOverAiohttp:
    """A port resolver endpoint speaking GraphQL over HTTP (POST, JSON), through aiohttp."""

    def __init__(
        self,
        port: str,
        url: str,
        sessions: PortHttp,
        credential: SecretStr | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
    ) -> None:
        self.port = port
        self.url = url
        self._sessions = sessions
        self._headers = base_headers(credential)
        self._max_bytes = max_bytes

    async def execute(self, request: PortRequest, *, timeout: float) -> PortAnswer:
        answer = await self._sessions.post(
            self.port,
            self.url,
            request_body(request),
            {**request.headers, **self._headers},
            timeout=timeout,
            max_bytes=self._max_bytes,
        )
        return read_answer(self.port, answer.status, answer.content, answer.cache_control)
