"""What the HTTP edge keeps while it runs: its counts (:mod:`gateway.edge.counts`), and the
background watchers its middleware rely on (the event loop's lag, the deadlines of body reads).

One :class:`Edge` per app (``app.state.edge``, where the server that runs the app finds it),
started and stopped by the app's lifespan. Without the lifespan (an app driven directly, as in
some tests) no watcher runs: the lag reads 0 and body reads have no deadline.
"""

import asyncio
import contextlib

from gateway.edge.body_limit import ReadDeadlines
from gateway.edge.counts import EdgeCounts
from gateway.edge.overload import EventLoopLag


class Edge:
    """The edge's counts and watchers, for one app."""

    def __init__(self, loop_lag: EventLoopLag, reads: ReadDeadlines) -> None:
        self.counts = EdgeCounts()
        self.loop_lag = loop_lag
        self.reads = reads
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.loop_lag.run(), name="portgate-event-loop-lag"),
            asyncio.create_task(self.reads.run(), name="portgate-body-deadlines"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
