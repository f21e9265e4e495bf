"""Plan one operation: which root fields go to which ports, and the document each port gets.

For every root field of the client's operation the planner checks and normalises the arguments
(a bad one is a ``BAD_USER_INPUT`` error on that field, and no port is asked for it), picks the
ports (the field's ``ports`` argument, else every port whose capabilities include the field),
and builds one GraphQL document per port holding all the root fields that port answers, with the
client's selections, the normalised arguments and the hidden fields the merge needs. The port is
asked for nothing else.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ast_from_value,
    parse,
    print_ast,
)
from graphql.execution.values import VariableValues, get_argument_values

from gateway.config import ResolvedPort
from gateway.errors import BadUserInput
from gateway.rootfields import PORTS_ARGUMENT, ROOT_FIELDS, RootFieldSpec
from gateway.selection import (
    Fragments,
    Shape,
    collect_fields,
    compile_shape,
    fragments_and_variables_used,
)
from portcontract.identifiers import InvalidIdentifier, check_unlocode

INTROSPECTION_FIELDS = frozenset({"__schema", "__type", "__typename"})
HIDDEN_PREFIX = "_pg_"


@dataclass(slots=True)
class RootFieldPlan:
    """One root field of the client's operation, ready to fan out."""

    key: str  # response key (alias or name)
    name: str
    spec: RootFieldSpec
    arguments: dict[str, Any]  # checked and normalised, by GraphQL argument name
    ports: list[ResolvedPort]  # asked, in registry order
    skipped: list[str]  # named in the ports argument but unable to answer this field
    shape: Shape  # what the client selected
    hidden: dict[str, str]  # role -> alias of the hidden field in every port's answer
    nodes: list[FieldNode]


@dataclass(slots=True)
class PortQuery:
    """Everything one port is asked in this operation."""

    port: ResolvedPort
    document: str
    variables: dict[str, Any]
    keys: list[str]  # response keys of the root fields it answers
    fields: list[str]  # their schema field names (what decides how long an answer is fresh)


@dataclass(slots=True)
class Plan:
    fields: list[RootFieldPlan] = field(default_factory=list)
    port_queries: list[PortQuery] = field(default_factory=list)
    errors: list[GraphQLError] = field(default_factory=list)
    failed_keys: list[str] = field(default_factory=list)  # root fields nulled by a bad argument
    introspection: list[tuple[str, list[FieldNode]]] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # every response key in the client's order


class Planner:
    """Builds a :class:`Plan` against the ports in the registry."""

    def __init__(self, schema: GraphQLSchema, ports: Sequence[ResolvedPort]) -> None:
        self._schema = schema
        self._ports = list(ports)
        self._by_id = {p.id: p for p in ports}
        self._hidden_templates = {
            name: {role: _parse_field(text) for role, text in spec.hidden.items()}
            for name, spec in ROOT_FIELDS.items()
        }

    def plan(
        self,
        operation: OperationDefinitionNode,
        fragments: Fragments,
        variables: VariableValues,
        raw_variables: Mapping[str, Any],
    ) -> Plan:
        plan = Plan()
        query_type = self._schema.query_type
        assert query_type is not None
        for key, nodes in collect_fields(operation.selection_set, fragments, variables).items():
            plan.order.append(key)
            name = nodes[0].name.value
            if name in INTROSPECTION_FIELDS:
                plan.introspection.append((key, nodes))
                continue
            try:
                arguments = get_argument_values(query_type.fields[name], nodes[0], variables)
                field_plan = self._plan_field(key, name, nodes, arguments, fragments, variables)
            except GraphQLError as exc:
                plan.errors.append(GraphQLError(exc.message, path=[key], extensions=exc.extensions))
                plan.failed_keys.append(key)
                continue
            except BadUserInput as exc:
                plan.errors.append(exc.to_graphql(path=[key]))
                plan.failed_keys.append(key)
                continue
            plan.fields.append(field_plan)
        plan.port_queries = self._port_queries(operation, plan.fields, fragments, raw_variables)
        return plan

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
        ports, skipped = self._ports_for(name, arguments.get(PORTS_ARGUMENT))
        shape = compile_shape(nodes, fragments, variables)
        taken = {k for k, _, _ in shape.fields}
        prefix = HIDDEN_PREFIX
        while any(k.startswith(prefix) for k in taken):
            prefix = "_" + prefix
        hidden = {role: prefix + role for role in spec.hidden}
        return RootFieldPlan(key, name, spec, arguments, ports, skipped, shape, hidden, nodes)

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
            if code not in self._by_id:
                known = ", ".join(self._by_id) or "none"
                raise BadUserInput(f"ports: {code} is not a port of this gateway (known: {known})")
            wanted.add(code)
        chosen = [p for p in self._ports if p.id in wanted]
        return (
            [p for p in chosen if field_name in p.capabilities],
            [p.id for p in chosen if field_name not in p.capabilities],
        )

    def _port_queries(
        self,
        operation: OperationDefinitionNode,
        fields: list[RootFieldPlan],
        fragments: Fragments,
        raw_variables: Mapping[str, Any],
    ) -> list[PortQuery]:
        root_nodes = {f.key: self._root_node(f) for f in fields}
        queries = []
        for port in self._ports:
            mine = [f for f in fields if port in f.ports]
            if not mine:
                continue
            selections = [root_nodes[f.key] for f in mine]
            used_fragments, used_variables = fragments_and_variables_used(
                [n.selection_set for n in selections], fragments
            )
            definitions = [
                d
                for d in operation.variable_definitions or ()
                if d.variable.name.value in used_variables
            ]
            document = DocumentNode(
                definitions=(
                    OperationDefinitionNode(
                        operation=OperationType.QUERY,
                        name=operation.name,
                        variable_definitions=tuple(definitions),
                        directives=(),
                        selection_set=SelectionSetNode(selections=tuple(selections)),
                    ),
                    *(fragments[name] for name in used_fragments),
                )
            )
            variables = {
                name: raw_variables[name] for name in used_variables if name in raw_variables
            }
            queries.append(
                PortQuery(
                    port,
                    print_ast(document),
                    variables,
                    [f.key for f in mine],
                    [f.name for f in mine],
                )
            )
        return queries

    def _root_node(self, field_plan: RootFieldPlan) -> FieldNode:
        """The root field as every port gets it: normalised literal arguments, the client's
        selections, and the hidden fields under their aliases."""
        query_type = self._schema.query_type
        assert query_type is not None
        field_def = query_type.fields[field_plan.name]
        arguments = []
        for arg_name, arg_def in field_def.args.items():
            value = field_plan.arguments.get(arg_name)
            if arg_name == PORTS_ARGUMENT or value is None:
                continue
            literal = ast_from_value(value, arg_def.type)
            if literal is not None:
                arguments.append(ArgumentNode(name=NameNode(value=arg_name), value=literal))
        selections: list[Any] = []
        for node in field_plan.nodes:
            if node.selection_set is not None:
                selections.extend(node.selection_set.selections)
        templates = self._hidden_templates[field_plan.name]
        for role, alias in field_plan.hidden.items():
            template = templates[role]
            selections.append(
                FieldNode(
                    alias=NameNode(value=alias),
                    name=template.name,
                    arguments=(),
                    directives=(),
                    selection_set=template.selection_set,
                )
            )
        key, name = field_plan.key, field_plan.name
        return FieldNode(
            alias=NameNode(value=key) if key != name else None,
            name=NameNode(value=name),
            arguments=tuple(arguments),
            directives=(),
            selection_set=SelectionSetNode(selections=tuple(selections)) if selections else None,
        )


def _parse_field(text: str) -> FieldNode:
    operation = parse("{" + text + "}", no_location=True).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    node = operation.selection_set.selections[0]
    assert isinstance(node, FieldNode)
    return node
