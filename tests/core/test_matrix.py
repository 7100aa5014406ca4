"""The outcome matrix equals a cell-by-cell tally of the reference matcher's decisions."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.core.case import Case
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.load import load_ruleset
from dispatch.core.matrix import MANUAL, outcome_matrix
from dispatch.core.model import RuleSet
from dispatch.core.reference import dispatch_case
from tests.conftest import MINI
from tests.strategies import DAY0, rulesets


def _town(ruleset: RuleSet, area: str) -> str:
    path = [a.code for a in ruleset.areas.path(area)][::-1]  # root first
    return path[1] if len(path) > 1 else path[0]


def _reference(ruleset: RuleSet, event: str, day: date) -> Counter:
    """(town, outcome, rule id or None) -> cells, decided one by one by the reference matcher."""
    out: Counter = Counter()
    moment = datetime(day.year, day.month, day.day, 12)
    items = [c for c in ruleset.events.leaves() if ruleset.events.covers(event, c)]
    for item in items:
        for grid in (a.code for a in ruleset.areas if a.grid_type):
            for source in ruleset.manifest.sources:
                d = dispatch_case(ruleset, Case("c", item, grid, source, moment))
                dept = d.department.code if d.department is not None else MANUAL
                out[(_town(ruleset, grid), dept, d.rule.id if d.rule else None)] += 1
    return out


def _tally(ruleset: RuleSet, dispatcher: Dispatcher, event: str, day: date) -> Counter:
    m = outcome_matrix(dispatcher, event, day)
    out: Counter = Counter()
    for e in m.entries:
        assert e.cells == sum(n for _, n in e.rules)
        for rule, n in e.rules:
            out[(m.towns[e.town].code, m.outcomes[e.outcome][0], ruleset.rules[rule].id if rule >= 0 else None)] += n
    assert sum(out.values()) == m.cells
    return out


@pytest.mark.parametrize("event", ["06", "06010", "06010002", "11001001"])
def test_mini_matrix_is_the_reference(event):
    ruleset = load_ruleset(MINI)
    dispatcher = Dispatcher(ruleset)
    for day in (date(2026, 1, 10), date(2026, 7, 1)):
        assert _tally(ruleset, dispatcher, event, day) == _reference(ruleset, event, day)


def test_unknown_event_is_a_key_error():
    with pytest.raises(KeyError):
        outcome_matrix(Dispatcher(load_ruleset(MINI)), "99", date(2026, 1, 1))


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_generated_matrix_is_the_reference(data):
    ruleset = data.draw(rulesets())
    event = data.draw(st.sampled_from(ruleset.events.order))
    day = DAY0 if data.draw(st.booleans()) else date(2026, 8, 1)
    assert _tally(ruleset, Dispatcher(ruleset), event, day) == _reference(ruleset, event, day)
