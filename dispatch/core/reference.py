"""The plain matcher that states the semantics; every fast path is tested against it.

It scans every rule for every case. Slow on purpose: it has to be obviously right.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from dispatch.core.case import Case, check_case, local_day
from dispatch.core.decision import Decision, decide, too_late
from dispatch.core.model import ANY, Rule, RuleSet
from dispatch.core.worktime import Calendar, Deadline


def rule_matches(ruleset: RuleSet, rule: Rule, case: Case) -> bool:
    """True when every selector of `rule` matches `case` (DESIGN.md, rule semantics)."""
    if rule.event != ANY and not ruleset.events.covers(rule.event, case.event):
        return False
    if rule.area != ANY and not ruleset.areas.covers(rule.area, case.area):
        return False
    if rule.grid_type is not None and rule.grid_type != ruleset.grid_type_of(case.area):
        return False
    if rule.source is not None and rule.source != case.source:
        return False
    return rule.active_on(local_day(ruleset, case.reported_at))


def rank_key(ruleset: RuleSet, rule: Rule) -> tuple:
    """Higher wins: the precedence key, then (for tied duplicates) the smaller rule id."""
    return (ruleset.precedence(rule), _Reversed(rule.id))


def matching_rules(ruleset: RuleSet, case: Case) -> list[Rule]:
    """Every rule that matches `case`, the winner first."""
    found = [r for r in candidate_rules(ruleset, case.event) if rule_matches(ruleset, r, case)]
    return sorted(found, key=lambda r: rank_key(ruleset, r), reverse=True)


def candidate_rules(ruleset: RuleSet, event: str) -> list[Rule]:
    """The rules whose event selector is `*` or on the item's path: the only ones that can match.

    A partition of the rules by event code, so that checking 100,000 cases against
    8,000 rules takes seconds; rule_matches still checks every selector.
    """
    table = _BY_EVENT.get(ruleset)
    if table is None:
        table = _BY_EVENT[ruleset] = {}
        for rule in ruleset.rules:
            table.setdefault(rule.event, []).append(rule)
    found = list(table.get(ANY, ()))
    for node in ruleset.events.path(event):
        found.extend(table.get(node.code, ()))
    return found


_BY_EVENT: WeakKeyDictionary[RuleSet, dict[str, list[Rule]]] = WeakKeyDictionary()


def winning_rule(ruleset: RuleSet, case: Case) -> Rule | None:
    found = matching_rules(ruleset, case)
    return found[0] if found else None


def dispatch_case(ruleset: RuleSet, case: Case) -> Decision:
    """The decision for one case; raises CaseError for a code the rule set does not know."""
    check_case(ruleset, case)
    return decide(ruleset, case, winning_rule(ruleset, case), lambda moment, d: due_by_walking(ruleset, moment, d)[:2])


# -- due times, day by day ---------------------------------------------------------------------


class WalkedDue(NamedTuple):
    due: datetime  # in the rule set's zone, whole seconds
    provisional: bool
    skipped: tuple[
        tuple[date, str], ...
    ]  # dates not worked, from the report's to the due date: "weekend" or a holiday's name
    made_up: tuple[tuple[date, str], ...]  # make-up workdays (a listed workday outside the workweek) among them


def due_by_walking(ruleset: RuleSet, reported: datetime, deadline: Deadline) -> WalkedDue:
    """The due time of a case reported at `reported` (naive: the rule set's zone) under
    `deadline`, walking the calendar a day at a time (DESIGN.md's semantics, as plainly as
    they can be written); the fast path (worktime.WorkTime) is held equal to it.

    Raises CaseError when the due time falls past the year 9999.
    """
    zone = ZoneInfo(ruleset.manifest.timezone)
    moment = (reported if reported.tzinfo is not None else reported.replace(tzinfo=zone)).replace(microsecond=0)
    try:
        r = moment.astimezone(UTC)
        if deadline.unit == "h":
            return WalkedDue((r + timedelta(seconds=deadline.amount)).astimezone(zone), False, (), ())
        calendar = ruleset.manifest.calendar
        first = r.astimezone(zone).date()
        if deadline.unit == "wh":
            due = _walk_hours(calendar, zone, r, deadline.amount).astimezone(zone)
        else:
            due = _walk_days(calendar, zone, first, deadline.amount).astimezone(zone)
    except (OverflowError, ValueError):
        raise too_late(moment) from None
    last = due.date()
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    skipped = tuple((d, calendar.why_not_working(d)) for d in days if not calendar.working(d))
    made_up = tuple(
        (d, calendar.days[d][1]) for d in days if calendar.working(d) and d.isoweekday() not in calendar.workweek
    )
    listed = calendar.listed_years
    provisional = bool(calendar.days_file) and any(y not in listed for y in range(first.year, last.year + 1))
    return WalkedDue(due, provisional, skipped, made_up)


def _at(day: date, seconds: int, zone: ZoneInfo) -> datetime:
    """Local wall time `seconds` after the midnight of `day`, as UTC (a time in a DST gap or fold: fold=0)."""
    return (datetime.combine(day, time()) + timedelta(seconds=seconds)).replace(tzinfo=zone).astimezone(UTC)


def _walk_hours(calendar: Calendar, zone: ZoneInfo, r: datetime, seconds: int) -> datetime:
    """The earliest instant t >= r with `seconds` of working time in [r, t]."""
    remaining = timedelta(seconds=seconds)
    day = r.astimezone(zone).date()
    day = day - timedelta(days=1) if day > date.min else day  # a day early: the union needs the interval before
    last_end: datetime | None = None
    while True:
        if calendar.working(day):
            for a, b in calendar.work_hours:
                start, end = _at(day, a, zone), _at(day, b, zone)
                if last_end is not None:  # working time is the union: no span counts twice (DST)
                    start, end = max(start, last_end), max(end, last_end)
                last_end = end
                lo = max(start, r)
                if end > lo:
                    if end - lo >= remaining:
                        return lo + remaining
                    remaining -= end - lo
        day += timedelta(days=1)


def _walk_days(calendar: Calendar, zone: ZoneInfo, first: date, n: int) -> datetime:
    """The end of the last work_hours span of the n-th working date after `first`."""
    day, count = first, 0
    while count < n:
        day += timedelta(days=1)
        count += calendar.working(day)
    return _at(day, calendar.work_hours[-1][1], zone)


class _Reversed:
    """Orders strings backwards, so that in a max() the smaller id wins a tie."""

    __slots__ = ("value",)

    def __init__(self, value: str):
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return self.value > other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.value == other.value
