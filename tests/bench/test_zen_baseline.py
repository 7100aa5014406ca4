"""The ZEN baseline (bench/zen_baseline.py) gives the reference matcher's answer, case by case.

Skipped where zen-engine is not installed: it is a benchmark dependency, not the service's.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from itertools import pairwise, product
from pathlib import Path

import pytest

zen = pytest.importorskip("zen")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.zen_baseline import ZenMatcher, day_number, ordered_rules, random_cases, zen_decision_content, zen_literal
from dispatch.core.case import Case
from dispatch.core.errors import CaseError
from dispatch.core.load import load_ruleset
from dispatch.core.model import Area, Department, EventNode, Manifest, Rule, RuleSet
from dispatch.core.reference import rank_key, winning_rule
from dispatch.core.tree import Tree
from tests.strategies import cases_for, rulesets

MINI = Path(__file__).parents[1] / "data" / "mini"


def want_id(ruleset: RuleSet, case: Case) -> str | None:
    rule = winning_rule(ruleset, case)
    return rule.id if rule else None


@pytest.fixture(scope="module")
def mini() -> RuleSet:
    return load_ruleset(MINI)


@pytest.fixture(scope="module")
def mini_zen(mini) -> ZenMatcher:
    return ZenMatcher(mini)


def test_mini_every_item_area_source_and_window_edge(mini, mini_zen):
    # every work item x every area x every source, on days either side of each window edge,
    # at local midnight and just before it (the window compares the local calendar day)
    zone = timezone(timedelta(hours=8))
    edges = sorted({d for r in mini.rules for d in (r.valid_from, r.valid_to) if d is not None} | {date(2026, 1, 1)})
    days = sorted({d + timedelta(days=k) for d in edges for k in (-1, 0)})
    moments = [datetime(d.year, d.month, d.day, tzinfo=zone) for d in days]
    moments += [m - timedelta(seconds=1) for m in moments] + [datetime(2026, 6, 1)]  # naive: read in the set's zone
    cases = [
        Case(f"c{i}", item, area, source, moment)
        for i, (item, area, source, moment) in enumerate(
            product(mini.events.leaves(), mini.areas.order, mini.manifest.sources, moments)
        )
    ]
    want = [want_id(mini, c) for c in cases]
    assert len(set(want)) == len(mini.rules) + 1  # every rule wins somewhere, and some cases meet none
    assert [mini_zen.winning_rule_id(c) for c in cases] == want
    assert mini_zen.winning_rule_ids(cases) == want
    assert mini_zen.winning_rule_ids(cases, api="evaluate") == want


def test_mini_random_cases(mini, mini_zen):
    cases = random_cases(mini, 2000, seed=3)
    assert mini_zen.winning_rule_ids(cases) == [want_id(mini, c) for c in cases]


SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.data())
def test_zen_equals_reference_on_generated_rule_sets(data):
    ruleset = data.draw(rulesets())
    matcher = ZenMatcher(ruleset)
    cases = data.draw(st.lists(cases_for(ruleset), min_size=1, max_size=30))
    want = [want_id(ruleset, c) for c in cases]
    assert [matcher.winning_rule_id(c) for c in cases] == want
    assert matcher.winning_rule_ids(cases) == want


def test_rows_are_rules_in_precedence_order(mini):
    table = zen_decision_content(mini)["nodes"][1]["content"]
    assert table["hitPolicy"] == "first"
    assert [row["rule"] for row in table["rules"]] == [zen_literal(r.id) for r in ordered_rules(mini)]
    by_literal = {zen_literal(r.id): r for r in mini.rules}
    ranks = [rank_key(mini, by_literal[row["rule"]]) for row in table["rules"]]
    assert all(a > b for a, b in pairwise(ranks))  # strictly: ties broken by id
    assert table["rules"][0]["rule"] == '"SAF-2"'  # priority 10 first
    # a `*` selector leaves its cells empty; a code sits in the column of its depth
    mun4 = next(row for row in table["rules"] if row["rule"] == '"MUN-4"')
    assert mun4 == {
        "_id": mun4["_id"],
        "event1": '== "06"',
        "source": '== "12345"',
        "day": "[20260601..20260916)",
        "rule": '"MUN-4"',
    }


@pytest.mark.parametrize("text", ["abc", "大兴区", 'a"b', "a'b", "a\\b", "a,b", "a$b"])
def test_zen_literal_is_read_back_by_zen(text):
    assert zen.evaluate_unary_expression("== " + zen_literal(text), {"$": text})
    assert not zen.evaluate_unary_expression("== " + zen_literal(text), {"$": text + "x"})


def test_zen_literal_refuses_both_quotes():
    with pytest.raises(ValueError, match="both quote"):
        zen_literal("a'b\"c")


def test_day_number_orders_as_days():
    days = [date(2025, 12, 31), date(2026, 1, 1), date(2026, 2, 28), date(2026, 3, 1), date(2026, 12, 31)]
    assert [day_number(d) for d in days] == sorted(day_number(d) for d in days)
    assert day_number(date(2026, 6, 1)) == 20260601


def test_codes_with_quotes_and_one_sided_windows():
    events = [EventNode('E"1', "cat", None, None, None, None), EventNode("E'1x", "item", 'E"1', 4.0, False, None)]
    areas = [Area("A", "district", None, "district", None, None), Area('A"g', "grid", "A", "grid", "village", None)]
    rules = (
        Rule('R"1', 'E"1', "A", None, None, "d", (), None, None, None, 0, ""),
        Rule("R'2", "E'1x", 'A"g', None, None, "d", (), None, date(2026, 3, 1), None, 0, ""),
        Rule("R3", "E'1x", "*", "village", None, "d", (), None, None, date(2026, 2, 1), 0, ""),
    )
    manifest = Manifest("q", "Asia/Shanghai", ("grid",), {}, "t", "a", "d", ("r",))
    ruleset = RuleSet(manifest, Tree(events), Tree(areas), {"d": Department("d", "d", None, None)}, rules, "v")
    matcher = ZenMatcher(ruleset)
    for day in (date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 28), date(2026, 3, 1)):
        for area in ("A", 'A"g'):
            case = Case("c", "E'1x", area, "grid", datetime(day.year, day.month, day.day, 12))
            assert matcher.winning_rule_id(case) == want_id(ruleset, case), (day, area)


def test_unknown_codes_are_case_errors(mini_zen):
    good = Case("c", "06010001", "110115005", "grid", datetime(2026, 3, 1, 9))
    assert mini_zen.winning_rule_id(good) == "MUN-1"
    for field, bad in (("event", "99999999"), ("area", "nowhere"), ("source", "fax")):
        case = Case(
            "c",
            **{"event": good.event, "area": good.area, "source": good.source, field: bad},
            reported_at=good.reported_at,
        )
        with pytest.raises(CaseError) as err:
            mini_zen.winning_rule_id(case)
        assert err.value.field == field
