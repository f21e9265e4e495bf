"""The layout's import contracts (``[tool.importlinter]`` in pyproject.toml, README "Layout"):
kept by the code as it is, and broken by a planted back-import, naming it. The planted imports
go into a copy of the packages, never into the tree under test."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("gateway", "port_resolvers", "portcontract")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the packages under ``root`` (first on the path, ahead of the
    installed ones), with the project's contracts."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "static")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(root: Path, module: str, line: str) -> None:
    path = root / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # planted\n", "utf-8")


def test_the_code_keeps_every_contract() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


def test_the_copy_keeps_them_too_before_anything_is_planted(copy: Path) -> None:
    done = lint_imports(copy)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("module", "line", "named"),
    [
        # the record calls up into the edge
        (
            "gateway.record.redact",
            "import gateway.edge.graphql_view",
            "gateway.record.redact -> gateway.edge.graphql_view",
        ),
        # the ports reach up into the query
        (
            "gateway.ports.fetch",
            "from gateway.query import merge",
            "gateway.ports.fetch -> gateway.query.merge",
        ),
        # a part below the app reads the whole configuration
        (
            "gateway.access.policy",
            "import gateway.config",
            "gateway.access.policy -> gateway.config",
        ),
        # nothing imports the command line
        ("gateway.edge.csrf", "import gateway.cli.main", "gateway.edge.csrf -> gateway.cli.main"),
        # the shared ground depends on no part
        (
            "gateway.errors",
            "import gateway.planning.plan",
            "gateway.errors -> gateway.planning.plan",
        ),
        # what a port runs holds none of the gateway's code
        (
            "port_resolvers.kit.app",
            "import gateway.errors",
            "port_resolvers.kit.app -> gateway.errors",
        ),
        # the contract depends on neither side
        (
            "portcontract.labor",
            "import port_resolvers.kit",
            "portcontract.labor -> port_resolvers.kit",
        ),
    ],
)
def test_a_planted_back_import_fails_and_is_named(
    copy: Path, module: str, line: str, named: str
) -> None:
    plant(copy, module, line)
    done = lint_imports(copy)
    assert done.returncode != 0
    assert named in done.stdout, done.stdout
