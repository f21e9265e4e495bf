"""The query's section of the configuration: the limits on an operation and the outlook."""

from pydantic import (
    Field,
    field_validator,
)

from gateway.config_types import Duration, Strict

DEFAULT_MAX_COST = 50_000


class LimitSettings(Strict):
    """Limits on one operation, each checked before any port is asked: over one, the request is
    refused with HTTP 400 and the limit's own code (see gateway/errors.py)."""

    max_depth: int = Field(
        10, ge=1, description="Deepest nesting of fields, the root field being 1 (QUERY_TOO_DEEP)."
    )
    max_aliases: int = Field(
        30, ge=0, description="Aliased fields, counted through fragments (QUERY_TOO_MANY_ALIASES)."
    )
    max_root_fields: int = Field(
        10, ge=1, description="Root fields of one operation (QUERY_TOO_MANY_ROOT_FIELDS)."
    )
    max_tokens: int = Field(
        2_000,
        ge=10,
        description="Lexical tokens (comments included) before parsing stops "
        "(QUERY_TOO_MANY_TOKENS).",
    )
    max_cost: int = Field(
        DEFAULT_MAX_COST,
        ge=1,
        description="Largest estimated cost: per root field, list size (references, `first`, "
        "metrics) x selected fields x ports asked, summed (QUERY_TOO_COMPLEX). An `outlook` "
        "costs what its inner queries cost, each page of vessel calls included.",
    )


DEFAULT_OUTLOOK_MAX_CALL_PAGES = 3


class OutlookSettings(Strict):
    """The computed `outlook` field. Its inner queries run under the operation's deadline and
    count towards its cost (`limits.max_cost`), pages included."""

    window_alignment: Duration = Field(
        60.0,
        description="The window starts at now floored to a whole multiple of this (since the "
        "epoch, UTC), so outlooks asked within it send the same inner queries and share them "
        "through the cache and coalescing. At most a day.",
    )
    max_call_pages: int = Field(
        DEFAULT_OUTLOOK_MAX_CALL_PAGES,
        ge=1,
        le=20,
        description="Pages of 100 vessel calls an outlook may ask, one after another; a window "
        "holding more is counted up to the last page asked (OUTLOOK_TRUNCATED). Each page "
        "counts in the cost estimate.",
    )

    late_after: Duration = Field(
        86_400.0,
        description="An expected call is late when its estimated berth arrival is this much or "
        "more after its planned one. A day, as schedule-reliability measures count a vessel on "
        "time within a day of its schedule; lower it to see smaller slips.",
    )

    @field_validator("window_alignment")
    @classmethod
    def _at_most_a_day(cls, value: float) -> float:
        if value > 86_400:
            raise ValueError("at most a day (24h)")
        return value


class SubscriptionSettings(Strict):
    """Subscriptions, answered by asking the ports again (see gateway/query/live.py)."""

    interval: Duration = Field(
        5.0,
        description="How often each distinct subscription asks the ports, however many "
        "subscribe to it; a change reaches subscribers within one interval.",
    )
    max_per_client: int = Field(
        20,
        ge=1,
        description="Subscriptions (and WebSockets) one client may hold at once: an API key or "
        "identity, or an anonymous caller's address.",
    )
    max_total: int = Field(
        10_000, ge=1, description="Subscriptions one gateway process holds at once."
    )
    heartbeat: Duration = Field(
        15.0,
        description="An idle stream gets a heartbeat this often, so proxies keep it open and a "
        "client can tell a quiet stream from a dead one.",
    )
    push: bool = Field(
        True,
        description="Listen to the change notices of ports that send them (GET <resolver>/"
        "changes) while subscriptions are open, and ask those ports when they say something "
        "changed instead of every interval.",
    )
    push_interval: Duration = Field(
        60.0,
        description="How often a subscription still asks ports that send change notices, in "
        "case a notice was lost.",
    )
    push_min_gap: Duration = Field(
        1.0,
        description="Notices that come within this of each other make one ask: a port's "
        "notices make a subscription ask at most this often.",
    )
