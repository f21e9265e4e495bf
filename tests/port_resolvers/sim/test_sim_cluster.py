"""The demo's simulated ports on loopback: each system and its resolver answer over HTTP."""

import httpx

from gateway.cli.conformance import check_resolver, format_report
from port_resolvers.sim.cluster import run_simulated_ports
from port_resolvers.sim.reference import OFFERS
from portcontract.capabilities import OPTIONAL_FIELDS


async def test_ports_serve_their_systems_and_resolvers_on_loopback():
    async with run_simulated_ports(seed=11, port_ids=("USOAK", "USSAN")) as ports:
        assert [(p.id, p.kind) for p in ports] == [("USOAK", "DCSA"), ("USSAN", "NATIVE")]
        oak = ports[0]
        box = next(b for b in oak.system.data.containers if b.status == "IN_TERMINAL")
        query = '{ container(reference: "%s") { sourcePort location { yardBlock } } }'
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(oak.resolver_url, json={"query": query % box.reference})
            knobs = await client.post(f"{ports[1].system_url}/_sim/knobs", json={"down": True})
        assert answer.json()["data"]["container"] == {
            "sourcePort": "USOAK",
            "location": {"yardBlock": box.yard.block},
        }
        assert knobs.json()["down"] is True
        assert oak.system.stats.requests["GET /v2/events"] == 1


async def test_the_terminal_api_ports_conform_offering_what_their_systems_publish():
    """Conformance's sense checks of the optional fields (cut-offs before arrival, gate days
    in order, FULL slots with none left, ...) hold for a port offering all of them, one
    offering all but rail legs and one offering none, each claiming its table entry; the boxes
    asked include railed and gated-out ones, so rail legs and deadlines are seen. (The DCSA
    ports give the same fields through the same terminal API: see test_sim_wiring.)"""
    async with run_simulated_ports(seed=5, port_ids=("USLGB", "USNTD", "USSAN")) as ports:
        for port in ports:
            data = port.system.data
            railed = [b.reference for b in data.containers if b.rail is not None][:3]
            gated_out = [b.reference for b in data.containers if b.status == "GATED_OUT"][:3]
            results = await check_resolver(
                port.resolver_url,
                port.id,
                containers=railed + gated_out,
                offers=sorted(OFFERS[port.id]),
            )
            assert all(r.passed for r in results), format_report(port.resolver_url, port.id,
                                                                 results)  # fmt: skip
            optional = next(r for r in results if r.name == "optional capabilities")
            assert optional.detail.endswith(
                "does not offer " + (", ".join(sorted(OPTIONAL_FIELDS - OFFERS[port.id])) or "none")
            ), optional.detail
