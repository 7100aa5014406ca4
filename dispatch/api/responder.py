"""Responder: the service's face of one compiled rule set (a core Dispatcher): wire cases in, JSON bytes out.

Immutable once built.

A reload builds a new Responder to the side (see slot.py); requests hold the one they
started with, so a swap never mixes two rule sets in one answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from zoneinfo import ZoneInfo

import numpy as np
import orjson

from dispatch.api.heads import HEAD_EXTRA, write_heads
from dispatch.api.intake import ID_MAX_CHARS, IncomingCase, read_case
from dispatch.api.problems import case_problem, field_error, pointer, ruleset_name
from dispatch.api.render import DUE_OPEN, HHMM, ID_OPEN, PROVISIONAL, SS, Renderer, Stamps, wire_decision
from dispatch.api.scan import FLAG_ID, FLAG_SHAPE, scan_batch
from dispatch.core.analysis import cell_coverage, ruleset_counts
from dispatch.core.case import Case, check_case
from dispatch.core.clock import utc_seconds
from dispatch.core.dispatcher import (
    FLAG_CODE,
    FLAG_LOCATION,
    FLAG_TIME,
    LOCATION_FIELDS,
    SPAN_COLUMNS,
    SPAN_FIELDS,
    Dispatcher,
)
from dispatch.core.errors import CaseError
from dispatch.core.load import SERVICE_SETTLE, load_ruleset
from dispatch.core.outcomes import STATUS_CODES
from dispatch.core.worktime import due_times

_fromiso = datetime.fromisoformat
_FIELDS = tuple(itemgetter(name) for name in ("id", "event", "area", "source"))
RESULTS_OPEN = b'{"results":['
# times on these days may lie outside what Python's datetime holds once moved to UTC or the
# rule set's zone: the single-case path (and so a batch) settles them one by one
_EDGE_DAYS = ("0001-01-0", "9999-12-3")


def bad_time(stamp: object) -> CaseError:
    return CaseError("request.bad_time", "reported_at", stamp, f"reported_at {stamp!r} is not an ISO 8601 timestamp")


@dataclass(slots=True)
class Tally:
    """What one request decided, for the metrics: cases by status, and field errors by code."""

    statuses: list[int]  # count per STATUS_CODES index
    errors: dict[str, int]

    @classmethod
    def empty(cls) -> Tally:
        return cls([0] * len(STATUS_CODES), {})

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    def errors_listed(self) -> list[str]:
        """Every error code counted, as many times as counted."""
        return [code for code, n in self.errors.items() for _ in range(n)]


class Responder:
    """A Dispatcher and its Renderer, plus what GET /v1/ruleset tells about the rule set."""

    def __init__(self, dispatcher: Dispatcher, root: str, loaded_at: datetime | None = None):
        self.dispatcher = dispatcher
        self.renderer = Renderer(dispatcher, root)
        self.outcomes = dispatcher.outcomes  # the one cache of answers: each outcome keeps its rendered REST
        self.outcomes.use_renderer(self.renderer.rest)
        ruleset = dispatcher.ruleset
        self.ruleset = ruleset
        self.version = ruleset.version
        self.version_bytes = ruleset.version.encode()  # the Dispatch-Ruleset header
        self.root = root
        self.loaded_at = loaded_at or datetime.now(UTC)
        self.zone = ZoneInfo(ruleset.manifest.timezone)
        self._item = dispatcher.item_codes.index
        self._col = dispatcher.area_codes.index
        self._src = dispatcher.source_codes.index
        self._clock = dispatcher.clock
        self._paths = self.renderer.paths
        self._closing_paths = self.renderer.closing_paths
        self._rule_index = dispatcher.rule_index
        self._due = dispatcher.worktime.due
        self._read_instant = dispatcher.clock.read_instant
        self._stamps = Stamps()
        self._day_stamps = self._stamps.days
        self._steady_offset = dispatcher.clock.steady_offset
        self._steady_suffix = self._stamps.offset(self._steady_offset)
        self.info: dict = {}
        self.sample_answer = b"{}"
        self._errors = ErrorAnswers()

    # -- one case -------------------------------------------------------------------

    def answer(self, case: IncomingCase) -> tuple[bytes, int]:
        """(JSON bytes, status index) of one case; raises CaseError naming the first bad field."""
        if case.location is not None:
            return self.answer_located(case)
        item, col, src = self._item.get(case.event), self._col.get(case.area), self._src.get(case.source)
        if item is None or col is None or src is None:
            check_case(self.ruleset, Case(case.id, case.event, case.area, case.source, datetime.min))
            raise RuntimeError(f"codes of case {case.id!r} known to the rule set but not to its tables")
        if case.reported_at is None:
            moment, day = self._clock.place(self._clock.now())
            r = utc_seconds(moment)
        else:
            try:
                moment, day, r = self._read_instant(case.reported_at)
            except (ValueError, TypeError, OverflowError):
                raise bad_time(case.reported_at) from None
        rule = self._rule_index(item, col, src, day)
        o = self.outcomes
        key = ((rule + 1) * o.n_items + item) * o.n_locals + o._local_of_col[col]
        outcome = o.current.by_key.get(key) or o.get(key, rule, item, case.area)
        if not outcome.unit:
            return b"".join(
                (ID_OPEN, orjson.dumps(case.id), outcome.rendered, self._closing_paths[case.area])
            ), outcome.status
        try:
            due, offset, provisional = self._due(r, outcome.unit, outcome.amount)
        except (OverflowError, ValueError):
            raise CaseError(
                "request.bad_time",
                "reported_at",
                case.reported_at,
                "reported_at is so near the year 1 or 9999 that its due time falls outside the years 0001-9999",
            ) from None
        # the layout of render.py, written out here: on the hot path a call costs as much as a piece
        if offset == self._steady_offset:  # the stamp of render.Stamps, written out
            day, second = divmod(due + offset, 86400)
            parts = (
                ID_OPEN,
                orjson.dumps(case.id),
                DUE_OPEN,
                self._day_stamps.get(day) or self._stamps.day(day),
                HHMM[second // 60],
                SS[second % 60],
                self._steady_suffix,
                PROVISIONAL[provisional],
                outcome.rendered,
                self._closing_paths[case.area],
            )
        else:
            parts = (
                ID_OPEN,
                orjson.dumps(case.id),
                DUE_OPEN,
                self._stamps.json(due, offset),
                PROVISIONAL[provisional],
                outcome.rendered,
                self._closing_paths[case.area],
            )
        return b"".join(parts), outcome.status

    def answer_located(self, case: IncomingCase) -> tuple[bytes, int]:
        """answer() for a case with a location: the map gives the area when the case names none (off the
        map: a manual answer without one), and the answer says how the area was found."""
        d = self.dispatcher
        loc = case.location
        if d.locator is None:
            if case.area is None:
                raise CaseError(
                    "request.location_unsupported",
                    "location",
                    None,
                    "this rule set has no grid map to place a location: send area",
                )
            body, status = self.answer(case._replace(location=None))
            return body[:-1] + self.renderer.located(case.area, "given") + b"}", status
        key = d.locator.locate(loc.longitude, loc.latitude, loc.crs)
        located = d.locator.codes[key] if key >= 0 else None
        if case.area is not None:
            body, status = self.answer(IncomingCase(case.id, case.event, case.area, case.source, case.reported_at))
            check = d.location_check(case.area, located) if case.area in self._col else "off_map"
            return body[:-1] + self.renderer.located(case.area, "given", check) + b"}", status
        if located is None:
            return self._off_map(case)
        body, status = self.answer(IncomingCase(case.id, case.event, located, case.source, case.reported_at))
        return body[:-1] + self.renderer.located(located, "map") + b"}", status

    def _off_map(self, case: IncomingCase) -> tuple[bytes, int]:
        if case.event not in self._item or case.source not in self._src:
            check_case(
                self.ruleset, Case(case.id, case.event, self.ruleset.areas.roots()[0], case.source, datetime.min)
            )
        if case.reported_at is None:
            moment = self._clock.now()
        else:
            try:
                moment, _ = self._clock.read(case.reported_at)
            except (ValueError, TypeError, OverflowError):
                raise bad_time(case.reported_at) from None
        decision = self.dispatcher.off_map(case.id, case.event, case.source, moment)
        doc = wire_decision(decision, self.root)
        body = orjson.dumps(doc)
        return body[:-1] + self.renderer.located(None, "map") + b"}", STATUS_CODES.index(decision.status)

    def answer_or_error(self, raw: object, index: int, tally: Tally) -> bytes:
        """A batch member's answer: its decision, or {"id": ..., "error": problem} in its place."""
        at = pointer("cases", index)
        case = read_case(raw, at)
        if type(case) is IncomingCase:
            try:
                body, status = self.answer(case)
            except CaseError as err:
                case = [field_error(err, at)]
            else:
                tally.statuses[status] += 1
                return body
        for e in case:
            tally.error(e.code)
        case_id = raw.get("id") if type(raw) is dict and type(raw.get("id")) is str else None
        return b'{"id":' + orjson.dumps(case_id) + b',"error":' + case_problem(case).body() + b"}"

    # -- many cases -----------------------------------------------------------------

    def batch_from_body(self, body: bytes, limit: int, tally: Tally) -> bytes | None:
        """The answer document {"results": [...]} to a batch body in the plain form (see scan.py);
        None when the body is not in that form or holds more than `limit` cases (then the
        general path, parse_body and batch_from_cases, answers it)."""
        r = self.renderer
        o = self.outcomes.for_batch(limit + 1)  # this batch's set: whole, whatever other threads do
        # a plain case takes at least 40 bytes ({"id":"","event":"","area":"","source":""}):
        # room for what the body can hold, not for the limit
        cap = min(limit + 1, len(body) // 40 + 1)
        field_lo, field_hi = np.empty((cap, SPAN_COLUMNS), np.int64), np.empty((cap, SPAN_COLUMNS), np.int64)
        flags = np.empty(cap, np.int8)
        case_lo, case_hi = np.empty(cap, np.int64), np.empty(cap, np.int64)
        buf = np.frombuffer(body, dtype=np.uint8)
        n = scan_batch(buf, ID_MAX_CHARS, field_lo, field_hi, flags, case_lo, case_hi)
        if n < 0 or n > limit:
            return None
        if n == 0:
            return RESULTS_OPEN + b"]}"
        field_lo, field_hi, flags = field_lo[:n], field_hi[:n], flags[:n]
        d = self.dispatcher
        enc = d.read_spans(buf, field_lo, field_hi, flags, self._clock.now_wall())
        items, cols = enc.items, enc.cols
        # every index comes from the Codebooks' own tables: the bounds checks have nothing to find
        rules = d.match_encoded(items, cols, enc.srcs, enc.days, checked=False)
        keys = self.outcomes.keys(rules, items, cols)
        ids = o.known_ids(keys, flags)
        missing = np.flatnonzero((ids < 0) & (flags == 0))
        if len(missing):  # outcomes met for the first time: decide them, then every case has one
            for j in missing.tolist():
                ids[j] = o.id(int(keys[j]), int(rules[j]), int(items[j]), int(cols[j]))
        due, offset, provisional = d.due_times(enc, o.units[ids], o.amounts[ids], flags)
        lo, hi = np.ascontiguousarray(field_lo[:, 0]), np.ascontiguousarray(field_hi[:, 0])
        heads = np.zeros((n, int((hi - lo).max()) + HEAD_EXTRA), dtype=np.uint8)
        write_heads(buf, lo, hi, due, offset, provisional, flags, heads)
        # three pieces a case, joined at memcpy speed (a byte loop in numba copies at a tenth of
        # it): the head, the template's rest, the area path with the closing brace and a comma
        flat: list = [None] * (3 * n)
        flat[0::3] = heads.view(f"S{heads.shape[1]}").ravel().tolist()  # zero padding reads as nothing
        flat[1::3] = o.rendered[ids].tolist()
        flat[2::3] = r.closing_pieces(enc)
        statuses = o.statuses[ids]
        flagged = np.flatnonzero(flags).tolist()
        if flagged:  # what the kernels could not settle, answered as one case would be
            statuses = statuses[flags == 0]
            errors = self._errors
            rows_lo, rows_hi = field_lo[flagged].tolist(), field_hi[flagged].tolist()
            spans = zip(
                rows_lo, rows_hi, case_lo[flagged].tolist(), case_hi[flagged].tolist(), enc.unknown[flagged].tolist(),
                strict=True,
            )  # fmt: skip
            for j, flag, (lo, hi, clo, chi, unknown) in zip(flagged, flags[flagged].tolist(), spans, strict=True):
                answer = errors.answer(self, body, lo, hi, clo, chi, flag, unknown, j, tally)
                if answer is None:
                    errors.forget()
                    return None  # a member that is not JSON after all: the general path answers 400
                k = 3 * j
                flat[k], flat[k + 1], flat[k + 2] = answer + b",", b"", b""
            errors.count(tally)
        last = -3 if flags[-1] else -1
        flat[last] = flat[last][:-1] + b"]}"  # the last answer: no comma, the end of the document
        flat[0] = RESULTS_OPEN + flat[0]  # here, not around the join: one copy of the answer, not two
        for s, c in enumerate(np.bincount(statuses, minlength=len(STATUS_CODES)).tolist()):
            tally.statuses[s] += c
        return b"".join(flat)

    def batch_from_cases(self, cases: list, tally: Tally) -> bytes:
        """The answer document {"results": [...]} to parsed batch members, in order; a bad one gets an error object."""
        columns = self._columns(cases) if cases else None
        if columns is None:  # empty, or not every case well formed: each on its own
            parts = [self.answer_or_error(c, j, tally) for j, c in enumerate(cases)]
            return RESULTS_OPEN + b",".join(parts) + b"]}"
        case_ids, events, areas, sources, stamps = columns
        batch = self.dispatcher.match_strings(events, areas, sources, stamps)
        o = self.outcomes.for_batch(len(cases))
        ids = o.ids(self.outcomes.keys(batch.rule, batch.items, batch.cols), batch.rule, batch.items, batch.cols)
        bad = np.flatnonzero(batch.bad).tolist()
        if any(edge in "\x1f".join(stamps) for edge in _EDGE_DAYS):  # where the bulk reader and the clock may differ
            bad = sorted(set(bad) | {j for j, s in enumerate(stamps) if s.startswith(_EDGE_DAYS)})
        if bad:
            stamps = list(stamps)
            for j in bad:
                stamps[j] = "2000-01-01"  # answered one by one below; a placeholder keeps the bulk path simple
        dues = self._dues(stamps, o.units[ids], o.amounts[ids])
        if dues is None:  # a time that only Python's reader (or its range) settles: each on its own
            parts = [self.answer_or_error(c, j, tally) for j, c in enumerate(cases)]
            return RESULTS_OPEN + b",".join(parts) + b"]}"
        paths = self._paths
        parts = list(
            map(
                b"".join,
                zip(
                    [ID_OPEN] * len(cases),
                    _id_json(case_ids),
                    dues,
                    o.rendered[ids].tolist(),
                    [paths.get(a, b"") for a in areas],
                    [b"}"] * len(cases),
                ),
            )
        )
        statuses = o.statuses[ids]
        for j in bad:
            parts[j] = self.answer_or_error(cases[j], j, tally)
        if bad:
            statuses = np.delete(statuses, bad)
        for s, c in enumerate(np.bincount(statuses, minlength=len(STATUS_CODES)).tolist()):
            tally.statuses[s] += c
        return RESULTS_OPEN + b",".join(parts) + b"]}"

    def _columns(self, cases: list) -> tuple[list, ...] | None:
        """(ids, events, areas, sources, stamps) when every case is a plain, well-typed object; else None."""
        try:
            ids, events, areas, sources = (list(map(get, cases)) for get in _FIELDS)
            stamps = [c.get("reported_at") for c in cases]
            for column in (ids, events, areas, sources):
                "".join(column)  # a TypeError unless every value is a string: cheaper than a type test each
        except (KeyError, TypeError, AttributeError):
            return None
        if min(map(len, ids)) == 0 or max(map(len, ids)) > ID_MAX_CHARS or any("location" in c for c in cases):
            return None
        if None in stamps:
            now = self._clock.now().isoformat()
            stamps = [now if s is None else s for s in stamps]
        if not all(type(s) is str for s in stamps):
            return None
        return ids, events, areas, sources, stamps

    def _dues(self, stamps: list[str], units: np.ndarray, amounts: np.ndarray) -> list[bytes] | None:
        """The deadline's head of each case ({"due":..., "provisional":...; b"" where there is no
        due time), through the batch kernel; None: settle one by one."""
        try:
            moments = list(map(_fromiso, stamps))
            zone = self.zone
            r = np.fromiter(
                (utc_seconds(m if m.tzinfo is not None else m.replace(tzinfo=zone)) for m in moments),
                dtype=np.int64,
                count=len(moments),
            )
        except (ValueError, OverflowError):
            return None
        n = len(moments)
        flags = np.zeros(n, np.int8)
        due, offset, provisional = np.empty(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int8)
        due_times(r, units, amounts, flags, self.dispatcher.worktime.arrays, due, offset, provisional)
        out = []
        for j, (u, d, off, p, f) in enumerate(
            zip(units.tolist(), due.tolist(), offset.tolist(), provisional.tolist(), flags.tolist(), strict=True)
        ):
            if not u:
                out.append(b"")
                continue
            if f:
                try:
                    d, off, p = self._due(int(r[j]), u, int(amounts[j]))
                except OverflowError:
                    return None
            out.append(DUE_OPEN + self._stamps.json(d, off) + PROVISIONAL[p])
        return out

    # -- readiness --------------------------------------------------------------------

    def warm(self) -> None:
        """Run every path a request takes once, so that no request pays for loading a kernel."""
        self.dispatcher.warm()
        t = self.dispatcher.tables
        area = next(iter(t.columns))
        stamp = "2000-01-01T00:00:00+08:00"
        self.dispatcher.match_strings([t.items[0]], [area], [t.sources[0]], [stamp])
        # also the constant of bench/http.py's constant endpoint: a real answer's size
        self.sample_answer, _ = self.answer(IncomingCase("C0000001", t.items[0], area, t.sources[0], stamp))
        warm = {"id": "warm", "event": t.items[0], "area": area, "source": t.sources[0]}
        self.batch_from_cases([warm], Tally.empty())
        self.batch_from_body(orjson.dumps({"cases": [warm, {**warm, "reported_at": stamp}]}), 2, Tally.empty())


class ErrorAnswers:
    """The answers of a batch's flagged cases: an error is rendered once per bad content and then
    costs about what a good case does (a dict look-up and a join; a flood of bad cases used to cost
    six times as much, and one missing field sent the whole batch down the general path).

    The key is what decides the answer besides the case's id and its place in the batch: the first
    unknown code and its field for an unknown code (checked before the time), the codes and the time for a time the
    kernel refused, the member's bytes without its id for a member outside the plain form (when
    its id is a plain, valid one). The first case with a key is answered in full
    (Responder.answer_or_error) with a stand-in id and index, which are then cut out; a case
    that turns out to be a decision (a time Python reads) is never kept.
    """

    _INDEX = 987654321  # a case index no batch reaches: where the real one goes
    _INDEX_TEXT = str(_INDEX).encode()
    _MAX = 4096  # a bound: odd traffic must not grow memory without end

    def __init__(self):
        self._by_key: dict[tuple, tuple[bytes, bytes, tuple[str, ...]]] = {}
        self._counted: dict[tuple[str, ...], int] = {}  # error codes of keyed answers, until count()

    def answer(
        self,
        responder: Responder,
        body: bytes,
        lo: list,
        hi: list,
        clo: int,
        chi: int,
        flag: int,
        unknown: int,
        j: int,
        tally: Tally,
    ) -> bytes | None:
        """The answer of flagged case j (its members' spans lo/hi, its bytes clo:chi); None: not JSON."""
        id_lo, id_hi = lo[0], hi[0]
        plain_id = id_lo >= 0 and 1 <= id_hi - id_lo <= ID_MAX_CHARS
        if flag & FLAG_LOCATION:  # a location Python settles (its numbers read by orjson): each on its own
            key = None
        elif flag & FLAG_SHAPE:
            key = (b"shape", body[clo:id_lo], body[id_hi:chi]) if plain_id else None
        elif flag & FLAG_CODE and not flag & FLAG_ID:  # the first unknown code and its field: all the answer needs
            key = (unknown, body[lo[unknown] : hi[unknown]])
        elif flag == FLAG_TIME:
            time_span = body[lo[4] : hi[4]] if lo[4] >= 0 else None
            where = tuple(body[a:b] if a >= 0 else None for a, b in zip(lo[5:], hi[5:], strict=True))
            key = (b"time", body[lo[1] : hi[1]], body[lo[2] : hi[2]], body[lo[3] : hi[3]], time_span, where)
        else:
            key = None
        found = self._by_key.get(key) if key is not None else None
        if found is None:
            if flag & (FLAG_SHAPE | FLAG_LOCATION):
                try:
                    member = orjson.loads(body[clo:chi])
                except orjson.JSONDecodeError:
                    return None
            else:
                member = _member(body, lo, hi)
            if key is None:
                return responder.answer_or_error(member, j, tally)
            found = self._render(responder, member, key)
            if found is None:
                return responder.answer_or_error(member, j, tally)
        before, after, codes = found
        self._counted[codes] = self._counted.get(codes, 0) + 1
        return b'{"id":"' + body[id_lo:id_hi] + before + str(j).encode() + after

    def forget(self) -> None:
        """Drop the codes counted since the last count (the batch went down the general path)."""
        self._counted.clear()

    def count(self, tally: Tally) -> None:
        """Add the error codes of the answers given from keys since the last count to `tally`."""
        for codes, n in self._counted.items():
            for code in codes:
                tally.errors[code] = tally.errors.get(code, 0) + n
        self._counted.clear()

    def _render(self, responder: Responder, member: dict, key: tuple) -> tuple[bytes, bytes, tuple[str, ...]] | None:
        counted = Tally.empty()
        answer = responder.answer_or_error({**member, "id": "x"}, self._INDEX, counted)
        if any(counted.statuses):  # a decision after all (a time Python reads): nothing to keep
            return None
        before, found_index, after = answer.removeprefix(b'{"id":"x"').partition(b"/cases/%d/" % self._INDEX)
        if not found_index or self._INDEX_TEXT in after:
            return None  # not in the one shape kept here
        found = (b'"' + before + b"/cases/", b"/" + after, tuple(counted.errors_listed()))
        if len(self._by_key) >= self._MAX:
            self._by_key.clear()
        self._by_key[key] = found
        return found


def _member(body: bytes, lo: list, hi: list) -> dict:
    """A scanned case as the dict orjson would have made of it (plain ASCII strings; the location's
    numbers as orjson reads them: float() of a JSON number is the same correctly rounded double)."""
    member = {name: body[a:b].decode("ascii") for name, a, b in zip(SPAN_FIELDS, lo, hi) if a >= 0}
    if len(lo) > len(SPAN_FIELDS) and lo[len(SPAN_FIELDS)] >= 0:
        where = zip(LOCATION_FIELDS, lo[len(SPAN_FIELDS) :], hi[len(SPAN_FIELDS) :], strict=True)
        member["location"] = {name: body[a:b].decode("ascii") for name, a, b in where if a >= 0}
        for name in LOCATION_FIELDS[:2]:
            member["location"][name] = float(member["location"][name])
    return member


def _id_json(ids: list[str]) -> list[bytes]:
    """Each id as a JSON string: one orjson call for the lot, split at the commas between them,
    unless an id holds a comma or a quote (then a split could cut inside one)."""
    joined = "".join(ids)
    if "," in joined or '"' in joined:
        return list(map(orjson.dumps, ids))
    return orjson.dumps(ids)[1:-1].split(b",")


def build_responder(root: str) -> Responder:
    """Load, validate, compile and warm the rule set in `root`; raises RuleSetError when it is invalid.

    Runs the same load -> validate -> compile path as `dispatch check`, then computes
    what GET /v1/ruleset shows once, so that no request pays for it.
    """
    started = time.perf_counter()
    ruleset = load_ruleset(root, settle=SERVICE_SETTLE)
    dispatcher = Dispatcher(ruleset)
    responder = Responder(dispatcher, str(root))
    day = datetime.now(responder.zone).date()
    coverage = cell_coverage(dispatcher, day)
    responder.warm()
    responder.info = {
        "name": ruleset.manifest.name,
        "title": ruleset.manifest.title,
        "version": ruleset.version,
        "root": ruleset_name(str(root)),
        "timezone": ruleset.manifest.timezone,
        "loaded_at": responder.loaded_at.isoformat(timespec="seconds"),
        "load_seconds": round(time.perf_counter() - started, 3),
        "counts": ruleset_counts(ruleset),
        "coverage": {
            "day": day.isoformat(),
            "unit": coverage.unit,
            "counts": coverage.counts,
            "auto_share": round(coverage.share(), 4),
        },
    }
    return responder
