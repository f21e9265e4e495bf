"""The port registry: which port resolvers the gateway asks, changed while it serves.

Entries come from the config file (seed entries) and from the admin API. They are kept in a
store (:mod:`gateway.ports.registry_store`: SQLite for one gateway, PostgreSQL for replicas) with a
version number that every change increments; each replica re-reads the store when the version
moves (every ``registry.refresh_interval``), so a change reaches every replica within that time,
and the replica that made it at once. Without a store (an app driven without its lifespan, as in
unit tests) the registry holds the config's ports only.

A config entry is written to the store at start-up unless the admin API changed that port since
(``source: api``): the API's word then stands until the port is removed. An entry that came from
the config file and is no longer in it is removed at start-up.

Credentials (the token the gateway presents to a port) are kept in the store in clear, since the
gateway must present them: protect the store like any secret. They never appear in a response,
a log line or an error.

Each entry keeps the fingerprint of the endpoint (url, credential, capabilities) that last
passed the check before traffic (``checked``); the admin API checks again whenever the endpoint
differs from it (:mod:`gateway.edge.admin_api`). Config seed entries have none until checked.

A store that cannot be opened at start-up (a PostgreSQL server down) does not stop the gateway:
it serves the config's seed entries, says so (log, ``/readyz``, ``portgate_registry_store_up``)
and tries the store again every ``registry.store_retry_interval``; changes are refused
(``REGISTRY_UNAVAILABLE``) until it is reached.
"""

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from gateway.config_types import ResolvedPort
from gateway.errors import RegistryUnavailable
from gateway.ports.settings import ROOT_FIELDS, PortConfig, PortDefaults

log = logging.getLogger(__name__)

Source = Literal["config", "api"]
Sleep = Callable[[float], Awaitable[None]]


class PortEntry(BaseModel):
    """One registered port resolver endpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    url: str
    credential: SecretStr | None = Field(None, repr=False)
    timeout: float | None = None
    capabilities: tuple[str, ...] = ROOT_FIELDS
    paused: bool = False
    terminals: tuple[str, ...] = ()
    cache_ttl: dict[str, float] = Field(default_factory=dict)
    source: Source = "config"
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    checked: str | None = Field(None, repr=False)  # endpoint() when it last passed the check

    def endpoint(self) -> str:
        """A fingerprint of what the check judges: url, credential and capabilities (the
        credential only hashed in)."""
        secret = self.credential.get_secret_value() if self.credential is not None else ""
        parts = (self.url, hashlib.sha256(secret.encode()).hexdigest(), *sorted(self.capabilities))
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def is_checked(self) -> bool:
        """Whether this endpoint, as it is now, passed the check."""
        return self.checked == self.endpoint()

    @classmethod
    def from_config(cls, port: PortConfig, source: Source = "config") -> "PortEntry":
        return cls(
            id=port.id, name=port.name, url=str(port.url), credential=port.credential,
            timeout=port.timeout, capabilities=port.capabilities, paused=port.paused,
            terminals=port.terminals, cache_ttl=dict(port.cache_ttl), source=source,
        )  # fmt: skip

    def resolved(self, defaults: PortDefaults) -> ResolvedPort:
        return ResolvedPort(
            id=self.id, name=self.name, url=self.url, timeout=self.timeout or defaults.timeout,
            capabilities=frozenset(self.capabilities), credential=self.credential,
            cache_ttl=dict(self.cache_ttl), terminals=frozenset(self.terminals),
        )  # fmt: skip

    def public(self) -> dict[str, Any]:
        """As the admin API shows it: the credential only as whether one is set."""
        shown = self.model_dump(mode="json", exclude={"credential", "checked"})
        shown["credential"] = "set" if self.credential is not None else None
        shown["checked"] = self.is_checked()
        return shown

    def stored(self) -> dict[str, Any]:
        """As the store keeps it (credential included)."""
        data = self.model_dump(mode="json", exclude={"credential"})
        data["credential"] = self.credential.get_secret_value() if self.credential else None
        return data


class RegistryStore(Protocol):
    """Where entries live between restarts and between replicas."""

    async def version(self) -> int: ...

    async def load(self) -> tuple[int, list[PortEntry]]: ...

    async def put(self, entry: PortEntry, *, unless_api: bool = False) -> int:
        """Write ``entry`` (skipped when ``unless_api`` and the stored one came from the API);
        the new version."""
        ...

    async def remove(self, port_id: str) -> bool: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RegistrySnapshot:
    """The registry at one version: ports to ask, in registry order, and paused ones."""

    version: int
    active: tuple[ResolvedPort, ...]
    paused: tuple[ResolvedPort, ...]
    entries: tuple[PortEntry, ...]

    def entry(self, port_id: str) -> PortEntry | None:
        return next((e for e in self.entries if e.id == port_id), None)


class PortRegistry:
    """The registry as this gateway process sees it, kept in step with its store."""

    def __init__(
        self,
        defaults: PortDefaults,
        seeds: Sequence[PortConfig] = (),
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._defaults = defaults
        self._seeds = [PortEntry.from_config(p) for p in seeds]
        self._sleep = sleep
        self._store: RegistryStore | None = None
        self._snapshot = self._build(0, self._seeds)
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[RegistrySnapshot], None]] = []
        self.store_up = False  # False until a store is attached, and while it is being retried

    def snapshot(self) -> RegistrySnapshot:
        return self._snapshot

    @property
    def defaults(self) -> PortDefaults:
        return self._defaults

    def on_change(self, listener: Callable[[RegistrySnapshot], None]) -> None:
        self._listeners.append(listener)

    async def attach(
        self,
        open_store: Callable[[], Awaitable[RegistryStore]],
        refresh_interval: float,
        retry_interval: float = 10.0,
    ) -> None:
        """Open the store, seed it from the config, load it, and follow it every
        ``refresh_interval``. A store that cannot be opened is tried again every
        ``retry_interval`` in the background; meanwhile the seeds are served."""
        try:
            store = await open_store()
        except Exception as exc:
            log.warning(
                "port registry store unavailable (%s); serving the %d port(s) of the config "
                "and trying again every %gs", type(exc).__name__, len(self._seeds), retry_interval,
            )  # fmt: skip
            self._task = asyncio.create_task(
                self._reach(open_store, refresh_interval, retry_interval)
            )
            return
        await self._adopt(store)
        self._task = asyncio.create_task(self._follow(refresh_interval))

    async def detach(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._store is not None:
            await self._store.close()
            self._store = None
        self.store_up = False

    async def refresh(self) -> bool:
        """Re-read the store if another writer changed it; True when the ports changed."""
        if self._store is None or await self._store.version() == self._snapshot.version:
            return False
        version, entries = await self._store.load()
        self._snapshot = self._build(version, entries)
        log.info("port registry at version %d: %d port(s)", version, len(entries))
        for listener in self._listeners:
            listener(self._snapshot)
        return True

    async def put(self, entry: PortEntry) -> None:
        await self._writable().put(entry)
        await self.refresh()

    async def remove(self, port_id: str) -> bool:
        removed = await self._writable().remove(port_id)
        await self.refresh()
        return removed

    def _writable(self) -> RegistryStore:
        if self._store is None:
            raise RegistryUnavailable()
        return self._store

    def _build(self, version: int, entries: Sequence[PortEntry]) -> RegistrySnapshot:
        return RegistrySnapshot(
            version,
            tuple(e.resolved(self._defaults) for e in entries if not e.paused),
            tuple(e.resolved(self._defaults) for e in entries if e.paused),
            tuple(entries),
        )

    async def _adopt(self, store: RegistryStore) -> None:
        """Seed ``store`` from the config and serve what it holds."""
        for entry in self._seeds:
            await store.put(entry, unless_api=True)
        _, stored = await store.load()
        seeded = {e.id for e in self._seeds}
        for gone in [e for e in stored if e.source == "config" and e.id not in seeded]:
            await store.remove(gone.id)  # taken out of the config file since
        self._store = store
        self.store_up = True
        await self.refresh()

    async def _reach(
        self,
        open_store: Callable[[], Awaitable[RegistryStore]],
        refresh_interval: float,
        retry_interval: float,
    ) -> None:
        while True:
            await self._sleep(retry_interval)
            try:
                store = await open_store()
            except Exception as exc:
                log.warning("port registry store still unavailable (%s)", type(exc).__name__)
                continue
            try:
                await self._adopt(store)
            except Exception:
                log.warning("port registry store failed while seeding", exc_info=True)
                await store.close()
                continue
            log.info("port registry store reached: following it")
            break
        await self._follow(refresh_interval)

    async def _follow(self, interval: float) -> None:
        while True:
            await self._sleep(interval)
            try:
                await self.refresh()
            except Exception:  # a store that does not answer: keep serving what we have
                log.warning("port registry refresh failed; keeping version %d",
                            self._snapshot.version, exc_info=True)  # fmt: skip
