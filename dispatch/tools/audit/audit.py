"""Audit: decisions found in decision-log files (dispatch/api/decisionlog.py's lines), and re-run through the core."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dispatch.core.case import Case
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.errors import CaseError


class AuditError(Exception):
    """A log that cannot be read: names the file and line."""


@dataclass(frozen=True, slots=True)
class Logged:
    """One line of a decision log, and where it was."""

    place: str  # file:line
    line: dict


@dataclass(frozen=True, slots=True)
class Rerun:
    """A logged decision re-run on a rule set: what it says now, and how that differs."""

    logged: Logged
    version: str  # the rule set re-run on
    now: dict  # status, department, co_handlers, rule, due; or error
    differences: list[str] = field(default_factory=list)


def find_decisions(logs: list[Path], case_id: str) -> Iterator[Logged]:
    """Every logged decision whose case id (or decision id) is `case_id`, in log order."""
    needle = json.dumps(case_id)
    for path in logs:
        try:
            with open(path, encoding="utf-8") as f:
                for number, text in enumerate(f, 1):
                    if needle not in text:  # a cheap look before parsing the line
                        continue
                    try:
                        line = json.loads(text)
                    except json.JSONDecodeError as err:
                        raise AuditError(f"{path}:{number}: not a JSON line ({err.msg})") from None
                    case = line.get("case") if isinstance(line.get("case"), dict) else {}
                    if case.get("id") == case_id or line.get("decision_id") == case_id:
                        yield Logged(f"{path}:{number}", line)
        except OSError as err:
            raise AuditError(f"{path}: {err.strerror or err}") from None


def summary(answer: dict) -> dict:
    """What an answer decided, comparably: status, department, co-handlers, rule, due time; or its error code."""
    if "error" in answer:
        return {"error": (answer.get("error") or {}).get("code")}
    return {
        "status": answer.get("status"),
        "department": (answer.get("department") or {}).get("code"),
        "co_handlers": [u.get("code") for u in answer.get("co_handlers") or []],
        "rule": (answer.get("rule") or {}).get("id"),
        "due": (answer.get("deadline") or {}).get("due"),
    }


def rerun(logged: Logged, dispatcher: Dispatcher) -> Rerun:
    """The logged case dispatched by `dispatcher`, compared with what was answered then.

    A case logged without reported_at was read as "now" when it came: the line's time."""
    case = logged.line.get("case") or {}
    then = summary(logged.line.get("answer") or {})
    try:
        stamp = case.get("reported_at") or logged.line.get("time")
        moment = datetime.fromisoformat(stamp)
        decision = dispatcher.dispatch(Case(case.get("id", ""), case["event"], case["area"], case["source"], moment))
    except CaseError as err:
        now = {"error": err.code}
    except (KeyError, TypeError, ValueError):
        now = {"error": "request.invalid"}
    else:
        now = {
            "status": decision.status.value,
            "department": decision.department.code if decision.department else None,
            "co_handlers": [u.code for u in decision.co_handlers],
            "rule": decision.rule.id if decision.rule else None,
            "due": _iso(decision.due),
        }
    differences = [f"{k}: {then.get(k)!r} then, {now.get(k)!r} now" for k in sorted(then.keys() | now.keys())
                   if then.get(k) != now.get(k)]  # fmt: skip
    return Rerun(logged, dispatcher.ruleset.version, now, differences)


def _iso(moment: datetime | None) -> str | None:
    """A due time as the service writes it (RFC 3339, seconds, the offset in minutes)."""
    return moment.isoformat() if moment is not None else None
