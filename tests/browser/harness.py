"""Running a browser scenario as these tests do: the system Chromium, in a subprocess, inside a
loopback-only network namespace where this process may create one (root, as in CI).

Inside ``unshare -n`` with only ``lo`` up nothing off this machine is reachable, so a page that
needed a CDN could not render. Without Chromium a test fails in CI and is skipped elsewhere.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.browser.graphiql_scenario import CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
SCENARIO_GUARD_SECONDS = 120  # far past a normal run (~5 s): reaching it means a hang
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Inside the new namespace, bring loopback up and then run the scenario.
LOOPBACK_ONLY = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "unshare"]


def loopback_only_namespace() -> list[str]:
    """The command prefix that runs a program with only a loopback interface, or [] when
    this process may not create a network namespace."""
    if not (shutil.which("unshare") and shutil.which("ip")):
        return []
    probe = subprocess.run([*LOOPBACK_ONLY, "true"], capture_output=True, check=False)
    return LOOPBACK_ONLY if probe.returncode == 0 else []


def run_scenario(module: str, *arguments: str) -> dict[str, Any]:
    """Run ``python -m module arguments...``; its JSON report, plus ``namespaced``."""
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    namespace = loopback_only_namespace()
    if not namespace and IN_CI:
        pytest.fail("CI runs as root and must run the browser in a loopback-only namespace")
    ARTIFACTS.mkdir(exist_ok=True)
    done = subprocess.run(
        [*namespace, sys.executable, "-m", module, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SCENARIO_GUARD_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    print("network: " + ("loopback-only namespace" if namespace else "host network"))
    result: dict[str, Any] = json.loads(done.stdout)
    result["namespaced"] = bool(namespace)
    return result
