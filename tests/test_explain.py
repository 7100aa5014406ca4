"""`dispatch explain`: the ranked list is the reference's, the winner the compiled path's, each reason the first key component."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.case import Case
from dispatch.cli import main
from dispatch.dispatcher import Dispatcher
from dispatch.explain import KEY_NAMES, TIE, explain_case, explanation_dict, lost_on, why_lost
from dispatch.explainreport import render_text
from dispatch.load import load_ruleset
from dispatch.model import ANY
from dispatch.reference import matching_rules, rank_key
from tests.strategies import cases_for, rulesets

ROOT = Path(__file__).resolve().parent.parent
DAXING = ROOT / "rules" / "daxing"
MINI = Path(__file__).parent / "data" / "mini"
T = "2025-12-01T07:26:00+08:00"


@pytest.fixture(scope="module")
def daxing() -> Dispatcher:
    return Dispatcher(load_ruleset(DAXING))


def first_difference(a: tuple, b: tuple) -> int:
    """The brute-force reading of "the first component where it lost": TIE when the keys are equal."""
    return next((i for i in range(len(a)) if a[i] != b[i]), TIE)


def assert_explains(dispatcher: Dispatcher, case: Case) -> None:
    ruleset = dispatcher.ruleset
    x = explain_case(dispatcher, case)
    ranked = [r.rule for r in x.ranked]
    assert ranked == matching_rules(ruleset, case)
    decided = dispatcher.dispatch(case)
    assert x.decision == decided
    assert (decided.rule.id if decided.rule else None) == (ranked[0].id if ranked else None)
    assert x.agree
    for r in x.ranked[1:]:
        winner = ranked[0]
        want = first_difference(ruleset.precedence(r.rule), ruleset.precedence(winner))
        assert r.lost_on == want == lost_on(ruleset, r.rule, winner)
        if want < TIE:
            assert ruleset.precedence(r.rule)[want] < ruleset.precedence(winner)[want]
        else:
            assert rank_key(ruleset, r.rule) < rank_key(ruleset, winner) and r.rule.id > winner.id
        assert r.why == why_lost(ruleset, r.rule, winner, want)
    for m in x.near_misses:
        assert m.rule not in ranked
        assert m.rule.area == ANY or ruleset.areas.covers(m.rule.area, case.area)
    json.dumps(explanation_dict(x))  # JSON-ready
    assert render_text(x)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_ranked_list_is_the_reference_and_the_winner_the_compiled_decision(data):
    ruleset = data.draw(rulesets())
    dispatcher = Dispatcher(ruleset)
    for case in data.draw(st.lists(cases_for(ruleset), min_size=1, max_size=10)):
        assert_explains(dispatcher, case)


def test_daxing_sample_cases_explain_alike(daxing):
    with open(DAXING / "cases-sample.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[::40]
    for r in rows:
        assert_explains(daxing, Case(r["id"], r["event"], r["area"], r["source"], datetime.fromisoformat(r["reported_at"])))


def test_reasons_name_the_component_in_words():
    rs = load_ruleset(MINI)
    by_id = {r.id: r for r in rs.rules}
    # MUN-3 (item, town) beats MUN-1 (subcategory, district) on event depth first
    assert why_lost(rs, by_id["MUN-1"], by_id["MUN-3"], lost_on(rs, by_id["MUN-1"], by_id["MUN-3"])) == (
        "less specific event: subcategory 06010 vs item 06010001"
    )
    assert why_lost(rs, by_id["MUN-1"], by_id["MUN-2"], 3) == "no grid type given (winner: village)"
    assert why_lost(rs, by_id["SAF-1"], by_id["SAF-2"], 0) == "lower priority 0 < 10"
    assert why_lost(rs, by_id["MUN-1"], by_id["MUN-4"], 4) == "no source given (winner: 12345)"
    assert why_lost(rs, by_id["MUN-1"], by_id["MUN-4"], 5) == "no date window given (winner: 2026-06-01..2026-09-15)"
    assert why_lost(rs, by_id["MUN-1"], by_id["MUN-1"], TIE).startswith("tie: larger id than MUN-1 (duplicate")
    assert len(KEY_NAMES) == TIE == len(rs.precedence(by_id["MUN-1"]))


def explain_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["explain", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_shows_area_path_local_deadline_and_the_losers(capsys):
    code, out, _ = explain_cli(capsys, "--rules", str(DAXING), "--event", "06010001", "--area", "110115110238001",
                               "--source", "supervisor", "--at", "2025-12-02T09:09:10+08:00", "--id", "C0000065")  # fmt: skip
    assert code == 0
    assert "area      110115 大兴区 (district) > 110115110 魏善庄镇 (town) > " in out
    assert "110115110238 崔店村 (grid, village) > 110115110238001 " in out
    assert "decision  auto -> gov-110115110 魏善庄镇人民政府" in out
    assert "@local    -> gov-110115110 魏善庄镇人民政府: governs 110115110 魏善庄镇" in out
    assert "deadline  4 h from the item standard (set on 06010001), due 2025-12-02T13:09:10+08:00" in out
    assert "rule      LOC-000780 at " in out and "rules/local.csv:781" in out
    assert "matching rules: 4, ranked by (priority, event depth, area depth," in out
    assert "lost: less specific area: district 110115 vs town 110115110" in out


def test_seasonal_case_shows_window_and_near_miss(capsys):
    code, out, _ = explain_cli(capsys, "--rules", str(DAXING), "--event", "28005001", "--area", "110115007401001",
                               "--source", "grid", "--at", "2025-12-05T06:55:25+08:00")  # fmt: skip
    assert code == 0
    assert "lost: no date window given (winner: 2025-11-15..2026-03-15)" in out
    assert "outside window 2026-11-15..2027-03-15 (case day 2025-12-05)" in out
    assert "grid type village != park" in out and "would win" in out


def test_no_match_explains_the_policy(capsys):
    code, out, _ = explain_cli(capsys, "--rules", str(DAXING), "--event", "01023001", "--area", "110115103213",
                               "--source", "grid", "--at", "2025-12-11T21:01:11+08:00")  # fmt: skip
    assert code == 0
    assert "decision  provisional -> gov-110115103 青云店镇人民政府, difficult case" in out
    assert "no rule matches and the item is urgent: the local government acts first" in out
    assert "matching rules: none" in out
    code, out, _ = explain_cli(capsys, "--rules", str(DAXING), "--event", "06019002", "--area", "110115105226002",
                               "--source", "grid", "--at", T)  # fmt: skip
    assert "no rule matches and the item is not urgent: to the seat operators (manual)" in out


def test_rule_override_deadline_names_the_item_standard(capsys):
    code, out, _ = explain_cli(capsys, "--rules", str(MINI), "--event", "06010001", "--area", "110115103201",
                               "--source", "grid", "--at", T)  # fmt: skip
    assert code == 0
    assert "deadline  2 h from the rule override (the item standard is 4 h)" in out
    assert "co        dx-cgw 区城市管理委员会" in out


def test_json_and_case_arguments_agree(capsys, tmp_path):
    doc = {"id": "C9", "event": "06010002", "area": "110115005201", "source": "grid", "reported_at": T}
    code, by_flags, _ = explain_cli(capsys, "--rules", str(MINI), "--event", doc["event"], "--area", doc["area"],
                                    "--source", "grid", "--at", T, "--id", "C9", "--format", "json")  # fmt: skip
    assert code == 0
    code, by_json, _ = explain_cli(capsys, "--rules", str(MINI), "--case", json.dumps(doc), "--format", "json")
    (tmp_path / "case.json").write_text(json.dumps(doc), encoding="utf-8")
    code, by_file, _ = explain_cli(capsys, "--rules", str(MINI), "--case", f"@{tmp_path / 'case.json'}", "--format", "json")
    assert json.loads(by_flags) == json.loads(by_json) == json.loads(by_file)
    x = json.loads(by_json)
    assert x["decision"]["rule"]["id"] == "MUN-2" and x["decision"]["local"]["department"] == "gov-110115005"
    # files relative to the rule set, as /v1/dispatch names them; the text names them as the maintainer opens them
    assert x["decision"]["rule"]["file"] == "rules/municipal.csv"
    assert {m["file"] for m in x["matching"]} == {"rules/municipal.csv"}
    code, text, _ = explain_cli(capsys, "--rules", str(MINI), "--case", json.dumps(doc))
    assert f"rule      MUN-2 at {MINI}/rules/municipal.csv:" in text
    assert [m["id"] for m in x["matching"]] == ["MUN-2", "MUN-1"]
    assert x["matching"][1]["lost_on"] == "grid type given" and x["agree"] is True
    assert [a["code"] for a in x["area_path"]] == ["110115", "110115005", "11011500501", "110115005201"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--event", "06010002", "--area", "nowhere", "--source", "grid"], "request.unknown_area: area: unknown area code"),
        (["--event", "06010", "--area", "110115", "--source", "grid"], "request.not_an_item"),
        (["--event", "06010002", "--area", "110115", "--source", "grid", "--at", "yesterday"], "request.bad_time"),
        (["--case", "{not json"], "--case"),
        (["--case", '{"event": "06010002"}'], "request.invalid"),
        (["--event", "06010002"], "give --event, --area and --source"),
    ],
)
def test_a_case_that_cannot_be_explained_exits_2(capsys, argv, message):
    code, out, err = explain_cli(capsys, "--rules", str(MINI), *argv)
    assert code == 2 and out == ""
    assert message in err


def test_invalid_rule_set_prints_its_diagnostics(capsys, make_ruleset):
    code, _, err = explain_cli(capsys, "--rules", str(make_ruleset("kitchen_sink")), "--event", "x", "--area", "y",
                               "--source", "z")  # fmt: skip
    assert code == 2
    assert "rule.conflict" in err and "is not a valid rule set" in err


def test_a_naive_time_is_shown_in_the_rule_sets_zone(capsys):
    argv = ("--rules", str(MINI), "--event", "06010002", "--area", "110115005201", "--source", "grid",
            "--at", "2026-01-27T10:37:37")  # fmt: skip
    code, out, _ = explain_cli(capsys, *argv)
    assert code == 0
    assert "reported 2026-01-27T10:37:37+08:00 (day 2026-01-27)" in out
    code, out, _ = explain_cli(capsys, *argv, "--format", "json")
    x = json.loads(out)
    assert x["case"]["reported_at"] == "2026-01-27T10:37:37+08:00"
    assert x["decision"]["deadline"]["due"].endswith("+08:00")
