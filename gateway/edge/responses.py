"""Responses the gateway builds outside GraphQL execution, in the GraphQL response format."""

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from gateway.errors import GatewayError


class ORJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def graphql_error_response(message: str, code: str, status: int) -> Response:
    return ORJSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status
    )


def error_response(
    error: GatewayError, status: int, headers: Mapping[str, str] | None = None
) -> Response:
    """``error`` as the one error of a response with ``status``; an error that says when to
    come back (``retry_after``) also sets ``Retry-After``."""
    response = ORJSONResponse(
        {"errors": [{"message": error.message, "extensions": error.extensions()}]},
        status_code=status,
        headers=headers,
    )
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, int):
        response.headers["Retry-After"] = str(retry_after)
    return response
