"""GraphQL over HTTP through aiohttp: how a served gateway reaches its ports.

Same contract as :class:`~gateway.upstream.GraphQLOverHTTP` (the same requests, the same answers
read by :func:`~gateway.upstream.read_answer`, the same failures), on aiohttp's client instead of
httpx's. Measured on two cores with 32 requests in flight (bench/results/bench.md, "hot path"),
httpx's connection pool cost about 1.4-1.9 ms of CPU per port request, httpx over the
``httpx-aiohttp`` transport about 0.26 ms, and aiohttp itself about 0.08 ms; a fan-out to 100
ports makes that the difference between a few milliseconds and most of a core.

The app builds one :class:`PortSessions` and injects it into every port's upstream; the
session itself is opened in the running event loop on first use (aiohttp needs one) and closed
with the app. aiohttp's exceptions are translated into ``PortFailure`` here, and nowhere else.
Tests and other embedders that inject an ``httpx.AsyncClient`` keep
:class:`~gateway.upstream.GraphQLOverHTTP`.
"""

import aiohttp
from pydantic import SecretStr

from gateway.config import DEFAULT_MAX_ANSWER_BYTES
from gateway.errors import PortTimeout, PortUnavailable
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


class PortSessions:
    """The aiohttp client session every port upstream shares (one pool, per-port limits)."""

    def __init__(self, per_port: int) -> None:
        self._per_port = per_port
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The shared session, opened in the running loop on first use."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=0,  # no overall limit: ports come and go with the registry
                limit_per_host=self._per_port,
                keepalive_timeout=KEEPALIVE_SECONDS,
            )
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

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
        sessions: PortSessions,
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
        try:
            async with self._sessions.session().post(
                self.url,
                data=request_body(request),
                headers={**request.headers, **self._headers},
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as response:
                chunks = response.content.iter_chunked(CHUNK_BYTES)
                content = await read_capped(self.port, chunks, self._max_bytes)
        except TimeoutError as exc:
            raise PortTimeout(self.port, f"no answer within {timeout:.3g}s") from exc
        except aiohttp.ClientError as exc:
            raise PortUnavailable(
                self.port, f"cannot connect ({type(exc).__name__})", transient=True
            ) from exc
        return read_answer(
            self.port, response.status, content, response.headers.get("cache-control")
        )
