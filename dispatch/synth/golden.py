"""Golden cases for a rule set: a few per kind of rule, with the outcome the rule set gives today.

For each kind of rule (district defaults, town overrides, grid-type splits, basic-grid and
unit-grid exceptions, source rules, seasonal windows in and out of season, priority
overrides, catch-alls) it samples rules, builds a case each rule should decide, and keeps
the case when the rule does decide it; then cases no rule matches, urgent (provisional)
and not (manual). Expected values come from the reference matcher: running this approves
the current rule set, so run it on purpose, review the diff, and commit.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from dispatch.core.case import Case
from dispatch.core.decision import Decision, Status
from dispatch.core.explain import window_text
from dispatch.core.load import load_ruleset
from dispatch.core.model import ANY, LOCAL, Rule, RuleSet
from dispatch.core.reference import dispatch_case, winning_rule
from dispatch.synth.ruleset import DEFAULT_SEED

HEADER = (
    "id",
    "event",
    "area",
    "source",
    "reported_at",
    "expected_department",
    "expected_status",
    "expected_rule",
    "note",
)
PER_KIND = 100
NO_MATCH_PER_STATUS = 60
ORDINARY_DAY = datetime(2026, 5, 12)  # outside every seasonal window of the Daxing set
TRIES = 6  # cases built per sampled rule before it is given up (another rule takes every one)
# the kinds of rules, in the file's order; kind_of() picks the first that applies
KINDS = (
    "priority override",
    "seasonal window",
    "safety source",
    "12345 source",
    "supervisor source",
    "unit-grid rule",
    "basic-grid exception",
    "grid-type split",
    "town override",
    "catch-all",
    "district default",
)


def kind_of(ruleset: RuleSet, rule: Rule) -> str:
    """The kind of a rule a maintainer would name: what makes it win where it wins."""
    if rule.priority:
        return "priority override"
    if rule.has_window:
        return "seasonal window"
    if rule.source is not None:
        return f"{rule.source} source" if f"{rule.source} source" in KINDS else "source rule"
    if rule.event == ANY:
        return "catch-all"
    level = None if rule.area == ANY else ruleset.areas[rule.area].level
    if level == "unit":
        return "unit-grid rule"
    if level == "grid":
        return "basic-grid exception"
    if rule.grid_type is not None:
        return "grid-type split"
    if level in ("town", "piece"):
        return "town override"
    return "district default"


class _Builder:
    def __init__(self, ruleset: RuleSet, rng: random.Random):
        self.rs = ruleset
        self.rng = rng
        self.zone = ZoneInfo(ruleset.manifest.timezone)
        self.items = [c for c in ruleset.events.order if ruleset.events.is_leaf(c)]
        self.areas = list(ruleset.areas.order)
        self.rows: list[tuple[str, ...]] = []

    def subtree(self, tree, code: str) -> list[str]:
        return list(tree.order[tree.pos(code) : tree.end(code)])

    def item_under(self, event: str) -> str:
        if event == ANY:
            return self.rng.choice(self.items)
        return self.rng.choice([c for c in self.subtree(self.rs.events, event) if self.rs.events.is_leaf(c)])

    def area_under(self, rule: Rule) -> str | None:
        codes = self.areas if rule.area == ANY else self.subtree(self.rs.areas, rule.area)
        if rule.grid_type is not None:
            codes = [c for c in codes if self.rs.grid_type_of(c) == rule.grid_type]
        low = [c for c in codes if self.rs.areas[c].level in ("grid", "unit")]
        pool = low or codes
        return self.rng.choice(pool) if pool else None

    def moment(self, day: datetime) -> datetime:
        return day.replace(hour=self.rng.randint(7, 20), minute=self.rng.randint(0, 59), tzinfo=self.zone)

    def day_in(self, rule: Rule) -> datetime:
        if not rule.has_window:
            return ORDINARY_DAY + timedelta(days=self.rng.randint(0, 20))
        start = rule.valid_from or (rule.valid_to - timedelta(days=30))
        end = rule.valid_to or (start + timedelta(days=30))
        return datetime.combine(start, datetime.min.time()) + timedelta(
            days=self.rng.randrange(max(1, (end - start).days))
        )

    def source_for(self, rule: Rule) -> str:
        return rule.source or self.rng.choice(self.rs.manifest.sources)

    def add(self, case: Case, note: str) -> Decision:
        d = dispatch_case(self.rs, case)
        gid = f"G{len(self.rows) + 1:04d}"
        self.rows.append(
            (
                gid,
                case.event,
                case.area,
                case.source,
                case.reported_at.isoformat(timespec="seconds"),
                d.department.code if d.department and d.status is not Status.MANUAL else "",
                d.status.value,
                d.rule.id if d.rule else "",
                note,
            )
        )
        return d

    def describe(self, rule: Rule, case: Case) -> str:
        where = (
            "every area"
            if rule.area == ANY
            else f"{self.rs.areas[rule.area].level} {rule.area} {self.rs.areas[rule.area].name}"
        )
        what = "every item" if rule.event == ANY else rule.event
        filters = [
            f
            for f in (
                rule.grid_type and f"{rule.grid_type} grids",
                rule.source and f"source {rule.source}",
                rule.has_window and f"window {window_text(rule)}",
                rule.priority and f"priority {rule.priority}",
            )
            if f
        ]
        dept = rule.department
        if dept == LOCAL:
            dept = f"@local ({self.rs.local_department(case.area)})"
        text = f"{rule.id}: {what} in {where}" + (f" ({', '.join(filters)})" if filters else "") + f" -> {dept}"
        if rule.deadline is not None:
            text += f", deadline {rule.deadline}"
        return text

    def case_for(self, rule: Rule, day: datetime | None = None) -> Case | None:
        area = self.area_under(rule)
        if area is None:
            return None
        moment = self.moment(day or self.day_in(rule))
        return Case("", self.item_under(rule.event), area, self.source_for(rule), moment)

    def rule_cases(self, kind: str, rules: list[Rule], n: int) -> None:
        """Up to `n` cases, each decided by a different rule of `kind`."""
        done = 0
        for rule in self.rng.sample(rules, len(rules)):
            if done == n:
                return
            for _ in range(TRIES):
                case = self.case_for(rule)
                if case is not None and winning_rule(self.rs, case) is rule:
                    self.add(case, f"{kind}: {self.describe(rule, case)}")
                    done += 1
                    break

    def out_of_season(self, rules: list[Rule], n: int) -> None:
        """Cases a seasonal rule would take in its window, reported outside it: another rule (or none) decides."""
        for rule in self.rng.sample(rules, min(n, len(rules))):
            day = (
                datetime.combine(rule.valid_to, datetime.min.time()) + timedelta(days=self.rng.randint(10, 60))
                if rule.valid_to
                else datetime.combine(rule.valid_from, datetime.min.time()) - timedelta(days=10)
            )
            case = self.case_for(rule, day)
            if case is None:
                continue
            winner = winning_rule(self.rs, case)
            by = f"{winner.id} ({kind_of(self.rs, winner)}) decides" if winner else "no rule decides"
            self.add(case, f"out of season: {rule.id} (window {window_text(rule)}) does not apply; {by}")

    def no_match(self, n: int) -> None:
        """Cases no rule matches: urgent items go provisional to the local government, others manual."""
        want = {Status.PROVISIONAL: n, Status.MANUAL: n}
        sources = self.rs.manifest.sources
        urgent_items = [c for c in self.items if self.rs.item_urgent(c)] or self.items
        for _ in range(200 * n):
            if not any(want.values()):
                return
            items = urgent_items if want[Status.PROVISIONAL] and self.rng.random() < 0.7 else self.items
            case = Case(
                "",
                self.rng.choice(items),
                self.rng.choice(self.areas),
                self.rng.choice(sources),
                self.moment(ORDINARY_DAY + timedelta(days=self.rng.randint(0, 20))),
            )
            if winning_rule(self.rs, case) is not None:
                continue
            urgent = self.rs.item_urgent(case.event)
            status = Status.PROVISIONAL if urgent and self.rs.local_department(case.area) else Status.MANUAL
            if want[status] == 0:
                continue
            want[status] -= 1
            if status is Status.PROVISIONAL:
                note = "no match, urgent item: provisional to the local government (先行处置), difficult case"
            else:
                note = "no match: manual (seat operators)" + (", urgent but no local government" if urgent else "")
            self.add(case, note)


def golden_rows(ruleset: RuleSet, seed: int = DEFAULT_SEED, per_kind: int = PER_KIND) -> list[tuple[str, ...]]:
    """The golden file's rows (without the header), reproducible for a rule set and a seed."""
    rng = random.Random(seed)
    b = _Builder(ruleset, rng)
    by_kind: dict[str, list[Rule]] = {}
    for rule in ruleset.rules:
        by_kind.setdefault(kind_of(ruleset, rule), []).append(rule)
    for kind in KINDS + tuple(k for k in by_kind if k not in KINDS):
        rules = by_kind.get(kind, [])
        # every priority override: there are few, and each pre-empts a whole item
        b.rule_cases(kind, rules, len(rules) if kind == "priority override" else per_kind)
        if kind == "seasonal window":
            b.out_of_season(rules, per_kind // 2)
    local = [r for r in ruleset.rules if r.department == LOCAL and kind_of(ruleset, r) == "town override"]
    b.rule_cases("@local town override", local, per_kind // 4)
    b.no_match(NO_MATCH_PER_STATUS * per_kind // PER_KIND)
    return b.rows


def golden_csv(rows: list[tuple[str, ...]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def write_golden(
    ruleset_dir: str | Path, out_csv: str | Path, seed: int = DEFAULT_SEED, per_kind: int = PER_KIND
) -> int:
    """Write golden cases approved from the rule set in `ruleset_dir`; return how many."""
    rows = golden_rows(load_ruleset(ruleset_dir), seed, per_kind)
    Path(out_csv).write_bytes(golden_csv(rows))
    return len(rows)
