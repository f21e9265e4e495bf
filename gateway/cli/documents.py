"""``portgate documents``: the trusted documents' manifest.

portgate documents add queries/MyBoxes.graphql queries/Calls.graphql
portgate documents list

The manifest is the config's ``documents.manifest`` (relative to the config file), or
``--manifest``. ``add`` validates each document against the schema, registers it under the
SHA-256 of its text and prints that hash: the client sends it as
``extensions.persistedQuery.sha256Hash``. A running gateway reads the manifest at start-up.
"""

from pathlib import Path
from typing import Annotated

import typer

from gateway.access.documents import ManifestError, TrustedDocuments
from gateway.cli.common import ConfigOption, fail
from gateway.config import ConfigError, load_settings
from gateway.schema import build_schema

documents_app = typer.Typer(help="Trusted documents: the operations production mode runs.")

ManifestOption = Annotated[
    Path | None,
    typer.Option(help="The manifest (JSON) (default: the config's documents.manifest)."),
]


def _manifest(config: Path | None, manifest: Path | None) -> Path:
    if manifest is not None:
        return manifest
    try:
        configured = load_settings(config).documents.manifest
    except ConfigError as exc:
        raise fail(f"config error: {exc}") from None
    if configured is None:
        raise fail("no manifest: pass --manifest, or set documents.manifest in the config")
    return configured


@documents_app.command("add")
def add(
    files: Annotated[list[Path], typer.Argument(help="GraphQL documents, one operation each.")],
    config: ConfigOption = None,
    manifest: ManifestOption = None,
) -> None:
    """Register documents (validated against the schema); print each one's SHA-256."""
    path = _manifest(config, manifest)
    schema = build_schema()._schema
    try:
        documents = TrustedDocuments.load(path, schema) if path.exists() else TrustedDocuments()
        added = []
        for file in files:
            body = file.read_text(encoding="utf-8")
            try:
                sha256, new = documents.add(body, schema)
            except ManifestError as exc:
                raise ManifestError(f"{file}: {exc}") from None
            added.append((sha256, file, new))
    except (ManifestError, OSError) as exc:
        raise fail(f"nothing added: {exc}") from None
    documents.save(path)
    for sha256, file, new in added:
        typer.echo(f"{sha256}  {file}{'' if new else '  (already registered)'}")
    typer.echo(f"{len(documents)} document(s) in {path}")


@documents_app.command("list")
def list_documents(config: ConfigOption = None, manifest: ManifestOption = None) -> None:
    """List the registered documents: hash and operation name."""
    path = _manifest(config, manifest)
    try:
        documents = TrustedDocuments.load(path, build_schema()._schema)
    except ManifestError as exc:
        raise fail(str(exc)) from None
    for sha256, name, _body in documents.entries():
        typer.echo(f"{sha256}  {name or '(anonymous)'}")
