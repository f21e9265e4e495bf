"""Responses the gateway builds outside GraphQL execution, in the GraphQL response format."""

from typing import Any

import orjson
from starlette.responses import Response


class ORJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def graphql_error_response(message: str, code: str, status: int) -> Response:
    return ORJSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status
    )
