"""What the gateway records about each finished operation: metrics and one audit record.

Called once per operation, after its response is built: by the fan-out extension for operations
that ran, and by the request-error extension for documents rejected before running. The audit
record holds who asked what, which ports answered and how, and what was denied, never any data a
port returned. Recording never raises into the request, except
:class:`~gateway.errors.AuditUnavailable` when
the configuration requires every operation to be audited (the caller then fails the query).
"""

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema, OperationDefinitionNode
from opentelemetry import trace
from strawberry.types import ExecutionContext

from gateway.access.auth import Principal
from gateway.planning.plan import Plan
from gateway.ports.fetch import PortOutcome
from gateway.record.audit import AuditRecord, CacheUse, PortUse
from gateway.record.audit_trail import AuditTrail
from gateway.record.metrics import GatewayMetrics

log = logging.getLogger(__name__)

AnyResult = Any  # graphql-core's or strawberry's ExecutionResult (both have data and errors)
_CACHE_USE: dict[str, CacheUse] = {"ok": "fresh", "cached": "cached", "stale": "stale"}


def outcome_of(result: AnyResult, status: int | None) -> str:
    """ok | partial | error | rejected (a 4xx before or instead of running)."""
    if status is not None and 400 <= status < 500:
        return "rejected"
    if result is None or result.data is None:
        return "error"
    return "partial" if result.errors else "ok"


def _extensions(result: AnyResult) -> list[dict[str, Any]]:
    return [e.extensions or {} for e in (getattr(result, "errors", None) or ())]


def denied_coordinates(result: AnyResult) -> list[str]:
    """Schema coordinates the policy withheld, from the FORBIDDEN_FIELD errors."""
    return [
        str(x["coordinate"])
        for x in _extensions(result)
        if x.get("code") == "FORBIDDEN_FIELD" and "coordinate" in x
    ]


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


class OperationObserver:
    def __init__(self, metrics: GatewayMetrics, schema: GraphQLSchema) -> None:
        self.metrics = metrics
        self.trail: AuditTrail | None = None  # opened with the app (lifespan)
        self._schema = schema

    async def finished(
        self,
        context: ExecutionContext,
        *,
        started: float,
        trace_id: str | None,
        principal: Principal | None,
        result: AnyResult,
        status: int | None,
        plan: Plan | None = None,
        outcomes: Sequence[PortOutcome] = (),
        inner_plans: Sequence[Plan] = (),
        messages: int | None = None,
    ) -> None:
        seconds = time.perf_counter() - started
        outcome = outcome_of(result, status)
        try:
            self._count(context.operation_name, outcome, seconds, result, outcomes)
            record = self._record(
                context, seconds, outcome, trace_id, principal, result, plan, outcomes
            )
            if inner_plans:
                record = record.model_copy(update={"requested": self._requested(plan, inner_plans)})
            if messages is not None:  # a subscription: one record when it ends
                record = record.model_copy(update={"messages": messages})
        except Exception:  # never let bookkeeping break a query
            log.exception("recording the operation failed")
            return
        if self.trail is not None:
            # AuditUnavailable (required mode only) goes to the caller, which fails the query.
            await self.trail.record(record)

    def audit_counts(self) -> dict[str, int]:
        trail = self.trail
        if trail is None:
            return {}
        return {"written": trail.written, "failed": trail.failed, "dropped": trail.dropped}

    def audit_store(self) -> dict[str, int]:
        """Whether the audit store is up (1 or 0) and how many records wait for it."""
        trail = self.trail
        if trail is None:
            return {}
        return {"up": int(trail.state == "up"), "queued": trail.pending}

    def _count(
        self,
        operation_name: str | None,
        outcome: str,
        seconds: float,
        result: AnyResult,
        outcomes: Sequence[PortOutcome],
    ) -> None:
        self.metrics.observe_operation(operation_name, outcome, seconds)
        for port in outcomes:
            self.metrics.observe_port(port.port.id, port.status, port.latency)
        for coordinate in denied_coordinates(result):
            self.metrics.denials.labels(coordinate).inc()

    def _record(
        self,
        context: ExecutionContext,
        seconds: float,
        outcome: str,
        trace_id: str | None,
        principal: Principal | None,
        result: AnyResult,
        plan: Plan | None,
        outcomes: Sequence[PortOutcome],
    ) -> AuditRecord:
        extensions = _extensions(result)
        return AuditRecord.of_operation(
            time=datetime.now(UTC),
            trace_id=trace_id,
            client_id=principal.client_id if principal else "anonymous",
            organisation=principal.organisation if principal else "",
            roles=tuple(sorted(principal.roles)) if principal else (),
            operation_name=context.operation_name,
            operation_type=_operation_type(context),
            document=context.query or "",
            variables=dict(context.variables) if context.variables else None,
            requested=self._requested(plan),
            denied=tuple(sorted(set(denied_coordinates(result)))),
            ports=tuple(
                PortUse.built(
                    port=o.port.id,
                    status=o.status,
                    latency_ms=round(o.latency * 1000, 2),
                    cache=_CACHE_USE.get(o.status, "none"),
                    code=o.failure.code if o.failure is not None else None,
                )
                for o in outcomes
            ),
            error_codes=tuple(sorted({str(x["code"]) for x in extensions if "code" in x})),
            duration_ms=round(seconds * 1000, 3),
            outcome=outcome,
            incident=next((str(x["incident"]) for x in extensions if "incident" in x), None),
        )

    def _requested(self, plan: Plan | None, inner: Sequence[Plan] = ()) -> tuple[str, ...]:
        """Coordinates asked, the inner queries of computed fields (the outlook) included; a
        plan's own are listed once and kept on it (a prepared plan's refills share them)."""
        if plan is None or self._schema.query_type is None:
            return ()
        if not inner:
            if plan.requested is None:
                plan.requested = self._listed(plan, ())
            return plan.requested
        return self._listed(plan, inner)

    def _listed(self, plan: Plan, inner: Sequence[Plan]) -> tuple[str, ...]:
        assert self._schema.query_type is not None
        query = self._schema.query_type
        coordinates: set[str] = {f"Query.{name}" for _, name, _, _ in plan.computed}
        for field_plan in [f for p in (plan, *inner) for f in p.fields]:
            coordinates.add(f"Query.{field_plan.name}")
            field_type = query.fields[field_plan.name].type
            while hasattr(field_type, "of_type"):
                field_type = field_type.of_type
            if isinstance(field_type, GraphQLObjectType):
                coordinates.update(field_plan.shape.coordinates(field_type))
        return tuple(sorted(coordinates))


def _operation_type(context: ExecutionContext) -> Any:
    document = context.graphql_document
    if document is None:
        return None
    operation = next(
        (d for d in document.definitions if isinstance(d, OperationDefinitionNode)), None
    )
    return operation.operation.value if operation is not None else None
