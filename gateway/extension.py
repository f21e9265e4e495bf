"""The strawberry extension that hands each operation to the gateway's pipeline.

Strawberry parses and validates (with its parser and validation caches); in the execution step
this extension runs :class:`~gateway.pipeline.QueryPipeline` and sets the result, so graphql-core
never resolves the ports' answers field by field. ``extensions.sources`` comes from here.
Like every extension hook, it must never raise: an exception here would null the whole response.
"""

import logging
import time
from collections.abc import AsyncIterator, Collection
from typing import Any

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension

from gateway.auth import principal_of
from gateway.errors import AuditUnavailable, Unauthenticated
from gateway.execute import may_bypass_cache
from gateway.fetch import PortOutcome
from gateway.http.context import request_of, set_status
from gateway.observe import OperationObserver, current_trace_id
from gateway.pipeline import QueryPipeline
from gateway.plan import Plan
from gateway.redact import incident_error

log = logging.getLogger(__name__)


class FanOutExtension(SchemaExtension):
    def __init__(
        self,
        *,
        pipeline: QueryPipeline,
        cache_bypass_roles: Collection[str] = (),
        observer: OperationObserver | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._cache_bypass_roles = frozenset(cache_bypass_roles)
        self._observer = observer
        self._sources: list[dict[str, Any]] | None = None
        self._started = time.perf_counter()
        self._executed = False
        self._status: int | None = None
        self._plan: Plan | None = None
        self._outcomes: list[PortOutcome] = []
        self._inner_plans: list[Plan] = []

    async def on_operation(self) -> AsyncIterator[None]:
        self._started = time.perf_counter()
        trace_id = current_trace_id()  # inside the operation's span
        yield
        # Documents rejected before execution are recorded by RequestErrorCodes.
        if not self._executed or self._observer is None:
            return
        context = self.execution_context
        request = request_of(context.context)
        try:
            await self._observer.finished(
                context,
                started=self._started,
                trace_id=trace_id,
                principal=None if request is None else principal_of(request.state),
                result=context.result,
                status=self._status,
                plan=self._plan,
                outcomes=self._outcomes,
                inner_plans=self._inner_plans,
            )
        except AuditUnavailable as exc:  # auditing is required: no record, no answer
            result = context.result
            if result is not None:  # the very object strawberry is about to send
                result.data = None
                result.errors = [exc.to_graphql()]
            set_status(context.context, 503)

    async def on_execute(self) -> AsyncIterator[None]:
        self._executed = True
        context = self.execution_context
        document = context.graphql_document
        request = request_of(context.context)
        principal = None if request is None else principal_of(request.state)
        if document is not None and context.result is None and principal is None:
            # Never happens behind the authentication middleware; if it does, fail closed.
            refusal = Unauthenticated("the request was not authenticated")
            context.result = ExecutionResult(None, [refusal.to_graphql()])
            self._status = 401
            set_status(context.context, 401)
        elif document is not None and context.result is None and principal is not None:
            try:
                outcome = await self._pipeline.run(
                    document,
                    context.operation_name,
                    context.variables or {},
                    principal=principal,
                    bypass_cache=may_bypass_cache(request, principal, self._cache_bypass_roles),
                )
            except Exception as exc:
                message, extensions = incident_error(exc, "an operation")
                error = GraphQLError(message, extensions=extensions)
                context.result = ExecutionResult(None, [error])
            else:
                if outcome is not None:
                    context.result = outcome.result
                    self._sources = outcome.sources
                    self._plan = outcome.plan
                    self._outcomes = outcome.outcomes
                    self._inner_plans = outcome.inner_plans
                    self._status = outcome.status
                    if outcome.status is not None:
                        set_status(context.context, outcome.status)
        yield

    def get_results(self) -> dict[str, Any]:
        return {} if self._sources is None else {"sources": self._sources}
