"""History: a file of past cases (CSV `id,event,area,source,reported_at`), encoded for the batch kernel."""

from __future__ import annotations

import gc
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from dispatch.csvfile import decode_text, read_bytes, read_csv
from dispatch.dispatcher import Dispatcher, day_of
from dispatch.errors import Diagnostic, HistoryError, Place

HISTORY_COLUMNS = ("id", "event", "area", "source", "reported_at")


@dataclass(frozen=True, slots=True)
class History:
    """Encoded cases the rule set knows, and a count of those it does not (by field)."""

    ids: list[str]
    items: np.ndarray  # int32[n]
    cols: np.ndarray  # int32[n]
    srcs: np.ndarray  # int32[n]
    days: np.ndarray  # int32[n]
    unknown: dict[str, int]  # field -> cases skipped for an unknown code in it

    def __len__(self) -> int:
        return len(self.ids)


def read_history(path: str | Path, dispatcher: Dispatcher) -> History:
    """Read and encode a case history; a malformed file raises HistoryError naming file:line."""
    problems: list[Diagnostic] = []
    ids, items, cols, srcs, days = [], [], [], [], []
    unknown = {"event": 0, "area": 0, "source": 0}
    item_of = dispatcher.item_codes.index
    col_of = dispatcher.area_codes.index
    src_of = dispatcher.source_codes.index
    day_cache: dict[str, int] = {}
    for row in read_csv(Path(path), str(path), HISTORY_COLUMNS, problems):
        event, area, source, stamp = row.get("event"), row.get("area"), row.get("source"), row.get("reported_at")
        if event not in item_of:
            unknown["event"] += 1
            continue
        if area not in col_of:
            unknown["area"] += 1
            continue
        if source not in src_of:
            unknown["source"] += 1
            continue
        day = day_cache.get(stamp)
        if day is None:
            try:
                day = day_cache[stamp] = day_of(dispatcher.ruleset, datetime.fromisoformat(stamp))
            except ValueError:
                problems.append(Diagnostic("value.datetime", f"reported_at {stamp!r} is not ISO 8601",
                                           row.place("reported_at")))  # fmt: skip
                continue
        ids.append(row.get("id"))
        items.append(item_of[event])
        cols.append(col_of[area])
        srcs.append(src_of[source])
        days.append(day)
    if problems:
        raise HistoryError(problems)

    def arr(values: list[int]) -> np.ndarray:
        return np.asarray(values, dtype=np.int32).reshape(-1)

    return History(ids, arr(items), arr(cols), arr(srcs), arr(days), unknown)


@dataclass(frozen=True, slots=True)
class CaseColumns:
    """A case history as read, not yet encoded: one list of strings per column, in file order.

    lines  int32[n]  the file line of each case (for diagnostics)
    """

    path: str
    ids: Sequence[str]
    events: Sequence[str]
    areas: Sequence[str]
    sources: Sequence[str]
    stamps: Sequence[str]
    lines: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


_EDGE_SPACE = re.compile(r"(?:^|[,\n])[ \t]|[ \t](?:[,\n]|$)")


def read_case_columns(path: str | Path) -> CaseColumns:
    """Read a case history into columns, for encoding against any number of rule sets.

    A plain file (no quotes) is split by hand with the collector paused: a million
    cases in well under a second, where csv rows and dicts take several. Anything else
    goes through read_csv, which reads what spreadsheets write. A file that cannot be
    read raises HistoryError naming file:line.
    """
    display = str(path)
    problems: list[Diagnostic] = []
    data = read_bytes(Path(path), display, problems)
    text = decode_text(data, display, problems) if data is not None else None
    if text is None:
        raise HistoryError(problems)
    if '"' in text or "\x00" in text:
        return _columns_of_rows(display, read_csv(Path(path), display, HISTORY_COLUMNS, problems), problems)
    header, _, body = text.partition("\n")
    names = [h.strip() for h in header.split(",")]
    if not header.strip() or len(set(names)) != len(names) or any(c not in names for c in HISTORY_COLUMNS):
        # let read_csv say exactly what is wrong with the header
        return _columns_of_rows(display, read_csv(Path(path), display, HISTORY_COLUMNS, problems), problems)
    enabled = gc.isenabled()
    gc.disable()  # a million small lists: the collector would walk them again and again
    try:
        spaced = " " in body or "\t" in body
        strip = spaced and _EDGE_SPACE.search(body) is not None  # a regex over 60 MB costs seconds
        rows = body.split("\n")
        del data, text, body  # a million cases are a gigabyte of str objects at the peak: free what we can
        if rows and not rows[-1]:
            rows.pop()  # the last line's end
        lines = np.arange(2, len(rows) + 2, dtype=np.int32)
        if "" in rows or (spaced and any(not r.strip() for r in rows)):
            keep = [j for j, r in enumerate(rows) if r.strip()]
            rows, lines = [rows[j] for j in keep], lines[keep]
        fields = [r.split(",") for r in rows]
        del rows
        width = len(names)
        bad = [j for j, f in enumerate(fields) if len(f) != width]
        for j in bad[:100]:
            problems.append(Diagnostic("csv.field_count", f"row has {len(fields[j])} field(s), the header has {width}",
                                       Place(display, int(lines[j]))))  # fmt: skip
        if problems:
            raise HistoryError(problems)
        columns = list(zip(*fields, strict=True)) if fields else [()] * width
        del fields
        picked = [list(map(str.strip, c)) if strip else c for c in (columns[names.index(n)] for n in HISTORY_COLUMNS)]
    finally:
        if enabled:
            gc.enable()
    return CaseColumns(display, *picked, lines)


def _columns_of_rows(display: str, rows, problems: list[Diagnostic]) -> CaseColumns:
    values: list[list[str]] = [[] for _ in HISTORY_COLUMNS]
    lines: list[int] = []
    for row in rows:
        for column, name in zip(values, HISTORY_COLUMNS, strict=True):
            column.append(row.get(name))
        lines.append(row.line)
    if problems:
        raise HistoryError(problems)
    return CaseColumns(display, *values, np.asarray(lines, dtype=np.int32).reshape(-1))
