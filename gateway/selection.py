"""Reading a client's selection sets: which fields, under which response keys, with which
fragments and variables, and the *shape* a port's answer is projected onto.

The shared schema has no interfaces or unions, so every fragment inside an object's selection
applies to it (validation has already rejected impossible spreads). If abstract types are ever
added, :func:`collect_fields` must honour type conditions.
"""

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLSkipDirective,
    InlineFragmentNode,
    SelectionSetNode,
    VariableNode,
)
from graphql.execution.values import VariableValues, get_directive_values

Fragments = Mapping[str, FragmentDefinitionNode]


def response_key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


def _included(node: FieldNode | FragmentSpreadNode | InlineFragmentNode, v: VariableValues) -> bool:
    if not node.directives:
        return True
    skip = get_directive_values(GraphQLSkipDirective, node, v)
    if skip and skip.get("if") is True:
        return False
    include = get_directive_values(GraphQLIncludeDirective, node, v)
    return not (include and include.get("if") is False)


def collect_fields(
    selection_set: SelectionSetNode | None, fragments: Fragments, variables: VariableValues
) -> dict[str, list[FieldNode]]:
    """Fields of one selection set by response key, through fragments, @skip and @include."""
    grouped: dict[str, list[FieldNode]] = {}
    _collect(selection_set, fragments, variables, grouped, set())
    return grouped


def _collect(
    selection_set: SelectionSetNode | None,
    fragments: Fragments,
    variables: VariableValues,
    grouped: dict[str, list[FieldNode]],
    visited: set[str],
) -> None:
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if _included(selection, variables):
                grouped.setdefault(response_key(selection), []).append(selection)
        elif isinstance(selection, InlineFragmentNode):
            if _included(selection, variables):
                _collect(selection.selection_set, fragments, variables, grouped, visited)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in visited or not _included(selection, variables):
                continue
            visited.add(name)
            fragment = fragments.get(name)
            if fragment is not None:
                _collect(fragment.selection_set, fragments, variables, grouped, visited)


@dataclass(frozen=True, slots=True)
class Shape:
    """What a client selected under one field: response key -> (field name, sub-shape).

    A leaf field has sub-shape ``None``. Port answers are projected onto a shape, so the client
    gets exactly the keys it asked for and nothing a port added (hidden merge keys included).
    """

    fields: tuple[tuple[str, str, "Shape | None"], ...]

    def project(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [self.project(item) for item in value]
        if not isinstance(value, dict):
            return None  # a port answered a scalar where an object belongs
        out = {}
        for key, _name, sub in self.fields:
            item = value.get(key)
            out[key] = item if sub is None or item is None else sub.project(item)
        return out

    def keys_named(self, name: str) -> Iterator[tuple[str, "Shape | None"]]:
        """Response keys (and sub-shapes) under which the field ``name`` was selected."""
        for key, field_name, sub in self.fields:
            if field_name == name:
                yield key, sub


def compile_shape(
    nodes: Iterable[FieldNode], fragments: Fragments, variables: VariableValues
) -> Shape:
    """The shape of the merged selection sets of ``nodes`` (one response key's field nodes)."""
    grouped: dict[str, list[FieldNode]] = {}
    visited: set[str] = set()
    for node in nodes:
        _collect(node.selection_set, fragments, variables, grouped, visited)
    fields = []
    for key, field_nodes in grouped.items():
        sub = (
            compile_shape(field_nodes, fragments, variables)
            if field_nodes[0].selection_set is not None
            else None
        )
        fields.append((key, field_nodes[0].name.value, sub))
    return Shape(tuple(fields))


def fragments_and_variables_used(
    selection_sets: Iterable[SelectionSetNode | None], fragments: Fragments
) -> tuple[list[str], set[str]]:
    """Names of the fragments (in first-use order) and variables used, transitively."""
    fragment_names: list[str] = []
    variable_names: set[str] = set()
    stack = [s for s in selection_sets if s is not None]
    while stack:
        selection_set = stack.pop()
        for selection in selection_set.selections:
            for directive in selection.directives or ():
                variable_names.update(_variables_in(directive.arguments))
            if isinstance(selection, FieldNode):
                variable_names.update(_variables_in(selection.arguments))
                if selection.selection_set is not None:
                    stack.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in fragment_names and name in fragments:
                    fragment_names.append(name)
                    stack.append(fragments[name].selection_set)
    return fragment_names, variable_names


def _variables_in(node: Any) -> Iterator[str]:
    """Variable names anywhere inside an AST node or a sequence of them."""
    if isinstance(node, VariableNode):
        yield node.name.value
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _variables_in(item)
    elif hasattr(node, "keys"):
        for attr in node.keys:
            if attr != "loc":
                yield from _variables_in(getattr(node, attr, None))
