"""The policy file: validated against the schema with every mistake on its line, reloaded when it
changes, and a broken new version never replaces the one in force."""

import locale
import logging
import os
import sys
from pathlib import Path

import pytest

from gateway.access.auth import ANONYMOUS, Principal
from gateway.access.policy_file import PolicyError, PolicyStore, default_policy_text, load_policy
from gateway.app import create_app
from gateway.config import load_settings
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
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    example = readme.split("### Write a policy")[1].split("```yaml\n")[1].split("```")[0]
    policy = load_policy(example, SCHEMA, PORTS, "README")
    assert set(policy.roles) == {"public", "trucker", "state_analyst", "lax_planner"}
    assert policy.sharing["USOAK"]["Container.availability"] == {"trucker"}


def mistakes(text: str, ports: tuple[str, ...] = PORTS) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy(text, SCHEMA, ports, "p.yaml")
    return str(caught.value).splitlines()


PUBLIC = "roles:\n  public:\n    allow: []\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# the policy\nports: {}\n", ["p.yaml:2: roles: Field required"]),
        ("- public\n", ["p.yaml:1: (top level): Input should be a valid dictionary ..."]),
        (PUBLIC + "ports: [USOAK]\n", ["p.yaml:4: ports: Input should be a valid dictionary"]),
        (PUBLIC + "    min_sample_size:\n      - 20\n",
         ["p.yaml:4: roles.public.min_sample_size: Input should be a valid dictionary",
          "p.yaml:4: roles.public.min_sample_size: Input should be a valid integer"]),
        ("", ["p.yaml:1: the policy is empty"]),
        ("# nothing yet\n", ["p.yaml:1: the policy is empty"]),
        ("ports: {}\nroles:\n  trucker:\n    allow: []\n",
         ["p.yaml:2: the 'public' role must be defined (it may allow nothing)"]),
        (PUBLIC + "  Trucker:\n    allow: []\n  cargo-owner:\n    allow: []\n"
                  "  tier_2:\n    allow: []\n",
         ["p.yaml:4: role name 'Trucker': use lower case letters, digits and _",
          "p.yaml:6: role name 'cargo-owner': use lower case letters, digits and _"]),
        (PUBLIC.replace("[]", "[Container.availability.lastFreeDay, .availability, Zzzqx.a]"),
         ["p.yaml:3: '.availability': write Type.field, Type.* or *",
          "p.yaml:3: unknown field Container.availability.lastFreeDay; did you mean availability?",
          "p.yaml:3: unknown type Zzzqx"]),
        (PUBLIC.replace("[]", "[__Type.name]"), ["p.yaml:3: unknown type __Type"]),
        (PUBLIC + "    min_sample_size: -1\n", ["p.yaml:4: min_sample_size must not be negative"]),
        (PUBLIC + "    ports:\n      - USLAX\n      - LAX\n      - USXYZ\n",
         ["p.yaml:6: 'LAX' is not a UN/LOCODE",
          "p.yaml:7: unknown port USXYZ (this gateway's ports: USLAX, USLGB, USOAK, USNTD, "
          "USSAN)"]),
        (PUBLIC + "ports:\n  USLAX: {}\n  USXYZ:\n    share: {}\n  LAX: {}\n",
         ["p.yaml:6: unknown port USXYZ (this gateway's ports: USLAX, USLGB, USOAK, USNTD, "
          "USSAN)",
          "p.yaml:8: 'LAX' is not a UN/LOCODE"]),
        (PUBLIC + "ports:\n  USOAK:\n    share:\n      Container.availabilty: [public]\n"
                  "      Container.equipmentReference: [public]\n",
         ["p.yaml:7: unknown field Container.availabilty; did you mean availability?",
          "p.yaml:8: Container.equipmentReference is non-null (an identifying key): it comes "
          "with its object and cannot be withheld"]),
        (PUBLIC + "  a:\n    inherits: [b]\n  b:\n    inherits:\n      - public\n      - a\n",
         ["p.yaml:5: inheritance cycle: b inherits itself through a",
          "p.yaml:9: inheritance cycle: a inherits itself through b"]),
    ],
)  # fmt: skip
def test_each_mistake_is_said_whole_on_its_line(text: str, expected: list[str]) -> None:
    """Word for word, but for the end of pydantic's own messages (`...`)."""
    said = mistakes(text)
    assert len(said) == len(expected), said
    for line, words in zip(said, expected, strict=True):
        if words.endswith(" ..."):
            assert line.startswith(words.removesuffix(" ...")), (line, words)
        else:
            assert line == words


def test_a_control_character_is_not_valid_yaml_on_line_one() -> None:
    said = mistakes(PUBLIC.replace("[]", "[Vessel.vesselName\x07]"))
    assert said[0].startswith("p.yaml:1: not valid YAML: unacceptable character #x0007")


def test_a_gateway_without_ports_says_so() -> None:
    assert mistakes(PUBLIC + "    ports: [USLAX]\n", ports=()) == [
        "p.yaml:4: unknown port USLAX (this gateway's ports: none)"
    ]


@pytest.mark.parametrize(
    ("granted", "said"),
    [
        ("Query.vesselCalls, Query.vessel, Query.outlook, Query.containers, Query.container",
         "Query.container, Query.containers, Query.outlook, Query.vessel, Query.vesselCalls"),
        ("Vessel.vesselName, Query.vesselCalls, Query.vessel, Query.outlook, Query.containers, "
         "Query.container",
         "Query.container, Query.containers, Query.outlook, Query.vessel, Query.vesselCalls ..."),
    ],
)  # fmt: skip
def test_an_aggregate_only_role_s_refusal_names_five_fields_and_says_when_there_are_more(
    granted: str, said: str
) -> None:
    text = PUBLIC + f"  analyst:\n    aggregates_only: true\n    allow: [Query.ports, {granted}]\n"
    assert mistakes(text) == [f"p.yaml:5: role analyst is aggregates-only but is granted {said}"]


def who_sees(text: str, coordinate: str, port: str) -> set[str]:
    policy = load_policy(text, SCHEMA, PORTS)
    return {
        role
        for role in policy.roles
        if policy.access(Principal("c", "", frozenset({role}), None, "api_key")).allows(
            coordinate, port
        )
    }


INHERITING = """\
roles:
  public:
    allow: [Query.ports, Port.*]
  trucker:
    inherits: [public]
    allow: [Query.container, Container.availability, ImportAvailability.*, Hold.*]
  analyst:
    allow: [Query.portMetrics, PortMetric.*]
  desk:
    inherits: [analyst, public, trucker]
  fleet:
    inherits: [trucker]
  cargo_owner:
    allow: [Query.container, Container.availability, ImportAvailability.*, Hold.*]
"""


def test_a_role_has_what_every_role_it_inherits_has_through_any_path() -> None:
    assert who_sees(INHERITING, "Port.name", "USLAX") == {"public", "trucker", "desk", "fleet"}
    assert who_sees(INHERITING, "PortMetric.value", "USLAX") == {"analyst", "desk"}
    assert who_sees(INHERITING, "Container.availability", "USLAX") == {
        "trucker", "desk", "fleet", "cargo_owner"
    }  # fmt: skip


def test_a_port_s_sharing_rule_reaches_the_roles_that_inherit_the_named_ones() -> None:
    text = INHERITING + "ports:\n  USOAK:\n    share:\n      Container.availability: [trucker]\n"
    assert who_sees(text, "Container.availability", "USOAK") == {"trucker", "desk", "fleet"}
    assert who_sees(text, "Container.availability", "USLAX") == {
        "trucker", "desk", "fleet", "cargo_owner"
    }  # fmt: skip


def test_a_field_named_by_two_of_a_port_s_rules_goes_to_the_roles_of_both() -> None:
    text = INHERITING + (
        "ports:\n  USOAK:\n    share:\n"
        "      Hold.*: [trucker]\n"
        "      Hold.description: [cargo_owner]\n"
    )
    both = {"trucker", "desk", "fleet", "cargo_owner"}
    assert who_sees(text, "Hold.description", "USOAK") == both
    assert who_sees(text, "Hold.updatedDateTime", "USOAK") == {"trucker", "desk", "fleet"}


def test_without_a_file_the_shipped_policy_is_in_force_and_never_reloaded() -> None:
    store = PolicyStore(None, SCHEMA, PORTS)
    assert set(store.current.roles) == DEFAULT_ROLES
    assert store.current.ports == PORTS
    assert store.last_error is None
    assert store.reload_if_changed() is False


def test_reloads_are_logged_and_an_unchanged_file_after_a_reload_is_not_read_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD)
    store = PolicyStore(path, SCHEMA, PORTS)
    assert store.last_error is None
    with caplog.at_level(logging.INFO, logger="gateway.access.policy_file"):
        replace(path, GOOD.replace("Query.container", "Query.contianer"))
        assert store.reload_if_changed() is False
        replace(path, GOOD.replace("      - Container.availability\n", ""))
        assert store.reload_if_changed() is True
        reloaded = store.current
        assert store.reload_if_changed() is False
        assert store.current is reloaded
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "policy not reloaded, the previous one stays in force:\n"
                  f"{path}:7: unknown field Query.contianer; did you mean container?"),
        ("INFO", f"policy reloaded from {path}"),
    ]  # fmt: skip


def test_a_policy_file_that_cannot_be_read_says_why(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD)
    store = PolicyStore(path, SCHEMA, PORTS)
    path.unlink()
    assert store.reload_if_changed() is False
    assert store.last_error == f"{path}: cannot read: No such file or directory"


def test_new_ports_recompile_the_policy_and_one_it_names_stays_until_it_is_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "policy.yaml"
    oakland = GOOD + "ports:\n  USOAK:\n    share:\n      Container.availability: [trucker]\n"
    path.write_text(oakland)
    store = PolicyStore(path, SCHEMA, ("USLAX", "USOAK"))
    in_force = store.current

    store.set_ports(["USLAX", "USOAK"])  # the same ports: nothing compiled
    assert store.current is in_force
    with caplog.at_level(logging.ERROR, logger="gateway.access.policy_file"):
        store.set_ports(["USLAX"])  # the policy names USOAK
    assert store.current is in_force
    assert store.last_error == f"{path}:11: unknown port USOAK (this gateway's ports: USLAX)"
    assert [r.getMessage() for r in caplog.records] == [
        f"policy not recompiled for the new ports, the previous one stays:\n{store.last_error}"
    ]

    replace(path, GOOD)  # the previous ports stay, and the file is read against them
    assert store.reload_if_changed() is True
    assert store.current.ports == ("USLAX", "USOAK")

    store.set_ports(["USLAX", "USOAK", "USLGB"])
    assert store.current.ports == ("USLAX", "USOAK", "USLGB")
    anyone = store.current.access(ANONYMOUS)
    assert anyone.reaches("USLGB")
    assert anyone.allows("Port.name", "USLGB")


@pytest.mark.skipif(sys.flags.utf8_mode, reason="in UTF-8 mode Python ignores the locale")
def test_a_policy_file_is_read_as_utf_8_whatever_the_locale(tmp_path: Path) -> None:
    """Under the C locale without Python's UTF-8 coercion the default encoding is ASCII."""
    path = tmp_path / "policy.yaml"
    path.write_text(
        GOOD.replace("  trucker:\n", "  trucker:\n    description: Hafenbeh\u00f6rde's Fahrer\n"),
        encoding="utf-8",
    )
    before = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        assert locale.getpreferredencoding(False) == "ANSI_X3.4-1968"  # ASCII
        store = PolicyStore(path, SCHEMA, ["USLAX"])
    finally:
        locale.setlocale(locale.LC_CTYPE, before)
    assert sorted(store.current.roles) == ["public", "trucker"]
