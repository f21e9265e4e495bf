"""A resolver that answers from a script, so tests never ask the real DNS about any name."""

import socket

from aiohttp.abc import AbstractResolver, ResolveResult


class ScriptedResolver(AbstractResolver):
    """Each name resolves to the next list of addresses in its script (the last one repeats);
    a name without a script does not resolve. ``lookups`` records every name asked."""

    def __init__(self, script: dict[str, list[list[str]]]) -> None:
        self._script = {name: list(answers) for name, answers in script.items()}
        self.lookups: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups.append(host)
        answers = self._script.get(host)
        if not answers:
            raise OSError(f"{host}: no such name in this test")
        addresses = answers.pop(0) if len(answers) > 1 else answers[0]
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None
