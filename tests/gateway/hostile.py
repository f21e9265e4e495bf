"""A hostile port resolver for tests: an honest resolver behind a port that misbehaves on cue.

Every port is a separate organisation, so the gateway must hold up against one that lies, leaks
or stalls. :class:`HostileResolver` forwards each request to an honest resolver (at a loopback
URL) and then does what its ``mode`` says:

- ``honest``: passes the answer on unchanged;
- ``spoof``: adds a copy of every row claiming to be ``victim`` (its UN/LOCODE in every field,
  its cursors), so the answer holds both the port's rows and fake rows of another port;
- ``bad_values``: enum values the schema lacks, strings where numbers belong;
- ``future``: container and call times set years ahead (to outrank other ports);
- ``fake_values``: contract-valid but made-up metric values (:data:`FAKE_VALUE`);
- ``labor_text``: hold descriptions that name people and shifts;
- ``people_errors``: no data, and errors with ``error_message`` (by default one that names a
  crane operator, a gang, a shift, a yard block, an API key and a bearer token:
  :data:`LEAKY_MESSAGE`), the first with a contract code and the next with a made-up one;
- ``huge``: an endless-looking answer of ``huge_bytes`` bytes, streamed;
- ``drip``: an answer that never ends, one byte at a time;
- ``hang``: accepts the request and never answers;
- ``redirect``: a 307 to ``redirect_to``;
- ``unavailable``: 503.

``requests`` counts what reached it. Serve it on loopback with
:func:`port_resolvers.loopback.serve_on_loopback`.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
from graphql import FieldNode, OperationDefinitionNode, SelectionSetNode, parse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from portcontract.cursor import CallKey, InvalidCursor, decode_cursor, encode_cursor

FAKE_VALUE = 999_999.0
LEAKY_MESSAGE = (
    "crane operator Maria Lopez (gang 4, third shift) moved box MSCU1299280 to yard block B12; "
    "retry with key pgk_live_0123456789abcdef or Bearer eyJhbGciOi.secret.token"
)
LEAKED_WORDS = ("Maria", "Lopez", "gang 4", "third shift", "B12", "pgk_live", "eyJhbGciOi")
LABOR_DESCRIPTION = "held by foreman John Smith for the night gang"
ENUM_KEYS = frozenset({
    "status", "metric", "eventClassifierCode", "equipmentEventTypeCode", "statusCode", "phase",
    "type",
})  # fmt: skip
PAST_TIME_KEYS = frozenset({
    "lastEventDateTime", "actualArrivalDateTime", "actualDepartureDateTime",
})  # fmt: skip


class HostileResolver:
    """A port resolver that misbehaves as ``mode`` says (see the module docstring)."""

    def __init__(self, honest_url: str, port: str, *, victim: str = "USOAK") -> None:
        self.port = port
        self.victim = victim
        self.mode = "honest"
        self.requests = 0
        self.huge_bytes = 1024 * 1024
        self.redirect_to = "http://127.0.0.1:9/graphql"
        self.error_message = LEAKY_MESSAGE
        self._honest_url = honest_url
        self.app = Starlette(routes=[Route("/graphql", self._graphql, methods=["POST"])])

    async def _graphql(self, request: Request) -> Response:
        self.requests += 1
        body = await request.body()
        mode = self.mode
        if mode == "hang":
            await asyncio.Event().wait()
        if mode == "unavailable":
            return Response(b"down for maintenance", status_code=503)
        if mode == "redirect":
            return RedirectResponse(self.redirect_to, status_code=307)
        if mode == "huge":
            return StreamingResponse(self._huge(), media_type="application/json")
        if mode == "drip":
            return StreamingResponse(_drip(), media_type="application/json")
        answer = await self._ask_honest(body, dict(request.headers))
        names = _field_names(orjson.loads(body)["query"])
        if mode == "people_errors":
            data = answer.get("data") or {}
            answer = {
                "data": dict.fromkeys(data),
                "errors": [
                    {"message": self.error_message, "path": [key], "extensions": {"code": code}}
                    for key, code in zip(data, ["INTERNAL_ERROR", "MADE_UP_CODE"] * 9, strict=False)
                ],
            }
        elif answer.get("data") is not None:
            answer["data"] = self._transform(answer["data"], mode, names)
        return Response(orjson.dumps(answer), media_type="application/json")

    async def _ask_honest(self, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            forwarded = {k: v for k, v in headers.items() if k in ("authorization", "traceparent")}
            response = await client.post(
                self._honest_url,
                content=body,
                headers={**forwarded, "content-type": "application/json"},
            )
        answer: dict[str, Any] = response.json()
        return answer

    def _transform(self, data: dict[str, Any], mode: str, names: dict[str, str]) -> Any:
        """``data`` changed as ``mode`` says; ``names`` maps the document's response keys
        (aliases included: this port reads the document it is sent) to field names."""
        if mode == "spoof":
            return {key: self._with_spoofed_rows(value) for key, value in data.items()}
        if mode == "bad_values":
            return _rewrite(data, names, _bad_value)
        if mode == "future":
            return _rewrite(data, names, _future)
        if mode == "fake_values":
            return _rewrite(
                data, names, lambda name, value: FAKE_VALUE if name == "value" else value
            )
        if mode == "labor_text":
            return _rewrite(
                data,
                names,
                lambda name, value: LABOR_DESCRIPTION if name == "description" else value,
            )
        return data

    def _with_spoofed_rows(self, value: Any) -> Any:
        """The port's own rows, plus a copy of each claiming to be the victim's."""
        if isinstance(value, list):
            return value + [self._as_victim(item) for item in value]
        if isinstance(value, dict) and any(isinstance(v, list) for v in value.values()):
            return {  # a connection: edges and nodes grow alike
                key: items + [self._as_victim(item) for item in items]
                if isinstance(items, list)
                else items
                for key, items in value.items()
            }
        return self._as_victim(value)

    def _as_victim(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self._as_victim(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._as_victim(item) for item in value]
        if value == self.port:
            return self.victim
        if isinstance(value, str) and len(value) > 20:
            try:
                key = decode_cursor(value)
            except InvalidCursor:
                return value
            if key.port == self.port:
                return encode_cursor(CallKey(key.planned_arrival, self.victim, key.reference))
        return value

    async def _huge(self) -> AsyncIterator[bytes]:
        row = b'{"UNLocationCode":"%s","name":"x"},' % self.port.encode()
        yield b'{"data":{"ports":['
        sent = 0
        while sent < self.huge_bytes:
            chunk = row * 512
            sent += len(chunk)
            yield chunk
        yield b'{"UNLocationCode":"%s"}]}}' % self.port.encode()


async def _drip() -> AsyncIterator[bytes]:
    yield b'{"data":'
    while True:  # cut off by the gateway, never by this resolver
        await asyncio.sleep(0.05)
        yield b" "


def _field_names(document: str) -> dict[str, str]:
    """Response key -> field name, for every field of a document."""
    names: dict[str, str] = {}

    def walk(selection_set: SelectionSetNode | None) -> None:
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                names[node.alias.value if node.alias else node.name.value] = node.name.value
                walk(node.selection_set)

    for definition in parse(document).definitions:
        if isinstance(definition, OperationDefinitionNode):
            walk(definition.selection_set)
    return names


def _rewrite(value: Any, names: dict[str, str], change: Callable[[str, Any], Any]) -> Any:
    if isinstance(value, dict):
        return {
            key: _rewrite(change(names.get(key, key), item), names, change)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_rewrite(item, names, change) for item in value]
    return value


def _bad_value(key: str, value: Any) -> Any:
    if key in ENUM_KEYS and isinstance(value, str):
        return "TELEPORTED"
    if key in ("value", "sampleSize") and value is not None:
        return "lots"
    return value


def _future(key: str, value: Any) -> Any:
    if key in PAST_TIME_KEYS and isinstance(value, str):
        return "2099-01-01T00:00:00+00:00"
    return value
