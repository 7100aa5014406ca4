"""`dispatch check` as a plain function: the start-up path run on a rule set, and its report."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from dispatch.analyze import cell_coverage, shadow_example, shadowed_rules, volume_coverage
from dispatch.dispatcher import Dispatcher
from dispatch.errors import Diagnostic, HistoryError, Severity, sorted_diagnostics
from dispatch.history import read_history
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


def check_ruleset(root: str | Path, cases: str | Path | None = None, at: date | None = None) -> CheckReport:
    """Load, validate and compile `root` exactly as the service does at start; report everything.

    With a valid rule set it adds the compiled view: shadowed rules (warnings), the share
    of item x basic grid x source cells that dispatch automatically on day `at` (default
    today in the rule set's zone), and, given a case history, the share of case volume.
    """
    started = time.perf_counter()
    ruleset, diagnostics = read_ruleset(root)
    if ruleset is None:
        return CheckReport(str(root), diagnostics, None, time.perf_counter() - started)
    counts = ruleset_counts(ruleset)
    compiled = time.perf_counter()
    dispatcher = Dispatcher(ruleset)
    counts["compile_seconds"] = round(time.perf_counter() - compiled, 4)
    counts["table_bytes"] = dispatcher.tables.nbytes
    diagnostics = sorted_diagnostics(diagnostics + shadow_warnings(dispatcher))
    day = at or datetime.now(ZoneInfo(ruleset.manifest.timezone)).date()
    cells = cell_coverage(dispatcher, day)
    counts["coverage"] = {"day": day.isoformat(), "cells": cells.counts, "cells_auto_share": round(cells.share(), 4)}
    if cases is not None:
        try:
            history = read_history(cases, dispatcher)
        except HistoryError as err:
            diagnostics = sorted_diagnostics(diagnostics + err.diagnostics)
        else:
            volume = volume_coverage(dispatcher, history)
            counts["coverage"].update(
                cases=volume.counts, cases_auto_share=round(volume.share(), 4), cases_unknown=history.unknown
            )
    return CheckReport(str(root), diagnostics, ruleset, time.perf_counter() - started, counts)


def shadow_warnings(dispatcher: Dispatcher) -> list[Diagnostic]:
    found = []
    for rule in shadowed_rules(dispatcher):
        beaten_by = shadow_example(dispatcher, rule)
        if beaten_by is None:
            continue  # matches no case at all: rule.never_matches says why
        found.append(
            Diagnostic(
                "rule.shadowed",
                f"rule {rule.id!r} wins no case: a higher rule takes every case it matches "
                f"(e.g. {beaten_by.id!r} at {beaten_by.place})",
                rule.place,
                Severity.WARNING,
            )
        )
    return found


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
        lines.append(f"  compiled     in {c['compile_seconds']:.3f} s to {c['table_bytes'] / 2**20:.1f} MiB of tables")
        cov = c["coverage"]
        lines.append(
            f"  coverage     {cov['cells_auto_share']:.1%} of item x grid x source cells dispatch automatically"
            f" on {cov['day']} ({_statuses(cov['cells'])})"
        )
        if "cases" in cov:
            unknown = sum(cov["cases_unknown"].values())
            lines.append(
                f"               {cov['cases_auto_share']:.1%} of case volume ({_statuses(cov['cases'])})"
                + (f"; {unknown} cases with unknown codes skipped" if unknown else "")
            )
    lines.append(summary_line(report))
    return "\n".join(lines)


def _statuses(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts.items())


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

