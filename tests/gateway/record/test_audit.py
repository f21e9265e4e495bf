"""The audit record on its own: its canonical JSON written out here from the documented format
(gateway/record/audit.py: keys sorted, no spaces, UTF-8 unescaped, unset late fields left out),
times in UTC whatever the machine's zone, the caps at their exact edges, the ``SEQ:HASH`` a head is
noted as, and what is printed of a verify and of a store's URL. The stores are tested in
test_audit_store.py, the chain in test_audit_chain.py."""

import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from gateway.record.audit import (
    AuditRecord,
    ChainLink,
    Checkpoint,
    PortUse,
    StoredRecord,
    VerifyReport,
    canonical_json,
    describe_url,
    document_line,
    format_time,
    is_sha256,
    open_audit_store,
    parse_time,
    stored_document,
)
from tests.gateway.audit_helpers import POSTGRES_URL, sample

HASH = "ab" * 32
LARGEST_SEQ = 2**63 - 1  # a signed 64-bit integer, what both stores can hold


def documented(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def exactly(message: str) -> str:
    """A pattern for pytest.raises that matches this message and nothing more."""
    return f"^{re.escape(message)}$"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_hashed_text_of_a_record_is_the_documented_canonical_json() -> None:
    document = "query Boxes { container(reference: $r) { status } }"
    variables = {"r": "EGHU0239805", "note": "Ausfuhr über Zürich"}  # not in key order
    record = AuditRecord(
        time=datetime(2026, 11, 2, 10, 0, 0, 250, tzinfo=timezone(timedelta(hours=2))),
        trace_id="0af7651916cd43dd8448eb211c80319c",
        client_id="acme-trucking",
        organisation="Hafenbehörde",
        roles=("trucker",),
        operation_name="Boxes",
        operation_type="query",
        document=document,
        variables=variables,
        requested=("Query.container", "Container.status"),
        ports=(PortUse(port="USLAX", status="ok", latency_ms=12.5, cache="fresh"),),
        duration_ms=41.0,
        outcome="ok",
    )
    expected = {
        "time": "2026-11-02T08:00:00.000250Z",
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "client_id": "acme-trucking",
        "organisation": "Hafenbehörde",
        "roles": ["trucker"],
        "operation_name": "Boxes",
        "operation_type": "query",
        "document_hash": sha256(document),
        "document_bytes": len(document.encode()),
        "variables": variables,
        "variables_hash": sha256(documented(variables)),
        "variables_bytes": len(documented(variables).encode()),
        "requested": ["Query.container", "Container.status"],
        "denied": [],
        "ports": [
            {"port": "USLAX", "status": "ok", "latencyMs": 12.5, "cache": "fresh", "code": None}
        ],
        "error_codes": [],
        "duration_ms": 41.0,
        "outcome": "ok",
        "incident": None,
    }
    assert canonical_json(record) == documented(expected)


def test_a_record_holds_only_json_numbers() -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        sample(1, variables={"n": float("inf")})
    with pytest.raises(ValueError, match="not JSON compliant"):
        canonical_json(sample(1, duration_ms=float("inf")))


@pytest.fixture
def pacific_time() -> Iterator[None]:
    """The machine's zone is UTC-8 (no daylight saving), as a gateway in the ports' own zone
    would have it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "PST8")
        time.tzset()
        try:
            yield
        finally:
            patch.undo()
            time.tzset()


@pytest.mark.usefixtures("pacific_time")
def test_times_are_utc_whatever_the_machine_s_zone() -> None:
    assert time.timezone == 8 * 3600  # the zone is set
    two_hours_east = timezone(timedelta(hours=2))
    assert format_time(datetime(2026, 11, 2, 10, 0, tzinfo=two_hours_east)) == (
        "2026-11-02T08:00:00.000000Z"
    )
    assert parse_time("2026-11-02T08:00") == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert parse_time("2026-11-02T10:00+02:00") == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert parse_time("2026-11-02T10:00+02:00").tzinfo is UTC  # type: ignore[union-attr]


def test_what_is_said_of_a_time_without_a_zone_or_out_of_range() -> None:
    with pytest.raises(ValueError, match=exactly("an audit time needs a time zone")):
        format_time(datetime(2026, 11, 2, 8, 0))
    out_of_range = "'9999-12-31T23:00-05:00' is out of range (years 1 to 9999 in UTC)"
    with pytest.raises(ValueError, match=exactly(out_of_range)):
        parse_time("9999-12-31T23:00-05:00")


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("N" * 256, "N" * 256),  # exactly the limit: kept as it is
        ("N" * 257, "N" * 256),
        ("Op\tBoxes\x00", "Op\ufffdBoxes\ufffd"),  # short, but not printable
        ("Zürich Öl", "Zürich Öl"),  # printable, not ASCII: kept
    ],
)
def test_a_client_chosen_name_is_kept_printable_and_at_most_256_characters(
    name: str, kept: str
) -> None:
    record = sample(1, operation_name=name, client_id=name, organisation=name).bounded()
    assert (record.operation_name, record.client_id, record.organisation) == (kept, kept, kept)


def test_a_record_within_every_cap_is_kept_as_it_is() -> None:
    record = sample(1, operation_name=None)
    assert record.bounded() == record


def test_a_document_and_variables_of_exactly_the_cap_are_kept_whole() -> None:
    document = "{ ports { name } }" + " " * 82  # 100 bytes
    variables = {"r": "x" * 92}  # {"r":"xxx..."}: 100 bytes
    assert len(documented(variables).encode()) == 100
    record = sample(1, document=document, variables=variables)
    kept = record.bounded(max_document_bytes=100, max_variables_bytes=100)
    assert (kept.document, kept.document_kept_hash) == (document, None)
    assert (kept.variables, kept.variables_prefix) == (variables, None)
    cut = record.bounded(max_document_bytes=99, max_variables_bytes=99)
    assert (cut.document, cut.document_kept_hash) == (document[:99], sha256(document[:99]))
    assert cut.document_hash == sha256(document)
    assert (cut.variables, cut.variables_prefix) == (None, documented(variables)[:99])
    assert cut.operation_name == record.operation_name  # the rest kept


def test_a_record_cut_once_is_not_cut_again() -> None:
    cut = sample(1, document="x" * 300).bounded(max_document_bytes=200)
    assert cut.bounded(max_document_bytes=100) == cut


def test_a_record_read_back_has_no_document_text_to_store() -> None:
    record = sample(1)
    assert stored_document(record) == (sha256(record.document or ""), record.document)
    stored = StoredRecord(1, "0" * 64, HASH, canonical_json(record))
    said = "this record has no document text to store (read back from a store?)"
    with pytest.raises(ValueError, match=exactly(said)):
        stored_document(stored.record)


@pytest.mark.parametrize(
    ("text", "link"),
    [
        (f"1:{HASH}", ChainLink(1, HASH)),
        (f"{LARGEST_SEQ}:{HASH}", ChainLink(LARGEST_SEQ, HASH)),
        (f"42:{HASH.upper()}", ChainLink(42, HASH)),  # either case, kept in lower case
    ],
)
def test_a_noted_head_is_seq_colon_hash(text: str, link: ChainLink) -> None:
    assert ChainLink.parse(text) == link
    assert str(link) == text.lower()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (f"0:{HASH}", "the seq must be between 1 and 9223372036854775807"),
        (f"{LARGEST_SEQ + 1}:{HASH}", "the seq must be between 1 and 9223372036854775807"),
        (f"\u0664\u0662:{HASH}", "is not SEQ:HASH (a seq and a 64-digit sha256)"),  # Arabic 42
        (f"42:{HASH[:-1]}x", "is not SEQ:HASH (a seq and a 64-digit sha256)"),
        (f"42:{HASH[:-1]}X", "is not SEQ:HASH (a seq and a 64-digit sha256)"),
        (f"42:{HASH}:7", "is not SEQ:HASH (a seq and a 64-digit sha256)"),
        (f"-1:{HASH}", "is not SEQ:HASH (a seq and a 64-digit sha256)"),
    ],
)
def test_anything_else_is_refused_saying_why(text: str, says: str) -> None:
    said = f"{text!r}{':' if says.startswith('the') else ''} {says}"
    with pytest.raises(ValueError, match=exactly(said)):
        ChainLink.parse(text)


def test_a_sha256_is_64_hex_digits_of_either_case() -> None:
    assert is_sha256(HASH)
    assert is_sha256(HASH.upper())
    assert not is_sha256("x" * 64)
    assert not is_sha256("X" * 64)
    assert not is_sha256(HASH[:-1])


@pytest.mark.parametrize(
    ("report", "said"),
    [
        (VerifyReport(0, None), "ok: 0 record(s) verified"),
        (VerifyReport(3, ChainLink(3, HASH), start=1), f"ok: 3 record(s) verified, head 3:{HASH}"),
        (
            VerifyReport(3, ChainLink(4, HASH), start=2),
            f"ok: 3 record(s) verified from seq 2, head 4:{HASH}",
        ),
        (
            VerifyReport(4, ChainLink(4, HASH), 5, "edited", "its hash does not match its content"),
            "seq 5: edited: its hash does not match its content",
        ),
    ],
)
def test_a_verify_report_as_printed(report: VerifyReport, said: str) -> None:
    assert str(report) == said


def test_a_document_line_keeps_its_text_as_utf_8_like_the_records() -> None:
    line = document_line(HASH, "query Zürich { ports { name } }")
    assert line == (
        '{"document": {"sha256": "' + HASH + '", "text": "query Zürich { ports { name } }"}}'
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://auditor:s3cret@db:5432/audit", "postgresql://auditor:***@db:5432/audit"),
        ("postgresql://auditor:p@ss@db/audit", "postgresql://auditor:***@db/audit"),
        ("postgresql://auditor:pa:ss@db/audit", "postgresql://auditor:***@db/audit"),
        (
            "postgresql://auditor:s3cret@db/audit?sslrootcert=x://y",
            "postgresql://auditor:***@db/audit?sslrootcert=x://y",
        ),
        ("postgresql://auditor@db/audit", "postgresql://auditor@db/audit"),
        ("sqlite:///var/lib/portgate/audit.sqlite3", "sqlite:///var/lib/portgate/audit.sqlite3"),
    ],
)
def test_a_store_s_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert describe_url(url) == shown


async def test_a_store_url_may_say_postgres_or_postgresql() -> None:
    store = await open_audit_store(POSTGRES_URL.replace("postgresql://", "postgres://"))
    await store.close()
    said = "an audit store URL starts with sqlite:/// or postgresql://"
    with pytest.raises(ValueError, match=exactly(said)):
        await open_audit_store("mysql://localhost/audit")


T = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
EMPTY_RECORD: dict[str, Any] = {
    "time": "2026-11-02T08:00:00.000000Z",
    "trace_id": None,
    "client_id": "anonymous",
    "organisation": "",
    "roles": [],
    "operation_name": None,
    "operation_type": None,
    "variables": None,
    "requested": [],
    "denied": [],
    "ports": [],
    "error_codes": [],
    "duration_ms": 0.0,
    "outcome": "rejected",
    "incident": None,
}


def test_a_record_without_a_document_has_the_empty_one_and_unset_late_fields_left_out() -> None:
    rejected = AuditRecord(time=T, client_id="anonymous", outcome="rejected")
    assert (rejected.document, rejected.document_bytes) == ("", 0)
    assert canonical_json(rejected) == documented(
        EMPTY_RECORD | {"document_hash": sha256(""), "document_bytes": 0}
    )
    # As a record written before sizes were kept reads back: its text says only what it has.
    old = AuditRecord(time=T, client_id="anonymous", outcome="rejected", document_hash=HASH)
    assert canonical_json(old) == documented(EMPTY_RECORD | {"document_hash": HASH})


def test_a_checkpoint_s_times_are_written_like_the_record_s() -> None:
    checkpoint = Checkpoint(
        first_seq=1,
        through_seq=10,
        count=10,
        prev_hash="0" * 64,
        through_hash=HASH,
        first_time=datetime(2026, 11, 2, 10, 1, tzinfo=timezone(timedelta(hours=2))),
        last_time=T + timedelta(minutes=10),
        archive="audit-1.jsonl",
    )
    record = AuditRecord(time=T, client_id="portgate", outcome="ok", checkpoint=checkpoint)
    assert json.loads(canonical_json(record))["checkpoint"] == {
        "first_seq": 1,
        "through_seq": 10,
        "count": 10,
        "prev_hash": "0" * 64,
        "through_hash": HASH,
        "first_time": "2026-11-02T08:01:00.000000Z",
        "last_time": "2026-11-02T08:10:00.000000Z",
        "archive": "audit-1.jsonl",
        "archive_sha256": None,
    }


def test_a_kept_prefix_must_be_the_one_its_hash_names() -> None:
    with pytest.raises(ValueError, match="document_kept_hash is not the sha256 of document"):
        sample(1, document="{ ports", document_hash=HASH, document_kept_hash=sha256("{ port"))


def test_durations_are_never_negative() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        sample(1, duration_ms=-1.0)
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        PortUse(port="USLAX", status="ok", latency_ms=-0.5)


def test_a_record_cannot_be_changed_once_built() -> None:
    record = sample(1)
    with pytest.raises(ValueError, match="frozen"):
        record.client_id = "someone-else"  # type: ignore[misc]


def test_the_default_caps_are_the_documented_16_kib_and_8_kib() -> None:
    """docs/configuration.md: `max_document_bytes` 16384, `max_variables_bytes` 8192."""
    document = "{ ports { name } }" + " " * (16_384 - 18)
    variables = {"r": "x" * (8_192 - 8)}
    assert len(document.encode()) == 16_384
    assert len(documented(variables).encode()) == 8_192
    whole = sample(1, document=document, variables=variables).bounded()
    assert (whole.document_kept_hash, whole.variables_prefix) == (None, None)
    cut = sample(1, document=document + " ", variables={"r": "x" * (8_192 - 7)}).bounded()
    assert cut.document == document
    assert cut.variables_prefix is not None
    assert len(cut.variables_prefix.encode()) == 8_192


@pytest.mark.parametrize(
    "fields",
    [
        {"client_id": "anonymous", "outcome": "ok"},
        {
            "client_id": "trucker-1",
            "organisation": "Acme Drayage",
            "roles": ("trucker",),
            "operation_name": "Box",
            "operation_type": "query",
            "variables": {"ref": "CSQU3054383", "ports": ["USLAX"], "note": "Grüße"},
            "requested": ("Container.status", "Query.container"),
            "denied": ("Container.events",),
            "error_codes": ("FORBIDDEN_FIELD",),
            "duration_ms": 1.234,
            "outcome": "partial",
            "trace_id": "0af7651916cd43dd8448eb211c80319c",
        },
    ],
)
def test_a_record_built_for_an_operation_is_the_record_validation_gives(
    fields: dict[str, Any],
) -> None:
    """The gateway builds its records without validating each field (AuditRecord.of_operation);
    they must hash and store exactly as validated ones, on a machine in any time zone."""
    with local_time_zone("America/Los_Angeles"):
        built_and_validated_alike(fields)


@contextlib.contextmanager
def local_time_zone(name: str) -> Iterator[None]:
    previous = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = previous
        time.tzset()


def test_records_built_for_operations_share_one_set_of_fields_and_copies_leave_it_alone() -> None:
    when = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
    one = AuditRecord.of_operation(time=when, document="{ ports { name } }")
    two = AuditRecord.of_operation(time=when, document="{ vessel { vesselName } }")
    shared = one.model_fields_set
    assert shared is two.model_fields_set  # no set of its own for a record waiting in a queue
    before = set(shared)
    changed = one.model_copy(update={"requested": ("Query.ports",)})
    assert changed.requested == ("Query.ports",)
    assert one.model_fields_set == before  # model_copy changed its own copy of the set
    assert PortUse.built(port="USLAX", status="ok", latency_ms=1.0).model_fields_set is (
        PortUse.built(port="USOAK", status="ok", latency_ms=2.0).model_fields_set
    )


def built_and_validated_alike(fields: dict[str, Any]) -> None:
    when = datetime(2026, 12, 2, 18, 0, tzinfo=timezone(timedelta(hours=-8)))
    document = "query Box($ref: String!) { container(reference: $ref) { status } }"
    use: dict[str, Any] = {"port": "USLAX", "status": "ok", "latency_ms": 2.5, "cache": "none"}
    built = AuditRecord.of_operation(
        time=when, document=document, ports=(PortUse.built(**use),), **fields
    )
    validated = AuditRecord(time=when, document=document, ports=(PortUse(**use),), **fields)
    assert built == validated
    assert canonical_json(built) == canonical_json(validated)
    assert built.time.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match=r"^an audit time needs a time zone$"):
        AuditRecord.of_operation(time=datetime(2026, 12, 2), document="", **fields)
