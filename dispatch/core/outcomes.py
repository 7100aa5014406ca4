"""Outcomes: the one cache of decided answers, keyed by what an answer shares with its peers.

Everything in a Decision but the case id, the due time (and whether it is provisional)
and the area path depends only on the winning rule, the item, and the local government
and class of the area (see decide()). So an outcome is decided once per (rule or none,
item, local government and class) and every later case with that key only adds its own
four fields. The one-case path reads `by_key` (a dict
read, no call); a batch gets dense ids (`ids`, or the kernel `known_ids` for keys met
before) and takes each part for all its cases in one numpy indexing. A face (the HTTP
service) may render each outcome once more, its own way: `render` is called when an
outcome is built and its result kept beside it, in `Outcome.rendered` and `rendered`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from itertools import repeat
from typing import NamedTuple

import numpy as np

from dispatch.core.case import Case
from dispatch.core.decision import CASE_FIELDS, Decision, Status, decide
from dispatch.core.jit import njit, njit_inline
from dispatch.core.model import RuleSet
from dispatch.core.tables import Tables
from dispatch.core.worktime import UNIT_NONE

STATUS_CODES = (Status.AUTO, Status.PROVISIONAL, Status.MANUAL)
MAX_OUTCOMES = 1 << 16  # a bound: odd traffic must not grow memory without end
_ANY_MOMENT = datetime(2000, 1, 1)  # decide() needs a time; an outcome keeps no due time
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / phi: Fibonacci hashing


class Outcome(NamedTuple):
    head: tuple  # the Decision's fields but its last CASE_FIELDS (id, due, provisional, area path)
    unit: int  # the deadline's unit for the kernels (worktime.UNIT_*); UNIT_NONE: no due time (manual, no deadline)
    amount: int  # its seconds (h, wh) or days (wd)
    status: int  # index into STATUS_CODES
    rendered: object  # what Outcomes.render made of the outcome, or None


class Outcomes:
    """The outcomes of one compiled rule set met so far, bounded: past MAX_OUTCOMES a new OutcomeSet starts.

    Safe for a batch computed in another thread than the one-case path: whoever holds an
    OutcomeSet keeps it whole (a reset starts a new one, it never empties the old), and
    outcomes are added under a lock.
    """

    def __init__(self, ruleset: RuleSet, tables: Tables, render: Callable[[Decision], object] | None = None):
        self._ruleset = ruleset
        self._rules = ruleset.rules
        self._items = tables.items
        self.render = render
        self.lock = threading.Lock()

        # a key numbers (rule + 1, item, local) densely, where a column's local is its areas' local
        # government and class (a column's areas share both: see compile.py)
        def local(code: str) -> tuple[str, str]:
            return ruleset.local_department(code) or "", ruleset.area_class(code) or ""

        governments = sorted({local(code) for code in tables.columns})
        index = {g: i for i, g in enumerate(governments)}
        local_of_col = np.zeros(tables.n_columns, dtype=np.int64)
        self.area_of_col = [""] * tables.n_columns  # one area of each column: what an outcome is decided for
        for code, col in tables.columns.items():
            local_of_col[col] = index[local(code)]
            self.area_of_col[col] = self.area_of_col[col] or code
        local_of_col.setflags(write=False)
        self.local_of_col = local_of_col  # int64[columns]
        self._local_of_col = local_of_col.tolist()  # the same, for the one-case path
        self.n_items = len(tables.items)
        self.n_locals = len(governments)
        self.generation = 0  # counts resets
        self._reset()

    def use_renderer(self, render: Callable[[Decision], object]) -> None:
        """Render every outcome with `render` from now on (outcomes met so far are dropped)."""
        self.render = render
        self._reset()

    def _reset(self) -> None:
        self.generation += 1
        self.current = OutcomeSet(self)

    @property
    def size(self) -> int:
        return self.current.size

    def for_batch(self, coming: int) -> OutcomeSet:
        """The set a batch of `coming` cases works in: a new one when they could pass the bound."""
        if self.current.size + min(coming, MAX_OUTCOMES // 2) > MAX_OUTCOMES:
            self._reset()
        return self.current

    # -- keys ---------------------------------------------------------------------------

    def key(self, rule: int, item: int, col: int) -> int:
        return ((rule + 1) * self.n_items + item) * self.n_locals + self._local_of_col[col]

    def keys(self, rules: np.ndarray, items: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """int64[n] keys of matched cases."""
        return ((rules.astype(np.int64) + 1) * self.n_items + items) * self.n_locals + self.local_of_col[cols]

    # -- one case -------------------------------------------------------------------------

    def get(self, key: int, rule: int, item: int, area: str) -> Outcome:
        """The outcome of `key`, decided on first use; `area` is any area of the key's column."""
        found = self.current.by_key.get(key)
        if found is not None:
            return found
        if self.current.size >= MAX_OUTCOMES:
            self._reset()
        current = self.current
        return current.of_id(current.add(key, rule, item, area))

    def decide(self, rule: int, item: int, area: str) -> Outcome:
        case = Case("", self._items[item], area, "", _ANY_MOMENT)
        full = decide(self._ruleset, case, self._rules[rule] if rule >= 0 else None)
        unit, amount = UNIT_NONE, 0
        if full.deadline is not None and full.status is not Status.MANUAL:
            unit, amount = full.deadline.code, full.deadline.amount
        rendered = self.render(full) if self.render is not None else None
        return Outcome(full[:-CASE_FIELDS], unit, amount, STATUS_CODES.index(full.status), rendered)


class OutcomeSet:
    """Outcomes by key (`by_key`, for one case) and by dense id (arrays, for a batch); only ever grows."""

    def __init__(self, owner: Outcomes):
        self._owner = owner
        self._id_of: dict[int, int] = {}
        self._outcomes: list[Outcome] = []
        self.by_key: dict[int, Outcome] = {}  # the one-case path's look-up
        cap = 1024
        self.rendered = np.empty(cap, dtype=object)  # by id
        self.units = np.empty(cap, dtype=np.int64)
        self.amounts = np.empty(cap, dtype=np.int64)
        self.statuses = np.empty(cap, dtype=np.int64)
        # key -> id as an open-addressing table, for the kernel (see _outcome_id)
        self._slot_keys = np.full(2 * cap, -1, dtype=np.int64)
        self._slot_ids = np.full(2 * cap, -1, dtype=np.int32)

    @property
    def size(self) -> int:
        return len(self._outcomes)

    def ids(self, keys: np.ndarray, rules: np.ndarray, items: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """int64[n] outcome ids (indices into rendered, units, amounts, statuses) of a batch's cases, decided where new."""
        listed = keys.tolist()
        ids = np.fromiter(map(self._id_of.get, listed, repeat(-1)), dtype=np.int64, count=len(listed))
        for j in np.flatnonzero(ids < 0).tolist():
            ids[j] = self.id(listed[j], int(rules[j]), int(items[j]), int(cols[j]))
        return ids

    def known_ids(self, keys: np.ndarray, skip: np.ndarray) -> np.ndarray:
        """int64[n] ids of keys met before, in a kernel; -1 for a new key and where skip[j] != 0."""
        out = np.empty(keys.shape[0], dtype=np.int64)
        return _outcome_ids(keys, skip, self._slot_keys, self._slot_ids, out)

    def id(self, key: int, rule: int, item: int, col: int) -> int:
        """The id of outcome `key` (of a case whose winner, item and column are given), decided if new."""
        i = self._id_of.get(key)
        return i if i is not None else self.add(key, rule, item, self._owner.area_of_col[col])

    def of_id(self, i: int) -> Outcome:
        return self._outcomes[i]

    def add(self, key: int, rule: int, item: int, area: str) -> int:
        """Decide outcome `key` and give it the next id (or the id another thread just gave it)."""
        outcome = self._owner.decide(rule, item, area)
        with self._owner.lock:
            i = self._id_of.get(key)
            if i is not None:
                return i
            i = len(self._outcomes)
            if i == len(self.rendered):  # grown into copies: a reader holding the old arrays still finds its ids
                self.rendered = np.concatenate([self.rendered, np.empty(i, dtype=object)])
                self.units = np.concatenate([self.units, np.empty(i, dtype=np.int64)])
                self.amounts = np.concatenate([self.amounts, np.empty(i, dtype=np.int64)])
                self.statuses = np.concatenate([self.statuses, np.empty(i, dtype=np.int64)])
            self.rendered[i], self.statuses[i] = outcome.rendered, outcome.status
            self.units[i], self.amounts[i] = outcome.unit, outcome.amount
            self._outcomes.append(outcome)
            self.by_key[key] = outcome
            self._id_of[key] = i
            if 2 * (i + 1) > len(self._slot_keys):  # keep the table at most half full: a new one, filled, then swapped
                keys = np.full(4 * len(self._slot_keys), -1, dtype=np.int64)
                ids = np.full(len(keys), -1, dtype=np.int32)
                for old_key, old_id in self._id_of.items():
                    _insert(keys, ids, old_key, old_id)
                self._slot_keys, self._slot_ids = keys, ids
            else:
                _insert(self._slot_keys, self._slot_ids, key, i)
            return i


def _insert(slot_keys: np.ndarray, slot_ids: np.ndarray, key: int, i: int) -> None:
    mask = len(slot_keys) - 1
    slot = _slot_of(key, len(slot_keys))
    while slot_keys[slot] >= 0:
        slot = (slot + 1) & mask
    slot_ids[slot] = i  # the id first: a kernel reading meanwhile sees the key only with its id
    slot_keys[slot] = key


@njit
def _slot_of(key, size):
    """The home slot of `key` in a table of `size` (a power of two): the top bits of key * 2**64/phi."""
    bits = 0
    while (1 << bits) < size:
        bits += 1
    return np.int64((np.uint64(key) * _GOLDEN) >> np.uint64(64 - bits)) if bits else 0


@njit_inline
def _outcome_id(slot_keys, slot_ids, key):
    mask = slot_keys.shape[0] - 1
    slot = _slot_of(key, slot_keys.shape[0])
    while True:
        k = slot_keys[slot]
        if k == key:
            return slot_ids[slot]
        if k < 0:
            return -1
        slot = (slot + 1) & mask


@njit
def _outcome_ids(keys, skip, slot_keys, slot_ids, out):
    for j in range(keys.shape[0]):
        out[j] = _outcome_id(slot_keys, slot_ids, keys[j]) if skip[j] == 0 else -1
    return out
