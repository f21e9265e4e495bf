"""Error messages as clients see them: nothing about the gateway's or a port's insides.

Every GraphQL response passes :meth:`ErrorRedactor.errors` on its way out (the view calls it),
whatever produced its errors: the gateway, graphql-core, or a port whose own error messages are
passed on (a port's resolver is not ours, and may say more than it should). In each message:

- URLs, ``host:port`` pairs, IP addresses and the configured ports' host names become
  ``<redacted>``; so do API keys and bearer credentials;
- a stack trace (from ``Traceback`` on) and ``File "...", line N`` frames are cut;
- the message is cut to :data:`MAX_MESSAGE` characters.

An error caused by an unexpected exception (anything but our own errors and graphql-core's)
becomes ``internal error (incident <id>)`` with ``extensions.code`` ``INTERNAL_SERVER_ERROR``;
the exception and its traceback are logged under that id. (Inside the query pipeline the fan-out
extension does the same earlier, so that id is in the audit record too.)
"""

import logging
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from graphql import GraphQLError

from gateway.errors import GatewayError

log = logging.getLogger(__name__)

REDACTED = "<redacted>"
MAX_MESSAGE = 1000
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"

_PATTERNS = (
    re.compile(r"Traceback \(most recent call last\).*", re.DOTALL),
    re.compile(r'File "[^"]*", line \d+(?:, in \S+)?'),
    re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+"),  # any URL
    # host:port, the host in any script ("hafen.beispiel-ü.de:8443"), not only ASCII
    re.compile(r"\b(?:localhost|(?:[^\W_][\w-]*\.)+[^\W\d_][\w-]*):\d{1,5}\b"),
    re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"),  # IPv4
    re.compile(r"\[[0-9a-fA-F:]*:[0-9a-fA-F:.]*\]"),  # [IPv6]
    re.compile(r"\bpgk_[A-Za-z0-9_-]+"),  # an API key
    re.compile(r"\b(?i:bearer)\s+[A-Za-z0-9._~+/=-]+"),  # a bearer credential
)


def incident_error(exc: BaseException, where: str) -> tuple[str, dict[str, Any]]:
    """Log ``exc`` with its traceback under a new incident id; the message and extensions a
    client gets instead."""
    incident = uuid.uuid4().hex[:12]
    log.error("%s failed unexpectedly (incident %s)", where, incident, exc_info=exc)
    return f"internal error (incident {incident})", {
        "code": INTERNAL_SERVER_ERROR,
        "incident": incident,
    }


class ErrorRedactor:
    """Scrubs error messages; ``hosts`` gives the ports' host names as they are now."""

    def __init__(self, hosts: Callable[[], Iterable[str]] = tuple) -> None:
        self._hosts = hosts
        self._known: frozenset[str] = frozenset()
        self._host_pattern: re.Pattern[str] | None = None

    def message(self, text: str) -> str:
        for pattern in (*_PATTERNS, self._hosts_pattern()):
            if pattern is not None:
                text = pattern.sub(REDACTED, text)
        text = text.strip()
        return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"

    def errors(self, errors: Iterable[GraphQLError]) -> list[dict[str, Any]]:
        """The response's ``errors``, formatted and scrubbed."""
        formatted: list[dict[str, Any]] = []
        for error in errors:
            original = error.original_error
            if original is not None and not isinstance(original, GraphQLError | GatewayError):
                message, extensions = incident_error(original, "an operation")
                formatted.append({"message": message, "extensions": extensions})
                continue
            entry = dict(error.formatted)
            entry["message"] = self.message(str(entry.get("message") or "error"))
            formatted.append(entry)
        return formatted

    def _hosts_pattern(self) -> re.Pattern[str] | None:
        hosts = frozenset(h.lower() for h in self._hosts() if h)
        if hosts != self._known:
            self._known = hosts
            spellings = {spelling for host in hosts for spelling in _spellings(host)}
            alternatives = "|".join(re.escape(h) for h in sorted(spellings, key=len, reverse=True))
            self._host_pattern = re.compile(rf"(?i)\b(?:{alternatives})\b") if hosts else None
        return self._host_pattern


def _spellings(host: str) -> tuple[str, ...]:
    """A host name as a port's message may spell it: as configured, and an international name
    both in punycode (``xn--...``, as a URL holds it) and in its own script."""
    try:
        unicode = host.encode("ascii").decode("idna") if "xn--" in host else host
        ascii_ = host.encode("idna").decode("ascii")
    except UnicodeError:  # not a name IDNA can spell: redact it as written
        return (host,)
    return tuple(dict.fromkeys((host, unicode.lower(), ascii_.lower())))
