"""The configuration reference (``docs/configuration.md``), generated from the settings model.

:func:`render_reference` walks any pydantic model tree: each model is one section with one row
per field (its YAML key, type, default, environment variable and description), and each field
whose type holds a model (``auth: AuthSettings``, ``oidc: OidcSettings | None``, ``ports:
tuple[PortConfig, ...]``) gets its own section below. Nothing here names a particular setting,
so a section someone adds to ``gateway/config.py`` appears in the reference by itself;
``portgate config reference`` writes the file and a test fails when it is out of date.
"""

import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, BeforeValidator, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from gateway.config import GatewaySettings, parse_duration

REFERENCE_FILE = Path("docs/configuration.md")

_SCALARS: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    Path: "path",
    AnyHttpUrl: "URL",
    SecretStr: "secret string",
    type(None): "null",
}


@dataclass(frozen=True, slots=True)
class Section:
    """One model in the tree, found under ``key`` (dotted; ``[]`` marks a list's items)."""

    key: str
    model: type[BaseModel]
    env_prefix: str | None  # None: the environment cannot reach into it (list items)


def _is_duration(metadata: typing.Iterable[Any]) -> bool:
    return any(isinstance(m, BeforeValidator) and m.func is parse_duration for m in metadata)


def type_name(annotation: Any, metadata: typing.Iterable[Any] = ()) -> str:
    """A reader's name for a field's type: ``duration``, ``list of string``, ``"a" | "b"``."""
    if _is_duration(metadata):
        return "duration"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_name(args[0], annotation.__metadata__)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(arg) for arg in args)
    if origin is Literal:
        return " | ".join(f"`{value!r}`".replace("'", '"') for value in args)
    if origin in (tuple, list, set, frozenset):
        return f"list of {type_name(args[0])}"
    if origin is dict:
        return f"map of {type_name(args[0])} to {type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"section `{annotation.__name__}`"
    return _SCALARS.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _models_in(annotation: Any) -> Iterator[tuple[type[BaseModel], bool]]:
    """Models a type holds, each with whether it sits inside a list or map."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, False
    elif origin is typing.Annotated or origin in (typing.Union, types.UnionType):
        for arg in args if origin is not typing.Annotated else args[:1]:
            yield from _models_in(arg)
    elif origin in (tuple, list, set, frozenset, dict):
        for arg in args:
            for model, _ in _models_in(arg):
                yield model, True


def format_duration(seconds: float) -> str:
    """``2s``, ``250ms``, ``1m``, ``1h``: durations as the config file writes them."""
    for unit, size in (("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{seconds / size:g}{unit}"
    return f"{seconds * 1000:g}ms"


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True, validated_data={})
    if value is PydanticUndefined or isinstance(value, BaseModel):
        return "(section)"
    if value is None:
        return "none"
    if _is_duration(field.metadata) and isinstance(value, int | float):
        return f"`{format_duration(float(value))}`"
    if isinstance(value, tuple | list | frozenset | set):
        return "`[" + ", ".join(str(v) for v in value) + "]`" if value else "`[]`"
    if isinstance(value, dict):
        return f"`{value}`" if value else "`{}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _doc(model: type[BaseModel]) -> str:
    doc = model.__dict__.get("__doc__") or ""
    return " ".join(doc.split())


def _description(field: FieldInfo) -> str:
    if field.description:
        return field.description
    models = [model for model, _ in _models_in(field.annotation)]
    return _doc(models[0]) if models else ""


def sections(root: type[BaseModel], env_prefix: str, delimiter: str) -> list[Section]:
    """Every model under ``root``, depth-first in field order, ``root`` first."""
    found = [Section("", root, env_prefix)]
    for section in found:  # grows as it goes: each section's models are appended
        for name, field in section.model.model_fields.items():
            key = f"{section.key}.{name}" if section.key else name
            for model, in_collection in _models_in(field.annotation):
                env = None
                if section.env_prefix is not None and not in_collection:
                    env = f"{section.env_prefix}{name.upper()}{delimiter}"
                found.append(Section(key + ("[]" if in_collection else ""), model, env))
    return _depth_first(found)


def _depth_first(found: list[Section]) -> list[Section]:
    children: dict[str, list[Section]] = {}
    for s in found[1:]:
        parent = s.key.removesuffix("[]").rpartition(".")[0]
        children.setdefault(parent, []).append(s)
    ordered: list[Section] = []

    def visit(section: Section) -> None:
        ordered.append(section)
        for child in children.get(section.key, []):
            visit(child)

    visit(found[0])
    return ordered


def _table(section: Section) -> list[str]:
    lines = [
        "| key | type | default | environment | description |",
        "|---|---|---|---|---|",
    ]
    for name, field in section.model.model_fields.items():
        env = "—"
        if section.env_prefix is not None:
            env = f"`{section.env_prefix}{name.upper()}`"
        row = (
            f"`{name}`",
            _cell(type_name(field.annotation, field.metadata)),
            _cell(_default(field)),
            env,
            _cell(_description(field)),
        )
        lines.append("| " + " | ".join(row) + " |")
    return lines


def render_reference(root: type[BaseModel] = GatewaySettings) -> str:
    """The Markdown reference of ``root``'s whole tree."""
    config = getattr(root, "model_config", {})
    prefix = str(config.get("env_prefix", ""))
    delimiter = str(config.get("env_nested_delimiter") or "__")
    out = [
        "# Configuration reference",
        "",
        "Generated from `gateway/config.py` by `portgate config reference`; do not edit by hand",
        "(a test fails when this file is out of date).",
        "",
        "Settings come from a YAML file (`portgate serve --config portgate.yaml`) and from",
        f"environment variables, which override the file: `{prefix}` then the key path in upper",
        f"case with `{delimiter}` between levels. A list or map set from the environment is",
        "written as JSON. Unknown keys are errors. Durations read `250ms`, `2s`, `1m`, `1h`",
        "or a number of seconds. Settings that may hold a password are never printed.",
        "",
    ]
    for section in sections(root, prefix, delimiter):
        title = "Top level" if not section.key else f"`{section.key}`"
        out += [f"## {title}", ""]
        if doc := _doc(section.model):
            out += [doc, ""]
        if section.env_prefix is None:
            out += ["Each item of a list: set from the environment only as the whole list.", ""]
        out += [*_table(section), ""]
    return "\n".join(out)
