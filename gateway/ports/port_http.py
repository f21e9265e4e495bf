"""One HTTP exchange with a port's endpoint: POST a body, get the status and the bytes back.

Queries, health probes and the check before an endpoint takes traffic all reach a port through
this one step, so the egress rules, the refusal to follow redirects and the translation of the
client's exceptions into :class:`~gateway.errors.PortFailure` are one thing for all three:

- :class:`~gateway.errors.PortEgressRefused`: the address is refused; nothing was sent;
- :class:`~gateway.errors.PortTimeout`: no whole answer within ``timeout``;
- :class:`~gateway.errors.PortUnavailable`: no connection;
- :class:`~gateway.errors.PortError`: more than ``max_bytes`` came back (nothing else: the
  answer itself is read by its caller).

A redirect is an answer like any other (its 3xx status), never followed.

The served gateway uses its own connections (:class:`gateway.ports.port_client.PortConnections`,
whose resolver judges every resolved address; aiohttp's pool, :class:`gateway.ports.upstream_aiohttp
.PortSessions`, does the same and is kept to measure against); :class:`HttpxPortHttp` serves
an app given an
``httpx.AsyncClient`` (tests, embedders), where URLs are judged as written (scheme, IP literal)
and name resolution is the client's own.
"""

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pydantic import SecretStr

from gateway.errors import PortEgressRefused, PortTimeout, PortUnavailable
from gateway.ports.egress import EgressRules
from gateway.ports.settings import DEFAULT_MAX_ANSWER_BYTES
from gateway.ports.upstream import (
    PortAnswer,
    PortRequest,
    base_headers,
    read_answer,
    read_capped,
    request_body,
)

if TYPE_CHECKING:  # httpx loads with the first client injected (tests, embedders)
    import httpx


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    content: bytes
    cache_control: str | None = None


class PortHttp(Protocol):
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
        """POST ``body`` to ``url`` for ``port``; raises a ``PortFailure`` (module docstring)."""
        ...


@dataclass(frozen=True, slots=True)
class StreamOpened:
    """A streamed answer: its status and media type, and its body as it comes."""

    status: int
    media_type: str
    chunks: AsyncIterator[bytes]


class PortStreams(Protocol):
    def get_stream(
        self, port: str, url: str, headers: Mapping[str, str], *, timeout: float
    ) -> contextlib.AbstractAsyncContextManager[StreamOpened]:
        """GET ``url`` for ``port`` and read its answer as it comes (a port's change notices);
        ``timeout`` bounds connecting and the headers, not the body. Raises a ``PortFailure``
        as :meth:`PortHttp.post` does; the connection closes when the block ends."""
        ...


class UrlVerdicts:
    """What the egress rules say of each endpoint URL as written, remembered (a few URLs)."""

    LIMIT = 1024

    def __init__(self, rules: EgressRules) -> None:
        self._rules = rules
        self._seen: dict[str, str | None] = {}

    def admit(self, port: str, url: str) -> None:
        """Raise ``PortEgressRefused`` when the URL alone is refused."""
        if url not in self._seen:
            if len(self._seen) >= self.LIMIT:
                self._seen.clear()
            self._seen[url] = self._rules.refuses_url(url)
        reason = self._seen[url]
        if reason is not None:
            raise PortEgressRefused(port, reason)


class HttpxPortHttp:
    """:class:`PortHttp` over an injected ``httpx.AsyncClient``."""

    def __init__(self, client: "httpx.AsyncClient", rules: EgressRules) -> None:
        self._client = client
        self._verdicts = UrlVerdicts(rules)

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
        async with _translated(port, timeout):
            import httpx

            request = self._client.build_request(
                "POST", url, content=body, headers=dict(headers), timeout=httpx.Timeout(timeout)
            )
            response = await self._client.send(request, stream=True, follow_redirects=False)
            try:
                content = await read_capped(port, response.aiter_bytes(), max_bytes)
            finally:
                await response.aclose()
        return HttpAnswer(response.status_code, content, response.headers.get("cache-control"))

    @contextlib.asynccontextmanager
    async def get_stream(
        self, port: str, url: str, headers: Mapping[str, str], *, timeout: float
    ) -> AsyncIterator[StreamOpened]:
        self._verdicts.admit(port, url)
        async with _translated(port, timeout):
            import httpx

            limits = httpx.Timeout(timeout, read=None)  # a quiet stream is the caller's to judge
            request = self._client.build_request("GET", url, headers=dict(headers), timeout=limits)
            response = await self._client.send(request, stream=True, follow_redirects=False)
        try:
            media_type = response.headers.get("content-type", "").partition(";")[0].strip()
            yield StreamOpened(response.status_code, media_type, _httpx_chunks(port, response))
        finally:
            await response.aclose()


@contextlib.asynccontextmanager
async def _translated(port: str, timeout: float) -> AsyncIterator[None]:
    """httpx's exceptions as the ``PortFailure`` s :class:`PortHttp` promises."""
    import httpx

    try:
        yield
    except httpx.TimeoutException as exc:
        raise PortTimeout(port, f"no answer within {timeout:.3g}s") from exc
    except httpx.TransportError as exc:
        raise PortUnavailable(
            port, f"cannot connect ({type(exc).__name__})", transient=True
        ) from exc


async def _httpx_chunks(port: str, response: "httpx.Response") -> AsyncIterator[bytes]:
    import httpx

    try:
        async for chunk in response.aiter_raw():
            yield chunk
    except httpx.TransportError as exc:
        raise PortUnavailable(port, f"the stream broke ({type(exc).__name__})") from exc


class GraphQLOverPortHttp:
    """A port resolver endpoint speaking GraphQL over HTTP (POST, JSON), through a
    :class:`PortHttp` (the served gateway's own connections, :mod:`gateway.ports.port_client`)."""

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
