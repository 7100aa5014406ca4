"""The hints' pieces: did-you-mean, zeros restored, edit distance, code widths, plurals."""

from __future__ import annotations

import pytest

from dispatch.core.errors import Place
from dispatch.core.hints import Suggester, code_width_warnings, edit_distance, plural, restored_code
from dispatch.core.model import EventNode

DEPARTMENTS = ["roads", "parks", "env", "fire", "cityhall", "north", "south", "@local"]


@pytest.mark.parametrize(
    ("value", "meant"),
    [
        ("raods", "roads"),  # two letters swapped: one edit
        ("Roads", "roads"),  # case
        ("ENV", "env"),
        ("@locl", "@local"),
        ("parkss", "parks"),
        ("cityhal", "cityhall"),
        ("sewers", None),  # nothing near
        ("nrth", "north"),
        ("ab", None),  # too short to guess from
    ],
)
def test_suggester_finds_the_near_name(value, meant):
    assert Suggester(DEPARTMENTS).suggest(value) == meant


def test_an_ambiguous_guess_is_no_guess():
    assert Suggester(["road1", "road2"]).suggest("road3") is None


def test_zeros_restored_come_first_and_say_why():
    codes = ["01001", "11001", "01"]
    assert restored_code("1001", codes) == "01001"
    assert restored_code("1", codes) == "01"
    assert restored_code("x1", codes) is None
    hint = Suggester(codes).hint("1001")
    assert "did you mean '01001'?" in hint and "leading zeros" in hint and "Text" in hint
    assert "leading zeros" not in Suggester(DEPARTMENTS).hint("raods")


@pytest.mark.parametrize(("a", "b", "d"), [("roads", "raods", 1), ("roads", "roads", 0), ("road", "roads", 1),
                                           ("abc", "xyz", 3), ("abcdef", "a", 3)])  # fmt: skip
def test_edit_distance_counts_a_swap_once_and_stops_past_the_limit(a, b, d):
    assert edit_distance(a, b, limit=2) == min(d, 3)


def _nodes(rows: list[tuple[str, str | None]]) -> tuple[list[EventNode], dict[str, int]]:
    nodes = [EventNode(c, c, p, None, None, None, place=Place("t.csv", i + 2)) for i, (c, p) in enumerate(rows)]
    depth: dict[str, int] = {}
    for n in nodes:
        depth[n.code] = 1 if n.parent is None else depth[n.parent] + 1
    return nodes, depth


def test_a_tree_of_even_widths_is_quiet():
    assert code_width_warnings("taxonomy", *_nodes([("01", None), ("01001", "01"), ("11", None), ("11001", "11")])) == []
    # areas: a district of 6 digits above towns of 9, no leading zero anywhere
    assert code_width_warnings("area", *_nodes([("110115", None), ("110115001", "110115")])) == []


def test_one_level_in_two_widths_warns_once_at_the_first_short_code():
    rows = [("1", None), ("1001", "1"), ("11", None), ("11001", "11")]
    (w,) = code_width_warnings("taxonomy", *_nodes(rows))
    assert w.code == "code.width" and w.place == Place("t.csv", 2)
    assert "level 1" in w.message and "level 2" in w.message and "'1' for '01'" in w.message


def test_single_digit_roots_above_zero_padded_children_warn():
    (w,) = code_width_warnings("taxonomy", *_nodes([("1", None), ("1001", "1"), ("2", None), ("2001", "2")]))
    assert "'01', '02'" in w.message
    # single digits whose children are not zero-padded: a scheme, not damage
    assert code_width_warnings("taxonomy", *_nodes([("1", None), ("11", "1"), ("2", None), ("21", "2")])) == []


def test_plural():
    assert [plural(1, "area"), plural(2, "area"), plural(0, "rule")] == ["1 area", "2 areas", "0 rules"]


def test_near_searches_are_bounded_but_case_and_zeros_are_not():
    from dispatch.core.hints import NEAR_SEARCHES

    s = Suggester(DEPARTMENTS + ["01001"])
    for i in range(NEAR_SEARCHES):
        s.suggest(f"unknown-{i}")
    assert s.suggest("raods") is None  # past the budget: no comparison with every name
    assert (s.suggest("ROADS"), s.suggest("1001")) == ("roads", "01001")
