"""Settings every test shares."""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def audit_trail_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps started with their lifespan write their audit trail under the test's tmp_path,
    never into the working directory."""
    monkeypatch.setenv("PORTGATE_AUDIT__STORE", f"sqlite:///{tmp_path / 'audit.sqlite3'}")
