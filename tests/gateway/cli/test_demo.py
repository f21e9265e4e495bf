"""``portgate demo`` as a newcomer meets it: the same keys after a restart, a taken port said
plainly before anything starts, and commands printed as they can be run from here."""

import asyncio
import os
import re
import signal
import socket
import stat
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.access.apikeys import ApiKeyStore
from gateway.cli.keys import DEMO_KEYS_FILE, DEMO_ROLES, demo_keys
from gateway.cli.main import app, portgate_command
from gateway.config import API_KEY_DATABASE_NAME

PORTGATE = Path(sys.executable).parent / "portgate"
START_GUARD_SECONDS = 90  # far past a normal start: reaching it means a hang
KEY_LINE = re.compile(r"^  (\w+)\s+(pgk_\S+)$", re.M)


def test_the_demo_keys_are_the_same_at_the_next_run_and_kept_from_other_users(
    tmp_path: Path,
) -> None:
    first = demo_keys(tmp_path / "state")
    assert [role for role, _ in first] == list(DEMO_ROLES)
    assert demo_keys(tmp_path / "state") == first
    saved = tmp_path / "state" / DEMO_KEYS_FILE
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    store = ApiKeyStore(tmp_path / "state" / API_KEY_DATABASE_NAME)
    for role, key in first:
        assert role in store.verify(key).roles
    store.revoke(first[0][1].split("_")[1])  # a key that no longer opens: new ones, all of them
    store.close()
    renewed = demo_keys(tmp_path / "state")
    assert not set(dict(renewed).values()) & set(dict(first).values())
    saved.write_text("not json")
    assert demo_keys(tmp_path / "state") != renewed  # unreadable: new ones, not a crash


def test_a_taken_port_is_said_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app, ["demo", "--port", str(port), "--keys-dir", str(tmp_path / "state")]
        )
    assert result.exit_code == 2
    assert f"cannot serve the demo on 127.0.0.1:{port}: the port is already in use" in (
        result.output
    )
    assert "GraphiQL" not in result.output
    assert "pgk_" not in result.output
    assert not (tmp_path / "state").exists()  # nothing made for a demo that never ran


def test_commands_are_printed_as_they_run_from_here(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "argv", [str(PORTGATE), "demo"])
    monkeypatch.setenv("PATH", str(PORTGATE.parent))
    assert portgate_command() == "portgate"
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.chdir(PORTGATE.parents[2])  # the checkout, above .venv/bin
    assert portgate_command() == str(PORTGATE.relative_to(PORTGATE.parents[2]))
    monkeypatch.chdir(tmp_path)  # elsewhere: the whole path
    assert portgate_command() == str(PORTGATE)


async def demo_output(port: int, state: Path) -> str:
    """What ``portgate demo`` prints until it listens (then it is stopped)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PATH"] = "/usr/bin:/bin"  # as after the README's steps: .venv/bin is not on it
    process = await asyncio.create_subprocess_exec(
        str(PORTGATE), "demo", "--port", str(port), "--keys-dir", str(state),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    lines = []
    try:
        async with asyncio.timeout(START_GUARD_SECONDS):
            while b"Uvicorn running" not in (line := await process.stdout.readline()):
                assert line, "".join(lines)
                lines.append(line.decode())
    finally:
        process.send_signal(signal.SIGINT)
        await process.wait()
    return "".join(lines)


async def test_a_restarted_demo_prints_the_same_keys_and_runnable_commands(
    tmp_path: Path,
) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    first = await demo_output(port, tmp_path / "state")
    second = await demo_output(port, tmp_path / "state")
    keys = KEY_LINE.findall(first)
    assert [role for role, _ in keys] == list(DEMO_ROLES)
    assert KEY_LINE.findall(second) == keys
    assert f"GraphiQL: http://127.0.0.1:{port}/graphql" in first
    assert f"Dashboard: http://127.0.0.1:{port}/dashboard" in first
    [audit] = [line for line in first.splitlines() if "audit search" in line]
    command = audit.split(": ", 1)[1].split(" audit search --store sqlite:///")[0]
    assert command != "portgate"  # not on this PATH: a bare name would not run
    assert (Path.cwd() / command).resolve() == PORTGATE.resolve()
