"""Telling the gateway what changed: ``GET /changes``, a stream of change notices.

A resolver whose systems can say when something changed (a DCSA event subscription, a database
trigger, a queue) hands each change to :meth:`ChangeNotices.publish`; every gateway listening
on ``GET /changes`` (one stream per gateway replica) is told, and asks the port again at once
instead of at its next poll. The wire format is :mod:`portcontract.changes`: names of what
changed, never the data.

Bounded: a listener that does not keep up has its pending notices merged into one (never a
queue), at most ``max_listeners`` streams are served at once (503 past them), and a heartbeat
comment goes out every ``heartbeat`` seconds of quiet, so a dead peer is noticed on both sides.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Final

from portcontract.changes import ChangeNotice

logger = logging.getLogger("port_resolvers.kit")

HEARTBEAT: Final = b": ping\n\n"
OPENED: Final = b": listening\n\n"  # sent at once, so the gateway knows the stream is up
DEFAULT_HEARTBEAT_SECONDS: Final = 15.0
DEFAULT_MAX_LISTENERS: Final = 16


class _Listener:
    """One gateway's stream: at most one pending notice, merged, never a queue."""

    def __init__(self) -> None:
        self.pending: ChangeNotice | None = None
        self.ready = asyncio.Event()
        self.closed = False

    def tell(self, notice: ChangeNotice) -> None:
        self.pending = notice if self.pending is None else self.pending.merged(notice)
        self.ready.set()


class NotListening(Exception):
    """The resolver cannot pass on changes now: every stream it serves is taken, or its own
    systems are not telling it (suspended)."""


class ChangeNotices:
    """The changes a resolver's systems report, passed on to every listening gateway."""

    def __init__(
        self,
        *,
        heartbeat: float = DEFAULT_HEARTBEAT_SECONDS,
        max_listeners: int = DEFAULT_MAX_LISTENERS,
    ) -> None:
        self.heartbeat = heartbeat
        self.max_listeners = max_listeners
        self.published = 0
        self.available = True
        self._listeners: set[_Listener] = set()

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def publish(self, notice: ChangeNotice) -> None:
        """Tell every listening gateway (returns at once; an empty notice is no news)."""
        if notice.empty:
            return
        self.published += 1
        for listener in self._listeners:
            listener.tell(notice)

    def listen(self) -> AsyncIterator[bytes]:
        """The stream's frames for one more listener; raises :class:`NotListening`."""
        if not self.available:
            raise NotListening("the port's systems are not telling of changes now")
        if len(self._listeners) >= self.max_listeners:
            raise NotListening(f"at most {self.max_listeners} gateways listen at once")
        return self._frames(_Listener())

    async def _frames(self, listener: _Listener) -> AsyncIterator[bytes]:
        if not self.available:  # suspended since it was asked for
            return
        self._listeners.add(listener)  # once the stream runs: one never started holds nothing
        try:
            yield OPENED
            while not listener.closed:
                try:
                    await asyncio.wait_for(listener.ready.wait(), self.heartbeat)
                except TimeoutError:
                    yield HEARTBEAT
                    continue
                listener.ready.clear()
                notice, listener.pending = listener.pending, None
                if notice is not None:
                    yield notice.to_event()
        finally:
            self._listeners.discard(listener)

    def close(self) -> None:
        """End every stream (at shutdown)."""
        for listener in self._listeners:
            listener.closed = True
            listener.ready.set()

    def suspend(self) -> None:
        """The port's systems stopped telling of changes (a lost subscription): every stream
        ends and none is served, so the gateway asks every interval until :meth:`resume`."""
        self.available = False
        self.close()

    def resume(self) -> None:
        """The port's systems tell of changes again: streams are served."""
        self.available = True
