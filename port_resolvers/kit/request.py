"""GraphQL over HTTP: from a Starlette request to a :class:`GraphQLRequest`.

``POST`` carries a JSON object ``{"query", "variables"?, "operationName"?}`` (``extensions`` is
ignored); ``GET`` carries the same as query parameters, ``variables`` JSON-encoded. Anything
else is rejected with :class:`RequestRejected`, which becomes a 400 (413 for a body over the
limit) with a GraphQL-shaped body.
"""

from typing import Any, Final

import orjson
from starlette.requests import Request

from port_resolvers.kit.errors import BAD_REQUEST, PAYLOAD_TOO_LARGE
from port_resolvers.kit.execution import GraphQLRequest

DEFAULT_MAX_BODY_BYTES: Final = 1 << 20


class RequestRejected(Exception):
    """The HTTP request is not a GraphQL request the kit can run."""

    def __init__(self, message: str, *, status: int = 400, code: str = BAD_REQUEST) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


async def read_graphql_request(request: Request, *, max_body_bytes: int) -> GraphQLRequest:
    if request.method == "POST":
        return _from_fields(await _json_object(request, max_body_bytes))
    params = request.query_params
    variables = params.get("variables")
    fields: dict[str, Any] = {
        "query": params.get("query"),
        "operationName": params.get("operationName"),
        "variables": _decode(variables, "variables") if variables else None,
    }
    return _from_fields(fields)


async def _read_body(request: Request, limit: int) -> bytes:
    too_large = RequestRejected(
        f"the request body is over {limit} bytes", status=413, code=PAYLOAD_TOO_LARGE
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(raw: bytes | str, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestRejected(f"{what} is not valid JSON") from None


async def _json_object(request: Request, limit: int) -> dict[str, Any]:
    body = _decode(await _read_body(request, limit), "the request body")
    if isinstance(body, list):
        raise RequestRejected("batched requests are not supported: send one operation")
    if not isinstance(body, dict):
        raise RequestRejected('the request body must be a JSON object {"query": ...}')
    return body


def _from_fields(fields: dict[str, Any]) -> GraphQLRequest:
    query = fields.get("query")
    if not isinstance(query, str) or not query.strip():
        raise RequestRejected("the request has no GraphQL query")
    variables = fields.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise RequestRejected("variables must be a JSON object")
    operation_name = fields.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestRejected("operationName must be a string")
    return GraphQLRequest(query, variables, operation_name or None)
