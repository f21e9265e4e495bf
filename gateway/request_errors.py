"""Give documents that cannot run a stable code and a 400 status.

A document that does not parse gets ``GRAPHQL_PARSE_FAILED``, one that does not validate against
the schema (unknown field, wrong argument type, ...) gets ``GRAPHQL_VALIDATION_FAILED``; either
way no port is asked anything and the HTTP status is 400.

Judged in ``get_results``, the one hook strawberry runs on every path: the parser cache raises
from inside the parse step, and then no other hook resumes.
"""

import time
from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension

from gateway.observe import OperationObserver

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


class RequestErrorCodes(SchemaExtension):
    def __init__(self, *, observer: OperationObserver | None = None) -> None:
        self._observer = observer
        self._executed = False
        self._started = time.perf_counter()

    def on_operation(self) -> Iterator[None]:
        self._started = time.perf_counter()
        yield

    def on_execute(self) -> Iterator[None]:
        self._executed = True
        yield

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context
        errors = context.pre_execution_errors
        if self._executed or not errors:
            return {}
        code = PARSE_FAILED if context.graphql_document is None else VALIDATION_FAILED
        for error in errors:
            error.extensions = {"code": code, **(error.extensions or {})}
        set_status(context.context, 400)
        if self._observer is not None:
            self._observer.finished(
                operation_name=context.operation_name,
                seconds=time.perf_counter() - self._started,
                result=ExecutionResult(None, list(errors)),
                status=400,
            )
        return {}


def set_status(request_context: Any, status: int) -> None:
    """Set the HTTP status of the response strawberry builds for this request."""
    response = getattr(request_context, "response", None)
    if response is None and isinstance(request_context, dict):
        response = request_context.get("response")
    if response is not None:
        response.status_code = status
