"""Which documents run: trusted documents (a manifest read at start-up) and automatic persisted
queries (APQ).

A client names a document by the SHA-256 of its text, as Apollo clients do::

    {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<64 hex digits>"}}}

with or without ``query``. :meth:`DocumentResolver.resolve` turns a request into the text to
run, before anything parses it:

===========================  ================================  ===============================
request                      open (default)                    ``documents.trusted_only``
===========================  ================================  ===============================
``query``                    runs                              runs if its hash is registered,
                                                               else PERSISTED_QUERY_NOT_IN_LIST
hash alone                   the registered or APQ document;   the registered document, else
                             else PERSISTED_QUERY_NOT_FOUND    PERSISTED_QUERY_NOT_IN_LIST
                             (HTTP 200: the client resends
                             the hash with its query)
hash + ``query``             runs, and is kept for the hash    runs if registered
                             (APQ) when the hash is the        (PERSISTED_QUERY_NOT_IN_LIST)
                             query's, else HASH_MISMATCH
===========================  ================================  ===============================

The manifest is Apollo's persisted query manifest (``portgate documents add`` writes it)::

    {"format": "apollo-persisted-query-manifest", "version": 1,
     "operations": [{"id": "<sha256>", "name": "MyBoxes", "type": "query", "body": "..."}]}

or a plain JSON object of ``sha256 -> document`` (keys may be written ``sha256:<hex>``). Every
entry's hash is checked against its text, and every document against the schema, at start-up.

APQ keeps only documents that parse (within the token limit) and validate against the schema:
anything else runs (and fails) as usual, but is not kept. They are kept in memory (least
recently used first out past ``documents.apq_max_bytes``), or in the cache's Redis when one is
configured, so every replica knows a document one of them was sent. A document read back from
Redis is checked against its hash, so whoever can write to Redis cannot swap it.
"""

import hashlib
import json
import logging
import os
import re
import tempfile
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode, parse, validate

from gateway.access.settings import DocumentSettings
from gateway.errors import (
    BadRequest,
    GatewayError,
    PersistedQueryHashMismatch,
    PersistedQueryNotFound,
    PersistedQueryNotInList,
)

if TYPE_CHECKING:
    import redis.asyncio as redis

log = logging.getLogger(__name__)

APOLLO_MANIFEST_FORMAT = "apollo-persisted-query-manifest"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def document_hash(text: str) -> str:
    """The SHA-256 of a document's text as sent (UTF-8), lower-case hex."""
    return hashlib.sha256(text.encode()).hexdigest()


def http_status(error: GatewayError) -> int:
    """PERSISTED_QUERY_NOT_FOUND is an HTTP 200, as APQ clients expect; the others 400."""
    return 200 if isinstance(error, PersistedQueryNotFound) else 400


class ManifestError(Exception):
    """A trusted-documents manifest that cannot be used; the message names the entry."""


class TrustedDocuments:
    """The registered documents, by hash, with their operation names."""

    def __init__(self, documents: Mapping[str, tuple[str, str | None]] | None = None) -> None:
        self._documents: dict[str, tuple[str, str | None]] = dict(documents or {})

    def __len__(self) -> int:
        return len(self._documents)

    def __contains__(self, sha256: object) -> bool:
        return sha256 in self._documents

    def get(self, sha256: str) -> str | None:
        entry = self._documents.get(sha256)
        return None if entry is None else entry[0]

    def entries(self) -> Iterator[tuple[str, str | None, str]]:
        """(hash, operation name, document), by hash."""
        for sha256 in sorted(self._documents):
            body, name = self._documents[sha256]
            yield sha256, name, body

    def add(self, body: str, schema: GraphQLSchema) -> tuple[str, bool]:
        """Register ``body`` once it validates; its hash, and False if it was there already."""
        sha256 = document_hash(body)
        if sha256 in self._documents:
            return sha256, False
        self._documents[sha256] = (body, _check(body, schema, sha256))
        return sha256, True

    @classmethod
    def load(cls, path: Path, schema: GraphQLSchema) -> "TrustedDocuments":
        """Read a manifest (either format); raise :class:`ManifestError` at the first bad entry."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ManifestError(f"{path}: cannot read: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{path}: not JSON: {exc}") from None
        documents: dict[str, tuple[str, str | None]] = {}
        for sha256, body in _entries(raw, path):
            if document_hash(body) != sha256:
                raise ManifestError(f"{path}: {sha256}: the hash is not the document's SHA-256")
            documents[sha256] = (body, _check(body, schema, sha256, path))
        return cls(documents)

    def save(self, path: Path) -> None:
        """Write the manifest in Apollo's format, atomically (a reader never sees half)."""
        manifest = {
            "format": APOLLO_MANIFEST_FORMAT,
            "version": 1,
            "operations": [
                {"id": sha256, "name": name, "type": "query", "body": body}
                for sha256, name, body in self.entries()
            ],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(manifest, file, indent=2)
            file.write("\n")
        os.replace(temporary, path)


def _entries(raw: Any, path: Path) -> Iterator[tuple[str, str]]:
    if isinstance(raw, dict) and raw.get("format") == APOLLO_MANIFEST_FORMAT:
        operations = raw.get("operations")
        if raw.get("version") != 1 or not isinstance(operations, list):
            raise ManifestError(f"{path}: an Apollo manifest needs version 1 and operations")
        for index, operation in enumerate(operations):
            if not isinstance(operation, dict):
                raise ManifestError(f"{path}: operations[{index}] is not an object")
            sha256, body = operation.get("id"), operation.get("body")
            yield _entry(sha256, body, f"{path}: operations[{index}]")
    elif isinstance(raw, dict):
        for key, body in raw.items():
            sha256 = key.removeprefix("sha256:") if isinstance(key, str) else key
            yield _entry(sha256, body, f"{path}: {key}")
    else:
        raise ManifestError(f"{path}: a manifest is a JSON object")


def _entry(sha256: Any, body: Any, where: str) -> tuple[str, str]:
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise ManifestError(f"{where}: the id must be a SHA-256 in lower-case hex")
    if not isinstance(body, str):
        raise ManifestError(f"{where}: the document must be a string")
    return sha256, body


def _check(body: str, schema: GraphQLSchema, sha256: str, path: Path | None = None) -> str | None:
    """The document's operation name; raise ManifestError when it does not validate."""
    where = f"{path}: {sha256}" if path else sha256
    try:
        document = parse(body)
    except GraphQLError as exc:
        raise ManifestError(f"{where}: {exc.message}") from None
    errors = validate(schema, document)
    if errors:
        raise ManifestError(f"{where}: {errors[0].message}")
    names = [
        d.name.value
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    ]
    return names[0] if names else None


class PersistedQueryStore(Protocol):
    """Where APQ documents are kept between requests."""

    async def get(self, sha256: str) -> str | None: ...

    async def put(self, sha256: str, body: str) -> None: ...

    async def close(self) -> None: ...


class MemoryPersistedQueries:
    """The most recently used documents of this process, ``max_bytes`` of them at most
    (``evictions`` counts those pushed out)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.evictions = 0
        self._documents: OrderedDict[str, str] = OrderedDict()

    async def get(self, sha256: str) -> str | None:
        body = self._documents.get(sha256)
        if body is not None:
            self._documents.move_to_end(sha256)
        return body

    async def put(self, sha256: str, body: str) -> None:
        size = _size(sha256, body)
        if size > self.max_bytes:
            return
        if sha256 in self._documents:
            self._documents.move_to_end(sha256)
            return  # the same hash is the same text
        self._documents[sha256] = body
        self.bytes += size
        while self.bytes > self.max_bytes:
            oldest, text = self._documents.popitem(last=False)
            self.bytes -= _size(oldest, text)
            self.evictions += 1

    async def close(self) -> None:
        self._documents.clear()
        self.bytes = 0


def _size(sha256: str, body: str) -> int:
    return len(sha256) + len(body.encode()) + 100  # 100: the entry's own overhead


class RedisPersistedQueries:
    """Documents shared by every replica through Redis, each kept ``ttl`` seconds."""

    def __init__(self, client: "redis.Redis", namespace: str, ttl: float) -> None:
        self._client = client
        self._namespace = namespace
        self._ttl = max(1, int(ttl))

    @classmethod
    def from_url(cls, url: str, namespace: str, ttl: float) -> "RedisPersistedQueries":
        import redis.asyncio as redis  # only a gateway with Redis configured loads the client

        client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        return cls(client, namespace, ttl)

    async def get(self, sha256: str) -> str | None:
        """The document, or None (also when Redis fails: the client then sends its query)."""
        from redis.exceptions import RedisError

        try:
            stored = await self._client.get(f"{self._namespace}:apq:{sha256}")
        except (RedisError, OSError) as exc:
            log.warning("APQ store unavailable (%s): a miss", type(exc).__name__)
            return None
        if not isinstance(stored, bytes):
            return None
        body = stored.decode("utf-8", errors="replace")
        return body if document_hash(body) == sha256 else None

    async def put(self, sha256: str, body: str) -> None:
        from redis.exceptions import RedisError

        try:
            await self._client.set(f"{self._namespace}:apq:{sha256}", body.encode(), ex=self._ttl)
        except (RedisError, OSError) as exc:
            log.warning("APQ store unavailable (%s): not kept", type(exc).__name__)

    async def close(self) -> None:
        await self._client.aclose()


class DocumentResolver:
    """The document text a request runs, from its ``query`` and ``extensions.persistedQuery``
    (see the module docstring for the rules); raises a :class:`GatewayError` to refuse."""

    def __init__(
        self,
        trusted: TrustedDocuments,
        *,
        trusted_only: bool,
        apq: PersistedQueryStore | None,
        schema: GraphQLSchema | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self.trusted = trusted
        self.trusted_only = trusted_only
        self.apq = None if trusted_only else apq
        self._schema = schema  # APQ keeps only documents valid against it
        self._max_tokens = max_tokens

    async def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> str | None:
        persisted = None if extensions is None else extensions.get("persistedQuery")
        if persisted is None:
            if query is not None and self.trusted_only and document_hash(query) not in self.trusted:
                raise PersistedQueryNotInList(
                    "only registered documents run here; this query is not one of them"
                )
            return query
        sha256 = _requested_hash(persisted)
        if query is not None:
            if document_hash(query) != sha256:
                raise PersistedQueryHashMismatch(
                    "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query sent"
                )
            if self.trusted_only and sha256 not in self.trusted:
                raise PersistedQueryNotInList(f"{sha256} is not a registered document")
            if self.apq is not None and sha256 not in self.trusted and self._keepable(query):
                await self.apq.put(sha256, query)
            return query
        registered = self.trusted.get(sha256)
        if registered is not None:
            return registered
        if self.trusted_only:
            raise PersistedQueryNotInList(f"{sha256} is not a registered document")
        found = None if self.apq is None else await self.apq.get(sha256)
        if found is None:
            raise PersistedQueryNotFound()
        return found

    def _keepable(self, query: str) -> bool:
        """Whether an APQ document may be kept: it parses within the token limit and, with a
        schema, validates."""
        try:
            document = parse(query, max_tokens=self._max_tokens)
        except GraphQLError:
            return False
        return self._schema is None or not validate(self._schema, document)

    async def close(self) -> None:
        if self.apq is not None:
            await self.apq.close()


def _requested_hash(persisted: Any) -> str:
    sha256 = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    if (
        not isinstance(persisted, dict)
        or persisted.get("version") != 1
        or not isinstance(sha256, str)
        or not _SHA256.match(sha256.lower())
    ):
        raise BadRequest(
            "extensions.persistedQuery must be {version: 1, sha256Hash: <SHA-256 in hex>}"
        )
    return sha256.lower()


def document_resolver(
    settings: DocumentSettings,
    schema: GraphQLSchema,
    max_tokens: int | None = None,
    *,
    redis_url: str | None = None,
    redis_namespace: str = "",
) -> DocumentResolver:
    """The trusted documents (read now: a bad manifest stops the gateway, naming the entry)
    and the APQ store: the Redis at ``redis_url`` (the cache's, under its namespace) when there
    is one, else memory."""
    trusted = (
        TrustedDocuments.load(settings.manifest, schema)
        if settings.manifest is not None
        else TrustedDocuments()
    )
    apq: PersistedQueryStore | None = None
    if settings.apq and redis_url:
        apq = RedisPersistedQueries.from_url(redis_url, redis_namespace, settings.apq_ttl)
    elif settings.apq:
        apq = MemoryPersistedQueries(settings.apq_max_bytes)
    return DocumentResolver(
        trusted,
        trusted_only=settings.trusted_only,
        apq=apq,
        schema=schema,
        max_tokens=max_tokens,
    )
