"""History: a file of past cases (CSV `id,event,area,source,reported_at`), encoded for the batch kernel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from weakref import WeakKeyDictionary

import numpy as np

from dispatch.core.clock import BAD_DAY, local_days_joined
from dispatch.core.codebook import SEP_STR, Codebook, join_spans
from dispatch.core.csvfile import decode_text, read_bytes, read_csv
from dispatch.core.dispatcher import Dispatcher, day_of
from dispatch.core.errors import Diagnostic, HistoryError, Place
from dispatch.core.hints import lost_zeros_warning

HISTORY_COLUMNS = ("id", "event", "area", "source", "reported_at")


@dataclass(frozen=True, slots=True)
class History:
    """Encoded cases the rule set knows, and a count of those it does not (by field).

    `areas` keeps each case's own area: a column may fold a town into the district's
    column, so the coverage map cannot tell a case's town from its column.
    """

    items: np.ndarray  # int32[n]
    cols: np.ndarray  # int32[n]
    srcs: np.ndarray  # int32[n]
    days: np.ndarray  # int32[n]
    areas: np.ndarray  # int32[n] pre-order position of the case's own area in RuleSet.areas
    unknown: dict[str, int]  # field -> cases skipped for an unknown code in it (the first such field)
    warnings: tuple[Diagnostic, ...] = ()  # code.width: unknown codes that are known ones without their leading zeros

    def __len__(self) -> int:
        return int(self.items.shape[0])


def read_history(path: str | Path, dispatcher: Dispatcher) -> History:
    """Read and encode a case history; a malformed file raises HistoryError naming file:line."""
    columns = read_case_columns(path)
    joined = columns.joined_all()
    enc = encode_cases(columns, dispatcher, joined)
    areas = _area_positions(dispatcher).lookup_joined(joined["area"], len(columns))
    keep = enc.known
    warnings = _lost_zeros(columns, dispatcher, enc)
    return History(enc.items[keep], enc.cols[keep], enc.srcs[keep], enc.days[keep], areas[keep], enc.unknown, warnings)


def _lost_zeros(columns: CaseColumns, dispatcher: Dispatcher, enc: EncodedCases) -> tuple[Diagnostic, ...]:
    """code.width warnings for event and area codes that are known codes without their leading zeros."""
    found = []
    for column, codes, known in (
        ("event", enc.items, dispatcher.ruleset.events),
        ("area", enc.cols, dispatcher.ruleset.areas),
    ):
        cases = np.flatnonzero(codes < 0)[:100_000].tolist()  # enough to say that it happens, and where first
        unknown = [(columns.value(column, j), columns.place(column, j)) for j in cases]
        warning = lost_zeros_warning("case", column, unknown, known)
        if warning is not None:
            found.append(warning)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class EncodedCases:
    """Every case of a history in one rule set's indices; `known` marks those whose codes the set all knows.

    items/cols/srcs are -1 where a code is unknown; `unknown` counts the cases by their
    first unknown field (event, then area, then source).
    """

    items: np.ndarray  # int32[n]
    cols: np.ndarray  # int32[n]
    srcs: np.ndarray  # int32[n]
    days: np.ndarray  # int32[n]
    known: np.ndarray  # bool[n]
    unknown: dict[str, int]


def encode_cases(
    columns: CaseColumns, dispatcher: Dispatcher, joined: dict[str, np.ndarray] | None = None
) -> EncodedCases:
    """The cases of `columns` in `dispatcher`'s indices, by its codebooks and clock kernels.

    `joined`: the columns already joined (CaseColumns.joined_all), when several rule sets
    encode the same history. Raises HistoryError for a report time that is not ISO 8601.
    """
    joined = joined if joined is not None else columns.joined_all()
    n = len(columns)
    items = dispatcher.item_codes.lookup_joined(joined["event"], n)
    cols = dispatcher.area_codes.lookup_joined(joined["area"], n)
    srcs = dispatcher.source_codes.lookup_joined(joined["source"], n)
    days = local_days_joined(joined["reported_at"], n, dispatcher.ruleset.manifest.timezone)
    _read_rare_times(columns, dispatcher, days)
    first_bad = np.where(items < 0, 1, np.where(cols < 0, 2, np.where(srcs < 0, 3, 0)))
    unknown = {name: int((first_bad == code).sum()) for code, name in ((1, "event"), (2, "area"), (3, "source"))}
    return EncodedCases(items, cols, srcs, days, first_bad == 0, unknown)


def _read_rare_times(columns: CaseColumns, dispatcher: Dispatcher, days: np.ndarray) -> None:
    """Days of the report times the kernel does not read (basic format, week dates...), by fromisoformat.

    The kernel reads the extended forms calling systems send; anything else that the
    service accepts must read here too. Raises HistoryError for what neither reads.
    """
    problems = []
    for j in np.flatnonzero(days == BAD_DAY).tolist():
        text = columns.value("reported_at", j)
        try:
            days[j] = day_of(dispatcher.ruleset, datetime.fromisoformat(text))
        except ValueError:
            if len(problems) < 100:
                problems.append(
                    Diagnostic(
                        "value.datetime", f"reported_at {text!r} is not ISO 8601", columns.place("reported_at", j)
                    )
                )
    if problems:
        raise HistoryError(problems)


_AREA_POSITIONS: WeakKeyDictionary[Dispatcher, Codebook] = WeakKeyDictionary()


def _area_positions(dispatcher: Dispatcher) -> Codebook:
    """Area code -> pre-order position in the rule set's area tree (not the folded column)."""
    book = _AREA_POSITIONS.get(dispatcher)
    if book is None:
        areas = dispatcher.ruleset.areas
        book = _AREA_POSITIONS[dispatcher] = Codebook({a.code: areas.pos(a.code) for a in areas})
    return book


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
    fields: tuple[int, ...]  # the file's field number (1-based) of each column, for diagnostics

    def __len__(self) -> int:
        return int(self.lines.shape[0])

    def place(self, column: str, j: int) -> Place:
        """file:line:col of case j's field `column`."""
        return Place(self.path, int(self.lines[j]), self.fields[HISTORY_COLUMNS.index(column)])

    def value(self, column: str, j: int) -> str:
        c = HISTORY_COLUMNS.index(column)
        return self.buf[self.starts[c, j] : self.stops[c, j]].tobytes().decode()

    def column(self, column: str) -> list[str]:
        """Every value of a column as str: for small histories and tests."""
        return [self.value(column, j) for j in range(len(self))]

    def joined_all(self) -> dict[str, np.ndarray]:
        """The four coded columns (not `id`), each joined once."""
        return {column: self.joined(column) for column in HISTORY_COLUMNS[1:]}

    def joined(self, column: str) -> np.ndarray:
        """uint8: the column's values joined by SEP, as Codebook.lookup_joined and local_days_joined read them."""
        c = HISTORY_COLUMNS.index(column)
        n = len(self)
        out = np.empty(int((self.stops[c] - self.starts[c]).sum()) + max(n - 1, 0), dtype=np.uint8)
        return join_spans(self.buf, self.starts[c], self.stops[c], out)


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
        problems.append(
            Diagnostic(
                "csv.field_count",
                f"row has {per_row[j] + 1} field(s), the header has {width}",
                Place(display, int(lines[j])),
            )
        )
    if problems:
        raise HistoryError(problems)
    cuts = commas.reshape(len(ends), width - 1)
    field_starts = [begins] + [cuts[:, k] + 1 for k in range(width - 1)]
    field_stops = [cuts[:, k] for k in range(width - 1)] + [ends]
    picked = [names.index(c) for c in HISTORY_COLUMNS]
    starts = np.stack([field_starts[k] for k in picked]).astype(np.int64)
    stops = np.stack([field_stops[k] for k in picked]).astype(np.int64)
    return CaseColumns(
        display,
        raw,
        starts.reshape(len(HISTORY_COLUMNS), -1),
        stops.reshape(len(HISTORY_COLUMNS), -1),
        lines,
        _field_numbers(names),
    )


def _field_numbers(names: list[str]) -> tuple[int, ...]:
    return tuple(names.index(c) + 1 if c in names else 0 for c in HISTORY_COLUMNS)


def _columns_of_rows(display: str, rows, problems: list[Diagnostic]) -> CaseColumns:
    """CaseColumns of read_csv rows: their values laid out one after another in a buffer."""
    chunks: list[bytes] = []
    starts: list[list[int]] = [[] for _ in HISTORY_COLUMNS]
    stops: list[list[int]] = [[] for _ in HISTORY_COLUMNS]
    lines: list[int] = []
    fields = (0,) * len(HISTORY_COLUMNS)
    at = 0
    for row in rows:
        if not lines:
            fields = tuple(row.place(name).col for name in HISTORY_COLUMNS)
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

    return CaseColumns(display, buf, grid(starts), grid(stops), np.asarray(lines, dtype=np.int32).reshape(-1), fields)
