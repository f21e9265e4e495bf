"""Compiled checks of a port's answer: each value of the type its field has in the shared schema.

:class:`gateway.ports.boundary.PortBoundary` holds every port answer to the contract; most of that
work is the same few questions asked of every value (is this a string of at most
:data:`MAX_TEXT` characters, an Int of 32 bits, an enum value the schema has, text that passes
the labor rule). An answer of a thousand containers asks them a hundred thousand times, so they
are not asked by walking the schema's types for each value: for each root field's type and the
shape the gateway asked of it, :func:`compile_check` writes the check as Python source, one
function per object of the shape with every scalar's test inline, and compiles it once.
:class:`Checks` keeps the compiled checks, bounded.

What a check does with a value, as GraphQL itself would: a value that is not of its type is
dropped; a nullable field then becomes null, an item of a list is left out, and a non-null
field that cannot be kept drops the object around it (the check returns :data:`DROPPED`), up to
the nearest nullable field or list item. Each drop is counted in ``answer.counts`` by reason.
Coordinates the boundary has rules of its own for (``ruled``) are passed to
``answer.rules(value, coordinate)``, which returns the value, :data:`DROPPED`, or raises to
refuse the whole row.

The source is written only from the schema's field names, the response keys of a validated
document (GraphQL names) and ``repr`` of strings; every other value the generated code uses
(enum values, the labor rule, scalar tests) is bound by name in the namespace it runs in.
"""

import math
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from datetime import date, datetime
from itertools import count
from typing import Any, Final, Protocol

from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
)

from gateway.planning.selection import Shape
from portcontract.labor import labor_text_reason

MAX_TEXT: Final = 2_000  # characters in any one string value

# Why a value was dropped, as counted in ``extensions.sources``.
WRONG_TYPE: Final = "WRONG_TYPE"
UNKNOWN_ENUM_VALUE: Final = "UNKNOWN_ENUM_VALUE"
MISSING_VALUE: Final = "MISSING_VALUE"
TOO_LONG: Final = "TOO_LONG"
LABOR_TEXT: Final = "LABOR_TEXT"

TEXT_SCALARS: Final = frozenset({"String", "ID"})  # read by the labor rule, unless not text

DROPPED: Final = object()  # a value that cannot be kept where it is

CHECKS_KEPT: Final = 1024  # compiled checks kept, by the root field's type and shape
CHECK_NODES_KEPT: Final = 16_000  # and the fields of their shapes, in all (16 MB)
# What one compiled field holds (its share of the function's code object, constants and
# names): about 900 bytes on CPython 3.11 (tracemalloc, tests/gateway/ports/test_answer_checks.py).
BYTES_PER_CHECK_NODE: Final = 1_000


class Answer(Protocol):
    """What a check needs of the answer being checked: where to count drops, and the rules."""

    counts: Counter[str]

    def rules(self, value: Any, at: str) -> Any: ...


Check = Callable[[Answer, Any], Any]  # a value as kept, or DROPPED


def moment(value: Any) -> datetime | None:
    """An ISO 8601 time with an offset, or None."""
    if type(value) is not str:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def is_datetime(value: Any) -> bool:
    return moment(value) is not None


def is_date(value: Any) -> bool:
    if type(value) is not str or len(value) != 10:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def parses_as(scalar: GraphQLScalarType) -> Callable[[Any], bool]:
    """A scalar the table below does not know: what its own input coercion accepts."""

    def check(value: Any) -> bool:
        try:
            scalar.parse_value(value)
        except (GraphQLError, TypeError, ValueError):
            return False
        return True

    return check


# The test of each scalar the shared schema has, as a Python expression of the value ``{v}``;
# whether a value that passes it can be a string longer than MAX_TEXT (then it is held to it).
_SCALAR_TESTS: Final[Mapping[str, tuple[str, bool]]] = {
    "String": ("type({v}) is str", True),
    "Int": ("type({v}) is int and -2147483648 <= {v} <= 2147483647", False),
    "Float": ("(type({v}) is float and isfinite({v})) or type({v}) is int", False),
    "Boolean": ("type({v}) is bool", False),
    "ID": ("type({v}) is str or type({v}) is int", True),
    "DateTime": ("is_datetime({v})", True),
    "Date": ("is_date({v})", False),  # ten characters, or not a date
}
_NAMESPACE: Final = {
    "DROPPED": DROPPED,
    "MAX_TEXT": MAX_TEXT,
    "WRONG_TYPE": WRONG_TYPE,
    "UNKNOWN_ENUM_VALUE": UNKNOWN_ENUM_VALUE,
    "MISSING_VALUE": MISSING_VALUE,
    "TOO_LONG": TOO_LONG,
    "LABOR_TEXT": LABOR_TEXT,
    "isfinite": math.isfinite,
    "is_datetime": is_datetime,
    "is_date": is_date,
    "labor": labor_text_reason,
}


class _Writer:
    """The source of one check: a function for each object of the shape, the root's last."""

    def __init__(self, ruled: frozenset[str], not_text: frozenset[str]) -> None:
        self.ruled = ruled
        self.not_text = not_text
        self.functions: list[str] = []
        self.bound: dict[str, Any] = {}  # names the source uses for values it cannot spell
        self.nodes = 0
        self._names = count()

    def name(self, prefix: str) -> str:
        return f"{prefix}{next(self._names)}"

    def bind(self, prefix: str, value: Any) -> str:
        name = self.name(prefix)
        self.bound[name] = value
        return name

    def value(self, type_: Any, shape: Shape | None, at: str, v: str, fail: str) -> list[str]:
        """Lines that check the variable ``v`` at a field of ``type_``: afterwards ``v`` holds
        the value as kept; when it cannot be kept, the lines run ``fail`` (a ``return`` or
        ``continue``) at a non-null position and set ``v`` to None at a nullable one."""
        if isinstance(type_, GraphQLNonNull):
            return [
                f"if {v} is None:",
                "    counts[MISSING_VALUE] += 1",
                f"    {fail}",
                *self.inner(type_.of_type, shape, at, v, fail),
            ]
        inner = self.inner(type_, shape, at, v, f"{v} = None")
        return [f"if {v} is not None:", *_indented(inner)]

    def inner(self, type_: Any, shape: Shape | None, at: str, v: str, fail: str) -> list[str]:
        """Lines that check a value known not to be None; each way of failing runs ``fail``
        and nothing after it (every test is a branch of one if/elif/else)."""
        if isinstance(type_, GraphQLList):
            kept, item = self.name("kept"), self.name("item")
            each = self.value(type_.of_type, shape, at, item, "continue")
            return [
                f"if type({v}) is not list:",
                "    counts[WRONG_TYPE] += 1",
                f"    {fail}",
                "else:",
                f"    {kept} = []",
                f"    for {item} in {v}:",
                *_indented(_indented(each)),
                f"        {kept}.append({item})",
                f"    {v} = {kept}",
            ]
        if isinstance(type_, GraphQLObjectType):
            function = self.object(type_, shape)
            return [f"{v} = {function}(answer, {v})", f"if {v} is DROPPED:", f"    {fail}"]
        self.nodes += 1
        if isinstance(type_, GraphQLEnumType):
            values = self.bind("enum", frozenset(type_.values))
            return [
                f"if type({v}) is not str or {v} not in {values}:",
                "    counts[UNKNOWN_ENUM_VALUE] += 1",
                f"    {fail}",
            ]
        assert isinstance(type_, GraphQLScalarType)
        return self.scalar(type_, at, v, fail)

    def scalar(self, type_: GraphQLScalarType, at: str, v: str, fail: str) -> list[str]:
        test, stringy = _SCALAR_TESTS.get(type_.name) or (
            f"{self.bind('parses', parses_as(type_))}({{v}})",
            True,
        )
        lines = [f"if not ({test.format(v=v)}):", "    counts[WRONG_TYPE] += 1", f"    {fail}"]
        if stringy:
            lines += [
                f"elif type({v}) is str and len({v}) > MAX_TEXT:",
                "    counts[TOO_LONG] += 1",
                f"    {fail}",
            ]
        rest: list[str] = []
        if at in self.ruled:
            rest += [f"{v} = answer.rules({v}, {at!r})", f"if {v} is DROPPED:", f"    {fail}"]
        if type_.name in TEXT_SCALARS and at not in self.not_text:
            test = f"type({v}) is str and labor({v}) is not None"
            rest += [
                f"{'elif' if rest else 'if'} {test}:",
                "    counts[LABOR_TEXT] += 1",
                f"    {fail}",
            ]
        if rest:
            lines += ["else:", *_indented(rest)]
        return lines

    def object(
        self, type_: GraphQLObjectType, shape: Shape | None, leave: frozenset[str] = frozenset()
    ) -> str:
        """The name of a function checking an object of ``type_`` with ``shape`` selected, but
        for the fields named in ``leave`` (not in what it keeps)."""
        self.nodes += 1
        function = self.name("object")
        lines = [
            f"def {function}(answer, value):",
            "    if type(value) is not dict:",
            "        answer.counts[WRONG_TYPE] += 1",
            "        return DROPPED",
        ]
        if shape is None:  # an object the document selects nothing of: never one to keep
            self.functions.append("\n".join([*lines, "    return DROPPED"]))
            return function
        lines += ["    counts = answer.counts", "    get = value.get"]
        kept: list[str] = []
        for key, name, sub in shape.fields:
            if name in leave:
                continue
            if name == "__typename":
                kept.append(f"{key!r}: {type_.name!r}")
                continue
            v = self.name("v")
            at = f"{type_.name}.{name}"
            check = self.value(type_.fields[name].type, sub, at, v, "return DROPPED")
            lines += [f"    {v} = get({key!r})", *_indented(check)]
            kept.append(f"{key!r}: {v}")
        lines.append(f"    return {{{', '.join(kept)}}}")
        self.functions.append("\n".join(lines))
        return function


def _indented(lines: list[str]) -> list[str]:
    return [f"    {line}" for line in lines]


def compile_check(
    type_: GraphQLOutputType,
    shape: Shape | None,
    at: str,
    *,
    ruled: frozenset[str] = frozenset(),
    not_text: frozenset[str] = frozenset(),
    leave: frozenset[str] = frozenset(),
) -> tuple[Check, int]:
    """The check of a value at a field of type ``type_`` (schema coordinate ``at``, selection
    ``shape``), and how many fields it covers. At a coordinate in ``ruled`` a value that has
    its type is passed to ``answer.rules``; String and ID values at a coordinate not in
    ``not_text`` must pass the labor rule. With ``leave`` (field names), ``type_`` is an object
    type and the check is of the object alone, without those fields: it returns
    :data:`DROPPED` for a value that is not an object (a connection's fields around its
    lists, which the boundary checks item by item)."""
    writer = _Writer(ruled, not_text)
    if leave:
        assert isinstance(type_, GraphQLObjectType)
        root = writer.object(type_, shape, leave)
    else:
        root = "check"
        body = writer.value(type_, shape, at, "value", "return DROPPED")
        lines = ["def check(answer, value):", "    counts = answer.counts", *_indented(body)]
        writer.functions.append("\n".join([*lines, "    return value"]))
    namespace = {**_NAMESPACE, **writer.bound}
    source = "\n\n".join(writer.functions)
    exec(compile(source, f"<check of {at}>", "exec"), namespace)  # see the docstring
    check: Check = namespace[root]
    return check, writer.nodes


_Key = tuple[int, int, str, frozenset[str]]


class Checks:
    """Compiled checks by the type, shape and coordinate they check (the shapes of prepared
    plans come back with every request), least recently used out first past :data:`CHECKS_KEPT`
    checks or :data:`CHECK_NODES_KEPT` fields. ``bytes``, ``max_bytes`` and ``evictions`` show
    in /metrics (store ``boundary_checks``), a field counted as :data:`BYTES_PER_CHECK_NODE`.
    ``ruled`` and ``not_text`` are passed to :func:`compile_check`, and ``leave`` with each."""

    def __init__(
        self,
        size: int = CHECKS_KEPT,
        max_nodes: int = CHECK_NODES_KEPT,
        *,
        ruled: frozenset[str] = frozenset(),
        not_text: frozenset[str] = frozenset(),
    ) -> None:
        self._size = size
        self._max_nodes = max_nodes
        self._ruled = ruled
        self._not_text = not_text
        self._nodes = 0
        self.bytes = 0
        self.max_bytes = max_nodes * BYTES_PER_CHECK_NODE
        self.evictions = 0
        self._kept: OrderedDict[_Key, tuple[Any, Any, Check, int]] = OrderedDict()

    def get(
        self,
        type_: GraphQLOutputType,
        shape: Shape | None,
        at: str,
        leave: frozenset[str] = frozenset(),
    ) -> Check:
        key = (id(type_), id(shape), at, leave)
        kept = self._kept.get(key)
        if kept is not None:  # the entry holds its type and shape: their ids are still theirs
            self._kept.move_to_end(key)
            return kept[2]
        check, nodes = compile_check(
            type_, shape, at, ruled=self._ruled, not_text=self._not_text, leave=leave
        )
        if nodes > self._max_nodes:
            return check
        self._kept[key] = (type_, shape, check, nodes)  # held, so no other object takes an id
        self._nodes += nodes
        while self._nodes > self._max_nodes or len(self._kept) > self._size:
            _, (_, _, _, dropped) = self._kept.popitem(last=False)
            self._nodes -= dropped
            self.evictions += 1
        self.bytes = self._nodes * BYTES_PER_CHECK_NODE
        return check
