"""Clock: day arithmetic, the one ISO 8601 byte parser, and a rule set's timezone as arrays.

Everything that turns a time into a day number lives here: the epoch, the civil-date
helpers (Howard Hinnant's algorithms, in numba for the kernels), the byte-level
timestamp reader every kernel uses (bulk report times, history files, the service's
batch reader), and the Clock that reads one report time in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from dispatch.core.codebook import SEP, SEP_STR, token_end
from dispatch.core.jit import njit, njit_inline

EPOCH = date(1970, 1, 1)  # day 0 of every day number in the tables and kernels
EPOCH_ORDINAL = EPOCH.toordinal()
BAD_DAY = -(2**31)  # the day number of a text that is not a timestamp
_FIRST, _LAST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)

# what parse_iso() tells besides the moment (STAMP_FORM bits): forms whose reading by
# Python keeps more than whole seconds, or that a caller may want to settle itself
FORM_FRACTION = 1  # a fraction of a second was given (and ignored)
FORM_DATE_ONLY = 2  # a date without a time: its midnight
STAMP_WALL, STAMP_OFFSET, STAMP_HAS_OFFSET, STAMP_FORM = 0, 1, 2, 3  # parse_iso's out[...]


def day_number(day: date) -> int:
    """Days since 1970-01-01: how the tables and kernels count days."""
    return day.toordinal() - EPOCH_ORDINAL


def day_of_number(number: int) -> date:
    return EPOCH + timedelta(days=number)


def utc_seconds(moment: datetime) -> int:
    """An aware moment as whole seconds since 1970-01-01 UTC (a fraction of a second dropped)."""
    if moment.microsecond:
        moment = moment.replace(microsecond=0)
    return int(moment.timestamp())


@lru_cache(maxsize=64)
def fixed_zone(offset: int) -> timezone:
    """The fixed-offset tzinfo of `offset` seconds: how due times are written."""
    return timezone(timedelta(seconds=offset))


def wall_seconds(moment: datetime) -> int:
    """A moment's wall-clock time (its own offset, or naive) as seconds since 1970-01-01 00:00 on that clock."""
    return day_number(moment.date()) * 86400 + moment.hour * 3600 + moment.minute * 60 + moment.second


# -- civil dates in numba ----------------------------------------------------------------


@njit_inline
def days_from_civil(y, m, d):
    """Proleptic Gregorian date -> days since 1970-01-01 (Hinnant's days_from_civil)."""
    y = y - 1 if m <= 2 else y
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@njit_inline
def civil_from_days(days):
    """Days since 1970-01-01 -> (year, month, day) (Hinnant's civil_from_days)."""
    z = days + 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    return y, m, d


@njit_inline
def month_days(y, m):
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    return 30 if m == 4 or m == 6 or m == 9 or m == 11 else 31


@njit_inline
def _digits(buf, start, count):
    value = 0
    for k in range(start, start + count):
        d = buf[k] - 48
        if d < 0 or d > 9:
            return -1
        value = value * 10 + d
    return value


@njit_inline
def parse_iso(buf, start, stop, out):
    """Read the ISO 8601 timestamp buf[start:stop] into out int64[4]; False when it is not one.

    Accepts YYYY-MM-DD, then optionally T (or t or space) and HH:MM[:SS[.fraction]],
    then optionally Z, +HH:MM, +HHMM or +HH. Every form it reads, datetime.fromisoformat
    reads to the same moment (tests/core/test_clock.py). out[STAMP_WALL] = the wall time
    as written, in seconds since 1970-01-01 00:00 on that clock; out[STAMP_OFFSET] its
    UTC offset in seconds (0 when none); out[STAMP_HAS_OFFSET] 1 when one was given;
    out[STAMP_FORM] FORM_* bits.
    """
    if stop - start < 10 or buf[start + 4] != 45 or buf[start + 7] != 45:
        return False
    y, m, d = _digits(buf, start, 4), _digits(buf, start + 5, 2), _digits(buf, start + 8, 2)
    if y < 1 or m < 1 or m > 12 or d < 1 or d > month_days(y, m):
        return False
    day = days_from_civil(y, m, d)
    out[STAMP_OFFSET], out[STAMP_HAS_OFFSET] = 0, 0
    p = start + 10
    if p == stop:
        out[STAMP_WALL], out[STAMP_FORM] = day * 86400, FORM_DATE_ONLY
        return True
    if buf[p] != 84 and buf[p] != 32 and buf[p] != 116:  # 'T', ' ', 't'
        return False
    p += 1
    if stop - p < 5 or buf[p + 2] != 58:
        return False
    hh, mm = _digits(buf, p, 2), _digits(buf, p + 3, 2)
    if hh < 0 or hh > 23 or mm < 0 or mm > 59:
        return False
    ss = 0
    form = 0
    p += 5
    if p < stop and buf[p] == 58:
        if stop - p < 3:
            return False
        ss = _digits(buf, p + 1, 2)
        if ss < 0 or ss > 59:
            return False
        p += 3
        if p < stop and (buf[p] == 46 or buf[p] == 44):  # fraction: digits, ignored
            p += 1
            q = p
            while p < stop and 48 <= buf[p] <= 57:
                p += 1
            if p == q:
                return False
            form = FORM_FRACTION
    out[STAMP_WALL], out[STAMP_FORM] = day * 86400 + hh * 3600 + mm * 60 + ss, form
    if p == stop:
        return True
    if buf[p] == 90:  # 'Z' (datetime.fromisoformat refuses a lowercase 'z': so do we)
        if p + 1 != stop:
            return False
        out[STAMP_HAS_OFFSET] = 1
        return True
    if buf[p] != 43 and buf[p] != 45:  # '+', '-'
        return False
    rest = stop - p - 1
    if rest == 2:
        oh, om = _digits(buf, p + 1, 2), 0
    elif rest == 4:
        oh, om = _digits(buf, p + 1, 2), _digits(buf, p + 3, 2)
    elif rest == 5 and buf[p + 3] == 58:
        oh, om = _digits(buf, p + 1, 2), _digits(buf, p + 4, 2)
    else:
        return False
    if oh < 0 or om < 0 or oh > 23 or om > 59:
        return False
    out[STAMP_OFFSET] = (oh * 3600 + om * 60) * (1 if buf[p] == 43 else -1)
    out[STAMP_HAS_OFFSET] = 1
    return True


@njit_inline
def local_seconds(wall, offset, has_offset, zone_from, zone_offset):
    """Wall seconds in the rule set's zone of a parsed timestamp (a naive one is already local)."""
    if has_offset == 0:
        return wall
    utc = wall - offset
    if utc >= zone_from[-1] and offset == zone_offset[-1]:
        return wall  # after the zone's last change, in the zone's own offset: already local
    k = np.searchsorted(zone_from, utc, side="right") - 1
    return utc + zone_offset[max(k, 0)]


@njit
def _parse_days(buf, sep, out, zone_from, zone_offset):
    """out[j] = local day of the j-th `sep`-separated timestamp in `buf`; BAD_DAY if malformed."""
    stamp = np.empty(4, dtype=np.int64)
    j = 0
    start = 0
    n = buf.shape[0]
    while start <= n and j < out.shape[0]:
        stop = token_end(buf, start, sep)
        if parse_iso(buf, start, stop, stamp):
            out[j] = local_seconds(stamp[0], stamp[1], stamp[2], zone_from, zone_offset) // 86400
        else:
            out[j] = BAD_DAY
        j += 1
        start = stop + 1
    return j


# -- a zone as arrays ------------------------------------------------------------------------


@lru_cache(maxsize=16)
def zone_offsets(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(from_utc_seconds int64[k], offset_seconds int64[k]): the zone's UTC offset from each instant on.

    Found by sampling the zone daily over 1970-2100 and bisecting each change to the
    second; zones change offset a few times a year at most, never twice in a day.
    Before 1970 the 1970 offset holds: no case is that old.
    """
    zone = ZoneInfo(name)

    def offset(t: datetime) -> int:
        return int(t.astimezone(zone).utcoffset().total_seconds())

    step = timedelta(days=1)
    starts, offsets = [int(_FIRST.timestamp())], [offset(_FIRST)]
    t, current = _FIRST, offsets[0]
    while t < _LAST:
        nxt = t + step
        if offset(nxt) != current:
            lo, hi = int(t.timestamp()), int(nxt.timestamp())  # offset changes in (lo, hi]
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(datetime.fromtimestamp(mid, UTC)) == current:
                    lo = mid
                else:
                    hi = mid
            current = offset(nxt)
            starts.append(hi)
            offsets.append(current)
        t = nxt
    starts[0] = np.iinfo(np.int64).min // 2  # before 1970: the 1970 offset
    return np.asarray(starts, dtype=np.int64), np.asarray(offsets, dtype=np.int64)


def local_days(stamps: Sequence[str], zone: str) -> np.ndarray:
    """int32[n] days since 1970-01-01 in `zone` of ISO 8601 timestamps; BAD_DAY where one is malformed."""
    n = len(stamps)
    out = np.empty(n, dtype=np.int32)
    if not n:
        return out
    joined = SEP_STR.join(stamps)
    try:
        if joined.count(SEP_STR) != n - 1:
            raise ValueError
        buf = np.frombuffer(joined.encode(), dtype=np.uint8)
    except ValueError:
        return np.asarray([local_days([s], zone)[0] if SEP_STR not in s else BAD_DAY for s in stamps], np.int32)
    return local_days_joined(buf, n, zone)


def local_days_joined(buf: np.ndarray, n: int, zone: str) -> np.ndarray:
    """local_days() of n timestamps already joined by SEP into `buf` (uint8, none containing SEP)."""
    out = np.empty(n, dtype=np.int32)
    if n:
        starts, offsets = zone_offsets(zone)
        _parse_days(buf, SEP, out, starts, offsets)
    return out


class Clock:
    """Reads report times for one rule set's zone: the aware moment and its local day.

    After a zone's last offset change (for Asia/Shanghai, 1991) a moment that carries
    the zone's own offset is already local: its date is the day, with no zone lookup.
    """

    def __init__(self, zone: str):
        self.zone = ZoneInfo(zone)
        self.zone_from, self.zone_offset = zone_offsets(zone)
        starts, offsets = self.zone_from, self.zone_offset
        # the zone's offset from its last change on, and that change's instant
        self.steady_from, self.steady_offset = int(starts[-1]), int(offsets[-1])
        # from this day on (a day of margin after the last change) the offset never changes
        self._steady_day = (int(starts[-1]) // 86400) + 1 if len(starts) > 1 else -(2**31)
        self._steady = timedelta(seconds=int(offsets[-1]))
        minutes = int(offsets[-1]) // 60
        self._suffix = f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"

    def now(self) -> datetime:
        """Now in the zone, to the second: the report time of a case that gives none."""
        return datetime.now(self.zone).replace(microsecond=0)

    def now_wall(self) -> int:
        """now() as wall-clock seconds in the zone (see wall_seconds)."""
        return wall_seconds(self.now())

    def place(self, moment: datetime) -> tuple[datetime, int]:
        """(aware moment, local day number); a naive moment is local time."""
        if moment.tzinfo is None:
            return moment.replace(tzinfo=self.zone), moment.toordinal() - EPOCH_ORDINAL
        day = moment.toordinal() - EPOCH_ORDINAL
        if day >= self._steady_day and moment.utcoffset() == self._steady:
            return moment, day
        return moment, moment.astimezone(self.zone).toordinal() - EPOCH_ORDINAL

    def read_instant(self, text: str) -> tuple[datetime, int, int]:
        """read(), and the moment as UTC seconds (utc_seconds): from the wall clock when the text
        carries the zone's own offset, as callers send it, without asking the tzinfo."""
        moment = datetime.fromisoformat(text)
        if text.endswith(self._suffix):
            day = moment.toordinal() - EPOCH_ORDINAL
            if day >= self._steady_day:
                return (
                    moment,
                    day,
                    day * 86400 + moment.hour * 3600 + moment.minute * 60 + moment.second - self.steady_offset,
                )
        moment, day = self.place(moment)
        return moment, day, utc_seconds(moment)

    def read(self, text: str) -> tuple[datetime, int]:
        """Parse ISO 8601 text; ValueError when it is not a timestamp."""
        moment = datetime.fromisoformat(text)
        if text.endswith(self._suffix):  # the zone's own offset, as callers send it: no lookup at all
            day = moment.toordinal() - EPOCH_ORDINAL
            if day >= self._steady_day:
                return moment, day
        return self.place(moment)
