"""Codebook: code strings -> dense indices, for one string in Python or a million in a kernel."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dispatch.core import kernels

SEP = 0x1F  # ASCII unit separator: joins a batch of strings into one buffer
SEP_STR = chr(SEP)


def _fnv1a(data: bytes) -> int:
    h = kernels.FNV_OFFSET
    for b in data:
        h = ((h ^ b) * kernels.FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


class Codebook:
    """The codes of one kind (items, areas, sources) and their indices.

    `index` is a dict for the one-case path; `slots`/`key_blob`/`key_off` are the same map
    as an open-addressing hash table (FNV-1a, linear probing, load <= 1/2) that the
    batch kernel probes straight from a joined byte buffer.
    """

    def __init__(self, codes: dict[str, int]):
        self.index = codes
        # several codes may share an index (folded areas): each code is its own key
        self._codes = sorted(codes)
        encoded = [c.encode() for c in self._codes]
        self.key_off = np.zeros(len(encoded) + 1, dtype=np.int64)
        self.key_off[1:] = np.cumsum([len(e) for e in encoded])
        self.key_blob = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
        size = 1
        while size < 2 * max(len(encoded), 1):
            size *= 2
        self.slots = np.full(size, -1, dtype=np.int32)
        mask = size - 1
        for i, key in enumerate(encoded):
            slot = _fnv1a(key) & mask
            while self.slots[slot] >= 0:
                slot = (slot + 1) & mask
            self.slots[slot] = i
        self.value_of_key = np.asarray([codes[c] for c in self._codes], dtype=np.int32)
        for a in (self.key_off, self.key_blob, self.slots, self.value_of_key):
            a.setflags(write=False)

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

    def lookup_joined(self, buf: np.ndarray, n: int) -> np.ndarray:
        """int32[n] indices of the n codes in `buf` (uint8, joined by SEP, none containing it); -1 unknown."""
        keys = np.empty(n, dtype=np.int32)
        if n:
            kernels.lookup_tokens(buf, SEP, keys, self.slots, self.key_blob, self.key_off)
        out = self.value_of_key[keys]
        out[keys < 0] = -1
        return out
