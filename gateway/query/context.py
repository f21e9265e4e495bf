"""What strawberry's per-request context holds for the gateway: the Starlette request, and the
response whose status the gateway sets (strawberry's ASGI view builds the context as
``{"request": ..., "response": ...}``)."""

from typing import Any

from starlette.requests import Request


def request_of(request_context: Any) -> Request | None:
    """The HTTP request an operation came in on, if any."""
    request = (
        request_context.get("request")
        if isinstance(request_context, dict)
        else getattr(request_context, "request", None)
    )
    return request if isinstance(request, Request) else None


def set_status(request_context: Any, status: int) -> None:
    """Set the HTTP status of the response strawberry builds for this request."""
    response = getattr(request_context, "response", None)
    if response is None and isinstance(request_context, dict):
        response = request_context.get("response")
    if response is not None:
        response.status_code = status
