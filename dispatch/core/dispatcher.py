"""Dispatcher: the one matcher front end: encode cases, look their winners up in the compiled tables, decide.

Every entry is here: one case (a Case, or its codes as strings), encoded arrays, a batch
of strings, and a batch read from raw bytes (the service's JSON, whose tokenising is the
API's: read_spans takes the byte spans of each case's members).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

import numpy as np
import shapely

from dispatch.core import kernels
from dispatch.core.case import Case, check_case, local_day
from dispatch.core.clock import BAD_DAY, Clock, day_number, fixed_zone, local_days, utc_seconds
from dispatch.core.codebook import Codebook
from dispatch.core.compile import compile_tables
from dispatch.core.decision import Decision, Status, decide, too_late
from dispatch.core.geo import CRS_GCJ02, CRS_WGS84, gcj02_to_wgs84, metres_per_degree
from dispatch.core.locator import NO_LOCATION, Locator, _locate_spans
from dispatch.core.model import LOCAL, Rule, RuleSet
from dispatch.core.outcomes import Outcomes
from dispatch.core.tables import BLOCK_SHIFT, Tables
from dispatch.core.worktime import WorkTime, due_times, report_utc

OFF_MAP_REASON = "location outside the grid map"
_new_decision = tuple.__new__  # Decision(*fields) without the keyword machinery of NamedTuple.__new__
BAD_FIELDS = (None, "event", "area", "source", "reported_at")  # Batch.bad codes
SPAN_FIELDS = ("id", "event", "area", "source", "reported_at")  # read_spans: a case's members, in this order
LOCATION_FIELDS = ("longitude", "latitude", "crs")  # then the members of its `location`, if the spans have room
SPAN_COLUMNS = len(SPAN_FIELDS) + len(LOCATION_FIELDS)
# SpanCases flags: why a case read from bytes must be answered one by one (the API may add bits of its own)
FLAG_CODE = 1  # an unknown event/area/source, or an event that is not a work item
FLAG_TIME = 4  # a report time the kernel leaves to Python: a form it does not read whole, or near year 1 or 9999
FLAG_LOCATION = (
    16  # a location the kernel leaves to Python: off the map (and no area), a number it does not read whole, an odd crs
)
CHECK_NONE, CHECK_INSIDE, CHECK_OUTSIDE, CHECK_OFF_MAP = 0, 1, 2, 3  # SpanCases.check: a given area against the map
LOCATION_CHECKS = (None, "inside", "outside", "off_map")


class StatusArrays(NamedTuple):
    """What decide()'s status rules read, for the kernels: bool[rules], bool[columns], bool[items]."""

    rule_is_local: np.ndarray  # the rule says @local
    col_has_local: np.ndarray  # the column's areas have a local government
    urgent: np.ndarray  # the item is urgent


class SpanCases(NamedTuple):
    """Cases read from bytes by read_spans, encoded for the match and for writing their answers.

    area_key int32[n]  the area's key in the area Codebook (its `keys`), -1 unknown
    items, cols, srcs, days int32[n]  the encoded case (0 where flagged)
    wall     int64[n]  the report time's wall clock in seconds since 1970 (see clock.wall_seconds)
    offset   int64[n]  its UTC offset in seconds (a naive time: the zone's steady offset)
    naive    int8[n]   1 when the time had no offset (read in the rule set's zone)
    unknown  int8[n]   the first field (SPAN_FIELDS index: 1 event, 2 area, 3 source) whose code is unknown, or 0
    located  int32[n]  the area key the grid map gives the case's location; OFF_MAP, or NO_LOCATION without one
    check    int8[n]   CHECK_*: with both an area and a location, whether the map puts the point in that area
    """

    area_key: np.ndarray
    items: np.ndarray
    cols: np.ndarray
    srcs: np.ndarray
    days: np.ndarray
    wall: np.ndarray
    offset: np.ndarray
    naive: np.ndarray
    unknown: np.ndarray
    located: np.ndarray
    check: np.ndarray


class Placement(NamedTuple):
    """Where the grid map puts a point (Dispatcher.place)."""

    wgs84: tuple[float, float]  # the point, in WGS 84 (a gcj02 point converted)
    area: str | None  # the finest area covering it; None: off the map
    border_m: float | None  # metres from the point to that area's nearest border
    method: str  # "map": the map decides the case's area; "given": the case names it
    check: str | None  # with an area given: inside, outside or off_map


@dataclass(frozen=True, slots=True)
class Batch:
    """The answer for a batch: rule index per case (-1: none), and the encoded cases.

    bad  int8[n]  0 when the case is good, else the index in BAD_FIELDS of its first bad field
    """

    rule: np.ndarray
    bad: np.ndarray
    items: np.ndarray
    cols: np.ndarray
    srcs: np.ndarray
    days: np.ndarray


class Dispatcher:
    """One rule set, compiled: what the service and the CLI ask for decisions.

    Immutable once built; a reload builds a new Dispatcher and swaps the reference.
    """

    def __init__(
        self, ruleset: RuleSet, tables: Tables | None = None, render: Callable[[Decision], object] | None = None
    ):
        self.ruleset = ruleset
        self.tables = tables if tables is not None else compile_tables(ruleset)
        if self.tables.version != ruleset.version:
            raise ValueError(f"tables of version {self.tables.version} for rule set {ruleset.version}")
        t = self.tables
        self.item_codes = Codebook({code: i for i, code in enumerate(t.items)})
        self.area_codes = Codebook(t.columns)
        self.source_codes = Codebook({s: i for i, s in enumerate(t.sources)})
        self._item = self.item_codes.index
        self._col = self.area_codes.index
        self._src = self.source_codes.index
        self.lookup = t.lookup  # what the kernels read, as one structure
        # the one-case path reads through memoryviews: 30 ns a read, where a numpy scalar
        # read costs 55 ns and a numba call more (bench/); lists would cost 8 bytes a cell
        self._base = memoryview(t.base)
        self._src_row = memoryview(t.src_row)
        self._src_plane = memoryview(t.src_plane)
        self._win_ptr = memoryview(t.win_ptr)
        self._blocks = (len(t.win_ptr) - 1) // len(t.items)
        self._win_views = tuple(
            memoryview(a)
            for a in (
                t.win_ids,
                t.win_rank,
                t.win_from,
                t.win_to,
                t.win_col_lo,
                t.win_col_hi,
                t.win_source,
                t.win_grid_type,
                t.col_grid_type,
            )
        )
        self._rule_by_rank = memoryview(t.rule_by_rank)
        # for statuses in bulk: which rules say @local, which columns' areas have a local government
        rule_is_local = np.asarray([r.department == LOCAL for r in ruleset.rules], dtype=bool)
        col_has_local = np.zeros(t.n_columns, dtype=bool)
        for code, col in t.columns.items():
            col_has_local[col] = ruleset.local_department(code) is not None
        self.status_arrays = StatusArrays(rule_is_local, col_has_local, t.urgent)
        # the one-case path: the clock, the outcomes met so far (see outcomes.py), the area paths
        self.clock = Clock(ruleset.manifest.timezone)
        self.worktime = WorkTime(ruleset.manifest.calendar, ruleset.manifest.timezone)
        self.outcomes = Outcomes(ruleset, t, render)
        self._paths: dict[str, tuple[str, ...]] = {}
        # the grid map, compiled for point look-ups: features answer as area keys (of area_codes)
        self.locator: Locator | None = None
        if ruleset.gridmap is not None:
            gm = ruleset.gridmap
            self.locator = Locator(gm.codes, gm.geometries, [ruleset.areas.depth(c) for c in gm.codes])
            key_of = {code: k for k, code in enumerate(self.area_codes.keys)}
            self.area_key_of_feature = np.asarray([key_of[c] for c in gm.codes], dtype=np.int32)
            self.area_key_of_feature.setflags(write=False)
            tree = ruleset.areas  # pre-order ranges by area key: `a` holds `b` when pos[a] <= pos[b] < end[a]
            self._key_pos = np.asarray([tree.pos(c) for c in self.area_codes.keys], dtype=np.int32)
            self._key_end = np.asarray([tree.end(c) for c in self.area_codes.keys], dtype=np.int32)

    # -- one case ---------------------------------------------------------------------

    def encode(self, case: Case) -> tuple[int, int, int, int]:
        """(item, column, source, day) of a case; raises CaseError for an unknown code."""
        try:
            return (
                self._item[case.event],
                self._col[case.area],
                self._src[case.source],
                day_number(local_day(self.ruleset, case.reported_at)),
            )
        except KeyError:
            check_case(self.ruleset, case)  # raises the precise CaseError
            raise

    def rule_index(self, item: int, col: int, src: int, day: int) -> int:
        """Index into RuleSet.rules of the winner of one encoded case, or -1.

        The lookup of kernels._match_batch, written once more in Python: for one case, reads
        through memoryviews beat a numba call (bench/match.py). Both are held to
        reference.py by tests/core/test_compile.py.
        """
        row = self._src_row[item, src]
        best = self._base[item, col] if row < 0 else self._src_plane[row, col]
        cell = item * self._blocks + (col >> BLOCK_SHIFT)
        if self._win_ptr[cell] != self._win_ptr[cell + 1]:
            best = self._windowed(best, cell, col, src, day)
        return self._rule_by_rank[best] if best >= 0 else -1

    def _windowed(self, best: int, cell: int, col: int, src: int, day: int) -> int:
        w_ids, w_rank, w_from, w_to, w_lo, w_hi, w_src, w_gt, col_gt = self._win_views
        for k in range(self._win_ptr[cell], self._win_ptr[cell + 1]):
            w = w_ids[k]
            r = w_rank[w]
            if r <= best:
                break
            if (
                w_from[w] <= day < w_to[w]
                and w_lo[w] <= col < w_hi[w]
                and (w_src[w] < 0 or w_src[w] == src)
                and (w_gt[w] < 0 or w_gt[w] == col_gt[col])
            ):
                return r
        return best

    # -- the grid map -------------------------------------------------------------------

    def locate(self, lon: float, lat: float, crs: int = CRS_WGS84) -> str | None:
        """The area code the grid map gives a point (the finest area covering it, the smaller code
        on a shared border), or None: off the map, or no map."""
        if self.locator is None:
            return None
        k = self.locator.locate(lon, lat, crs)
        return self.locator.codes[k] if k >= 0 else None

    def location_check(self, area: str, located: str | None) -> str:
        """Whether a point the map places in `located` agrees with the given `area`: "inside" when one of
        the two holds the other (the map may be drawn finer or coarser than the area named), else
        "outside"; "off_map" when the map does not place it."""
        if located is None:
            return "off_map"
        tree = self.ruleset.areas
        return "inside" if tree.covers(area, located) or tree.covers(located, area) else "outside"

    def place(self, lon: float, lat: float, crs: int = CRS_WGS84, area: str | None = None) -> Placement:
        """Where the grid map puts a point, for people (explain): the area, the point in WGS 84, and how far
        the point lies from that area's nearest border (a borderline case shows a few metres).
        `area`: the area the case names, checked against the map. Needs a map (self.locator)."""
        if self.locator is None:
            raise ValueError("this rule set has no grid map")
        x, y = gcj02_to_wgs84(lon, lat) if crs == CRS_GCJ02 else (lon, lat)
        k = self.locator.locate(lon, lat, crs)
        border = None
        if k >= 0:
            mx, my = metres_per_degree(y)
            local = shapely.transform(self.locator.geometries[k], lambda xy: (xy - (x, y)) * (mx, my))
            border = float(shapely.distance(shapely.Point(0.0, 0.0), shapely.boundary(local)))
        located = self.locator.codes[k] if k >= 0 else None
        check = self.location_check(area, located) if area is not None else None
        return Placement((x, y), located, border, "given" if area is not None else "map", check)

    def off_map(self, case_id: str, event: str, source: str, moment: datetime) -> Decision:
        """The decision for a case located only by a point off the map: manual, no department, no area."""
        area = self.ruleset.areas.roots()[0]  # decide() needs an area; the answer names none
        full = decide(self.ruleset, Case(case_id, event, area, source, moment), None)
        return full._replace(
            status=Status.MANUAL,
            department=None,
            co_handlers=(),
            difficult=False,
            due=None,
            reason=OFF_MAP_REASON,
            area_path=(),
        )

    def winning_rule(self, case: Case) -> Rule | None:
        index = self.rule_index(*self.encode(case))
        return self.ruleset.rules[index] if index >= 0 else None

    def dispatch(self, case: Case) -> Decision:
        """The decision for one case; raises CaseError for a code the rule set does not know."""
        item, col, src, _ = self.encode(case)
        moment, day = self.clock.place(case.reported_at)
        return self._decision(case.id, case.area, item, col, self.rule_index(item, col, src, day), moment)

    def _decision(self, case_id: str, area: str, item: int, col: int, rule: int, moment: datetime) -> Decision:
        outcomes = self.outcomes
        key = ((rule + 1) * outcomes.n_items + item) * outcomes.n_locals + outcomes._local_of_col[col]
        outcome = outcomes.current.by_key.get(key) or outcomes.get(key, rule, item, area)
        path = self._paths.get(area)
        if path is None:
            if len(self._paths) >= len(self.ruleset.areas):
                self._paths.clear()  # only areas of the rule set get here: a bound all the same
            path = self._paths[area] = tuple(a.code for a in self.ruleset.areas.path(area))[::-1]
        due, provisional = self.due(moment, outcome.unit, outcome.amount) if outcome.unit else (None, False)
        return _new_decision(Decision, outcome.head + (case_id, due, provisional, path))

    def due(self, moment: datetime, unit: int, amount: int) -> tuple[datetime, bool]:
        """(due time, provisional) of a case reported at `moment` (aware) under a deadline given as
        its unit code and amount (Deadline.code, .amount); CaseError past the year 9999."""
        try:
            due, offset, provisional = self.worktime.due(utc_seconds(moment), unit, amount)
        except OverflowError:
            raise too_late(moment) from None
        return datetime.fromtimestamp(due, fixed_zone(offset)), provisional

    def due_times(
        self, enc: SpanCases, units: np.ndarray, amounts: np.ndarray, flags: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(due int64[n] UTC seconds or NO_DUE, offset int64[n], provisional int8[n]) of cases read by
        read_spans, in numba; FLAG_TIME is added to `flags` where Python must settle one."""
        n = flags.shape[0]
        w = self.worktime.arrays
        due, offset, provisional = np.empty(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int8)
        due_times(report_utc(enc.wall, enc.offset, enc.naive, w), units, amounts, flags, w, due, offset, provisional)
        return due, offset, provisional

    # -- many cases -------------------------------------------------------------------

    def match_encoded(
        self,
        items: np.ndarray,
        cols: np.ndarray,
        srcs: np.ndarray,
        days: np.ndarray,
        out: np.ndarray | None = None,
        *,
        checked: bool = True,
    ) -> np.ndarray:
        """int32[n] rule indices (-1: no rule) for encoded cases, through the numba kernel.

        checked=False skips the bounds checks (a third of the match's time at 1,000 cases):
        only for indices this Dispatcher's own codebooks gave, as read_spans' are.
        """
        n = items.shape[0]
        if not (cols.shape[0] == srcs.shape[0] == days.shape[0] == n):
            raise ValueError("items, cols, srcs and days must have the same length")
        if out is None:
            out = np.empty(n, dtype=np.int32)
        if checked:
            items, cols, srcs, days = (np.ascontiguousarray(a, dtype=np.int32) for a in (items, cols, srcs, days))
            self._check_bounds(items, cols, srcs)
        return kernels._match_batch(items, cols, srcs, days, out, self.lookup)

    def _check_bounds(self, items: np.ndarray, cols: np.ndarray, srcs: np.ndarray) -> None:
        # the kernel runs without bounds checks: an index out of range must not reach it
        for name, a, n in (
            ("item", items, len(self._item)),
            ("column", cols, self.tables.n_columns),
            ("source", srcs, len(self._src)),
        ):
            if a.size and (int(a.min()) < 0 or int(a.max()) >= n):
                raise ValueError(f"{name} index out of range [0, {n})")

    def statuses(self, items: np.ndarray, cols: np.ndarray, rule_idx: np.ndarray) -> np.ndarray:
        """int8[n] status codes (index into STATUS_CODES) of matched cases, as decide() gives them."""
        out = np.empty(items.shape[0], dtype=np.int8)
        return kernels._statuses(items, cols, rule_idx, out, self.status_arrays)

    def match_strings(
        self, events: Sequence[str], areas: Sequence[str], sources: Sequence[str], stamps: Sequence[str]
    ) -> Batch:
        """Match a batch given as code strings and ISO 8601 timestamps, all in bulk.

        A case with an unknown code or a malformed timestamp is not matched: its
        `rule` is -1 and `bad` names the first bad field (see Batch).
        """
        items = self.item_codes.lookup_many(events)
        cols = self.area_codes.lookup_many(areas)
        srcs = self.source_codes.lookup_many(sources)
        days = local_days(stamps, self.ruleset.manifest.timezone)
        bad = np.zeros(items.shape[0], dtype=np.int8)
        for code, ok in ((4, days != BAD_DAY), (3, srcs >= 0), (2, cols >= 0), (1, items >= 0)):
            bad[~ok] = code  # the last written wins: the first field in case order
        if bad.any():
            good = bad == 0
            items, cols, srcs, days = (np.where(good, a, 0).astype(np.int32) for a in (items, cols, srcs, days))
        rule = self.match_encoded(items, cols, srcs, days)
        if bad.any():
            rule[~good] = -1
        return Batch(rule, bad, items, cols, srcs, days)

    def read_spans(
        self, body: np.ndarray, field_lo: np.ndarray, field_hi: np.ndarray, flags: np.ndarray, now_wall: int
    ) -> SpanCases:
        """Encode n cases whose members lie in `body` (uint8): member f of case j is body[field_lo[j, f]:field_hi[j, f]]
        (order SPAN_FIELDS; -1: absent, and a report time absent is `now_wall`).

        Codes go through the Codebooks' CodeTables and times through clock.parse_iso, in one
        kernel. flags int8[n] (in and out): a case flagged on entry is not encoded; FLAG_CODE
        and FLAG_TIME are added where the kernel cannot settle a case by itself.
        """
        n = flags.shape[0]
        i32 = np.int32
        located = self._read_locations(body, field_lo, field_hi, flags)
        out = SpanCases(
            np.empty(n, i32),
            np.empty(n, i32),
            np.empty(n, i32),
            np.empty(n, i32),
            np.empty(n, i32),
            np.empty(n, np.int64),
            np.empty(n, np.int64),
            np.empty(n, np.int8),
            np.zeros(n, np.int8),
            located,
            np.zeros(n, np.int8),
        )
        kernels._encode_spans(
            body,
            field_lo,
            field_hi,
            now_wall,
            self.item_codes.table,
            self.area_codes.table,
            self.source_codes.table,
            self.clock.zone_from,
            self.clock.zone_offset,
            flags,
            out,
        )
        if self.locator is not None and field_lo.shape[1] > len(SPAN_FIELDS):
            self._check_locations(field_lo, flags, out)
        return out

    def _read_locations(
        self, body: np.ndarray, field_lo: np.ndarray, field_hi: np.ndarray, flags: np.ndarray
    ) -> np.ndarray:
        """int32[n] area keys of the cases' locations (columns LOCATION_FIELDS of the spans), in one kernel;
        NO_LOCATION without one. A location the kernel cannot settle sets FLAG_LOCATION."""
        n = flags.shape[0]
        located = np.full(n, NO_LOCATION, dtype=np.int32)
        if field_lo.shape[1] <= len(SPAN_FIELDS):
            return located
        has = field_lo[:, len(SPAN_FIELDS)] >= 0
        if not has.any():
            return located
        if self.locator is None:  # no map: Python answers (request.location_unsupported, or the area alone)
            flags[has & (flags == 0)] |= FLAG_LOCATION
            return located
        _locate_spans(
            body, field_lo, field_hi, flags, located, self.locator.index, self.area_key_of_feature, FLAG_LOCATION
        )
        return located

    def _check_locations(self, field_lo: np.ndarray, flags: np.ndarray, out: SpanCases) -> None:
        """SpanCases.check of the cases that gave both an area and a location."""
        both = (field_lo[:, 2] >= 0) & (out.located != NO_LOCATION) & (flags == 0)
        if not both.any():
            return
        given, found = out.area_key[both], out.located[both]
        on_map = found >= 0
        f = np.where(on_map, found, 0)
        pos, end = self._key_pos, self._key_end
        inside = ((pos[given] <= pos[f]) & (pos[f] < end[given])) | ((pos[f] <= pos[given]) & (pos[given] < end[f]))
        out.check[both] = np.where(on_map, np.where(inside, CHECK_INSIDE, CHECK_OUTSIDE), CHECK_OFF_MAP)

    def warm(self) -> None:
        """Run the kernels once, so that no request pays for loading or compiling them."""
        one = np.zeros(1, dtype=np.int32)
        self.match_encoded(one, one, one, one)
        self.worktime.warm()


def day_of(ruleset: RuleSet, moment: datetime | date) -> int:
    """The day number (clock.day_number) of a moment in the rule set's zone, or of a date."""
    return day_number(moment if not isinstance(moment, datetime) else local_day(ruleset, moment))
