"""Root fields the gateway computes from other queries (the outlook), inside the operation's
budget.

An operation's computed fields are *prepared* before any port is asked: their arguments are
checked (a bad one nulls that field with ``BAD_USER_INPUT``) and every inner query they may send
is planned with the caller's access, so the operation's cost estimate covers them
(:attr:`ComputedFields.inner`, for :func:`gateway.query.limits.check_cost`). Then :meth:`run`
computes them concurrently, each distinct one once (ten aliases of the same outlook are one outlook,
projected ten ways), under the operation's one deadline: the inner queries go through
:class:`~gateway.ports.fetch.FanOut` with the same monotonic instant as the operation's own fields.
Inner plans are kept across operations (:class:`InnerPlanCache`): a repeated outlook, whose
window is aligned, is planned once.

Each computed field reports one source entry per port, the worst its inner queries had; their
port outcomes and plans go to the operation's audit record.
"""

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from graphql import DocumentNode, GraphQLError

from gateway.access.policy import Access
from gateway.errors import BadUserInput, ForbiddenField
from gateway.planning.plan import Plan
from gateway.planning.selection import Shape
from gateway.ports.fetch import PortOutcome
from gateway.query.limits import InnerPlans
from gateway.query.outlook import (
    Answer,
    OutlookRequest,
    compute_outlook,
    inner_queries,
    outlook_request,
)
from gateway.query.settings import OutlookSettings

INNER_PLAN_CACHE_SIZE = 256  # plans of inner queries kept across operations

# Worst last: a port's entry for a computed field is its worst across the inner queries.
_SOURCE_RANK = {"ok": 0, "cached": 1, "partial": 2, "stale": 3, "skipped": 4}

PlanInner = Callable[[DocumentNode, dict[str, Any]], Plan]
"""Plans an inner query with the caller's access; raises ``BadUserInput`` for bad values."""
RunInner = Callable[[Plan], Awaitable[tuple[Answer, list[PortOutcome]]]]
"""Fetches and merges a planned inner query under the operation's deadline."""


def combined_sources(
    key: str, inner: list[dict[str, Any]], positions: Mapping[str, int]
) -> list[dict[str, Any]]:
    """One source entry per port for a computed field (``key``), from its inner queries' own,
    in registry order (``positions``): the worst status (a failure over a stale stand-in over
    a fresh answer), the longest latency, the oldest cache age."""
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
    return sorted(by_port.values(), key=lambda e: positions.get(e["port"], len(positions)))


@dataclass(slots=True)
class Computed:
    """What the computed root fields of one operation gave, and what their inner queries did."""

    data: dict[str, Any] = field(default_factory=dict)
    errors: list[GraphQLError] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    withheld: list[dict[str, Any]] = field(default_factory=list)  # extensions.withheld
    outcomes: list[PortOutcome] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)


def withheld_entry(key: str, error: GraphQLError) -> dict[str, Any] | None:
    """What the policy withheld from a computed field's inner query, for
    ``extensions.withheld``; None for an error that is not a withholding. The client did not
    select the inner fields (it cannot: they are the gateway's), so a figure left out for
    them is not an error of its request: the figure is null, and this says why."""
    extensions = error.extensions or {}
    if extensions.get("code") != ForbiddenField.code:
        return None
    entry: dict[str, Any] = {"path": [key], "coordinate": extensions.get("coordinate")}
    if isinstance(count := extensions.get("withheld"), int):
        entry["count"] = count
    entry["reason"] = error.message
    return entry


@dataclass(slots=True)
class _Outlook:
    """One distinct outlook, computed: its value and what its inner queries did."""

    value: dict[str, Any]
    errors: list[GraphQLError]
    sources: list[dict[str, Any]]
    outcomes: list[PortOutcome]
    plans: list[Plan]


class ComputedFields:
    """The computed root fields of one operation (``Plan.computed``; the outlook is the only
    one), prepared at once: :attr:`inner` is known before :meth:`run` asks anything."""

    def __init__(
        self,
        fields: Sequence[tuple[str, str, dict[str, Any], Shape]],
        *,
        now: datetime,
        settings: OutlookSettings,
        plan_inner: PlanInner,
        run_inner: RunInner,
        positions: Mapping[str, int],
    ) -> None:
        self._now = now
        self._max_pages = settings.max_call_pages
        self._late_after = timedelta(seconds=settings.late_after)
        self._plan_inner = plan_inner
        self._run_inner = run_inner
        self._positions = positions
        self._fields: list[tuple[str, OutlookRequest | GraphQLError, Shape]] = []
        self.inner: dict[str, InnerPlans] = {}
        """Per response key, the inner plans and how many times each may be asked."""
        alignment = timedelta(seconds=settings.window_alignment)
        for key, _name, arguments, shape in fields:
            try:
                request = outlook_request(arguments, now, alignment)
                self.inner[key] = [
                    (plan_inner(q.document, q.variables), q.times)
                    for q in inner_queries(request, self._max_pages)
                ]
            except BadUserInput as exc:
                self._fields.append((key, exc.to_graphql(path=[key]), shape))
                continue
            self._fields.append((key, request, shape))

    def __bool__(self) -> bool:
        return bool(self._fields)

    async def run(self) -> Computed:
        """Every computed field's value, the distinct ones concurrently."""
        distinct = list(
            dict.fromkeys(r for _, r, _ in self._fields if isinstance(r, OutlookRequest))
        )
        async with asyncio.TaskGroup() as group:
            tasks = {request: group.create_task(self._outlook(request)) for request in distinct}
        computed = Computed()
        for key, request, shape in self._fields:
            if isinstance(request, GraphQLError):
                computed.data[key] = None
                computed.errors.append(request)
                continue
            outlook = tasks[request].result()
            computed.data[key] = shape.project_named(outlook.value)
            computed.sources.extend(combined_sources(key, outlook.sources, self._positions))
            seen = set()
            for error in outlook.errors:  # named on the outlook, once each
                if error.message in seen:
                    continue
                seen.add(error.message)
                withheld = withheld_entry(key, error)
                if withheld is not None:
                    computed.withheld.append(withheld)
                    continue
                computed.errors.append(
                    GraphQLError(error.message, path=[key], extensions=error.extensions)
                )
        for task in tasks.values():
            computed.outcomes += task.result().outcomes
            computed.plans += task.result().plans
        return computed

    async def _outlook(self, request: OutlookRequest) -> _Outlook:
        done = _Outlook({}, [], [], [], [])

        async def ask(document: DocumentNode, variables: dict[str, Any]) -> Answer:
            plan = self._plan_inner(document, variables)
            answer, outcomes = await self._run_inner(plan)
            done.sources += answer.sources
            done.outcomes += outcomes
            done.plans.append(plan)
            return answer

        done.value, done.errors = await compute_outlook(
            ask,
            request,
            max_call_pages=self._max_pages,
            late_after=self._late_after,
            generated_at=self._now,
        )
        return done


class InnerPlanCache:
    """Inner queries' plans kept across operations, so a repeated outlook is not planned again:
    by document, variables and the caller's :class:`~gateway.access.policy.Access` (the very object:
    the policy keeps one per set of roles and ports, and a reloaded policy makes new ones).
    Least recently used first out, at most ``size`` plans. Make a new one whenever the planner
    changes (the registry moved)."""

    def __init__(self, size: int = INNER_PLAN_CACHE_SIZE) -> None:
        self._size = size
        self._plans: OrderedDict[tuple[int, int, bytes], tuple[Access, Plan]] = OrderedDict()

    def plan(
        self,
        document: DocumentNode,
        variables: Mapping[str, Any],
        access: Access,
        make: Callable[[], Plan],
    ) -> Plan:
        """The kept plan, else ``make()``'s (kept)."""
        key = (id(document), id(access), orjson.dumps(variables, option=orjson.OPT_SORT_KEYS))
        kept = self._plans.get(key)
        if kept is not None and kept[0] is access:
            self._plans.move_to_end(key)
            return kept[1]
        plan = make()
        self._plans[key] = (access, plan)
        if len(self._plans) > self._size:
            self._plans.popitem(last=False)
        return plan
