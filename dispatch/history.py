"""History: a file of past cases (CSV `id,event,area,source,reported_at`), encoded for the batch kernel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from dispatch.csvfile import read_csv
from dispatch.dispatcher import Dispatcher, day_of
from dispatch.errors import Diagnostic, HistoryError

HISTORY_COLUMNS = ("id", "event", "area", "source", "reported_at")


@dataclass(frozen=True, slots=True)
class History:
    """Encoded cases the rule set knows, and a count of those it does not (by field).

    `areas` keeps each case's own area: a column may fold a town into the district's
    column, so the coverage map cannot tell a case's town from its column.
    """

    ids: list[str]
    items: np.ndarray  # int32[n]
    cols: np.ndarray  # int32[n]
    srcs: np.ndarray  # int32[n]
    days: np.ndarray  # int32[n]
    areas: np.ndarray  # int32[n] pre-order position of the case's own area in RuleSet.areas
    unknown: dict[str, int]  # field -> cases skipped for an unknown code in it

    def __len__(self) -> int:
        return len(self.ids)


def read_history(path: str | Path, dispatcher: Dispatcher) -> History:
    """Read and encode a case history; a malformed file raises HistoryError naming file:line."""
    problems: list[Diagnostic] = []
    ids, items, cols, srcs, days, areas = [], [], [], [], [], []
    unknown = {"event": 0, "area": 0, "source": 0}
    item_of = dispatcher.item_codes.index
    col_of = dispatcher.area_codes.index
    src_of = dispatcher.source_codes.index
    area_pos = dispatcher.ruleset.areas.pos
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
        areas.append(area_pos(area))
    if problems:
        raise HistoryError(problems)

    def arr(values: list[int]) -> np.ndarray:
        return np.asarray(values, dtype=np.int32).reshape(-1)

    return History(ids, arr(items), arr(cols), arr(srcs), arr(days), arr(areas), unknown)
