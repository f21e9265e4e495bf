"""Reading a client's selection sets: which fields, under which response keys, with which
fragments and variables, and the *shape* a port's answer is projected onto.

The shared schema has no interfaces or unions, so every fragment inside an object's selection
applies to it (validation has already rejected impossible spreads). If abstract types are ever
added, :func:`collect_fields` must honour type conditions.

Port documents are printed from shapes (:meth:`Shape.selection`): fragments inlined, ``@skip``
and ``@include`` already applied, fields the policy withholds left out. That is exact because
only root fields take arguments in the shared schema; a nested field with arguments would need
them kept in the shape.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Final

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSkipDirective,
    InlineFragmentNode,
    NameNode,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.values import VariableValues, get_directive_values

Fragments = Mapping[str, FragmentDefinitionNode]
Path = tuple[str, ...]  # response keys from a root field down


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
    Keys in ``denied`` are fields the policy withholds: they project to ``null`` whatever an
    answer holds.
    """

    fields: tuple[tuple[str, str, "Shape | None"], ...]
    denied: frozenset[str] = frozenset()
    # How often project() ran on this shape, the projection compiled at its second run, the
    # top-level projection (project_top), compiled at its first, and whether it is plain.
    _projected: list[Any] = field(
        default_factory=lambda: [0, None, None, None], compare=False, repr=False
    )

    def project(self, value: Any) -> Any:
        """``value`` (an object, a list of them, or None) with exactly this shape's keys.

        A shape projected more than once (those of prepared plans come back with every request,
        a list's item shape with every item) is compiled the second time
        (:func:`_compile_projection`); the first time it is walked."""
        projected = self._projected
        compiled = projected[1]
        if compiled is None:
            projected[0] += 1
            if projected[0] < COMPILE_AFTER:
                return self._walk(value)
            compiled = projected[1] = _compile_projection(self)
        return compiled(value)

    def _walk(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [self.project(item) for item in value]
        if not isinstance(value, dict):
            return None  # a port answered a scalar where an object belongs
        out = {}
        for key, _name, sub in self.fields:
            item = None if key in self.denied else value.get(key)
            out[key] = item if sub is None or item is None else sub.project(item)
        return out

    @property
    def plain(self) -> bool:
        """Whether no field at any depth is withheld (``denied`` empty throughout)."""
        plain = self._projected[3]
        if plain is None:
            plain = self._projected[3] = not self.denied and all(
                sub.plain for _, _, sub in self.fields if sub is not None
            )
        return bool(plain)

    def project_top(self, value: Any) -> Any:
        """:meth:`project` at the top level only: each object (or each object of a list) with
        exactly this shape's keys, its values as they are.

        Only for values whose objects below the top already have exactly the sub-shapes' keys:
        a port's answer as the boundary keeps it (each object rebuilt from the document sent)
        when that port was asked this shape's selection whole (no field withheld from it) and
        this shape is :attr:`plain`. It saves rebuilding every nested object of a large answer
        a second time."""
        compiled = self._projected[2]
        if compiled is None:
            compiled = self._projected[2] = _compile_projection(self, top_only=True)
        return compiled(value)

    def project_named(self, value: Any) -> Any:
        """Like :meth:`project`, for values the gateway computed, keyed by field *names*."""
        if value is None:
            return None
        if isinstance(value, list):
            return [self.project_named(item) for item in value]
        if not isinstance(value, dict):
            return None
        out = {}
        for key, name, sub in self.fields:
            item = value.get(name)
            out[key] = item if sub is None or item is None else sub.project_named(item)
        return out

    def coordinates(self, parent: GraphQLObjectType) -> Iterator[str]:
        """Schema coordinates (``Container.holds``) of every field selected, at any depth."""
        for _key, name, sub in self.fields:
            if name.startswith("__"):
                continue
            yield f"{parent.name}.{name}"
            child = get_named_type(parent.fields[name].type)
            if sub is not None and isinstance(child, GraphQLObjectType):
                yield from sub.coordinates(child)

    def keys_named(self, name: str) -> Iterator[tuple[str, "Shape | None"]]:
        """Response keys (and sub-shapes) under which the field ``name`` was selected."""
        for key, field_name, sub in self.fields:
            if field_name == name:
                yield key, sub

    def restrict(
        self, type_: GraphQLObjectType, allows: Callable[[str], bool], path: Path = ()
    ) -> tuple["Shape", list[tuple[Path, str]]]:
        """This shape without the fields ``allows`` refuses (by schema coordinate, like
        ``Container.availability``), and the (response path, coordinate) of each one removed.

        A selection left empty keeps ``__typename``, so the document stays valid.
        """
        kept: list[tuple[str, str, Shape | None]] = []
        denied: list[tuple[Path, str]] = []
        for key, name, sub in self.fields:
            if name == "__typename":
                kept.append((key, name, sub))
                continue
            coordinate = f"{type_.name}.{name}"
            if not allows(coordinate):
                denied.append(((*path, key), coordinate))
                continue
            if sub is not None:
                inner = get_named_type(type_.fields[name].type)
                assert isinstance(inner, GraphQLObjectType)
                sub, below = sub.restrict(inner, allows, (*path, key))
                denied.extend(below)
            kept.append((key, name, sub))
        if not kept:
            kept.append(("__typename", "__typename", None))
        return Shape(tuple(kept)), denied

    def deny(self, paths: Iterable[Path]) -> "Shape":
        """This shape with the fields at ``paths`` (response keys, below this shape) nulled."""
        here = {p[0] for p in paths if len(p) == 1}
        below: dict[str, list[Path]] = {}
        for p in paths:
            if len(p) > 1:
                below.setdefault(p[0], []).append(p[1:])
        if not here and not below:
            return self
        fields = tuple(
            (key, name, sub.deny(below[key]) if sub is not None and key in below else sub)
            for key, name, sub in self.fields
        )
        return Shape(fields, self.denied | here)

    def selection(self) -> SelectionSetNode:
        """The selection set that asks a port for exactly this shape."""
        return SelectionSetNode(
            selections=tuple(
                FieldNode(
                    alias=NameNode(value=key) if key != name else None,
                    name=NameNode(value=name),
                    arguments=(),
                    directives=(),
                    selection_set=None if sub is None else sub.selection(),
                )
                for key, name, sub in self.fields
            )
        )


COMPILE_AFTER: Final = 2  # projections walked before a shape's projection is compiled
_NAMES = count()


def _compile_projection(shape: Shape, *, top_only: bool = False) -> Callable[[Any], Any]:
    """:meth:`Shape.project` of ``shape`` as one function: its keys spelled out, fields the
    policy withholds as None, each sub-shape's own projection called by name (with
    ``top_only``, :meth:`Shape.project_top`: sub-shapes' values taken as they are). Written
    only from response keys (GraphQL names, through ``repr``)."""
    name = f"project{next(_NAMES)}"
    bound: dict[str, Any] = {}
    kept = []
    for key, _name, sub in shape.fields:
        if key in shape.denied:
            kept.append(f"{key!r}: None")
        elif sub is None or top_only:
            kept.append(f"{key!r}: get({key!r})")
        else:  # compiled with it: it is projected at least as often
            inner = f"sub{len(bound)}"
            if sub._projected[1] is None:
                sub._projected[1] = _compile_projection(sub)
            bound[inner] = sub._projected[1]
            kept.append(f"{key!r}: {inner}(get({key!r}))")
    source = "\n".join([
        f"def {name}(value):",
        "    if isinstance(value, dict):",
        "        get = value.get",
        f"        return {{{', '.join(kept)}}}",
        "    if isinstance(value, list):",
        f"        return [{name}(item) for item in value]",
        "    return None",
    ])  # fmt: skip
    namespace: dict[str, Any] = dict(bound)
    exec(compile(source, f"<projection {name}>", "exec"), namespace)  # written as said above
    projection: Callable[[Any], Any] = namespace[name]
    return projection


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
