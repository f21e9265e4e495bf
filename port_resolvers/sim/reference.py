"""Reference data of the simulation: the five ports, their terminals, trade and volumes,
carriers, flags.

- Terminals by SMDG code (Long Beach's SSA Terminal C is Matson's, code MATU); coordinates are
  approximate berth positions.
- Volumes: the ports' 2024 figures, about 10.0 (Los Angeles), 9.6 (Long Beach), 2.3 (Oakland)
  and 0.1 (Hueneme, San Diego) million TEU, of which about 99,000, 93,000 and 22,000 TEU a week
  discharged at the three large ports.
- Trade: Oakland is export-heavy (farm goods from the Central Valley, many of them
  refrigerated); Hueneme and San Diego are fruit ports, served by the fruit carriers'
  reefer ships (Chiquita's Great White Fleet, Dole); rail takes about a quarter of San Pedro
  Bay imports, most of them on-dock, and a few of Oakland's, near-dock.
- Carriers by SMDG liner code with their SCAC. The simulated vessels themselves are fictional
  (names from a word list, IMO numbers with valid check digits).
- What each port's systems publish of the optional capabilities (:data:`OFFERS`), and the
  figures behind them:

  - gate hours (:data:`GATE_PLANS`): the San Pedro Bay terminals open their peak day gate
    Monday to Friday from 07:00 or 08:00 to 17:00 and, under PierPass OffPeak, night gates
    Monday to Thursday from 18:00 to 03:00 and a Saturday day gate at some terminals (no
    Traffic Mitigation Fee off-peak); Friday nights and Sundays are not gate days. Oakland's
    terminals open 07:00 to 17:00 on weekdays, OICT (B58) also some weekday nights and on
    Saturdays; Hueneme and San Diego 07:00 to 16:00 on weekdays. The gates close on the
    holidays of the longshore contract that fall on a gate day (:data:`HOLIDAYS`), and now
    and then one terminal for a day for wind, fog or rain, or for work on its gate or yard;
  - truck appointments (:data:`USES_APPOINTMENTS`, :data:`APPOINTMENTS_PER_HOUR`): the
    terminals of Los Angeles, Long Beach and Oakland take trucks by appointment, booked in
    one-hour windows per transaction; Hueneme's takes them without;
  - empty returns: terminals publish each day which carriers' empties of which size and type
    they take, and the carriers give about four to seven days from the full box's gate-out to
    return it empty (:data:`EMPTY_FREE_DAYS`);
  - cut-offs (:data:`CUT_OFFS`): receiving opens about five days before the vessel's planned
    arrival for dry boxes and three for reefers, documentation closes about three days before,
    the VGM two, dry boxes must be in a day and a half before and reefers a day before;
  - rail (:data:`RAIL_ACCESS`, :data:`RAMPS`): on-dock rail at five terminals of each San
    Pedro Bay port, the others and Oakland's reach the Union Pacific and BNSF yards nearby
    (near-dock); trains run to the inland hubs, Chicago most of all.
"""

from datetime import timedelta
from types import MappingProxyType
from typing import Final

from port_resolvers.sim.model import GatePlan, Port, RailRamp, Terminal, Trade, Volumes
from portcontract.capabilities import OPTIONAL_FIELDS, RAIL_LEG

PACIFIC = "America/Los_Angeles"

# Each port's own trade (see the module docstring for the sources of these shares).
TRADES = MappingProxyType({
    "USLAX": Trade(import_share=0.55, export_share=0.25, empty_share=0.20,
                   reefer_share=0.05, rail_share=0.25),
    "USLGB": Trade(import_share=0.55, export_share=0.25, empty_share=0.20,
                   reefer_share=0.05, rail_share=0.25),
    # Oakland ships the Central Valley's farm exports, many of them refrigerated.
    "USOAK": Trade(import_share=0.35, export_share=0.50, empty_share=0.15,
                   reefer_share=0.25, rail_share=0.05),
    # Hueneme and San Diego: bananas, pineapples and other fruit in reefers, out again empty
    # or with farm exports.
    "USNTD": Trade(import_share=0.60, export_share=0.20, empty_share=0.20,
                   reefer_share=0.75, rail_share=0.0),
    "USSAN": Trade(import_share=0.60, export_share=0.20, empty_share=0.20,
                   reefer_share=0.70, rail_share=0.0),
})  # fmt: skip

# 2024 volumes in TEU a week: discharged (imports and empties in) and loaded.
VOLUMES = MappingProxyType({
    "USLAX": Volumes(discharged_teu_per_week=99_000, loaded_teu_per_week=93_000),
    "USLGB": Volumes(discharged_teu_per_week=93_000, loaded_teu_per_week=91_500),
    "USOAK": Volumes(discharged_teu_per_week=22_000, loaded_teu_per_week=22_200),
    "USNTD": Volumes(discharged_teu_per_week=1_050, loaded_teu_per_week=870),
    "USSAN": Volumes(discharged_teu_per_week=1_000, loaded_teu_per_week=850),
})  # fmt: skip


def _port(port_id: str, name: str, teu: float, terminals: tuple[Terminal, ...]) -> Port:
    return Port(port_id, name, PACIFIC, teu, terminals, TRADES[port_id], VOLUMES[port_id])


PORTS = MappingProxyType({
    "USLAX": _port("USLAX", "Port of Los Angeles", 10.0, (
        Terminal("APMT", "APM Pier 400", 33.7339, -118.2618),
        Terminal("ETS", "Everport", 33.7545, -118.2735),
        Terminal("EAGLE", "Fenix Marine", 33.7440, -118.2680),
        Terminal("TRAP", "TraPac", 33.7720, -118.2720),
        Terminal("WBCT", "West Basin", 33.7630, -118.2770),
        Terminal("YUSEN", "Yusen", 33.7580, -118.2650),
    )),
    "USLGB": _port("USLGB", "Port of Long Beach", 9.6, (
        Terminal("LBCT", "Long Beach Container Terminal", 33.7600, -118.2130),
        Terminal("TTI", "Total Terminals Intl", 33.7530, -118.2380),
        Terminal("SSAPCT", "Pacific Container Terminal", 33.7390, -118.1900),
        Terminal("SSATA", "SSA Pier A", 33.7740, -118.2300),
        Terminal("ITS", "Intl Transportation Service", 33.7560, -118.2010),
        Terminal("MATU", "SSA Terminal C (Matson)", 33.7650, -118.2080),
    )),
    "USOAK": _port("USOAK", "Port of Oakland", 2.3, (
        Terminal("B58", "OICT", 37.8000, -122.3190),
        Terminal("TPOAK", "TraPac", 37.8120, -122.3050),
        Terminal("BENT", "Ben E. Nutter (Everport)", 37.8095, -122.3120),
    )),
    "USNTD": _port("USNTD", "Port of Hueneme", 0.1, (
        Terminal("HUE", "Port Hueneme", 34.1480, -119.2070),
    )),
    "USSAN": _port("USSAN", "Port of San Diego", 0.1, (
        Terminal("TAMT", "Tenth Avenue Marine Terminal", 32.6990, -117.1520),
    )),
})  # fmt: skip
PORT_IDS = tuple(PORTS)

# Owner codes of real carriers and lessors (ISO 6346 category U is added by the generator).
OWNER_CODES = (
    "MSC", "MAE", "CMA", "EGH", "HLX", "ONE", "YML", "ZIM", "TCL", "TGH", "CSQ",
    "CBH", "OOC", "HDM", "MAT",
)  # fmt: skip
# The fruit trade's reefers at Hueneme and San Diego (Dole's, Chiquita's).
FRUIT_OWNER_CODES = ("DOL", "CRL")

# SMDG liner codes of the carriers, how their ships' names usually start, and their SCAC.
LINERS = MappingProxyType({
    "MSC": "MSC", "MSK": "MAERSK", "CMA": "CMA CGM", "EMC": "EVER",
    "HLC": "HL", "ONE": "ONE", "YML": "YM", "ZIM": "ZIM",
    "COS": "COSCO", "OOL": "OOCL", "HMM": "HMM", "MAT": "MATSON",
    "GWF": "GREAT WHITE", "DOL": "DOLE",
})  # fmt: skip
SCACS = MappingProxyType({
    "MSC": "MSCU", "MSK": "MAEU", "CMA": "CMDU", "EMC": "EGLV", "HLC": "HLCU", "ONE": "ONEY",
    "YML": "YMLU", "ZIM": "ZIMU", "COS": "COSU", "OOL": "OOLU", "HMM": "HDMU", "MAT": "MATS",
    "GWF": "GWFC", "DOL": "DOLQ",
})  # fmt: skip

# Flag state -> (MMSI maritime identification digits, call sign prefix).
FLAGS = MappingProxyType({
    "PA": (("351", "352", "353", "354", "355", "356", "357", "370", "371", "372"), "3E"),
    "LR": (("636",), "D5"),
    "MH": (("538",), "V7"),
    "SG": (("563", "564", "565", "566"), "9V"),
    "HK": (("477",), "VR"),
    "MT": (("215", "229", "248", "249", "256"), "9H"),
    "DK": (("219", "220"), "OZ"),
    "PT": (("255",), "CQ"),
    "BS": (("308", "309", "311"), "C6"),
})  # fmt: skip

NAME_WORDS = (
    "AURIGA", "BRISA", "CALDERA", "DORADO", "ESTUARY", "FARALLON", "GAVIOTA", "HALCYON",
    "ISLAY", "JUNIPER", "KESTREL", "LAGUNA", "MERIDIAN", "NOVARA", "OSPREY", "PALOMA",
    "QUILLON", "RIVIERA", "SOLANA", "TORREY", "UMBRIA", "VENTANA", "WILLET", "XANTHE",
    "YARROW", "ZEPHYR", "ARBOR", "BEACON", "CORMORANT", "DELTA", "EMBER", "FJORD",
)  # fmt: skip

# Containers the simulation holds per million TEU of 2024 volume, at scale 1.0.
CONTAINERS_PER_MILLION_TEU = 100
MIN_CONTAINERS_PER_PORT = 10

# Days of free time after discharge, and demurrage per day after the last free day.
FREE_DAYS = MappingProxyType({"USLAX": 4, "USLGB": 4, "USOAK": 5, "USNTD": 5, "USSAN": 5})
DEMURRAGE_USD_PER_DAY = MappingProxyType(
    {"USLAX": 175.0, "USLGB": 165.0, "USOAK": 130.0, "USNTD": 100.0, "USSAN": 100.0}
)
# Traffic Mitigation Fee (PierPass) holds exist at the San Pedro Bay ports only.
TMF_PORTS = frozenset({"USLAX", "USLGB"})

# -- optional capabilities --------------------------------------------------------------------

_EVERYTHING = OPTIONAL_FIELDS
# What each port's systems publish (coordinates of portcontract.capabilities.OPTIONAL_FIELDS).
# Hueneme has no rail; San Diego's terminal system is older and publishes none of these: the
# port whose clients see them under notOffered.
OFFERS: Final = MappingProxyType({
    "USLAX": _EVERYTHING,
    "USLGB": _EVERYTHING,
    "USOAK": _EVERYTHING,
    "USNTD": _EVERYTHING - {RAIL_LEG},
    "USSAN": frozenset[str](),
})  # fmt: skip

_WEEKDAYS_BUT_FRIDAY = frozenset({0, 1, 2, 3})  # PierPass OffPeak nights: Monday to Thursday


def _san_pedro_bay(opens: int, saturday: bool) -> GatePlan:
    return GatePlan(
        day=(opens, 17), nights=_WEEKDAYS_BUT_FRIDAY, saturday=(8, 17) if saturday else None
    )


# Each terminal's regular gate week (see the module docstring).
GATE_PLANS: Final = MappingProxyType({
    "USLAX": MappingProxyType({
        "APMT": _san_pedro_bay(8, saturday=True),
        "ETS": _san_pedro_bay(8, saturday=False),
        "EAGLE": _san_pedro_bay(7, saturday=True),
        "TRAP": _san_pedro_bay(7, saturday=True),
        "WBCT": _san_pedro_bay(8, saturday=False),
        "YUSEN": _san_pedro_bay(8, saturday=True),
    }),
    "USLGB": MappingProxyType({
        "LBCT": _san_pedro_bay(7, saturday=True),
        "TTI": _san_pedro_bay(8, saturday=True),
        "SSAPCT": _san_pedro_bay(8, saturday=False),
        "SSATA": _san_pedro_bay(8, saturday=False),
        "ITS": _san_pedro_bay(7, saturday=True),
        "MATU": _san_pedro_bay(7, saturday=False),
    }),
    "USOAK": MappingProxyType({
        "B58": GatePlan(day=(7, 17), nights=frozenset({0, 1, 2, 3}), night=(18, 26),
                        saturday=(8, 16)),
        "TPOAK": GatePlan(day=(7, 17)),
        "BENT": GatePlan(day=(7, 17)),
    }),
    "USNTD": MappingProxyType({"HUE": GatePlan(day=(7, 16))}),
    "USSAN": MappingProxyType({"TAMT": GatePlan(day=(7, 16))}),
})  # fmt: skip
# The holidays of the longshore contract that close the gates, as (month, day) or, for those
# on a weekday of a week, (month, weekday, nth; -1 the last).
HOLIDAYS: Final = (
    ("New Year's Day", (1, 1)),
    ("Memorial Day", (5, 0, -1)),
    ("Independence Day", (7, 4)),
    ("Labor Day", (9, 0, 1)),
    ("Thanksgiving", (11, 3, 4)),
    ("Christmas", (12, 25)),
)
# The chance that one of a port's terminals closes for a day for weather or maintenance.
CLOSURE_CHANCE_PER_DAY: Final = 0.06

# Terminals that take trucks by appointment only, and how many they take an hour, by
# transaction, at each port (a large San Pedro Bay terminal books a few hundred trucks an hour).
USES_APPOINTMENTS: Final = MappingProxyType(
    {"USLAX": True, "USLGB": True, "USOAK": True, "USNTD": False, "USSAN": False}
)
TRANSACTIONS: Final = ("IMPORT_PICKUP", "EXPORT_DROPOFF", "EMPTY_RETURN", "EMPTY_PICKUP")
APPOINTMENTS_PER_HOUR: Final = MappingProxyType({
    "USLAX": (90, 60, 50, 25),
    "USLGB": (90, 60, 50, 25),
    "USOAK": (45, 45, 25, 20),
})  # fmt: skip
NIGHT_APPOINTMENTS: Final = 0.6  # a night or Saturday gate books this share of a day's
LIMITED_BELOW: Final = 0.2  # fewer than this share of a slot's appointments left: LIMITED

# Empty-return rules: the sizes and types terminals publish them for, and the carriers' free
# days for the empty after the full box's gate-out (merchant haulage, by SCAC).
EMPTY_TYPES: Final = ("22G1", "42G1", "45G1", "L5G1", "22R1", "45R1")
EMPTY_FREE_DAYS: Final = MappingProxyType({
    "MSCU": 4, "MAEU": 4, "CMDU": 5, "EGLV": 5, "HLCU": 5, "ONEY": 4, "YMLU": 5, "ZIMU": 4,
    "COSU": 5, "OOLU": 5, "HDMU": 4, "MATS": 7, "GWFC": 6, "DOLQ": 6,
})  # fmt: skip

# Cut-offs before a call's planned arrival, at whole local hours, in time order:
# (DCSA cutOffDateTimeCode, reefer, how long before).
CUT_OFFS: Final = (
    ("EFC", False, timedelta(days=5)),
    ("EFC", True, timedelta(hours=76)),
    ("DCO", False, timedelta(days=3)),
    ("VCO", False, timedelta(days=2)),
    ("FCO", False, timedelta(hours=36)),
    ("FCO", True, timedelta(days=1)),
)

ON_DOCK: Final = "ON_DOCK"
NEAR_DOCK: Final = "NEAR_DOCK"
# How each terminal's imports reach a train. The Intermodal Container Transfer Facility serves
# San Pedro Bay terminals without rail of their own; Oakland's trains leave from Union
# Pacific's and BNSF's yards beside the port.
RAIL_ACCESS: Final = MappingProxyType({
    "USLAX": MappingProxyType({"APMT": ON_DOCK, "ETS": NEAR_DOCK, "EAGLE": ON_DOCK,
                               "TRAP": ON_DOCK, "WBCT": ON_DOCK, "YUSEN": ON_DOCK}),
    "USLGB": MappingProxyType({"LBCT": ON_DOCK, "TTI": ON_DOCK, "SSAPCT": ON_DOCK,
                               "SSATA": ON_DOCK, "ITS": ON_DOCK, "MATU": NEAR_DOCK}),
    "USOAK": MappingProxyType({"B58": NEAR_DOCK, "TPOAK": NEAR_DOCK, "BENT": NEAR_DOCK}),
})  # fmt: skip
# Inland ramps the trains run to: the ramp, how often (weight), which railroads (SCAC) serve it.
RAMPS: Final = (
    (RailRamp("Chicago, IL", "USCHI"), 30, ("UPRR", "BNSF")),
    (RailRamp("Dallas, TX", "USDAL"), 15, ("UPRR", "BNSF")),
    (RailRamp("Memphis, TN", "USMEM"), 14, ("UPRR", "BNSF")),
    (RailRamp("Kansas City, MO", "USMKC"), 12, ("UPRR", "BNSF")),
    (RailRamp("Denver, CO", "USDEN"), 8, ("UPRR", "BNSF")),
    (RailRamp("Salt Lake City, UT", "USSLC"), 8, ("UPRR",)),
)
