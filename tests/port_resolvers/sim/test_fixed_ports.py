"""The simulated ports can listen on fixed ports, as the compose file expects."""

import socket

import httpx

from port_resolvers.sim.cluster import run_simulated_ports
from port_resolvers.sim.reference import PORT_IDS

SERVERS = 2 * len(PORT_IDS)


def free_base_port() -> int:
    """The first of SERVERS consecutive free TCP ports on loopback."""
    for base in range(20_000, 60_000, SERVERS):
        sockets: list[socket.socket] = []
        try:
            for offset in range(SERVERS):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free range of ports")


async def test_systems_and_resolvers_take_consecutive_ports_from_the_base() -> None:
    base = free_base_port()
    async with run_simulated_ports(base_port=base) as ports:
        assert [p.system_url for p in ports] == [
            f"http://127.0.0.1:{base + 2 * i}" for i in range(len(PORT_IDS))
        ]
        assert [p.resolver_url for p in ports] == [
            f"http://127.0.0.1:{base + 2 * i + 1}/graphql" for i in range(len(PORT_IDS))
        ]
        async with httpx.AsyncClient() as client:
            answer = await client.post(ports[0].resolver_url, json={"query": "{ ports { name } }"})
        assert answer.json()["data"]["ports"][0]["name"] == ports[0].name
