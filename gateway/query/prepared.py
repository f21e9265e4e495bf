"""Prepared operations: an operation's plan made once and reused with each request's values.

Planning an operation (gateway/planning/plan.py) walks its selections, applies the field policy port
by port, adds the merge's hidden fields and prints each port's document: about a tenth of a
request's CPU. Little of it depends on the request. In the shared schema only root fields take
arguments, so what a plan looks like is decided by

- the operation (the parsed document, kept by the schema's document cache),
- the caller's access (one :class:`~gateway.access.policy.Access` per set of roles and policy),
- the ports in the registry (the planner is made anew when they change, and this cache with it),
- the values of the *structural* variables: those an ``@skip`` or ``@include`` reads anywhere in
  the operation or its fragments, and those a ``ports`` argument names;

and not by the other variables, whose values only travel to the ports as arguments. A plan is
kept under those four, and a request that finds one has only its root fields' arguments
computed again (:meth:`gateway.planning.plan.Planner.refill`), which also prints nothing new unless
an argument turned null (the port documents are kept by what they ask). An argument the field
refuses sends the request the whole way (:meth:`~gateway.planning.plan.Planner.plan`), which names
the problem; a plan with such an error, or with computed fields (the outlook, whose arguments shape
its inner queries), is never kept.

Bounded in entries and in bytes: a plan is counted as its source document (text plus
:data:`BYTES_PER_TOKEN` a token, what a parsed document costs) plus its port documents, since it
keeps the parsed operation alive. ``bytes``, ``max_bytes`` and ``evictions`` show in /metrics
(store ``prepared_plans``).
"""

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    ArgumentNode,
    DirectiveNode,
    FragmentDefinitionNode,
    Node,
    OperationDefinitionNode,
    Token,
    VariableNode,
)
from graphql.execution.values import VariableValues

from gateway.access.policy import Access
from gateway.planning.plan import Plan, Planner
from gateway.planning.rootfields import PORTS_ARGUMENT

BYTES_PER_TOKEN = 400  # what a parsed token costs in memory (tracemalloc, graphql-core 3.3)
PREPARED_PLANS = 1024  # plans kept at most
PREPARED_PLANS_MAX_BYTES = 16 * 1024 * 1024  # and the bytes they may hold


@dataclass(frozen=True, slots=True)
class _Kept:
    operation: OperationDefinitionNode  # held, so that its id is not reused while kept
    access: Access
    plan: Plan
    cost: int


class PreparedPlans:
    """Plans by operation, access and structural variable values; least recently used out
    first past ``max_bytes`` or ``size`` plans."""

    def __init__(self, size: int = PREPARED_PLANS, max_bytes: int = PREPARED_PLANS_MAX_BYTES):
        self._size = size
        self.max_bytes = max_bytes
        self.bytes = 0
        self.evictions = 0
        self.hits = 0
        self._plans: OrderedDict[tuple[Any, ...], _Kept] = OrderedDict()
        # Each operation's structural variables, found once (kept as long as one of its plans).
        self._structural: dict[int, tuple[OperationDefinitionNode, tuple[str, ...]]] = {}

    def plan(
        self,
        planner: Planner,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues,
        access: Access,
    ) -> Plan:
        key = self._key(operation, fragments, variables, access)
        kept = self._plans.get(key)
        if kept is not None and kept.operation is operation and kept.access is access:
            plan = planner.refill(kept.plan, variables)
            if plan is not None:
                self._plans.move_to_end(key)
                self.hits += 1
                return plan
        plan = planner.plan(operation, fragments, variables, access)
        if not plan.failed_keys and not plan.computed:
            self._keep(key, _Kept(operation, access, plan, _cost(operation, plan)))
        return plan

    def clear(self) -> None:
        """Forget every plan (the ports changed: plans name them)."""
        self._plans.clear()
        self._structural.clear()
        self.bytes = 0

    def _key(
        self,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues,
        access: Access,
    ) -> tuple[Any, ...]:
        known = self._structural.get(id(operation))
        if known is None or known[0] is not operation:
            names = structural_variables(operation, fragments)
            self._structural[id(operation)] = (operation, names)
        else:
            names = known[1]
        values = variables.coerced
        return (id(operation), id(access), *(_frozen(values.get(n)) for n in names))

    def _keep(self, key: tuple[Any, ...], kept: _Kept) -> None:
        if kept.cost > self.max_bytes:
            return
        old = self._plans.pop(key, None)
        if old is not None:
            self.bytes -= old.cost
        self._plans[key] = kept
        self.bytes += kept.cost
        while self.bytes > self.max_bytes or len(self._plans) > self._size:
            _, oldest = self._plans.popitem(last=False)
            self.bytes -= oldest.cost
            self.evictions += 1
        if len(self._structural) > 2 * self._size:  # operations none of whose plans are kept
            held = {id(k.operation) for k in self._plans.values()}
            self._structural = {i: v for i, v in self._structural.items() if i in held}


def structural_variables(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> tuple[str, ...]:
    """The variables whose values change what a plan looks like: read by a directive, or given
    to a ``ports`` argument, anywhere in the operation or the fragments it may spread."""
    names: set[str] = set()
    for root in (operation, *fragments.values()):
        _collect_structural(root, names, structural=False)
    return tuple(sorted(names))


def _collect_structural(node: Any, names: set[str], *, structural: bool) -> None:
    if isinstance(node, VariableNode):
        if structural:
            names.add(node.name.value)
        return
    ports = isinstance(node, ArgumentNode) and node.name.value == PORTS_ARGUMENT
    structural = structural or ports or isinstance(node, DirectiveNode)
    for attribute in node.keys:
        if attribute == "loc":
            continue
        value = getattr(node, attribute, None)
        if isinstance(value, Node):
            _collect_structural(value, names, structural=structural)
        elif isinstance(value, tuple | list):
            for item in value:
                if isinstance(item, Node):
                    _collect_structural(item, names, structural=structural)


def _frozen(value: Any) -> Any:
    """A variable's value as part of a key: lists and objects made hashable, types kept apart
    (``True`` and ``1`` are not one key)."""
    if isinstance(value, list | tuple):
        return ("list", *(_frozen(v) for v in value))
    if isinstance(value, dict):
        return ("object", *sorted((k, _frozen(v)) for k, v in value.items()))
    return (type(value).__name__, value)


def tokens_in(node: Node) -> int:
    """How many tokens the whole document ``node`` was parsed from holds (0 without a
    location)."""
    loc = node.loc
    if loc is None:
        return 0
    token: Token | None = loc.start_token
    while token is not None and token.prev is not None:
        token = token.prev
    count = 0
    while token is not None:
        count += 1
        token = token.next
    return count


def _cost(operation: OperationDefinitionNode, plan: Plan) -> int:
    source = len(operation.loc.source.body) if operation.loc is not None else 0
    documents = sum(len(q.document) for q in plan.port_queries)
    return source + BYTES_PER_TOKEN * tokens_in(operation) + documents
