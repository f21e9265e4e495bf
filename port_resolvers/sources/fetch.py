"""The one place where adapters call a port's system over HTTP, and where its failures become
:class:`~port_resolvers.kit.source.SourceUnavailable`.

:func:`get_json` sends a GET with the current W3C trace context, turns every httpx error
(timeouts, refused connections, protocol errors), every HTTP error status and any body that is
not JSON into ``SourceUnavailable`` with a short reason (``SourceRefused``, which keeps the
status, for an HTTP error), and drops labor-type keys from the payload before anyone reads it. A
GET whose connection the system closed without an answer (a kept-alive connection it had
already dropped: ``RemoteProtocolError`` or ``ReadError``) is sent once more on a new one; a GET
reads nothing, so sending it twice changes nothing. A timeout is never retried: the deadline
is the caller's. :func:`translating` does the same for a payload whose shape is
not what the adapter expects (a missing key, a bad date).
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from opentelemetry.propagate import inject

from port_resolvers.kit.source import SourceUnavailable
from portcontract.labor import drop_labor_keys

QueryParams = Mapping[str, str | int]
ATTEMPTS = 2  # a GET is sent at most this often when its connection closes without an answer
_CLOSED_WITHOUT_ANSWER = (httpx.RemoteProtocolError, httpx.ReadError)


class SourceRefused(SourceUnavailable):
    """The port's system answered with an HTTP error status (kept in ``status``)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class JsonAnswer:
    """A port system's JSON answer, without labor-type keys."""

    payload: Any
    headers: httpx.Headers


async def get_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    params: QueryParams | None = None,
    headers: Mapping[str, str] | None = None,
    missing_ok: bool = False,
) -> JsonAnswer | None:
    """GET ``url``; ``None`` for a 404 when ``missing_ok``, else the answer or SourceUnavailable."""
    outgoing = dict(headers or {})
    inject(outgoing)
    path = httpx.URL(url).path
    response = await _get(client, url, path, params, outgoing)
    if missing_ok and response.status_code == 404:
        return None
    if response.is_error:
        raise SourceRefused(
            f"GET {path} answered HTTP {response.status_code}", response.status_code
        )
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise SourceUnavailable(f"GET {path} answered something that is not JSON") from exc
    return JsonAnswer(drop_labor_keys(payload), response.headers)


async def _get(
    client: httpx.AsyncClient,
    url: str,
    path: str,
    params: QueryParams | None,
    headers: Mapping[str, str],
) -> httpx.Response:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await client.get(url, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            raise SourceUnavailable(f"GET {path} timed out") from exc
        except _CLOSED_WITHOUT_ANSWER as exc:
            if attempt == ATTEMPTS:
                raise SourceUnavailable(f"GET {path} failed: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"GET {path} failed: {type(exc).__name__}") from exc
    raise AssertionError("unreachable")  # pragma: no cover


async def require_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    params: QueryParams | None = None,
    headers: Mapping[str, str] | None = None,
) -> JsonAnswer:
    """:func:`get_json` where a 404 is a failure like any other."""
    answer = await get_json(client, url, params=params, headers=headers)
    assert answer is not None
    return answer


@contextmanager
def translating(what: str) -> Iterator[None]:
    """Turn a payload that does not have the expected shape into SourceUnavailable."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise SourceUnavailable(f"unexpected {what} payload: {type(exc).__name__} {exc}") from exc
