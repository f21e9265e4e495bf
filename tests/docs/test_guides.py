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


ROOT = DOCS.parent
# A section of the README named in code, config or docs: README "Write a policy", README's
# 'Limits and production mode' (quoted either way, the words may run over a line break).
SECTION_REFERENCE = re.compile(
    r"README(?:'s)?\s+[\"']([A-Z][^\"'\n]*(?:\n\s*#?\s*[^\"'\n]*)?)[\"']"
)


def test_every_readme_section_named_elsewhere_is_a_heading_of_the_readme() -> None:
    headings = {
        line.lstrip("#").strip()
        for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }
    named = []
    for folder in ("gateway", "port_resolvers", "portcontract", "docs", "deploy", "bench"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in {".py", ".yaml", ".md", ".js", ".html", ".toml"}:
                continue
            if "node_modules" in path.parts or not path.is_file():
                continue
            for match in SECTION_REFERENCE.finditer(path.read_text(encoding="utf-8")):
                section = " ".join(re.sub(r'["#]', " ", match.group(1)).split())
                named.append((path.relative_to(ROOT), section))
    assert named, "no section reference found: the pattern no longer matches how they are written"
    missing = [(str(p), s) for p, s in named if s not in headings]
    assert missing == []


def test_no_heading_of_a_guide_or_the_readme_comes_twice() -> None:
    for path in [ROOT / "README.md", *GUIDES]:
        headings = [line for line in path.read_text(encoding="utf-8").splitlines()
                    if line.startswith("## ")]  # fmt: skip
        assert len(headings) == len(set(headings)), path.name
