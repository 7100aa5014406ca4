"""Decision: what a caller stores for audit, built from a case and its winning rule (or none)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import NamedTuple

from dispatch.core.case import Case, aware
from dispatch.core.errors import CaseError
from dispatch.core.model import LOCAL, Rule, RuleSet


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
    deadline_hours: float | None
    deadline_origin: str | None  # "rule" (an override) or "item" (the handling standard)
    rule: RuleRef | None
    difficult: bool  # enters the difficult-case process (疑难案件)
    ruleset: str
    reason: str
    case_id: str
    due: datetime | None
    area_path: tuple[str, ...]  # root first, the case's own area last


CASE_FIELDS = 3  # the last three fields of a Decision belong to the case, the rest to its outcome


def due_time(moment: datetime, delta: timedelta) -> datetime:
    """moment + delta; a CaseError, not an OverflowError, when that passes the year 9999."""
    try:
        return moment + delta
    except OverflowError:
        raise CaseError(
            "request.bad_time",
            "reported_at",
            moment.isoformat(),
            "reported_at is so late that the due time falls past the year 9999",
        ) from None


def _unit(ruleset: RuleSet, code: str, area: str) -> Unit | None:
    if code == LOCAL:
        resolved = ruleset.local_department(area)
        if resolved is None:
            return None
        code = resolved
    return Unit(code, ruleset.departments[code].name)


def decide(ruleset: RuleSet, case: Case, rule: Rule | None) -> Decision:
    """The decision for `case` when `rule` won (None: no rule matched).

    Both matchers, the reference and the compiled one, end here, so they can differ
    only in which rule they pick.
    """
    area_path = tuple(a.code for a in ruleset.areas.path(case.area))[::-1]
    item_deadline = ruleset.item_deadline(case.event)
    urgent = ruleset.item_urgent(case.event)
    department: Unit | None = None
    co_handlers: tuple[Unit, ...] = ()
    deadline, origin = item_deadline, "item"
    difficult = False
    if rule is not None:
        department = _unit(ruleset, rule.department, case.area)
        if department is None:
            status, reason = Status.MANUAL, f"rule {rule.id} names {LOCAL}, but no department governs the case's area"
        else:
            status, reason = Status.AUTO, f"rule {rule.id}"
            co_handlers = tuple(u for u in (_unit(ruleset, c, case.area) for c in rule.co_handlers) if u is not None)
            if rule.deadline_hours is not None:
                deadline, origin = rule.deadline_hours, "rule"
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
    due = None
    if deadline is not None and status is not Status.MANUAL:
        due = due_time(aware(ruleset, case.reported_at), timedelta(hours=deadline))
    return Decision(
        case_id=case.id,
        status=status,
        department=department,
        co_handlers=co_handlers,
        command_system=ruleset.item_command_system(case.event),
        deadline_hours=deadline,
        deadline_origin=origin if deadline is not None else None,
        due=due,
        rule=RuleRef(rule.id, rule.place.path, rule.place.line, rule.basis) if rule is not None else None,
        difficult=difficult,
        area_path=area_path,
        ruleset=ruleset.version,
        reason=reason,
    )
