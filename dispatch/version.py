"""The rule-set version: a hash of the canonical content, blind to file layout, row order and line ends."""

from __future__ import annotations

import hashlib
import json

from dispatch.model import ParsedRuleSet

VERSION_CHARS = 16


def _number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def canonical_content(parsed: ParsedRuleSet) -> bytes:
    """Everything that can change a decision, as sorted rows of strings.

    Left out on purpose: file names and places, row order, a rule's `note` (a comment),
    the manifest's file layout. Two rule sets with the same canonical content answer
    every case alike, so they share a version.
    """
    m = parsed.manifest
    content = {
        "manifest": [m.name, m.timezone, sorted(m.sources), sorted(m.command_systems.items())],
        "events": sorted(
            [e.code, e.name, e.parent or "", _number(e.deadline_hours), str(e.urgent), e.command_system or "",
             e.opening_criteria, e.closing_criteria]
            for e in parsed.events
        ),
        "areas": sorted(
            [a.code, a.name, a.parent or "", a.level, a.grid_type or "", a.region or ""] for a in parsed.areas
        ),
        "departments": sorted(
            [d.code, d.name, d.command_system or "", d.governs or ""] for d in parsed.departments
        ),
        "rules": sorted(
            [r.id, r.event, r.area, r.grid_type or "", r.source or "", r.department, list(r.co_handlers),
             _number(r.deadline_hours), str(r.valid_from or ""), str(r.valid_to or ""), str(r.priority), r.basis]
            for r in parsed.rules
        ),
    }  # fmt: skip
    return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


def ruleset_version(parsed: ParsedRuleSet) -> str:
    return hashlib.sha256(canonical_content(parsed)).hexdigest()[:VERSION_CHARS]
