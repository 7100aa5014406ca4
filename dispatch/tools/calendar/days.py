"""The days of a country's calendar that differ from its plain workweek, from a library that keeps them.

China: chinese-calendar, which follows the State Council's yearly notice (国务院办公厅关于
部分节假日安排的通知): holidays, and the weekend days worked instead (调休补班), named in
Chinese. Other countries: python-holidays (public holidays only; no make-up days).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

# chinese-calendar names holidays in English; the days file names them as the notice does
CHINESE_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


class CalendarUnknown(ValueError):
    """A country or a year the library does not know: the message says which, and why."""


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    kind: str  # "holiday" or "workday"
    name: str


def china(first: int, last: int) -> list[Day]:
    from chinese_calendar import constants

    known = sorted({d.year for d in constants.holidays})
    lo, hi = known[0], known[-1]
    missing = [y for y in range(first, last + 1) if not lo <= y <= hi]
    if missing:
        raise CalendarUnknown(
            f"chinese-calendar knows the years {lo}-{hi}, not {', '.join(map(str, missing))}: the State Council "
            "publishes a year's holidays in the autumn before; upgrade chinese-calendar once it has them"
        )
    days = [
        Day(d, "holiday", CHINESE_NAMES.get(str(n), str(n)))
        for d, n in constants.holidays.items()
        if first <= d.year <= last
    ]
    days += [
        Day(d, "workday", f"{CHINESE_NAMES.get(str(n), str(n))}调休上班")
        for d, n in constants.workdays.items()
        if first <= d.year <= last
    ]
    return sorted(days, key=lambda x: x.day)


def other(country: str, first: int, last: int) -> list[Day]:
    import holidays

    try:
        found = holidays.country_holidays(country, years=range(first, last + 1))
    except NotImplementedError:
        raise CalendarUnknown(f"python-holidays does not know the country {country!r} (ISO 3166-1 alpha-2)") from None
    days = [Day(d, "holiday", name) for d, name in sorted(found.items())]
    empty = sorted({*range(first, last + 1)} - {d.day.year for d in days})
    if empty:  # a year before a country's holidays were law, or one the library's rules do not reach
        raise CalendarUnknown(f"python-holidays lists no holiday of {country} in {', '.join(map(str, empty))}")
    return days


def calendar_days(country: str, first: int, last: int) -> list[Day]:
    """The listed days of `country` (ISO 3166-1 alpha-2) from year `first` to `last`; CalendarUnknown when
    the library does not know the country or a year."""
    if first > last:
        raise CalendarUnknown(f"years {first}-{last}: the first year is after the last")
    if country.upper() == "CN":
        return china(first, last)
    return other(country.upper(), first, last)


def days_csv(days: list[Day]) -> str:
    """The days file: date,kind,name (what ruleset.toml's [calendar] days names)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("date", "kind", "name"))
    writer.writerows((d.day.isoformat(), d.kind, d.name) for d in days)
    return out.getvalue()
