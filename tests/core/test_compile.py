"""The compiled tables and kernels against the reference matcher, and the tables' own promises."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.core.case import Case
from dispatch.core.clock import BAD_DAY, local_days
from dispatch.core.compile import compile_tables
from dispatch.core.dispatcher import BAD_FIELDS, Dispatcher, day_of
from dispatch.core.load import load_ruleset
from dispatch.core.reference import dispatch_case, winning_rule
from dispatch.core.tables import StaleTables, load_tables, save_tables
from tests.strategies import cases_for, rulesets

MINI = Path(__file__).parents[1] / "data" / "mini"


@pytest.fixture(scope="module")
def mini():
    return load_ruleset(MINI)


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SPOIL = st.sampled_from([None] * 6 + ["event", "area", "source", "reported_at"])  # the field a batch case gets wrong


@SETTINGS
@given(st.data())
def test_every_path_equals_the_reference(data):
    # one rule set compiled per example, and every way into it held to the reference on its cases:
    # one case (as given, and its time as written and read back), the batch kernel, and a batch of strings
    # with bad fields
    ruleset = data.draw(rulesets())
    dispatcher = Dispatcher(ruleset)
    cases = data.draw(st.lists(cases_for(ruleset), min_size=1, max_size=30))
    want_rules = [winning_rule(ruleset, case) for case in cases]
    want_index = [ruleset.rules.index(want) if want else -1 for want in want_rules]
    for case, want in zip(cases, want_rules, strict=True):
        assert dispatcher.winning_rule(case) is want, case
        decision = dispatch_case(ruleset, case)
        assert dispatcher.dispatch(case) == decision
        read_back = datetime.fromisoformat(case.reported_at.isoformat())  # the time as a caller writes it
        assert dispatcher.dispatch(replace(case, reported_at=read_back)) == decision
    encoded = [dispatcher.encode(c) for c in cases]
    items, cols, srcs, days = (np.array(col, dtype=np.int32) for col in zip(*encoded))
    assert dispatcher.match_encoded(items, cols, srcs, days).tolist() == want_index
    events, areas, sources, stamps, want_bad = [], [], [], [], []
    for case in cases:
        spoil = data.draw(SPOIL)
        events.append(case.event if spoil != "event" else case.event + "x")
        areas.append(case.area if spoil != "area" else "nowhere")
        sources.append(case.source if spoil != "source" else "fax")
        stamps.append(_stamp(case.reported_at, data.draw(st.integers(0, 4))) if spoil != "reported_at" else "2026-13-01")
        want_bad.append(spoil)
    batch = dispatcher.match_strings(events, areas, sources, stamps)
    assert [BAD_FIELDS[b] for b in batch.bad.tolist()] == want_bad
    assert batch.rule.tolist() == [-1 if bad else index for bad, index in zip(want_bad, want_index, strict=True)]


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_wide_area_trees_match_the_reference(data):
    # more than 64 columns: windowed rules are listed per block of columns
    ruleset = data.draw(rulesets(max_rules=60, max_grids=40))
    dispatcher = Dispatcher(ruleset)
    for case in data.draw(st.lists(cases_for(ruleset), min_size=20, max_size=60)):
        assert dispatcher.winning_rule(case) is winning_rule(ruleset, case), case


@settings(max_examples=50, deadline=None)
@given(rulesets())
def test_compile_is_deterministic(ruleset):
    assert compile_tables(ruleset).same_as(compile_tables(ruleset))


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_rule_order_does_not_change_the_tables(data):
    ruleset = data.draw(rulesets())
    shuffled = data.draw(st.permutations(ruleset.rules))
    other = type(ruleset)(ruleset.manifest, ruleset.events, ruleset.areas, ruleset.departments, tuple(shuffled),
                          ruleset.version)  # fmt: skip
    a, b = compile_tables(ruleset), compile_tables(other)
    # rule indices differ with the order; the winning rules do not
    assert [ruleset.rules[i].id for i in a.rule_by_rank] == [other.rules[i].id for i in b.rule_by_rank]
    assert np.array_equal(a.base, b.base) and np.array_equal(a.src_plane, b.src_plane)


def test_tables_are_read_only(mini):
    tables = compile_tables(mini)
    with pytest.raises(ValueError):
        tables.base[0, 0] = 1
    assert tables.base.flags.c_contiguous


def test_save_and_load_round_trip(mini, tmp_path):
    tables = compile_tables(mini)
    save_tables(tables, tmp_path / "t.npz")
    assert load_tables(tmp_path / "t.npz", mini.version).same_as(tables)
    with pytest.raises(StaleTables):
        load_tables(tmp_path / "t.npz", "0000000000000000")


def test_unknown_code_is_refused_not_guessed(mini):
    from datetime import datetime

    from dispatch.core.case import Case
    from dispatch.core.errors import CaseError

    dispatcher = Dispatcher(mini)
    with pytest.raises(CaseError) as err:
        dispatcher.dispatch(Case("c1", "06010001", "nowhere", "grid", datetime(2026, 1, 1)))
    assert (err.value.code, err.value.field) == ("request.unknown_area", "area")


def test_batch_kernel_refuses_out_of_range_indices(mini):
    dispatcher = Dispatcher(mini)
    one = np.zeros(1, dtype=np.int32)
    with pytest.raises(ValueError, match="column"):
        dispatcher.match_encoded(one, one + 10_000, one, one)


def test_day_of_uses_the_rule_set_timezone(mini):
    from datetime import datetime

    # 2026-05-31 20:00 UTC is already June 1st in Beijing
    assert day_of(mini, datetime(2026, 5, 31, 20, tzinfo=UTC)) == day_of(mini, datetime(2026, 6, 1, 4))


def _stamp(moment, style: int) -> str:
    text = moment.isoformat()
    if style == 1:
        text = text.replace("T", " ")
    elif style == 2 and moment.utcoffset() is not None:
        text = text[:-6] + text[-6:].replace(":", "")  # +0800
    elif style == 3 and moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0:
        text = text[:-6] + "Z"
    elif style == 4:
        text = moment.strftime("%Y-%m-%dT%H:%M:%S.123456") + (text[19:] if moment.utcoffset() is not None else "")
    return text


def test_codebook_survives_separators_and_surrogates(mini):
    dispatcher = Dispatcher(mini)
    item = dispatcher.tables.items[0]
    got = dispatcher.item_codes.lookup_many([item, "a\x1fb", "\ud800", item])
    assert got.tolist() == [0, -1, -1, 0]


def test_a_due_time_past_9999_is_a_bad_time_not_a_crash(mini):
    from dispatch.core.errors import CaseError

    dispatcher = Dispatcher(mini)
    with pytest.raises(CaseError) as err:
        late = datetime.fromisoformat("9999-12-31T23:00:00+08:00")
        dispatcher.dispatch(Case("c", "06010001", "110115103201", "grid", late))
    assert (err.value.code, err.value.field) == ("request.bad_time", "reported_at")
    assert local_days(["2026-01-01T00:00:00z"], "Asia/Shanghai")[0] == BAD_DAY
