"""Give documents that cannot run a stable code and a 400 status.

A document that does not parse gets ``GRAPHQL_PARSE_FAILED``, one that does not validate against
the schema (unknown field, wrong argument type, ...) gets ``GRAPHQL_VALIDATION_FAILED``; either
way no port is asked anything and the HTTP status is 400. Errors that already have a code keep it:
the limits of :mod:`gateway.limits` (``QUERY_TOO_DEEP``, ...), and the parser's token limit,
which is given ``QUERY_TOO_MANY_TOKENS`` here.

Judged in ``get_results``, the one hook strawberry runs on every path: the parser cache raises
from inside the parse step, and then no other hook resumes.
"""

import logging
import time
from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension

from gateway.auth import principal_of
from gateway.errors import AuditUnavailable
from gateway.http.context import set_status
from gateway.limits import token_limit_error
from gateway.observe import OperationObserver, current_trace_id

log = logging.getLogger(__name__)

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


class RequestErrorCodes(SchemaExtension):
    def __init__(self, *, observer: OperationObserver | None = None) -> None:
        self._observer = observer
        self._executed = False
        self._started = time.perf_counter()
        self._trace_id: str | None = None

    def on_operation(self) -> Iterator[None]:
        self._started = time.perf_counter()
        self._trace_id = current_trace_id()  # inside the operation's span
        yield

    def on_execute(self) -> Iterator[None]:
        self._executed = True
        yield

    async def get_results(self) -> dict[str, Any]:
        context = self.execution_context
        errors = context.pre_execution_errors
        if self._executed or not errors:
            return {}
        code = PARSE_FAILED if context.graphql_document is None else VALIDATION_FAILED
        if context.graphql_document is None:
            for error in errors:
                token_limit_error(error)
        for error in errors:
            error.extensions = {"code": code, **(error.extensions or {})}
        set_status(context.context, 400)
        if self._observer is not None:
            request = getattr(context.context, "get", lambda _: None)("request")
            try:
                await self._observer.finished(
                    context,
                    started=self._started,
                    trace_id=self._trace_id,
                    principal=principal_of(request.state) if request is not None else None,
                    result=ExecutionResult(None, list(errors)),
                    status=400,
                )
            except AuditUnavailable:
                log.warning("a rejected request could not be audited")  # refused anyway
        return {}
