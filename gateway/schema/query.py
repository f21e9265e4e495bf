"""Root fields of the shared cargo schema.

Every root field is answered by the gateway's fan-out (:mod:`gateway.planning.plan`,
:mod:`gateway.ports.fetch`, :mod:`gateway.query.merge`) for the whole operation at once, as JSON, so
the resolvers below are never called by a correct gateway: they declare each field's arguments and
contract, and fail loudly if execution ever reaches them.

Root fields are nullable: a bad argument to one of them nulls that field only, and the others
still answer.
"""

from datetime import datetime
from typing import Annotated, NoReturn

import strawberry
from strawberry.types import Info

from gateway.schema.enums import MetricPeriod, PortMetricType, TransportCallStatusCode
from gateway.schema.outlook import Outlook
from gateway.schema.types import Container, Port, PortMetric, Vessel, VesselCallConnection

MAX_CONTAINER_REFERENCES = 100
MAX_PAGE_SIZE = 100
MAX_OUTLOOK_DAYS = 14
DEFAULT_PAGE_SIZE = 20

PortsArgument = Annotated[
    list[str] | None,
    strawberry.argument(
        description="UN/LOCODEs of the ports to ask; by default every port that answers this field"
    ),
]

# The outlook's arguments, which outlookUpdates takes too.
OutlookDaysArgument = Annotated[
    int, strawberry.argument(description=f"Window length from now, 1 to {MAX_OUTLOOK_DAYS}")
]
OutlookContainersArgument = Annotated[
    list[str] | None,
    strawberry.argument(description=f"Your container numbers (at most {MAX_CONTAINER_REFERENCES})"),
]


class RootFieldNotFannedOut(RuntimeError):
    """A root field reached per-field execution: the fan-out extension is missing."""


def _fanned_out(info: Info) -> NoReturn:
    raise RootFieldNotFannedOut(f"root field {info.field_name!r} must be answered by the fan-out")


@strawberry.type(description="One question, every port: each field is answered live by the ports.")
class Query:
    @strawberry.field(description="The ports of the partnership and their terminals.")
    def ports(self, info: Info, ports: PortsArgument = None) -> list[Port] | None:
        _fanned_out(info)

    @strawberry.field(
        description="A container by number, from the port that saw it last (latest actual "
        "event). A malformed ISO 6346 number is a BAD_USER_INPUT error."
    )
    def container(
        self,
        info: Info,
        reference: Annotated[
            str, strawberry.argument(description="ISO 6346 number, or a DCSA equipment reference")
        ],
        ports: PortsArgument = None,
    ) -> Container | None:
        _fanned_out(info)

    @strawberry.field(
        description=f"Containers by number (at most {MAX_CONTAINER_REFERENCES}), in the order "
        "asked, numbers no port knows left out; or the containers of one transport document "
        "(bill of lading) or one booking, by number. Give exactly one of the three."
    )
    def containers(
        self,
        info: Info,
        references: Annotated[
            list[str] | None,
            strawberry.argument(
                description=f"At most {MAX_CONTAINER_REFERENCES} container numbers"
            ),
        ] = None,
        ports: PortsArgument = None,
        transport_document_reference: Annotated[
            str | None,
            strawberry.argument(
                name="transportDocumentReference",
                description="A bill of lading or sea waybill number (DCSA "
                "transportDocumentReference)",
            ),
        ] = None,
        carrier_booking_reference: Annotated[
            str | None,
            strawberry.argument(
                name="carrierBookingReference",
                description="A carrier's booking number (DCSA carrierBookingReference)",
            ),
        ] = None,
    ) -> list[Container] | None:
        _fanned_out(info)

    @strawberry.field(
        name="vesselCalls",
        description="Vessel calls at every port asked, ordered by planned berth arrival, paged "
        "with one cursor across ports.",
    )
    def vessel_calls(
        self,
        info: Info,
        ports: PortsArgument = None,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="Planned arrival at or after"),
        ] = None,
        to: Annotated[
            datetime | None, strawberry.argument(description="Planned arrival before")
        ] = None,
        status: Annotated[
            list[TransportCallStatusCode] | None,
            strawberry.argument(description="Only calls with one of these status codes"),
        ] = None,
        vessel_imo_number: Annotated[
            str | None, strawberry.argument(name="vesselIMONumber", description="Only this vessel")
        ] = None,
        first: Annotated[
            int, strawberry.argument(description=f"Page size, 1 to {MAX_PAGE_SIZE}")
        ] = DEFAULT_PAGE_SIZE,
        after: Annotated[
            str | None, strawberry.argument(description="endCursor of the previous page")
        ] = None,
    ) -> VesselCallConnection | None:
        _fanned_out(info)

    @strawberry.field(description="A vessel by IMO number, as the ports it calls at know it.")
    def vessel(
        self,
        info: Info,
        imo: Annotated[str, strawberry.argument(description="IMO number, 7 digits")],
        ports: PortsArgument = None,
    ) -> Vessel | None:
        _fanned_out(info)

    @strawberry.field(
        description="A cross-port outlook: what is coming, who is congested, which of your "
        "containers are at risk. Computed by the gateway from the ports' live answers, with "
        "your rights; ports that do not answer are shown as missing, never as zero."
    )
    def outlook(
        self,
        info: Info,
        ports: PortsArgument = None,
        days: OutlookDaysArgument = 3,
        containers: OutlookContainersArgument = None,
    ) -> Outlook | None:
        _fanned_out(info)

    @strawberry.field(
        name="portMetrics",
        description="Port- and terminal-level aggregates, each with its period and sample size. "
        "Aggregates over containers, trucks or moves cover whole weeks that have ended, so two "
        "calls in the same week give the same answer; a value that could single out a truck, "
        "a few boxes or a vessel call is null (labor privacy).",
    )
    def port_metrics(
        self,
        info: Info,
        ports: PortsArgument = None,
        metrics: Annotated[
            list[PortMetricType] | None,
            strawberry.argument(description="Which metrics; by default all"),
        ] = None,
        period: Annotated[
            MetricPeriod,
            strawberry.argument(description="How many whole weeks, ending at the last closed one"),
        ] = MetricPeriod.LAST_7_DAYS,
    ) -> list[PortMetric] | None:
        _fanned_out(info)
