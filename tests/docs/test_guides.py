"""The guides' example queries run against the schema, and their links lead somewhere."""

import re
from pathlib import Path

import pytest
from graphql import parse, validate

from gateway.schema import build_schema

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDES = sorted(DOCS.glob("*.md"))


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_graphql_example_is_valid(guide: Path) -> None:
    schema = build_schema()._schema
    blocks = re.findall(r"```graphql\n(.*?)```", guide.read_text(encoding="utf-8"), re.S)
    for block in blocks:
        assert validate(schema, parse(block)) == [], block


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_relative_link_exists(guide: Path) -> None:
    links = re.findall(r"\]\(([^)#:]+)\)", guide.read_text(encoding="utf-8"))
    for link in links:
        assert (guide.parent / link).exists(), link


def test_the_guides_are_there() -> None:
    names = {p.name for p in GUIDES}
    assert {"client-guide.md", "port-onboarding.md", "operator-guide.md", "configuration.md"} <= (
        names
    )
