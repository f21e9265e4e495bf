"""Limits on one operation, checked before any port is asked.

Three stages, each refusing with HTTP 400 and its own code (:mod:`gateway.errors`):

- **Parse**: at most ``limits.max_tokens`` lexical tokens (gateway/query/execute.py parses with
  graphql-core's token limit, which stops reading there). :func:`token_limit_error` gives the
  parser's error our code.
- **Validate**: depth, aliases and root fields, measured by :func:`measure` in one pass over the
  document, part of the validation the parsed-document store keeps. Strawberry's own
  ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` walk every fragment spread again each time
  it is spread, so a document of 18 fragments each spreading the next twice (~160 words) took
  0.75 s to check and each further fragment doubles that; here a fragment is measured once.
- **Plan**: the cost estimate (:func:`check_cost`), once the planner knows the ports asked:
  per root field, list size x selected fields x ports asked, summed over the root fields. A
  computed field (the outlook) costs what its inner queries cost, planned the same way, each
  times the number of times it may be asked (pages of vessel calls).

Introspection, when switched off, is refused here too (:class:`IntrospectionDisabled`).
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from graphql.validation import NoSchemaIntrospectionCustomRule

from gateway.errors import (
    QueryLimitExceeded,
    QueryTooComplex,
    QueryTooDeep,
    TooManyAliases,
    TooManyRootFields,
    TooManyTokens,
)
from gateway.planning.plan import Plan, RootFieldPlan
from gateway.planning.selection import Shape
from gateway.query.settings import LimitSettings

INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
_TOKEN_LIMIT = re.compile(r"Document contains more than (\d+) tokens")


@dataclass(frozen=True, slots=True)
class Measures:
    """One selection set, every fragment it spreads counted where it is spread.

    ``depth``: levels of fields, a leaf being 1 (an introspection field counts 1 whatever is
    under it, as in strawberry's depth limiter: GraphiQL's introspection query is deep);
    ``aliases``: aliased fields at any depth; ``fields``: fields directly in it, through
    fragments, ``__typename`` left out (the root fields, for an operation)."""

    depth: int = 0
    aliases: int = 0
    fields: int = 0


_EMPTY = Measures()


class _Measurer:
    """Measures selection sets, each named fragment once (memoised; a cycle counts 0)."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self._fragments = fragments
        self._done: dict[str, Measures] = {}
        self._open: set[str] = set()

    def selection_set(self, selection_set: SelectionSetNode | None) -> Measures:
        if selection_set is None:
            return _EMPTY
        depth = aliases = fields = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                below = self.selection_set(selection.selection_set)
                introspection = selection.name.value.startswith("__")
                depth = max(depth, 1 + (0 if introspection else below.depth))
                aliases += below.aliases + (selection.alias is not None)
                fields += selection.name.value != "__typename"
                continue
            if isinstance(selection, InlineFragmentNode):
                inner = self.selection_set(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                inner = self.fragment(selection.name.value)
            else:  # pragma: no cover - graphql-core has no other selection
                continue
            depth = max(depth, inner.depth)
            aliases += inner.aliases
            fields += inner.fields
        return Measures(depth, aliases, fields)

    def fragment(self, name: str) -> Measures:
        if name in self._done:
            return self._done[name]
        definition = self._fragments.get(name)
        if definition is None or name in self._open:
            return _EMPTY  # unknown or cyclic: validation reports it
        self._open.add(name)
        measures = self.selection_set(definition.selection_set)
        self._open.discard(name)
        self._done[name] = measures
        return measures


def measure(document: DocumentNode) -> dict[OperationDefinitionNode, Measures]:
    """Depth, aliases and root fields of each operation of ``document``, in linear time."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    measurer = _Measurer(fragments)
    return {
        d: measurer.selection_set(d.selection_set)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    }


def over_limits(measures: Measures, limits: LimitSettings, name: str) -> list[QueryLimitExceeded]:
    """The limits one operation (called ``name`` in messages) is over."""
    errors: list[QueryLimitExceeded] = []
    if measures.depth > limits.max_depth:
        errors.append(
            QueryTooDeep(
                f"{name} is nested {measures.depth} levels deep; at most {limits.max_depth}",
                limit=limits.max_depth,
                actual=measures.depth,
            )
        )
    if measures.aliases > limits.max_aliases:
        errors.append(
            TooManyAliases(
                f"{name} has {measures.aliases} aliases; at most {limits.max_aliases}",
                limit=limits.max_aliases,
                actual=measures.aliases,
            )
        )
    if measures.fields > limits.max_root_fields:
        errors.append(
            TooManyRootFields(
                f"{name} asks {measures.fields} root fields; at most {limits.max_root_fields}",
                limit=limits.max_root_fields,
                actual=measures.fields,
            )
        )
    return errors


def limits_rule(limits: LimitSettings) -> type[ValidationRule]:
    """A validation rule refusing operations over ``limits`` (depth, aliases, root fields).

    Build it once per app: strawberry's validation cache is keyed by the rule classes, so a
    class made per request would never hit the cache."""

    class QueryLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            for operation, measures in measure(context.document).items():
                name = f"operation {operation.name.value!r}" if operation.name else "the query"
                for error in over_limits(measures, limits, name):
                    context.report_error(
                        GraphQLError(error.message, [operation], extensions=error.extensions())
                    )

    return QueryLimits


class IntrospectionDisabled(NoSchemaIntrospectionCustomRule):
    """graphql-core's rule refusing ``__schema`` and ``__type``, with our code."""

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {"code": INTROSPECTION_DISABLED}
        super().report_error(error)


def token_limit_error(error: GraphQLError) -> bool:
    """Give graphql-core's 'more than N tokens' parse error the code QUERY_TOO_MANY_TOKENS;
    False when ``error`` is another parse error."""
    match = _TOKEN_LIMIT.search(error.message)
    if match is None:
        return False
    limit = int(match[1])
    coded = TooManyTokens(
        f"the document has more than {limit} tokens; at most {limit}",
        limit=limit,
        actual=limit + 1,
    )
    error.message = coded.message
    error.extensions = coded.extensions()
    return True


# The list each root field answers and how many items it asks for at most; 1 for the others.
def _list_size(schema: GraphQLSchema, field_plan: RootFieldPlan) -> int:
    arguments = field_plan.arguments
    if field_plan.name == "containers":
        return len(arguments.get("references") or ()) or 1
    if field_plan.name == "vesselCalls":
        return int(arguments.get("first") or 1)
    if field_plan.name == "portMetrics":
        metrics = arguments.get("metrics")
        if metrics:
            return len(metrics)
        return _enum_size(schema, "portMetrics", "metrics")
    return 1


def _enum_size(schema: GraphQLSchema, field: str, argument: str) -> int:
    query = schema.query_type
    assert query is not None
    arg_type: Any = query.fields[field].args[argument].type
    while isinstance(arg_type, GraphQLNonNull | GraphQLList):
        arg_type = arg_type.of_type
    return len(arg_type.values) if isinstance(arg_type, GraphQLEnumType) else 1


def count_fields(shape: Shape) -> int:
    """Fields selected at any depth under one root field (``__typename`` left out)."""
    return sum(
        (name != "__typename") + (0 if sub is None else count_fields(sub))
        for _key, name, sub in shape.fields
    )


@dataclass(frozen=True, slots=True)
class FieldCost:
    """One root field's estimated cost; ``times`` > 1 for a computed field's inner query asked
    page after page, and ``within`` names that computed field."""

    key: str
    items: int
    fields: int
    ports: int
    times: int = 1
    within: str | None = None

    @property
    def cost(self) -> int:
        return self.items * self.fields * self.ports * self.times

    def describe(self) -> str:
        where = self.key if self.within is None else f"{self.key} of {self.within}"
        times = f" x {self.times} page(s)" if self.times > 1 else ""
        return (
            f"{where}, {self.items} item(s) x {self.fields} field(s) x {self.ports} port(s){times}"
        )


InnerPlans = Sequence[tuple[Plan, int]]  # a computed field's inner plans, each asked n times


def estimate(schema: GraphQLSchema, fields: Iterable[RootFieldPlan]) -> list[FieldCost]:
    """The cost of each planned root field: list size x selected fields x ports asked."""
    return [
        FieldCost(f.key, _list_size(schema, f), max(count_fields(f.shape), 1), len(f.ports))
        for f in fields
    ]


def estimate_computed(schema: GraphQLSchema, key: str, inner: InnerPlans) -> list[FieldCost]:
    """The cost of a computed root field (``key``): what its inner queries cost, each as many
    times as it may be asked; the same field asked the same way by several inner queries (the
    first page of vessel calls and the further ones) is one entry of that many pages."""
    times: dict[tuple[str, int, int, int], int] = {}
    for plan, asked in inner:
        for cost in estimate(schema, plan.fields):
            part = (cost.key, cost.items, cost.fields, cost.ports)
            times[part] = times.get(part, 0) + asked
    return [FieldCost(*part, times=n, within=key) for part, n in times.items()]


def check_cost(
    schema: GraphQLSchema,
    plan: Plan,
    max_cost: int,
    computed: Mapping[str, InnerPlans] | None = None,
) -> QueryTooComplex | None:
    """The error when the plan's estimated cost, computed fields' inner queries included
    (``computed``: response key -> inner plans), is over ``max_cost``; None when within it."""
    costs = estimate(schema, plan.fields)
    for key, inner in (computed or {}).items():
        costs += estimate_computed(schema, key, inner)
    total = sum(c.cost for c in costs)
    if total <= max_cost:
        return None
    worst = max(costs, key=lambda c: c.cost)
    return QueryTooComplex(
        f"query cost {total} is over the limit of {max_cost} (the most: {worst.describe()}); "
        "ask for fewer items, fields or ports",
        limit=max_cost,
        actual=total,
    )
