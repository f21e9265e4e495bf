"""The policy file: validated against the schema with every mistake on its line, reloaded when it
changes, and a broken new version never replaces the one in force."""

import os
from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.auth import ANONYMOUS, Principal
from gateway.config import load_settings
from gateway.policy_file import PolicyError, PolicyStore, default_policy_text, load_policy
from gateway.schema import build_schema

SCHEMA = build_schema()._schema
PORTS = ("USLAX", "USLGB", "USOAK", "USNTD", "USSAN")
DEFAULT_ROLES = {"public", "trucker", "cargo_owner", "port_operator", "state_analyst", "auditor",
                 "port_admin", "admin"}  # fmt: skip

GOOD = """\
roles:
  public:
    allow: [Query.ports, Port.*, Terminal.*]
  trucker:
    inherits: [public]
    allow:
      - Query.container
      - Container.availability
      - ImportAvailability.*
"""


def replace(path: Path, text: str) -> None:
    """Write a new version the way editors and Kubernetes do: a new file moved into place."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def test_the_shipped_policy_defines_the_roles_of_the_domain() -> None:
    policy = load_policy(default_policy_text(), SCHEMA, PORTS)
    assert set(policy.roles) == DEFAULT_ROLES
    analyst = policy.access(Principal("a", "", frozenset({"state_analyst"}), None, "api_key"))
    assert analyst.allows("PortMetric.value", "USLAX")
    assert not analyst.allows("Query.container", "USLAX")
    assert analyst.min_sample_size("TEU_LOADED") == 10


def test_a_typo_is_rejected_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD.replace("Container.availability", "Container.availabilty"))
    with pytest.raises(PolicyError) as caught:
        PolicyStore(path, SCHEMA, PORTS)
    assert str(caught.value) == (
        f"{path}:8: unknown field Container.availabilty; did you mean availability?"
    )


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (GOOD.replace("allow: [Query", "alow: [Query"), 3, "roles.public.alow: unknown key"),
        (GOOD.replace("inherits: [public]", "inherits: [publik]"), 5,
         "unknown role publik; did you mean public?"),
        (GOOD.replace("ImportAvailability.*", "ImportAvailabilty.*"), 9,
         "unknown type ImportAvailabilty; did you mean ImportAvailability?"),
        (GOOD.replace("Container.availability", "Container.driverName"), 8,
         "unknown field Container.driverName (labor data: no policy can grant it)"),
        (GOOD.replace("Terminal.*]", "Terminal.*]\n    ports: [USXYZ]"), 4,
         "unknown port USXYZ (this gateway's ports: USLAX, USLGB, USOAK, USNTD, USSAN)"),
        (GOOD.replace("public:\n", "public:\n    aggregates_only: true\n    min_sample_size: "
                      "{TEU_LOADID: 5}\n").replace("Terminal.*]", "Terminal.*, Vessel.vesselName]"),
         4, "unknown metric TEU_LOADID; did you mean TEU_LOADED?"),
        (GOOD + "ports:\n  USOAK:\n    share:\n      Container.equipmentReference: [trucker]\n",
         13, "Container.equipmentReference is non-null (an identifying key)"),
        (GOOD + "ports:\n  USOAK:\n    share:\n      Container.availability: [truckr]\n",
         13, "unknown role truckr; did you mean trucker?"),
        (GOOD.replace("trucker:", "public:"), 4, "'public' given twice"),
        (GOOD.replace("inherits: [public]", "inherits: [public"), 6,
         "not valid YAML: expected ',' or ']'"),
        ("roles:\n  trucker:\n    allow: []\n", 1, "the 'public' role must be defined"),
    ],
)  # fmt: skip
def test_mistakes_name_their_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as caught:
        PolicyStore(path, SCHEMA, PORTS)
    assert f"{path}:{line}: {message}" in str(caught.value)


def test_an_aggregate_only_role_granted_cargo_fields_is_refused() -> None:
    text = GOOD.replace("trucker:\n", "trucker:\n    aggregates_only: true\n")
    with pytest.raises(PolicyError, match=r"policy:5: role trucker is aggregates-only but is "
                       r"granted Container.availability, ImportAvailability"):  # fmt: skip
        load_policy(text, SCHEMA, PORTS)


def test_every_mistake_is_reported_at_once() -> None:
    text = GOOD.replace("Port.*", "Prot.*").replace("[public]", "[publc]")
    with pytest.raises(PolicyError) as caught:
        load_policy(text, SCHEMA, PORTS, "p.yaml")
    assert str(caught.value).splitlines() == [
        "p.yaml:3: unknown type Prot; did you mean Port?",
        "p.yaml:5: unknown role publc; did you mean public?",
    ]


def test_a_changed_policy_is_reloaded_and_a_broken_one_keeps_the_old_in_force(
    tmp_path: Path,
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD)
    store = PolicyStore(path, SCHEMA, PORTS)
    trucker = Principal("t", "", frozenset({"trucker"}), None, "api_key")
    assert store.current.access(trucker).allows("Container.availability", "USLAX")
    assert store.reload_if_changed() is False  # unchanged: one stat, nothing read

    replace(path, GOOD.replace("      - Container.availability\n", ""))
    assert store.reload_if_changed() is True
    assert not store.current.access(trucker).allows("Container.availability", "USLAX")

    in_force = store.current
    replace(path, GOOD.replace("Query.container", "Query.contianer"))
    assert store.reload_if_changed() is False
    assert store.current is in_force
    assert store.last_error == (f"{path}:7: unknown field Query.contianer; did you mean container?")
    assert store.reload_if_changed() is False  # the broken version is not read again

    replace(path, GOOD)
    assert store.reload_if_changed() is True
    assert store.last_error is None
    assert store.current.access(trucker).allows("Container.availability", "USLAX")


def test_a_deleted_policy_file_keeps_the_policy_in_force(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD)
    store = PolicyStore(path, SCHEMA, PORTS)
    in_force = store.current
    path.unlink()
    assert store.reload_if_changed() is False
    assert store.current is in_force
    assert store.last_error is not None


def test_the_gateway_does_not_start_with_a_broken_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD.replace("Terminal.*", "Terminal.**"))
    settings = load_settings(None, policy={"file": path})
    with pytest.raises(PolicyError, match=r"policy.yaml:3: unknown field Terminal.\*\*"):
        create_app(settings)


def test_roles_no_policy_defines_grant_nothing() -> None:
    policy = load_policy(GOOD, SCHEMA, PORTS)
    stranger = Principal("x", "", frozenset({"ceo"}), None, "oidc")
    assert policy.access(stranger).visible == {}
    assert policy.access(ANONYMOUS).allows("Port.name", "USOAK")


def test_a_config_file_finds_its_policy_and_key_file_next_to_it(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(GOOD)
    config = tmp_path / "portgate.yaml"
    config.write_text("policy:\n  file: policy.yaml\n  on_denied: reject\n")
    settings = load_settings(config)
    assert settings.policy.file == tmp_path / "policy.yaml"
    assert settings.policy.on_denied == "reject"
    assert settings.auth.api_keys.database == tmp_path / "portgate-keys.sqlite3"


def test_the_readme_policy_example_is_a_valid_policy() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    example = readme.split("### Write a policy")[1].split("```yaml\n")[1].split("```")[0]
    policy = load_policy(example, SCHEMA, PORTS, "README")
    assert set(policy.roles) == {"public", "trucker", "state_analyst", "lax_planner"}
    assert policy.sharing["USOAK"]["Container.availability"] == {"trucker"}
