"""The reports of `dispatch test`: text for people, JSON for machines, JUnit XML for CI dashboards."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from dispatch.tools.golden.golden import GoldenReport, GoldenResult


def _failure_lines(o: GoldenResult) -> list[str]:
    c = o.case
    head = f"FAIL {c.id} ({c.place})" + (f": {c.note}" if c.note else "")
    lines = [head]
    if not o.explanation:  # the explanation starts with the case
        lines.append(f"  case      {c.event} at {c.area} from {c.source}, reported {c.reported_at.isoformat()}")
    lines += ["  " + line for line in o.diff()]
    if o.explanation:
        lines += ["  | " + line if line else "  |" for line in o.explanation.splitlines()]
    return lines


def coverage_lines(report: GoldenReport) -> list[str]:
    total = sum(report.rules_by_file.values())
    exercised = sum(report.exercised_by_file.values())
    lines = [f"rule coverage {report.coverage:.1%}: {exercised} of {total} rules decided a golden case"]
    width = max((len(f) for f in report.rules_by_file), default=0)
    for f, n in report.rules_by_file.items():
        lines.append(f"  {f.ljust(width)}  {report.exercised_by_file[f]:>5} of {n:>5}")
    return lines


def summary_line(report: GoldenReport) -> str:
    n, failed = len(report.outcomes), len(report.failures)
    verdict = "ok" if report.passed else "FAILED"
    text = f"{verdict}: {n - failed} of {n} golden case(s) passed, {failed} failed"
    if report.min_coverage is not None:
        op = ">=" if report.coverage_met else "is below"
        text += f"; rule coverage {report.coverage:.1%} {op} --min-coverage {report.min_coverage:g}%"
    return f"{text} (ran in {report.seconds:.2f} s)"


def render_text(report: GoldenReport) -> str:
    lines = [f"golden cases {report.path} on rule set {report.name!r} ({report.root}) version {report.version}", ""]
    lines += [str(w) for w in report.warnings] + ([""] if report.warnings else [])
    for o in report.failures:
        lines += _failure_lines(o) + [""]
    lines += coverage_lines(report)
    lines.append(summary_line(report))
    return "\n".join(lines)


def render_json(report: GoldenReport) -> str:
    doc = {
        "golden": report.path,
        "root": report.root,
        "version": report.version,
        "ok": report.passed,
        "cases": len(report.outcomes),
        "failed": len(report.failures),
        "seconds": round(report.seconds, 4),
        "warnings": [{"code": w.code, "message": w.message, "at": str(w.place)} for w in report.warnings],
        "coverage": {
            "share": round(report.coverage, 4),
            "min_percent": report.min_coverage,
            "met": report.coverage_met,
            "by_file": {
                f: {"rules": n, "exercised": report.exercised_by_file[f]} for f, n in report.rules_by_file.items()
            },
        },
        "failures": [
            {
                "id": o.case.id,
                "at": str(o.case.place),
                "note": o.case.note,
                "mismatches": list(o.mismatches),
                "expected": {
                    "status": o.case.expected_status,
                    "department": o.case.expected_department or None,
                    "rule": o.case.expected_rule or None,
                },
                "got": None if o.error else {"status": o.status, "department": o.department or None, "rule": o.rule},
                "error": {"code": o.error.code, "field": o.error.field, "message": str(o.error)} if o.error else None,
                "explanation": o.explanation,
            }
            for o in report.failures
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)


def junit_xml(report: GoldenReport) -> bytes:
    """JUnit XML for CI dashboards: one testcase per golden case (classname: the file, name: the case id),
    and one for the coverage bar when --min-coverage is given."""
    cases = []
    for o in report.outcomes:
        tc = ET.Element("testcase", classname=report.path, name=o.case.id, time="0")
        if not o.passed:
            message = "; ".join(o.diff()) if o.error is None else f"{o.error.code}: {o.error}"
            failure = ET.SubElement(tc, "failure", message=message, type="golden.mismatch")
            failure.text = "\n".join(_failure_lines(o))
        cases.append(tc)
    if report.min_coverage is not None:
        tc = ET.Element("testcase", classname=report.path, name=f"rule coverage >= {report.min_coverage:g}%", time="0")
        if not report.coverage_met:
            failure = ET.SubElement(
                tc,
                "failure",
                type="golden.coverage",
                message=f"rule coverage {report.coverage:.1%} is below {report.min_coverage:g}%",
            )
            failure.text = "\n".join(coverage_lines(report))
        cases.append(tc)
    failures = sum(1 for tc in cases if tc.find("failure") is not None)
    attrs = {"tests": str(len(cases)), "failures": str(failures), "errors": "0", "time": f"{report.seconds:.3f}"}
    suites = ET.Element("testsuites", name="dispatch test", **attrs)
    suite = ET.SubElement(suites, "testsuite", name=report.path, skipped="0", **attrs)
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("ruleset", report.root),
        ("version", report.version),
        ("rule_coverage", f"{report.coverage:.4f}"),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    suite.extend(cases)
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n"
