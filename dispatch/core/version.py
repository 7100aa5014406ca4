"""The rule-set version: a hash of the canonical content, blind to file layout, row order and line ends."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from dispatch.core.model import ParsedRuleSet

VERSION_CHARS = 16


def _number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


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
                _number(e.deadline_hours),
                str(e.urgent),
                e.command_system or "",
                e.opening_criteria,
                e.closing_criteria,
            ]
            for e in parsed.events
        ),
        "areas": ([a.code, a.name, a.parent or "", a.level, a.grid_type or "", a.region or ""] for a in parsed.areas),
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
                _number(r.deadline_hours),
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
    return rows


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
