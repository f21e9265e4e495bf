"""Subscriptions of the shared cargo schema: the same answers as the queries, told when they
change.

The gateway answers each by asking the ports again, once per interval per distinct
subscription however many subscribe (:mod:`gateway.query.live`); nothing is stored. The first
message is the current state; then one message per change, carrying what changed: the
containers or vessel calls whose selected fields changed, or the whole outlook when any of it
did. Like the root queries, the resolvers below are never called by a correct gateway.
"""

from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from gateway.schema.outlook import Outlook
from gateway.schema.query import (
    MAX_CONTAINER_REFERENCES,
    OutlookContainersArgument,
    OutlookDaysArgument,
    PortsArgument,
    _fanned_out,
)
from gateway.schema.types import Container, VesselCall

MAX_WINDOW_HOURS = 14 * 24
DEFAULT_WINDOW_HOURS = 72


def _not_fanned_out(info: Info) -> list[Any]:
    """Nothing to yield: execution reached a subscription's resolver (it never should)."""
    _fanned_out(info)


@strawberry.type(
    description="Live answers: the first message is the current state, then one per change."
)
class Subscription:
    @strawberry.subscription(
        name="containerUpdates",
        description=f"Containers by number (at most {MAX_CONTAINER_REFERENCES}): first every "
        "one a port knows, then each container whose selected fields changed (its status, "
        "availability, holds, last event), when they change.",
    )
    async def container_updates(
        self,
        info: Info,
        references: Annotated[
            list[str],
            strawberry.argument(
                description=f"At most {MAX_CONTAINER_REFERENCES} container numbers"
            ),
        ],
        ports: PortsArgument = None,
    ) -> AsyncGenerator[list[Container] | None, None]:
        for never in _not_fanned_out(info):
            yield never

    @strawberry.subscription(
        name="vesselCallUpdates",
        description="Vessel calls planned to arrive from a day ago to `window` hours ahead "
        "(at most 100 calls, in planned arrival order): first all of them, then each call whose "
        "selected fields changed (its ETA or ETB, phase, delay, status), when they change.",
    )
    async def vessel_call_updates(
        self,
        info: Info,
        ports: PortsArgument = None,
        window: Annotated[
            int,
            strawberry.argument(description=f"Hours ahead, 1 to {MAX_WINDOW_HOURS}"),
        ] = DEFAULT_WINDOW_HOURS,
    ) -> AsyncGenerator[list[VesselCall] | None, None]:
        for never in _not_fanned_out(info):
            yield never

    @strawberry.subscription(
        name="outlookUpdates",
        description="The cross-port outlook: first as it is, then again whenever any selected "
        "part of it changes (a port going missing or coming back included).",
    )
    async def outlook_updates(
        self,
        info: Info,
        ports: PortsArgument = None,
        days: OutlookDaysArgument = 3,
        containers: OutlookContainersArgument = None,
    ) -> AsyncGenerator[Outlook | None, None]:
        for never in _not_fanned_out(info):
            yield never
