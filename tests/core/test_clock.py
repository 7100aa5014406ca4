"""The clock: day arithmetic, the one ISO 8601 byte parser, the zone's offsets, held to Python's datetime."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.core.clock import (
    BAD_DAY,
    FORM_DATE_ONLY,
    FORM_FRACTION,
    Clock,
    civil_from_days,
    day_number,
    day_of_number,
    days_from_civil,
    local_days,
    month_days,
    parse_iso,
    wall_seconds,
    zone_offsets,
)

SHANGHAI = "Asia/Shanghai"

# texts in the forms calling systems send, and near misses of them
stamps = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789-:+TZ .tz", max_size=32),
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat(sep=" ", timespec="minutes")),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat(timespec="seconds")),
    st.dates().map(date.isoformat),
)


def parsed(text: str) -> tuple[int, int, int, int] | None:
    out = np.zeros(4, dtype=np.int64)
    buf = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    return tuple(out.tolist()) if parse_iso(buf, 0, buf.shape[0], out) else None


@settings(max_examples=800, deadline=None)
@given(stamps)
def test_the_parser_reads_what_python_reads_to_the_same_moment_or_refuses(text):
    got = parsed(text)
    if got is None:
        return
    moment = datetime.fromisoformat(text)  # what we accept, Python accepts
    wall, offset, has_offset, form = got
    assert wall == wall_seconds(moment)
    assert has_offset == (moment.tzinfo is not None)
    assert offset == (int(moment.utcoffset().total_seconds()) if moment.tzinfo else 0)
    assert bool(form & FORM_FRACTION) == ("." in text[10:] or "," in text[10:])
    assert bool(form & FORM_DATE_ONLY) == (len(text) == 10)


@settings(max_examples=150, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()))
def test_the_parser_reads_every_extended_form_python_writes(moment):
    for text in (moment.isoformat(timespec="seconds"), moment.isoformat(timespec="minutes")):
        if moment.utcoffset() is not None and moment.utcoffset().seconds % 60:
            continue  # an offset with seconds: not a form we read (nor do callers send it)
        assert parsed(text) is not None, text


@settings(max_examples=500, deadline=None)
@given(stamps)
def test_local_days_agree_with_python_or_refuse(text):
    day = local_days([text], SHANGHAI)[0]
    if day == BAD_DAY:
        return
    moment = datetime.fromisoformat(text)
    if 1971 <= moment.year <= 2099:
        local = moment.date() if moment.tzinfo is None else moment.astimezone(ZoneInfo(SHANGHAI)).date()
        assert day == day_number(local)


def test_malformed_texts_are_bad_days():
    bad = ["", "2026-13-01", "2026-02-29", "2026-01-01T24:00", "2026-01-01T00:00:00z", "2026-01-01T00:00+8",
           "2026-01-01T00:00:00.", "2026-01-01X00:00", "yesterday"]  # fmt: skip
    assert local_days(bad, SHANGHAI).tolist() == [BAD_DAY] * len(bad)


@settings(deadline=None)
@given(st.dates())
def test_civil_helpers_are_pythons_calendar(day):
    n = day_number(day)
    assert days_from_civil(day.year, day.month, day.day) == n
    assert civil_from_days(n) == (day.year, day.month, day.day)
    assert day_of_number(n) == day
    following = day.replace(day=28) + timedelta(days=4)
    assert month_days(day.year, day.month) == (following.replace(day=1) - timedelta(days=1)).day


@settings(deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2099, 12, 30)))
def test_zone_offsets_are_the_zone_database(moment):
    for name in (SHANGHAI, "Europe/Berlin", "America/New_York"):
        starts, offsets = zone_offsets(name)
        utc = moment.replace(tzinfo=UTC)
        k = np.searchsorted(starts, int(utc.timestamp()), side="right") - 1
        assert offsets[k] == int(utc.astimezone(ZoneInfo(name)).utcoffset().total_seconds())


@settings(deadline=None)
@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.timezones()))
def test_the_clock_places_a_moment_on_its_local_day(moment):
    clock = Clock(SHANGHAI)
    placed, day = clock.place(moment)
    assert placed == moment
    assert day == day_number(moment.astimezone(ZoneInfo(SHANGHAI)).date())
    text = moment.isoformat()
    assert clock.read(text) == (datetime.fromisoformat(text), day)
