"""The one cache of outcomes: bounded, keyed right (one outcome per rule, item and local government), never stale."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from dispatch.core import outcomes as outcomes_module
from dispatch.core.case import Case
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.load import load_ruleset
from dispatch.core.reference import dispatch_case
from tests.conftest import MINI


@pytest.fixture(scope="module")
def mini():
    return load_ruleset(MINI)


def every_case(ruleset):
    moment = datetime(2026, 3, 2, 9, 30)
    items = [e.code for e in ruleset.events if ruleset.events.is_leaf(e.code)]
    return [Case(f"c{i}-{a.code}", item, a.code, source, moment) for i, item in enumerate(items)
            for a in ruleset.areas for source in ruleset.manifest.sources]  # fmt: skip


def test_a_bounded_cache_still_answers_as_the_reference(mini, monkeypatch):
    monkeypatch.setattr(outcomes_module, "MAX_OUTCOMES", 4)
    dispatcher = Dispatcher(mini)
    cases = every_case(mini)
    for case in cases + cases[::-1]:
        assert dispatcher.dispatch(case) == dispatch_case(mini, case)
        assert dispatcher.outcomes.size <= 4
    assert dispatcher.outcomes.generation > 2  # the bound was met, and the cache started over


def test_one_outcome_per_key_and_ids_agree_with_the_kernel(mini):
    dispatcher = Dispatcher(mini, render=lambda d: (d.status, d.rule.id if d.rule else None))
    outcomes = dispatcher.outcomes
    o = outcomes.current
    cases = every_case(mini)
    encoded = np.asarray([dispatcher.encode(c) for c in cases], dtype=np.int32)
    items, cols, srcs, days = encoded.T.copy()
    rules = dispatcher.match_encoded(items, cols, srcs, days)
    keys = outcomes.keys(rules, items, cols)
    assert (o.known_ids(keys, np.zeros(len(keys), np.int8)) == -1).all()  # nothing met yet
    ids = o.ids(keys, rules, items, cols)
    assert o.size == len(set(keys.tolist()))
    assert o.known_ids(keys, np.zeros(len(keys), np.int8)).tolist() == ids.tolist()
    skip = np.ones(len(keys), np.int8)
    assert (o.known_ids(keys, skip) == -1).all()
    for case, i in zip(cases, ids.tolist(), strict=True):
        want = dispatch_case(mini, case)
        outcome = o.of_id(i)
        assert outcome.rendered == (want.status, want.rule.id if want.rule else None)
        assert o.statuses[i] == outcome.status and o.rendered[i] == outcome.rendered
