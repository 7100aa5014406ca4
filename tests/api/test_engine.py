"""The engine without HTTP: its fast paths held to the core's plain answer, on generated cases.

Three ways to answer a case must agree: the scan kernel over a batch body, the Python
batch path over parsed cases, and the single-case path; and a good case's answer must
be the reference's Decision (reference.dispatch_case) as wire_decision renders it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.api.engine import Tally, build_engine
from dispatch.api.intake import CaseIn, read_case
from dispatch.api.problems import case_problem, field_error
from dispatch.api.render import wire_decision
from dispatch.core.case import Case, local_day, read_reported_at
from dispatch.core.errors import CaseError
from dispatch.core.reference import dispatch_case
from tests.api.conftest import api_ruleset


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return build_engine(str(api_ruleset(tmp_path_factory.mktemp("engine") / "rules")))


EVENTS = ["06010001", "06010002", "06042001", "11001001", "12001001", "13001001", "06010", "06", "99999999"]
AREAS = ["110115", "110115005", "110115103", "11011500501", "110115005001", "110115005001001", "110115005201",
         "110115103201", "110115103401", "nowhere"]  # fmt: skip
SOURCES = ["grid", "12345", "safety", "fax"]


@st.composite
def stamps(draw) -> str:
    """Report times in every form the kernel reads, some it leaves to Python, and some nobody reads."""
    day = draw(st.dates(min_value=datetime(1, 1, 2).date(), max_value=datetime(9999, 12, 30).date()))
    near = draw(st.sampled_from(["any", "now", "edge"]))
    if near == "now":
        day = draw(st.dates(min_value=datetime(2024, 1, 1).date(), max_value=datetime(2027, 12, 31).date()))
    elif near == "edge":
        day = draw(st.sampled_from([datetime(9999, 12, 31).date(), datetime(1, 1, 1).date(),
                                    datetime(1991, 9, 15).date(), datetime(1900, 1, 1).date()]))  # fmt: skip
    hh, mm, ss = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    sep = draw(st.sampled_from(["T", "T", "t", " "]))
    clock = draw(st.sampled_from([f"{hh:02d}:{mm:02d}:{ss:02d}", f"{hh:02d}:{mm:02d}",
                                  f"{hh:02d}:{mm:02d}:{ss:02d}.{draw(st.integers(0, 999999)):06d}"]))  # fmt: skip
    oh, om = draw(st.integers(0, 23)), draw(st.sampled_from([0, 30, 45, 59]))
    sign = draw(st.sampled_from("+-"))
    zone = draw(st.sampled_from(["", "Z", "z", f"{sign}{oh:02d}:{om:02d}", f"{sign}{oh:02d}{om:02d}", f"{sign}{oh:02d}",
                                 "+08:00", "+08:00", "-00:00", "+24:00", "+08:00:30"]))  # fmt: skip
    text = f"{day.isoformat()}{sep}{clock}{zone}"
    return draw(st.sampled_from([text, text, text, day.isoformat(), "2025-02-30T08:00:00+08:00",
                                 "2025-12-01T24:00:00", "yesterday", "", "2025-12-01T08:00:00+8"]))  # fmt: skip


ids = st.one_of(st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=12),
                st.text(min_size=0, max_size=4), st.just("x" * 257), st.just('a","b'), st.just("逗,号"))  # fmt: skip


@st.composite
def members(draw) -> object:
    """A batch member: mostly a case, sometimes a broken one or not an object at all."""
    case = {"id": draw(ids), "event": draw(st.sampled_from(EVENTS)), "area": draw(st.sampled_from(AREAS)),
            "source": draw(st.sampled_from(SOURCES)), "reported_at": draw(stamps())}  # fmt: skip
    odd = draw(st.sampled_from(["none"] * 6 + ["drop", "null_time", "extra", "type", "not_object"]))
    if odd == "drop":
        del case[draw(st.sampled_from(sorted(case)))]
    elif odd == "null_time":
        case["reported_at"] = None
    elif odd == "extra":
        case["note"] = draw(st.text(max_size=5))
    elif odd == "type":
        case[draw(st.sampled_from(sorted(case)))] = draw(
            st.one_of(st.integers(-(2**63), 2**63 - 1), st.none(), st.lists(st.booleans()))
        )
    elif odd == "not_object":
        return draw(st.one_of(st.integers(-9, 9), st.text(max_size=3), st.none(), st.lists(st.booleans(), max_size=2)))
    if draw(st.booleans()):
        case = dict(reversed(list(case.items())))
    return case


def single(engine, member: object, index: int) -> dict:
    """What the single-case path says of a batch member, in the batch's shape."""
    return json.loads(engine.answer_or_error(member, index, Tally.empty()))


def has_now(member: object) -> bool:
    return isinstance(member, dict) and member.get("reported_at", None) is None


@given(st.lists(members(), max_size=12), st.booleans())
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
def test_scan_python_and_single_paths_agree(engine, batch, indent):
    body = orjson.dumps({"cases": batch}, option=orjson.OPT_INDENT_2 if indent else 0)
    scanned = engine.batch_from_body(body, 100, Tally.empty())
    parsed = engine.batch_from_cases(json.loads(body)["cases"], Tally.empty())
    if scanned is not None:
        if not any(has_now(m) for m in batch):  # "now" may tick between the two calls
            assert scanned == parsed
        assert json.loads(scanned).keys() == {"results"}
    results = json.loads(parsed)["results"]
    assert len(results) == len(batch)
    for j, (member, result) in enumerate(zip(batch, results)):
        if not has_now(member):
            assert result == single(engine, member, j)


def test_plain_batches_take_the_scan_path(engine):
    cases = [{"id": f"C{i}", "event": "06010002", "area": "110115005001", "source": "grid",
              "reported_at": "2025-12-01T08:00:00+08:00"} for i in range(5)]  # fmt: skip
    assert engine.batch_from_body(orjson.dumps({"cases": cases}), 10, Tally.empty()) is not None
    assert engine.batch_from_body(b' {\n "cases" : [ ] } ', 10, Tally.empty()) == b'{"results":[]}'
    # a member not in the plain form is read from its own bytes, the rest of the batch still scanned
    for odd in ({**cases[0], "note": "x"}, {**cases[0], "id": "é"}, {**cases[0], "id": 'a"b'}, {"id": "m"}, 7):
        body = orjson.dumps({"cases": [cases[0], odd, cases[1]]})
        scanned = engine.batch_from_body(body, 10, Tally.empty())
        assert scanned == engine.batch_from_cases(json.loads(body)["cases"], Tally.empty())
    # not a batch document the scan reads: the general path answers
    assert engine.batch_from_body(orjson.dumps({"cases": cases, "more": 1}), 10, Tally.empty()) is None
    assert engine.batch_from_body(b'{"cases":[{"id":"a","x":01}]}', 10, Tally.empty()) is None  # not JSON
    assert engine.batch_from_body(orjson.dumps({"cases": cases}), 4, Tally.empty()) is None  # over the limit


@given(st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=8),
       st.sampled_from(EVENTS[:6]), st.sampled_from(AREAS[:9]), st.sampled_from(SOURCES[:3]), stamps())  # fmt: skip
@settings(max_examples=300, deadline=None)
def test_single_answer_is_the_cores_decision(engine, case_id, event, area, source, stamp):
    case = CaseIn(case_id, event, area, source, stamp)
    try:
        ruleset = engine.ruleset
        moment = read_reported_at(ruleset, stamp)
        local_day(ruleset, moment)  # a time whose local day lies past the year 9999 is no report time
        want = wire_decision(dispatch_case(ruleset, Case(case_id, event, area, source, moment)), engine.root)
    except (CaseError, OverflowError):  # OverflowError: the local day, or the due time, past 9999
        with pytest.raises(CaseError):
            engine.answer(case)
        return
    got, _ = engine.answer(case)
    assert json.loads(got) == json.loads(orjson.dumps(want))


def test_reported_at_absent_means_now(engine):
    case = {"id": "n", "event": "06010002", "area": "110115005001", "source": "grid"}
    before = datetime.now(timezone(timedelta(hours=8))).replace(microsecond=0)
    scanned = json.loads(engine.batch_from_body(orjson.dumps({"cases": [case]}), 10, Tally.empty()))["results"][0]
    parsed = json.loads(engine.batch_from_cases([case], Tally.empty()))["results"][0]
    one = json.loads(engine.answer(read_case(case))[0])
    after = datetime.now(timezone(timedelta(hours=8))) + timedelta(seconds=1)
    for answer in (scanned, parsed, one):
        due = datetime.fromisoformat(answer["deadline"]["due"]) - timedelta(hours=8)
        assert before <= due <= after


def test_errors_in_a_batch_are_the_single_cases_problems(engine):
    bad = {"id": "b", "event": "06010002", "area": "nowhere", "source": "grid"}
    with pytest.raises(CaseError) as err:
        engine.answer(read_case(bad))
    want = json.loads(case_problem([field_error(err.value, "/cases/0")]).body())
    got = json.loads(engine.batch_from_body(orjson.dumps({"cases": [bad]}), 10, Tally.empty()))["results"][0]
    assert got == {"id": "b", "error": want}
