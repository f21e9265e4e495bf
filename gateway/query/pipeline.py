"""One operation from validated document to response data: plan -> fetch -> merge.

Run by the gateway's execution (:mod:`gateway.query.execute`) once a document has parsed and
validated, it answers every data root field as JSON, for one principal: the field policy in force
(reloaded here when its file changed) decides what the plan may ask each port, and the plan is a
prepared one refilled with the request's values when there is one (:mod:`gateway.query.prepared`).
Introspection root fields (``__schema``, ``__type``, ``__typename``) are answered locally by
graphql-core; an operation with nothing else is left to graphql-core whole.

Computed root fields (the outlook, :mod:`gateway.query.computed`) are prepared with the plan: their
inner queries are planned before any port is asked, count in the cost estimate, and are fetched
alongside the operation's own fields under the operation's one deadline.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
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

from gateway.access.auth import Principal
from gateway.access.policy import Access
from gateway.access.policy_file import PolicyStore
from gateway.errors import BadUserInput
from gateway.planning.plan import Plan, Planner
from gateway.ports.fetch import Bypass, FanOut, PortOutcome
from gateway.ports.health import PortProber
from gateway.ports.registry import PortRegistry
from gateway.query.computed import Computed, ComputedFields, InnerPlanCache
from gateway.query.limits import check_cost
from gateway.query.merge import Merged, merge
from gateway.query.outlook import Answer
from gateway.query.prepared import PreparedPlans
from gateway.query.settings import OutlookSettings
from gateway.record import tracing

log = logging.getLogger(__name__)


@dataclass(slots=True)
class OperationResult:
    result: ExecutionResult
    sources: list[dict[str, Any]] = field(default_factory=list)
    withheld: list[dict[str, Any]] = field(default_factory=list)  # extensions.withheld
    status: int | None = None  # HTTP status when the request itself fails: 400, or 403 (policy)
    plan: Plan | None = None  # what was asked and denied (for the audit trail)
    outcomes: list[PortOutcome] = field(default_factory=list)  # what each port gave
    inner_plans: list[Plan] = field(default_factory=list)  # of computed fields' inner queries


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
        outlook: OutlookSettings | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        prober: PortProber | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock  # "now" of computed fields (the outlook's window)
        self._monotonic = monotonic  # the operation's deadline, as FanOut reads it
        self._spans = tracing.Spans(tracer_provider)
        self._prober = prober
        self._schema = schema
        self._policy = policy
        self._reject_denied = reject_denied  # policy.on_denied: reject
        self._max_cost = max_cost  # limits.max_cost: a plan over it asks no port (limits.py)
        self._outlook = outlook or OutlookSettings()
        self._registry = registry
        self._version = -1
        self._planner = Planner(schema, ())
        self.prepared = PreparedPlans()
        self._inner_plans = InnerPlanCache()
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
        bypass_cache: Bypass = False,
    ) -> OperationResult | None:
        """The operation's result, or None when graphql-core should execute it itself.

        One deadline, ``deadline`` seconds from now, bounds everything the operation asks,
        its computed fields' inner queries included."""
        deadline = self._monotonic() + self._deadline
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
        with self._spans.span("portgate.plan") as span:
            access = self._policy.current.access(principal)
            plan = self.prepared.plan(self._planner, operation, fragments, coerced, access)
            computed = ComputedFields(
                plan.computed,
                now=self._clock(),
                settings=self._outlook,
                plan_inner=partial(self._plan_inner, access=access),
                run_inner=partial(self._run_inner, deadline=deadline, bypass_cache=bypass_cache),
                positions=self._positions,
            )
            if span.is_recording():
                span.set_attribute("portgate.ports", [q.port.id for q in plan.port_queries])
        if plan.forbidden and self._reject_denied:
            return OperationResult(ExecutionResult(None, plan.forbidden), status=403, plan=plan)
        if self._max_cost is not None and (
            too_costly := check_cost(self._schema, plan, self._max_cost, computed.inner)
        ):
            return OperationResult(
                ExecutionResult(None, [too_costly.to_graphql()]), status=400, plan=plan
            )
        if not plan.fields and not plan.failed_keys and not computed:
            return None
        with self._spans.span("portgate.fetch_all"):
            fetched = self._fan_out.fetch(plan.port_queries, deadline, bypass_cache=bypass_cache)
            if computed:
                outcomes, done = await asyncio.gather(fetched, computed.run())
            else:  # no second task to run beside the fetch
                outcomes, done = await fetched, Computed()
        with self._spans.span("portgate.merge"):
            merged = self._merge(plan, outcomes)
            local, local_errors = self._introspect(plan, operation, document, raw_variables)
            local |= done.data
            data = {key: local.get(key, merged.data.get(key)) for key in plan.order}
        errors = plan.errors + merged.errors + local_errors + done.errors
        return OperationResult(
            ExecutionResult(data, errors or None),
            merged.sources + done.sources,
            done.withheld,
            plan=plan,
            outcomes=outcomes + done.outcomes,
            inner_plans=done.plans,
        )

    def _plan_inner(
        self, document: DocumentNode, variables: dict[str, Any], *, access: Access
    ) -> Plan:
        """A computed field's inner query, planned with the caller's access (its own field
        policy applies to it as to any query), or kept from an earlier operation."""
        [operation] = document.definitions
        assert isinstance(operation, OperationDefinitionNode)
        planner = self._planner

        def make() -> Plan:
            coerced = get_variable_values(
                self._schema, operation.variable_definitions or (), variables
            )
            if isinstance(coerced, list):
                raise BadUserInput("; ".join(e.message for e in coerced))
            return planner.plan(operation, {}, coerced, access)

        return self._inner_plans.plan(document, variables, access, make)

    async def _run_inner(
        self, plan: Plan, *, deadline: float, bypass_cache: Bypass
    ) -> tuple[Answer, list[PortOutcome]]:
        """A computed field's planned inner query, fetched under the operation's deadline."""
        outcomes = await self._fan_out.fetch(plan.port_queries, deadline, bypass_cache=bypass_cache)
        merged = self._merge(plan, outcomes)
        data = {key: merged.data.get(key) for key in plan.order}
        return Answer(data, plan.errors + merged.errors, merged.sources), outcomes

    def _merge(self, plan: Plan, outcomes: list[PortOutcome]) -> Merged:
        health = self._fan_out.health(outcomes)
        if self._prober is not None:
            health = self._prober.worst_of(health)
        return merge(plan, outcomes, self._positions, health)

    def _follow_registry(self) -> None:
        """Plan against the registry's current ports (cheap when its version has not moved)."""
        snapshot = self._registry.snapshot()
        if snapshot.version == self._version:
            return
        self._planner = Planner(self._schema, snapshot.active, snapshot.paused)
        self.prepared.clear()
        self._inner_plans = InnerPlanCache()
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
