"""The egress rules on their own: which addresses are refused by default, how listed hosts and
networks widen them, and names judged on what a scripted resolver says (never the real DNS)."""

import ipaddress

import pytest

from gateway.cli.main import loopback_egress
from gateway.config import ConfigError, load_settings
from gateway.ports.egress import EgressRules, refused_class
from tests.gateway.fake_dns import ScriptedResolver

# Each address with the range it belongs to, from the IANA special-purpose registries.
REFUSED = {
    "127.0.0.1": "loopback", "127.8.9.10": "loopback", "::1": "loopback",
    "169.254.169.254": "link-local", "fe80::1": "link-local",
    "10.0.0.1": "private (RFC 1918)", "172.16.0.1": "private (RFC 1918)",
    "172.31.255.255": "private (RFC 1918)", "192.168.0.1": "private (RFC 1918)",
    "fc00::1": "private (unique local)", "fd12:3456::1": "private (unique local)",
    "100.64.0.1": "shared (CGNAT)", "100.127.255.254": "shared (CGNAT)",
    "0.0.0.0": "unspecified", "::": "unspecified",
    "224.0.0.1": "multicast", "239.255.255.250": "multicast", "ff02::1": "multicast",
    "240.0.0.1": "reserved", "255.255.255.255": "reserved",
    "fec0::1": "site-local",
    "192.0.2.1": "special-purpose", "198.51.100.1": "special-purpose",
    "198.18.0.1": "special-purpose", "2001:db8::1": "special-purpose",
    # IPv6 spellings of IPv4 addresses: judged as the IPv4 address
    "::ffff:127.0.0.1": "loopback", "::ffff:10.1.2.3": "private (RFC 1918)",
    "::ffff:169.254.169.254": "link-local",
    "64:ff9b::a9fe:a9fe": "link-local",  # NAT64 of 169.254.169.254
    "2002:c0a8:0101::": "private (RFC 1918)",  # 6to4 of 192.168.1.1
}  # fmt: skip
PUBLIC = ["8.8.8.8", "93.184.215.14", "2606:4700::1111", "::ffff:8.8.8.8", "172.32.0.1"]


@pytest.mark.parametrize(("address", "kind"), sorted(REFUSED.items()))
def test_special_purpose_addresses_are_refused_by_default(address: str, kind: str) -> None:
    assert refused_class(ipaddress.ip_address(address)) == kind
    reason = EgressRules().refuses_address(ipaddress.ip_address(address), 443)
    assert reason is not None
    assert kind in reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed_unless_switched_off(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert EgressRules().refuses_address(ip, 443) is None
    assert EgressRules(public_addresses=False).refuses_address(ip, 443) is not None


def test_listed_hosts_and_networks_widen_the_rules() -> None:
    rules = EgressRules(
        schemes=["http", "https"],
        hosts=["127.0.0.1:9101", "[::1]:9101", "sim-ports:9103", "*.ports.internal"],
        networks=["10.40.0.0/16"],
    )
    assert rules.refuses_url("http://127.0.0.1:9101/graphql") is None
    assert rules.refuses_url("http://[::1]:9101/graphql") is None
    assert rules.refuses_url("http://[::ffff:127.0.0.1]:9101/graphql") is None  # the same
    assert rules.refuses_url("http://127.0.0.1:8000/admin/ports") is not None  # another port
    assert rules.refuses_url("http://10.40.3.4/graphql") is None
    assert rules.refuses_url("http://10.41.0.1/graphql") is not None
    assert rules.trusts_name("sim-ports", 9103)
    assert not rules.trusts_name("sim-ports", 9105)
    assert rules.trusts_name("resolver.usrch.ports.internal", 443)
    assert rules.trusts_name("RESOLVER.ports.internal.", 443)  # case and a trailing dot
    assert not rules.trusts_name("ports.internal", 443)  # `*.` means under it
    assert not rules.trusts_name("evilports.internal", 443)


def test_schemes_are_https_only_by_default() -> None:
    assert "scheme http" in (EgressRules().refuses_url("http://8.8.8.8/graphql") or "")
    assert EgressRules().refuses_url("https://8.8.8.8/graphql") is None


@pytest.mark.parametrize(
    "entry", ["bad host!", "127.0.0.1:0", "127.0.0.1:70000", "[::1", "host:port", "*."]
)
def test_a_malformed_host_entry_is_a_config_error(entry: str) -> None:
    with pytest.raises(ConfigError, match=r"registry\.egress\.hosts"):
        load_settings(None, registry={"egress": {"hosts": [entry]}})


async def test_a_name_is_judged_on_every_address_it_resolves_to() -> None:
    names = ScriptedResolver({
        "resolver.example": [["93.184.215.14"]],
        "split.example": [["93.184.215.14", "10.0.0.5"]],
        "inside.example": [["fd00::5"]],
    })  # fmt: skip
    rules = EgressRules()
    assert await rules.admit("https://resolver.example/graphql", names) is None
    split = await rules.admit("https://split.example/graphql", names)
    assert split is not None
    assert "private (RFC 1918)" in split
    assert "10.0.0.5" not in split  # what the name resolves to is not told
    assert "unique local" in (await rules.admit("https://inside.example/g", names) or "")
    # A name that does not resolve now is not refused: it is judged when connecting.
    assert await rules.admit("https://gone.example/graphql", names) is None


async def test_a_listed_name_and_an_address_are_never_resolved() -> None:
    names = ScriptedResolver({})
    rules = EgressRules(schemes=["http"], hosts=["sim-ports"], networks=["10.0.0.0/8"])
    assert await rules.admit("http://sim-ports:9101/graphql", names) is None
    assert await rules.admit("http://10.1.1.1/graphql", names) is None
    assert await rules.admit("http://127.0.0.1/graphql", names) is not None
    assert names.lookups == []


async def test_with_public_addresses_off_an_unlisted_name_is_refused_without_a_lookup() -> None:
    names = ScriptedResolver({"inside.example": [["127.0.0.1"]]})
    rules = EgressRules(schemes=["https"], hosts=["localhost", "127.0.0.1"],
                        public_addresses=False)  # fmt: skip
    refused = await rules.admit("https://inside.example/hook", names)
    assert refused is not None
    assert "not listed" in refused
    assert await rules.admit("https://localhost/hook", names) is None
    assert await rules.admit("https://127.0.0.1/hook", names) is None
    assert names.lookups == []  # nothing was looked up to say so


def test_the_demo_allows_exactly_its_resolvers() -> None:
    urls = ["http://127.0.0.1:41001/graphql", "http://127.0.0.1:41003/graphql"]
    egress = loopback_egress(urls)
    assert egress == {"schemes": ["http"], "hosts": ["127.0.0.1:41001", "127.0.0.1:41003"]}
    rules = EgressRules(**egress)
    assert [rules.refuses_url(u) for u in urls] == [None, None]
    assert rules.refuses_url("http://127.0.0.1:8000/admin/ports") is not None
    assert rules.refuses_url("https://127.0.0.1:41001/graphql") is not None  # http only
