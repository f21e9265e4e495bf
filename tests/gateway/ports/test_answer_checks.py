"""The compiled checks against a plain reading of the same rules: for every root field of the
shared schema with everything below it selected, random answers (right, wrong and half right)
are checked both ways and must give the same value, the same counts and the same refusals."""

import gc
import tracemalloc
from collections import Counter
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
    get_named_type,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.planning.selection import Shape
from gateway.ports.answer_checks import (
    BYTES_PER_CHECK_NODE,
    DROPPED,
    LABOR_TEXT,
    MAX_TEXT,
    MISSING_VALUE,
    TOO_LONG,
    UNKNOWN_ENUM_VALUE,
    WRONG_TYPE,
    Checks,
    compile_check,
    is_date,
    is_datetime,
    parses_as,
)
from gateway.schema import build_schema
from portcontract.labor import labor_text_reason

SCHEMA = build_schema()._schema
QUERY_TYPE = SCHEMA.query_type
assert QUERY_TYPE is not None
RULED = frozenset({"Container.sourcePort", "Container.lastEventDateTime", "Vessel.vesselName"})
NOT_TEXT = frozenset({"Container.sourcePort", "Port.UNLocationCode"})


class Refused(Exception):
    pass


class FakeAnswer:
    """The rules of a boundary, made up: refuse a row from another port, drop one time, pass
    a name through changed (so that a check that skips the rules shows)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def rules(self, value: Any, at: str) -> Any:
        if at == "Container.sourcePort" and value != "USLAX":
            raise Refused(at)
        if at == "Container.lastEventDateTime" and value.startswith("2099"):
            self.counts["FUTURE"] += 1
            return DROPPED
        if at == "Vessel.vesselName":
            return value.upper()
        return value


_SCALARS = {"String": lambda v: type(v) is str, "Int": lambda v: type(v) is int
            and -(2**31) <= v < 2**31, "Float": lambda v: (type(v) is float and v == v
            and abs(v) != float("inf")) or type(v) is int, "Boolean": lambda v: type(v) is bool,
            "ID": lambda v: type(v) is str or type(v) is int, "DateTime": is_datetime,
            "Date": is_date}  # fmt: skip


def reference(answer: FakeAnswer, type_: Any, shape: Shape | None, at: str, value: Any) -> Any:
    """The rules read plainly, one value at a time."""
    if isinstance(type_, GraphQLNonNull):
        if value is None:
            answer.counts[MISSING_VALUE] += 1
            return DROPPED
        return inner(answer, type_.of_type, shape, at, value)
    if value is None:
        return None
    kept = inner(answer, type_, shape, at, value)
    return None if kept is DROPPED else kept


def inner(answer: FakeAnswer, type_: Any, shape: Shape | None, at: str, value: Any) -> Any:
    if isinstance(type_, GraphQLList):
        if type(value) is not list:
            answer.counts[WRONG_TYPE] += 1
            return DROPPED
        items = [reference(answer, type_.of_type, shape, at, each) for each in value]
        return [item for item in items if item is not DROPPED]
    if isinstance(type_, GraphQLObjectType):
        if type(value) is not dict or shape is None:
            answer.counts[WRONG_TYPE] += 1
            return DROPPED
        kept = {}
        for key, name, sub in shape.fields:
            if name == "__typename":
                kept[key] = type_.name
                continue
            field_type = type_.fields[name].type
            item = reference(answer, field_type, sub, f"{type_.name}.{name}", value.get(key))
            if item is DROPPED:
                return DROPPED
            kept[key] = item
        return kept
    if isinstance(type_, GraphQLEnumType):
        if type(value) is str and value in type_.values:
            return value
        answer.counts[UNKNOWN_ENUM_VALUE] += 1
        return DROPPED
    assert isinstance(type_, GraphQLScalarType)
    if not (_SCALARS.get(type_.name) or parses_as(type_))(value):
        answer.counts[WRONG_TYPE] += 1
        return DROPPED
    if type(value) is str and len(value) > MAX_TEXT:
        answer.counts[TOO_LONG] += 1
        return DROPPED
    kept = answer.rules(value, at) if at in RULED else value
    text = type_.name in ("String", "ID") and at not in NOT_TEXT
    if text and type(kept) is str and labor_text_reason(kept) is not None:
        answer.counts[LABOR_TEXT] += 1
        return DROPPED
    return kept


def full_shape(type_: GraphQLObjectType, depth: int = 3) -> Shape:
    """Every field of ``type_`` (objects down to ``depth``), some twice under an alias."""
    fields: list[tuple[str, str, Shape | None]] = [("__typename", "__typename", None)]
    for name, field in type_.fields.items():
        below = get_named_type(field.type)
        if isinstance(below, GraphQLObjectType):
            if depth == 0:
                continue
            fields.append((name, name, full_shape(below, depth - 1)))
        else:
            fields.append((name, name, None))
            if len(fields) % 4 == 0:
                fields.append((f"also_{name}", name, None))
    return Shape(tuple(fields))


ROOTS = [
    (name, field.type, full_shape(get_named_type(field.type)))  # type: ignore[arg-type]
    for name, field in QUERY_TYPE.fields.items()
    if isinstance(get_named_type(field.type), GraphQLObjectType)
]

ODD = st.sampled_from([
    None, "", "x", "USLAX", "USOAK", "x" * (MAX_TEXT + 1), "x" * MAX_TEXT, 0, -1, 2**31,
    -(2**31), 2**31 - 1, 1.5, float("inf"), float("nan"), True, False, [], {}, "2026-11-21",
    "2026-11-21T18:00:00Z", "2099-01-01T00:00:00+00:00", "2026-11-21T18:00:00", "2026-02-30",
    "released by John Smith", "crane operator Maria", "28 moves per hour", "AVAILABLE",
    "DISC", "GATE_OUT", "VESSELS_AT_ANCHOR", "ever given",
])  # fmt: skip


TEXT = st.sampled_from(["USLAX", "x" * MAX_TEXT, "x" * (MAX_TEXT + 1), "EVER GIVEN", "gang 4"])

NUMBERS = st.sampled_from([0, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2.5, float("inf"), True])


def answers(type_: GraphQLOutputType, shape: Shape | None, depth: int = 0) -> Any:
    """Values for a field of ``type_``: mostly of the right form, sometimes not."""
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        items = st.lists(answers(type_.of_type, shape, depth + 1), max_size=3)
        return st.one_of(items, items, ODD)
    if isinstance(type_, GraphQLObjectType) and shape is not None and depth < 6:
        members = {
            key: answers(type_.fields[name].type, sub, depth + 1)
            for key, name, sub in shape.fields
            if name != "__typename"
        }
        objects = st.fixed_dictionaries({}, optional=members)
        return st.one_of(objects, objects, objects, ODD)
    if isinstance(type_, GraphQLEnumType):
        return st.one_of(st.sampled_from(sorted(type_.values)), ODD)
    if type_.name in ("Int", "Float"):
        return st.one_of(NUMBERS, ODD)
    return st.one_of(TEXT, ODD) if type_.name in ("String", "ID") else ODD


@pytest.mark.parametrize(("name", "type_", "shape"), ROOTS, ids=[r[0] for r in ROOTS])
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_compiled_check_keeps_and_counts_what_the_rules_read_plainly_do(
    name: str, type_: GraphQLOutputType, shape: Shape, data: st.DataObject
) -> None:
    value = data.draw(answers(type_, shape), label="answer")
    at = f"Query.{name}"
    check, _ = compile_check(type_, shape, at, ruled=RULED, not_text=NOT_TEXT)
    compiled, plain = FakeAnswer(), FakeAnswer()
    try:
        expected: Any = reference(plain, type_, shape, at, value)
    except Refused as refused:
        expected = refused
    try:
        got: Any = check(compiled, value)
    except Refused as refused:
        got = refused
    if isinstance(expected, Refused):
        assert isinstance(got, Refused)
        assert got.args == expected.args
    else:
        assert got == expected
    assert compiled.counts == plain.counts


def test_every_field_of_the_schema_holds_every_odd_value_as_the_rules_read_plainly_do() -> None:
    """Exhaustive where random draws are thin: each leaf field of each type, alone, with
    each value of the lists above (in, at and past every bound)."""
    values = [*ODD.elements, *TEXT.elements, *NUMBERS.elements]  # type: ignore[attr-defined]
    for type_ in SCHEMA.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            if isinstance(get_named_type(field.type), GraphQLObjectType):
                continue
            shape = Shape(((name, name, None),))
            check, _ = compile_check(type_, shape, "Query.x", ruled=RULED, not_text=NOT_TEXT)
            for value in values:
                compiled, plain = FakeAnswer(), FakeAnswer()
                try:
                    expected: Any = reference(plain, type_, shape, "Query.x", {name: value})
                except Refused:
                    expected = Refused
                try:
                    got: Any = check(compiled, {name: value})
                except Refused:
                    got = Refused
                assert (got, compiled.counts) == (expected, plain.counts), (type_, name, value)


def test_response_keys_that_are_names_the_check_uses_are_only_keys() -> None:
    container = get_named_type(QUERY_TYPE.fields["container"].type)
    assert isinstance(container, GraphQLObjectType)
    keys = ["value", "counts", "get", "answer", "DROPPED", "check", "object0", "v1", "kept2",
            "item3", "labor", "MAX_TEXT", "__builtins__"]  # fmt: skip
    shape = Shape(tuple((key, "equipmentReference", None) for key in keys))
    check, nodes = compile_check(container, shape, "Query.container")
    row = {key: f"CSQU305438{i % 10}" for i, key in enumerate(keys)}
    assert check(FakeAnswer(), row) == row
    assert nodes == len(keys) + 1


def test_a_check_of_the_fields_around_a_list_leaves_the_list_out() -> None:
    page = get_named_type(QUERY_TYPE.fields["vesselCalls"].type)
    assert isinstance(page, GraphQLObjectType)
    shape = Shape((("edges", "edges", Shape((("cursor", "cursor", None),))),
                   ("info", "pageInfo", Shape((("more", "hasNextPage", None),)))))  # fmt: skip
    check, nodes = compile_check(page, shape, "Query.vesselCalls", leave=frozenset({"edges"}))
    answer = FakeAnswer()
    assert check(answer, {"edges": "not checked", "info": {"more": True}}) == {
        "info": {"more": True}
    }
    assert check(answer, {"info": {"more": "yes"}}) is DROPPED  # hasNextPage is non-null
    assert check(answer, ["not", "an", "object"]) is DROPPED
    assert answer.counts == {WRONG_TYPE: 2}
    assert nodes == 3  # the page, pageInfo and hasNextPage


def test_a_compiled_field_costs_no_more_than_the_bytes_counted_for_it() -> None:
    """What /metrics says the kept checks hold is not less than what they hold."""
    name, type_, shape = next(r for r in ROOTS if r[0] == "containers")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        checks = [compile_check(type_, shape, f"Query.{name}") for _ in range(5)]
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    nodes = checks[0][1]
    assert nodes > 50  # a large shape: the per-field cost dominates
    assert held / (5 * nodes) <= BYTES_PER_CHECK_NODE


class Recording(FakeAnswer):
    """The same rules, and each coordinate they were asked about."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def rules(self, value: Any, at: str) -> Any:
        self.asked.append(at)
        return super().rules(value, at)


def test_a_scalar_is_checked_at_the_coordinate_given_at_the_root_in_a_list_and_when_kept() -> None:
    """The coordinate a check is compiled for is the one ``answer.rules`` is told and the one
    the labor rule goes by, for a scalar at the root and for each item of a list of them."""
    answer = Recording()
    name, _ = compile_check(GraphQLString, None, "Vessel.vesselName", ruled=RULED)
    assert name(answer, "ever given") == "EVER GIVEN"
    names_type = GraphQLList(GraphQLNonNull(GraphQLString))
    names, _ = compile_check(names_type, None, "Vessel.vesselName", ruled=RULED)
    assert names(answer, ["ever given", "maersk"]) == ["EVER GIVEN", "MAERSK"]
    checks = Checks(ruled=RULED, not_text=NOT_TEXT)
    assert checks.get(GraphQLString, None, "Vessel.vesselName")(answer, "one") == "ONE"
    assert answer.asked == ["Vessel.vesselName"] * 4
    # A port's own code is not read as text at its coordinate (as text, CLERK names a role on
    # the quay); at any other the same values are.
    codes, _ = compile_check(names_type, None, "Port.UNLocationCode", not_text=NOT_TEXT)
    assert codes(answer, ["USLAX", "CLERK", "gang 4"]) == ["USLAX", "CLERK", "gang 4"]
    texts, _ = compile_check(names_type, None, "Port.name", not_text=NOT_TEXT)
    assert texts(answer, ["USLAX", "CLERK", "gang 4"]) == ["USLAX"]
    assert answer.counts == {LABOR_TEXT: 2}


def test_a_null_item_of_a_list_of_non_null_objects_is_missing_and_counted_once() -> None:
    """As the boundary checks each edge of a page of vessel calls: at a non-null position a
    value that cannot be kept is DROPPED, counted by its one reason."""
    edge = SCHEMA.type_map["VesselCallEdge"]
    assert isinstance(edge, GraphQLObjectType)
    shape = Shape((("cursor", "cursor", None),))
    check, _ = compile_check(GraphQLNonNull(edge), shape, "VesselCallConnection.edges")
    answer = FakeAnswer()
    assert check(answer, None) is DROPPED
    assert answer.counts == {MISSING_VALUE: 1}
    assert check(answer, {"cursor": "abc"}) == {"cursor": "abc"}
    number, _ = compile_check(GraphQLNonNull(GraphQLInt), None, "Query.x")
    assert number(answer, "12") is DROPPED
    assert number(answer, None) is DROPPED
    assert answer.counts == {MISSING_VALUE: 2, WRONG_TYPE: 1}


def test_an_object_of_which_nothing_is_selected_is_never_kept() -> None:
    """A shape of None under an object type (a validated document never has one, but
    compile_check takes it): no value there is kept, and one that is not an object is counted.
    Whether an object dropped there is counted is not pinned: the compiled check does not count
    it, ``reference`` above would (as WRONG_TYPE)."""
    container = get_named_type(QUERY_TYPE.fields["container"].type)
    assert isinstance(container, GraphQLObjectType)
    check, nodes = compile_check(container, None, "Query.container")
    answer = FakeAnswer()
    assert check(answer, "CSQU3054383") is None  # a nullable root: null
    assert answer.counts == {WRONG_TYPE: 1}
    assert check(answer, {"equipmentReference": "CSQU3054383"}) is None
    rest, _ = compile_check(container, None, "Query.container", leave=frozenset({"events"}))
    assert rest(answer, {"equipmentReference": "CSQU3054383"}) is DROPPED
    assert nodes == 1


def parse_code(value: Any) -> str:
    if type(value) is not str:
        raise TypeError(f"not a code: {value!r}")
    return value


def test_a_scalar_the_table_does_not_know_takes_what_it_parses_at_most_max_text_long() -> None:
    """A scalar the shared schema does not have: its own input coercion decides its type, and a
    string it takes is held to MAX_TEXT; it is not String or ID, so not read as text."""
    code = GraphQLScalarType("Code", parse_value=parse_code)
    check, _ = compile_check(GraphQLNonNull(code), None, "Query.code", not_text=NOT_TEXT)
    answer = FakeAnswer()
    assert check(answer, "x" * MAX_TEXT) == "x" * MAX_TEXT
    assert check(answer, "gang 4") == "gang 4"
    assert check(answer, "x" * (MAX_TEXT + 1)) is DROPPED
    assert check(answer, 4) is DROPPED
    assert answer.counts == {TOO_LONG: 1, WRONG_TYPE: 1}


def test_a_time_is_held_to_max_text_though_any_length_of_it_parses() -> None:
    """``datetime.fromisoformat`` reads any number of digits of a second's fraction, so a
    DateTime can be a string of any length: it is held to MAX_TEXT like any other string."""
    date_time = SCHEMA.type_map["DateTime"]
    assert isinstance(date_time, GraphQLScalarType)
    check, _ = compile_check(GraphQLNonNull(date_time), None, "Query.x")
    around = ("2026-11-21T18:00:00.", "+00:00")
    longest = around[0] + "1" * (MAX_TEXT - 26) + around[1]
    too_long = around[0] + "1" * (MAX_TEXT - 25) + around[1]
    assert is_datetime(too_long)
    answer = FakeAnswer()
    assert check(answer, longest) == longest
    assert check(answer, too_long) is DROPPED
    assert answer.counts == {TOO_LONG: 1}
