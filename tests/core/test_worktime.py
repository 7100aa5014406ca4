"""Working time: deadline values, and the fast due times (Python and numba) held equal to the reference walk."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dispatch.core.clock import fixed_zone, utc_seconds
from dispatch.core.decision import CaseError
from dispatch.core.model import Manifest
from dispatch.core.reference import due_by_walking
from dispatch.core.worktime import (
    Calendar,
    Deadline,
    WorkTime,
    due_times,
    parse_class_deadlines,
    parse_deadline,
    report_utc,
)

OFFICE = ((9 * 3600, 12 * 3600), (13 * 3600 + 1800, 17 * 3600 + 1800))
# 2025 and 2026 as the State Council moved them (part of the year): holidays and make-up workdays
SHANGHAI_DAYS = {
    date(2025, 1, 1): ("holiday", "元旦"),
    date(2025, 1, 26): ("workday", "春节调休上班"),
    **{date(2025, 1, 28) + timedelta(days=k): ("holiday", "春节") for k in range(8)},
    date(2025, 2, 8): ("workday", "春节调休上班"),
    date(2025, 9, 28): ("workday", "国庆节调休上班"),
    **{date(2025, 10, 1) + timedelta(days=k): ("holiday", "国庆节、中秋节") for k in range(8)},
    date(2025, 10, 11): ("workday", "国庆节调休上班"),
    date(2026, 1, 1): ("holiday", "元旦"),
    date(2026, 1, 2): ("holiday", "元旦"),
    date(2026, 1, 4): ("workday", "元旦调休上班"),
}
# a DST zone, test-only: the US federal holidays of 2026 that fall near its changes
LA_DAYS = {date(2026, 1, 1): ("holiday", "New Year's Day"), date(2026, 11, 26): ("holiday", "Thanksgiving")}

SETS = {
    "shanghai": ("Asia/Shanghai", Calendar((1, 2, 3, 4, 5), OFFICE, SHANGHAI_DAYS, "calendar.csv")),
    "los_angeles": ("America/Los_Angeles", Calendar((1, 2, 3, 4, 5), OFFICE, LA_DAYS, "calendar.csv")),
    # a six-day week of one long span, no days file: provisional is never true
    "no_days": ("Asia/Shanghai", Calendar((1, 2, 3, 4, 5, 6), ((8 * 3600, 20 * 3600),))),
    # spans across midnight's edges and a DST change's hours (02:00): the union rule decides
    "edges": (
        "America/Los_Angeles",
        Calendar((1, 2, 3, 4, 5, 7), ((0, 3 * 3600), (22 * 3600, 24 * 3600)), LA_DAYS, "d"),
    ),
}
WORKTIMES = {name: WorkTime(calendar, zone) for name, (zone, calendar) in SETS.items()}


def _ruleset(name: str):
    zone, calendar = SETS[name]
    manifest = Manifest("t", zone, ("grid",), {}, "t.csv", "a.csv", "d.csv", ("r.csv",), calendar=calendar)
    return SimpleNamespace(manifest=manifest)


DEADLINES = st.one_of(
    st.builds(Deadline, st.integers(1, 20_000), st.just("h")),
    st.builds(Deadline, st.integers(1, 20_000), st.just("wh")),
    st.builds(Deadline, st.integers(1, 40).map(lambda n: n * 100), st.just("wd")),
)
# a report time: a day, and a second of it near the spans' bounds or anywhere
BOUNDS = [b + d for a in (0, 9, 12, 13.5, 17.5, 22, 24) for b in [int(a * 3600)] for d in (-1, 0, 1)]
SECONDS = st.one_of(st.sampled_from([s for s in BOUNDS if 0 <= s < 86400]), st.integers(0, 86399))
DAYS = st.one_of(
    st.dates(date(2024, 12, 20), date(2027, 1, 20)),  # across both listed years and into unlisted ones
    st.sampled_from([date(2026, 3, 6), date(2026, 3, 8), date(2026, 10, 30), date(2026, 11, 1)]),  # US DST
    st.dates(date(1960, 1, 1), date(2200, 1, 1)),  # outside the laid-out span: the exact fallback
)
OFFSETS = st.sampled_from([None, 8 * 3600, 0, -7 * 3600, -8 * 3600, 5 * 3600 + 1800])  # None: a naive time


def _moment(name: str, day: date, second: int, offset: int | None) -> datetime:
    wall = datetime.combine(day, datetime.min.time()) + timedelta(seconds=second)
    zone = ZoneInfo(SETS[name][0])
    return wall.replace(tzinfo=zone if offset is None else fixed_zone(offset))


def _reference(name: str, moment: datetime, deadline: Deadline) -> tuple[str, bool] | None:
    try:
        walked = due_by_walking(_ruleset(name), moment, deadline)
    except CaseError:
        return None
    return walked.due.isoformat(), walked.provisional


def _fast(name: str, moment: datetime, deadline: Deadline) -> tuple[str, bool] | None:
    try:
        due, offset, provisional = WORKTIMES[name].due(utc_seconds(moment), deadline.code, deadline.amount)
    except OverflowError:
        return None
    return datetime.fromtimestamp(due, fixed_zone(offset)).isoformat(), provisional


PROPS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(st.sampled_from(sorted(SETS)), DAYS, SECONDS, OFFSETS, DEADLINES)
@example("shanghai", date(2026, 12, 4), 18 * 3600, 8 * 3600, Deadline(400, "wh"))  # Friday evening
@example("shanghai", date(2025, 9, 30), 17 * 3600 + 1800, 8 * 3600, Deadline(300, "wh"))  # ends where the day does
@example("los_angeles", date(2026, 3, 7), 12 * 3600, None, Deadline(1000, "wh"))  # across spring forward
@example("los_angeles", date(2026, 10, 31), 17 * 3600, None, Deadline(200, "wd"))  # across fall back
@example("edges", date(2026, 3, 8), 1 * 3600, None, Deadline(150, "wh"))  # spans in the DST gap
@example("shanghai", date(1, 1, 1), 10 * 3600, 8 * 3600, Deadline(2000, "wd"))  # the first day there is
@example("shanghai", date(9999, 12, 24), 10 * 3600, 8 * 3600, Deadline(400, "wd"))  # the last days there are
@example("shanghai", date(9999, 12, 30), 10 * 3600, 8 * 3600, Deadline(2000, "wd"))  # due past the year 9999
def test_python_due_equals_the_reference(name, day, second, offset, deadline):
    moment = _moment(name, day, second, offset)
    assert _fast(name, moment, deadline) == _reference(name, moment, deadline)


@PROPS
@given(st.sampled_from(sorted(SETS)), st.lists(st.tuples(DAYS, SECONDS, OFFSETS, DEADLINES), min_size=1, max_size=40))
def test_kernel_due_equals_the_reference_or_leaves_the_case_to_python(name, cases):
    w = WORKTIMES[name].arrays
    moments = [_moment(name, day, second, offset) for day, second, offset, _ in cases]
    deadlines = [d for *_, d in cases]
    # the batch reader's view of a report time: wall clock, offset, naive
    wall = np.asarray([utc_seconds(m) + int(m.utcoffset().total_seconds()) for m in moments], np.int64)
    offset = np.asarray([int(m.utcoffset().total_seconds()) for m in moments], np.int64)
    naive = np.asarray([int(o is None) for _, _, o, _ in cases], np.int8)
    r = report_utc(wall, offset, naive, w)
    inside = [date(1971, 1, 1) < m.date() < date(2099, 12, 31) for m in moments]  # where the zone arrays hold
    assert [t for t, i in zip(r.tolist(), inside) if i] == [utc_seconds(m) for m, i in zip(moments, inside) if i]
    units = np.asarray([d.code for d in deadlines], np.int64)
    amounts = np.asarray([d.amount for d in deadlines], np.int64)
    flags = np.zeros(len(cases), np.int8)
    due, off, prov = np.empty(len(cases), np.int64), np.zeros(len(cases), np.int64), np.zeros(len(cases), np.int8)
    due_times(r, units, amounts, flags, w, due, off, prov)
    for j, (moment, deadline) in enumerate(zip(moments, deadlines, strict=True)):
        if flags[j]:  # outside the span: Python's exact path settles it (tested above)
            assert not date(2000, 1, 2) <= moment.date() < date(2060, 1, 1) or deadline.unit != "h"
            continue
        got = datetime.fromtimestamp(int(due[j]), fixed_zone(int(off[j]))).isoformat(), bool(prov[j])
        assert got == _reference(name, moment, deadline)


def test_the_kernel_settles_reports_inside_the_span_itself():
    w = WORKTIMES["shanghai"].arrays
    start = int(datetime(2026, 1, 5, 10, tzinfo=UTC).timestamp())
    r = np.arange(start, start + 86400 * 400, 3600 * 7, dtype=np.int64)
    n = len(r)
    flags = np.zeros(n, np.int8)
    for unit, amount in ((1, 14400), (2, 14400), (3, 20)):
        due_times(r, np.full(n, unit), np.full(n, amount), flags, w, np.empty(n, np.int64), np.zeros(n, np.int64),
                  np.zeros(n, np.int8))  # fmt: skip
    assert not flags.any()


def test_friday_evening_is_due_on_monday_afternoon_and_a_holiday_is_skipped_by_name():
    rs = _ruleset("shanghai")
    friday = datetime(2026, 12, 4, 18, tzinfo=fixed_zone(8 * 3600))
    walked = due_by_walking(rs, friday, parse_deadline("4wh"))
    assert walked.due.isoformat() == "2026-12-07T14:30:00+08:00"
    assert [(d.isoformat(), why) for d, why in walked.skipped] == [("2026-12-05", "weekend"), ("2026-12-06", "weekend")]
    new_year = due_by_walking(rs, datetime(2025, 12, 31, 17), parse_deadline("2wd"))
    assert new_year.due.isoformat() == "2026-01-05T17:30:00+08:00"  # 01-04 (a Sunday, worked), then Monday
    assert ("2026-01-01", "元旦") in [(d.isoformat(), why) for d, why in new_year.skipped]
    assert [(d.isoformat(), name) for d, name in new_year.made_up] == [("2026-01-04", "元旦调休上班")]
    assert due_by_walking(rs, datetime(2026, 12, 31, 10), parse_deadline("2wd")).provisional is True
    assert due_by_walking(rs, datetime(2026, 12, 1, 10), parse_deadline("2wd")).provisional is False


def test_natural_hours_are_elapsed_time_across_a_dst_change():
    rs = _ruleset("los_angeles")
    before = datetime(2026, 3, 8, 0, 30)  # naive: Los Angeles, PST; spring forward at 02:00
    walked = due_by_walking(rs, before, parse_deadline("3h"))
    assert walked.due.isoformat() == "2026-03-08T04:30:00-07:00"  # three elapsed hours, not wall hours


@pytest.mark.parametrize(
    "text,value",
    [
        ("4wh", Deadline(400, "wh")),
        ("0.5h", Deadline(50, "h")),
        ("20wd", Deadline(2000, "wd")),
        ("1.25h", Deadline(125, "h")),
    ],
)
def test_deadline_values_read_and_write_back(text, value):
    assert parse_deadline(text) == value and str(value) == text


@pytest.mark.parametrize(
    "text,words",
    [("4", "not a deadline"), ("4d", "unknown unit 'd'"), ("0h", "more than zero"), ("1.5wd", "whole days"),
     ("1.255h", "two decimals"), ("-2h", "not a deadline"), ("200000h", "more than 100000h")],
)  # fmt: skip
def test_bad_deadline_values_say_what_is_wrong(text, words):
    with pytest.raises(ValueError, match=words):
        parse_deadline(text)


def test_class_values():
    assert parse_class_deadlines("B=4wh; A=2wh;C=1wd") == (
        ("A", Deadline(200, "wh")),
        ("B", Deadline(400, "wh")),
        ("C", Deadline(100, "wd")),
    )
    with pytest.raises(ValueError, match="given twice"):
        parse_class_deadlines("A=2wh;A=4wh")
    with pytest.raises(ValueError, match="CLASS=VALUE"):
        parse_class_deadlines("A=2wh;4wh")


def test_dispatch_calendar_writes_chinas_days_and_refuses_an_unknown_year(tmp_path):
    out = tmp_path / "calendar.csv"
    run = [sys.executable, "-m", "dispatch", "calendar", "--country", "CN"]
    done = subprocess.run([*run, "--years", "2025-2026", "-o", str(out)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "date,kind,name"
    assert "2025-10-01,holiday,国庆节" in lines and "2025-10-11,workday,国庆节调休上班" in lines
    refused = subprocess.run([*run, "--years", "2090"], capture_output=True, text=True, check=False)
    assert refused.returncode == 1 and "2090" in refused.stderr and "chinese-calendar knows" in refused.stderr


def test_a_year_python_holidays_does_not_know_is_refused_and_years_must_be_years():
    run = [sys.executable, "-m", "dispatch", "calendar", "--country", "DE"]
    old = subprocess.run([*run, "--years", "0001"], capture_output=True, text=True, check=False)
    assert old.returncode == 1 and "no holiday of DE in 1" in old.stderr
    for years in ("2026-", "2_026", "26"):
        bad = subprocess.run([*run, "--years", years], capture_output=True, text=True, check=False)
        assert bad.returncode == 2 and "is not YEAR or FIRST-LAST" in bad.stderr, years


@pytest.mark.parametrize(
    "text,hint", [("4WH", "write '4wh'"), ("4 wh", "write '4wh'"), ("2 WD", "write '2wd'")]
)
def test_a_value_in_capitals_or_with_a_space_is_told_how_to_write_it(text, hint):
    with pytest.raises(ValueError, match=hint):
        parse_deadline(text)


def test_a_calendar_without_a_working_weekday_or_with_one_digit_hours_is_refused_with_the_way_out(tmp_path):
    import shutil

    from dispatch.core.load import read_ruleset
    from tests.conftest import MINI

    root = tmp_path / "rs"
    shutil.copytree(MINI, root)
    manifest = (root / "ruleset.toml").read_text(encoding="utf-8")
    (root / "ruleset.toml").write_text(manifest + '\n[calendar]\nworkweek = []\nwork_hours = ["9:00-12:00", "13:00-12:30"]\n')
    _, diagnostics = read_ruleset(root)
    messages = [d.message for d in diagnostics if d.code == "calendar.bad_value"]
    assert any("workweek lists no day" in m for m in messages)
    assert any("write '09:00-12:00'" in m for m in messages)
    assert any("ends before it starts" in m and "24:00" in m for m in messages)
