"""The soak's machinery, run for a few seconds against a real demo on loopback: every hostile
client sends, the answers it gets are the ones its target feature gives, and the report holds
every figure. No timing figure is asserted: a few seconds on a shared machine say nothing."""

import asyncio
from typing import Any

import pytest

from bench.soak import HOSTILE, SoakSettings, render, soak


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    settings = SoakSettings(duration=4, warmup=1, settle=0.5, sample_every=1)
    return asyncio.run(soak(settings))


def test_every_hostile_client_sent_and_was_answered(result: dict[str, Any]) -> None:
    assert set(result["hostile"]) == set(HOSTILE)
    for name, tally in result["hostile"].items():
        assert tally["sent"] > 0, name
        assert sum(tally["status"].values()) > 0, name  # an answer, or how the socket ended


def test_hostile_requests_reach_the_features_they_aim_at(result: dict[str, Any]) -> None:
    """The first request of each of these clients is sent whatever the timing, and the
    gateway's answer to it does not depend on load."""
    codes = {name: tally["codes"] for name, tally in result["hostile"].items()}
    assert codes["several_operations_unnamed"].get("OPERATION_RESOLUTION_FAILURE", 0) > 0
    assert codes["duplicated_credentials"].get("AMBIGUOUS_CREDENTIALS", 0) > 0
    assert codes["bad_audit_parameters"].get("BAD_USER_INPUT", 0) > 0  # since=99999999999h
    assert codes["aliased_outlooks"].get("QUERY_TOO_COMPLEX", 0) > 0  # ten aliases first
    assert codes["huge_variables"].get("BAD_USER_INPUT", 0) > 0  # 15,000 references first
    assert result["hostile"]["apq_large"]["status"].get("200", 0) > 0  # the valid one, kept


def test_no_answer_is_a_server_error(result: dict[str, Any]) -> None:
    assert result["failures"] == []
    assert result["verdict"]["no_5xx"]["server_errors"] == 0


def test_well_behaved_clients_are_measured_in_both_phases(result: dict[str, Any]) -> None:
    for name, phases in result["well_behaved"].items():
        for phase in ("baseline", "hostile"):
            assert phases[phase]["sent"] > 0, (name, phase)
            assert phases[phase]["status"].get("200", 0) > 0, (name, phase)
    for phase in ("baseline", "hostile"):
        latency = result["latency"][phase]
        assert latency["requests"] > 0
        assert latency["p50_ms"] <= latency["p99_ms"]


def test_the_report_holds_every_figure(result: dict[str, Any]) -> None:
    memory = result["memory"]
    for key in ("start", "max", "end"):
        assert memory["rss_mb"][key] > 0
        assert memory["fds"][key] > 0
    assert memory["rss_mb"]["start"] <= memory["rss_mb"]["max"]
    assert memory["fds"]["rest"] > 0
    assert result["samples"]
    for check in ("rss", "fds", "no_5xx", "p99"):
        assert isinstance(result["verdict"][check]["pass"], bool)
        assert result["verdict"][check]["bound"]
    audit = result["audit_store"]
    assert audit["after"]["records"] > audit["before"]["records"]
    assert {"command", "date", "commit", "machine", "settings"} <= set(result)
    text = render(result)
    assert "Verdict" in text
    for name in HOSTILE:
        assert f"| {name} |" in text
