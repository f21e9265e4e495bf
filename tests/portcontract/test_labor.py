import pytest

from portcontract import schema_sdl
from portcontract.labor import ALLOWED_KEYS, drop_labor_keys, is_labor_key


@pytest.mark.parametrize(
    "key",
    [
        "craneOperatorID", "crane_operator_id", "gangID", "shiftCode", "clerkID", "driverName",
        "truckLicensePlate", "twicCardNumber", "movesPerHour", "moves_per_hour",
        "grossMovesPerHour", "workerId", "rfidTag", "boxesPerHour",
    ],
)  # fmt: skip
def test_labor_keys_are_recognised(key: str) -> None:
    assert is_labor_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "equipmentReference", "vesselOperatorSMDGLinerCode", "eventDateTime", "yardBlock",
        "sampleSize", "UNLocationCode", "facilityCode", "TRUCK_TURN_TIME_MINUTES",
        "vesselOperatorCarrierCode", "vesselOperatorCarrierCodeListProvider",
    ],
)  # fmt: skip
def test_cargo_keys_are_not_labor(key: str) -> None:
    assert not is_labor_key(key)


def test_drop_labor_keys_at_any_depth() -> None:
    payload = {
        "equipmentReference": "CSQU3054383",
        "events": [{"eventID": "1", "craneOperatorID": "OP7", "gang": {"gangID": "G1"}}],
        "yard": {"block": "B12", "clerk_id": "C9"},
    }
    assert drop_labor_keys(payload) == {
        "equipmentReference": "CSQU3054383",
        "events": [{"eventID": "1"}],
        "yard": {"block": "B12"},
    }


def test_the_shared_schema_names_no_labor_data() -> None:
    import re

    names = set(re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*[(:]", schema_sdl()))
    names |= set(re.findall(r"\b(?:type|enum|input|scalar)\s+(\w+)", schema_sdl()))
    assert names, "the scan found no names: the pattern is broken"
    assert sorted(n for n in names if is_labor_key(n)) == []


# Names that mark data tracking or monitoring labor (Cal. Gov. Code 12100.131(b)(3), DOMAIN.md),
# listed here independently of portcontract.labor so that the scan does not only test itself.
LABOR_NAME_PARTS = (
    "driver", "worker", "employee", "gang", "shift", "crane", "clerk", "longshore", "ilwu",
    "crew", "person", "people", "operator", "productivity", "licence", "license", "twic",
    "rfid", "plate", "gps", "badge", "lane", "moves", "movecount", "perhour", "perhr",
)  # fmt: skip


def schema_names(sdl: str) -> set[str]:
    """Every name the schema declares: types, fields, arguments, enum values, input fields."""
    from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType, build_schema

    schema = build_schema(sdl)
    names = set()
    for type_name, type_ in schema.type_map.items():
        if type_name.startswith("__"):
            continue
        names.add(type_name)
        if isinstance(type_, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in type_.fields.items():
                names.add(field_name)
                names.update(getattr(field, "args", {}) or {})
        elif isinstance(type_, GraphQLEnumType):
            names.update(type_.values)
    return names


def labor_names(names: set[str]) -> list[str]:
    """Names containing a labor word, except a vessel's or terminal's operating company."""
    found = []
    for name in names:
        flat = name.lower().replace("_", "")
        if flat in ALLOWED_KEYS:
            continue
        if any(part in flat for part in LABOR_NAME_PARTS):
            found.append(name)
    return sorted(found)


def test_the_exported_schema_has_no_labor_names() -> None:
    names = schema_names(schema_sdl())
    assert len(names) > 100  # the scan reached types, fields, arguments and enum values
    assert labor_names(names) == []


def test_the_scan_would_catch_a_labor_field_and_keeps_the_operating_company() -> None:
    planted = (
        schema_sdl().replace(
            "type Container {", "type Container {\n  craneOperatorID: String\n  gangShift: String"
        )
        + "\nenum WorkerRole { CLERK }\n"
    )
    assert labor_names(schema_names(planted)) == [
        "CLERK",
        "WorkerRole",
        "craneOperatorID",
        "gangShift",
    ]
    assert "vesselOperatorSMDGLinerCode" in schema_names(schema_sdl())  # the carrier stays
