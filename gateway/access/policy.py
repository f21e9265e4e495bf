"""Field-level policy: which role sees which field, at which port.

The policy is one YAML file (the gateway ships ``gateway/access/default_policy.yaml``; set
``policy.file`` to use your own). It is validated against the schema at start-up and reloaded
when it changes (:mod:`gateway.access.policy_file`). Its format::

    roles:
      public:                       # every request without a credential has this role
        description: Anyone.
        allow:                      # schema coordinates this role may see
          - Query.vesselCalls       #   a root field: may ask it at all
          - VesselCall.*            #   every field of a type
          - Container.status        #   one field
        min_sample_size:            # PortMetric.value is null below this sampleSize:
          TRUCK_TURN_TIME_MINUTES: 20   # per metric, or one number for every metric
      trucker:
        inherits: [public]          # everything public may see, plus:
        allow: [Container.availability, ImportAvailability.*, Hold.*]
      state_analyst:
        aggregates_only: true       # may be granted only portMetrics and the port list
        allow: [Query.portMetrics, PortMetric.*, Query.ports, Port.*, Terminal.*]
      port_admin:
        ports: [USLAX]              # sees its fields at these ports only
        allow: ["*"]                # every field of every type
    ports:
      USOAK:                        # a port's own sharing rules narrow what roles see of it
        share:
          Container.availability: [trucker, cargo_owner]   # only these roles (or roles that
                                                            # inherit them), only from USOAK
          Hold.*: [trucker]                                 # a field two rules name goes to
          Hold.description: [cargo_owner]                   # the roles of both

Rules:

- A role sees what its ``allow`` list and the roles it ``inherits`` grant, nothing else. A
  caller with several roles sees what any of them sees: the union of their fields, and for each
  metric the lowest of the minimum sample sizes of its roles that may see metric values.
- Aggregates over containers, trucks or moves (dwell, truck turn time, TEU) are never shown
  over fewer than :data:`~portcontract.aggregates.HARD_MIN_SAMPLE_SIZE` (10) samples, for any
  role, admins included: ``min_sample_size`` may raise that floor, and a policy that would
  lower it is refused. Counts of vessels at anchor or at berth are public facts and have no
  floor unless a role sets one.
- Non-null fields (identifying keys such as ``Container.equipmentReference``) come with their
  object: they cannot be withheld, and a port's sharing rule may not name them.
- A field the caller may not see is removed from the document sent to each port before it is
  sent, so the port is never asked for it. In the answer it is ``null``, with one
  ``FORBIDDEN_FIELD`` error naming the coordinate (or, with ``policy.on_denied: reject``, the
  whole request is refused with HTTP 403).
- The policy depends on roles only, never on who the caller is: everyone in a role gets the
  same fields from the same ports. An API key may be bound to some ports, which narrows (never
  widens) what its roles reach.
- Labor data cannot be granted: the schema has no such field (Cal. Gov. Code 12100.131).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.access.auth import Principal
from portcontract.aggregates import hard_floor

ALL_METRICS = "*"  # min_sample_size key that applies to every metric


@dataclass(frozen=True, slots=True)
class RoleRule:
    """One role, compiled: wildcards expanded and inherited grants included."""

    name: str
    allow: frozenset[str]  # coordinates, ``Type.field``
    ports: frozenset[str] | None  # None: every port
    ancestry: frozenset[str]  # the role and every role it inherits, transitively
    min_sample_size: Mapping[str, int]  # metric (or ALL_METRICS) -> least sampleSize shown


@dataclass(frozen=True, slots=True)
class Access:
    """What one set of roles (and an API key's ports) may see: the planner's only view of the
    policy. ``visible[port]`` holds the coordinates visible at that port."""

    roles: frozenset[str]
    visible: Mapping[str, frozenset[str]]
    granted: frozenset[str]  # granted by some role at some port, before ports' sharing rules
    structural: frozenset[str]  # non-null coordinates: come with their object
    min_sample_sizes: Mapping[str, int] = field(default_factory=dict)

    def allows(self, coordinate: str, port: str) -> bool:
        return coordinate in self.structural or coordinate in self.visible.get(port, ())

    def reaches(self, port: str) -> bool:
        return bool(self.visible.get(port))

    def role_grants(self, coordinate: str) -> bool:
        return coordinate in self.structural or coordinate in self.granted

    def min_sample_size(self, metric: str) -> int:
        """The least ``sampleSize`` a value of ``metric`` is shown with: never below the hard
        minimum for aggregates over containers, trucks or moves."""
        sizes = self.min_sample_sizes
        return max(sizes.get(metric, sizes.get(ALL_METRICS, 0)), hard_floor(metric))


class Policy:
    """A validated policy (see the module docstring), answering :meth:`access` per principal."""

    def __init__(
        self,
        roles: Mapping[str, RoleRule],
        sharing: Mapping[str, Mapping[str, frozenset[str]]],
        ports: tuple[str, ...],
        structural: frozenset[str],
        source: str,
    ) -> None:
        self.roles = dict(roles)
        self.sharing = {port: dict(rules) for port, rules in sharing.items()}
        self.ports = ports
        self.structural = structural
        self.source = source  # where it was read from, for messages
        self._cache: dict[tuple[frozenset[str], frozenset[str] | None], Access] = {}

    def access(self, principal: Principal) -> Access:
        """What ``principal`` may see. Roles the policy does not define grant nothing."""
        roles = frozenset(r for r in principal.roles if r in self.roles)
        key = (roles, principal.ports)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._compile(roles, principal.ports)
        return cached

    def _compile(self, roles: frozenset[str], key_ports: frozenset[str] | None) -> Access:
        rules = [self.roles[r] for r in sorted(roles)]
        visible: dict[str, frozenset[str]] = {}
        for port in self.ports:
            if key_ports is not None and port not in key_ports:
                continue
            shares = self.sharing.get(port, {})
            seen: set[str] = set()
            for rule in rules:
                if rule.ports is not None and port not in rule.ports:
                    continue
                seen.update(c for c in rule.allow if c not in shares or shares[c] & rule.ancestry)
            if seen:
                visible[port] = frozenset(seen)
        granted = frozenset().union(*(rule.allow for rule in rules))
        return Access(
            roles=roles,
            visible=visible,
            granted=granted,
            structural=self.structural,
            min_sample_sizes=_least_sample_sizes(
                [r for r in rules if "PortMetric.value" in r.allow]
            ),
        )


def _least_sample_sizes(rules: list[RoleRule]) -> dict[str, int]:
    """Per metric, the most lenient minimum among the roles that may see metric values (each
    role's own never below the hard minimum: :meth:`Access.min_sample_size`)."""
    if not rules:
        return {}
    metrics = set().union(*(r.min_sample_size for r in rules)) | {ALL_METRICS}

    def floor(rule: RoleRule, metric: str) -> int:
        sizes = rule.min_sample_size
        return max(sizes.get(metric, sizes.get(ALL_METRICS, 0)), hard_floor(metric))

    return {metric: min(floor(r, metric) for r in rules) for metric in metrics}
