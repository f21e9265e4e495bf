"""The record: what the gateway writes down about what it did.

The audit trail (the record, its hash chain, the SQLite and PostgreSQL stores, archives and the
writer the query path calls), traces, metrics, and the redaction of error text.

Called by every part above it; it never calls up. May import only the shared ground
(:mod:`gateway.errors`, :mod:`gateway.config_types`, :mod:`gateway.schema`).
"""
