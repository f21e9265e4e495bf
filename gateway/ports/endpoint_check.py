"""What a port's endpoint must do before it takes traffic, and how the gateway says it did not.

The **check** (before an endpoint takes traffic: registration, any change of its url,
credential or capabilities, leaving pause after such a change) asks the endpoint, over GraphQL
with the gateway's credential for it, for its root fields (introspection) and for
``ports { UNLocationCode }``: it must have every root field it claims to answer, with the shared
schema's arguments, and answer ``ports`` with exactly its own port. The **probe** (health, on an
interval) asks ``ports { UNLocationCode }`` alone.

Both reach the port by the path queries take (:mod:`gateway.ports.port_http`): the egress rules, no
redirects. The check first admits the URL against the egress rules, resolving a name that is
not listed. Each runs under one bound (``asyncio.timeout``), and reads at most
``MAX_ANSWER_BYTES``.

What failed is a :class:`Finding`: a reason code and a message in the gateway's own words. No
text from the endpoint is ever quoted (it is another organisation's, and may be anything); a
field or argument name of the shared schema may be named, since it is ours. Reason codes:

    EGRESS_REFUSED      its address is refused by the egress rules (``registry.egress``)
    UNREACHABLE         no connection (refused, reset, name not resolved)
    TIMEOUT             no whole answer within the bound
    REDIRECTED          it answered a redirect (3xx): redirects are never followed
    CREDENTIAL_REFUSED  it answered 401 or 403 to the gateway's credential for the port
    HTTP_ERROR          another HTTP error status, without a GraphQL answer
    NOT_GRAPHQL         the answer is not a GraphQL response
    ANSWER_TOO_LARGE    the answer is larger than ``MAX_ANSWER_BYTES``
    NO_DATA             a GraphQL answer with errors and no data
    NO_INTROSPECTION    it does not answer introspection of its root fields
    MISSING_ROOT_FIELD  it lacks a root field it claims to answer (``capabilities``)
    WRONG_ARGUMENTS     one of its root fields lacks the shared schema's arguments
    NOT_ITS_OWN_PORT    ``ports`` does not answer exactly its own port
"""

import asyncio
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import orjson
from graphql import GraphQLSchema

from gateway.errors import (
    PortEgressRefused,
    PortError,
    PortFailure,
    PortTimeout,
    PortUnavailable,
)
from gateway.ports.egress import EgressRules, Resolver
from gateway.ports.port_http import PortHttp
from gateway.ports.registry import PortEntry
from gateway.ports.upstream import base_headers

MAX_ANSWER_BYTES = 1024 * 1024  # introspection of the root fields is a few kilobytes

CHECK_QUERY = """query PortgateCheck {
  __schema { queryType { fields { name args { name } } } }
  ports { UNLocationCode }
}"""
PROBE_QUERY = "query PortgateProbe { ports { UNLocationCode } }"


class Reason(StrEnum):
    """Why an endpoint may not take traffic, or why its probe failed (module docstring)."""

    EGRESS_REFUSED = "EGRESS_REFUSED"
    UNREACHABLE = "UNREACHABLE"
    TIMEOUT = "TIMEOUT"
    REDIRECTED = "REDIRECTED"
    CREDENTIAL_REFUSED = "CREDENTIAL_REFUSED"
    HTTP_ERROR = "HTTP_ERROR"
    NOT_GRAPHQL = "NOT_GRAPHQL"
    ANSWER_TOO_LARGE = "ANSWER_TOO_LARGE"
    NO_DATA = "NO_DATA"
    NO_INTROSPECTION = "NO_INTROSPECTION"
    MISSING_ROOT_FIELD = "MISSING_ROOT_FIELD"
    WRONG_ARGUMENTS = "WRONG_ARGUMENTS"
    NOT_ITS_OWN_PORT = "NOT_ITS_OWN_PORT"


class Finding(Exception):
    """What is wrong with an endpoint: a reason code and the gateway's own words."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def public(self) -> dict[str, str]:
        return {"reason": self.reason.value, "message": self.message}


class EndpointChecker:
    """Checks and probes port endpoints through ``http`` (the path queries take)."""

    def __init__(
        self, http: PortHttp, schema: GraphQLSchema, rules: EgressRules, resolver: Resolver
    ) -> None:
        self._http = http
        self._rules = rules
        self._resolver = resolver
        query_type = schema.query_type
        assert query_type is not None
        self._arguments = {name: set(field.args) for name, field in query_type.fields.items()}

    async def check(self, entry: PortEntry, bound: float) -> Finding | None:
        """Why ``entry``'s endpoint may not take traffic, or None: within ``bound`` seconds."""
        try:
            async with asyncio.timeout(bound):
                refusal = await self._rules.admit(entry.url, self._resolver)
                if refusal is not None:
                    raise Finding(Reason.EGRESS_REFUSED, _egress_message(refusal))
                data = await self._ask(entry, CHECK_QUERY, bound)
        except Finding as finding:
            return finding
        except TimeoutError:
            return Finding(Reason.TIMEOUT, f"no answer within {bound:g}s")
        try:
            fields = {
                f["name"]: {a["name"] for a in f["args"]}
                for f in data["__schema"]["queryType"]["fields"]
            }
        except (KeyError, TypeError):
            return Finding(
                Reason.NO_INTROSPECTION,
                "the endpoint does not answer introspection of its root fields",
            )
        for name in entry.capabilities:
            if name not in fields:
                return Finding(
                    Reason.MISSING_ROOT_FIELD,
                    f"the endpoint has no root field `{name}` of the shared schema",
                )
            missing = self._arguments[name] - fields[name]
            if missing:
                return Finding(
                    Reason.WRONG_ARGUMENTS,
                    f"the endpoint's `{name}` lacks the shared schema's arguments "
                    f"{sorted(missing)}",
                )
        return _own_port(data, entry.id)

    async def probe(self, entry: PortEntry, bound: float) -> Finding | None:
        """Why ``entry``'s endpoint does not answer for its port now, or None."""
        try:
            async with asyncio.timeout(bound):
                data = await self._ask(entry, PROBE_QUERY, bound)
        except Finding as finding:
            return finding
        except TimeoutError:
            return Finding(Reason.TIMEOUT, f"no answer within {bound:g}s")
        return _own_port(data, entry.id)

    async def _ask(self, entry: PortEntry, query: str, bound: float) -> Mapping[str, Any]:
        """The endpoint's ``data``, or a :class:`Finding`."""
        try:
            answer = await self._http.post(
                entry.id,
                entry.url,
                orjson.dumps({"query": query}),
                base_headers(entry.credential),
                timeout=bound,
                max_bytes=MAX_ANSWER_BYTES,
            )
        except PortFailure as failure:
            raise _finding(failure, bound) from None
        status = answer.status
        if status in (401, 403):
            raise Finding(
                Reason.CREDENTIAL_REFUSED,
                f"the endpoint refused the gateway's credential for {entry.id} (HTTP {status})",
            )
        if 300 <= status < 400:
            raise Finding(
                Reason.REDIRECTED,
                f"the endpoint answered a redirect (HTTP {status}); redirects are never followed",
            )
        try:
            body = orjson.loads(answer.content)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict) or not ("data" in body or "errors" in body):
            if status >= 400:
                raise Finding(Reason.HTTP_ERROR, f"the endpoint answered HTTP {status}")
            raise Finding(Reason.NOT_GRAPHQL, "the answer is not a GraphQL response")
        data = body.get("data")
        if not isinstance(data, dict):
            raise Finding(Reason.NO_DATA, "the endpoint answered GraphQL errors and no data")
        return data


def _finding(failure: PortFailure, bound: float) -> Finding:
    if isinstance(failure, PortEgressRefused):
        return Finding(Reason.EGRESS_REFUSED, _egress_message(failure.reason))
    if isinstance(failure, PortTimeout):
        return Finding(Reason.TIMEOUT, f"no answer within {bound:g}s")
    if isinstance(failure, PortUnavailable):
        return Finding(Reason.UNREACHABLE, "no connection to the endpoint")
    if isinstance(failure, PortError):  # the exchange reads no answer: only its size fails
        return Finding(
            Reason.ANSWER_TOO_LARGE, f"the answer is larger than {MAX_ANSWER_BYTES} bytes"
        )
    return Finding(Reason.UNREACHABLE, "no usable answer from the endpoint")


def _egress_message(reason: str) -> str:
    return f"the endpoint is refused by the egress rules (registry.egress): {reason}"


def _own_port(data: Mapping[str, Any], port_id: str) -> Finding | None:
    ports = data.get("ports")
    rows = ports if isinstance(ports, list) else []
    ids = [p.get("UNLocationCode") if isinstance(p, dict) else None for p in rows]
    if ids != [port_id]:
        return Finding(
            Reason.NOT_ITS_OWN_PORT,
            f"`ports` must answer exactly its own port {port_id}; it answered "
            f"{len(ids)} row(s), not that one alone",
        )
    return None
