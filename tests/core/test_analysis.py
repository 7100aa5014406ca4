"""Shadowed rules and coverage, held to brute force over the reference matcher."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from hypothesis import given, settings

from dispatch.core.analysis import cell_coverage, shadowed_rules, stretch_days
from dispatch.core.case import Case
from dispatch.core.clock import EPOCH
from dispatch.core.decision import Status
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.load import load_ruleset
from dispatch.core.outcomes import STATUS_CODES
from dispatch.core.reference import dispatch_case, winning_rule
from tests.strategies import rulesets

MINI = Path(__file__).parents[1] / "data" / "mini"


def _every_case(ruleset, days):
    for item in ruleset.events.leaves():
        for area in ruleset.areas.order:
            for source in ruleset.manifest.sources:
                for day in days:
                    yield Case("c", item, area, source, datetime.combine(day, datetime.min.time()))


@settings(max_examples=60, deadline=None)
@given(rulesets(max_rules=15))
def test_shadowed_rules_are_exactly_those_that_win_nothing(ruleset):
    dispatcher = Dispatcher(ruleset)
    t = dispatcher.tables
    days = [EPOCH + timedelta(days=int(d)) for d in stretch_days(t.win_from, t.win_to)]
    winners = {winning_rule(ruleset, case).id for case in _every_case(ruleset, days) if winning_rule(ruleset, case)}
    assert {r.id for r in shadowed_rules(dispatcher)} == {r.id for r in ruleset.rules} - winners


@settings(max_examples=40, deadline=None)
@given(rulesets(max_rules=15))
def test_bulk_statuses_equal_decisions(ruleset):
    dispatcher = Dispatcher(ruleset)
    cases = list(_every_case(ruleset, [date(2026, 1, 5)]))
    encoded = np.array([dispatcher.encode(c) for c in cases], dtype=np.int32).reshape(-1, 4)
    items, cols, srcs, days = encoded.T.copy()
    idx = dispatcher.match_encoded(items, cols, srcs, days)
    got = [STATUS_CODES[s] for s in dispatcher.statuses(items, cols, idx)]
    assert got == [dispatch_case(ruleset, c).status for c in cases]


def test_cell_coverage_counts_basic_grid_cells():
    ruleset = load_ruleset(MINI)
    dispatcher = Dispatcher(ruleset)
    day = date(2026, 3, 1)
    coverage = cell_coverage(dispatcher, day)
    grids = [a.code for a in ruleset.areas if a.grid_type]
    want = {s.value: 0 for s in Status}
    for item in ruleset.events.leaves():
        for grid in grids:
            for source in ruleset.manifest.sources:
                case = Case("c", item, grid, source, datetime.combine(day, datetime.min.time()))
                want[dispatch_case(ruleset, case).status.value] += 1
    assert coverage.counts == want
    assert coverage.total == len(ruleset.events.leaves()) * len(grids) * len(ruleset.manifest.sources)
