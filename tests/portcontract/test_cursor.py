from datetime import UTC, datetime, timedelta, timezone

import pytest

from portcontract.cursor import InvalidCursor, call_key, decode_cursor, encode_cursor, sort_key


def test_cursor_round_trip() -> None:
    key = call_key(datetime(2026, 11, 21, 8, 30, tzinfo=UTC), "USLAX", "TC-1")
    assert decode_cursor(encode_cursor(key)) == key


def test_keys_compare_as_times_across_offsets() -> None:
    pacific = timezone(timedelta(hours=-8))
    early = call_key(datetime(2026, 11, 21, 1, 0, tzinfo=pacific), "USLAX", "B")  # 09:00 UTC
    late = call_key(datetime(2026, 11, 21, 10, 0, tzinfo=UTC), "USAAA", "A")
    assert sort_key(early) < sort_key(late)


@pytest.mark.parametrize("bad", ["", "not-base64!", "WzEsMiwzXQ", encode_cursor.__name__])
def test_bad_cursors_are_refused(bad: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(bad)
