"""The demo's simulated ports on loopback: each system and its resolver answer over HTTP."""

import httpx

from port_resolvers.sim.cluster import run_simulated_ports


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
