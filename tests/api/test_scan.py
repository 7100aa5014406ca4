"""The batch tokeniser against orjson, and what the core encodes from its spans against Python's reading."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.api.scan import FLAG_ID, FLAG_SHAPE, SCAN_GIVE_UP, SCAN_TOO_MANY, scan_batch
from dispatch.core.clock import STAMP_FORM, parse_iso, wall_seconds
from dispatch.core.dispatcher import FLAG_CODE, FLAG_TIME, SPAN_FIELDS, Dispatcher
from dispatch.core.load import load_ruleset
from tests.conftest import MINI

ID_MAX = 8
plain = st.text(st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters='"\\'), max_size=10)
any_text = st.text(max_size=6)


@pytest.fixture(scope="module")
def dispatcher():
    return Dispatcher(load_ruleset(MINI))


def scan(body: bytes, cap: int = 64, cases: bool = False):
    lo, hi = np.empty((cap, 5), np.int64), np.empty((cap, 5), np.int64)
    flags = np.empty(cap, np.int8)
    case_lo, case_hi = np.empty(cap, np.int64), np.empty(cap, np.int64)
    n = scan_batch(np.frombuffer(body, dtype=np.uint8), ID_MAX, lo, hi, flags, case_lo, case_hi)
    m = max(n, 0)
    if cases:
        return n, lo[:m], hi[:m], flags[:m], case_lo[:m], case_hi[:m]
    return n, lo[:m], hi[:m], flags[:m]


@st.composite
def members(draw) -> object:
    case = {name: draw(plain if draw(st.integers(0, 9)) else any_text) for name in SPAN_FIELDS}
    if draw(st.booleans()):
        case["reported_at"] = None
    if draw(st.integers(0, 9)) == 0:
        del case[draw(st.sampled_from(SPAN_FIELDS))]
    if draw(st.integers(0, 19)) == 0:
        case["note"] = draw(
            st.one_of(st.text(max_size=3), st.integers(-(2**63), 2**63 - 1), st.lists(st.booleans(), max_size=2))
        )
    if draw(st.integers(0, 19)) == 0:
        case[draw(st.sampled_from(SPAN_FIELDS))] = draw(
            st.one_of(
                st.integers(-(2**63), 2**63 - 1),
                st.none(),
                st.dictionaries(st.text(max_size=2), st.integers(-(2**63), 2**63 - 1), max_size=2),
            )
        )
    if draw(st.integers(0, 29)) == 0:
        return draw(
            st.one_of(
                st.integers(-(2**63), 2**63 - 1),
                st.text(max_size=3),
                st.none(),
                st.lists(st.integers(-(2**63), 2**63 - 1), max_size=2),
            )
        )
    keys = draw(st.permutations(list(case)))
    return {k: case[k] for k in keys}


def is_plain(c: object) -> bool:
    return (
        isinstance(c, dict)
        and set(c) <= set(SPAN_FIELDS)
        and set(SPAN_FIELDS[:4]) <= set(c)
        and all(
            (v is None and k == "reported_at")
            or (isinstance(v, str) and v.isascii() and v.isprintable() and '"' not in v and "\\" not in v)
            for k, v in c.items()
        )
    )


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(members(), max_size=8), st.booleans())
def test_each_member_is_read_or_flagged_with_its_bytes(batch, indent):
    body = orjson.dumps({"cases": batch}, option=orjson.OPT_INDENT_2 if indent else 0)
    n, lo, hi, flags, case_lo, case_hi = scan(body, cases=True)
    assert n == len(batch)
    for j, case in enumerate(batch):
        assert orjson.loads(body[case_lo[j] : case_hi[j]]) == case  # the member's own bytes
        if not is_plain(case):
            assert flags[j] & FLAG_SHAPE
            continue
        assert not flags[j] & FLAG_SHAPE
        for f, name in enumerate(SPAN_FIELDS):
            got = body[lo[j, f] : hi[j, f]].decode() if lo[j, f] >= 0 else None
            assert got == case.get(name)
        assert bool(flags[j] & FLAG_ID) == (not 1 <= len(case["id"]) <= ID_MAX)


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b'{"cases":{}}', b'{"case":[]}', b'{"cases":[]', b'{"cases":[]} x', b'{"cases":[1 2]}',
     b'{"cases":[{"id":"a" "event":"e"}]}', b'{"cases":[{"id":"\x01"}]}', b'{"cases":[], "more":1}'],
)  # fmt: skip
def test_bodies_that_are_no_batch_document_give_up(body):
    assert scan(body)[0] == SCAN_GIVE_UP


@pytest.mark.parametrize(
    "member",
    [b'{"id":"a"}', b"1", b"null", b'"x"', b"[1,[2]]", b'{"id":1,"event":"e","area":"a","source":"s"}',
     b'{"id":"a","event":"e","area":"a","source":"s","id":"b"}', rb'{"id":"\u00e9","event":"e","area":"a","source":"s"}',
     b'{"id":"a","event":"e","area":"a","source":"s","note":{"x":[1,"]}"]}}', b"{}"],
)  # fmt: skip
def test_members_outside_the_plain_form_are_flagged_not_given_up(member):
    good = b'{"id":"g","event":"e","area":"a","source":"s"}'
    body = b'{"cases":[' + good + b"," + member + b"," + good + b"]}"
    n, _, _, flags, case_lo, case_hi = scan(body, cases=True)
    assert n == 3 and flags.tolist() == [0, FLAG_SHAPE, 0]
    assert body[case_lo[1] : case_hi[1]] == member


def test_more_cases_than_the_room_say_so():
    case = {"id": "a", "event": "e", "area": "a", "source": "s"}
    assert scan(orjson.dumps({"cases": [case] * 3}), cap=2)[0] == SCAN_TOO_MANY
    assert scan(b' {\n "cases" : [ ] } ')[0] == 0


stamps = st.one_of(
    st.builds(
        lambda d, spec: d.isoformat(timespec=spec),
        st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()),
        st.sampled_from(["seconds", "minutes"]),
    ),
    st.datetimes().map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.isoformat()),
    st.text("0123456789-:+T .Z", max_size=26),
)


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_encoded_spans_are_the_codebooks_and_the_clocks_reading(dispatcher, data):
    t = dispatcher.tables
    areas = list(t.columns)
    batch = [{"id": "c", "event": data.draw(st.sampled_from([*t.items, "0601", "x"])),
              "area": data.draw(st.sampled_from([*areas, "nowhere"])),
              "source": data.draw(st.sampled_from([*t.sources, "fax"])),
              "reported_at": data.draw(stamps)} for _ in range(data.draw(st.integers(1, 6)))]  # fmt: skip
    body = orjson.dumps({"cases": batch})
    n, lo, hi, flags = scan(body)
    assert n == len(batch)
    enc = dispatcher.read_spans(np.frombuffer(body, np.uint8), lo, hi, flags, now_wall=0)
    clock = dispatcher.clock
    for j, case in enumerate(batch):
        known = (case["event"] in dispatcher.item_codes.index and case["area"] in t.columns
                 and case["source"] in t.sources)  # fmt: skip
        assert bool(flags[j] & FLAG_CODE) == (not known)
        if flags[j]:
            continue
        assert (enc.items[j], enc.cols[j], enc.srcs[j]) == (
            dispatcher.item_codes.index[case["event"]],
            t.columns[case["area"]],
            t.sources.index(case["source"]),
        )
        moment, day = clock.read(case["reported_at"])  # an unflagged time reads in Python to the same moment and day
        assert enc.days[j] == day
        assert enc.wall[j] == wall_seconds(moment)
        assert enc.naive[j] == (datetime.fromisoformat(case["reported_at"]).tzinfo is None)
        assert enc.offset[j] == int(moment.utcoffset().total_seconds())
        assert dispatcher.area_codes.keys[enc.area_key[j]] == case["area"]
    for j, case in enumerate(batch):  # a time is flagged only when Python must settle it
        if flags[j] == FLAG_TIME:
            stamp = np.zeros(4, np.int64)
            text = case["reported_at"].encode()
            if parse_iso(np.frombuffer(text, np.uint8), 0, len(text), stamp) and stamp[STAMP_FORM] == 0:
                moment = datetime.fromisoformat(case["reported_at"])
                near_edge = moment.year in (1, 9999) or (moment + (moment.utcoffset() or timedelta(0))).year in (
                    1,
                    9999,
                )
                assert near_edge or moment.year < 1992, case["reported_at"]  # 1992: Shanghai's last offset change


def test_a_time_before_1970_is_left_to_python(dispatcher):
    # found by hypothesis: in 1900 zoneinfo reads Shanghai as local mean time (+08:05:43), not +08:00
    t = dispatcher.tables
    case = {"id": "c", "event": t.items[-1], "area": next(iter(t.columns)), "source": t.sources[0]}
    body = orjson.dumps({"cases": [{**case, "reported_at": "1900-01-01T11:55:00-04:00"}]})
    _, lo, hi, flags = scan(body)
    dispatcher.read_spans(np.frombuffer(body, np.uint8), lo, hi, flags, now_wall=0)
    assert flags[0] == FLAG_TIME
