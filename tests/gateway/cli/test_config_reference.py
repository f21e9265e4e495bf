"""docs/configuration.md is generated from the settings model and kept current."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from typer.testing import CliRunner

from gateway.cli.config_reference import REFERENCE_FILE, format_duration, render_reference
from gateway.cli.main import app
from gateway.config import Duration

ROOT = Path(__file__).resolve().parents[3]


def test_the_committed_reference_is_current() -> None:
    committed = (ROOT / REFERENCE_FILE).read_text(encoding="utf-8")
    assert committed == render_reference(), (
        "docs/configuration.md is out of date: run `portgate config reference "
        "docs/configuration.md`"
    )


def test_the_cli_writes_the_reference(tmp_path: Path) -> None:
    target = tmp_path / "configuration.md"
    result = CliRunner().invoke(app, ["config", "reference", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == render_reference()


class Inner(BaseModel):
    """An inner section."""

    wait: Duration = Field(0.25, description="A duration.")


class Item(BaseModel):
    """One item."""

    mode: Literal["fast", "safe"] = Field("safe", description="How.")
    inner: Inner = Field(default_factory=Inner)


class Tree(BaseSettings):
    """A tree no real setting is in."""

    model_config = SettingsConfigDict(env_prefix="T_", env_nested_delimiter="__")

    name: str = Field(description="Required | with a pipe.")
    section: Inner = Field(default_factory=Inner)
    optional: Inner | None = Field(None, description="Only when set.")
    items: tuple[Item, ...] = Field((), description="Many.")
    ttl: dict[str, Duration] = Field(default_factory=dict, description="Per kind.")


def test_any_model_tree_is_rendered_with_its_sections_types_defaults_and_env_names() -> None:
    text = render_reference(Tree)
    titles = [line for line in text.splitlines() if line.startswith("## ")]
    assert titles == [
        "## Top level",
        "## `section`",
        "## `optional`",
        "## `items[]`",
        "## `items[].inner`",
    ]
    assert "| `name` | string | required | `T_NAME` | Required \\| with a pipe. |" in text
    assert "| `wait` | duration | `250ms` | `T_SECTION__WAIT` | A duration. |" in text
    assert "| `wait` | duration | `250ms` | `T_OPTIONAL__WAIT` | A duration. |" in text
    assert '| `mode` | `"fast"` \\| `"safe"` | `safe` | — | How. |' in text
    assert "| `ttl` | map of string to duration | `{}` | `T_TTL` | Per kind. |" in text
    assert "| `section` | section `Inner` | (section) | `T_SECTION` | An inner section. |" in text


def test_durations_are_written_as_in_the_config_file() -> None:
    assert [format_duration(s) for s in (0.25, 2.0, 90.0, 60.0, 3600.0, 1.5)] == [
        "250ms",
        "2s",
        "90s",
        "1m",
        "1h",
        "1500ms",
    ]
