"""What every section of the configuration is made of: strict frozen models (:class:`Strict`),
human-readable durations (:data:`Duration`), ``host:port`` addresses, and the one-line-per-key
report of a validation error. The sections live beside the part they configure
(``gateway/<part>/settings.py``); :mod:`gateway.config` puts them together."""

import difflib
import ipaddress
import re
from typing import Annotated, Any, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """Seconds from ``250ms``, ``2s``, ``1.5m``, ``1h``, ``400d`` or a plain number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match[1]) * _UNITS[match[2]]
    else:
        raise ValueError(f"{value!r} is not a duration (use e.g. 250ms, 2s, 1m)")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


class Strict(BaseModel):
    """A section: unknown keys are errors, and nothing changes after start-up."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``127.0.0.1:9464``, ``[::1]:9464``, ``0.0.0.0:9464``) as (host, port);
    port 0 is any free port."""
    host, colon, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port (like 127.0.0.1:9464 or [::1]:9464)")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host!r} is not an IP address to listen on") from None
    return host, int(port)


class ConfigError(Exception):
    """A configuration file that cannot be used; the message points at each bad key."""


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The settings model a field holds (itself, or the items of its list or mapping)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _near_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Known keys like the last of ``loc``, where it was written (at most three)."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue  # an item of a list: the same model
        field = current.model_fields.get(part)
        current = _model_in(field.annotation) if field is not None else None
    if current is None:
        return []
    wanted = str(loc[-1])
    known = {name: name for name in current.model_fields}
    known |= {f.alias: f.alias for f in current.model_fields.values() if f.alias}
    return difflib.get_close_matches(wanted, list(known), n=3, cutoff=0.6)


def describe_validation_error(exc: ValidationError, model: type[BaseModel]) -> str:
    """One line per bad key, without echoing the offending values (they may be secrets); an
    unknown key of ``model`` with the nearest known ones."""
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
            near = _near_keys(model, error["loc"])
            if near:
                message += f" (did you mean {' or '.join(near)}?)"
        lines.append(f"  {key}: {message}")
    return f"{exc.error_count()} invalid setting(s):\n" + "\n".join(lines)


class ResolvedPort(Strict):
    """A port with its defaults applied: what the fan-out uses."""

    credential: SecretStr | None = Field(None, repr=False)
    cache_ttl: dict[str, float] = Field(default_factory=dict)
    terminals: frozenset[str] = frozenset()

    id: str
    name: str
    url: str
    timeout: float
    capabilities: frozenset[str]
