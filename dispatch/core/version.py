"""The rule-set version: a hash of the canonical content, blind to file layout, row order and line ends."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from dispatch.core.model import ParsedRuleSet
from dispatch.core.worktime import Calendar, ClassDeadlines, Deadline, deadline_text

VERSION_CHARS = 16


def _deadline(spec: Deadline | ClassDeadlines | None) -> str:
    """A deadline as hashed: hours as a float (what the old deadline_hours hashed to: versions
    of rule sets in natural hours stay as they were), other values as written canonically."""
    if isinstance(spec, Deadline) and spec.unit == "h":
        return repr(spec.hundredths / 100)
    return deadline_text(spec)


def _rows(parsed: ParsedRuleSet) -> dict[str, Iterable[list]]:
    """Everything that can change a decision, as rows of strings, section by section.

    Left out on purpose: file names and places, row order, a rule's `note` (a comment),
    the manifest's file layout. Two rule sets with the same rows answer every case
    alike, so they share a version.
    """
    m = parsed.manifest
    rows = {
        "manifest": [[m.name, m.timezone, sorted(m.sources), sorted(m.command_systems.items())]],
        "events": (
            [
                e.code,
                e.name,
                e.parent or "",
                _deadline(e.deadline),
                str(e.urgent),
                e.command_system or "",
                e.opening_criteria,
                e.closing_criteria,
            ]
            for e in parsed.events
        ),
        # a class is hashed only when given: versions of rule sets without classes stay as they were
        "areas": (
            [a.code, a.name, a.parent or "", a.level, a.grid_type or "", a.region or ""]
            + ([a.area_class] if a.area_class else [])
            for a in parsed.areas
        ),
        "departments": ([d.code, d.name, d.command_system or "", d.governs or ""] for d in parsed.departments),
        "rules": (
            [
                r.id,
                r.event,
                r.area,
                r.grid_type or "",
                r.source or "",
                r.department,
                list(r.co_handlers),
                _deadline(r.deadline),
                str(r.valid_from or ""),
                str(r.valid_to or ""),
                str(r.priority),
                r.basis,
            ]
            for r in parsed.rules
        ),
    }
    if parsed.gridmap is not None:  # only then: a set without a map keeps the version it had
        rows["gridmap"] = parsed.gridmap.canonical_rows()
    return rows | _calendar_rows(m.calendar)


def _calendar_rows(calendar: Calendar | None) -> dict[str, Iterable[list]]:
    """The calendar's section, only when there is one (versions of rule sets without stay as they were)."""
    if calendar is None:
        return {}
    head = [["workweek", list(calendar.workweek)], ["work_hours", [list(h) for h in calendar.work_hours]]]
    return {"calendar": head + [[str(day), kind, name] for day, (kind, name) in calendar.days.items()]}


def ruleset_version(parsed: ParsedRuleSet) -> str:
    """sha256 over each section's sorted row digests: blind to row order, and a row at a time
    in memory, so that 880,000 rules need no copy of the whole set as one text."""
    total = hashlib.sha256()
    for section, rows in _rows(parsed).items():
        digests = sorted(
            hashlib.sha256(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()).digest() for row in rows
        )
        total.update(f"{section}:{len(digests)}:".encode())
        total.update(b"".join(digests))
    return total.hexdigest()[:VERSION_CHARS]
