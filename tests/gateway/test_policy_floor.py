"""The sample floor no configuration can lower: refused at start-up and by ``config check``,
applied to every role (admins included), raised but never lowered by a role's own floor; and
the shipped roles, of which none sees less than a less trusted one."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gateway.access.auth import Principal
from gateway.access.policy_file import PolicyError, default_policy_text, load_policy
from gateway.app import create_app
from gateway.cli.main import app as cli
from gateway.config import load_settings
from gateway.schema import build_schema

SCHEMA = build_schema()._schema
PORTS = ("USLAX", "USLGB", "USOAK", "USNTD", "USSAN")
# Aggregates over containers, trucks or moves, and the public counts, written out here.
SAMPLED = ("CONTAINER_DWELL_DAYS", "TRUCK_TURN_TIME_MINUTES", "TEU_DISCHARGED", "TEU_LOADED")
COUNTS = ("VESSELS_AT_ANCHOR", "VESSELS_AT_BERTH")
FLOOR = 10

POLICY = """\
roles:
  public:
    allow: [Query.portMetrics, PortMetric.*]
    min_sample_size: {floor}
"""


def floors(text: str, *roles: str) -> dict[str, int]:
    access = load_policy(text, SCHEMA, PORTS).access(
        Principal("c", "", frozenset(roles or {"public"}), None, "api_key")
    )
    return {metric: access.min_sample_size(metric) for metric in SAMPLED + COUNTS}


@pytest.mark.parametrize(
    ("floor", "line"),
    [
        ("0", 4),
        ("9", 4),
        ("{TEU_LOADED: 3}", 4),
        ("\n      CONTAINER_DWELL_DAYS: 12\n      TRUCK_TURN_TIME_MINUTES: 2", 6),
        ("{'*': 5}", 4),
    ],
)
def test_a_floor_below_the_hard_minimum_is_refused_with_its_line(floor: str, line: int) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(POLICY.format(floor=floor), SCHEMA, PORTS, "policy.yaml")
    message = str(caught.value)
    assert message.startswith(f"policy.yaml:{line}: min_sample_size ")
    assert "below the hard minimum of 10 samples" in message
    assert "never lower it" in message


@pytest.mark.parametrize(
    ("floor", "value", "metrics"),
    [
        ("0", 0, sorted(SAMPLED)),
        ("{'*': 5, TEU_LOADED: 12}", 5, sorted(set(SAMPLED) - {"TEU_LOADED"})),
        ("{TEU_LOADED: 9}", 9, ["TEU_LOADED"]),
    ],
)
def test_a_refusal_names_the_metrics_the_lowered_floor_would_apply_to(
    floor: str, value: int, metrics: list[str]
) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(POLICY.format(floor=floor), SCHEMA, PORTS, "policy.yaml")
    assert str(caught.value).split(": ", 1)[1] == (
        f"min_sample_size {value} for {', '.join(metrics)} is below the hard minimum of 10 "
        "samples for aggregates over containers, trucks or moves (labor privacy, Cal. Gov. "
        "Code 12100.131(b)(3)): a policy may raise it, never lower it"
    )


def test_a_count_of_vessels_may_have_a_floor_below_the_hard_one() -> None:
    assert floors(POLICY.format(floor="{VESSELS_AT_ANCHOR: 3}")) == (
        dict.fromkeys(SAMPLED, FLOOR) | {"VESSELS_AT_ANCHOR": 3, "VESSELS_AT_BERTH": 0}
    )


def test_the_floor_applies_to_what_a_role_leaves_unset_and_may_only_be_raised() -> None:
    nothing_set = POLICY.replace("    min_sample_size: {floor}\n", "")
    assert floors(nothing_set) == dict.fromkeys(SAMPLED, FLOOR) | dict.fromkeys(COUNTS, 0)
    raised = floors(POLICY.format(floor="{TEU_LOADED: 25, '*': 12}"))
    assert raised == {**dict.fromkeys(SAMPLED, 12), "TEU_LOADED": 25, **dict.fromkeys(COUNTS, 12)}
    # Vessel counts are public facts: a role may leave them without a floor, provided every
    # aggregate over containers, trucks or moves keeps at least the hard one.
    counts_open = "{'*': 0, " + ", ".join(f"{m}: {FLOOR}" for m in SAMPLED) + "}"
    assert floors(POLICY.format(floor=counts_open)) == (
        dict.fromkeys(SAMPLED, FLOOR) | dict.fromkeys(COUNTS, 0)
    )


def test_the_gateway_does_not_start_with_a_lowered_floor(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(default_policy_text().replace("TEU_LOADED: 10", "TEU_LOADED: 2"))
    settings = load_settings(None, policy={"file": path})
    with pytest.raises(PolicyError, match="below the hard minimum of 10 samples"):
        create_app(settings)


def test_config_check_refuses_a_lowered_floor_and_says_why(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(floor="{TRUCK_TURN_TIME_MINUTES: 1}"))
    config = tmp_path / "portgate.yaml"
    config.write_text(f"policy:\n  file: {policy}\n")
    result = CliRunner().invoke(cli, ["config", "check", str(config)])
    assert result.exit_code == 2
    assert (
        "policy.yaml:4: min_sample_size 1 for TRUCK_TURN_TIME_MINUTES is below the hard minimum"
        in result.output.replace("\n", " ")
    )
    policy.write_text(POLICY.format(floor="{TRUCK_TURN_TIME_MINUTES: 10}"))
    result = CliRunner().invoke(cli, ["config", "check", str(config)])
    assert result.exit_code == 0, result.output


SHIPPED = yaml.safe_load(default_policy_text())["roles"]
# Who is trusted more than whom, from the roles' descriptions: each role sees at least as much
# as public, the least trusted; a role sees at least as much as the roles it builds on; the
# administrators and the auditor are trusted most.
MORE_TRUSTED = [
    (role, "public") for role in SHIPPED if role != "public"
] + [
    ("trucker", "public"), ("cargo_owner", "trucker"), ("port_operator", "public"),
    ("auditor", "state_analyst"), ("port_admin", "port_operator"), ("admin", "port_admin"),
    ("admin", "auditor"), ("admin", "state_analyst"), ("admin", "cargo_owner"),
]  # fmt: skip


@pytest.mark.parametrize(("trusted", "less"), MORE_TRUSTED)
def test_no_shipped_role_sees_less_than_a_less_trusted_one(trusted: str, less: str) -> None:
    text = default_policy_text()
    mine, theirs = floors(text, trusted), floors(text, less)
    assert all(mine[m] <= theirs[m] for m in mine), (trusted, mine, less, theirs)


@pytest.mark.parametrize("role", sorted(SHIPPED))
def test_every_shipped_role_admins_included_has_the_hard_floor(role: str) -> None:
    assert floors(default_policy_text(), role) == (
        dict.fromkeys(SAMPLED, FLOOR) | dict.fromkeys(COUNTS, 0)
    )
