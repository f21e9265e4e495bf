"""Change notices on the wire: what a port may say, and what is not a notice."""

import pytest

from portcontract.changes import (
    EVERYTHING,
    MAX_NOTICE_BYTES,
    MAX_REFERENCES,
    ChangeNotice,
    InvalidNotice,
    parse_notice,
)


def test_a_notice_names_boxes_and_calls_and_reads_back_as_itself() -> None:
    notice = ChangeNotice(frozenset({"MSCU6639871"}), frozenset({"USLAX-2026-0042"}))
    assert notice.to_event() == (
        b'event: changed\ndata: {"containers":["MSCU6639871"],'
        b'"vesselCalls":["USLAX-2026-0042"]}\n\n'
    )
    assert parse_notice(notice.to_json()) == notice
    assert parse_notice(EVERYTHING.to_json()) is EVERYTHING
    assert parse_notice(b"{}").empty


def test_notices_taken_together_are_one_and_too_many_names_are_everything() -> None:
    first = ChangeNotice(frozenset({"MSCU6639871"}))
    later = ChangeNotice(vessel_calls=frozenset({"C1"}))
    assert first.merged(later) == ChangeNotice(frozenset({"MSCU6639871"}), frozenset({"C1"}))
    assert first.merged(EVERYTHING) is EVERYTHING
    many = ChangeNotice(frozenset(f"BOX{i}" for i in range(MAX_REFERENCES)))
    assert many.merged(later).everything


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"containers": "MSCU6639871"}',
        b'{"containers": [42]}',
        b'{"containers": ["has space"]}',
        b'{"vesselCalls": ["' + b"x" * 101 + b'"]}',
        b'{"containers": [' + b",".join(b'"B%d"' % i for i in range(MAX_REFERENCES + 1)) + b"]}",
        b'{"containers": ["' + b"A" * MAX_NOTICE_BYTES + b'"]}',
    ],
)
def test_what_is_not_a_notice_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidNotice):
        parse_notice(data)
