"""Reference data of the simulation: the five ports, their terminals, trade and volumes,
carriers, flags.

- Terminals by SMDG code (Long Beach's SSA Terminal C is Matson's, code MATU); coordinates are
  approximate berth positions.
- Volumes: the ports' 2024 figures, about 10.0 (Los Angeles), 9.6 (Long Beach), 2.3 (Oakland)
  and 0.1 (Hueneme, San Diego) million TEU, of which about 99,000, 93,000 and 22,000 TEU a week
  discharged at the three large ports.
- Trade: Oakland is export-heavy (farm goods from the Central Valley, many of them
  refrigerated); Hueneme and San Diego are fruit ports, served by the fruit carriers'
  reefer ships (Chiquita's Great White Fleet, Dole); on-dock rail takes about a quarter of
  San Pedro Bay imports.
- Carriers by SMDG liner code with their SCAC. The simulated vessels themselves are fictional
  (names from a word list, IMO numbers with valid check digits).
"""

from types import MappingProxyType

from port_resolvers.sim.model import Port, Terminal, Trade, Volumes

PACIFIC = "America/Los_Angeles"

# Each port's own trade (see the module docstring for the sources of these shares).
TRADES = MappingProxyType({
    "USLAX": Trade(import_share=0.55, export_share=0.25, empty_share=0.20,
                   reefer_share=0.05, on_dock_rail_share=0.25),
    "USLGB": Trade(import_share=0.55, export_share=0.25, empty_share=0.20,
                   reefer_share=0.05, on_dock_rail_share=0.25),
    # Oakland ships the Central Valley's farm exports, many of them refrigerated.
    "USOAK": Trade(import_share=0.35, export_share=0.50, empty_share=0.15,
                   reefer_share=0.25, on_dock_rail_share=0.05),
    # Hueneme and San Diego: bananas, pineapples and other fruit in reefers, out again empty
    # or with farm exports.
    "USNTD": Trade(import_share=0.60, export_share=0.20, empty_share=0.20,
                   reefer_share=0.75, on_dock_rail_share=0.0),
    "USSAN": Trade(import_share=0.60, export_share=0.20, empty_share=0.20,
                   reefer_share=0.70, on_dock_rail_share=0.0),
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
