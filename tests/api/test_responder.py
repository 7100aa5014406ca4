"""The responder without HTTP: its fast paths held to the reference matcher, on generated cases.

Three ways to answer a case: the scan kernel over a batch body, the Python batch path
over parsed cases, and the single-case path. Each answer must be the reference's
(dispatch.core.reference.dispatch_case) as wire_decision renders it, or the problem of
the case's first bad field; and the two batch paths must write the same bytes.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.api.intake import IncomingCase, read_case
from dispatch.api.problems import case_problem, field_error, pointer
from dispatch.api.render import wire_decision
from dispatch.api.responder import Tally
from dispatch.core.case import Case, check_case, local_day, read_reported_at
from dispatch.core.decision import Decision
from dispatch.core.errors import CaseError
from dispatch.core.model import RuleSet
from dispatch.core.reference import dispatch_case

EVENTS = ["06010001", "06010002", "06042001", "11001001", "12001001", "13001001", "06010", "06", "99999999"]
AREAS = ["110115", "110115005", "110115103", "11011500501", "110115005001", "110115005001001", "110115005201",
         "110115103201", "110115103401", "nowhere"]  # fmt: skip
SOURCES = ["grid", "12345", "safety", "fax"]


# Strategies are built once, not in every draw: hypothesis validates each new strategy object on its
# first draw. A choice among values drawn just before is an index into them (sampled_from draws one).
ANY_DAY = st.dates(min_value=datetime(1, 1, 2).date(), max_value=datetime(9999, 12, 30).date())
NEAR = st.sampled_from(["any", "now", "edge"])
NOW_DAY = st.dates(min_value=datetime(2024, 1, 1).date(), max_value=datetime(2027, 12, 31).date())
EDGE_DAY = st.sampled_from([datetime(9999, 12, 31).date(), datetime(1, 1, 1).date(), datetime(1991, 9, 15).date(),
                            datetime(1900, 1, 1).date()])  # fmt: skip
SEPARATOR = st.sampled_from(["T", "T", "t", " "])
OFFSET_MINUTES = st.sampled_from([0, 30, 45, 59])
SIGN = st.sampled_from("+-")


@st.composite
def stamps(draw) -> str:
    """Report times in every form the kernel reads, some it leaves to Python, and some nobody reads."""
    day = draw(ANY_DAY)
    near = draw(NEAR)
    if near == "now":
        day = draw(NOW_DAY)
    elif near == "edge":
        day = draw(EDGE_DAY)
    hh, mm, ss = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    sep = draw(SEPARATOR)
    micro = draw(st.integers(0, 999999))
    clocks = [f"{hh:02d}:{mm:02d}:{ss:02d}", f"{hh:02d}:{mm:02d}", f"{hh:02d}:{mm:02d}:{ss:02d}.{micro:06d}"]
    clock = clocks[draw(st.integers(0, len(clocks) - 1))]
    oh, om = draw(st.integers(0, 23)), draw(OFFSET_MINUTES)
    sign = draw(SIGN)
    zones = ["", "Z", "z", f"{sign}{oh:02d}:{om:02d}", f"{sign}{oh:02d}{om:02d}", f"{sign}{oh:02d}", "+08:00", "+08:00",
             "-00:00", "+24:00", "+08:00:30"]  # fmt: skip
    zone = zones[draw(st.integers(0, len(zones) - 1))]
    text = f"{day.isoformat()}{sep}{clock}{zone}"
    texts = [text, text, text, day.isoformat(), "2025-02-30T08:00:00+08:00", "2025-12-01T24:00:00", "yesterday", "",
             "2025-12-01T08:00:00+8"]  # fmt: skip
    return texts[draw(st.integers(0, len(texts) - 1))]


STAMPS = stamps()
ids = st.one_of(st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=12),
                st.text(min_size=0, max_size=4), st.just("x" * 257), st.just('a","b'), st.just("逗,号"))  # fmt: skip
EVENT, AREA, SOURCE = st.sampled_from(EVENTS), st.sampled_from(AREAS), st.sampled_from(SOURCES)
ODDITY = st.sampled_from(["none"] * 6 + ["drop", "null_time", "extra", "type", "not_object"])
FIELD = st.sampled_from(sorted(["id", "event", "area", "source", "reported_at"]))
NOTE = st.text(max_size=5)
WRONG_TYPE = st.one_of(st.integers(-(2**63), 2**63 - 1), st.none(), st.lists(st.booleans()))
NOT_OBJECT = st.one_of(st.integers(-9, 9), st.text(max_size=3), st.none(), st.lists(st.booleans(), max_size=2))


@st.composite
def members(draw) -> object:
    """A batch member: mostly a case, sometimes a broken one or not an object at all."""
    case = {"id": draw(ids), "event": draw(EVENT), "area": draw(AREA), "source": draw(SOURCE),
            "reported_at": draw(STAMPS)}  # fmt: skip
    odd = draw(ODDITY)
    if odd == "drop":
        del case[draw(FIELD)]
    elif odd == "null_time":
        case["reported_at"] = None
    elif odd == "extra":
        case["note"] = draw(NOTE)
    elif odd == "type":
        case[draw(FIELD)] = draw(WRONG_TYPE)
    elif odd == "not_object":
        return draw(NOT_OBJECT)
    if draw(st.booleans()):
        case = dict(reversed(list(case.items())))
    return case


def single(responder, member: object, index: int) -> dict:
    """What the single-case path says of a batch member, in the batch's shape."""
    return json.loads(responder.answer_or_error(member, index, Tally.empty()))


def has_now(member: object) -> bool:
    return isinstance(member, dict) and member.get("reported_at", None) is None


def reference_decision(ruleset: RuleSet, case: IncomingCase) -> Decision:
    """The reference's decision for a wire case; CaseError naming its first bad field in case order
    (the codes, then the time). A time whose local day lies outside the calendar is a bad time."""
    check_case(ruleset, Case(case.id, case.event, case.area, case.source, datetime.min))
    moment = read_reported_at(ruleset, case.reported_at)
    try:
        local_day(ruleset, moment)
    except OverflowError:
        raise CaseError("request.bad_time", "reported_at", case.reported_at, "outside the calendar") from None
    return dispatch_case(ruleset, Case(case.id, case.event, case.area, case.source, moment))


def without_detail(doc: dict) -> dict:
    """A problem without its wording: the reference knows the codes, the responder words them."""
    return {k: [without_detail(e) for e in v] if k == "errors" else v for k, v in doc.items() if k != "detail"}


def reference_answer(responder, member: object, index: int) -> dict:
    """What the answer to a batch member must be: the reference's decision as the wire shows it,
    or {"id", "error"} with the problem of the member's first bad field (details left out)."""
    at = pointer("cases", index)
    case = read_case(member, at)
    if type(case) is IncomingCase:
        try:
            decision = reference_decision(responder.ruleset, case)
        except CaseError as err:
            if err.field == "reported_at":  # the wire echoes the time as sent (the core knows only the moment)
                err = CaseError(err.code, err.field, case.reported_at, str(err))
            case = [field_error(err, at)]
        else:
            return json.loads(orjson.dumps(wire_decision(decision, responder.root)))
    case_id = member.get("id") if type(member) is dict and type(member.get("id")) is str else None
    return {"id": case_id, "error": without_detail(json.loads(case_problem(case).body()))}


def comparable(answer: dict) -> dict:
    """An answer as reference_answer() gives it: an error's wording left out."""
    return {**answer, "error": without_detail(answer["error"])} if "error" in answer else answer


@given(st.lists(members(), max_size=12), st.booleans())
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
def test_scan_python_and_single_paths_equal_the_reference(responder, batch, indent):
    body = orjson.dumps({"cases": batch}, option=orjson.OPT_INDENT_2 if indent else 0)
    scanned = responder.batch_from_body(body, 100, Tally.empty())
    parsed = responder.batch_from_cases(json.loads(body)["cases"], Tally.empty())
    if scanned is not None:
        if not any(has_now(m) for m in batch):  # "now" may tick between the two calls
            assert scanned == parsed
        assert json.loads(scanned).keys() == {"results"}
    results = json.loads(parsed)["results"]
    assert len(results) == len(batch)
    for j, (member, result) in enumerate(zip(batch, results)):
        if not has_now(member):
            want = reference_answer(responder, member, j)
            one = single(responder, member, j)
            assert comparable(result) == want
            assert comparable(one) == want
            if "error" in one:  # the wording, which the reference does not give, is the same in a batch
                assert result == one, (member, result, one)


def test_plain_batches_take_the_scan_path(responder):
    cases = [{"id": f"C{i}", "event": "06010002", "area": "110115005001", "source": "grid",
              "reported_at": "2025-12-01T08:00:00+08:00"} for i in range(5)]  # fmt: skip
    assert responder.batch_from_body(orjson.dumps({"cases": cases}), 10, Tally.empty()) is not None
    assert responder.batch_from_body(b' {\n "cases" : [ ] } ', 10, Tally.empty()) == b'{"results":[]}'
    # a member not in the plain form is read from its own bytes, the rest of the batch still scanned
    for odd in ({**cases[0], "note": "x"}, {**cases[0], "id": "é"}, {**cases[0], "id": 'a"b'}, {"id": "m"}, 7):
        body = orjson.dumps({"cases": [cases[0], odd, cases[1]]})
        scanned = responder.batch_from_body(body, 10, Tally.empty())
        assert scanned == responder.batch_from_cases(json.loads(body)["cases"], Tally.empty())
    # not a batch document the scan reads: the general path answers
    assert responder.batch_from_body(orjson.dumps({"cases": cases, "more": 1}), 10, Tally.empty()) is None
    assert responder.batch_from_body(b'{"cases":[{"id":"a","x":01}]}', 10, Tally.empty()) is None  # not JSON
    assert responder.batch_from_body(orjson.dumps({"cases": cases}), 4, Tally.empty()) is None  # over the limit


@given(st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=8),
       st.sampled_from(EVENTS[:6]), st.sampled_from(AREAS[:9]), st.sampled_from(SOURCES[:3]), STAMPS)  # fmt: skip
@settings(max_examples=300, deadline=None)
def test_single_answer_is_the_reference_decision(responder, case_id, event, area, source, stamp):
    case = IncomingCase(case_id, event, area, source, stamp)
    try:
        want = wire_decision(reference_decision(responder.ruleset, case), responder.root)
    except CaseError:
        with pytest.raises(CaseError):
            responder.answer(case)
        return
    got, _ = responder.answer(case)
    assert json.loads(got) == json.loads(orjson.dumps(want))


def test_reported_at_absent_means_now(responder):
    case = {"id": "n", "event": "06010002", "area": "110115005001", "source": "grid"}
    before = datetime.now(timezone(timedelta(hours=8))).replace(microsecond=0)
    scanned = json.loads(responder.batch_from_body(orjson.dumps({"cases": [case]}), 10, Tally.empty()))["results"][0]
    parsed = json.loads(responder.batch_from_cases([case], Tally.empty()))["results"][0]
    one = json.loads(responder.answer(read_case(case))[0])
    after = datetime.now(timezone(timedelta(hours=8))) + timedelta(seconds=1)
    for answer in (scanned, parsed, one):
        due = datetime.fromisoformat(answer["deadline"]["due"]) - timedelta(hours=8)
        assert before <= due <= after


def test_errors_in_a_batch_are_the_single_cases_problems(responder):
    bad = {"id": "b", "event": "06010002", "area": "nowhere", "source": "grid"}
    with pytest.raises(CaseError) as err:
        responder.answer(read_case(bad))
    want = json.loads(case_problem([field_error(err.value, "/cases/0")]).body())
    got = json.loads(responder.batch_from_body(orjson.dumps({"cases": [bad]}), 10, Tally.empty()))["results"][0]
    assert got == {"id": "b", "error": want}


def test_a_batch_counts_its_bad_cases_as_the_general_path_does(responder):
    good = {"id": "g", "event": "06010002", "area": "110115005001", "source": "grid", "reported_at": "2025-12-01T08:00:00+08:00"}
    odd = [{"area": "nowhere"}, {"event": "99999999"}, {"source": "fax"}, {"reported_at": "2025-13-01"}, {"event": None}]
    members = [dict(good, id=f"c{j}", **odd[j % len(odd)]) if j % 3 else dict(good, id=f"c{j}") for j in range(60)]
    body = orjson.dumps({"cases": members})
    for _ in range(2):  # the second time every bad case is answered from its key
        scanned, parsed = Tally.empty(), Tally.empty()
        assert responder.batch_from_body(body, 100, scanned) == responder.batch_from_cases(json.loads(body)["cases"], parsed)
        assert scanned.errors == parsed.errors and sum(scanned.errors.values()) == 40
        assert scanned.statuses == parsed.statuses
