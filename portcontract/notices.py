"""Notices: what a port resolver reports beside an answer it still gives.

A resolver whose own system sent data it had to leave out still answers with the rest; beside
the data it reports one GraphQL error per root field and notice, with ``path`` the root field,
``extensions.code`` one of the codes below and ``extensions.count`` how many items were left
out. The gateway shows such an answer as ``partial``. The codes are part of the contract: a
client may rely on them, never on the message.

- :data:`EVENTS_QUARANTINED`: events the port's system sent that are invalid (a timestamp that
  is not a time, a code that cannot be placed) or that belong to another port were skipped.
- :data:`EVENTS_TRUNCATED`: the port's system had more events for the question than the
  resolver reads for one answer (its page bound); the answer is built from those it read.
"""

from typing import Final

EVENTS_QUARANTINED: Final = "EVENTS_QUARANTINED"
EVENTS_TRUNCATED: Final = "EVENTS_TRUNCATED"
COUNT_EXTENSION: Final = "count"  # the extensions key holding how many items were left out

NOTICE_CODES: Final = frozenset({EVENTS_QUARANTINED, EVENTS_TRUNCATED})
