"""Decision: what a caller stores for audit, built from a case and its winning rule (or none)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import NamedTuple

from dispatch.core.case import Case, aware
from dispatch.core.errors import CaseError
from dispatch.core.model import LOCAL, Rule, RuleSet
from dispatch.core.worktime import Deadline


class Status(str, Enum):
    AUTO = "auto"  # a rule decided
    PROVISIONAL = "provisional"  # urgent, no rule: the local government acts first (先行处置)
    MANUAL = "manual"  # a seat operator dispatches by hand


class Unit(NamedTuple):
    code: str
    name: str


class RuleRef(NamedTuple):
    id: str
    path: str
    line: int
    basis: str


def rule_file(path: str, root: str) -> str:
    """A rule's file relative to its rule set: the same wherever the service runs (a container, a checkout).

    `path` is the rule's place as loaded from `root` (the directory as given to load_ruleset).
    """
    prefix = root.rstrip("/") + "/"
    return path.removeprefix(prefix)


class Decision(NamedTuple):
    """Everything a caller stores for audit.

    A NamedTuple whose fields that depend only on (rule, item, local government) come
    first and those of the one case last: the one-case path concatenates a cached head
    with (case_id, due, area_path) in a fraction of a microsecond (Dispatcher.dispatch).
    """

    status: Status
    department: Unit | None
    co_handlers: tuple[Unit, ...]
    command_system: str | None
    deadline: Deadline | None
    deadline_origin: str | None  # "rule" (an override) or "item" (the handling standard)
    deadline_class: str | None  # the area class whose value of the item's deadline applies
    rule: RuleRef | None
    difficult: bool  # enters the difficult-case process (疑难案件)
    ruleset: str
    reason: str
    case_id: str
    due: datetime | None  # whole seconds, in the rule set's offset at that instant
    provisional: bool  # the due time assumes the plain workweek in a year the calendar does not list
    area_path: tuple[str, ...]  # root first, the case's own area last


CASE_FIELDS = 4  # the last four fields of a Decision belong to the case, the rest to its outcome

# (report time, deadline) -> (due time, provisional): how a matcher works out due times
DueOf = Callable[[datetime, Deadline], tuple[datetime, bool]]


def too_late(moment: datetime) -> CaseError:
    """The error of a report whose due time falls past the year 9999."""
    return CaseError(
        "request.bad_time",
        "reported_at",
        moment.isoformat(),
        "reported_at is so near the year 1 or 9999 that its due time falls outside the years 0001-9999",
    )


def _unit(ruleset: RuleSet, code: str, area: str) -> Unit | None:
    if code == LOCAL:
        resolved = ruleset.local_department(area)
        if resolved is None:
            return None
        code = resolved
    return Unit(code, ruleset.departments[code].name)


def decide(ruleset: RuleSet, case: Case, rule: Rule | None, due_of: DueOf | None = None) -> Decision:
    """The decision for `case` when `rule` won (None: no rule matched); its due time from
    `due_of` (None: no due time, for a caller that keeps only the outcome).

    Both matchers, the reference and the compiled one, end here, so they can differ
    only in which rule they pick and in how they count working time.
    """
    area_path = tuple(a.code for a in ruleset.areas.path(case.area))[::-1]
    urgent = ruleset.item_urgent(case.event)
    department: Unit | None = None
    co_handlers: tuple[Unit, ...] = ()
    deadline, origin, klass = ruleset.deadline_for(case.event, case.area, rule)
    difficult = False
    if rule is not None:
        department = _unit(ruleset, rule.department, case.area)
        if department is None:
            status, reason = Status.MANUAL, f"rule {rule.id} names {LOCAL}, but no department governs the case's area"
        else:
            status, reason = Status.AUTO, f"rule {rule.id}"
            co_handlers = tuple(u for u in (_unit(ruleset, c, case.area) for c in rule.co_handlers) if u is not None)
    elif urgent:
        department = _unit(ruleset, LOCAL, case.area)
        difficult = True
        if department is None:
            status, reason = Status.MANUAL, "no rule matches this urgent item and no department governs the case's area"
        else:
            status, reason = Status.PROVISIONAL, "no rule matches this urgent item: the local government acts first"
    else:
        status, reason = Status.MANUAL, "no rule matches: to the seat operators"
    if status is Status.MANUAL:
        department, co_handlers = None, ()
    due, provisional = None, False
    if deadline is not None and status is not Status.MANUAL and due_of is not None:
        due, provisional = due_of(aware(ruleset, case.reported_at), deadline)
    return Decision(
        case_id=case.id,
        status=status,
        department=department,
        co_handlers=co_handlers,
        command_system=ruleset.item_command_system(case.event),
        deadline=deadline,
        deadline_origin=origin,
        deadline_class=klass,
        due=due,
        provisional=provisional,
        rule=RuleRef(rule.id, rule.place.path, rule.place.line, rule.basis) if rule is not None else None,
        difficult=difficult,
        area_path=area_path,
        ruleset=ruleset.version,
        reason=reason,
    )
