"""Clock: a rule set's timezone as arrays, and timestamps to local days in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from dispatch.core import kernels
from dispatch.core.codebook import SEP, SEP_STR

BAD_DAY = -(2**31)
_FIRST, _LAST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


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
    starts, offsets = zone_offsets(zone)
    joined = SEP_STR.join(stamps)
    try:
        if joined.count(SEP_STR) != n - 1:
            raise ValueError
        buf = np.frombuffer(joined.encode(), dtype=np.uint8)
    except ValueError:
        return np.asarray([local_days([s], zone)[0] if SEP_STR not in s else BAD_DAY for s in stamps], np.int32)
    kernels.parse_days(buf, SEP, out, starts, offsets)
    return out


def local_days_joined(buf: np.ndarray, n: int, zone: str) -> np.ndarray:
    """local_days() of n timestamps already joined by SEP into `buf` (uint8, none containing SEP)."""
    out = np.empty(n, dtype=np.int32)
    if n:
        starts, offsets = zone_offsets(zone)
        kernels.parse_days(buf, SEP, out, starts, offsets)
    return out


EPOCH_ORDINAL = datetime(1970, 1, 1).toordinal()


class Clock:
    """Reads report times for one rule set's zone: the aware moment and its local day.

    After a zone's last offset change (for Asia/Shanghai, 1991) a moment that carries
    the zone's own offset is already local: its date is the day, with no zone lookup.
    """

    def __init__(self, zone: str):
        self.zone = ZoneInfo(zone)
        starts, offsets = zone_offsets(zone)
        # from this day on (a day of margin after the last change) the offset never changes
        self._steady_day = (int(starts[-1]) // 86400) + 1 if len(starts) > 1 else -(2**31)
        self._steady = timedelta(seconds=int(offsets[-1]))
        minutes = int(offsets[-1]) // 60
        self._suffix = f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"

    def place(self, moment: datetime) -> tuple[datetime, int]:
        """(aware moment, local day number); a naive moment is local time."""
        if moment.tzinfo is None:
            return moment.replace(tzinfo=self.zone), moment.toordinal() - EPOCH_ORDINAL
        day = moment.toordinal() - EPOCH_ORDINAL
        if day >= self._steady_day and moment.utcoffset() == self._steady:
            return moment, day
        return moment, moment.astimezone(self.zone).toordinal() - EPOCH_ORDINAL

    def read(self, text: str) -> tuple[datetime, int]:
        """Parse ISO 8601 text; ValueError when it is not a timestamp."""
        moment = datetime.fromisoformat(text)
        if text.endswith(self._suffix):  # the zone's own offset, as callers send it: no lookup at all
            day = moment.toordinal() - EPOCH_ORDINAL
            if day >= self._steady_day:
                return moment, day
        return self.place(moment)
