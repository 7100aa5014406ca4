"""`dispatch test`: golden files read and refused, run on the compiled path, JUnit XML, rule coverage, a changed rule set."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from dispatch.cli import main
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.explain import explain_case
from dispatch.core.load import load_ruleset
from dispatch.core.reference import dispatch_case
from dispatch.synth.golden import golden_csv, golden_rows
from dispatch.tools.golden.golden import GoldenCase, GoldenError, read_golden, run_golden
from tests.changes import DAXING, NEW_RULE, Changes, changed_daxing

MINI = Path(__file__).parents[1] / "data" / "mini"
GOLDEN = DAXING / "golden.csv"
HEADER = "id,event,area,source,reported_at,expected_department,expected_status,expected_rule,note\n"
MINI_GOLDEN = HEADER + (
    "G1,06010002,110115005001,grid,2025-12-01T08:00:00+08:00,dx-cgw,auto,MUN-1,district default\n"
    "G2,06010002,110115005201,grid,2025-12-01T08:00:00+08:00,gov-110115005,auto,MUN-2,village split to @local\n"
    "G3,06010001,110115103201,grid,2025-12-01T08:00:00+08:00,gov-110115103,auto,MUN-3,town override\n"
    'G4,06042001,110115005001,grid,2025-12-01T08:00:00+08:00,,manual,,"no rule, not urgent"\n'
)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["test", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, text: str, name: str = "golden.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def daxing(daxing_dispatcher) -> Dispatcher:
    return daxing_dispatcher


@pytest.fixture(scope="module")
def changed(tmp_path_factory) -> Changes:
    return changed_daxing(tmp_path_factory.mktemp("changed") / "daxing")


@pytest.fixture(scope="module")
def changed_dispatcher(changed) -> Dispatcher:
    return Dispatcher(load_ruleset(changed.root))


def outcome(ruleset, g: GoldenCase) -> tuple:
    d = dispatch_case(ruleset, g.case())
    return d.status.value, d.department.code if d.department else "", d.rule.id if d.rule else ""


def expected(g: GoldenCase) -> tuple:
    return g.expected_status, g.expected_department, g.expected_rule


# -- the committed golden file --------------------------------------------------------------


def test_committed_golden_file_passes_on_daxing(capsys):
    code, out, _ = run(capsys, str(DAXING), "--cases", str(GOLDEN))
    assert code == 0, out
    n = len(read_golden(GOLDEN))
    assert 300 <= n <= 1500
    assert f"ok: {n} of {n} golden case(s) passed, 0 failed" in out
    assert "rule coverage " in out and "rules decided a golden case" in out


def test_committed_golden_file_is_reproducible_and_covers_every_kind(daxing):
    rows = golden_rows(daxing.ruleset)
    assert golden_csv(rows) == GOLDEN.read_bytes(), "run python -m dispatch.synth golden rules/daxing rules/daxing/golden.csv"
    notes = [r[-1] for r in rows]
    for kind in ("district default", "town override", "grid-type split", "basic-grid exception", "unit-grid rule",
                 "@local", "seasonal window", "out of season", "safety source", "12345 source", "priority override",
                 "catch-all", "no match, urgent item: provisional", "no match: manual", "after the weekend",
                 "National Day", "make-up Saturday", "evening report", "area of class A", "area of class C"):  # fmt: skip
        assert any(kind in n for n in notes), kind
    statuses = {r[6] for r in rows}
    assert statuses == {"auto", "provisional", "manual"}


def test_golden_expectations_hold_on_both_matchers(daxing):
    report = run_golden(daxing, read_golden(GOLDEN))
    assert not report.failures
    for g in read_golden(GOLDEN)[::7]:
        assert outcome(daxing.ruleset, g) == expected(g)
    assert 0 < report.coverage < 1


def test_a_golden_due_time_is_checked_as_an_instant_and_a_wrong_one_fails(daxing, tmp_path):
    cases = [g for g in read_golden(GOLDEN) if g.expected_due is not None]
    assert len(cases) >= 8 and not run_golden(daxing, cases).failures
    g = cases[0]
    same_instant = replace(g, expected_due=g.expected_due.astimezone(UTC))  # another offset, the same instant
    an_hour_late = replace(g, expected_due=g.expected_due + timedelta(hours=1))
    report = run_golden(daxing, [same_instant, an_hour_late])
    (failed,) = report.failures
    assert failed.case is an_hour_late and failed.mismatches == ("due",)
    assert any(line.startswith("expected") and "due " in line for line in failed.diff())
    bad = tmp_path / "g.csv"
    bad.write_text(GOLDEN.read_text(encoding="utf-8").replace(g.expected_due.isoformat(), "2026-05-18 11:00", 1))
    with pytest.raises(GoldenError, match="expected_due"):
        read_golden(bad)


# -- a changed copy: exactly the golden cases whose expectation no longer holds ---------------


def test_changed_copy_fails_exactly_the_cases_that_moved(changed, changed_dispatcher, daxing):
    golden = read_golden(GOLDEN)
    report = run_golden(changed_dispatcher, golden)
    failed = {o.case.id for o in report.failures}
    # computed apart, with the reference matcher on the new rule set
    broken = {g.id for g in golden if outcome(changed_dispatcher.ruleset, g) != expected(g)}
    moved = {g.id for g in golden if outcome(changed_dispatcher.ruleset, g) != outcome(daxing.ruleset, g)}
    assert failed == broken == moved
    assert {changed.moved_case, changed.override_case, changed.removed_case} <= failed
    by_id = {o.case.id: o for o in report.failures}
    assert by_id[changed.override_case].rule == NEW_RULE and by_id[changed.override_case].mismatches[0] == "department"
    assert by_id[changed.removed_case].rule != changed.removed_rule


def test_cli_on_the_changed_copy_prints_the_diff_and_writes_junit(capsys, changed, changed_dispatcher, tmp_path):
    junit = tmp_path / "golden.xml"
    code, out, _ = run(capsys, str(changed.root), "--cases", str(GOLDEN), "--junit", str(junit))
    assert code == 1
    golden = read_golden(GOLDEN)
    broken = sorted(g.id for g in golden if outcome(changed_dispatcher.ruleset, g) != expected(g))
    assert sorted(line.split()[1] for line in out.splitlines() if line.startswith("FAIL ")) == broken
    block = out[out.index(f"FAIL {changed.override_case} ") :].split("\n\n")[0]
    assert "  got       auto " in block and f"rule {NEW_RULE}" in block
    assert f"lost: less specific area: district 110115 vs town {changed.override_town}" in block
    assert f"FAILED: {len(golden) - len(broken)} of {len(golden)} golden case(s) passed, {len(broken)} failed" in out

    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert root.tag == "testsuites" and int(suite.get("failures")) == len(broken) == int(root.get("failures"))
    cases = suite.findall("testcase")
    assert len(cases) == len(golden) and {c.get("classname") for c in cases} == {str(GOLDEN)}
    failing = sorted(c.get("name") for c in cases if c.find("failure") is not None)
    assert failing == broken
    first = next(c for c in cases if c.get("name") == changed.override_case).find("failure")
    assert "expected" in first.get("message") and NEW_RULE in first.text

    code, out, _ = run(capsys, str(changed.root), "--cases", str(GOLDEN), "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["failed"] == len(broken) and sorted(f["id"] for f in doc["failures"]) == broken


def test_explain_on_the_changed_copy_says_what_moved(changed, changed_dispatcher):
    golden = {g.id: g for g in read_golden(GOLDEN)}
    x = explain_case(changed_dispatcher, golden[changed.override_case].case())
    assert [r.rule.id for r in x.ranked[:2]] == [NEW_RULE, changed.override_loser]
    assert x.ranked[1].why == f"less specific area: district 110115 vs town {changed.override_town}"
    x = explain_case(changed_dispatcher, golden[changed.removed_case].case())
    assert changed.removed_rule not in [r.rule.id for r in x.ranked] and x.agree
    x = explain_case(changed_dispatcher, golden[changed.moved_case].case())
    parents = [n.code for n in changed_dispatcher.ruleset.events.path(changed.moved_item)]
    assert changed.new_parent in parents and changed.old_parent not in parents
    assert all(r.rule.event != changed.old_parent for r in x.ranked) and x.agree


# -- reading: JSON lines, unknown codes, malformed files ---------------------------------------


def test_json_lines_read_like_csv(tmp_path):
    csv_cases = read_golden(write(tmp_path, MINI_GOLDEN))
    lines = [json.dumps({k: getattr(c, k) if k != "reported_at" else c.reported_at.isoformat() for k in
                         ("id", "event", "area", "source", "reported_at", "expected_department", "expected_status",
                          "expected_rule", "note") if k != "expected_department" or c.expected_department},
                        ensure_ascii=False) for c in csv_cases]  # a manual case may leave the department out; fmt: skip
    assert '"expected_department"' not in lines[3]
    json_cases = read_golden(write(tmp_path, "\n".join(lines) + "\n\n", "golden.jsonl"))
    strip = [(c.id, c.event, c.area, c.source, c.reported_at, c.expected_department, c.expected_status) for c in csv_cases]
    assert strip == [(c.id, c.event, c.area, c.source, c.reported_at, c.expected_department, c.expected_status)
                     for c in json_cases]  # fmt: skip
    assert json_cases[1].place.line == 2


def test_unknown_codes_fail_their_case_not_the_run(capsys, tmp_path):
    text = MINI_GOLDEN + "G5,06010002,nowhere,grid,2025-12-01T08:00:00+08:00,dx-cgw,auto,,unknown area\n"
    code, out, _ = run(capsys, str(MINI), "--cases", str(write(tmp_path, text)))
    assert code == 1
    assert "FAIL G5 (" in out and "got       error request.unknown_area: unknown area code 'nowhere'" in out
    assert "FAILED: 4 of 5 golden case(s) passed, 1 failed" in out


@pytest.mark.parametrize(
    ("text", "name", "where"),
    [
        ("id,event,area\nG1,06010002,110115\n", "golden.csv", ":1: csv.missing_column"),
        (MINI_GOLDEN + "G9,06010002\n", "golden.csv", ":6: csv.field_count"),
        (MINI_GOLDEN.replace("dx-cgw,auto,MUN-1", "dx-cgw,automatic,MUN-1"), "golden.csv", ":2:7: value.status"),
        (MINI_GOLDEN.replace("2025-12-01T08:00:00+08:00", "tomorrow", 1), "golden.csv", ":2:5: value.datetime"),
        (MINI_GOLDEN.replace("G2,", "G1,"), "golden.csv", ":3: golden.duplicate_id"),
        (MINI_GOLDEN.replace(",,manual,", ",dx-cgw,manual,"), "golden.csv", ":5:6: golden.inconsistent"),
        (HEADER, "golden.csv", ":1: golden.empty"),
        ('{"id": "G1"}\n{"id": \n', "golden.jsonl", ":2:8: json.malformed"),
        ('{"id": "G1", "event": 6}\n', "golden.jsonl", ":1: golden.bad_case: missing key(s)"),
    ],
)
def test_malformed_golden_file_exits_2_naming_the_place(capsys, tmp_path, text, name, where):
    path = write(tmp_path, text, name)
    code, out, err = run(capsys, str(MINI), "--cases", str(path))
    assert code == 2 and out == ""
    assert f"{path}{where}" in err, err
    assert "not run" in err


def test_cannot_run_without_the_directory_or_the_file(capsys, tmp_path, make_ruleset):
    golden = write(tmp_path, MINI_GOLDEN)
    assert run(capsys, str(tmp_path / "nowhere"), "--cases", str(golden))[0] == 2
    code, _, err = run(capsys, str(MINI), "--cases", str(tmp_path / "none.csv"))
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, str(make_ruleset("kitchen_sink")), "--cases", str(golden))
    assert code == 2 and "rule.conflict" in err and "FAILED: 18 error(s)" in err


# -- rule coverage ----------------------------------------------------------------------------


def test_min_coverage_sets_the_exit_status_and_a_junit_case(capsys, tmp_path):
    golden = write(tmp_path, MINI_GOLDEN)
    junit = tmp_path / "j.xml"
    code, out, _ = run(capsys, str(MINI), "--cases", str(golden), "--min-coverage", "50", "--junit", str(junit))
    assert code == 0
    assert "rule coverage 50.0%: 3 of 6 rules decided a golden case" in out
    assert "rule coverage 50.0% >= --min-coverage 50%" in out
    assert ET.parse(junit).getroot().get("failures") == "0"
    code, out, _ = run(capsys, str(MINI), "--cases", str(golden), "--min-coverage", "50.1%", "--junit", str(junit))
    assert code == 1
    assert "FAILED: 4 of 4 golden case(s) passed, 0 failed; rule coverage 50.0% is below --min-coverage 50.1%" in out
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "1" and root.get("tests") == "5"
    assert root.find("testsuite/testcase[@name='rule coverage >= 50.1%']/failure") is not None
    assert run(capsys, str(MINI), "--cases", str(golden), "--min-coverage", "101")[0] == 2
    code, _, err = run(capsys, str(MINI), "--cases", str(golden), "--junit", str(tmp_path / "no" / "j.xml"))
    assert code == 2 and "--junit: cannot write: " in err


def test_a_golden_case_may_expect_local(capsys, tmp_path):
    """@local is the local government of the case's area, as in a rule: it passes where that office decides."""
    text = MINI_GOLDEN + (
        "G5,06010002,110115005201,grid,2025-12-01T08:00:00+08:00,@local,auto,MUN-2,village: the town's office\n"
        "G6,06010002,110115005001,grid,2025-12-01T08:00:00+08:00,@local,auto,,a community: dx-cgw decides\n"
    )
    code, out, _ = run(capsys, str(MINI), "--cases", str(write(tmp_path, text)))
    assert code == 1
    assert "FAIL G6 (" in out and "FAIL G5" not in out
    assert "FAILED: 5 of 6 golden case(s) passed, 1 failed" in out


def test_golden_codes_that_lost_their_leading_zeros_warn_and_their_cases_say_the_code(capsys, tmp_path):
    text = MINI_GOLDEN.replace("G1,06010002,", "G1,6010002,").replace("G2,06010002,", "G2,6010002,")
    code, out, _ = run(capsys, str(MINI), "--cases", str(write(tmp_path, text)))
    assert code == 1
    warning = next(line for line in out.splitlines() if "code.width" in line)
    assert warning.startswith(f"{tmp_path}/golden.csv:2:")  # at the first such case
    assert "2 golden cases have an event code" in warning and "'06010002'" in warning and "Text" in warning
    assert "did you mean '06010002'?" in out  # each failure says it too
