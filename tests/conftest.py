"""Settings every test shares."""

import socket
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def stores_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps started with their lifespan keep their audit trail and port registry under the
    test's tmp_path, never in the working directory."""
    monkeypatch.setenv("PORTGATE_AUDIT__STORE", f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    monkeypatch.setenv("PORTGATE_REGISTRY__STORE", f"sqlite:///{tmp_path / 'registry.sqlite3'}")


# The real servers some tests use (README "Two commands"): probed once, to say plainly why
# their tests fail on a machine that lacks them.
SERVICES = {"Redis": ("127.0.0.1", 6379), "PostgreSQL": ("127.0.0.1", 5432)}
SERVICES_HELP = (
    "make test needs Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (user postgres, "
    "database test): on Debian or Ubuntu, sudo tools/install-test-services.sh sets them up"
)


def _missing_services() -> list[str]:
    missing = []
    for name, address in SERVICES.items():
        try:
            socket.create_connection(address, timeout=1).close()
        except OSError:
            missing.append(f"{name} ({address[0]}:{address[1]})")
    return missing


def pytest_report_header(config: pytest.Config) -> list[str]:
    missing = _missing_services()
    config.stash[_MISSING] = missing
    if not missing:
        return ["test services: Redis and PostgreSQL answer on 127.0.0.1"]
    return [f"test services MISSING: {', '.join(missing)}; their tests will fail. {SERVICES_HELP}"]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    missing = config.stash.get(_MISSING, [])
    if missing and terminalreporter.stats.get("failed"):
        terminalreporter.section("test services")
        terminalreporter.write_line(f"not running: {', '.join(missing)}. {SERVICES_HELP}")


_MISSING = pytest.StashKey[list[str]]()
