"""Reading the policy file: YAML -> a validated :class:`~gateway.access.policy.Policy`, and
reloading it.

Every mistake is reported with the line it is on (``policy.yaml:12: unknown field
Container.availabilty; did you mean availability?``): unknown keys, roles, types, fields,
ports and metrics, inheritance cycles, aggregate-only roles granted more than aggregates,
sharing rules that name a non-null field, and a ``min_sample_size`` below the hard minimum for
aggregates over containers, trucks or moves (:mod:`portcontract.aggregates`), which no
configuration can lower. All mistakes are reported at once.

:class:`PolicyStore` holds the policy in force. ``reload_if_changed()`` costs one ``stat`` when
nothing changed (the pipeline calls it on every operation); a changed file is read again, and a
broken new version is logged and ignored: the previous policy stays in force.
"""

import difflib
import logging
import os
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from graphql import GraphQLNonNull, GraphQLObjectType, GraphQLSchema
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.access.auth import PUBLIC_ROLE
from gateway.access.policy import ALL_METRICS, Policy, RoleRule
from portcontract.aggregates import HARD_MIN_SAMPLE_SIZE, SAMPLED_METRICS
from portcontract.identifiers import UNLOCODE_PATTERN
from portcontract.labor import is_labor_key

log = logging.getLogger(__name__)

DEFAULT_POLICY = "default_policy.yaml"
ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
EVERYTHING = "*"
AGGREGATE_TYPES = frozenset({"PortMetric", "Port", "Terminal"})
AGGREGATE_ROOT_FIELDS = frozenset({"Query.portMetrics", "Query.ports"})
METRIC_ENUM = "PortMetricType"

Path_ = tuple[str | int, ...]


class PolicyError(Exception):
    """A policy file that cannot be used; one line per mistake, each naming its line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _RoleEntry(_Strict):
    description: str = ""
    inherits: list[str] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list)
    ports: list[str] | None = None
    aggregates_only: bool = False
    min_sample_size: int | dict[str, int] | None = None


class _PortEntry(_Strict):
    share: dict[str, list[str]] = Field(default_factory=dict)


class _PolicyDocument(_Strict):
    roles: dict[str, _RoleEntry]
    ports: dict[str, _PortEntry] = Field(default_factory=dict)


def default_policy_text() -> str:
    return resources.files("gateway.access").joinpath(DEFAULT_POLICY).read_text(encoding="utf-8")


def load_policy(
    text: str, schema: GraphQLSchema, ports: Sequence[str], source: str = "policy"
) -> Policy:
    """Validate ``text`` against ``schema`` and the gateway's ``ports``; raise PolicyError."""
    return _Reader(text, schema, tuple(ports), source).read()


class _Reader:
    def __init__(
        self, text: str, schema: GraphQLSchema, ports: tuple[str, ...], source: str
    ) -> None:
        self.text = text
        self.ports = ports
        self.source = source
        self.types = {
            name: t
            for name, t in schema.type_map.items()
            if isinstance(t, GraphQLObjectType) and not name.startswith("__")
        }
        metric_enum = schema.type_map.get(METRIC_ENUM)
        self.metrics = frozenset(getattr(metric_enum, "values", {}) or {})
        self.structural = frozenset(
            f"{type_name}.{field_name}"
            for type_name, t in self.types.items()
            for field_name, f in t.fields.items()
            if isinstance(f.type, GraphQLNonNull)
        )
        self.lines: dict[Path_, int] = {}
        self.errors: list[tuple[int, str]] = []

    def error(self, path: Path_, message: str) -> None:
        line = next(
            (self.lines[path[:n]] for n in range(len(path), -1, -1) if path[:n] in self.lines), 1
        )
        self.errors.append((line, message))

    def read(self) -> Policy:
        data = self._parse()
        try:
            document = _PolicyDocument.model_validate(data)
        except ValidationError as exc:
            for e in exc.errors():
                # The longest part of the error's location that is in the file (pydantic adds
                # the names of union members, like "int", after the key).
                loc = next(
                    (
                        e["loc"][:n]
                        for n in range(len(e["loc"]), 0, -1)
                        if e["loc"][:n] in self.lines
                    ),
                    (),
                )
                message = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
                # A missing key is not in the file: its line is its parent's, its name its own.
                named = e["loc"] if e["type"] == "missing" else loc
                self.error(loc, f"{'.'.join(str(p) for p in named) or '(top level)'}: {message}")
            self._raise()
        roles = self._roles(document)
        sharing = self._sharing(document, set(document.roles))
        self._raise()
        return Policy(roles, sharing, self.ports, self.structural, self.source)

    def _raise(self) -> None:
        if self.errors:
            errors = sorted(set(self.errors))
            lines = [f"{self.source}:{line}: {message}" for line, message in errors]
            raise PolicyError("\n".join(lines))

    # -- YAML with line numbers ----------------------------------------------------------------

    def _parse(self) -> Any:
        try:
            node = yaml.compose(self.text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark is not None else 1
            raise PolicyError(f"{self.source}:{line}: not valid YAML: {exc.problem}") from None
        except yaml.YAMLError as exc:
            raise PolicyError(f"{self.source}:1: not valid YAML: {exc}") from None
        if node is None:
            raise PolicyError(f"{self.source}:1: the policy is empty")
        self._mark(node, ())
        self._raise()  # duplicate keys
        return yaml.safe_load(self.text)

    def _mark(self, node: yaml.Node, path: Path_) -> None:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in seen:
                    self.errors.append((key_node.start_mark.line + 1, f"{key!r} given twice"))
                seen.add(key)
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                self._mark(value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._mark(item, (*path, index))

    # -- meaning -------------------------------------------------------------------------------

    def _roles(self, document: _PolicyDocument) -> dict[str, RoleRule]:
        entries = document.roles
        if PUBLIC_ROLE not in entries:
            self.error(
                ("roles",), f"the {PUBLIC_ROLE!r} role must be defined (it may allow nothing)"
            )
        own: dict[str, set[str]] = {}
        for name, entry in entries.items():
            at = ("roles", name)
            if not ROLE_NAME.match(name):
                self.error(at, f"role name {name!r}: use lower case letters, digits and _")
            own[name] = set()
            for index, text in enumerate(entry.allow):
                own[name] |= self._coordinates(text, (*at, "allow", index))
            for index, parent in enumerate(entry.inherits):
                if parent not in entries:
                    self.error((*at, "inherits", index), self._unknown_role(parent, entries))
            self._check_ports(entry.ports, (*at, "ports"))
            self._check_metrics(entry.min_sample_size, (*at, "min_sample_size"))
        rules = {}
        for name, entry in entries.items():
            ancestry = self._ancestry(name, entries)
            allow = frozenset().union(*(own[r] for r in ancestry if r in own))
            if entry.aggregates_only:
                beyond = sorted(c for c in allow - self.structural if not _is_aggregate(c))
                if beyond:
                    self.error(
                        ("roles", name, "aggregates_only"),
                        f"role {name} is aggregates-only but is granted {', '.join(beyond[:5])}"
                        + (" ..." if len(beyond) > 5 else ""),
                    )
            rules[name] = RoleRule(
                name=name,
                allow=allow,
                ports=None if entry.ports is None else frozenset(entry.ports),
                ancestry=ancestry,
                min_sample_size=_sample_sizes(entry.min_sample_size),
            )
        return rules

    def _ancestry(self, name: str, entries: dict[str, _RoleEntry]) -> frozenset[str]:
        seen: set[str] = set()
        order = [name]
        while order:
            current = order.pop()
            if current in seen or current not in entries:
                continue
            seen.add(current)
            for index, parent in enumerate(entries[current].inherits):
                if parent == name:
                    self.error(
                        ("roles", current, "inherits", index),
                        f"inheritance cycle: {name} inherits itself through {current}",
                    )
                order.append(parent)
        return frozenset(seen)

    def _sharing(
        self, document: _PolicyDocument, roles: set[str]
    ) -> dict[str, dict[str, frozenset[str]]]:
        sharing: dict[str, dict[str, frozenset[str]]] = {}
        for port, entry in document.ports.items():
            at: Path_ = ("ports", port)
            self._check_ports([port], at)
            rules: dict[str, frozenset[str]] = {}
            for text, allowed in entry.share.items():
                where = (*at, "share", text)
                coordinates = self._coordinates(text, where) - self.structural
                if text in self.structural:
                    self.error(
                        where,
                        f"{text} is non-null (an identifying key): it comes with its object "
                        "and cannot be withheld",
                    )
                for index, role in enumerate(allowed):
                    if role not in roles:
                        self.error((*where, index), self._unknown_role(role, roles))
                for coordinate in coordinates:
                    rules[coordinate] = rules.get(coordinate, frozenset()) | frozenset(allowed)
            sharing[port] = rules
        return sharing

    def _coordinates(self, text: str, at: Path_) -> set[str]:
        """``Type.field``, ``Type.*`` or ``*``, expanded; an error (and nothing) if unknown."""
        if text == EVERYTHING:
            return {f"{t}.{f}" for t, type_ in self.types.items() for f in type_.fields}
        type_name, dot, field_name = text.partition(".")
        if not dot or not type_name or not field_name:
            self.error(at, f"{text!r}: write Type.field, Type.* or *")
            return set()
        type_ = self.types.get(type_name)
        if type_ is None:
            self.error(at, f"unknown type {type_name}{_suggest(type_name, self.types)}")
            return set()
        if field_name == "*":
            return {f"{type_name}.{f}" for f in type_.fields}
        if field_name not in type_.fields:
            reason = " (labor data: no policy can grant it)" if is_labor_key(field_name) else ""
            self.error(
                at,
                f"unknown field {text}{reason}{_suggest(field_name, type_.fields)}",
            )
            return set()
        return {text}

    def _check_ports(self, ports: list[str] | None, at: Path_) -> None:
        for index, port in enumerate(ports or ()):
            where = (*at, index)  # (ports, PORT, 0) is not in the file: error() uses PORT's line
            if not UNLOCODE_PATTERN.match(port):
                self.error(where, f"{port!r} is not a UN/LOCODE")
            elif port not in self.ports:
                known = ", ".join(self.ports) or "none"
                self.error(where, f"unknown port {port} (this gateway's ports: {known})")

    def _check_metrics(self, sizes: int | dict[str, int] | None, at: Path_) -> None:
        values = [sizes] if isinstance(sizes, int) else list((sizes or {}).values())
        if any(v < 0 for v in values):
            self.error(at, "min_sample_size must not be negative")
        for metric in sizes if isinstance(sizes, dict) else ():
            if metric != ALL_METRICS and metric not in self.metrics:
                self.error(
                    (*at, metric), f"unknown metric {metric}{_suggest(metric, self.metrics)}"
                )
        for where, value, metrics in _floors(sizes, at):
            if 0 <= value < HARD_MIN_SAMPLE_SIZE and metrics:
                self.error(
                    where,
                    f"min_sample_size {value} for {', '.join(metrics)} is below the hard "
                    f"minimum of {HARD_MIN_SAMPLE_SIZE} samples for aggregates over "
                    "containers, trucks or moves (labor privacy, Cal. Gov. Code "
                    "12100.131(b)(3)): a policy may raise it, never lower it",
                )

    @staticmethod
    def _unknown_role(name: str, known: Any) -> str:
        return f"unknown role {name}{_suggest(name, known)}"


def _is_aggregate(coordinate: str) -> bool:
    return coordinate in AGGREGATE_ROOT_FIELDS or coordinate.partition(".")[0] in AGGREGATE_TYPES


def _floors(sizes: int | dict[str, int] | None, at: Path_) -> list[tuple[Path_, int, list[str]]]:
    """Each floor a role sets, where it is, and which sampled metrics it would apply to."""
    if sizes is None:
        return []
    if isinstance(sizes, int):
        return [(at, sizes, sorted(SAMPLED_METRICS))]
    floors = []
    for metric, value in sizes.items():
        if metric == ALL_METRICS:  # applies to the sampled metrics the role does not name
            applies = sorted(SAMPLED_METRICS - set(sizes))
        else:
            applies = [metric] if metric in SAMPLED_METRICS else []
        floors.append(((*at, metric), value, applies))
    return floors


def _sample_sizes(value: int | dict[str, int] | None) -> dict[str, int]:
    if value is None:
        return {}
    if isinstance(value, int):
        return {ALL_METRICS: value}
    return dict(value)


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]}?" if close else ""


class PolicyStore:
    """The policy in force, from a file (reloaded when it changes) or the shipped default."""

    def __init__(self, path: Path | None, schema: GraphQLSchema, ports: Sequence[str]) -> None:
        self.path = path
        self._schema = schema
        self._ports = tuple(ports)
        self._signature = self._stat()
        self.last_error: str | None = None  # why the latest change was not taken, if it was not
        self._policy = self._load()  # at start-up a broken policy is fatal: PolicyError

    @property
    def current(self) -> Policy:
        return self._policy

    def set_ports(self, ports: Sequence[str]) -> None:
        """Compile the policy again for the registry's ports (registered or removed ones).
        A policy that names a port no longer registered keeps the previous version in force."""
        if tuple(ports) == self._ports:
            return
        previous = self._ports
        self._ports = tuple(ports)
        try:
            self._policy = self._load()
        except PolicyError as exc:
            self._ports = previous
            self.last_error = str(exc)
            log.error("policy not recompiled for the new ports, the previous one stays:\n%s", exc)

    def reload_if_changed(self) -> bool:
        """Read the file again if it changed; True when a new policy is now in force."""
        if self.path is None:
            return False
        signature = self._stat()
        if signature == self._signature:
            return False
        self._signature = signature
        try:
            policy = self._load()
        except PolicyError as exc:
            self.last_error = str(exc)
            log.error("policy not reloaded, the previous one stays in force:\n%s", exc)
            return False
        self._policy, self.last_error = policy, None
        log.info("policy reloaded from %s", self.path)
        return True

    def _load(self) -> Policy:
        if self.path is None:
            return load_policy(default_policy_text(), self._schema, self._ports, DEFAULT_POLICY)
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(f"{self.path}: cannot read: {exc.strerror}") from None
        return load_policy(text, self._schema, self._ports, str(self.path))

    def _stat(self) -> tuple[int, int, int] | None:
        """What changes when the file does: inode (editors and Kubernetes replace the file),
        size and modification time."""
        if self.path is None:
            return None
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return (stat.st_ino, stat.st_size, stat.st_mtime_ns)
