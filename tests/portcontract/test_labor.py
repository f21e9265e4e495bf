import pytest

from portcontract import schema_sdl
from portcontract.labor import drop_labor_keys, is_labor_key


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
