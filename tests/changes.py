"""A changed copy of rules/daxing, the way a rule maintainer changes it: a moved item, a new town override, a removed rule.

Each change is picked from the committed golden cases, so that it moves at least one of them;
which ones move in all is left for the tests to compute with the reference matcher.
"""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

from dispatch.core.load import load_ruleset
from dispatch.core.model import RuleSet
from dispatch.tools.golden.golden import GoldenCase, read_golden

DAXING = Path(__file__).resolve().parent.parent / "rules" / "daxing"
NEW_RULE = "TWN-NEW-1"


@dataclass(frozen=True)
class Changes:
    root: Path
    moved_item: str  # the item moved to another subcategory
    old_parent: str
    new_parent: str
    moved_case: str  # a golden case of that item, decided by a rule on the old subcategory
    override_case: str  # the golden case the new town override takes
    override_town: str
    override_loser: str  # the rule that decided it before
    removed_rule: str
    removed_case: str  # a golden case the removed rule decided


def _rewrite_line(path: Path, starts: str, change) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    hits = [i for i, line in enumerate(lines) if line.startswith(starts)]
    assert len(hits) == 1, (path, starts)
    new = change(lines[hits[0]])
    if new is None:
        del lines[hits[0]]
    else:
        lines[hits[0]] = new
    path.write_text("\n".join(lines), encoding="utf-8")


def _moved_parent(line: str, parent: str) -> str:
    row = next(csv.reader([line]))
    row[2] = parent
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(row)
    return out.getvalue()


def _pick_move(rs: RuleSet, golden: list[GoldenCase]) -> tuple[GoldenCase, str]:
    by_id = {r.id: r for r in rs.rules}
    for g in golden:
        rule = by_id.get(g.expected_rule)
        if rule is None or rule.event == "*" or rs.events.depth(rule.event) != 2:
            continue
        old = rs.events[g.event].parent
        siblings = [c for c in rs.events.children(rs.events[old].parent) if c != old]
        has_deadline = rs.events[g.event].deadline is not None
        for new in siblings:
            if has_deadline or rs.item_deadline(new) is not None:
                return g, new
    raise AssertionError("no golden case decided by a subcategory rule")


def changed_daxing(target: Path) -> Changes:
    """Copy rules/daxing to `target` and change it three ways; the copy is a valid rule set."""
    shutil.copytree(DAXING, target, ignore=shutil.ignore_patterns("cases-sample.csv"))
    rs = load_ruleset(DAXING)
    by_id = {r.id: r for r in rs.rules}
    golden = read_golden(DAXING / "golden.csv")

    moved, new_parent = _pick_move(rs, golden)
    old_parent = rs.events[moved.event].parent
    _rewrite_line(target / "taxonomy.csv", moved.event + ",", lambda line: _moved_parent(line, new_parent))

    def district_default(g: GoldenCase) -> bool:
        r = by_id.get(g.expected_rule)
        return (r is not None and r.area == "110115" and r.event == g.event and not (r.priority or r.grid_type or
                r.source or r.has_window) and g.event != moved.event and rs.areas.depth(g.area) >= 3)  # fmt: skip

    override = next(g for g in golden if district_default(g))
    town = next(a.code for a in rs.areas.path(override.area) if a.level == "town")
    dept = "dx-cgzf" if override.expected_department != "dx-cgzf" else "dx-cgw"
    (target / "rules" / "zz-town.csv").write_text(
        "id,event,area,grid_type,source,department,co_handlers,deadline,valid_from,valid_to,priority,basis,note\n"
        f"{NEW_RULE},{override.event},{town},,,{dept},,,,,,工作惯例：新增镇级例外,a new town override\n",
        encoding="utf-8",
    )

    removed = next(g for g in golden if g.expected_rule and by_id[g.expected_rule].area != "*"
                   and rs.areas[by_id[g.expected_rule].area].level == "unit"
                   and g.event not in (moved.event, override.event))  # fmt: skip
    rule = by_id[removed.expected_rule]
    _rewrite_line(target / rule.place.path.removeprefix(f"{DAXING}/"), rule.id + ",", lambda line: None)
    return Changes(target, moved.event, old_parent, new_parent, moved.id, override.id, town, override.expected_rule,
                   rule.id, removed.id)  # fmt: skip
