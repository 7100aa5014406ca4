"""Codebook: code strings -> dense indices, for one string in Python or a million in a kernel.

The one code table: the one-case path reads a dict; every kernel that meets codes as
bytes (a joined batch of strings, a history file, the service's raw batch body) probes
the same keys through probe() in a CodeTable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from dispatch.core.jit import njit, njit_inline

SEP = 0x1F  # ASCII unit separator: joins a batch of strings into one buffer
SEP_STR = chr(SEP)
INLINE_BYTES = 16  # a key's first bytes held in its record; longer keys compare the rest in key_blob
_EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)
_MIX = np.uint64(0xFF51AFD7ED558CCD)  # murmur3's finaliser constant
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / phi: Fibonacci hashing


class CodeTable(NamedTuple):
    """A Codebook's keys as arrays that a kernel probes (one argument, not five).

    records   uint64[2**bits, 4]  open addressing, linear probing, at most a quarter full:
                                  the key's first two 8-byte words (little-endian, zero-padded),
                                  then (length << 32 | key index); an empty record is all ones.
                                  One cache line a probe, compared a word at a time.
    bits      int64               log2 of the number of records
    key_blob  uint8[total]        every key's bytes, keys in sorted order
    key_off   int64[keys + 1]     key i is key_blob[key_off[i]:key_off[i + 1]]
    value_of_key int32[keys]      the index a key stands for (several keys may share one)
    """

    records: np.ndarray
    bits: int
    key_blob: np.ndarray
    key_off: np.ndarray
    value_of_key: np.ndarray


@njit_inline
def _word(buf, lo, hi):
    """buf[lo:hi] (at most 8 bytes) as a little-endian integer."""
    w = np.uint64(0)
    for q in range(hi - lo):
        w |= np.uint64(buf[lo + q]) << np.uint64(8 * q)
    return w


@njit_inline
def _head(buf, lo, hi):
    """The first INLINE_BYTES of buf[lo:hi] as two words."""
    w0 = _word(buf, lo, min(lo + 8, hi))
    w1 = _word(buf, lo + 8, min(lo + INLINE_BYTES, hi)) if hi - lo > 8 else np.uint64(0)
    return w0, w1


@njit_inline
def _slot(w0, w1, length, bits):
    h = (w0 * _MIX) ^ (w1 * _GOLDEN) ^ np.uint64(length)
    h ^= h >> np.uint64(29)
    h *= _MIX
    return np.int64(h >> np.uint64(64 - bits))


@njit
def _build_records(key_blob, key_off, bits):
    records = np.full((1 << bits, 4), _EMPTY, dtype=np.uint64)
    mask = (1 << bits) - 1
    for i in range(key_off.shape[0] - 1):
        lo, hi = key_off[i], key_off[i + 1]
        w0, w1 = _head(key_blob, lo, hi)
        slot = _slot(w0, w1, hi - lo, bits)
        while records[slot, 2] != _EMPTY:
            slot = (slot + 1) & mask
        records[slot, 0], records[slot, 1] = w0, w1
        records[slot, 2] = (np.uint64(hi - lo) << np.uint64(32)) | np.uint64(i)
    return records


@njit_inline
def bytes_equal(buf, lo, hi, word):
    """buf[lo:hi] equals the bytes of `word` (a tuple of ints)."""
    if hi - lo != len(word):
        return False
    for q in range(len(word)):
        if buf[lo + q] != word[q]:
            return False
    return True


@njit_inline
def probe(buf, lo, hi, table):
    """The key index (not yet its value) of the code buf[lo:hi] in a CodeTable, or -1."""
    length = hi - lo
    w0, w1 = _head(buf, lo, hi)
    records = table.records
    mask = records.shape[0] - 1
    slot = _slot(w0, w1, length, table.bits)
    want = np.uint64(length) << np.uint64(32)
    while True:
        meta = records[slot, 2]
        if meta == _EMPTY:
            return -1
        if records[slot, 0] == w0 and records[slot, 1] == w1 and (meta & np.uint64(0xFFFFFFFF00000000)) == want:
            key = np.int64(meta & np.uint64(0xFFFFFFFF))
            if length <= INLINE_BYTES:
                return key
            start = table.key_off[key]
            same = True
            for q in range(INLINE_BYTES, length):
                if table.key_blob[start + q] != buf[lo + q]:
                    same = False
                    break
            if same:
                return key
        slot = (slot + 1) & mask


@njit_inline
def token_end(buf, start, sep):
    """The index of the separator (or the end) that closes the token starting at `start`."""
    stop = start
    while stop < buf.shape[0] and buf[stop] != sep:
        stop += 1
    return stop


@njit
def _lookup_tokens(buf, sep, out, table):
    """out[j] = the key index of the j-th `sep`-separated token of `buf`, or -1; the number of tokens read."""
    j = 0
    start = 0
    n = buf.shape[0]
    while start <= n and j < out.shape[0]:
        stop = token_end(buf, start, sep)
        out[j] = probe(buf, start, stop, table)
        j += 1
        start = stop + 1
    return j


class Codebook:
    """The codes of one kind (items, areas, sources) and their indices.

    `index` is a dict for the one-case path; `table` is the same map as a CodeTable
    that kernels probe straight from bytes.
    """

    def __init__(self, codes: dict[str, int]):
        self.index = codes
        # several codes may share an index (folded areas): each code is its own key
        self.keys = tuple(sorted(codes))
        encoded = [c.encode() for c in self.keys]
        key_off = np.zeros(len(encoded) + 1, dtype=np.int64)
        key_off[1:] = np.cumsum([len(e) for e in encoded])
        key_blob = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
        value_of_key = np.asarray([codes[c] for c in self.keys], dtype=np.int32)
        bits = max(len(encoded).bit_length() + 2, 4)
        records = _build_records(key_blob, key_off, bits)
        for a in (key_off, key_blob, value_of_key, records):
            a.setflags(write=False)
        self.table = CodeTable(records, bits, key_blob, key_off, value_of_key)

    def __len__(self) -> int:
        return len(self.index)

    def lookup_many(self, codes: Sequence[str]) -> np.ndarray:
        """int32[n] indices of `codes`; -1 for an unknown code."""
        n = len(codes)
        joined = SEP_STR.join(codes)
        try:
            if joined.count(SEP_STR) != max(n - 1, 0):  # a separator inside a code would shift the rest
                raise ValueError
            buf = np.frombuffer(joined.encode(), dtype=np.uint8)
        except ValueError:  # also UnicodeEncodeError: a lone surrogate; the dict is exact
            return np.fromiter((self.index.get(c, -1) for c in codes), np.int32, n)
        return self.lookup_joined(buf, n)

    def key_indices(self, buf: np.ndarray, n: int) -> np.ndarray:
        """int32[n] key indices (into `keys`) of the n codes in `buf` (uint8, joined by SEP); -1 unknown."""
        keys = np.empty(n, dtype=np.int32)
        if n:
            _lookup_tokens(buf, SEP, keys, self.table)
        return keys

    def lookup_joined(self, buf: np.ndarray, n: int) -> np.ndarray:
        """int32[n] indices of the n codes in `buf` (uint8, joined by SEP, none containing it); -1 unknown."""
        keys = self.key_indices(buf, n)
        out = np.full(n, -1, dtype=np.int32)
        known = keys >= 0
        out[known] = self.table.value_of_key[keys[known]]
        return out


@njit
def _join_fields(buf, starts, stops, sep, out):
    p = 0
    for j in range(starts.shape[0]):
        if j:
            out[p] = sep
            p += 1
        for k in range(starts[j], stops[j]):
            out[p] = buf[k]
            p += 1
    return out


def join_spans(buf: np.ndarray, starts: np.ndarray, stops: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = the byte ranges buf[starts[j]:stops[j]] joined by SEP, as lookup_joined reads them; out has exactly the room."""
    return _join_fields(buf, starts, stops, SEP, out)
