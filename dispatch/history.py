"""History: a file of past cases (CSV `id,event,area,source,reported_at`), encoded for the batch kernel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from dispatch import kernels
from dispatch.codebook import SEP, SEP_STR
from dispatch.csvfile import decode_text, read_bytes, read_csv
from dispatch.dispatcher import Dispatcher, day_of
from dispatch.errors import Diagnostic, HistoryError, Place

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


@dataclass(frozen=True, slots=True, eq=False)
class CaseColumns:
    """A case history as read, not yet encoded: the file's bytes and where each field lies.

    buf     uint8[size]     the text (UTF-8; BOM dropped, CRLF made LF, SEP bytes made '?')
    starts  int64[5, n]     where the field of each column (HISTORY_COLUMNS order) of case j starts
    stops   int64[5, n]     and where it stops
    lines   int32[n]        the file line of each case (for diagnostics)

    No Python string per field: a million cases stay ~70 MB, and each column goes to
    the codebook and timestamp kernels as one joined buffer (joined()).
    """

    path: str
    buf: np.ndarray
    starts: np.ndarray
    stops: np.ndarray
    lines: np.ndarray

    def __len__(self) -> int:
        return int(self.lines.shape[0])

    def value(self, column: str, j: int) -> str:
        c = HISTORY_COLUMNS.index(column)
        return self.buf[self.starts[c, j] : self.stops[c, j]].tobytes().decode()

    def column(self, column: str) -> list[str]:
        """Every value of a column as str: for small histories and tests."""
        return [self.value(column, j) for j in range(len(self))]

    def joined(self, column: str) -> np.ndarray:
        """uint8: the column's values joined by SEP, as Codebook.lookup_joined and local_days_joined read them."""
        c = HISTORY_COLUMNS.index(column)
        n = len(self)
        out = np.empty(int((self.stops[c] - self.starts[c]).sum()) + max(n - 1, 0), dtype=np.uint8)
        return kernels.join_fields(self.buf, self.starts[c], self.stops[c], SEP, out)


def read_case_columns(path: str | Path) -> CaseColumns:
    """Read a case history for encoding against any number of rule sets; HistoryError names file:line.

    A plain file (no quotes, no spaces) is cut into fields with numpy: a million cases
    in a fraction of a second. Anything else goes through read_csv, which reads what
    spreadsheets write (quotes, edge spaces), and is laid out the same way.
    """
    display = str(path)
    problems: list[Diagnostic] = []
    data = read_bytes(Path(path), display, problems)
    text = decode_text(data, display, problems) if data is not None else None
    if text is None:
        raise HistoryError(problems)
    del data
    text = text.replace(SEP_STR, "?")  # a code never holds SEP: keep the joined columns aligned
    header, _, body = text.partition("\n")
    names = [h.strip() for h in header.split(",")]
    plain = not any(c in text for c in '"\x00 \t')
    if not plain or len(set(names)) != len(names) or any(c not in names for c in HISTORY_COLUMNS):
        # read_csv says exactly what is wrong with a header, and reads quoted fields
        rows = read_csv(Path(path), display, HISTORY_COLUMNS, problems)
        return _columns_of_rows(display, rows, problems)
    raw = np.frombuffer(body.encode(), dtype=np.uint8)
    del text, body
    ends = np.flatnonzero(raw == 10)
    if raw.size and raw[-1] != 10:
        ends = np.append(ends, raw.size)  # the last line has no line end
    begins = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64) if ends.size else ends.astype(np.int64)
    lines = np.arange(2, len(ends) + 2, dtype=np.int32)
    filled = ends > begins
    begins, ends, lines = begins[filled], ends[filled], lines[filled]  # blank lines hold no case
    commas = np.flatnonzero(raw == 44)
    width = len(names)
    per_row = np.searchsorted(commas, ends) - np.searchsorted(commas, begins)
    for j in np.flatnonzero(per_row != width - 1)[:100].tolist():
        problems.append(Diagnostic("csv.field_count", f"row has {per_row[j] + 1} field(s), the header has {width}",
                                   Place(display, int(lines[j]))))  # fmt: skip
    if problems:
        raise HistoryError(problems)
    cuts = commas.reshape(len(ends), width - 1)
    field_starts = [begins] + [cuts[:, k] + 1 for k in range(width - 1)]
    field_stops = [cuts[:, k] for k in range(width - 1)] + [ends]
    picked = [names.index(c) for c in HISTORY_COLUMNS]
    starts = np.stack([field_starts[k] for k in picked]).astype(np.int64)
    stops = np.stack([field_stops[k] for k in picked]).astype(np.int64)
    return CaseColumns(display, raw, starts.reshape(len(HISTORY_COLUMNS), -1), stops.reshape(len(HISTORY_COLUMNS), -1),
                       lines)  # fmt: skip


def _columns_of_rows(display: str, rows, problems: list[Diagnostic]) -> CaseColumns:
    """CaseColumns of read_csv rows: their values laid out one after another in a buffer."""
    chunks: list[bytes] = []
    starts: list[list[int]] = [[] for _ in HISTORY_COLUMNS]
    stops: list[list[int]] = [[] for _ in HISTORY_COLUMNS]
    lines: list[int] = []
    at = 0
    for row in rows:
        for c, name in enumerate(HISTORY_COLUMNS):
            value = row.get(name).replace(SEP_STR, "?").encode()
            chunks.append(value)
            starts[c].append(at)
            at += len(value)
            stops[c].append(at)
        lines.append(row.line)
    if problems:
        raise HistoryError(problems)
    buf = np.frombuffer(b"".join(chunks), dtype=np.uint8)

    def grid(values: list[list[int]]) -> np.ndarray:
        return np.asarray(values, dtype=np.int64).reshape(len(HISTORY_COLUMNS), -1)

    return CaseColumns(display, buf, grid(starts), grid(stops), np.asarray(lines, dtype=np.int32).reshape(-1))
