"""The knobs of a simulated port system, and its request statistics.

Knobs (all off by default):

- ``latency_ms``: every request waits this long before it is answered;
- ``error_rate``: the fraction of requests answered with HTTP 500, drawn from a generator seeded
  with ``seed``, so one sequence of requests always fails the same way;
- ``down``: every request is answered with HTTP 503;
- ``labor_keys``: raw payloads also carry labor-type keys (crane operator, gang, shift, clerk,
  truck driver, TWIC, plate, lane, moves per hour) inside events, yard, visit, statistics, gate
  hours and appointment slot objects, the way a real terminal system's payload might; adapters
  must drop them;
- ``jit_places``: the DCSA T&T API also sends each vessel's actual arrivals at the anchorage
  (``facilityTypeCode`` ``ANCH``) and at the pilot boarding place (``PBPL``), the way a port
  that runs DCSA Just-In-Time Port Call does (these codes are not T&T 2.2's).

Set them from Python (``system.knobs.down = True``) or over HTTP on the system itself:

- ``GET /_sim/knobs`` -> the knobs as JSON;
- ``POST /_sim/knobs`` with a JSON object of the knobs to change (unknown keys and bad values
  are a 422) -> the knobs after the change; changing ``seed`` restarts the error sequence;
- ``GET /_sim/stats`` -> ``{"requests": {"GET /v2/events": 3, ...}, "errors_injected": n,
  "down_rejections": n}``; ``DELETE /_sim/stats`` resets it.

The ``/_sim`` routes themselves are never delayed, failed or counted.
"""

import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class KnobChanges(BaseModel):
    """The body of ``POST /_sim/knobs``: any subset of the knobs."""

    model_config = ConfigDict(extra="forbid", strict=True)

    latency_ms: float | None = Field(default=None, ge=0, le=120_000)
    error_rate: float | None = Field(default=None, ge=0, le=1)
    down: bool | None = None
    labor_keys: bool | None = None
    jit_places: bool | None = None
    seed: int | None = None


@dataclass
class SimKnobs:
    """Failure and privacy knobs of one simulated port system (see the module docstring)."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    down: bool = False
    labor_keys: bool = False
    jit_places: bool = False
    seed: int = 0
    _errors: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._errors = random.Random(self.seed)

    def draw_error(self) -> bool:
        """Whether the next request fails; draws from the seeded sequence only when it may."""
        return self.error_rate > 0 and self._errors.random() < self.error_rate

    def update(self, changes: KnobChanges) -> None:
        for name, value in changes.model_dump(exclude_none=True).items():
            setattr(self, name, value)
        if changes.seed is not None:
            self._errors = random.Random(self.seed)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


@dataclass
class SystemStats:
    """Requests a simulated system received, per endpoint (``"GET /v2/events"``)."""

    requests: Counter[str] = field(default_factory=Counter)
    errors_injected: int = 0
    down_rejections: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(sorted(self.requests.items())),
            "errors_injected": self.errors_injected,
            "down_rejections": self.down_rejections,
        }

    def reset(self) -> None:
        self.requests.clear()
        self.errors_injected = self.down_rejections = 0


def sim_routes(knobs: SimKnobs, stats: SystemStats) -> list[Route]:
    """The ``/_sim`` routes that read and set ``knobs`` and read ``stats`` over HTTP."""

    async def read_knobs(request: Request) -> Response:
        return JSONResponse(knobs.as_dict())

    async def change_knobs(request: Request) -> Response:
        try:
            changes = KnobChanges.model_validate_json(await request.body())
        except ValidationError as exc:
            problems = [
                {"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()
            ]
            return JSONResponse({"errors": problems}, status_code=422)
        knobs.update(changes)
        return JSONResponse(knobs.as_dict())

    async def read_stats(request: Request) -> Response:
        return JSONResponse(stats.as_dict())

    async def reset_stats(request: Request) -> Response:
        stats.reset()
        return JSONResponse(stats.as_dict())

    return [
        Route("/_sim/knobs", read_knobs, methods=["GET"]),
        Route("/_sim/knobs", change_knobs, methods=["POST"]),
        Route("/_sim/stats", read_stats, methods=["GET"]),
        Route("/_sim/stats", reset_stats, methods=["DELETE"]),
    ]
