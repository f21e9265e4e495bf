"""One operation from validated document to response data: plan -> fetch -> merge.

Runs inside strawberry's execution step (see :mod:`gateway.extension`) and answers every data
root field as JSON, for one principal: the field policy in force (reloaded here when its file
changed) decides what the plan may ask each port. Introspection root fields (``__schema``,
``__type``, ``__typename``) are answered locally by graphql-core; an operation with nothing else
is left to strawberry whole.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    execute,
    get_operation_ast,
)
from graphql.execution.values import get_variable_values
from opentelemetry import trace

from gateway import tracing
from gateway.auth import Principal
from gateway.errors import BadUserInput
from gateway.fetch import FanOut, PortOutcome
from gateway.health import PortProber
from gateway.limits import check_cost
from gateway.merge import merge
from gateway.outlook import Answer, compute_outlook
from gateway.plan import Plan, Planner
from gateway.policy_file import PolicyStore
from gateway.registry import PortRegistry

log = logging.getLogger(__name__)


# Worst last: a port's entry for a computed field is its worst across the inner queries.
_SOURCE_RANK = {"ok": 0, "cached": 1, "partial": 2, "stale": 3, "skipped": 4}


def combined_sources(key: str, inner: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One source entry per port for a computed field (``key``), from its inner queries' own:
    the worst status (a failure over a stale stand-in over a fresh answer), the longest
    latency, the oldest cache age."""
    by_port: dict[str, dict[str, Any]] = {}
    for entry in inner:
        port = entry["port"]
        seen = by_port.get(port)
        if seen is None:
            by_port[port] = {**entry, "fields": [key]}
            continue
        worse = _SOURCE_RANK.get(entry["status"], 9) > _SOURCE_RANK.get(seen["status"], 9)
        merged = {**seen, **entry, "fields": [key]} if worse else seen
        for name in ("latencyMs", "cacheAgeSeconds"):
            values = [e[name] for e in (seen, entry) if name in e]
            if values:
                merged[name] = max(values)
        by_port[port] = merged
    return list(by_port.values())


@dataclass(slots=True)
class OperationResult:
    result: ExecutionResult
    sources: list[dict[str, Any]] = field(default_factory=list)
    status: int | None = None  # HTTP status when the request itself fails: 400, or 403 (policy)
    plan: Plan | None = None  # what was asked and denied (for the audit trail)
    outcomes: list[PortOutcome] = field(default_factory=list)  # what each port gave
    inner_plans: list[Plan] = field(default_factory=list)  # of computed fields' inner queries


@dataclass(slots=True)
class Computed:
    """What the computed root fields of one operation gave, and what their inner queries did."""

    data: dict[str, Any] = field(default_factory=dict)
    errors: list[GraphQLError] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[PortOutcome] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)


class QueryPipeline:
    """Plans, fetches and merges operations against a fixed set of ports."""

    def __init__(
        self,
        schema: GraphQLSchema,
        registry: PortRegistry,
        fan_out: FanOut,
        deadline: float,
        *,
        policy: PolicyStore,
        reject_denied: bool = False,
        max_cost: int | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        prober: PortProber | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._clock = clock  # "now" of computed fields (the outlook's window)
        self._tracer = tracing.tracer(tracer_provider)
        self._prober = prober
        self._schema = schema
        self._policy = policy
        self._reject_denied = reject_denied  # policy.on_denied: reject
        self._max_cost = max_cost  # limits.max_cost: a plan over it asks no port (limits.py)
        self._registry = registry
        self._version = -1
        self._planner = Planner(schema, ())
        self._positions: dict[str, int] = {}
        self._fan_out = fan_out
        self._deadline = deadline

    async def run(
        self,
        document: DocumentNode,
        operation_name: str | None,
        raw_variables: Mapping[str, Any],
        *,
        principal: Principal,
        bypass_cache: bool = False,
    ) -> OperationResult | None:
        """The operation's result, or None when strawberry should execute it itself."""
        started = time.monotonic()
        self._follow_registry()
        self._policy.reload_if_changed()
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not OperationType.QUERY:
            return None
        coerced = get_variable_values(
            self._schema, operation.variable_definitions or (), dict(raw_variables)
        )
        if isinstance(coerced, list):
            errors = [
                GraphQLError(e.message, nodes=e.nodes, extensions={"code": BadUserInput.code})
                for e in coerced
            ]
            return OperationResult(ExecutionResult(None, errors), status=400)
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        with self._tracer.start_as_current_span("portgate.plan") as span:
            access = self._policy.current.access(principal)
            plan = self._planner.plan(operation, fragments, coerced, access)
            span.set_attribute("portgate.ports", [q.port.id for q in plan.port_queries])
        if plan.forbidden and self._reject_denied:
            return OperationResult(ExecutionResult(None, plan.forbidden), status=403, plan=plan)
        if self._max_cost is not None and (
            too_costly := check_cost(self._schema, plan, self._max_cost)
        ):
            return OperationResult(
                ExecutionResult(None, [too_costly.to_graphql()]), status=400, plan=plan
            )
        if not plan.fields and not plan.failed_keys and not plan.computed:
            return None
        with self._tracer.start_as_current_span("portgate.fetch_all"):
            outcomes, computed = await asyncio.gather(
                self._fan_out.fetch(
                    plan.port_queries, started + self._deadline, bypass_cache=bypass_cache
                ),
                self._compute(plan, principal, bypass_cache),
            )
        with self._tracer.start_as_current_span("portgate.merge"):
            health = self._fan_out.health(outcomes)
            if self._prober is not None:
                health = self._prober.worst_of(health)
            merged = merge(plan, outcomes, self._positions, health)
            local, local_errors = self._introspect(plan, operation, document, raw_variables)
            local |= computed.data
            data = {key: local.get(key, merged.data.get(key)) for key in plan.order}
        errors = plan.errors + merged.errors + local_errors + computed.errors
        return OperationResult(
            ExecutionResult(data, errors or None),
            merged.sources + computed.sources,
            plan=plan,
            outcomes=outcomes + computed.outcomes,
            inner_plans=computed.plans,
        )

    async def _compute(self, plan: Plan, principal: Principal, bypass_cache: bool) -> Computed:
        """Root fields computed from other root fields, asked through this same pipeline with
        the caller's principal (so the policy, cache and failure rules apply to them too); the
        inner queries' sources become the computed fields' own, and their port outcomes and
        plans go to the operation's audit record."""
        computed = Computed()
        data, errors, sources = computed.data, computed.errors, computed.sources
        inner_sources: list[dict[str, Any]] = []

        async def ask(document: DocumentNode, variables: dict[str, Any]) -> Answer:
            result = await self.run(
                document, None, variables, principal=principal, bypass_cache=bypass_cache
            )
            assert result is not None
            inner_sources.extend(result.sources)
            computed.outcomes.extend(result.outcomes)
            computed.plans.extend([result.plan] if result.plan is not None else [])
            return Answer(result.result.data or {}, list(result.result.errors or ()),
                          result.sources)  # fmt: skip

        for key, _name, arguments, shape in plan.computed:
            inner_sources.clear()
            try:
                value, inner_errors = await compute_outlook(ask, arguments, self._clock())
            except BadUserInput as exc:
                data[key] = None
                errors.append(exc.to_graphql(path=[key]))
                continue
            data[key] = shape.project_named(value)
            sources.extend(combined_sources(key, inner_sources))
            seen = set()
            for error in inner_errors:  # named on the outlook, once each
                if error.message not in seen:
                    seen.add(error.message)
                    errors.append(GraphQLError(error.message, path=[key],
                                               extensions=error.extensions))  # fmt: skip
        return computed

    def _follow_registry(self) -> None:
        """Plan against the registry's current ports (cheap when its version has not moved)."""
        snapshot = self._registry.snapshot()
        if snapshot.version == self._version:
            return
        self._planner = Planner(self._schema, snapshot.active, snapshot.paused)
        self._positions = {e.id: i for i, e in enumerate(snapshot.entries)}
        self._policy.set_ports([e.id for e in snapshot.entries])
        self._version = snapshot.version

    def _introspect(
        self,
        plan: Plan,
        operation: OperationDefinitionNode,
        document: DocumentNode,
        raw_variables: Mapping[str, Any],
    ) -> tuple[dict[str, Any], list[GraphQLError]]:
        """The introspection root fields, answered by graphql-core from the schema."""
        if not plan.introspection:
            return {}, []
        nodes = [node for _, group in plan.introspection for node in group]
        only_introspection = DocumentNode(
            definitions=(
                OperationDefinitionNode(
                    operation=OperationType.QUERY,
                    name=operation.name,
                    variable_definitions=operation.variable_definitions,
                    directives=(),
                    selection_set=SelectionSetNode(selections=tuple(nodes)),
                ),
                *(d for d in document.definitions if isinstance(d, FragmentDefinitionNode)),
            )
        )
        result = execute(self._schema, only_introspection, variable_values=dict(raw_variables))
        assert isinstance(result, ExecutionResult)
        return dict(result.data or {}), list(result.errors or ())
