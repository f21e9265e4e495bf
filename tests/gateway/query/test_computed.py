"""Computed fields' parts: one source entry per port from the inner queries' own, and inner
plans kept across operations."""

from gateway.access.policy import Access
from gateway.planning.plan import Plan
from gateway.query.computed import InnerPlanCache, combined_sources
from gateway.query.outlook import FIRST_PAGE, NEXT_PAGE

POSITIONS = {"USLAX": 0, "USLGB": 1, "USOAK": 2}


def test_a_ports_entry_is_its_worst_with_its_longest_latency_and_oldest_age() -> None:
    inner = [
        {"port": "USOAK", "status": "ok", "latencyMs": 3.0, "fields": ["calls"]},
        {"port": "USLAX", "status": "cached", "latencyMs": 0.1, "cacheAgeSeconds": 20.0,
         "fields": ["calls"]},
        {"port": "USLAX", "status": "timeout", "code": "DEADLINE_EXCEEDED", "latencyMs": 900.0,
         "fields": ["containers"]},
        {"port": "USOAK", "status": "cached", "latencyMs": 0.2, "cacheAgeSeconds": 5.0,
         "fields": ["containers"]},
    ]  # fmt: skip
    assert combined_sources("o1", inner, POSITIONS) == [
        {"port": "USLAX", "status": "timeout", "code": "DEADLINE_EXCEEDED", "latencyMs": 900.0,
         "cacheAgeSeconds": 20.0, "fields": ["o1"]},
        {"port": "USOAK", "status": "cached", "latencyMs": 3.0, "cacheAgeSeconds": 5.0,
         "fields": ["o1"]},
    ]  # fmt: skip


def access() -> Access:
    return Access(frozenset({"public"}), {}, frozenset(), frozenset())


class Planner:
    def __init__(self) -> None:
        self.made: list[Plan] = []

    def __call__(self) -> Plan:
        self.made.append(Plan())
        return self.made[-1]


def test_an_inner_plan_is_made_once_per_document_variables_and_access() -> None:
    cache, make, caller = InnerPlanCache(), Planner(), access()
    plan = cache.plan(FIRST_PAGE, {"from": "a", "ports": None}, caller, make)
    assert cache.plan(FIRST_PAGE, {"ports": None, "from": "a"}, caller, make) is plan
    assert len(make.made) == 1
    cache.plan(FIRST_PAGE, {"from": "b", "ports": None}, caller, make)
    cache.plan(NEXT_PAGE, {"from": "a", "ports": None}, caller, make)
    cache.plan(FIRST_PAGE, {"from": "a", "ports": None}, access(), make)  # a reloaded policy's
    assert len(make.made) == 4


def test_the_least_recently_used_plan_goes_first() -> None:
    cache, make, caller = InnerPlanCache(size=2), Planner(), access()
    a = cache.plan(FIRST_PAGE, {"n": 1}, caller, make)
    cache.plan(FIRST_PAGE, {"n": 2}, caller, make)
    assert cache.plan(FIRST_PAGE, {"n": 1}, caller, make) is a  # used again: kept
    cache.plan(FIRST_PAGE, {"n": 3}, caller, make)  # the third: {"n": 2} goes
    assert cache.plan(FIRST_PAGE, {"n": 1}, caller, make) is a
    cache.plan(FIRST_PAGE, {"n": 2}, caller, make)
    assert len(make.made) == 4
