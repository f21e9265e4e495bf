"""Projection onto a shape: the compiled projection gives what the walk gives, for any value."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.planning.selection import COMPILE_AFTER, Shape

EVENT = Shape((("id", "eventID", None), ("at", "eventDateTime", None)))
BOX = Shape(
    (
        ("equipmentReference", "equipmentReference", None),
        ("events", "events", EVENT),
        ("holds", "holds", Shape((("code", "holdType", None),))),
        ("value", "status", None),  # keys named like the projection's own words
        ("get", "sourcePort", None),
        ("sub0", "availability", None),
    ),
    denied=frozenset({"holds"}),
)
KEYS = ["equipmentReference", "events", "holds", "value", "get", "sub0", "id", "at", "extra"]
SCALARS = st.one_of(st.none(), st.integers(), st.text(max_size=3), st.booleans())
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(KEYS),
            inner,
            max_size=6,
        ),
    ),
    max_leaves=20,
)


def fresh(shape: Shape) -> Shape:
    """The same selection as a shape never projected (each shape compiles once)."""
    return Shape(
        tuple((k, n, fresh(s) if s is not None else None) for k, n, s in shape.fields),
        shape.denied,
    )


@settings(max_examples=300, deadline=None)
@given(value=VALUES)
def test_the_compiled_projection_gives_what_the_walk_gives(value: Any) -> None:
    walked = fresh(BOX)._walk(value)
    shape = fresh(BOX)
    for _ in range(COMPILE_AFTER + 1):  # walked first, compiled after
        assert shape.project(value) == walked


def test_a_shape_is_walked_once_then_compiled_with_its_sub_shapes() -> None:
    shape = fresh(BOX)
    box = {"equipmentReference": "CSQU3054383", "events": [{"id": "e1", "at": "t", "x": 1}],
           "holds": [{"code": "CUSTOMS"}], "value": "AVAILABLE", "extra": "dropped"}  # fmt: skip
    expected = {"equipmentReference": "CSQU3054383", "events": [{"id": "e1", "at": "t"}],
                "holds": None, "value": "AVAILABLE", "get": None, "sub0": None}  # fmt: skip
    assert shape.project(box) == expected
    assert shape._projected[1] is None  # walked once: a shape of one request stays uncompiled
    assert shape.project([box, None, "scalar"]) == [expected, None, None]
    compiled = shape._projected[1]
    assert compiled is not None
    events = shape.fields[1][2]
    assert events is not None
    assert events._projected[1] is not None  # compiled with its parent
    assert shape.project(box) == expected
    assert shape._projected[1] is compiled  # compiled once
    assert shape.project(None) is None
    assert shape.project(7) is None


def test_a_projection_builds_new_objects_and_leaves_the_answer_as_it_was() -> None:
    shape = fresh(BOX)
    box = {"equipmentReference": "CSQU3054383", "events": [{"id": "e1", "at": "t"}]}
    for _ in range(COMPILE_AFTER + 1):
        projected = shape.project(box)
        projected["events"][0]["id"] = "changed"
        assert box == {"equipmentReference": "CSQU3054383", "events": [{"id": "e1", "at": "t"}]}


def test_shapes_compare_and_hash_by_their_selection_alone() -> None:
    shape, other = fresh(BOX), fresh(BOX)
    for _ in range(COMPILE_AFTER):
        shape.project({})
    assert shape == other
    assert hash(shape) == hash(other)
    assert "_projected" not in repr(shape)


def test_a_top_level_projection_keeps_the_objects_below_as_they_are() -> None:
    events = Shape((("eventID", "eventID", None),))
    shape = Shape((("ref", "equipmentReference", None), ("events", "events", events)))
    below = [{"eventID": "E1"}]
    answer = [{"ref": "CSQU3054383", "events": below, "_pg_seen": "2026"}, None, "x"]
    projected = shape.project_top(answer)
    assert projected == [{"ref": "CSQU3054383", "events": below}, None, None]
    assert projected[0]["events"] is below  # not rebuilt: the boundary built it already
    assert shape.project_top(None) is None


def test_only_a_shape_with_nothing_withheld_at_any_depth_is_plain() -> None:
    events = Shape((("eventID", "eventID", None), ("seals", "seals", None)))
    assert Shape((("events", "events", events),)).plain
    assert not Shape((("events", "events", events),), denied=frozenset({"events"})).plain
    withheld_below = Shape((("events", "events", events.deny([("seals",)])),))
    assert not withheld_below.plain
    top_withheld = Shape((("ref", "equipmentReference", None),), denied=frozenset({"ref"}))
    assert top_withheld.project_top([{"ref": "X"}]) == [{"ref": None}]
