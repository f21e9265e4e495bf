"""``portgate audit verify | verify-archive | search | document | export | prune`` on an SQLite
file."""

import asyncio
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.record.audit import open_audit_store, parse_time
from tests.gateway.audit_helpers import sample, sqlite_tamper

runner = CliRunner()


@pytest.fixture
def trail(tmp_path: Path) -> tuple[Path, str]:
    """An SQLite trail of 12 sample records: its file and its store URL."""
    path = tmp_path / "audit.sqlite3"

    async def fill() -> None:
        store = await open_audit_store(f"sqlite:///{path}")
        await store.append_many(sample(n) for n in range(1, 13))
        await store.close()

    asyncio.run(fill())
    return path, f"sqlite:///{path}"


def audit(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", *args])
    return result.exit_code, result.output


def test_help_on_every_audit_command() -> None:
    for command in ([], ["verify"], ["verify-archive"], ["search"], ["document"], ["export"],
                    ["prune"]):  # fmt: skip
        code, output = audit(*command, "--help")
        assert code == 0, command
        assert "Usage" in output


def test_verify_prints_the_head_then_names_an_edited_row(trail: tuple[Path, str]) -> None:
    path, url = trail
    code, output = audit("verify", "--store", url)
    assert code == 0, output
    assert "ok: 12 record(s) verified, head 12:" in output
    sqlite_tamper(path, "UPDATE audit_records SET record = replace(record, 'ACME', 'X') "
                        "WHERE seq = 5")  # fmt: skip
    code, output = audit("verify", "--store", url)
    assert code == 1
    assert "seq 5: edited" in output


def test_verify_against_a_noted_head_catches_a_cut_tail(trail: tuple[Path, str]) -> None:
    path, url = trail
    head = audit("verify", "--store", url)[1].split("head ")[1].strip()
    assert audit("verify", "--store", url, "--head", head)[0] == 0
    sqlite_tamper(path, "DELETE FROM audit_records WHERE seq = 12")
    code, output = audit("verify", "--store", url, "--head", head)
    assert code == 1
    assert "seq 12 is gone" in output
    assert audit("verify", "--store", url, "--head", "12:abc")[0] == 2


def test_search_prints_a_table_with_filters(trail: tuple[Path, str]) -> None:
    _, url = trail
    code, output = audit(
        "search", "--store", url, "--client", "acme-trucking", "--since", "2026-11-02T08:03Z",
        "--until", "2026-11-02T08:10Z", "--port", "USOAK",
    )  # fmt: skip
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].split()[:3] == ["seq", "time", "(UTC)"]
    assert [line.split()[0] for line in lines[1:]] == ["3", "5", "7", "9"]
    assert "USOAK:timeout" in lines[2]
    code, output = audit("search", "--store", url, "--org", "Nobody")
    assert output.strip() == "no matching records"


def test_search_as_json_lines(trail: tuple[Path, str]) -> None:
    _, url = trail
    code, output = audit(
        "search", "--store", url, "--denied", "Container.availability", "--outcome", "ok",
        "--operation", "MyBoxes", "--jsonl",
    )  # fmt: skip
    assert code == 0, output
    entries = [json.loads(line) for line in output.splitlines()]
    assert [e["seq"] for e in entries] == [4, 8]
    assert entries[0]["record"]["denied"] == ["Container.availability"]


def test_search_by_document(trail: tuple[Path, str]) -> None:
    _, url = trail
    code, output = audit("search", "--store", url, "--document", sample(7).document_hash,
                         "--jsonl")  # fmt: skip
    assert code == 0, output
    assert [json.loads(line)["seq"] for line in output.splitlines()] == [7]
    assert audit("search", "--store", url, "--document", "abc")[0] == 2


def test_search_pages_on(trail: tuple[Path, str]) -> None:
    _, url = trail
    assert "--after 5 for more" in audit("search", "--store", url, "--limit", "5")[1]
    code, output = audit("search", "--store", url, "--after", "10", "--jsonl")
    assert code == 0
    assert [json.loads(line)["seq"] for line in output.splitlines()] == [11, 12]


def test_export_writes_json_lines(trail: tuple[Path, str], tmp_path: Path) -> None:
    _, url = trail
    out = tmp_path / "export.jsonl"
    code, output = audit("export", "--store", url, "--out", str(out))
    assert code == 0, output
    assert "wrote 12 record(s)" in output
    entries = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["seq"] for e in entries if "record" in e] == list(range(1, 13))
    documents = [e["document"] for e in entries if "document" in e]
    assert len(documents) == 12  # each sample has its own document, kept once


def test_the_store_comes_from_the_config(trail: tuple[Path, str], tmp_path: Path) -> None:
    _, url = trail
    config = tmp_path / "portgate.yaml"
    config.write_text(f"audit:\n  store: {url}\n")
    code, output = audit("verify", "--config", str(config))
    assert code == 0, output
    assert "12 record(s)" in output


def test_an_unreachable_store_is_reported_without_its_password() -> None:
    code, output = audit("verify", "--store", "postgresql://auditor:s3cret@127.0.0.1:1/audit")
    assert code == 2
    assert "cannot open the audit store postgresql://auditor:***@127.0.0.1:1/audit" in output
    assert "s3cret" not in output


def test_times_are_dates_datetimes_or_durations_back() -> None:
    now = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
    assert parse_time("2026-11-02") == datetime(2026, 11, 2, tzinfo=UTC)
    assert parse_time("2026-11-02T08:00+01:00", now) == datetime(2026, 11, 2, 7, tzinfo=UTC)
    assert parse_time("24h", now) == datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    assert parse_time(None) is None
    code, output = audit("search", "--store", "sqlite:///x.sqlite3", "--since", "yesterday-ish")
    assert code == 2
    assert "yesterday-ish" in output


def test_prune_needs_an_archive_or_no_archive_and_a_time(trail: tuple[Path, str]) -> None:
    _, url = trail
    assert audit("prune", "--store", url, "--before", "2026-11-02T08:05Z")[0] == 2
    code, output = audit("prune", "--store", url, "--no-archive")
    assert code == 2
    assert "audit.retention" in output


def test_prune_archives_then_every_verify_passes(trail: tuple[Path, str], tmp_path: Path) -> None:
    _, url = trail
    archive = tmp_path / "audit-2026-11.jsonl"
    code, output = audit(
        "prune", "--store", url, "--before", "2026-11-02T08:05:30Z", "--archive", str(archive)
    )
    assert code == 0, output
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert f"pruned 5 record(s), seq 1-5 (2026-11-02 08:01:00 to 2026-11-02 08:05:00 UTC), " \
           f"archived to {archive} (sha256 {digest}); checkpoint at seq 13" in output  # fmt: skip
    code, output = audit("verify", "--store", url)
    assert code == 0, output
    assert "ok: 8 record(s) verified from seq 6, head 13:" in output
    code, output = audit("verify", "--store", url, "--archive", str(archive))
    assert code == 0, output
    assert "ok: 13 record(s) verified, head 13:" in output
    code, output = audit("verify-archive", str(archive))
    assert code == 0, output
    assert "ok: 5 record(s) verified, head 5:" in output
    assert audit("prune", "--store", url, "--before", "2026-11-02T08:05:30Z", "--archive",
                 str(archive))[1].startswith("nothing to prune")  # fmt: skip


def test_prune_refuses_to_overwrite_an_archive(trail: tuple[Path, str], tmp_path: Path) -> None:
    _, url = trail
    archive = tmp_path / "kept.jsonl"
    archive.write_text("an earlier archive\n")
    code, output = audit("prune", "--store", url, "--before", "1h", "--archive", str(archive))
    assert code == 2
    assert "never overwritten" in output
    assert archive.read_text() == "an earlier archive\n"
    assert "12 record(s)" in audit("verify", "--store", url)[1]


def test_prune_by_the_configured_retention(trail: tuple[Path, str], tmp_path: Path) -> None:
    _, url = trail
    config = tmp_path / "portgate.yaml"
    config.write_text(f"audit:\n  store: {url}\n  retention: 1d\n")
    code, output = audit("prune", "--config", str(config), "--no-archive")
    assert code == 0, output
    assert "pruned 12 record(s)" in output  # every sample is from 2026-11-02
    assert "not archived" in output


def test_a_tampered_archive_fails_verify_archive(trail: tuple[Path, str], tmp_path: Path) -> None:
    _, url = trail
    archive = tmp_path / "a.jsonl"
    audit("prune", "--store", url, "--before", "2026-11-02T08:05:30Z", "--archive", str(archive))
    archive.write_text(archive.read_text().replace("ACME", "EMCA", 1))
    code, output = audit("verify-archive", str(archive))
    assert code == 1
    assert "edited" in output
    assert audit("verify", "--store", url, "--archive", str(archive))[0] == 1
    assert audit("verify-archive", str(tmp_path / "missing.jsonl"))[0] == 2


def test_document_prints_a_stored_document(trail: tuple[Path, str]) -> None:
    _, url = trail
    digest = sample(3).document_hash
    code, output = audit("document", "--store", url, digest)
    assert (code, output) == (0, sample(3).document + "\n")
    assert audit("document", "--store", url, "0" * 64)[0] == 2
    assert audit("document", "--store", url, "not-a-hash")[0] == 2
