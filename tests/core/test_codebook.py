"""The one code table: every kernel's probe and the one-case dict give the same index for every string."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.core.codebook import INLINE_BYTES, SEP_STR, Codebook, join_spans

# codes of every length around the record's inline bytes, many sharing a prefix
codes = st.one_of(
    st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=INLINE_BYTES + 12),
    st.builds(lambda tail: "1101150050010011" + tail, st.text("0123456789", max_size=6)),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=SEP_STR), max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(codes, st.integers(0, 50), max_size=60), st.lists(codes, max_size=40))
def test_lookup_is_the_dict(table, others):
    book = Codebook(table)
    asked = list(table) + others
    want = [table.get(c, -1) for c in asked]
    assert book.lookup_many(asked).tolist() == want
    assert [book.keys[k] if k >= 0 else None for k in book.key_indices(_joined(asked), len(asked)).tolist()] == [
        c if c in table else None for c in asked
    ]


def test_separators_and_surrogates_fall_back_to_the_dict():
    book = Codebook({"a": 0, "b": 1})
    assert book.lookup_many(["a", "a\x1fb", "\ud800", "b"]).tolist() == [0, -1, -1, 1]


def test_an_empty_codebook_knows_nothing():
    assert Codebook({}).lookup_many(["", "x"]).tolist() == [-1, -1]


def test_join_spans_joins_byte_ranges():
    buf = np.frombuffer(b"xxabcyyde", dtype=np.uint8)
    out = np.empty(6, dtype=np.uint8)
    join_spans(buf, np.array([2, 7]), np.array([5, 9]), out)
    assert out.tobytes() == b"abc\x1fde"


def _joined(values: list[str]) -> np.ndarray:
    return np.frombuffer(SEP_STR.join(values).encode(), dtype=np.uint8)
