"""Renderings of a DiffReport: text for people, JSON for machines, Markdown for a pull-request comment."""

from __future__ import annotations

import json
from datetime import timedelta

from dispatch.core.hints import plural
from dispatch.core.model import Rule
from dispatch.tools.diff.diff import CannotDiff, CellDiff, DiffReport
from dispatch.tools.diff.pairing import Side, VisibleOutcome
from dispatch.tools.diff.replay import MANUAL, UNKNOWN, Replay
from dispatch.tools.diff.subtrees import CellGroup

TEXT_GROUPS, TEXT_MOVES, TEXT_LOAD = 12, 15, 15  # rows shown in text; JSON has every row
MD_ROWS = 10


# -- shared wording -----------------------------------------------------------------------


def _stretch_words(cells: CellDiff, picked: tuple[int, ...]) -> str:
    """`every day`, or the picked stretches with neighbours joined: `2025-06-01..2025-09-15`."""
    if len(picked) == len(cells.stretches) and cells.stretches[0][0] is None and cells.stretches[-1][1] is None:
        return "every day"
    runs: list[list] = []
    for x in picked:
        lo, hi = cells.stretches[x]
        if runs and runs[-1][1] == lo:
            runs[-1][1] = hi
        else:
            runs.append([lo, hi])
    words = []
    for lo, hi in runs:
        last = hi - timedelta(days=1) if hi is not None else None
        if lo is None:
            words.append(f"until {last}")
        elif last is None:
            words.append(f"from {lo}")
        else:
            words.append(f"{lo}" if lo == last else f"{lo}..{last}")
    return ", ".join(words)


def _sources_words(report: DiffReport, sources: tuple[str, ...]) -> str:
    every = [s for s in report.old.ruleset.manifest.sources if s in report.new.ruleset.manifest.sources]
    return "every source" if len(sources) == len(every) else ",".join(sources)


def _name(report: DiffReport, kind: str, code: str) -> str:
    for side in (report.new, report.old):
        tree = side.ruleset.events if kind == "event" else side.ruleset.areas
        if code in tree:
            return tree[code].name
    return ""


def _codes(report: DiffReport, kind: str, codes: tuple[str, ...], limit: int = 3) -> str:
    shown = [f"{c} {_name(report, kind, c)}".strip() for c in codes[:limit]]
    more = f" +{len(codes) - limit} more" if len(codes) > limit else ""
    return ", ".join(shown) + more


def _areas_words(report: DiffReport, g: CellGroup) -> str:
    parts = []
    if g.areas:
        parts.append(_codes(report, "area", g.areas) + (" (subtree)" if len(g.areas) == 1 else " (subtrees)"))
    if g.lone_areas:
        parts.append(_codes(report, "area", g.lone_areas) + " (the area only)")
    return "; ".join(parts) + f" [{plural(g.area_count, 'area')}]"


def _events_words(report: DiffReport, g: CellGroup) -> str:
    return _codes(report, "event", g.events) + (f" [{g.items} items]" if g.items > 1 else "")


def _outcome_words(report: DiffReport, o: VisibleOutcome, rule: Rule | None, short: bool = False) -> str:
    who = o.department if o.department else "seat operators"
    text = f"{o.status} {who}" if o.status != MANUAL else "manual (seat operators)"
    if not short:
        if o.department:
            text += f" {report.department_name(o.department)}"
        if o.co_handlers:
            text += f" with {';'.join(o.co_handlers)}"
        if o.deadline is not None and o.status != MANUAL:
            text += f", {o.deadline}"
    by = f"{rule.id} {rule.place}" if rule is not None and not short else rule.id if rule is not None else "no rule"
    return f"{text} ({by})"


def _dept_words(report: DiffReport, code: str) -> str:
    if code in (MANUAL, UNKNOWN):
        return f"({report.department_name(code)})"
    return f"{code} {report.department_name(code)}"


def _side(side: Side) -> str:
    rs = side.ruleset
    return f"{side.root} ({rs.manifest.name} {rs.version}, {len(rs.rules)} rules)"


def _share(n: int, total: int) -> str:
    return f"{n / total:.2%}" if total else "0%"


def _verdict(report: DiffReport, breaches: list[str]) -> str:
    moved = report.replay.moved if report.replay else 0
    what = f"{report.cells.changed:,} cells change outcome" + (f", {moved:,} cases move" if report.replay else "")
    if breaches:
        return f"FAILED: {what}; " + "; ".join(breaches)
    return f"ok: {what}" if not report.unchanged else "ok: no change"


# -- text ---------------------------------------------------------------------------------


def render_text(report: DiffReport, breaches: list[str]) -> str:
    out = [f"dispatch diff {_side(report.old)}", f"          -> {_side(report.new)}"]
    codes = report.codes
    out.append(
        f"  rules     by id: {len(codes.rules_added)} added, {len(codes.rules_removed)} removed, "
        f"{len(codes.rules_changed)} changed" + _ids(codes.rules_added, codes.rules_removed, codes.rules_changed)
    )
    code_words = [
        f"{kind} +{len(codes.added[kind])} -{len(codes.removed[kind])}"
        for kind in codes.added
        if codes.added[kind] or codes.removed[kind]
    ]
    out.append("  codes     " + (", ".join(code_words) if code_words else "none added or removed"))
    for kind in codes.added:
        for sign, found in (("only in new", codes.added[kind]), ("only in old", codes.removed[kind])):
            if found:
                out.append(f"            {kind} {sign}: {', '.join(found[:8])}" + (" ..." if len(found) > 8 else ""))
    out.extend(_text_cells(report))
    if report.replay is not None:
        out.extend(_text_cases(report, report.replay))
    out.append(_verdict(report, breaches) + f" [{report.seconds:.2f} s]")
    return "\n".join(out)


def _ids(added: list[str], removed: list[str], changed: list[str]) -> str:
    named = [f"+{i}" for i in added] + [f"-{i}" for i in removed] + [f"~{i}" for i in changed]
    return f" ({' '.join(named[:6])}{' ...' if len(named) > 6 else ''})" if named else ""


def _text_cells(report: DiffReport) -> list[str]:
    c = report.cells
    out = [
        f"  cells     {c.changed:,} of {c.compared:,} change outcome ({_share(c.changed, c.compared)})"
        + (f"; {c.redecided:,} more keep their outcome under another rule" if c.redecided else "")
    ]
    out.append(
        f"            a cell: item x area x source x day stretch ({len(c.stretches)} stretches"
        f" between the rule sets' window bounds); {len(c.groups)} groups of subtrees"
    )
    for g in c.groups[:TEXT_GROUPS]:
        out.append(
            f"    {g.cells:>11,}  {_events_words(report, g)} | {_sources_words(report, g.sources)}"
            f" | {_stretch_words(c, g.stretches)}"
        )
        out.append(f"{'':17}x {_areas_words(report, g)}")
        out.append(f"{'':17}{_outcome_words(report, g.old, g.old_rule)}")
        out.append(f"{'':14}-> {_outcome_words(report, g.new, g.new_rule)}")
    cut = c.groups[TEXT_GROUPS:]
    if cut:
        out.append(f"    ... {len(cut)} more groups, {sum(g.cells for g in cut):,} cells (--format json lists all)")
    return out


def _text_cases(report: DiffReport, r: Replay) -> list[str]:
    out = [
        (
            f"  cases     {r.cases:,} in {r.path}: {r.moved:,} move department ({_share(r.moved, r.replayed)}), "
            f"{r.reworded:,} keep it but change status, co-handlers or deadline"
        )
    ]
    for side in ("old", "new"):
        unknown = {k: v for k, v in r.unknown[side].items() if v}
        if unknown:
            out.append(
                f"            unknown to the {side} set: " + ", ".join(f"{v:,} by {k}" for k, v in unknown.items())
            )
    if r.moves:
        out.append("    moves")
        for m in r.moves[:TEXT_MOVES]:  # no padding: names are Chinese, two columns a character
            out.append(
                f"      {m.cases:>9,}  {_dept_words(report, m.old)} -> {_dept_words(report, m.new)}"
                f"  e.g. {', '.join(m.examples)}"
            )
        if len(r.moves) > TEXT_MOVES:
            out.append(f"      ... {len(r.moves) - TEXT_MOVES} more moves")
    shifted = [(code, o, n) for code, (o, n) in r.load.items() if o != n]
    if shifted:
        out.append(f"    load      {'old':>8} {'new':>8} {'delta':>8}  share old -> new")
        for code, o, n in shifted[:TEXT_LOAD]:
            out.append(
                f"      {o:>16,} {n:>8,} {n - o:>+8,}  {_share(o, r.replayed)} -> {_share(n, r.replayed)}"
                f"  {_dept_words(report, code)}"
            )
        if len(shifted) > TEXT_LOAD:
            out.append(f"      ... {len(shifted) - TEXT_LOAD} more departments")
    if r.statuses:
        out.append("    status    " + ", ".join(f"{a} -> {b} {n:,}" for (a, b), n in r.statuses.items()))
    return out


# -- JSON ---------------------------------------------------------------------------------


def _rule_json(rule: Rule | None) -> dict | None:
    return None if rule is None else {"id": rule.id, "path": rule.place.path, "line": rule.place.line}


def _outcome_json(o: VisibleOutcome, rule: Rule | None) -> dict:
    return {**o._asdict(), "co_handlers": list(o.co_handlers), "rule": _rule_json(rule)}


def report_json(report: DiffReport, breaches: list[str], limits: dict | None = None) -> dict:
    """The report as plain data with stable keys (render_json dumps it)."""

    def side(s: Side) -> dict:
        return {
            "root": s.root,
            "name": s.ruleset.manifest.name,
            "version": s.ruleset.version,
            "rules": len(s.ruleset.rules),
        }

    c, codes = report.cells, report.codes
    doc = {
        "old": side(report.old),
        "new": side(report.new),
        "ok": not breaches,
        "changed": not report.unchanged,
        "breaches": breaches,
        "limits": limits or {},
        "codes": {
            "added": codes.added,
            "removed": codes.removed,
            "rules": {"added": codes.rules_added, "removed": codes.rules_removed, "changed": codes.rules_changed},
        },
        "cells": {
            "compared": c.compared,
            "changed": c.changed,
            "redecided": c.redecided,
            "stretches": [{"from": lo and lo.isoformat(), "to": hi and hi.isoformat()} for lo, hi in c.stretches],
            "groups": [
                {
                    "cells": g.cells,
                    "items": g.items,
                    "area_count": g.area_count,
                    "events": list(g.events),
                    "areas": list(g.areas),
                    "lone_areas": list(g.lone_areas),
                    "sources": list(g.sources),
                    "stretches": list(g.stretches),
                    "old": _outcome_json(g.old, g.old_rule),
                    "new": _outcome_json(g.new, g.new_rule),
                }
                for g in c.groups
            ],
        },
        "cases": None,
        "seconds": round(report.seconds, 3),
        "timings": report.timings,
    }
    r = report.replay
    if r is not None:
        doc["cases"] = {
            "path": r.path,
            "cases": r.cases,
            "replayed": r.replayed,
            "unknown": r.unknown,
            "moved": r.moved,
            "reworded": r.reworded,
            "moves": [{"from": m.old, "to": m.new, "cases": m.cases, "examples": m.examples} for m in r.moves],
            "load": [
                {"department": code, "name": report.department_name(code), "old": o, "new": n, "delta": n - o}
                for code, (o, n) in r.load.items()
            ],
            "statuses": [{"from": a, "to": b, "cases": n} for (a, b), n in r.statuses.items()],
        }
    return doc


def render_json(report: DiffReport, breaches: list[str], limits: dict | None = None) -> str:
    return json.dumps(report_json(report, breaches, limits), ensure_ascii=False, indent=2)


# -- Markdown -----------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: DiffReport, breaches: list[str]) -> str:
    """Short enough for a pull-request comment: a summary, the moves and the load shift, the cells folded."""
    c, r = report.cells, report.replay
    verdict = "❌ **FAILED**" if breaches else "✅ **ok**"
    head = f"{c.changed:,} cells change outcome"
    if r is not None:
        head += f", {r.moved:,} of {r.replayed:,} cases move department"
    out = [f"### dispatch diff: {head}", ""]
    codes = report.codes
    out.append(
        f"{verdict} · `{report.old.root}` ({report.old.ruleset.version}) → `{report.new.root}` "
        f"({report.new.ruleset.version}) · rules by id: {len(codes.rules_added)} added, "
        f"{len(codes.rules_removed)} removed, {len(codes.rules_changed)} changed"
    )
    out += [f"- {_cell(b)}" for b in breaches]
    one_side = [
        f"{kind} +{len(codes.added[kind])} −{len(codes.removed[kind])}"
        for kind in codes.added
        if codes.added[kind] or codes.removed[kind]
    ]
    if one_side:
        out += ["", f"Codes in one set only (not compared): {', '.join(one_side)}"]
    if r is not None and r.moves:
        out += [
            "",
            (
                f"**Cases** replayed from `{r.path}` ({r.reworded:,} more keep their department but change "
                "status, co-handlers or deadline)"
            ),
            "",
            "| from | to | cases | e.g. |",
            "|---|---|---:|---|",
        ]
        for m in r.moves[:MD_ROWS]:
            out.append(
                f"| {_cell(_dept_words(report, m.old))} | {_cell(_dept_words(report, m.new))} | {m.cases:,} "
                f"| {', '.join(m.examples)} |"
            )
        _cut(out, r.moves, "moves")
        shifted = [(code, o, n) for code, (o, n) in r.load.items() if o != n]
        out += ["", "| department | old | new | Δ | share old → new |", "|---|---:|---:|---:|---|"]
        for code, o, n in shifted[:MD_ROWS]:
            out.append(
                f"| {_cell(_dept_words(report, code))} | {o:,} | {n:,} | {n - o:+,} "
                f"| {_share(o, r.replayed)} → {_share(n, r.replayed)} |"
            )
        _cut(out, shifted, "departments")
        if r.statuses:
            out += ["", "Status: " + ", ".join(f"{a} → {b} {n:,}" for (a, b), n in r.statuses.items())]
    elif r is not None:
        out += ["", f"No case of the {r.replayed:,} replayed from `{r.path}` moves department."]
    if c.groups:
        out += [
            "",
            (
                f"<details><summary><b>Cells</b>: {c.changed:,} of {c.compared:,} (item × area × source × day "
                f"stretch) in {len(c.groups)} groups</summary>"
            ),
            "",
            "| cells | items | areas | sources | days | old | new |",
            "|---:|---|---|---|---|---|---|",
        ]
        for g in c.groups[:MD_ROWS]:
            out.append(
                "| "
                + " | ".join(
                    _cell(x)
                    for x in (
                        f"{g.cells:,}",
                        _events_words(report, g),
                        _areas_words(report, g),
                        _sources_words(report, g.sources),
                        _stretch_words(c, g.stretches),
                        _outcome_words(report, g.old, g.old_rule, short=True),
                        _outcome_words(report, g.new, g.new_rule, short=True),
                    )
                )
                + " |"
            )
        _cut(out, c.groups, "groups")
        out += ["", "</details>"]
    return "\n".join(out)


def _cut(out: list[str], rows: list, what: str) -> None:
    if len(rows) > MD_ROWS:
        out.append(f"\n<sub>… and {len(rows) - MD_ROWS} more {what} (`dispatch diff --format json` lists all)</sub>")


# -- cannot run ---------------------------------------------------------------------------


def render_cannot(err: CannotDiff, fmt: str) -> str:
    """The diagnostics of a rule set or history that stopped the diff, as `dispatch check` prints them."""
    if fmt == "json":
        return json.dumps(
            {
                "ok": False,
                "error": str(err),
                "diagnostics": [
                    {
                        "code": d.code,
                        "severity": d.severity.value,
                        "message": d.message,
                        "path": d.place.path,
                        "line": d.place.line,
                        "col": d.place.col,
                    }
                    for d in err.diagnostics
                ],
            },
            ensure_ascii=False,
            indent=2,
        )
    lines = [str(d) for d in err.diagnostics] + [f"cannot diff: {err}"]
    return "\n".join(["```", *lines, "```"] if fmt == "markdown" else lines)
