"""Whom a subscription counts against (gateway/edge/subscribing.py): a client by its id, an
anonymous caller by its address (an IPv6 one by its network), never every anonymous caller as
one."""

from gateway.access.auth import ANONYMOUS, Principal
from gateway.edge.subscribing import holder

KEYED = Principal("hauler", "Haul Co", frozenset({"trucker"}), None, "api_key")


def test_a_client_is_counted_by_its_id_wherever_it_connects_from() -> None:
    assert holder({"client": ("192.0.2.1", 4000)}, KEYED) == "client:hauler"
    assert holder({"client": ("198.51.100.7", 4000)}, KEYED) == "client:hauler"


def test_anonymous_callers_are_counted_by_their_address() -> None:
    assert holder({"client": ("192.0.2.1", 4000)}, ANONYMOUS) == "ip:192.0.2.1"
    assert holder({"client": ("192.0.2.2", 4000)}, ANONYMOUS) == "ip:192.0.2.2"
    one_network = {holder({"client": (f"2001:db8::{n}", 1)}, ANONYMOUS) for n in range(1, 5)}
    assert one_network == {"ip:2001:db8::/64"}
