"""How the gateway reaches a port: one small async Protocol, and its GraphQL-over-HTTP form.

The fan-out only ever calls :meth:`PortUpstream.execute`. Any other kind of upstream (a DCSA REST
API called directly, a different transport) is another implementation of the same Protocol.
Implementations translate their own exceptions into :class:`~gateway.errors.PortFailure`
subclasses here, and nowhere else.
"""

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from pydantic import SecretStr

from gateway.errors import PortError, PortTimeout, PortUnavailable
from gateway.ports.settings import DEFAULT_MAX_ANSWER_BYTES
from portcontract.errors import CONTRACT_CODES

if TYPE_CHECKING:  # httpx loads with the first client injected (tests, embedders)
    import httpx


@dataclass(frozen=True, slots=True)
class PortRequest:
    """A GraphQL document for one port, with only what the caller may see in it."""

    document: str
    variables: Mapping[str, Any]
    operation_name: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PortAnswer:
    """A port's GraphQL response: ``data`` and ``errors`` as the port sent them, until
    :class:`gateway.ports.boundary.PortBoundary` has held them to the contract; then ``dropped``
    counts what it left out, by reason, and each error keeps only its code and path."""

    data: dict[str, Any] | None
    errors: list[dict[str, Any]]
    cache_control: str | None = None
    dropped: dict[str, int] = field(default_factory=dict)


class PortUpstream(Protocol):
    """One port as the fan-out sees it."""

    port: str

    async def execute(self, request: PortRequest, *, timeout: float) -> PortAnswer:
        """Answer ``request`` within ``timeout`` seconds, or raise a ``PortFailure``."""
        ...


def base_headers(credential: SecretStr | None) -> dict[str, str]:
    """The headers of every request to a port; its credential tells it the gateway asks."""
    headers = {"content-type": "application/json", "accept": "application/json"}
    if credential is not None:
        headers["authorization"] = f"Bearer {credential.get_secret_value()}"
    return headers


def request_body(request: PortRequest) -> bytes:
    """A GraphQL-over-HTTP POST body."""
    body: dict[str, Any] = {"query": request.document}
    if request.variables:
        body["variables"] = request.variables
    if request.operation_name:
        body["operationName"] = request.operation_name
    return orjson.dumps(body)


class GraphQLOverHTTP:
    """A port resolver endpoint speaking GraphQL over HTTP (POST, JSON).

    The client is injected and shared for the app's life, so connections to each port are
    pooled; this class never builds one of its own.
    """

    def __init__(
        self,
        port: str,
        url: str,
        client: "httpx.AsyncClient",
        credential: SecretStr | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
    ) -> None:
        self.port = port
        self.url = url
        self._client = client
        self._headers = base_headers(credential)
        self._max_bytes = max_bytes

    async def execute(self, request: PortRequest, *, timeout: float) -> PortAnswer:
        import httpx

        try:
            async with self._client.stream(
                "POST",
                self.url,
                content=request_body(request),
                headers={**request.headers, **self._headers},
                timeout=httpx.Timeout(timeout),
            ) as response:
                content = await read_capped(self.port, response.aiter_bytes(), self._max_bytes)
        except httpx.TimeoutException as exc:
            raise PortTimeout(self.port, f"no answer within {timeout:.3g}s") from exc
        except httpx.TransportError as exc:
            raise PortUnavailable(
                self.port, f"cannot connect ({type(exc).__name__})", transient=True
            ) from exc
        return read_answer(
            self.port, response.status_code, content, response.headers.get("cache-control")
        )


async def read_capped(port: str, chunks: AsyncIterator[bytes], max_bytes: int) -> bytes:
    """A port's whole answer body, or a ``PortError`` as soon as it runs past ``max_bytes``."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > max_bytes:
            raise PortError(port, f"its answer is larger than {max_bytes} bytes")
    return bytes(body)


def read_answer(port: str, status: int, content: bytes, cache_control: str | None) -> PortAnswer:
    """A port's HTTP answer as a :class:`PortAnswer`, or the ``PortFailure`` it amounts to
    (shared by every GraphQL-over-HTTP upstream, whatever its HTTP client). A failure says what
    happened in the gateway's words; the port's own error text never goes into it."""
    if status == 503:
        raise PortUnavailable(port, "the port answered 503 Service Unavailable", transient=True)
    try:
        payload = orjson.loads(content)
    except orjson.JSONDecodeError:
        payload = None
    if not _is_graphql_response(payload):
        raise PortError(
            port, f"HTTP {status}: the answer is not a GraphQL response", transient=status >= 500
        )
    errors = payload.get("errors") or []
    if status != 200 and payload.get("data") is None:
        codes = [_contract_code(e) for e in errors]
        said = next((CONTRACT_CODES[c] for c in codes if c is not None), "gave no data")
        raise PortError(port, f"HTTP {status}: it {said}", transient=status >= 500)
    return PortAnswer(data=payload.get("data"), errors=errors, cache_control=cache_control)


def _contract_code(error: dict[str, Any]) -> str | None:
    extensions = error.get("extensions")
    code = extensions.get("code") if isinstance(extensions, dict) else None
    return code if isinstance(code, str) and code in CONTRACT_CODES else None


def _is_graphql_response(payload: Any) -> bool:
    if not isinstance(payload, dict) or not ("data" in payload or "errors" in payload):
        return False
    data, errors = payload.get("data"), payload.get("errors")
    return (data is None or isinstance(data, dict)) and (
        errors is None or (isinstance(errors, list) and all(isinstance(e, dict) for e in errors))
    )
