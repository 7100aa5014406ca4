"""`dispatch explain`: the ranked list is the reference's, the winner the compiled path's, each reason the first key component."""

from __future__ import annotations

import csv
import json
from dataclasses import replace as dc_replace
from datetime import datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.cli import main
from dispatch.core.case import Case
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.explain import KEY_NAMES, NEAR_MISS_LIMIT, TIE, explain_case, explanation_dict, lost_on, why_lost
from dispatch.core.load import load_ruleset
from dispatch.core.model import ANY
from dispatch.core.reference import matching_rules, rule_matches
from dispatch.tools.explain.report import render_text
from tests.strategies import cases_for, rulesets

ROOT = Path(__file__).resolve().parents[2]
DAXING = ROOT / "rules" / "daxing"
MINI = Path(__file__).parents[1] / "data" / "mini"
T = "2025-12-01T07:26:00+08:00"


@pytest.fixture(scope="module")
def daxing(daxing_dispatcher) -> Dispatcher:
    return daxing_dispatcher


def first_difference(a: tuple, b: tuple) -> int:
    """The brute-force reading of "the first component where it lost": TIE when the keys are equal."""
    return next((i for i in range(len(a)) if a[i] != b[i]), TIE)


def expected_reason(ruleset, loser, winner) -> tuple[str, str]:
    """(lost_on, what the reason must say), from the two precedence keys and the ids alone."""
    lk, wk = ruleset.precedence(loser), ruleset.precedence(winner)
    i = first_difference(lk, wk)
    if i < TIE:
        assert lk[i] < wk[i]  # the winner is above on the first component that differs
        return KEY_NAMES[i], {
            0: f"lower priority {loser.priority} < {winner.priority}",
            1: f"less specific event: | {loser.event} vs | {winner.event}",  # a level word before each code
            2: f"less specific area: | {loser.area} vs | {winner.area}",
            3: f"no grid type given (winner: {winner.grid_type})",
            4: f"no source given (winner: {winner.source})",
            5: "no date window given (winner: ",
        }[i]
    assert loser.id > winner.id  # equal keys: the smaller id wins
    same = (loser.department, loser.co_handlers, loser.deadline) == (
        winner.department, winner.co_handlers, winner.deadline)  # fmt: skip
    return "id", f"tie: larger id than {winner.id} ({'duplicate' if same else 'conflict'}"


def says(why: str, want: str) -> bool:
    """`why` holds the pieces of `want` (split at |) in order; the first piece starts it."""
    pieces = want.split("|")
    if not why.startswith(pieces[0]):
        return False
    at = len(pieces[0])
    for piece in pieces[1:]:
        at = why.find(piece, at)
        if at < 0:
            return False
        at += len(piece)
    return True


def dropped(rule, selector: str):
    """`rule` without one selector (grid_type, source or window), or without all three (None)."""
    if selector == "grid_type":
        return dc_replace(rule, grid_type=None)
    if selector == "source":
        return dc_replace(rule, source=None)
    if selector == "window":
        return dc_replace(rule, valid_from=None, valid_to=None)
    return dc_replace(rule, grid_type=None, source=None, valid_from=None, valid_to=None)


def moved_into(ruleset, case: Case, rule, selector: str) -> Case | None:
    """`case` changed in one selector so that `rule`'s value of it holds; None for grid_type (it is the area's)."""
    if selector == "source":
        return dc_replace(case, source=rule.source)
    if selector == "window":
        day = rule.valid_from or rule.valid_to - timedelta(days=1)
        return dc_replace(case, reported_at=datetime.combine(day, time(12), ZoneInfo(ruleset.manifest.timezone)))
    return None


def brute_near_misses(ruleset, case: Case) -> list[tuple]:
    """(rule, the one selector it fails) for every rule whose event and area match and that fails exactly one
    of grid_type, source, window; highest rank first. By rule_matches on rules with selectors dropped."""
    found = []
    for rule in ruleset.rules:
        if rule.event != ANY and not ruleset.events.covers(rule.event, case.event):
            continue  # only to be quick on Daxing: the next line says the same
        if rule_matches(ruleset, rule, case) or not rule_matches(ruleset, dropped(rule, "all"), case):
            continue
        failing = [s for s in ("grid_type", "source", "window") if not rule_matches(ruleset, _keep_only(rule, s), case)]
        if len(failing) == 1:
            found.append((rule, failing[0]))
    found.sort(key=lambda f: f[0].id)
    found.sort(key=lambda f: ruleset.precedence(f[0]), reverse=True)
    return found


def _keep_only(rule, selector: str):
    """`rule` with only `selector` of grid_type, source and window kept."""
    keep = {"grid_type": rule.grid_type, "source": rule.source, "valid_from": rule.valid_from, "valid_to": rule.valid_to}
    kept = {"grid_type": ("grid_type",), "source": ("source",), "window": ("valid_from", "valid_to")}[selector]
    return dc_replace(rule, **{k: (v if k in kept else None) for k, v in keep.items()})


def assert_explains(dispatcher: Dispatcher, case: Case) -> None:
    ruleset = dispatcher.ruleset
    x = explain_case(dispatcher, case)
    ranked = [r.rule for r in x.ranked]
    assert ranked == matching_rules(ruleset, case)
    decided = dispatcher.dispatch(case)
    assert x.decision == decided
    assert (decided.rule.id if decided.rule else None) == (ranked[0].id if ranked else None)
    assert x.agree
    for above, below in pairwise(ranked):  # rank order: the key, then the smaller id
        ka, kb = ruleset.precedence(above), ruleset.precedence(below)
        assert ka > kb or (ka == kb and above.id < below.id)
    doc = explanation_dict(x)
    winner = ranked[0] if ranked else None
    for r, row in zip(x.ranked, doc["matching"], strict=True):
        assert r.key == ruleset.precedence(r.rule)
        if r.rule is winner:
            assert (r.lost_on, r.why, row["outcome"], row["lost_on"]) == (None, "wins", "wins", None)
            continue
        lost, want = expected_reason(ruleset, r.rule, winner)
        assert row["outcome"] == "lost" and row["lost_on"] == lost
        assert r.lost_on == (TIE if lost == "id" else KEY_NAMES.index(lost))
        assert says(r.why, want), (r.why, want)
    # near misses: every rule failing exactly one selector, that one named, "would win" by the keys
    want_misses = brute_near_misses(ruleset, case)
    assert x.near_miss_total == len(want_misses)
    assert [(m.rule, m.selector) for m in x.near_misses] == want_misses[: len(x.near_misses)]
    assert len(x.near_misses) == min(len(want_misses), NEAR_MISS_LIMIT)
    for m in x.near_misses:
        assert not rule_matches(ruleset, m.rule, case)
        moved = moved_into(ruleset, case, m.rule, m.selector)
        if moved is not None:  # the case changed in that one selector: the rule matches
            assert rule_matches(ruleset, m.rule, moved)
        assert rule_matches(ruleset, dropped(m.rule, m.selector), case)  # or the rule without it
        key, wkey = ruleset.precedence(m.rule), winner and ruleset.precedence(winner)
        assert m.would_win == (winner is None or key > wkey or (key == wkey and m.rule.id < winner.id))
    json.dumps(doc)  # JSON-ready
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
    # 暴露垃圾 gives its limit per area class: 魏善庄镇, a rural town, is class C, one working day
    assert (
        "deadline  1wd (working days) from the item standard (set on 06010001), class C of the area, "
        "due 2025-12-03T17:30:00+08:00" in out
    )
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
    assert "deadline  2h (natural hours) from the rule override (the item standard is 4h)" in out
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


def test_the_decision_shown_is_the_compiled_one_even_when_the_reference_disagrees():
    from dispatch.core.decision import RuleRef

    dispatcher = Dispatcher(load_ruleset(MINI))
    x = explain_case(dispatcher, Case("C9", "06010002", "110115005201", "grid", datetime.fromisoformat(T)))
    assert x.agree and x.decision.rule.id == "MUN-2"
    other = RuleRef("MUN-1", f"{MINI}/rules/municipal.csv", 2, "basis of MUN-1")
    bug = dc_replace(x, decision=x.decision._replace(rule=other))  # as if the tables had a bug
    doc = explanation_dict(bug, str(MINI))
    assert doc["decision"]["rule"] == {"id": "MUN-1", "file": "rules/municipal.csv", "line": 2, "basis": "basis of MUN-1"}
    assert doc["agree"] is False and doc["matching"][0]["id"] == "MUN-2"
    text = render_text(bug)
    assert f"rule      MUN-1 at {MINI}/rules/municipal.csv:2  basis: basis of MUN-1" in text
    assert "WARNING   the compiled tables and the reference matcher disagree" in text
