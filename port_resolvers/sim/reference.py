"""Reference data of the simulation: the five ports and their terminals, carriers, flags.

Terminal codes and names follow DOMAIN.md; coordinates are approximate berth positions.
"""

from types import MappingProxyType

from port_resolvers.sim.model import Port, Terminal

PACIFIC = "America/Los_Angeles"

PORTS = MappingProxyType({
    "USLAX": Port("USLAX", "Port of Los Angeles", PACIFIC, 10.0, (
        Terminal("APMT", "APM Pier 400", 33.7339, -118.2618),
        Terminal("ETS", "Everport", 33.7545, -118.2735),
        Terminal("EAGLE", "Fenix Marine", 33.7440, -118.2680),
        Terminal("TRAP", "TraPac", 33.7720, -118.2720),
        Terminal("WBCT", "West Basin", 33.7630, -118.2770),
        Terminal("YUSEN", "Yusen", 33.7580, -118.2650),
    )),
    "USLGB": Port("USLGB", "Port of Long Beach", PACIFIC, 9.6, (
        Terminal("LBCT", "Long Beach Container Terminal", 33.7600, -118.2130),
        Terminal("TTI", "Total Terminals Intl", 33.7530, -118.2380),
        Terminal("SSAPCT", "Pacific Container Terminal", 33.7390, -118.1900),
        Terminal("SSATA", "SSA Pier A", 33.7740, -118.2300),
        Terminal("ITS", "Intl Transportation Service", 33.7560, -118.2010),
    )),
    "USOAK": Port("USOAK", "Port of Oakland", PACIFIC, 2.3, (
        Terminal("B58", "OICT", 37.8000, -122.3190),
        Terminal("TPOAK", "TraPac", 37.8120, -122.3050),
        Terminal("BENT", "Ben E. Nutter (Everport)", 37.8095, -122.3120),
    )),
    "USNTD": Port("USNTD", "Port of Hueneme", PACIFIC, 0.1, (
        Terminal("HUE", "Port Hueneme", 34.1480, -119.2070),
    )),
    "USSAN": Port("USSAN", "Port of San Diego", PACIFIC, 0.1, (
        Terminal("TAMT", "Tenth Avenue Marine Terminal", 32.6990, -117.1520),
    )),
})  # fmt: skip
PORT_IDS = tuple(PORTS)

# Owner codes of real carriers and lessors (ISO 6346 category U is added by the generator).
OWNER_CODES = ("MSC", "MAE", "CMA", "EGH", "HLX", "ONE", "YML", "ZIM", "TCL", "TGH", "CSQ")

# SMDG liner codes and how their ships' names usually start.
LINERS = MappingProxyType({
    "MSC": "MSC", "MSK": "MAERSK", "CMA": "CMA CGM", "EMC": "EVER",
    "HLC": "HL", "ONE": "ONE", "YML": "YM", "ZIM": "ZIM",
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
