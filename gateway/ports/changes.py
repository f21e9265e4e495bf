"""Listening to the ports that say when something changed, so that subscriptions need not ask.

A port resolver whose systems can tell it of changes serves ``GET <resolver>/changes``, a
stream of change notices (:mod:`portcontract.changes`). While any subscription is open,
:class:`PortChanges` keeps one such stream open to every active port that serves one, and hands
each notice to ``told(port, notice)``: the subscriptions it concerns then ask that port at once,
through the ordinary query path, instead of at their next poll.

A notice is a hint, never data, and the port is trusted with nothing more than that:

- the stream is opened like any request to the port: to its registered URL's host, under the
  egress rules, with its credential, redirects not followed;
- a port without the route (404, 405, 501) polls as before, and is asked again after
  ``rediscover``; any other failure is retried with a doubling backoff up to ``max_backoff``;
- a stream silent for ``silence`` (no heartbeat) is closed; a line longer than a notice may be,
  a malformed notice, or more than ``max_rate`` notices a second (a port flooding the gateway)
  ends the stream, which is retried after the backoff;
- when a stream opens, everything the port has may have changed meanwhile: the subscriptions
  that ask it are told so once (:data:`~portcontract.changes.EVERYTHING`).

Whether a port pushes is :meth:`PortChanges.pushing`: only while its stream is open.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final
from urllib.parse import urljoin

from gateway.config_types import ResolvedPort
from gateway.errors import PortFailure
from gateway.ports.port_http import PortStreams
from gateway.ports.registry import PortRegistry, RegistrySnapshot
from gateway.ports.upstream import base_headers
from portcontract.changes import (
    CHANGES_PATH,
    EVENT,
    EVERYTHING,
    MAX_NOTICE_BYTES,
    MEDIA_TYPE,
    ChangeNotice,
    InvalidNotice,
    parse_notice,
)

log = logging.getLogger(__name__)

NOT_SERVED: Final = frozenset({404, 405, 501})
Told = Callable[[str, ChangeNotice], None]
Sleep = Callable[[float], Awaitable[None]]


class StreamBroken(Exception):
    """The port's stream cannot be read on: the reason is in the message."""


async def read_notices(
    chunks: AsyncIterator[bytes], *, silence: float, max_rate: float
) -> AsyncIterator[ChangeNotice]:
    """The notices in a server-sent event stream, in order; heartbeats and other events are
    skipped. Raises :class:`StreamBroken` past a bound (module docstring), TimeoutError when
    nothing came for ``silence`` seconds."""
    buffer = b""
    event, data = b"", b""
    allowance, checked = max_rate, time.monotonic()
    iterator = aiter(chunks)
    while True:
        try:
            async with asyncio.timeout(silence):
                chunk = await anext(iterator)
        except StopAsyncIteration:
            return
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        if len(buffer) > MAX_NOTICE_BYTES + 64:
            raise StreamBroken(f"a line of more than {MAX_NOTICE_BYTES} bytes")
        for line in lines:
            line = line.removesuffix(b"\r")
            if line:
                name, _, value = line.partition(b":")
                value = value.removeprefix(b" ")
                if name == b"event":
                    event = value
                elif name == b"data":
                    data = data + b"\n" + value if data else value
                    if len(data) > MAX_NOTICE_BYTES:
                        raise StreamBroken(f"a notice of more than {MAX_NOTICE_BYTES} bytes")
                continue  # a comment (heartbeat) or a field of the event being read
            if data and event in (b"", EVENT.encode()):
                now = time.monotonic()
                allowance = min(max_rate, allowance + (now - checked) * max_rate)
                checked = now
                if allowance < 1:
                    raise StreamBroken(f"more than {max_rate:g} notices a second")
                allowance -= 1
                try:
                    yield parse_notice(data)
                except InvalidNotice as exc:
                    raise StreamBroken(f"not a change notice: {exc}") from None
            event, data = b"", b""


def changes_url(graphql_url: str) -> str:
    """Where a resolver serves its notices: beside its ``/graphql``."""
    return urljoin(graphql_url, CHANGES_PATH)


class PortChanges:
    """The change notices of every port that sends them, while someone listens."""

    def __init__(
        self,
        streams: PortStreams,
        registry: PortRegistry,
        told: Told,
        *,
        silence: float = 45.0,
        max_rate: float = 50.0,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        rediscover: float = 300.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._streams = streams
        self._registry = registry
        self._told = told
        self.silence = silence
        self.max_rate = max_rate
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.rediscover = rediscover
        self._sleep = sleep
        self._watching: dict[str, tuple[ResolvedPort, asyncio.Task[None]]] = {}
        self._open: set[str] = set()
        self._opened = asyncio.Condition()
        self._running = False
        self._stopped: list[asyncio.Task[None]] = []  # cancelled, not yet awaited
        registry.on_change(self._follow)

    def pushing(self, port: str) -> bool:
        """Whether ``port`` is telling the gateway of its changes now."""
        return port in self._open

    async def until_pushing(self, port: str) -> None:
        """Return once ``port``'s stream is open (a readiness check for whoever needs it)."""
        async with self._opened:
            await self._opened.wait_for(lambda: port in self._open)

    def start(self) -> None:
        """Listen to every active port (the first subscription opened)."""
        if not self._running:
            self._running = True
            self._follow(self._registry.snapshot())

    def stop(self) -> None:
        """Stop listening (the last subscription ended): every stream is cancelled."""
        self._running = False
        for _, task in self._watching.values():
            task.cancel()
        self._stopped += [task for _, task in self._watching.values()]
        self._watching.clear()
        self._open.clear()

    async def close(self) -> None:
        """Stop listening and wait until every stream is closed (the gateway stops)."""
        self.stop()
        stopped, self._stopped = self._stopped, []
        for task in stopped:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _follow(self, snapshot: RegistrySnapshot) -> None:
        """One listener per active port, as registered now: new ports get one, moved ones a
        new one, paused or removed ones none."""
        if not self._running:
            return
        active = {port.id: port for port in snapshot.active}
        for port_id, (known, task) in list(self._watching.items()):
            now = active.get(port_id)
            if now is None or (now.url, now.credential) != (known.url, known.credential):
                task.cancel()
                self._stopped.append(task)
                del self._watching[port_id]
                self._open.discard(port_id)
        for port_id, port in active.items():
            if port_id not in self._watching:
                self._stopped = [t for t in self._stopped if not t.done()]
                task = asyncio.create_task(self._watch(port), name=f"portgate changes {port_id}")
                self._watching[port_id] = (port, task)

    async def _watch(self, port: ResolvedPort) -> None:
        failures = 0  # in a row: the backoff doubles with each
        headers = base_headers(port.credential) | {"accept": MEDIA_TYPE}
        url = changes_url(port.url)
        while True:
            not_served = False
            try:
                async with self._streams.get_stream(
                    port.id, url, headers, timeout=port.timeout
                ) as opened:
                    if opened.status in NOT_SERVED:
                        log.debug("%s sends no change notices: polled", port.id)
                        not_served = True
                    elif opened.status != 200 or opened.media_type != MEDIA_TYPE:
                        log.info("%s: its change notices answered %s %s", port.id,
                                 opened.status, opened.media_type)  # fmt: skip
                    else:
                        began = time.monotonic()
                        await self._listen(port.id, opened.chunks)
                        if time.monotonic() - began > self.max_backoff:
                            failures = 0  # it served a good while: a fresh start
            except (PortFailure, StreamBroken, TimeoutError) as exc:
                log.info("%s: its change notices stopped: %s", port.id, exc)
            finally:
                self._open.discard(port.id)
            if not_served:
                failures = 0
                await self._sleep(self.rediscover)
            else:  # also after a stream that simply ended: never a tight loop
                await self._sleep(min(self.backoff * 2**failures, self.max_backoff))
                failures = min(failures + 1, 32)

    async def _listen(self, port: str, chunks: AsyncIterator[bytes]) -> None:
        self._open.add(port)
        async with self._opened:
            self._opened.notify_all()
        self._told(port, EVERYTHING)  # what changed while nobody listened
        async for notice in read_notices(chunks, silence=self.silence, max_rate=self.max_rate):
            self._told(port, notice)
