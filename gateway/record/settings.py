"""The record's section of the configuration: the audit trail and the metrics endpoint."""

from pathlib import Path

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from gateway.config_types import Duration, Strict, parse_listen

AUDIT_STORE_URL = "sqlite:///portgate-audit.sqlite3"


class AuditSettings(Strict):
    """The audit trail: one record per operation, hash-chained (see gateway/record/audit.py)."""

    store: str = Field(
        AUDIT_STORE_URL,
        description="Where records are kept: `sqlite:///relative/file.sqlite3` (relative to the "
        "working directory), `sqlite:////absolute/file.sqlite3`, or `postgresql://...` for a "
        "trail shared by several replicas. May hold a password: never printed.",
        repr=False,
    )
    required: bool = Field(
        False,
        description="Fail an operation closed (AUDIT_UNAVAILABLE, no answer) when its record "
        "cannot be written, and refuse to start when the store cannot be reached; else the "
        "failure is logged and counted, the answer goes out, and a store that cannot be reached "
        "at start-up is tried again in the background while records wait in the queue.",
    )
    queue_size: int = Field(
        10_000,
        ge=1,
        description="Records waiting for the store (when not required) before new ones are "
        "dropped, logged and counted.",
    )
    queue_max_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1024 * 1024,
        description="Bytes of the records waiting for the store (their texts plus about 4 KB "
        "each); past it, as past `queue_size`, new ones are dropped, logged and counted.",
    )
    batch_window: Duration = Field(
        0.05,
        description="How long the writer gathers records into one transaction (when not "
        "required): a record is in the store at most this long after its answer.",
    )
    max_document_bytes: int = Field(
        16_384,
        ge=256,
        description="The most of one GraphQL document the trail keeps. Each distinct document is "
        "kept once, by its SHA-256; a longer one keeps its first this many bytes, and the record "
        "keeps the SHA-256 and size of the whole, so a known document can still be matched.",
    )
    max_variables_bytes: int = Field(
        8_192,
        ge=64,
        description="The most of one operation's variables (as canonical JSON) a record keeps. "
        "Longer variables are kept as their first this many bytes, with the SHA-256 and size "
        "of the whole.",
    )
    retention: Duration | None = Field(
        None,
        description="How long records are kept, e.g. `400d`; none: for ever. `portgate audit "
        "prune` archives and prunes older records; with `prune_every` the gateway does so itself.",
    )
    prune_every: Duration | None = Field(
        None,
        description="How often the gateway applies `retention` itself (archives, then prunes, "
        "leaving a checkpoint in the chain); none: only `portgate audit prune` prunes. With "
        "PostgreSQL the gateway's role then needs DELETE on the trail's tables.",
    )
    archive_dir: Path | None = Field(
        None,
        description="Where pruned records are archived (JSON Lines, one file per prune, "
        "verifiable on its own). Relative to the working directory. None: the gateway prunes "
        "without an archive; `portgate audit prune` asks for `--archive` or `--no-archive`.",
    )
    connect_backoff: Duration = Field(
        0.5,
        description="When the store cannot be reached at start-up (and `required` is false), the "
        "first wait before trying again; each failure doubles it, up to `connect_backoff_max`.",
    )
    connect_backoff_max: Duration = Field(
        30.0, description="The longest wait between two attempts to reach the store."
    )

    @field_validator("store")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("use sqlite:///path or postgresql://...")
        return value

    @model_validator(mode="after")
    def _prune_needs_retention(self) -> "AuditSettings":
        if self.prune_every is not None and self.retention is None:
            raise ValueError("prune_every needs a retention: how long records are kept")
        return self


class MetricsSettings(Strict):
    """Where `/metrics` (Prometheus) is served and who may read it."""

    listen: str | None = Field(
        None,
        description="`host:port` of a listener of its own for `/metrics` (`127.0.0.1:9464`), "
        "started by `portgate serve` beside the API's; the API's listener then answers 404 "
        "for `/metrics`. Unset: `/metrics` is on the API's listener.",
    )
    roles: tuple[str, ...] = Field(
        (),
        description="Roles whose credential (API key or bearer token) may read `/metrics`, "
        "wherever it is served: another role is 403 (so is no credential, which is the "
        "`public` role, unless anonymous use is off: then 401). Empty: anyone who can reach "
        "the listener.",
    )

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value
