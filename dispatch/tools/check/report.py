"""The report of dispatch check: text for people, JSON for machines, GitHub annotations for CI."""

from __future__ import annotations

import json
from collections import Counter

from dispatch.core.hints import plural
from dispatch.tools.check.check import CheckReport


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
        if cov.get("cells_unresolved_local_areas"):
            lines.append(
                f"               with the cells of {plural(cov['cells_unresolved_local_areas'], 'area')} above the "
                "grids where @local cannot resolve (rule.local_unresolved)"
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
