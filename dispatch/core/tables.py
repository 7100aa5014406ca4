"""Tables: the compiled rule set as read-only numpy arrays and decode maps; save, load, nothing else."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NamedTuple

import numpy as np

FORMAT = 3
BLOCK_SHIFT = 6  # windowed rules are listed per item and block of 64 columns
NO_RULE = -1
DAY_MIN = np.iinfo(np.int32).min  # an open valid_from
DAY_MAX = np.iinfo(np.int32).max  # an open valid_to


@dataclass(frozen=True, slots=True, eq=False)
class Tables:
    """The winner of every (item, column, source) resolved ahead of time, plus the few windowed rules.

    Ranks: every rule has a rank, its place in the total order of the precedence key
    (then the smaller id); a higher rank wins. A match is the highest rank among
    `base`/`src_plane` (window-less rules, painted at compile time) and the windowed
    rules listed for the item (checked at match time: they are few).

    Arrays (C-contiguous, read-only):
      base          int32[items, cols]      rank of the window-less winner for any source, or -1
      src_row       int32[items, sources]   row of `src_plane` for an (item, source) that a source-specific
                                            rule reaches, or -1: then `base` answers
      src_plane     int32[rows, cols]       as `base`, for those (item, source) pairs
      col_grid_type int8[cols]              grid-type id of a column's area, or -1
      win_ptr       int32[items * blocks + 1]  CSR: the windowed rules that can match item i in column c
                                            are win_ids[win_ptr[k]:win_ptr[k+1]], k = i * blocks + (c >> BLOCK_SHIFT),
                                            highest rank first; a list per block, not per item, so that
                                            a city of many districts does not walk every district's rules
      win_ids       int32[nnz]              index into the win_* arrays
      win_rank, win_col_lo, win_col_hi, win_grid_type, win_source, win_from, win_to
                    int32[windowed]         a windowed rule's rank, column range, filters (-1 any)
                                            and days since 1970-01-01, [from, to)
      rule_by_rank  int32[rules]            rank -> index into RuleSet.rules
      urgent        bool[items]             the item's urgency (the no-match policy needs it)

    Decode maps: `items` (item codes by index), `columns` (area code -> column for every
    area, folded ones included), `sources`, `grid_types`.
    """

    version: str
    items: tuple[str, ...]
    columns: dict[str, int]
    sources: tuple[str, ...]
    grid_types: tuple[str, ...]
    base: np.ndarray
    src_row: np.ndarray
    src_plane: np.ndarray
    col_grid_type: np.ndarray
    win_ptr: np.ndarray
    win_ids: np.ndarray
    win_rank: np.ndarray
    win_col_lo: np.ndarray
    win_col_hi: np.ndarray
    win_grid_type: np.ndarray
    win_source: np.ndarray
    win_from: np.ndarray
    win_to: np.ndarray
    rule_by_rank: np.ndarray
    urgent: np.ndarray

    def __post_init__(self) -> None:
        for name in _ARRAYS:
            array = np.ascontiguousarray(getattr(self, name))
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    @property
    def lookup(self) -> Lookup:
        """The arrays the winner lookup reads, as the one structure the kernels take."""
        return Lookup(*(getattr(self, name) for name in Lookup._fields))

    @property
    def n_columns(self) -> int:
        return int(self.base.shape[1])

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in _ARRAYS)

    def same_as(self, other: Tables) -> bool:
        """Byte-for-byte equality of every array and map: compiles are deterministic."""
        return all(
            np.array_equal(getattr(self, f), getattr(other, f)) and getattr(self, f).dtype == getattr(other, f).dtype
            if f in _ARRAYS
            else getattr(self, f) == getattr(other, f)
            for f in _FIELDS
        )


class Lookup(NamedTuple):
    """What a winner lookup reads of a Tables (see there): one argument for a kernel, not fourteen."""

    base: np.ndarray
    src_row: np.ndarray
    src_plane: np.ndarray
    col_grid_type: np.ndarray
    win_ptr: np.ndarray
    win_ids: np.ndarray
    win_rank: np.ndarray
    win_col_lo: np.ndarray
    win_col_hi: np.ndarray
    win_grid_type: np.ndarray
    win_source: np.ndarray
    win_from: np.ndarray
    win_to: np.ndarray
    rule_by_rank: np.ndarray


_FIELDS = tuple(f.name for f in fields(Tables))
_ARRAYS = tuple(f.name for f in fields(Tables) if f.type == "np.ndarray")
_MAPS = ("version", "items", "columns", "sources", "grid_types")


def save_tables(tables: Tables, path: str | Path) -> None:
    """Write the tables as one .npz artifact (uncompressed: it loads by memory copy)."""
    meta = {"format": FORMAT, **{k: getattr(tables, k) for k in _MAPS}}
    arrays = {name: getattr(tables, name) for name in _ARRAYS}
    with open(path, "wb") as out:
        np.savez(out, meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), np.uint8), **arrays)


class StaleTables(ValueError):
    """An artifact built from another rule-set version (or another format)."""


def load_tables(path: str | Path, version: str) -> Tables:
    """Read an artifact written by save_tables; refuse one built from another rule-set version."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(data["meta"].tobytes())
        if meta.get("format") != FORMAT or meta.get("version") != version:
            raise StaleTables(f"{path}: tables of version {meta.get('version')!r}, rule set is {version!r}")
        arrays = {name: data[name] for name in _ARRAYS}
    maps = {k: meta[k] for k in _MAPS}
    maps["items"] = tuple(maps["items"])
    maps["sources"] = tuple(maps["sources"])
    maps["grid_types"] = tuple(maps["grid_types"])
    return Tables(**maps, **arrays)
