"""The vessel-call cursor is a contract between the gateway and every port's resolver, which
other organisations build: its wire form is pinned here from the documented format (base64url,
no padding, of the compact JSON array [planned arrival in UTC to the second, port, reference]),
not from the encoder."""

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from portcontract.cursor import (
    CallKey,
    InvalidCursor,
    call_key,
    decode_cursor,
    encode_cursor,
    sort_key,
)

PACIFIC = timezone(timedelta(hours=-8))


def documented_cursor(parts: list[object]) -> str:
    """A cursor built from the format's description alone."""
    text = json.dumps(parts, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_a_key_is_the_utc_arrival_to_the_second_then_port_then_reference() -> None:
    local = datetime(2026, 11, 21, 1, 0, 59, 987_654, tzinfo=PACIFIC)
    assert call_key(local, "USLAX", "TC-1") == CallKey("2026-11-21T09:00:59+00:00", "USLAX", "TC-1")


@pytest.mark.parametrize(
    "reference",
    ["TC-1", "TC-12", "TC-123", "CALL/ü", "?>?>"],  # every padding length; bytes past 0x7f; -_
)
def test_the_wire_form_is_the_documented_one(reference: str) -> None:
    key = CallKey("2026-11-21T09:00:00+00:00", "USLAX", reference)
    cursor = encode_cursor(key)
    assert cursor == documented_cursor(list(key))
    assert "=" not in cursor
    assert decode_cursor(cursor) == key
    assert decode_cursor(documented_cursor(list(key))) == key


@pytest.fixture
def gateway_in_california(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's own time zone set to a port's, for the length of a test."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_keys_are_utc_whatever_the_machines_time_zone(gateway_in_california: None) -> None:
    assert time.localtime(0).tm_gmtoff == -8 * 3600  # the zone did change
    arrival = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    assert call_key(arrival, "USLAX", "TC-1").planned_arrival == "2026-11-21T09:00:00+00:00"


@pytest.mark.parametrize("length", range(12))  # cursors of every length modulo 4 and 5
def test_cursors_of_every_length_decode_without_their_padding(length: int) -> None:
    key = CallKey("2026-11-21T09:00:00+00:00", "USLAX", "R" * length)
    assert decode_cursor(documented_cursor(list(key))) == key


def test_cursor_round_trip() -> None:
    key = call_key(datetime(2026, 11, 21, 8, 30, tzinfo=UTC), "USLAX", "TC-1")
    assert decode_cursor(encode_cursor(key)) == key
    assert encode_cursor(key) == "WyIyMDI2LTExLTIxVDA4OjMwOjAwKzAwOjAwIiwiVVNMQVgiLCJUQy0xIl0"


def test_a_padded_cursor_is_accepted_too() -> None:
    key = CallKey("2026-11-21T09:00:00+00:00", "USLAX", "TC-1")
    padded = base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()
    assert padded.endswith("=")
    assert decode_cursor(padded) == key


def test_keys_compare_as_times_across_offsets() -> None:
    early = call_key(datetime(2026, 11, 21, 1, 0, tzinfo=PACIFIC), "USLAX", "B")  # 09:00 UTC
    late = call_key(datetime(2026, 11, 21, 10, 0, tzinfo=UTC), "USAAA", "A")
    assert sort_key(early) < sort_key(late)


def test_sort_key_orders_by_time_then_port_then_reference() -> None:
    at_nine = "2026-11-21T09:00:00+00:00"
    same_time_in_pacific = "2026-11-21T01:00:00-08:00"  # a port may send its own offset
    keys = [
        CallKey("2026-11-21T10:00:00+00:00", "USAAA", "A"),
        CallKey(at_nine, "USLGB", "A"),
        CallKey(same_time_in_pacific, "USLAX", "B"),
        CallKey(at_nine, "USLAX", "A"),
    ]
    ordered = sorted(keys, key=sort_key)
    assert [(k.port, k.reference) for k in ordered] == [
        ("USLAX", "A"),
        ("USLAX", "B"),
        ("USLGB", "A"),
        ("USAAA", "A"),
    ]
    assert sort_key(CallKey(same_time_in_pacific, "P", "R")) == sort_key(CallKey(at_nine, "P", "R"))
    assert sort_key(keys[0]) == (datetime(2026, 11, 21, 10, tzinfo=UTC), "USAAA", "A")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not-base64!",
        "WzEsMiwzXQ",  # [1,2,3]: not strings
        "e30",  # {}: not an array
        documented_cursor(["2026-11-21T09:00:00+00:00", "USLAX"]),  # two parts
        documented_cursor(["2026-11-21T09:00:00+00:00", "USLAX", "A", "B"]),  # four parts
        documented_cursor(["soon", "USLAX", "TC-1"]),  # no time
        documented_cursor([20261121, "USLAX", "TC-1"]),  # a number for the time
        documented_cursor(["2026-11-21T09:00:00+00:00", 5, "TC-1"]),  # a number for the port
        documented_cursor(["2026-11-21T09:00:00+00:00", "USLAX", None]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
        "Zm9v",  # foo: not JSON
        "a",  # no base64 length
    ],
)
def test_bad_cursors_are_refused_with_the_cursor_named(bad: str) -> None:
    with pytest.raises(InvalidCursor) as refused:
        decode_cursor(bad)
    assert str(refused.value) == f"cursor {bad!r} is not a vessel-call cursor"
