"""The auditors' HTTP API checks every parameter: whatever the query string, the answer is a 200
or a 400 ``BAD_USER_INPUT`` in the GraphQL error format, never a 500. A real gateway on loopback
HTTP, on its own event loop in a thread (hypothesis drives sync tests), over an SQLite trail and
over the real PostgreSQL server."""

import asyncio
import contextlib
import hashlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.access.apikeys import ApiKeyStore
from gateway.app import create_app
from gateway.config import GatewaySettings
from port_resolvers.loopback import serve_on_loopback
from tests.gateway.audit_helpers import postgres_schema
from tests.gateway.conftest import settings_for_tests

QUERY = "query Boxes { ports { name } }"
RECORDS = "/audit/records"


@dataclass
class Served:
    client: httpx.Client
    auditor: dict[str, str]
    trucker: dict[str, str]

    def get(
        self, path: str, query: str = "", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.client.get(
            f"{path}?{query}", headers=self.auditor if headers is None else headers
        )


@contextlib.contextmanager
def serving(config: GatewaySettings) -> Iterator[str]:
    """The gateway on loopback, run by an event loop of its own in a thread."""
    started, found = threading.Event(), []
    stop: list[asyncio.Event] = []
    loops: list[asyncio.AbstractEventLoop] = []

    async def main() -> None:
        loops.append(asyncio.get_running_loop())
        stop.append(asyncio.Event())
        async with serve_on_loopback(create_app(config)) as url:
            found.append(url)
            started.set()
            await stop[0].wait()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert started.wait(60), "the gateway did not start"
    try:
        yield found[0]
    finally:
        loops[0].call_soon_threadsafe(stop[0].set)
        thread.join(60)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/graphql"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("audit-api")
    keys = ApiKeyStore(directory / "keys.sqlite3")
    auditor, _ = keys.create(client_id="auditor-1", organisation="State", roles=["auditor"])
    trucker, _ = keys.create(client_id="trucker-1", organisation="ACME", roles=["trucker"])
    keys.close()
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            store = f"sqlite:///{directory / 'audit.sqlite3'}"
        else:
            store = stack.enter_context(postgres_schema())
        environment = stack.enter_context(pytest.MonkeyPatch.context())
        environment.setenv("PORTGATE_AUDIT__STORE", store)  # the environment wins over settings
        environment.setenv("PORTGATE_REGISTRY__STORE", f"sqlite:///{directory / 'reg.sqlite3'}")
        config = settings_for_tests(
            None,
            ports=[{"id": "USLAX", "name": "Port of Los Angeles", "url": closed_port_url()}],
            auth={"api_keys": {"database": directory / "keys.sqlite3"}},
        )
        url = stack.enter_context(serving(config))
        client = stack.enter_context(httpx.Client(base_url=url, timeout=30))
        for _ in range(3):
            client.post("/graphql", json={"query": QUERY}, headers={"x-api-key": trucker})
        yield Served(client, {"x-api-key": auditor}, {"x-api-key": trucker})


def assert_bad_input(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    return str(error["message"])


BAD_RECORDS_QUERIES = [
    "since=99999999999h",
    "since=1e400s",
    "since=0001-01-01T00:00:00%2B14:00",
    "until=9999-12-31T23:59:59-14:00",
    "since=soon",
    "after=99999999999999999999999",
    "after=9223372036854775808",
    "after=-1",
    "after=1.5",
    "limit=0",
    "limit=-5",
    "limit=1001",
    "limit=99999999999999999999",
    "limit=%D9%A3",  # an Arabic-Indic three: a digit to Python, not to us
    "limit=",
    "nope=1",
    "client=",
    "client=a%00b",
    "client=" + "x" * 300,
    "client=a&client=b",
    "org=%0A",
    "operation=Op%1B",
    "port=usl",
    "port=ZZZZZZ",
    "outcome=maybe",
    "trace=xyz",
    "trace=" + "g" * 32,
    "document=abc",
    "denied=nope",
    "denied=Container.",
]


@pytest.mark.parametrize("query", BAD_RECORDS_QUERIES)
def test_a_bad_records_parameter_is_a_400_naming_it(served: Served, query: str) -> None:
    message = assert_bad_input(served.get(RECORDS, query))
    name = query.split("=", 1)[0]
    assert name in message


@pytest.mark.parametrize(
    "query",
    ["head=abc", "head=0:" + "0" * 64, "head=1:" + "z" * 64, "head=1:" + "0" * 64 + "&head=2",
     "full=1"],
)  # fmt: skip
def test_a_bad_verify_parameter_is_a_400(served: Served, query: str) -> None:
    assert_bad_input(served.get("/audit/verify", query))


@pytest.mark.parametrize(
    "query", ["", "hash=abc", "hashes=" + "0" * 64, "&".join(["hash=" + "0" * 64] * 101)]
)
def test_a_bad_documents_parameter_is_a_400(served: Served, query: str) -> None:
    assert_bad_input(served.get("/audit/documents", query))


def test_good_parameters_find_records(served: Served) -> None:
    trace = "0" * 32
    good = [
        "", "since=24h", "since=400d", "since=2000-01-01", "until=2999-01-01T00:00Z",
        "client=trucker-1", "org=ACME", "port=USLAX", "operation=Boxes", "outcome=partial",
        "outcome=error", "limit=1", "limit=1000", "after=0", f"after={2**63 - 1}",
        f"trace={trace}", "document=" + hashlib.sha256(QUERY.encode()).hexdigest(),
        "denied=Container.availability", "since=0001-01-01", "until=9999-12-31",
    ]  # fmt: skip
    for query in good:
        response = served.get(RECORDS, query)
        assert response.status_code == 200, (query, response.text)
    by_document = served.get(RECORDS, "document=" + hashlib.sha256(QUERY.encode()).hexdigest())
    assert len(by_document.text.splitlines()) == 3
    assert served.get(RECORDS, "client=trucker-1&limit=2").headers["x-next-after"]


def test_documents_are_read_by_hash(served: Served) -> None:
    digest = hashlib.sha256(QUERY.encode()).hexdigest()
    response = served.get("/audit/documents", f"hash={digest}&hash={'0' * 64}")
    assert response.status_code == 200
    assert response.json() == {"documents": {digest: QUERY}}
    assert served.get("/audit/documents", f"hash={digest}", served.trucker).status_code == 403


def test_verify_with_and_without_a_noted_head(served: Served) -> None:
    report = served.get("/audit/verify").json()
    assert report["ok"] is True
    assert report["start"] == 1
    assert served.get("/audit/verify", f"head={report['head']}").json()["ok"] is True
    cut = served.get("/audit/verify", f"head=1:{'0' * 64}").json()
    assert (cut["ok"], cut["firstBadSeq"]) == (False, 1)


KEYS = st.sampled_from(
    ["client", "org", "since", "until", "port", "operation", "denied", "outcome", "trace",
     "document", "limit", "after", "head", "hash"]
) | st.text(max_size=8)  # fmt: skip
VALUES = (
    st.text(max_size=40)
    | st.integers(min_value=-(2**70), max_value=2**70).map(str)
    | st.from_regex(r"\A[0-9]{1,30}(\.[0-9]{1,5})?(ms|s|m|h|d)?\Z")
    | st.datetimes().map(lambda d: d.isoformat())
    | st.from_regex(
        r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2})?)?"
        r"([+-][0-9]{2}:[0-9]{2}|Z)?\Z"
    )
    | st.sampled_from(
        [
            "USLAX",
            "ok",
            "rejected",
            "Container.availability",
            "0" * 32,
            "0" * 64,
            "1:" + "0" * 64,
            "99999999999999999999:" + "f" * 64,
        ]
    )
)
PARAMS = st.lists(st.tuples(KEYS, VALUES), max_size=4)


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(path=st.sampled_from([RECORDS, "/audit/verify", "/audit/documents"]), params=PARAMS)
def test_no_query_string_makes_a_500(served: Served, path: str, params: list[Any]) -> None:
    response = served.get(path, str(httpx.QueryParams(params)))
    assert response.status_code in (200, 400), (params, response.text)
    if response.status_code == 400:
        assert_bad_input(response)
    elif path != RECORDS:
        assert isinstance(response.json(), dict)


def test_without_the_role_nothing_is_said_about_the_parameters(served: Served) -> None:
    assert served.get(RECORDS, "since=soon", served.trucker).status_code == 403
    assert served.get(RECORDS, "since=soon", {}).status_code == 403
