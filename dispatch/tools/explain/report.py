"""Explain report: an Explanation (dispatch.core.explain) as the text `dispatch explain` prints.

The JSON form is explain.explanation_dict: the one document the CLI and POST /v1/explain share.
"""

from __future__ import annotations

from dispatch.core.explain import KEY_NAMES, Explanation, explanation_dict, window_text
from dispatch.core.model import LOCAL

UNIT_WORDS = {"h": "natural hours", "wh": "working hours", "wd": "working days"}


def table(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Rows under a header, columns padded to their widest cell (ASCII cells: codes and numbers)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]


def render_text(x: Explanation, max_ranked: int | None = None, max_near: int | None = None) -> str:
    """What a maintainer reads in ten seconds: the case, its area, the decision, the ranked rules, near misses.

    Rule files are named as loaded (`rules/daxing/rules/local.csv:781`), a path the maintainer
    can open from where the command runs; the JSON names them relative to the rule set.
    """
    doc = explanation_dict(x)
    c, dec = doc["case"], doc["decision"]
    item = doc["event_path"][-1]
    lines = [
        f"case      {c['id']}: {c['event']} {item['name']}, source {c['source']}, reported {c['reported_at']} (day {c['day']})",
        "event     " + " > ".join(f"{e['code']} {e['name']}" for e in doc["event_path"]),
        "area      "
        + " > ".join(
            f"{a['code']} {a['name']} ({a['level']}{', ' + a['grid_type'] if a['grid_type'] else ''})"
            for a in doc["area_path"]
        ),
    ]
    loc = doc["location"]
    if loc is not None:
        where = f"({loc['longitude']}, {loc['latitude']}) {loc['crs']}"
        if loc.get("located"):
            border = loc["border_distance_m"]
            found = f"the grid map places it in {loc['located']}, {border:.1f} m from that area's nearest border"
        elif "located" in loc:
            found = "off the grid map"
        else:
            found = "the rule set has no grid map"
        if loc["method"] == "given":
            check = f"; the case names {loc['area']}" + (
                f": {loc['location_check']}" if loc.get("location_check") else ""
            )
        else:
            check = ""
        lines.append(f"location  {where}: {found}{check}")
    dept = dec["department"]
    line = f"decision  {dec['status']}" + (f" -> {dept['code']} {dept['name']}" if dept else "")
    if dec["difficult"]:
        line += ", difficult case"
    lines.append(line)
    if dec["local"]:
        lo = dec["local"]
        lines.append(f"@local    -> {lo['department']} {lo['name']}: governs {lo['governs']} {lo['governs_name']}")
    elif x.ranked and x.ranked[0].rule.department == LOCAL:
        lines.append("@local    no department governs the case's area: manual")
    if dec["co_handlers"]:
        lines.append("co        " + ", ".join(f"{u['code']} {u['name']}" for u in dec["co_handlers"]))
    dl, it = dec["deadline"], doc["item"]
    if dl is None:
        lines.append("deadline  none: the item has no handling deadline")
    else:
        if dl["origin"] == "rule":
            origin = f"rule override (the item standard is {dl['item'] or 'none'})"
        else:
            origin = f"item standard (set on {it['deadline_set_on']})"
        if dl["class"]:
            origin += f", class {dl['class']} of the area"
        due = f", due {dl['due']}" if dl["due"] else ", no due time (manual)"
        lines.append(
            f"deadline  {dl['value']} ({UNIT_WORDS[dl['value'].lstrip('0123456789.')]}) from the {origin}{due}"
        )
        skipped = [f"{s['date']} {s['why']}" for s in dl["skipped"]]
        if skipped:
            lines.append(f"          not counted: {'; '.join(skipped)}")
        if dl["made_up"]:
            lines.append(
                "          make-up workdays counted: " + "; ".join(f"{m['date']} {m['name']}" for m in dl["made_up"])
            )
        if dl["provisional"]:
            lines.append(
                "          provisional: the calendar lists no days for a year it spans (the plain workweek assumed)"
            )
    if x.decision.rule:
        r = x.decision.rule
        lines.append(f"rule      {r.id} at {r.path}:{r.line}  basis: {r.basis}")
    else:
        lines.append(f"rule      none: {doc['no_match']}")
    if not x.agree:
        lines.append(
            f"WARNING   the compiled tables and the reference matcher disagree: a bug, please report "
            f"(compiled: {x.decision.rule.id if x.decision.rule else None})"
        )
    lines.append("")
    n = len(x.ranked)
    if n:
        lines.append(f"matching rules: {n}, ranked by ({', '.join(KEY_NAMES)}), then the smaller id")
    else:
        lines.append("matching rules: none")
    shown = x.ranked if max_ranked is None else x.ranked[:max_ranked]
    if shown:
        rows = [
            [
                str(r.rank),
                r.rule.id,
                f"{r.rule.place.path}:{r.rule.place.line}",
                r.rule.event,
                r.rule.area,
                r.rule.grid_type or "-",
                r.rule.source or "-",
                window_text(r.rule) if r.rule.has_window else "-",
                r.rule.department,
                ",".join(map(str, r.key)),
                r.why if r.lost_on is None else "lost: " + r.why,
            ]
            for r in shown
        ]
        header = ["#", "rule", "file:line", "event", "area", "grid", "source", "window", "department", "key", "outcome"]
        lines.extend(table(header, rows))
        if len(shown) < n:
            lines.append(f"  ... and {n - len(shown)} more")
    misses = x.near_misses if max_near is None else x.near_misses[:max_near]
    if misses:
        lines.append("")
        lines.append(
            f"near misses: {x.near_miss_total} rule(s) on the item's path and in the case's area fail one selector"
        )
        rows = [
            [m.rule.id, f"{m.rule.place.path}:{m.rule.place.line}", m.why, "would win" if m.would_win else ""]
            for m in misses
        ]
        lines.extend(table(["rule", "file:line", "failed selector", ""], rows))
        if len(misses) < x.near_miss_total:
            lines.append(f"  ... and {x.near_miss_total - len(misses)} more")
    return "\n".join(lines)
