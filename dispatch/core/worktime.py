"""Working time: deadline values, a rule set's calendar, and due times computed fast.

A deadline is `<n><unit>`: `h` natural hours, `wh` working hours, `wd` working days.
Working time is the union of the calendar's `work_hours` on every working date, in the
rule set's zone (reference.due_by_walking states the semantics day by day).

WorkTime is the fast path. Per rule set it lays the working intervals of a span of
years out as UTC seconds with the working seconds counted up to each interval's end,
so a due time is two binary searches: in numba for a batch (`due_times`), in Python
for one case (`WorkTime.due`). Outside that span (a report in 1950 or 2150), where the
calendar lists nothing and the plain workweek holds, a span around the case is laid
out on demand with zoneinfo itself: exact, only slower.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from dispatch.core.clock import day_number, day_of_number, days_from_civil, zone_offsets
from dispatch.core.errors import Place
from dispatch.core.jit import njit, njit_inline

UNITS = ("h", "wh", "wd")
UNIT_NONE, UNIT_H, UNIT_WH, UNIT_WD = 0, 1, 2, 3  # kernel codes: (h, wh, wd) are UNITS' index + 1
MAX_HOURS = 100_000  # an `h` or `wh` deadline above this is a typo (11 years of natural hours)
MAX_DAYS = 10_000  # a `wd` deadline above this is one too
KINDS = ("holiday", "workday")  # the kinds of a calendar's `days` file
DAY_SECONDS = 86400
NO_DUE = np.iinfo(np.int64).min  # due_times' due of a case without one
_VALUE = re.compile(r"(\d{1,9})(?:\.(\d+))?([a-z]+)")
_CLASS = re.compile(r"[^\s=;,]+")


class Deadline(NamedTuple):
    """One deadline value: `hundredths` of the unit (4wh: 400) and the unit, "h", "wh" or "wd"."""

    hundredths: int
    unit: str

    def __str__(self) -> str:
        whole, part = divmod(self.hundredths, 100)
        return f"{whole}{'.' + f'{part:02d}'.rstrip('0') if part else ''}{self.unit}"

    @property
    def code(self) -> int:
        """The unit as the kernels know it: UNIT_H, UNIT_WH or UNIT_WD."""
        return UNITS.index(self.unit) + 1

    @property
    def amount(self) -> int:
        """Seconds for `h` and `wh`, days for `wd`: what the kernels count."""
        return self.hundredths // 100 if self.unit == "wd" else self.hundredths * 36

    @property
    def working(self) -> bool:
        return self.unit != "h"


# An item's deadline may be one per area class: (("A", 2wh), ("B", 4wh), ("C", 1wd)), sorted by class.
ClassDeadlines = tuple[tuple[str, Deadline], ...]


def parse_deadline(text: str) -> Deadline:
    """`4wh` -> Deadline(400, "wh"); ValueError with a maintainer's message when it is not a value."""
    m = _VALUE.fullmatch(text.strip())
    if m is None:
        squeezed = re.sub(r"\s+", "", text).lower()
        if squeezed != text.strip() and _VALUE.fullmatch(squeezed):
            raise ValueError(f"{text!r} is not a deadline: write {squeezed!r} (lowercase, no space)")
        raise ValueError(f"{text!r} is not a deadline: write a number and a unit, as 4h, 4wh or 2wd")
    whole, part, unit = m.groups()
    if unit not in UNITS:
        raise ValueError(
            f"unknown unit {unit!r} in {text!r}: h (natural hours), wh (working hours) or wd (working days)"
        )
    if part is not None and len(part) > 2:
        raise ValueError(f"{text!r} has more than two decimals")
    hundredths = int(whole) * 100 + int((part or "").ljust(2, "0"))
    if hundredths <= 0:
        raise ValueError(f"{text!r} must be more than zero")
    if unit == "wd" and hundredths % 100:
        raise ValueError(f"{text!r}: working days are whole days")
    if hundredths > (MAX_DAYS if unit == "wd" else MAX_HOURS) * 100:
        raise ValueError(f"{text!r} is more than {MAX_DAYS if unit == 'wd' else MAX_HOURS}{unit}")
    return Deadline(hundredths, unit)


def parse_class_deadlines(text: str) -> ClassDeadlines:
    """`A=2wh;B=4wh;C=1wd` -> one Deadline per area class; ValueError naming the bad part."""
    found: dict[str, Deadline] = {}
    for part in text.split(";"):
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or not _CLASS.fullmatch(name):
            raise ValueError(f"{part.strip()!r} is not CLASS=VALUE (as A=2wh;B=4wh;C=1wd)")
        if name in found:
            raise ValueError(f"class {name!r} is given twice")
        found[name] = parse_deadline(value)
    return tuple(sorted(found.items()))


def deadline_text(spec: Deadline | ClassDeadlines | None) -> str:
    """A deadline cell as written canonically: `4wh`, `A=2wh;B=4wh`, or empty."""
    if spec is None:
        return ""
    if isinstance(spec, Deadline):
        return str(spec)
    return ";".join(f"{name}={value}" for name, value in spec)


# -- the calendar ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Calendar:
    """`[calendar]` of ruleset.toml with its `days` file read: what makes a date a working date.

    work_hours are (start, end) seconds after local midnight, ascending and apart;
    days maps a listed date to (kind, name), kind "holiday" or "workday".
    """

    workweek: tuple[int, ...]
    work_hours: tuple[tuple[int, int], ...]
    days: dict[date, tuple[str, str]] = field(default_factory=dict)
    days_file: str | None = None
    place: Place = field(default=Place(""), compare=False)

    def working(self, day: date) -> bool:
        listed = self.days.get(day)
        if listed is not None:
            return listed[0] == "workday"
        return day.isoweekday() in self.workweek

    @property
    def listed_years(self) -> frozenset[int]:
        return frozenset(d.year for d in self.days)

    def why_not_working(self, day: date) -> str:
        """What a skipped date is: "weekend", or the holiday's name."""
        listed = self.days.get(day)
        if listed is not None and listed[0] == "holiday":
            return listed[1] or "holiday"
        return "weekend"


def clock_text(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}"


# -- the fast path -------------------------------------------------------------------------


class WorkArrays(NamedTuple):
    """A WorkTime's arrays, for the kernels (numba resolves NamedTuple fields at compile time)."""

    starts: np.ndarray  # int64[k] UTC seconds: working intervals, in order, made monotone (see _lay_out)
    ends: np.ndarray  # int64[k]
    cum_ends: np.ndarray  # int64[k] working seconds from the span's start to each interval's end
    wd_days: np.ndarray  # int64[w] local day numbers of the working dates
    wd_ends: np.ndarray  # int64[w] UTC end of each working date's last interval
    lo: np.ndarray  # int64[2] the span: UTC of its first local midnight, and its first local day
    hi: np.ndarray  # int64[2] UTC of the local midnight after it, and that day
    zone_from: np.ndarray  # int64[z] the zone's offsets (clock.zone_offsets)
    zone_offset: np.ndarray
    wall_trans: np.ndarray  # int64[z] local wall time of each change, read with fold=0 (see wall_to_utc)
    listed_runs: np.ndarray  # int64[k, 2]: WorkTime.unlisted's runs of listed years, as (first day, last day)
    has_days: bool


class Span(NamedTuple):
    """Working intervals of a run of local days, ready to search (Python lists, for one case)."""

    first_day: int
    last_day: int
    lo: int
    hi: int
    ends: list[int]
    cum_ends: list[int]
    starts: list[int]  # the intervals' starts (made monotone, as the ends)
    cum_starts: list[int]  # working seconds from the span's start to each interval's start
    wd_days: list[int]
    wd_ends: list[int]
    day_iv: list[int]  # by local day (from first_day): the first interval that ends after its midnight
    day_wd: list[int]  # by local day: how many working dates there are up to it (the next one's index)


def _wall_transitions(zone_from: np.ndarray, zone_offset: np.ndarray) -> np.ndarray:
    """The wall time of each offset change as zoneinfo reads a wall time with fold=0: a wall time
    in a gap or a fold takes the offset before the change; from the later of the two wall
    readings of the change on, the offset after it."""
    trans = np.full(len(zone_from), np.iinfo(np.int64).min // 2, dtype=np.int64)
    trans[1:] = zone_from[1:] + np.maximum(zone_offset[:-1], zone_offset[1:])
    return trans


def _to_utc(walls: np.ndarray, wall_trans: np.ndarray, zone_offset: np.ndarray) -> np.ndarray:
    return walls - zone_offset[np.searchsorted(wall_trans, walls, side="right") - 1]


@njit_inline
def wall_to_utc(wall, wall_trans, zone_offset):
    """A local wall time (seconds since 1970 on the zone's clock) as UTC seconds, read with fold=0."""
    return wall - zone_offset[np.searchsorted(wall_trans, wall, side="right") - 1]


@njit_inline
def offset_at(utc, zone_from, zone_offset):
    return zone_offset[np.searchsorted(zone_from, utc, side="right") - 1]


def _working_mask(calendar: Calendar | None, first_day: int, last_day: int) -> np.ndarray:
    days = np.arange(first_day, last_day + 1, dtype=np.int64)
    if calendar is None:
        return np.zeros(len(days), dtype=bool)
    mask = np.isin((days + 3) % 7 + 1, np.asarray(calendar.workweek, dtype=np.int64))  # 1970-01-01: a Thursday
    for day, (kind, _) in calendar.days.items():
        k = day_number(day) - first_day
        if 0 <= k < len(mask):
            mask[k] = kind == "workday"
    return mask


def _lay_out(calendar: Calendar | None, first_day: int, last_day: int, to_utc) -> Span:
    """The working intervals of local days first_day..last_day (day numbers), with `to_utc`
    turning local wall seconds into UTC seconds (an array in, an array out)."""
    hours = np.asarray(calendar.work_hours if calendar is not None else [], dtype=np.int64).reshape(-1, 2)
    days = np.arange(first_day, last_day + 1, dtype=np.int64)[_working_mask(calendar, first_day, last_day)]
    if not len(hours):
        days = days[:0]
    walls = days[:, None] * DAY_SECONDS
    starts = to_utc((walls + hours[None, :, 0]).ravel())
    ends = to_utc((walls + hours[None, :, 1]).ravel())
    # A DST change inside the work hours can make an interval run backwards or overlap the
    # one before in UTC: working time is their union, so each starts no earlier than the
    # last end and ends no earlier than it starts (reference.due_by_walking does the same).
    if len(ends):
        ends = np.maximum.accumulate(ends)
        starts = np.maximum(starts, np.concatenate([[starts[0]], ends[:-1]]))
    cum_ends = np.cumsum(ends - starts)
    # a working date ends at its last interval's end as written (not as made monotone)
    wd_ends = to_utc(days * DAY_SECONDS + hours[-1, 1]) if len(days) else ends[:0]
    all_days = np.arange(first_day, last_day + 2, dtype=np.int64)
    midnights = to_utc(all_days * DAY_SECONDS)
    day_iv = np.searchsorted(ends, midnights[:-1], side="right")
    day_wd = np.searchsorted(days, all_days[:-1], side="right")
    return Span(
        first_day,
        last_day,
        int(midnights[0]),
        int(midnights[-1]),
        ends.tolist(),
        cum_ends.tolist(),
        starts.tolist(),
        (cum_ends - (ends - starts)).tolist(),
        days.tolist(),
        wd_ends.tolist(),
        day_iv.tolist(),
        day_wd.tolist(),
    )


def _exact_to_utc(zone: ZoneInfo):
    """Wall seconds -> UTC seconds through zoneinfo itself (fold=0): for spans outside the zone arrays."""

    def convert(walls: np.ndarray) -> np.ndarray:
        out = np.empty(len(walls), dtype=np.int64)
        for k, wall in enumerate(walls.tolist()):
            day, sod = divmod(wall, DAY_SECONDS)
            wall_time = datetime.combine(day_of_number(day), time()) + timedelta(seconds=sod)
            out[k] = int(wall_time.replace(tzinfo=zone).timestamp())
        return out

    return convert


_FIRST_DAY, _LAST_DAY = day_number(date(1, 1, 1)), day_number(date(9999, 12, 30))  # a span's bounds (a day spare)
_FIRST_YEAR, _LAST_YEAR = 1971, 2099  # the zone arrays (clock.zone_offsets) hold from 1970 to 2100
_SPAN_YEARS = (2000, 2060)  # the span laid out for every rule set, widened to its calendar's years


class WorkTime:
    """Due times for one rule set: its calendar laid out over a span of years, and its zone."""

    def __init__(self, calendar: Calendar | None, zone: str):
        self.calendar = calendar
        self.zone = ZoneInfo(zone)
        zone_from, zone_offset = zone_offsets(zone)
        wall_trans = _wall_transitions(zone_from, zone_offset)
        listed = sorted(calendar.listed_years) if calendar is not None else []
        first_year = max(_FIRST_YEAR, min([_SPAN_YEARS[0]] + [y - 1 for y in listed]))
        last_year = min(_LAST_YEAR, max([_SPAN_YEARS[1]] + [y + 2 for y in listed]))
        first_day, last_day = days_from_civil(first_year, 1, 1), days_from_civil(last_year, 12, 31)
        span = _lay_out(calendar, first_day, last_day, lambda w: _to_utc(w, wall_trans, zone_offset))
        self.span = span
        # runs of consecutive listed years as (first day, last day): a due time inside one is not provisional
        self._listed_runs: list[tuple[int, int]] = []
        for y in listed:
            if self._listed_runs and self._listed_runs[-1][1] == days_from_civil(y, 1, 1) - 1:
                self._listed_runs[-1] = (self._listed_runs[-1][0], days_from_civil(y, 12, 31))
            else:
                self._listed_runs.append((days_from_civil(y, 1, 1), days_from_civil(y, 12, 31)))
        self.has_days = bool(calendar is not None and calendar.days_file)
        i64 = np.int64
        self.arrays = WorkArrays(
            np.asarray(span.starts, i64),
            np.asarray(span.ends, i64),
            np.asarray(span.cum_ends, i64),
            np.asarray(span.wd_days, i64),
            np.asarray(span.wd_ends, i64),
            np.asarray([span.lo, span.first_day], i64),
            np.asarray([span.hi, span.last_day + 1], i64),
            zone_from,
            zone_offset,
            wall_trans,
            np.asarray(self._listed_runs, i64).reshape(-1, 2),
            self.has_days,
        )
        for a in self.arrays[:-1]:
            a.setflags(write=False)
        self._zone_from = zone_from.tolist()
        self._zone_offset = zone_offset.tolist()
        self.steady_from, self.steady_offset = self._zone_from[-1], self._zone_offset[-1]
        self._exact = _exact_to_utc(self.zone)

    # -- one case, in Python ------------------------------------------------------------

    def offset_at(self, utc: int) -> int:
        """The zone's UTC offset in seconds at an instant."""
        if utc >= self.steady_from:
            return self.steady_offset
        return self._zone_offset[bisect.bisect_right(self._zone_from, utc) - 1]

    def due(self, r: int, unit: int, amount: int) -> tuple[int, int, bool]:
        """(due, its UTC offset, provisional) for a report at UTC second `r` and a deadline given
        as its kernel unit code and amount (Deadline.code, .amount). OverflowError past the year 9999."""
        s, steady_from, steady = self.span, self.steady_from, self.steady_offset  # offset_at's common case, inline
        if unit == UNIT_H:
            due = r + amount
            if s.lo <= due < s.hi:
                return due, steady if due >= steady_from else self.offset_at(due), False
            return self._outside(r, unit, amount)
        off = steady if r >= steady_from else self.offset_at(r)
        due = _search(s, r, unit, amount, off)
        if due is None:
            return self._outside(r, unit, amount)
        due_off = steady if due >= steady_from else self.offset_at(due)
        return due, due_off, self.unlisted((r + off) // DAY_SECONDS, (due + due_off) // DAY_SECONDS)

    def unlisted(self, first_day: int, last_day: int) -> bool:
        """provisional: whether a local date from first_day to last_day lies in a year the days file leaves out."""
        if not self.has_days:
            return False
        for lo, hi in self._listed_runs:
            if lo <= first_day and last_day <= hi:
                return False
        return True

    def _outside(self, r: int, unit: int, amount: int) -> tuple[int, int, bool]:
        """A due time outside the laid-out span: a span around the case, laid out with zoneinfo."""
        r_local = datetime.fromtimestamp(r, UTC).astimezone(self.zone)
        if unit == UNIT_H:
            try:
                local = datetime.fromtimestamp(r + amount, UTC).astimezone(self.zone)
            except (ValueError, OverflowError):
                raise OverflowError("due time past the year 9999") from None
            return r + amount, int(local.utcoffset().total_seconds()), False
        first = max(day_number(r_local.date()) - 1, _FIRST_DAY)  # a day early: the union needs the span before
        years = 2
        while True:
            last = min(first + 366 * years, _LAST_DAY)
            span = _outside_span(self, first, last) if years <= 8 else _lay_out(self.calendar, first, last, self._exact)
            due = _search(span, r, unit, amount, int(r_local.utcoffset().total_seconds()))
            if due is not None:
                local = datetime.fromtimestamp(due, UTC).astimezone(self.zone)
                off = int(local.utcoffset().total_seconds())
                return due, off, self.unlisted(day_number(r_local.date()), day_number(local.date()))
            if last == _LAST_DAY:
                raise OverflowError("due time past the year 9999")
            years *= 4

    def warm(self) -> None:
        """Compile the kernel with the arrays' types, so that no request pays for it."""
        one = np.zeros(1, dtype=np.int64)
        due_times(one, one, one, np.zeros(1, dtype=np.int8), self.arrays, one.copy(), one.copy(), np.zeros(1, np.int8))


@lru_cache(maxsize=8)
def _outside_span(worktime: WorkTime, first_day: int, last_day: int) -> Span:
    return _lay_out(worktime.calendar, first_day, last_day, worktime._exact)


def _search(s: Span, r: int, unit: int, amount: int, r_offset: int) -> int | None:
    """The due time of a report at `r` (its UTC offset `r_offset`) within span `s`; None when the
    span ends first. The report's local day indexes the intervals: a short walk, not a bisection."""
    k = (r + r_offset) // DAY_SECONDS - s.first_day
    if not 0 <= k < len(s.day_wd):
        return None
    if unit == UNIT_WD:
        j = s.day_wd[k] + amount - 1
        return s.wd_ends[j] if j < len(s.wd_ends) else None
    ends, cum = s.ends, s.cum_ends
    i = s.day_iv[k]
    try:
        while ends[i] <= r:
            i += 1
    except IndexError:  # after the span's last interval
        return None
    into = r - s.starts[i]
    target = s.cum_starts[i] + max(0, into) + amount
    n, hi = len(cum), i + 64  # most deadlines end within 32 working days: search those first
    j = bisect.bisect_left(cum, target, i, hi) if hi < n and cum[hi] >= target else bisect.bisect_left(cum, target, i)
    if j == n:
        return None
    return ends[j] - (cum[j] - target)


# -- many cases, in numba ----------------------------------------------------------------------


@njit
def due_times(r, units, amounts, flags, w, due_out, off_out, prov_out):
    """For each case j with flags[j] == 0: due_out[j] its due time (UTC seconds), off_out[j] the
    zone's offset then, prov_out[j] 1 when provisional; units[j] == UNIT_NONE: no due time
    (due_out[j] = NO_DUE). A case whose due time lies outside the laid-out span gets flags[j] |= 4
    (FLAG_TIME): Python settles it (WorkTime.due). `w` a WorkArrays; r UTC seconds of reports."""
    n_iv = w.ends.shape[0]
    n_wd = w.wd_days.shape[0]
    lo, hi = w.lo[0], w.hi[0]
    for j in range(r.shape[0]):
        if flags[j] != 0:
            continue
        unit = units[j]
        prov_out[j] = 0
        if unit == UNIT_NONE:
            due_out[j] = NO_DUE
            continue
        t = r[j]
        if t < lo or t >= hi:
            flags[j] |= 4
            continue
        if unit == UNIT_H:
            due = t + amounts[j]
        elif unit == UNIT_WH:
            i = np.searchsorted(w.ends, t, side="right")
            if i == n_iv:
                flags[j] |= 4
                continue
            before = w.cum_ends[i - 1] if i > 0 else 0
            target = before + max(0, t - w.starts[i]) + amounts[j]
            k = np.searchsorted(w.cum_ends, target, side="left")
            if k == n_iv:
                flags[j] |= 4
                continue
            due = w.ends[k] - (w.cum_ends[k] - target)
        else:
            day = (t + offset_at(t, w.zone_from, w.zone_offset)) // 86400
            k = np.searchsorted(w.wd_days, day, side="right") + amounts[j] - 1
            if k >= n_wd:
                flags[j] |= 4
                continue
            due = w.wd_ends[k]
        if due >= hi:
            flags[j] |= 4
            continue
        off = offset_at(due, w.zone_from, w.zone_offset)
        if off % 60 != 0:  # an offset with seconds (Monrovia until 1972): Python writes it as every path does
            flags[j] |= 4
            continue
        due_out[j] = due
        off_out[j] = off
        if unit != UNIT_H and w.has_days:
            first, last = (t + offset_at(t, w.zone_from, w.zone_offset)) // 86400, (due + off) // 86400
            prov_out[j] = 1
            for q in range(w.listed_runs.shape[0]):
                if w.listed_runs[q, 0] <= first and last <= w.listed_runs[q, 1]:
                    prov_out[j] = 0
    return flags


def report_utc(wall: np.ndarray, offset: np.ndarray, naive: np.ndarray, w: WorkArrays) -> np.ndarray:
    """UTC seconds of report times read as wall time + offset; a naive one is local wall time (fold=0)."""
    out = np.empty(wall.shape[0], dtype=np.int64)
    return _report_utc(wall, offset, naive, w.wall_trans, w.zone_offset, out)


@njit
def _report_utc(wall, offset, naive, wall_trans, zone_offset, out):
    for j in range(wall.shape[0]):
        out[j] = wall_to_utc(wall[j], wall_trans, zone_offset) if naive[j] else wall[j] - offset[j]
    return out
