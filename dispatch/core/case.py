"""Case: what a calling system reports, checked against a rule set's codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from dispatch.core.errors import CaseError
from dispatch.core.hints import restored_code
from dispatch.core.model import RuleSet


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


def read_reported_at(ruleset: RuleSet, text: str | None) -> datetime:
    """An ISO 8601 report time (a date alone is its midnight); None: now, in the rule set's zone.

    Raises CaseError request.bad_time naming the text: the same code the service answers.
    """
    if text is None:
        return datetime.now(ZoneInfo(ruleset.manifest.timezone)).replace(microsecond=0)
    try:
        return datetime.fromisoformat(text)
    except (ValueError, TypeError):
        raise CaseError(
            "request.bad_time", "reported_at", text, f"reported_at {text!r} is not an ISO 8601 timestamp"
        ) from None


CASE_FIELDS = ("id", "event", "area", "source", "reported_at")


def case_from_mapping(ruleset: RuleSet, doc: object, default_id: str = "case") -> Case:
    """A Case from a JSON object {id?, event, area, source, reported_at?} (a CLI argument, a file).

    Raises CaseError request.invalid naming the first missing or mistyped field, and
    request.bad_time for a report time that is not ISO 8601; codes are not checked here.
    """
    if not isinstance(doc, dict):
        raise CaseError("request.invalid", "", None, "a case must be a JSON object")
    for name in CASE_FIELDS:
        value = doc.get(name)
        required = name in ("event", "area", "source")
        if (value is None and required) or (value is not None and not isinstance(value, str)):
            raise CaseError(
                "request.invalid", name, value, f"{name} must be a string" + (" (required)" if required else "")
            )
    moment = read_reported_at(ruleset, doc.get("reported_at"))
    return Case(doc.get("id") or default_id, doc["event"], doc["area"], doc["source"], moment)


def _zeros(code: str, known) -> str:
    """' (did you mean '01001'?)' for a code that lost its leading zeros on the way: a few lookups, on errors only."""
    restored = restored_code(code, known)
    return f" (did you mean {restored!r}? it lost its leading zeros)" if restored else ""


def check_case(ruleset: RuleSet, case: Case) -> None:
    """Raise CaseError naming the first field whose code the rule set does not know."""
    if case.event not in ruleset.events:
        raise CaseError(
            "request.unknown_event",
            "event",
            case.event,
            f"unknown event code {case.event!r}{_zeros(case.event, ruleset.events)}",
        )
    if not ruleset.events.is_leaf(case.event):
        raise CaseError(
            "request.not_an_item",
            "event",
            case.event,
            f"event {case.event!r} is a category, not a work item: send the item code",
        )
    if case.area not in ruleset.areas:
        raise CaseError(
            "request.unknown_area",
            "area",
            case.area,
            f"unknown area code {case.area!r}{_zeros(case.area, ruleset.areas)}",
        )
    if case.source not in ruleset.manifest.sources:
        raise CaseError(
            "request.unknown_source",
            "source",
            case.source,
            f"unknown source {case.source!r} (known: {', '.join(ruleset.manifest.sources)})",
        )
