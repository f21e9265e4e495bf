"""The official DCSA Track & Trace 2.2 OpenAPI, vendored in the resolver kit, as the facade's
tests hold the facade to it: patched only where the spec contradicts itself (each patch says
why), and openapi-core adapters for httpx requests and responses."""

import copy
import functools
from pathlib import Path
from typing import Any

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC = Path(__file__).parents[3] / "port_resolvers/sources/dcsa_spec/tnt-2.2-bundled.yaml"
EVENT_KINDS = ("SHIPMENT", "TRANSPORT", "EQUIPMENT")


@functools.cache
def _document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    # The single event's discriminator names no mapping, and its values (TRANSPORT, ...) are not
    # the schemas' names: the mapping the spec evidently means.
    one = document["paths"]["/v2/events/{eventID}"]["get"]["responses"]["200"]
    one["content"]["application/json"]["schema"]["discriminator"]["mapping"] = {
        kind: f"#/components/schemas/{kind.lower()}Event" for kind in EVENT_KINDS
    }
    # documentReferenceType's enum holds the codes' descriptions ("BKG (Booking)"); the codes
    # themselves are what DCSA's reference implementation and clients use.
    references = document["components"]["schemas"]["documentReferences"]["items"]
    references["properties"]["documentReferenceType"]["enum"] = ["BKG", "TRD"]
    return document


def patched_document(server: str = "http://127.0.0.1/dcsa/tnt") -> dict[str, Any]:
    """The vendored spec as a dict (a fresh copy each time), patched, served at ``server``."""
    document = copy.deepcopy(_document())
    document["servers"] = [{"url": server}]
    return document


@functools.cache
def official_spec() -> OpenAPI:
    return OpenAPI.from_dict(patched_document())


class Asked:
    """An httpx request as openapi-core reads one."""

    def __init__(self, request: httpx.Request) -> None:
        self.host_url = "http://127.0.0.1"
        self.path = request.url.path
        self.full_url_pattern = self.host_url + self.path
        self.method = request.method.lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(request.url.params.multi_items())),
            header=Headers(list(request.headers.items())),
        )
        self.content_type = "application/json"
        self.body = None


class Answered:
    """An httpx response as openapi-core reads one."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "")
        self.headers = Headers(list(response.headers.items()))
        self.data = response.content


def validate(response: httpx.Response) -> None:
    """``response`` (to a request of the facade) against the spec: status, headers and body;
    and it says which version of the API answered."""
    official_spec().validate_response(Asked(response.request), Answered(response))
    assert response.headers["API-Version"] == "2.2.0"
