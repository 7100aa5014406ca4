"""Case: what a calling system reports, checked against a rule set's codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from dispatch.errors import CaseError
from dispatch.model import RuleSet


@dataclass(frozen=True, slots=True)
class Case:
    """One case to dispatch. `reported_at` is aware; naive times are read in the rule set's zone."""

    id: str
    event: str
    area: str
    source: str
    reported_at: datetime


def local_day(ruleset: RuleSet, moment: datetime) -> date:
    """The calendar day of `moment` in the rule set's timezone: what date windows compare against."""
    zone = ZoneInfo(ruleset.manifest.timezone)
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(zone).date()


def aware(ruleset: RuleSet, moment: datetime) -> datetime:
    """`moment` with the rule set's zone attached when it has none."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=ZoneInfo(ruleset.manifest.timezone))
    return moment


def check_case(ruleset: RuleSet, case: Case) -> None:
    """Raise CaseError naming the first field whose code the rule set does not know."""
    if case.event not in ruleset.events:
        raise CaseError("request.unknown_event", "event", case.event, f"unknown event code {case.event!r}")
    if not ruleset.events.is_leaf(case.event):
        raise CaseError(
            "request.not_an_item", "event", case.event,
            f"event {case.event!r} is a category, not a work item: send the item code",
        )  # fmt: skip
    if case.area not in ruleset.areas:
        raise CaseError("request.unknown_area", "area", case.area, f"unknown area code {case.area!r}")
    if case.source not in ruleset.manifest.sources:
        raise CaseError(
            "request.unknown_source", "source", case.source,
            f"unknown source {case.source!r} (known: {', '.join(ruleset.manifest.sources)})",
        )  # fmt: skip
