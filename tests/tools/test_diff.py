"""`dispatch diff`: changed cells and moved cases held to brute force over the reference matcher."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.cli import EXIT_CANNOT_RUN, EXIT_FAILED, EXIT_OK, main
from dispatch.core.case import Case
from dispatch.core.decision import decide
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.errors import CaseError
from dispatch.core.history import read_case_columns
from dispatch.core.model import ANY, LOCAL, RuleSet
from dispatch.core.reference import dispatch_case, winning_rule
from dispatch.core.tree import Tree
from dispatch.core.worktime import Deadline
from dispatch.tools.diff.diff import diff_sides, limit_breaches, load_side
from dispatch.tools.diff.pairing import Side
from dispatch.tools.diff.replay import MANUAL, UNKNOWN
from tests.conftest import read_table, write_table
from tests.strategies import rulesets

DAXING = Path(__file__).resolve().parents[2] / "rules" / "daxing"
SAMPLE = DAXING / "cases-sample.csv"


# -- the oracle: the reference matcher, cell by cell and case by case ------------------------------


def _outcome(decision) -> tuple:
    dept = decision.department.code if decision.department else None
    return (decision.status.value, dept, tuple(u.code for u in decision.co_handlers), decision.deadline)


class Oracle:
    """Reference outcomes of cells; decide() is run once per (winning rule, item, local government).

    `by_class`: the reference's winner is computed once per class of areas it cannot tell
    apart for an item, and every area of `spot` is still computed on its own and must agree.
    rule_matches reads an area only through the area selectors that cover it and its grid
    type, decide() only through its local government; and only rules whose event selector
    covers the item can match. So a class is (the area selectors of those rules on the
    area's path, grid type, local government): on Daxing, 92 classes stand for the 3,953
    areas of item 09009001.
    """

    def __init__(self, ruleset: RuleSet, by_class: bool = False, spot: frozenset[str] = frozenset()):
        self.ruleset = ruleset
        self.cache: dict[tuple, tuple] = {}
        self.by_class = by_class
        self.spot = spot
        self.selectors: dict[str, set[str]] = {}  # item -> area selectors of the rules that can match it
        self.classes: dict[tuple[str, str], tuple] = {}
        self.winners: dict[tuple, object] = {}

    def area_class(self, item: str, area: str) -> tuple:
        found = self.classes.get((item, area))
        if found is None:
            rs = self.ruleset
            if item not in self.selectors:
                self.selectors[item] = {r.area for r in rs.rules if r.event == ANY or rs.events.covers(r.event, item)}
            on_path = tuple(a.code for a in rs.areas.path(area) if a.code in self.selectors[item])
            found = self.classes[item, area] = (on_path, rs.grid_type_of(area), rs.local_department(area))
        return found

    def winner(self, case: Case):
        if not self.by_class:
            return winning_rule(self.ruleset, case)
        key = (case.event, self.area_class(case.event, case.area), case.source, case.reported_at)
        if key not in self.winners:
            self.winners[key] = winning_rule(self.ruleset, case)
        elif case.area in self.spot:
            assert winning_rule(self.ruleset, case) is self.winners[key], (case, "differs from its class")
        return self.winners[key]

    def cell(self, item: str, area: str, source: str, day: date) -> tuple:
        case = Case("c", item, area, source, datetime.combine(day, time()))
        rule = self.winner(case)
        local = self.area_class(item, area)[-1] if self.by_class else self.ruleset.local_department(area)
        key = (rule.id if rule else None, item, local)
        if key not in self.cache:
            self.cache[key] = _outcome(decide(self.ruleset, case, rule))
        return self.cache[key]


def stretch_days(stretch: tuple[date | None, date | None], ends: bool) -> list[date]:
    """A day of a stretch, or (`ends`) its first and its last: both must answer as the stretch does."""
    lo, hi = stretch
    if lo is None and hi is None:
        return [date(2026, 3, 1)]
    if lo is None:
        return [hi - timedelta(days=400), hi - timedelta(days=1)][not ends :]
    if hi is None:
        return [lo, lo + timedelta(days=400)][: 1 + ends]
    return sorted({lo, hi - timedelta(days=1)})[: 1 + ends]


def brute_cells(old: RuleSet, new: RuleSet, items, areas, sources, stretches, ends: bool = True,
                by_class: bool = False) -> set[tuple]:  # fmt: skip
    """Every (item, area, source, stretch, old outcome, new outcome) that changes, by the reference.

    `ends`: look at the first and the last day of every stretch, not only one day.
    `by_class`: one reference winner per class of areas (see Oracle), every 40th area checked on its own.
    """
    spot = frozenset(areas[::40])
    a, b = Oracle(old, by_class, spot), Oracle(new, by_class, spot)
    found = set()
    for item in items:
        for area in areas:
            for source in sources:
                for x, stretch in enumerate(stretches):
                    for day in stretch_days(stretch, ends):
                        oa, ob = a.cell(item, area, source, day), b.cell(item, area, source, day)
                        if oa != ob:
                            found.add((item, area, source, x, oa, ob))
    return found


def expand_groups(report) -> set[tuple]:
    """The cells the report's groups stand for, each with its old and new outcome."""
    old, new = report.old.ruleset, report.new.ruleset
    old_items = set(old.events.leaves())
    found: set[tuple] = set()
    total = 0
    for g in report.cells.groups:
        items = [c for root in g.events for c in new.events.order[new.events.pos(root) : new.events.end(root)]
                 if new.events.is_leaf(c) and c in old_items]  # fmt: skip
        areas = [c for root in g.areas for c in new.areas.order[new.areas.pos(root) : new.areas.end(root)]
                 if c in old.areas] + list(g.lone_areas)  # fmt: skip
        assert len(items) == g.items and len(areas) == g.area_count
        cells = {(i, a, s, x, tuple(g.old), tuple(g.new)) for i in items for a in areas for s in g.sources
                 for x in g.stretches}  # fmt: skip
        assert len(cells) == g.cells
        total += g.cells
        found |= cells
    assert total == len(found) == report.cells.changed  # groups are disjoint and add up
    return found


def reference_department(ruleset: RuleSet, case: Case) -> str:
    try:
        decision = dispatch_case(ruleset, case)
    except CaseError:
        return UNKNOWN
    return decision.department.code if decision.department else MANUAL


def reference_departments(ruleset: RuleSet, history) -> list[str]:
    """The reference's department (or MANUAL, UNKNOWN) of every case of a history, in order."""
    ids, events, areas, sources, stamps = (history.column(c) for c in ("id", "event", "area", "source", "reported_at"))
    return [reference_department(ruleset, Case(i, e, a, s, datetime.fromisoformat(t)))
            for i, e, a, s, t in zip(ids, events, areas, sources, stamps, strict=True)]  # fmt: skip


def brute_moves(old: RuleSet | list[str], new: RuleSet, history) -> dict[str, tuple[str, str]]:
    """case id -> (old department, new department) of every case that moves, by the reference.

    `old`: the old rule set, or its reference_departments() over the history already.
    """
    before = reference_departments(old, history) if isinstance(old, RuleSet) else old
    after = reference_departments(new, history)
    return {i: (a, b) for i, a, b in zip(history.column("id"), before, after, strict=True) if a != b}


# -- Daxing and three changed copies of it ---------------------------------------------------------


@pytest.fixture(scope="module")
def daxing(daxing_dispatcher) -> Side:
    # as load_side(DAXING, "old") makes it, from the session's Daxing
    return Side(str(DAXING), daxing_dispatcher.ruleset, daxing_dispatcher)


@pytest.fixture(scope="module")
def sample():
    return read_case_columns(SAMPLE)


@pytest.fixture(scope="module")
def sample_departments(daxing, sample) -> list[str]:
    """Daxing's reference departments of the sample cases: the old side of every changed copy."""
    return reference_departments(daxing.ruleset, sample)


def changed_copy(root: Path, edit) -> Side:
    shutil.copytree(DAXING, root)
    (root / "cases-sample.csv").unlink()
    edit(root)
    return load_side(root, "new")


def rewrite(path: Path, change) -> None:
    """Rewrite a rule file row by row: change(row dict) -> row dict, or None to drop the row."""
    header, rows = read_table(path)
    kept = []
    for row in rows:
        new = change(dict(zip(header, row, strict=True)))
        if new is not None:
            kept.append([new[h] for h in header])
    write_table(path, header, kept)


def assert_diff_is_exact(old: Side, new: Side, history, old_departments, items, areas) -> object:
    """The diff's cells equal brute force over the affected items x areas; nothing outside them
    changes; its moved cases equal the reference's over the whole history."""
    report = diff_sides(old, new, history)
    got = expand_groups(report)
    # one day a stretch: the generated sets' test looks at both ends of every stretch
    want = brute_cells(old.ruleset, new.ruleset, items, areas, old.ruleset.manifest.sources, report.cells.stretches,
                       ends=False, by_class=True)  # fmt: skip
    assert want, "the edit must change some cell"
    item_set, area_set = set(items), set(areas)
    assert {c for c in got if c[0] in item_set and c[1] in area_set} == want
    assert got == want  # and no cell outside the affected ones
    moves = brute_moves(old_departments, new.ruleset, history)
    assert moves, "the edit must move some case"
    assert {history.value("id", j) for j in report.replay.moved_at.tolist()} == set(moves)
    assert {(m.old, m.new): m.cases for m in report.replay.moves} == dict(Counter(moves.values()))
    for m in report.replay.moves:
        assert all(moves[i] == (m.old, m.new) for i in m.examples)
    return report


def items_under(ruleset: RuleSet, code: str) -> list[str]:
    return [c for c in ruleset.events.leaves() if ruleset.events.covers(code, c)]


def areas_under(ruleset: RuleSet, code: str) -> list[str]:
    return [c for c in ruleset.areas.order if ruleset.areas.covers(code, c)]


def test_a_moved_item(tmp_path, daxing, sample, sample_departments):
    # every rule of item 09009001 (1,055 sample cases) re-pointed from the supervision team to enforcement
    def edit(root: Path) -> None:
        rewrite(root / "rules" / "municipal.csv",
                lambda r: {**r, "department": "dx-cgzf"} if r["event"] == "09009001" else r)  # fmt: skip

    new = changed_copy(tmp_path / "moved", edit)
    areas = list(daxing.ruleset.areas.order)
    report = assert_diff_is_exact(daxing, new, sample, sample_departments, ["09009001"], areas)
    assert report.codes.rules_changed and not report.codes.rules_added
    assert {(m.old, m.new) for m in report.replay.moves} == {("dx-jgzd", "dx-cgzf")}


def test_b_a_new_town_override(tmp_path, daxing, sample, sample_departments):
    # one category (05, 9 items) in one town (110115001, 94 areas) to enforcement, above every other rule
    def edit(root: Path) -> None:
        header, _ = read_table(root / "rules" / "local.csv")
        row = dict.fromkeys(header, "") | {"id": "OVR-000001", "event": "05", "area": "110115001",
                                           "department": "dx-cgzf", "priority": "5", "basis": "test override"}  # fmt: skip
        write_table(root / "rules" / "override.csv", header, [[row[h] for h in header]])

    new = changed_copy(tmp_path / "override", edit)
    rs = daxing.ruleset
    items, areas = items_under(rs, "05"), areas_under(rs, "110115001")
    report = assert_diff_is_exact(daxing, new, sample, sample_departments, items, areas)
    assert report.codes.rules_added == ["OVR-000001"]
    assert all(g.new_rule.id == "OVR-000001" for g in report.cells.groups)
    assert {m.new for m in report.replay.moves} == {"dx-cgzf"}


def test_c_a_removed_rule(tmp_path, daxing, sample, sample_departments):
    # LOC-000731: item 06010001 in town 110115004 to the local government; villages keep LOC-000730
    def edit(root: Path) -> None:
        rewrite(root / "rules" / "local.csv", lambda r: None if r["id"] == "LOC-000731" else r)

    new = changed_copy(tmp_path / "removed", edit)
    areas = areas_under(daxing.ruleset, "110115004")
    report = assert_diff_is_exact(daxing, new, sample, sample_departments, ["06010001"], areas)
    assert report.codes.rules_removed == ["LOC-000731"]
    assert {g.old_rule.id for g in report.cells.groups} <= {"LOC-000731"}


def test_identical_sets_differ_in_nothing(daxing, sample):
    report = diff_sides(daxing, daxing, sample)
    assert report.unchanged and report.cells.changed == 0 and report.cells.groups == []
    assert report.cells.compared == 769 * 3953 * 4 * len(report.cells.stretches)
    assert report.replay.moved == 0 and report.replay.replayed == 20_000
    assert limit_breaches(report, max_moved=0, allow=set()) == []


# -- generated rule sets: every cell against brute force ---------------------------------------------


EDIT = st.sampled_from(["keep"] * 4 + ["drop", "department", "priority", "area"])
PRIORITY_STEP = st.sampled_from([-1, 1, 20])


def _mutated(data, ruleset: RuleSet) -> RuleSet:
    """Another version of `ruleset`: rules dropped, re-pointed, re-prioritised or re-scoped, a local
    government lost, an item's standard changed, a leaf area or item removed."""
    departments = dict(ruleset.departments)
    dept_codes = sorted(departments) + [LOCAL]
    areas = list(ruleset.areas)
    events = list(ruleset.events)
    leaf_areas = [a.code for a in areas if ruleset.areas.is_leaf(a.code) and a.parent is not None]
    gone_area = data.draw(st.sampled_from([None, *leaf_areas]))
    if gone_area is not None:
        areas = [a for a in areas if a.code != gone_area]
    leaf_events = [e.code for e in events if ruleset.events.is_leaf(e.code) and e.parent is not None]
    gone_event = data.draw(st.sampled_from([None, *leaf_events]))
    if gone_event is not None:
        events = [e for e in events if e.code != gone_event]
    if data.draw(st.booleans()):
        leaves = [j for j, e in enumerate(events) if all(x.parent != e.code for x in events)]
        j = data.draw(st.sampled_from(leaves))
        events[j] = replace(events[j], deadline=Deadline((events[j].deadline or Deadline(100, 'h')).hundredths + 100, 'h'), urgent=not events[j].urgent)
    governors = [d for d in departments.values() if d.governs]
    if governors and data.draw(st.booleans()):
        lost = data.draw(st.sampled_from(governors))
        departments[lost.code] = replace(lost, governs=None)
    for code, dept in departments.items():
        if dept.governs == gone_area:
            departments[code] = replace(dept, governs=None)
    grid_types = {a.grid_type for a in areas if a.grid_type}
    # strategies built once, not for every rule (hypothesis validates each new one on its first draw)
    dept_st, area_st = st.sampled_from(dept_codes), st.sampled_from(["*", *(a.code for a in areas)])
    rules = []
    for rule in ruleset.rules:
        if gone_area == rule.area or gone_event == rule.event or (rule.grid_type and rule.grid_type not in grid_types):
            continue  # what validation would refuse
        what = data.draw(EDIT)
        if what == "drop":
            continue
        if what == "department":
            rule = replace(rule, department=data.draw(dept_st))
        elif what == "priority":
            rule = replace(rule, priority=rule.priority + data.draw(PRIORITY_STEP))
        elif what == "area":
            rule = replace(rule, area=data.draw(area_st), grid_type=None)
        rules.append(rule)
    return RuleSet(ruleset.manifest, Tree(events), Tree(areas), departments, tuple(rules), version="mutated")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_changed_cells_equal_brute_force_on_generated_sets(data):
    old = data.draw(rulesets(max_rules=15))
    new = _mutated(data, old)
    report = diff_sides(Side("old", old, Dispatcher(old)), Side("new", new, Dispatcher(new)))
    items = [c for c in new.events.leaves() if c in set(old.events.leaves())]
    areas = [c for c in new.areas.order if c in old.areas]
    assert report.cells.compared == len(items) * len(areas) * len(old.manifest.sources) * len(report.cells.stretches)
    want = brute_cells(old, new, items, areas, old.manifest.sources, report.cells.stretches)
    assert expand_groups(report) == want


# -- the command: exit status, formats, limits ----------------------------------------------------------


CASES = """id,event,area,source,reported_at
K1,06010001,110115005201,grid,2026-03-01T09:00:00+08:00
K2,06010002,110115005001001,12345,2026-03-02T10:00:00+08:00
K3,06010001,110115103201,grid,2026-07-01T11:00:00+08:00
K4,11001001,110115005,safety,2026-03-03T12:00:00+08:00
K5,06042001,110115103401,grid,2026-03-04T13:00:00+08:00
"""


@pytest.fixture
def pair(make_ruleset, tmp_path):
    """mini, and mini with MUN-1 (06010 in the district) re-pointed from dx-cgw to dx-cgzf; a history."""
    old = make_ruleset(name="old")
    new = make_ruleset(name="new")
    rewrite(new / "rules" / "municipal.csv", lambda r: {**r, "department": "dx-cgzf"} if r["id"] == "MUN-1" else r)
    cases = tmp_path / "cases.csv"
    cases.write_text(CASES)
    return old, new, cases


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["diff", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_identical_sets_exit_0(capsys, make_ruleset, tmp_path):
    old, new = make_ruleset(name="a"), make_ruleset(name="b")
    (tmp_path / "cases.csv").write_text(CASES)
    code, out, _ = run(capsys, old, new, "--cases", tmp_path / "cases.csv", "--max-moved", 0, "--allow-departments", "")
    assert code == EXIT_OK
    assert out.rstrip().splitlines()[-1].startswith("ok: no change")


def test_a_change_is_reported_and_limits_decide_the_exit(capsys, pair):
    old, new, cases = pair
    code, out, _ = run(capsys, old, new, "--cases", cases)
    assert code == EXIT_OK
    assert "        1  dx-cgw 区城市管理委员会 -> dx-cgzf 区城管执法局  e.g. K2" in out  # the other 06010 cases have other rules
    assert run(capsys, old, new, "--cases", cases, "--max-moved", 1)[0] == EXIT_OK
    code, out, _ = run(capsys, old, new, "--cases", cases, "--max-moved", 0)
    assert code == EXIT_FAILED and "1 cases move department, more than --max-moved 0" in out
    assert run(capsys, old, new, "--cases", cases, "--allow-departments", "dx-cgw,dx-cgzf")[0] == EXIT_OK
    code, out, _ = run(capsys, old, new, "--cases", cases, "--allow-departments", "dx-cgw")
    assert code == EXIT_FAILED and "department dx-cgzf (区城管执法局) is outside --allow-departments" in out
    # without cases the changed cells alone decide
    assert run(capsys, old, new, "--allow-departments", "dx-cgzf")[0] == EXIT_FAILED
    code, _, err = run(capsys, old, new, "--allow-departments", "dx-cgw,dx-cgfz")
    assert code == EXIT_CANNOT_RUN and "no such department: dx-cgfz" in err
    # an empty list (an unset CI variable, say) allows no department: any change fails, closed
    assert run(capsys, old, new, "--allow-departments", " , ")[0] == EXIT_FAILED


def test_allow_list_local_stands_for_every_local_government(capsys, make_ruleset):
    old = make_ruleset(name="old")
    new = make_ruleset(name="new")
    rewrite(new / "rules" / "municipal.csv", lambda r: {**r, "department": "@local"} if r["id"] == "MUN-1" else r)
    assert run(capsys, old, new, "--allow-departments", "dx-cgw")[0] == EXIT_FAILED
    assert run(capsys, old, new, "--allow-departments", "dx-cgw,@local")[0] == EXIT_OK


def test_json_parses_and_agrees_with_the_text(capsys, pair):
    old, new, cases = pair
    _, text, _ = run(capsys, old, new, "--cases", cases)
    code, out, _ = run(capsys, old, new, "--cases", cases, "--format", "json", "--max-moved", 5)
    doc = json.loads(out)
    assert code == EXIT_OK and doc["ok"] and doc["changed"] and doc["limits"]["max_moved"] == 5
    assert set(doc) >= {"old", "new", "codes", "cells", "cases", "breaches"}
    cells = doc["cells"]
    assert f"  cells     {cells['changed']:,} of {cells['compared']:,} change outcome" in text
    assert sum(g["cells"] for g in cells["groups"]) == cells["changed"]
    assert doc["cases"]["moves"] == [{"from": "dx-cgw", "to": "dx-cgzf", "cases": 1, "examples": ["K2"]}]
    assert {row["department"]: row["delta"] for row in doc["cases"]["load"]} == {"dx-cgzf": 1, "dx-cgw": -1,
                                                                                 "gov-110115005": 0, "gov-110115103": 0,
                                                                                 "dx-yjj": 0, "manual": 0}  # fmt: skip
    group = cells["groups"][0]
    assert group["old"]["rule"]["id"] == "MUN-1" and group["new"]["department"] == "dx-cgzf"


def test_markdown_has_its_tables(capsys, pair):
    old, new, cases = pair
    code, out, _ = run(capsys, old, new, "--cases", cases, "--format", "markdown", "--max-moved", 0)
    assert code == EXIT_FAILED
    assert out.startswith("### dispatch diff: ")
    assert "| cells | items | areas | sources | days | old | new |" in out
    assert "| dx-cgw 区城市管理委员会 | dx-cgzf 区城管执法局 | 1 | K2 |" in out
    assert "- 1 cases move department, more than --max-moved 0" in out


def test_codes_in_one_set_only_are_reported_not_compared(capsys, make_ruleset):
    old = make_ruleset(name="old")
    new = make_ruleset(name="new")
    header, rows = read_table(new / "taxonomy.csv")
    write_table(new / "taxonomy.csv", header, [*rows, ["06042002", "垃圾桶破损", "06042", "", "false", "", "", ""]])
    code, out, _ = run(capsys, old, new)
    assert code == EXIT_OK
    assert "items +1 -0" in out and "items only in new: 06042002" in out
    assert "ok: 0 cells change outcome" in out


def test_cannot_run(capsys, make_ruleset, pair, tmp_path):
    old, new, _ = pair
    code, _, err = run(capsys, old, tmp_path / "nowhere")
    assert code == EXIT_CANNOT_RUN and "not a directory" in err
    bad = make_ruleset("kitchen_sink", name="bad")
    code, out, _ = run(capsys, old, bad)
    assert code == EXIT_CANNOT_RUN
    assert f"{bad}/areas.csv:12: area.unknown_parent: " in out and "cannot diff: new rule set" in out
    code, out, _ = run(capsys, bad, new, "--format", "json")
    doc = json.loads(out)
    assert code == EXIT_CANNOT_RUN and not doc["ok"] and doc["diagnostics"][0]["code"]
    broken = make_ruleset("rule_conflict_outcomes", name="broken")
    code, out, _ = run(capsys, bad, broken)
    assert code == EXIT_CANNOT_RUN and "cannot diff: old rule set" in out and " and new rule set " in out
    assert f"{bad}/areas.csv:12: " in out and f"{broken}/rules/" in out
    broken = tmp_path / "broken.csv"
    broken.write_text(CASES.replace("2026-03-04T13:00:00+08:00", "yesterday"))
    code, out, _ = run(capsys, old, new, "--cases", broken)
    assert code == EXIT_CANNOT_RUN and f"{broken}:6:5: value.datetime: reported_at 'yesterday'" in out
    short = tmp_path / "short.csv"
    short.write_text(CASES + "K6,06010001\n")
    code, out, _ = run(capsys, old, new, "--cases", short)
    assert code == EXIT_CANNOT_RUN and f"{short}:7: csv.field_count" in out
    assert run(capsys, old, new, "--cases", tmp_path / "none.csv")[0] == EXIT_CANNOT_RUN


def test_history_reads_alike_plain_or_quoted(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text(CASES.replace(",grid,", ", grid ,") + "\n\n")
    quoted = tmp_path / "quoted.csv"
    quoted.write_text(CASES.replace("K1,", '"K1",'))
    a, b = read_case_columns(plain), read_case_columns(quoted)
    assert a.column("source") == b.column("source") == ["grid", "12345", "grid", "safety", "grid"]
    assert a.column("id") == b.column("id") == ["K1", "K2", "K3", "K4", "K5"]
    assert a.lines.tolist() == b.lines.tolist() == [2, 3, 4, 5, 6]
    for column in ("id", "event", "area", "source", "reported_at"):
        assert a.joined(column).tobytes() == b.joined(column).tobytes()


def test_history_fast_path_reads_like_the_csv_reader(tmp_path):
    # a plain file is cut by numpy; add a quote anywhere and read_csv reads it: same columns
    text = "reported_at,source,id,area,event\n\n" + "".join(
        f"2026-03-0{1 + j % 9}T09:00:00+08:00,grid,K{j},110115005,0601000{j % 3}\n" for j in range(40))
    plain, quoted = tmp_path / "plain.csv", tmp_path / "quoted.csv"
    plain.write_text(text.rstrip("\n"))  # no line end after the last case
    quoted.write_text(text.replace("K7,", '"K7",'))
    a, b = read_case_columns(plain), read_case_columns(quoted)
    assert len(a) == len(b) == 40 and a.lines.tolist() == b.lines.tolist() == list(range(3, 43))
    for column in ("id", "event", "area", "source", "reported_at"):
        assert a.column(column) == b.column(column)


def test_at_compares_one_day(capsys, make_ruleset):
    # MUN-4 (06, 12345, summer 2026) changed: only summer days differ
    old = make_ruleset(name="old")
    new = make_ruleset(name="new")
    rewrite(new / "rules" / "municipal.csv", lambda r: {**r, "department": "dx-cgw"} if r["id"] == "MUN-4" else r)
    code, out, _ = run(capsys, old, new, "--at", "2026-03-01", "--format", "json")
    assert code == EXIT_OK and json.loads(out)["cells"]["changed"] == 0
    _, out, _ = run(capsys, old, new, "--at", "2026-07-01", "--format", "json")
    doc = json.loads(out)
    assert doc["cells"]["changed"] > 0 and doc["cells"]["stretches"] == [{"from": "2026-07-01", "to": "2026-07-02"}]
    _, out, _ = run(capsys, old, new)
    assert "| 12345 | 2026-06-01..2026-09-15" in out


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_wide_area_trees_diff_like_brute_force(data):
    # more than 64 columns: windowed rules are listed per block of columns, in both sets
    old = data.draw(rulesets(max_rules=30, max_grids=40))
    new = _mutated(data, old)
    report = diff_sides(Side("old", old, Dispatcher(old)), Side("new", new, Dispatcher(new)))
    items = [c for c in new.events.leaves() if c in set(old.events.leaves())]
    areas = [c for c in new.areas.order if c in old.areas]
    want = brute_cells(old, new, items, areas, old.manifest.sources, report.cells.stretches, ends=False)
    assert expand_groups(report) == want


def test_cases_one_set_cannot_read_move_to_or_from_unknown(capsys, make_ruleset, tmp_path):
    old = make_ruleset(name="old")
    new = make_ruleset(name="new")
    header, rows = read_table(new / "taxonomy.csv")
    write_table(new / "taxonomy.csv", header, [*rows, ["06042002", "垃圾桶破损", "06042", "", "false", "", "", ""]])
    rewrite(new / "rules" / "safety.csv", lambda r: None if r["id"] == "SAF-2" else r)  # no rule for K4 then
    cases = tmp_path / "cases.csv"
    cases.write_text(CASES + "K6,06042002,110115005,grid,2026-03-05T09:00:00+08:00\nK7,nothing,110115005,grid,2026-03-05\n")
    code, out, _ = run(capsys, old, new, "--cases", cases, "--format", "json")
    doc = json.loads(out)["cases"]
    assert code == EXIT_OK
    assert doc["cases"] == 7 and doc["replayed"] == 6  # K7 neither set reads
    assert doc["unknown"] == {"old": {"event": 2, "area": 0, "source": 0}, "new": {"event": 1, "area": 0, "source": 0}}
    moves = {(m["from"], m["to"]): m["examples"] for m in doc["moves"]}
    assert moves[(UNKNOWN, MANUAL)] == ["K6"]  # a new item without a rule: to the seat operators
    assert moves[("dx-yjj", "dx-rq")] == ["K4"]  # SAF-2 gone: SAF-1 (category 11) takes the gas leak
    assert {(s["from"], s["to"]): s["cases"] for s in doc["statuses"]} == {(UNKNOWN, "manual"): 1}


def test_an_empty_history_replays_nothing(capsys, pair, tmp_path):
    old, new, _ = pair
    empty = tmp_path / "empty.csv"
    empty.write_text("id,event,area,source,reported_at\n")
    code, out, _ = run(capsys, old, new, "--cases", empty, "--format", "json")
    assert code == EXIT_OK and json.loads(out)["cases"]["replayed"] == 0


def test_a_change_in_one_area_says_1_area(tmp_path, capsys):
    mini = Path(__file__).parents[1] / "data" / "mini"
    new = tmp_path / "new"
    shutil.copytree(mini, new)
    with open(new / "rules" / "municipal.csv", "a", encoding="utf-8") as f:
        f.write("X-1,06010001,110115005001001,,,dx-cgzf,,,,,,b,one unit grid\n")
    assert main(["diff", str(mini), str(new), "--at", "2026-03-01"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "[1 area]" in out and "[1 areas]" not in out
