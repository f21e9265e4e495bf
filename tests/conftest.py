"""Settings every test shares."""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def stores_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps started with their lifespan keep their audit trail and port registry under the
    test's tmp_path, never in the working directory."""
    monkeypatch.setenv("PORTGATE_AUDIT__STORE", f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    monkeypatch.setenv("PORTGATE_REGISTRY__STORE", f"sqlite:///{tmp_path / 'registry.sqlite3'}")
