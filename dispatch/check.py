"""`dispatch check` as a plain function: the start-up path run on a rule set, and its report."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dispatch.errors import Diagnostic, Severity
from dispatch.load import read_ruleset
from dispatch.model import RuleSet


@dataclass(frozen=True, slots=True)
class CheckReport:
    root: str
    diagnostics: list[Diagnostic]
    ruleset: RuleSet | None
    seconds: float
    counts: dict[str, object] = field(default_factory=dict)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]

    def passed(self, strict: bool = False) -> bool:
        return not self.errors and not (strict and self.warnings)


def ruleset_counts(ruleset: RuleSet) -> dict[str, object]:
    """What a maintainer wants to see at a glance: how big each part of the rule set is."""
    depth_names = {1: "categories", 2: "subcategories"}
    events = Counter(
        "items" if ruleset.events.is_leaf(c) else depth_names.get(ruleset.events.depth(c), f"level{ruleset.events.depth(c)}")
        for c in ruleset.events.order
    )
    areas = Counter(a.level for a in ruleset.areas)
    grid_types = Counter(a.grid_type for a in ruleset.areas if a.grid_type)
    rules = ruleset.rules
    return {
        "rules": len(rules),
        "rule_files": len({r.place.path for r in rules}),
        "events": dict(events),
        "areas": dict(areas),
        "grid_types": dict(sorted(grid_types.items())),
        "departments": len(ruleset.departments),
        "local_governments": len(ruleset.governors),
        "sources": list(ruleset.manifest.sources),
        "rule_kinds": {
            "local": sum(r.department == "@local" for r in rules),
            "windowed": sum(r.has_window for r in rules),
            "source_specific": sum(r.source is not None for r in rules),
            "grid_type_specific": sum(r.grid_type is not None for r in rules),
            "with_priority": sum(r.priority != 0 for r in rules),
            "with_co_handlers": sum(bool(r.co_handlers) for r in rules),
            "deadline_overrides": sum(r.deadline_hours is not None for r in rules),
        },
    }


def check_ruleset(root: str | Path) -> CheckReport:
    """Load and validate `root` exactly as the service does at start; report everything."""
    started = time.perf_counter()
    ruleset, diagnostics = read_ruleset(root)
    counts = ruleset_counts(ruleset) if ruleset is not None else {}
    return CheckReport(str(root), diagnostics, ruleset, time.perf_counter() - started, counts)


# -- renderings ---------------------------------------------------------------------


def render_text(report: CheckReport) -> str:
    lines = [str(d) for d in report.diagnostics]
    if lines:
        lines.append("")
    if report.ruleset is not None:
        c = report.counts
        rs = report.ruleset
        lines.append(f"rule set {rs.manifest.name!r} ({report.root}) version {rs.version}")
        lines.append(f"  rules        {c['rules']} in {c['rule_files']} files")
        lines.append("  kinds        " + ", ".join(f"{k} {v}" for k, v in c["rule_kinds"].items()))
        lines.append("  taxonomy     " + ", ".join(f"{v} {k}" for k, v in c["events"].items()))
        lines.append("  areas        " + ", ".join(f"{v} {k}" for k, v in c["areas"].items()))
        lines.append("  grid types   " + ", ".join(f"{v} {k}" for k, v in c["grid_types"].items()))
        lines.append(f"  departments  {c['departments']} ({c['local_governments']} local governments)")
        lines.append(f"  sources      {', '.join(c['sources'])}")
    lines.append(summary_line(report))
    return "\n".join(lines)


def summary_line(report: CheckReport) -> str:
    verdict = "FAILED" if report.errors else "ok"
    summary = f"{verdict}: {len(report.errors)} error(s), {len(report.warnings)} warning(s)"
    by_code = Counter(d.code for d in report.diagnostics)
    if by_code:
        summary += " [" + ", ".join(f"{code} {n}" for code, n in sorted(by_code.items())) + "]"
    return f"{summary} in {report.seconds:.2f} s"


def render_json(report: CheckReport) -> str:
    doc = {
        "root": report.root,
        "ok": not report.errors,
        "version": report.ruleset.version if report.ruleset else None,
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "seconds": round(report.seconds, 4),
        "counts": report.counts,
        "diagnostics": [
            {
                "code": d.code,
                "severity": d.severity.value,
                "message": d.message,
                "path": d.place.path,
                "line": d.place.line,
                "col": d.place.col,
            }
            for d in report.diagnostics
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)


def _escape(value: str, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def render_github(report: CheckReport) -> str:
    """GitHub Actions workflow commands: one annotation per diagnostic, then the summary."""
    lines = []
    for d in report.diagnostics:
        props = [f"file={_escape(d.place.path, True)}"]
        if d.place.line:
            props.append(f"line={d.place.line}")
        if d.place.col:
            props.append(f"col={d.place.col}")
        props.append(f"title={_escape(d.code, True)}")
        lines.append(f"::{d.severity.value} {','.join(props)}::{_escape(d.message)}")
    lines.append(summary_line(report))
    return "\n".join(lines)

