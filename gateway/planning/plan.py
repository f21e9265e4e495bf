"""Plan one operation: which root fields go to which ports, and the document each port gets.

For every root field of the client's operation the planner checks and normalises the arguments
(a bad one is a ``BAD_USER_INPUT`` error on that field, and no port is asked for it), picks the
ports (the field's ``ports`` argument, else every port whose capabilities include the field),
and builds one GraphQL document per port holding all the root fields that port answers, with the
client's selections, the normalised arguments and the hidden fields the merge needs. The port is
asked for nothing else.

The normalised arguments travel as the document's variables (``$a0``, ``$a1``, ... in document
order), so a port document's text depends only on what is asked, never on the values: it is
printed once per shape and kept (``PORT_DOCUMENT_CACHE_SIZE``), and the port resolver finds it
again in its own parse and validation cache. Printing a document per request was a tenth of
the gateway's CPU under load (bench/results/bench.md).

The field policy is applied here, per port (:class:`~gateway.access.policy.Access`): a field the
caller may not see at a port is left out of that port's document, so the port is never asked for it,
and a root field the caller may not ask a port is not sent to that port at all. Each denied
field becomes one ``FORBIDDEN_FIELD`` error naming its coordinate and response path (list
indices left out: the field is null in every item). A hidden field the merge would use is
dropped too when the policy withholds it, and the merge falls back (see :mod:`gateway.query.merge`).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLInputType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableDefinitionNode,
    VariableNode,
    ast_from_value,
    get_named_type,
    get_nullable_type,
    parse,
    parse_type,
    print_ast,
    value_from_ast_untyped,
)
from graphql.execution.values import VariableValues, get_argument_values

from gateway.access.policy import Access
from gateway.config_types import ResolvedPort
from gateway.errors import BadUserInput, ForbiddenField
from gateway.planning.rootfields import PORTS_ARGUMENT, ROOT_FIELDS, RootFieldSpec
from gateway.planning.selection import Fragments, Path, Shape, collect_fields, compile_shape
from portcontract.identifiers import InvalidIdentifier, check_unlocode

INTROSPECTION_FIELDS = frozenset({"__schema", "__type", "__typename"})
COMPUTED_FIELDS = frozenset({"outlook"})
HIDDEN_PREFIX = "_pg_"
PORT_DOCUMENT_CACHE_SIZE = 1024  # printed port documents kept, by what they ask

# What one root field asks a port, without the argument values: (response key, field name,
# shape, names of the arguments it passes). A port document is printed from a tuple of these.
_Asked = tuple[str, str, Shape, tuple[str, ...]]


@dataclass(slots=True)
class RootFieldPlan:
    """One root field of the client's operation, ready to fan out."""

    key: str  # response key (alias or name)
    name: str
    spec: RootFieldSpec
    arguments: dict[str, Any]  # checked and normalised, by GraphQL argument name
    ports: list[ResolvedPort]  # asked, in registry order
    skipped: list[str]  # named in the ports argument but unable to answer this field
    shape: Shape  # what the client selected; fields denied at every port asked are nulled
    hidden: dict[str, str]  # role -> alias of the hidden field in the ports' answers
    asked: dict[str, Shape]  # port -> what it is asked (hidden fields included)
    restricted: frozenset[str]  # ports asked for less than the client selected
    withheld: list[str]  # ports not asked because the policy withholds this field there
    paused: list[ResolvedPort] = field(default_factory=list)  # registered, would answer, paused


@dataclass(frozen=True, slots=True)
class AskedField:
    """One root field as a port is asked it: what its answer is held to (gateway.ports.boundary)."""

    key: str  # response key in the port's document
    name: str  # schema field name
    shape: Shape  # the selection sent to that port, hidden fields included
    arguments: dict[str, Any]  # normalised, by GraphQL argument name


@dataclass(slots=True)
class PortQuery:
    """Everything one port is asked in this operation."""

    port: ResolvedPort
    document: str
    variables: dict[str, Any]
    keys: list[str]  # response keys of the root fields it answers
    fields: list[str]  # their schema field names (what decides how long an answer is fresh)
    asked: list[AskedField] = field(default_factory=list)


@dataclass(slots=True)
class Plan:
    fields: list[RootFieldPlan] = field(default_factory=list)
    port_queries: list[PortQuery] = field(default_factory=list)
    errors: list[GraphQLError] = field(default_factory=list)
    failed_keys: list[str] = field(default_factory=list)  # root fields nulled by a bad argument
    introspection: list[tuple[str, list[FieldNode]]] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # every response key in the client's order
    forbidden: list[GraphQLError] = field(default_factory=list)  # FORBIDDEN_FIELD, also in errors
    access: Access | None = None
    # Root fields the gateway computes from other fields (outlook): key, name, arguments, shape.
    computed: list[tuple[str, str, dict[str, Any], Shape]] = field(default_factory=list)
    # The client's node of each planned root field, whose arguments a refill reads again.
    nodes: dict[str, FieldNode] = field(default_factory=dict)
    # The schema coordinates it asks for, once the audit has listed them (gateway/query/observe.py):
    # the same for every refill of a prepared plan.
    requested: tuple[str, ...] | None = None


class Planner:
    """Builds a :class:`Plan` against the ports in the registry."""

    def __init__(
        self,
        schema: GraphQLSchema,
        ports: Sequence[ResolvedPort],
        paused: Sequence[ResolvedPort] = (),
    ) -> None:
        self._paused = list(paused)
        self._schema = schema
        query_type = schema.query_type
        assert query_type is not None
        self._query_type = query_type
        self._ports = list(ports)
        self._by_id = {p.id: p for p in ports}
        self._hidden_templates = {
            name: {role: _template(text) for role, text in spec.hidden.items()}
            for name, spec in ROOT_FIELDS.items()
        }
        self._document = lru_cache(maxsize=PORT_DOCUMENT_CACHE_SIZE)(self._print_document)

    def plan(
        self,
        operation: OperationDefinitionNode,
        fragments: Fragments,
        variables: VariableValues,
        access: Access,
    ) -> Plan:
        plan = Plan(access=access)
        for key, nodes in collect_fields(operation.selection_set, fragments, variables).items():
            plan.order.append(key)
            name = nodes[0].name.value
            if name in INTROSPECTION_FIELDS:
                plan.introspection.append((key, nodes))
                continue
            if name in COMPUTED_FIELDS:
                self._plan_computed(plan, key, name, nodes, fragments, variables, access)
                continue
            try:
                arguments = get_argument_values(self._query_type.fields[name], nodes[0], variables)
                field_plan = self._plan_field(key, name, nodes, arguments, fragments, variables)
                self._apply_policy(field_plan, access, plan)
            except GraphQLError as exc:
                plan.errors.append(GraphQLError(exc.message, path=[key], extensions=exc.extensions))
                plan.failed_keys.append(key)
                continue
            except BadUserInput as exc:
                plan.errors.append(exc.to_graphql(path=[key]))
                plan.failed_keys.append(key)
                continue
            except ForbiddenField as exc:
                self._forbid(plan, exc, [key])
                plan.failed_keys.append(key)
                continue
            plan.fields.append(field_plan)
            plan.nodes[key] = nodes[0]
        plan.port_queries = self._port_queries(plan.fields)
        return plan

    def refill(self, prepared: Plan, variables: VariableValues) -> Plan | None:
        """``prepared`` (a plan of the same operation and access, without failed or computed
        fields, whose structural variables had these values: gateway/query/prepared.py) with the
        root fields' arguments taken from ``variables``; None when an argument is refused,
        for :meth:`plan` to say why."""
        fields = []
        for prepared_field in prepared.fields:
            node = prepared.nodes[prepared_field.key]
            try:
                arguments = prepared_field.spec.check_arguments(
                    get_argument_values(
                        self._query_type.fields[prepared_field.name], node, variables
                    )
                )
            except (GraphQLError, BadUserInput):
                return None
            if arguments.get(PORTS_ARGUMENT) != prepared_field.arguments.get(PORTS_ARGUMENT):
                return None  # never, while the ports argument's variables are in the key
            fields.append(replace(prepared_field, arguments=arguments))
        plan = Plan(
            fields=fields,
            errors=list(prepared.errors),
            introspection=prepared.introspection,
            order=prepared.order,
            forbidden=list(prepared.forbidden),
            access=prepared.access,
            nodes=prepared.nodes,
            requested=prepared.requested,
        )
        plan.port_queries = self._port_queries(fields)
        return plan

    def _plan_computed(
        self,
        plan: Plan,
        key: str,
        name: str,
        nodes: list[FieldNode],
        fragments: Fragments,
        variables: VariableValues,
        access: Access,
    ) -> None:
        """A root field answered from other root fields (their own plans apply the policy)."""
        coordinate = f"Query.{name}"
        if not access.role_grants(coordinate):
            self._forbid(plan, ForbiddenField(f"{coordinate} is not available to your role",
                                              coordinate), [key])  # fmt: skip
            plan.failed_keys.append(key)
            return
        try:
            arguments = get_argument_values(self._query_type.fields[name], nodes[0], variables)
        except GraphQLError as exc:
            plan.errors.append(GraphQLError(exc.message, path=[key], extensions=exc.extensions))
            plan.failed_keys.append(key)
            return
        plan.computed.append((key, name, arguments, compile_shape(nodes, fragments, variables)))

    def _plan_field(
        self,
        key: str,
        name: str,
        nodes: list[FieldNode],
        arguments: dict[str, Any],
        fragments: Fragments,
        variables: VariableValues,
    ) -> RootFieldPlan:
        spec = ROOT_FIELDS[name]
        arguments = spec.check_arguments(arguments)
        requested = arguments.get(PORTS_ARGUMENT)
        ports, skipped = self._ports_for(name, requested)
        shape = compile_shape(nodes, fragments, variables)
        taken = {k for k, _, _ in shape.fields}
        prefix = HIDDEN_PREFIX
        while any(k.startswith(prefix) for k in taken):
            prefix = "_" + prefix
        hidden = {role: prefix + role for role in spec.hidden}
        field_plan = RootFieldPlan(
            key, name, spec, arguments, ports, skipped, shape, hidden, {}, frozenset(), []
        )
        field_plan.paused = [
            p
            for p in self._paused
            if name in p.capabilities
            and (requested is None or p.id in {check_unlocode(r) for r in requested})
        ]
        return field_plan

    def _apply_policy(self, field_plan: RootFieldPlan, access: Access, plan: Plan) -> None:
        """Narrow the field's ports and each port's selection to what ``access`` allows; raise
        ``ForbiddenField`` when no port may be asked for the field at all."""
        key, root = field_plan.key, f"Query.{field_plan.name}"
        if not access.role_grants(root):
            raise ForbiddenField(f"{root} is not available to your role", root)
        named = field_plan.arguments.get(PORTS_ARGUMENT) is not None
        field_type = get_named_type(self._query_type.fields[field_plan.name].type)
        assert isinstance(field_type, GraphQLObjectType)
        denied_at: dict[tuple[Path, str], list[str]] = {}
        asked: list[ResolvedPort] = []
        for port in field_plan.ports:
            if not access.reaches(port.id) and not named:
                continue  # beyond the role's ports: not part of its answer
            if not access.allows(root, port.id):
                field_plan.withheld.append(port.id)
                continue
            allows = partial(access.allows, port=port.id)
            shape, denied = field_plan.shape.restrict(field_type, allows, (key,))
            field_plan.asked[port.id] = Shape(
                shape.fields + self._hidden_fields(field_plan, field_type, allows)
            )
            if denied:
                field_plan.restricted |= {port.id}
            for path, coordinate in denied:
                denied_at.setdefault((path, coordinate), []).append(port.id)
            asked.append(port)
        if field_plan.withheld:
            error = ForbiddenField(
                f"{root} is not available to your role from {', '.join(field_plan.withheld)}",
                root,
                field_plan.withheld,
            )
            if not asked:
                raise error
            self._forbid(plan, error, [key])
        field_plan.ports = asked
        everywhere = []
        for (path, coordinate), ports in denied_at.items():
            if len(ports) == len(asked):
                everywhere.append(path[1:])
            if not access.role_grants(coordinate):
                error = ForbiddenField(f"{coordinate} is not available to your role", coordinate)
            else:
                error = ForbiddenField(
                    f"{coordinate} is not available to your role from {', '.join(ports)}",
                    coordinate,
                    ports,
                )
            self._forbid(plan, error, list(path))
        field_plan.shape = field_plan.shape.deny(everywhere)

    def _hidden_fields(
        self,
        field_plan: RootFieldPlan,
        field_type: GraphQLObjectType,
        allows: Callable[[str], bool],
    ) -> tuple[tuple[str, str, Shape | None], ...]:
        """The merge's hidden fields this port may be asked for (the others are left out)."""
        fields: list[tuple[str, str, Shape | None]] = []
        for role, alias in field_plan.hidden.items():
            name, sub = self._hidden_templates[field_plan.name][role]
            if not allows(f"{field_type.name}.{name}"):
                continue
            if sub is not None:
                inner = get_named_type(field_type.fields[name].type)
                assert isinstance(inner, GraphQLObjectType)
                sub, denied = sub.restrict(inner, allows)
                if denied:
                    continue
            fields.append((alias, name, sub))
        return tuple(fields)

    @staticmethod
    def _forbid(plan: Plan, error: ForbiddenField, path: list[str]) -> None:
        graphql_error = error.to_graphql(path=list[str | int](path))
        plan.errors.append(graphql_error)
        plan.forbidden.append(graphql_error)

    def _ports_for(
        self, field_name: str, requested: list[str] | None
    ) -> tuple[list[ResolvedPort], list[str]]:
        if requested is None:
            return [p for p in self._ports if field_name in p.capabilities], []
        wanted = set()
        for raw in requested:
            try:
                code = check_unlocode(raw)
            except InvalidIdentifier as exc:
                raise BadUserInput(f"ports: {exc}") from None
            if code not in self._by_id and code not in {p.id for p in self._paused}:
                known = ", ".join(self._by_id) or "none"
                raise BadUserInput(f"ports: {code} is not a port of this gateway (known: {known})")
            wanted.add(code)
        chosen = [p for p in self._ports if p.id in wanted]
        return (
            [p for p in chosen if field_name in p.capabilities],
            [p.id for p in chosen if field_name not in p.capabilities],
        )

    def _port_queries(self, fields: list[RootFieldPlan]) -> list[PortQuery]:
        """One document per port, from the shapes it is asked (no fragments left; the
        normalised arguments as variables), printed once per distinct document. The client's
        operation name is not part of it: names are the client's choice, and the same question
        under two names is one port request and one cache entry."""
        arguments = {f.key: self._argument_values(f) for f in fields}
        asking = {f.key: {p.id for p in f.ports} for f in fields}  # ids: no model comparisons
        queries = []
        for port in self._ports:
            mine = [f for f in fields if port.id in f.asked and port.id in asking[f.key]]
            if not mine:
                continue
            asked: list[_Asked] = []
            variables: dict[str, Any] = {}
            for f in mine:
                passed = arguments[f.key]
                asked.append((f.key, f.name, f.asked[port.id], tuple(passed)))
                for value in passed.values():
                    variables[f"a{len(variables)}"] = value
            queries.append(
                PortQuery(
                    port,
                    self._document(tuple(asked)),
                    variables,
                    [f.key for f in mine],
                    [f.name for f in mine],
                    [AskedField(f.key, f.name, f.asked[port.id], f.arguments) for f in mine],
                )
            )
        return queries

    def _argument_values(self, field_plan: RootFieldPlan) -> dict[str, Any]:
        """The normalised arguments a port gets (``ports`` and nulls left out), as JSON."""
        field_def = self._query_type.fields[field_plan.name]
        values = {}
        for arg_name, arg_def in field_def.args.items():
            value = field_plan.arguments.get(arg_name)
            if arg_name == PORTS_ARGUMENT or value is None:
                continue
            if _plain_strings(value, arg_def.type):  # its JSON is itself (1,000 numbers)
                values[arg_name] = value
                continue
            literal = ast_from_value(value, arg_def.type)
            if literal is not None:
                values[arg_name] = value_from_ast_untyped(literal)
        return values

    def _print_document(self, asked: tuple[_Asked, ...]) -> str:
        definitions: list[VariableDefinitionNode] = []
        selections = []
        for key, name, shape, passed in asked:
            field_def = self._query_type.fields[name]
            arguments = []
            for arg_name in passed:
                variable = VariableNode(name=NameNode(value=f"a{len(definitions)}"))
                definitions.append(
                    VariableDefinitionNode(
                        variable=variable,
                        type=parse_type(str(field_def.args[arg_name].type), no_location=True),
                        directives=(),
                    )
                )
                arguments.append(ArgumentNode(name=NameNode(value=arg_name), value=variable))
            selections.append(
                FieldNode(
                    alias=NameNode(value=key) if key != name else None,
                    name=NameNode(value=name),
                    arguments=tuple(arguments),
                    directives=(),
                    selection_set=shape.selection(),
                )
            )
        return print_ast(
            DocumentNode(
                definitions=(
                    OperationDefinitionNode(
                        operation=OperationType.QUERY,
                        name=None,
                        variable_definitions=tuple(definitions),
                        directives=(),
                        selection_set=SelectionSetNode(selections=tuple(selections)),
                    ),
                )
            )
        )


def _plain_strings(value: Any, type_: GraphQLInputType) -> bool:
    """Whether ``value`` is a String argument's value (or a list of them) made of plain
    ``str``: what :func:`ast_from_value` and back would give unchanged."""
    named = get_nullable_type(type_)
    if isinstance(named, GraphQLList):
        return (
            type(value) is list
            and get_nullable_type(named.of_type) is GraphQLString
            and all(type(item) is str for item in value)
        )
    return type(value) is str and named is GraphQLString


def _template(text: str) -> tuple[str, Shape | None]:
    """A hidden field's name and sub-shape, from its selection text (``edges { cursor }``)."""
    operation = parse("{" + text + "}", no_location=True).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    node = operation.selection_set.selections[0]
    assert isinstance(node, FieldNode)
    return node.name.value, _shape_of(node)


def _shape_of(node: FieldNode) -> Shape | None:
    if node.selection_set is None:
        return None
    return Shape(
        tuple(
            (n.name.value, n.name.value, _shape_of(n))
            for n in node.selection_set.selections
            if isinstance(n, FieldNode)
        )
    )
