"""The resolver kit: serve the shared cargo schema for one port, from the port's own systems.

A port implements :class:`PortDataSource` (five async read-only methods returning plain record
dicts shaped like the schema) over its terminal systems, and serves it with
:func:`create_resolver_app`; the gateway registers the URL. The kit validates arguments, fills
derived fields, filters and pages vessel calls with the shared cursor, drops labor data (keys
and free text), serves aggregates only over whole weeks that pass the disclosure rules
(:mod:`port_resolvers.kit.metrics`), sets ``Cache-Control`` and continues the caller's W3C
trace::

    import uvicorn
    from port_resolvers.kit import CacheTtls, PortDataSource, create_resolver_app

    class TerminalSystems(PortDataSource):
        async def port(self): ...                  # PortRecord
        async def containers(self, references): ...  # list[ContainerRecord]
        # optional (DocumentLookup): boxes of a bill of lading or a booking
        async def containers_by_document(self, *, transport_document=None, booking=None): ...
        async def vessel_calls(self, filter): ...     # list[VesselCallRecord]
        async def vessel(self, imo): ...             # VesselRecord | None
        async def metrics(self, period, metrics): ...  # list[PortMetricRecord]
        # optional capabilities: the fields of portcontract.capabilities.OPTIONAL_FIELDS it fills
        offers = frozenset({"VesselCall.cutOffTimes", "Terminal.gateHours"})

    app = create_resolver_app(TerminalSystems(), "USLAX", cache_ttls=CacheTtls(containers=15))
    uvicorn.run(app, port=8101)  # POST /graphql, GET /healthz, GET /readyz

Raise :class:`SourceUnavailable` when the port's systems do not answer; call
:func:`port_resolvers.kit.notices.report` for what the source left out of an answer it gives.
"""

from port_resolvers.kit.app import create_resolver_app
from port_resolvers.kit.cache_control import CacheTtls
from port_resolvers.kit.source import (
    AppointmentSlotRecord,
    CallTimestampRecord,
    ContainerLocationRecord,
    ContainerRecord,
    CutOffTimeRecord,
    DocumentLookup,
    DocumentReferenceRecord,
    EmptyReturnRuleRecord,
    EquipmentEventRecord,
    GateDayRecord,
    GatePeriodRecord,
    HoldRecord,
    ImportAvailabilityRecord,
    LocationRecord,
    PortDataSource,
    PortMetricRecord,
    PortRecord,
    RailLegRecord,
    SealRecord,
    SourceUnavailable,
    TerminalRecord,
    TransportCallRecord,
    VesselCallFilter,
    VesselCallRecord,
    VesselRecord,
    WeekFigureRecord,
    offered_fields,
)

__all__ = [
    "AppointmentSlotRecord",
    "CacheTtls",
    "CallTimestampRecord",
    "ContainerLocationRecord",
    "ContainerRecord",
    "CutOffTimeRecord",
    "DocumentLookup",
    "DocumentReferenceRecord",
    "EmptyReturnRuleRecord",
    "EquipmentEventRecord",
    "GateDayRecord",
    "GatePeriodRecord",
    "HoldRecord",
    "ImportAvailabilityRecord",
    "LocationRecord",
    "PortDataSource",
    "PortMetricRecord",
    "PortRecord",
    "RailLegRecord",
    "SealRecord",
    "SourceUnavailable",
    "TerminalRecord",
    "TransportCallRecord",
    "VesselCallFilter",
    "VesselCallRecord",
    "VesselRecord",
    "WeekFigureRecord",
    "create_resolver_app",
    "offered_fields",
]
