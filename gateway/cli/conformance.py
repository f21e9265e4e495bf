"""Does a port resolver keep the shared contract? ``portgate conformance URL --port USXXX``.

A port runs this against its resolver before registering it. Each check is one line of the
report, passed or failed with the reason; one failed check does not stop the others. The checks:

- ``healthz``: ``GET /healthz`` (beside ``/graphql``) answers 200.
- ``schema``: introspection answers a schema in which every type, field, argument and enum value
  of the contract (``schema.graphql``, less the gateway-only root fields) is present with the
  same type. A resolver may add; it may not change or leave out.
- ``ports``: ``ports`` lists exactly this port.
- ``bad container number``: an ISO 6346 number with a wrong check digit is ``BAD_USER_INPUT``.
- ``vessel calls paging``: every page in planned-arrival order, each cursor the shared
  keyset cursor (:mod:`portcontract.cursor`) of its call (keyed by its port visit reference
  when it has one), all pages together without gaps or
  duplicates (two page sizes give the same list), ``totalCount`` and ``pageInfo`` consistent.
- ``derived fields``: for the containers named with ``--container``, ``isISO6346Valid`` agrees
  with the number and ``sourcePort`` is this port.
- ``optional capabilities``: each optional field of the contract
  (:data:`portcontract.capabilities.OPTIONAL_FIELDS`: cut-offs, gate hours, appointments, empty
  returns and deadlines, rail legs) is either offered or said to be not offered (a
  ``NOT_OFFERED`` notice naming it, the field null everywhere), never both and never silently
  null. What a port offers is checked for sense: cut-offs before the call's planned arrival and
  receiving opening before delivery closes; gate days in order, each open one with periods that
  close after they open and do not overlap, each closed one without; appointment slots that
  end after they start and a full slot with no appointment left; empty-return rules once per
  day, carrier and size type; a rail leg's departure time with its classifier. With
  ``--offers COORDINATE`` (repeatable) the port claims the field, and not offering it fails.
- ``credential``: with ``--token`` (the resolver's ``gateway_token``, which every request
  above carries), a request without it is refused with 401 or 403: the resolver answers only
  the gateway. Without ``--token``, the resolver must answer without a credential.
- ``no labor keys``: no key of any GraphQL answer (HTTP 200) is a labor-type key
  (:mod:`portcontract.labor`).
- ``cache-control``: every GraphQL answer (HTTP 200) carries ``Cache-Control``.

These last two judge only what the resolver answered: when every request was refused (a
resolver that wants a credential, checked without ``--token``), they fail, saying so.
"""

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import httpx
from graphql import (
    IntrospectionQuery,
    build_client_schema,
    get_introspection_query,
)

from gateway.cli.conformance_optional import OPTIONAL, OPTIONAL_PATHS, optional_problems, values_at
from gateway.cli.conformance_schema import contract_schema, schema_differences
from portcontract.capabilities import (
    OPTIONAL_FIELDS,
)
from portcontract.cursor import call_key, decode_cursor, sort_key
from portcontract.errors import COORDINATE_EXTENSION, NOT_OFFERED
from portcontract.identifiers import is_iso6346, iso6346_check_digit
from portcontract.labor import is_labor_key

PAGE_SIZES = (7, 13)  # two sizes whose page breaks differ, so a gap in one shows in the other
MAX_PAGES = 2_000  # a resolver that never says hasNextPage: false is cut off here
BAD_CONTAINER_PREFIX = "MSCU123456"
TOKEN_VARIABLE = "PORTGATE_PORT_TOKEN"  # where `portgate conformance` reads --token from, unset

CALLS = """query ConformanceCalls($first: Int!, $after: String) {
  vesselCalls(first: $first, after: $after) {
    edges { cursor node {
      UNLocationCode transportCallReference portVisitReference plannedArrivalDateTime
    } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}"""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of the report."""

    name: str
    passed: bool
    detail: str


class Fault(Exception):
    """A check failed; the message says why."""


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise Fault(reason)


@dataclass
class ResolverConformance:
    """The checks against one resolver endpoint, through ``client`` (no redirects followed)."""

    url: str
    port: str
    client: httpx.AsyncClient
    containers: Sequence[str] = ()
    token: str | None = None
    on_result: Callable[[CheckResult], None] | None = None  # each result as soon as it is known
    offers: Sequence[str] = ()  # optional fields the port claims: not offering one fails
    answers: list[httpx.Response] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token is not None else {}

    async def run(self) -> list[CheckResult]:
        checks: list[tuple[str, Callable[[], Awaitable[str]]]] = [
            ("healthz", self.check_healthz),
            ("schema", self.check_schema),
            ("ports", self.check_ports),
            ("bad container number", self.check_bad_container),
            ("vessel calls paging", self.check_paging),
            ("derived fields", self.check_derived_fields),
            ("optional capabilities", self.check_optional),
            ("credential", self.check_credential),
            # Last: these two judge every answer the checks above received.
            ("no labor keys", self.check_no_labor_keys),
            ("cache-control", self.check_cache_control),
        ]
        results = []
        for name, check in checks:
            try:
                result = CheckResult(name, True, await check())
            except Fault as exc:
                result = CheckResult(name, False, str(exc))
            except (
                httpx.HTTPError,
                ValueError,
                KeyError,
                TypeError,
                IndexError,
                AttributeError,
            ) as exc:  # an answer of another shape than asked
                result = CheckResult(name, False, f"{type(exc).__name__}: {exc}")
            results.append(result)
            if self.on_result is not None:
                self.on_result(result)
        return results

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.client.post(
            self.url, json={"query": query, "variables": variables}, headers=self.headers
        )
        self.answers.append(response)
        if response.status_code in (401, 403) and self.token is None:
            raise Fault(
                f"HTTP {response.status_code} from {self.url}: the resolver wants a credential; "
                f"pass its gateway_token with --token (or in {TOKEN_VARIABLE})"
            )
        if response.status_code in (401, 403):
            raise Fault(f"HTTP {response.status_code} from {self.url}: the token was refused")
        _require(response.status_code == 200, f"HTTP {response.status_code} from {self.url}")
        body = response.json()
        if not isinstance(body, dict):
            raise Fault("the answer is not a JSON object")
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.post(query, variables)
        errors = body.get("errors")
        _require(not errors, f"errors: {errors}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise Fault("no data in the answer")
        return data

    async def check_healthz(self) -> str:
        health_url = self.url.rsplit("/", 1)[0] + "/healthz"
        response = await self.client.get(health_url)
        _require(response.status_code == 200, f"GET {health_url}: HTTP {response.status_code}")
        return f"GET {health_url}: 200"

    async def check_schema(self) -> str:
        data = await self.data(get_introspection_query(descriptions=False))
        served = build_client_schema(cast(IntrospectionQuery, data))
        differences = list(schema_differences(contract_schema(), served))
        _require(not differences, "; ".join(differences[:8]) + _more(differences, 8))
        return "every type, field and argument of the contract, with the same types"

    async def check_ports(self) -> str:
        data = await self.data("{ ports { UNLocationCode name } }")
        codes = [p["UNLocationCode"] for p in data["ports"] or []]
        _require(codes == [self.port], f"ports answered {codes}, expected [{self.port!r}]")
        return f"exactly {self.port}"

    async def check_bad_container(self) -> str:
        wrong = (iso6346_check_digit(BAD_CONTAINER_PREFIX) + 1) % 10
        reference = f"{BAD_CONTAINER_PREFIX}{wrong}"
        body = await self.post(
            "query Bad($r: String!) { container(reference: $r) { equipmentReference } }",
            {"r": reference},
        )
        codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
        _require("BAD_USER_INPUT" in codes, f"{reference}: error codes {codes}, not BAD_USER_INPUT")
        _require((body.get("data") or {}).get("container") is None, "container is not null")
        return f"{reference} -> BAD_USER_INPUT"

    async def check_paging(self) -> str:
        walks = [await self._walk_calls(size) for size in PAGE_SIZES]
        first, second = walks
        _require(
            first == second,
            f"paging by {PAGE_SIZES[0]} gives {len(first)} calls, by {PAGE_SIZES[1]} gives "
            f"{len(second)}, or in another order: a page leaves out or repeats calls",
        )
        return f"{len(first)} calls in order, by {PAGE_SIZES[0]} and by {PAGE_SIZES[1]}"

    async def _walk_calls(self, size: int) -> list[str]:
        references: list[str] = []
        previous = None
        after = None
        total = None
        for page in range(MAX_PAGES):
            connection = (await self.data(CALLS, {"first": size, "after": after}))["vesselCalls"]
            edges = connection["edges"]
            total = connection["totalCount"]
            _require(len(edges) <= size, f"page {page + 1} has {len(edges)} calls, asked {size}")
            for edge in edges:
                node = edge["node"]
                # A call is keyed by its port visit reference when the port gives one.
                reference = node.get("portVisitReference") or node["transportCallReference"]
                _require(node["UNLocationCode"] == self.port, f"{reference} is at another port")
                key = call_key(
                    datetime.fromisoformat(node["plannedArrivalDateTime"]), self.port, reference
                )
                _require(decode_cursor(edge["cursor"]) == key, f"{reference}: wrong cursor")
                _require(
                    previous is None or sort_key(previous) < sort_key(key),
                    f"{reference} is out of order (planned arrival, port, reference)",
                )
                _require(reference not in references, f"{reference} comes twice")
                previous = key
                references.append(reference)
            info = connection["pageInfo"]
            if edges:
                _require(info["endCursor"] == edges[-1]["cursor"], "endCursor is not the last")
            if not info["hasNextPage"]:
                break
            _require(bool(edges), f"page {page + 1} is empty but hasNextPage is true")
            after = info["endCursor"]
        else:
            raise Fault(f"hasNextPage still true after {MAX_PAGES} pages")
        _require(
            total is None or total == len(references),
            f"totalCount {total}, but the pages held {len(references)} calls",
        )
        return references

    async def check_derived_fields(self) -> str:
        if not self.containers:
            return "no --container given: nothing to compare"
        data = await self.data(
            "query C($refs: [String!]!) "
            "{ containers(references: $refs) { equipmentReference isISO6346Valid sourcePort "
            "lastEventDateTime events { eventClassifierCode eventDateTime } } }",
            {"refs": list(self.containers)},
        )
        found = data["containers"] or []
        for container in found:
            reference = container["equipmentReference"]
            _require(
                container["isISO6346Valid"] == is_iso6346(reference),
                f"{reference}: isISO6346Valid is {container['isISO6346Valid']}",
            )
            _require(container["sourcePort"] == self.port, f"{reference}: sourcePort is wrong")
            actual = [
                datetime.fromisoformat(e["eventDateTime"])
                for e in container["events"] or []
                if e["eventClassifierCode"] == "ACT"
            ]
            last = container["lastEventDateTime"]
            _require(
                (max(actual) if actual else None)
                == (datetime.fromisoformat(last) if last else None),
                f"{reference}: lastEventDateTime is not its latest actual event",
            )
        _require(bool(found), f"none of {list(self.containers)} was found")
        return (
            f"{len(found)} of {len(self.containers)} container(s): isISO6346Valid, "
            "sourcePort and lastEventDateTime consistent"
        )

    async def check_optional(self) -> str:
        unknown = sorted(set(self.offers) - OPTIONAL_FIELDS)
        _require(not unknown, f"--offers {', '.join(unknown)}: not an optional field")
        # Without --container, a number no port has: the boxes' fields are asked, never seen.
        refs = list(self.containers) or [f"{BAD_CONTAINER_PREFIX}{_check_digit()}"]
        body = await self.post(OPTIONAL, {"refs": refs})
        data = body.get("data")
        if not isinstance(data, dict):
            raise Fault(f"no data in the answer; errors: {body.get('errors')}")
        said: set[str] = set()
        for error in body.get("errors") or []:
            extensions = error.get("extensions") or {}
            code = extensions.get("code")
            if code != NOT_OFFERED:
                raise Fault(f"error {code}: {error.get('message')}")
            coordinate = extensions.get(COORDINATE_EXTENSION)
            if not isinstance(coordinate, str) or coordinate not in OPTIONAL_FIELDS:
                raise Fault(f"NOT_OFFERED names {coordinate!r}, not an optional field")
            said.add(coordinate)
        offered = sorted(OPTIONAL_FIELDS - said)
        for coordinate in sorted(said):
            values = [v for v in values_at(data, OPTIONAL_PATHS[coordinate]) if v is not None]
            _require(not values, f"{coordinate}: said NOT_OFFERED, yet answered")
        claimed = sorted(set(self.offers) & said)
        _require(not claimed, f"claimed with --offers but not offered: {', '.join(claimed)}")
        for coordinate in offered:
            values = list(values_at(data, OPTIONAL_PATHS[coordinate]))
            for problem in optional_problems(coordinate, data, values):
                raise Fault(f"{coordinate}: {problem}")
        return (
            f"offers {', '.join(offered) or 'none'}; "
            f"does not offer {', '.join(sorted(said)) or 'none'}"
            + ("" if self.containers else " (no --container: no box's values to look at)")
        )

    async def check_credential(self) -> str:
        query = {"query": "{ ports { UNLocationCode } }"}
        response = await self.client.post(self.url, json=query)
        status = response.status_code
        if self.token is None:
            _require(status == 200, f"without a credential: HTTP {status}")
            return "none asked (the resolver answers anyone who reaches it; see gateway_token)"
        _require(status in (401, 403), f"a request without the token got HTTP {status}")
        return f"a request without the token is refused ({status})"

    def _answered(self) -> list[httpx.Response]:
        """The GraphQL answers the resolver gave (HTTP 200), or a Fault saying there were none."""
        answered = [a for a in self.answers if a.status_code == 200]
        if not answered:
            statuses = sorted({a.status_code for a in self.answers})
            raise Fault(f"no GraphQL answer to look at (the resolver answered HTTP {statuses})")
        return answered

    async def check_no_labor_keys(self) -> str:
        answered = self._answered()
        keys = {key for answer in answered for key in _keys(_json_or_none(answer))}
        labor = sorted(key for key in keys if is_labor_key(key))
        _require(not labor, f"labor keys in answers: {labor}")
        return f"none in {len(answered)} answers ({len(keys)} distinct keys)"

    async def check_cache_control(self) -> str:
        answered = self._answered()
        missing = sum("cache-control" not in a.headers for a in answered)
        _require(not missing, f"{missing} of {len(answered)} answers lack Cache-Control")
        return f"on all {len(answered)} answers"


def _check_digit() -> int:
    return iso6346_check_digit(BAD_CONTAINER_PREFIX)


def _more(items: Sequence[str], shown: int) -> str:
    return f"; and {len(items) - shown} more" if len(items) > shown else ""


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def format_report(url: str, port: str, results: Sequence[CheckResult]) -> str:
    """One line per check, then a summary line."""
    lines = [report_title(url, port), *(report_line(r) for r in results)]
    lines.append(report_verdict(port, results))
    return "\n".join(lines)


def report_title(url: str, port: str) -> str:
    return f"conformance of {url} as {port}"


def report_line(result: CheckResult) -> str:
    mark = "PASS" if result.passed else "FAIL"
    return f"  {mark}  {result.name:<22} {result.detail}"


def report_verdict(port: str, results: Sequence[CheckResult]) -> str:
    failed = sum(not r.passed for r in results)
    verdict = "conforms" if not failed else f"does not conform: {failed} check(s) failed"
    return f"{port} {verdict} (of {len(results)} checks)"


async def check_resolver(
    url: str,
    port: str,
    *,
    containers: Sequence[str] = (),
    timeout: float = 10.0,
    token: str | None = None,
    client: httpx.AsyncClient | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
    offers: Sequence[str] = (),
) -> list[CheckResult]:
    """Run every check against the resolver at ``url`` (its ``/graphql`` endpoint), each
    GraphQL request with ``Authorization: Bearer <token>`` when ``token`` is given; each result
    goes to ``on_result`` as soon as it is known (the command prints it then). ``offers``: the
    optional fields the port claims to give."""
    if client is not None:
        return await ResolverConformance(
            url, port, client, containers, token, on_result, offers
        ).run()
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as own:
        return await ResolverConformance(url, port, own, containers, token, on_result, offers).run()
