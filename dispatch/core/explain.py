"""Explanation: why a case dispatches as it does, for the maintainer who asks (`dispatch explain`, POST /v1/explain).

It puts side by side the decision the service gives (the compiled Dispatcher) and every
matching rule ranked by the reference matcher, says for each loser the first component
of the precedence key on which it lost, and lists near misses: rules on the item's path,
in the case's area, that fail on exactly one other selector. explainreport.py renders it
as text; explanation_dict here is its JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from dispatch.core.case import Case, aware, local_day
from dispatch.core.decision import Decision, Status, rule_file
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.errors import CaseError
from dispatch.core.geo import CRS_NAMES
from dispatch.core.model import ANY, LOCAL, Rule, RuleSet
from dispatch.core.reference import candidate_rules, due_by_walking, matching_rules, rank_key, rule_matches
from dispatch.core.worktime import deadline_text

# the components of RuleSet.precedence, in order; TIE is where two rules equal on all of them
KEY_NAMES = ("priority", "event depth", "area depth", "grid type given", "source given", "window given")
TIE = len(KEY_NAMES)
NEAR_MISS_LIMIT = 10


@dataclass(frozen=True, slots=True)
class Ranked:
    """A matching rule in rank order (1: the winner); `lost_on` indexes KEY_NAMES (TIE: the id decided)."""

    rank: int
    rule: Rule
    key: tuple[int, ...]
    lost_on: int | None
    why: str


@dataclass(frozen=True, slots=True)
class NearMiss:
    """A rule on the item's event path, covering the case's area, that fails on one selector only."""

    rule: Rule
    selector: str  # grid_type, source or window
    why: str
    would_win: bool  # it outranks the winner: had it matched, it would have decided


@dataclass(frozen=True, slots=True)
class Explanation:
    ruleset: RuleSet
    case: Case
    day: date
    decision: Decision  # what the compiled path (the service) answers
    ranked: tuple[Ranked, ...]  # what the reference matcher ranks
    near_misses: tuple[NearMiss, ...]
    near_miss_total: int
    location: dict | None = None  # the case's point and where the grid map puts it (locate_case)

    @property
    def agree(self) -> bool:
        """The compiled winner is the reference's first-ranked rule (a disagreement is a bug)."""
        winner = self.ranked[0].rule.id if self.ranked else None
        return (self.decision.rule.id if self.decision.rule else None) == winner


def locate_case(
    dispatcher: Dispatcher, area: str | None, lon: float, lat: float, crs: str = "wgs84"
) -> tuple[str, dict]:
    """(the area that decides, the location section of an explanation) for a case given by a point.

    With `area` given, the area decides and the section says whether the map agrees. Raises
    CaseError request.location_unsupported without a map, request.off_map for a point off it
    and no area (dispatch answers such a case manual: there are no rules to explain).
    """
    if dispatcher.locator is None:
        if area is not None:
            return area, {"longitude": lon, "latitude": lat, "crs": crs, "area": area, "method": "given"}
        raise CaseError("request.location_unsupported", "location", None, "this rule set has no grid map: give an area")
    p = dispatcher.place(lon, lat, CRS_NAMES[crs], area)
    section = {
        "longitude": lon,
        "latitude": lat,
        "crs": crs,
        "wgs84": list(p.wgs84),
        "located": p.area,
        "border_distance_m": None if p.border_m is None else round(p.border_m, 2),
        "area": area if area is not None else p.area,
        "method": p.method,
        "location_check": p.check,
    }
    if area is None and p.area is None:
        raise CaseError(
            "request.off_map",
            "location",
            [lon, lat],
            f"({lon}, {lat}) lies outside the grid map: dispatch answers it manual, no rule applies",
        )
    return section["area"], section


def explain_case(
    dispatcher: Dispatcher, case: Case, near_limit: int = NEAR_MISS_LIMIT, location: dict | None = None
) -> Explanation:
    """The explanation of `case`; raises CaseError for a code the rule set does not know.

    A naive report time is read in the rule set's zone, as the dispatcher reads it, and
    the explanation's case carries it with that zone: the reported and due times agree.
    """
    ruleset = dispatcher.ruleset
    case = replace(case, reported_at=aware(ruleset, case.reported_at))
    try:
        decision = dispatcher.dispatch(case)
    except OverflowError:  # a time at the edge of what datetime holds, once moved to the rule set's zone
        raise CaseError(
            "request.bad_time",
            "reported_at",
            case.reported_at.isoformat(),
            "reported_at lies outside the times the rule set's zone can read",
        ) from None
    found = matching_rules(ruleset, case)
    winner = found[0] if found else None
    ranked = []
    for rank, rule in enumerate(found, start=1):
        lost = None if rule is winner else lost_on(ruleset, rule, winner)
        why = "wins" if lost is None else why_lost(ruleset, rule, winner, lost)
        ranked.append(Ranked(rank, rule, ruleset.precedence(rule), lost, why))
    misses = near_misses(ruleset, case, winner)
    return Explanation(
        ruleset,
        case,
        local_day(ruleset, case.reported_at),
        decision,
        tuple(ranked),
        tuple(misses[:near_limit]),
        len(misses),
        location,
    )


# -- why a rule lost ------------------------------------------------------------------------


def lost_on(ruleset: RuleSet, loser: Rule, winner: Rule) -> int:
    """Index in KEY_NAMES of the first precedence component where `loser` is below `winner`; TIE if none."""
    for i, (a, b) in enumerate(zip(ruleset.precedence(loser), ruleset.precedence(winner), strict=True)):
        if a != b:
            return i
    return TIE


def event_level(ruleset: RuleSet, code: str) -> str:
    """What an event selector names: any event, a category, a subcategory, an item."""
    if code == ANY:
        return "any event"
    if ruleset.events.is_leaf(code):
        return "item"
    return {1: "category", 2: "subcategory"}.get(ruleset.events.depth(code), f"level-{ruleset.events.depth(code)} node")


def area_level(ruleset: RuleSet, code: str) -> str:
    return "any area" if code == ANY else ruleset.areas[code].level


def window_text(rule: Rule) -> str:
    """A rule's date window as inclusive days (valid_to is exclusive in the files)."""
    last = rule.valid_to - timedelta(days=1) if rule.valid_to else None
    return f"{rule.valid_from or '…'}..{last or '…'}"


def why_lost(ruleset: RuleSet, loser: Rule, winner: Rule, component: int) -> str:
    """One line: the first precedence component on which `loser` fell below `winner`."""
    if component == 0:
        return f"lower priority {loser.priority} < {winner.priority}"
    if component == 1:
        return (
            f"less specific event: {event_level(ruleset, loser.event)} {loser.event} "
            f"vs {event_level(ruleset, winner.event)} {winner.event}"
        )
    if component == 2:
        return (
            f"less specific area: {area_level(ruleset, loser.area)} {loser.area} "
            f"vs {area_level(ruleset, winner.area)} {winner.area}"
        )
    if component == 3:
        return f"no grid type given (winner: {winner.grid_type})"
    if component == 4:
        return f"no source given (winner: {winner.source})"
    if component == 5:
        return f"no date window given (winner: {window_text(winner)})"
    same = (loser.department, loser.co_handlers, loser.deadline) == (
        winner.department,
        winner.co_handlers,
        winner.deadline,
    )
    return f"tie: larger id than {winner.id} ({'duplicate' if same else 'conflict: dispatch check rejects this'})"


# -- near misses ----------------------------------------------------------------------------


def near_misses(ruleset: RuleSet, case: Case, winner: Rule | None) -> list[NearMiss]:
    """Every rule on the item's event path, covering the case's area, that fails exactly one selector.

    Rules for other areas are left out: on Daxing each item has a rule for most towns,
    and a list of them would say nothing. Highest rank first.
    """
    day = local_day(ruleset, case.reported_at)
    grid_type = ruleset.grid_type_of(case.area)
    found = []
    for rule in candidate_rules(ruleset, case.event):
        if rule.area != ANY and not ruleset.areas.covers(rule.area, case.area):
            continue
        if rule_matches(ruleset, rule, case):
            continue
        failed = []
        if rule.grid_type is not None and rule.grid_type != grid_type:
            has = f"a {grid_type} grid" if grid_type else f"in no basic grid ({ruleset.areas[case.area].level} level)"
            failed.append(
                (
                    "grid_type",
                    f"grid type {rule.grid_type} != {grid_type}"
                    if grid_type
                    else f"grid type {rule.grid_type}: the case's area is {has}",
                )
            )
        if rule.source is not None and rule.source != case.source:
            failed.append(("source", f"source {rule.source} != {case.source}"))
        if not rule.active_on(day):
            failed.append(("window", f"outside window {window_text(rule)} (case day {day})"))
        if len(failed) == 1:
            outranks = winner is None or rank_key(ruleset, rule) > rank_key(ruleset, winner)
            found.append(NearMiss(rule, failed[0][0], failed[0][1], outranks))
    found.sort(key=lambda m: rank_key(ruleset, m.rule), reverse=True)
    return found


# -- what the decision means ----------------------------------------------------------------


def _local(ruleset: RuleSet, area: str) -> dict | None:
    """@local for `area`: the department and the area it governs (the nearest governed ancestor)."""
    for node in ruleset.areas.path(area):
        code = ruleset.governors.get(node.code)
        if code is not None:
            return {
                "department": code,
                "name": ruleset.departments[code].name,
                "governs": node.code,
                "governs_name": node.name,
            }
    return None


def _deadline_source(ruleset: RuleSet, item: str) -> str | None:
    """The taxonomy node whose deadline the item inherits (the item itself or an ancestor)."""
    for node in ruleset.events.path(item):
        if node.deadline is not None:
            return node.code
    return None


def _deadline(rs: RuleSet, case: Case, d: Decision) -> dict | None:
    """The decision's deadline, and why its due time is what it is: the value's origin, the area
    class picked, and the dates the count skipped (weekends, holidays) or made up (调休)."""
    if d.deadline is None:
        return None
    doc = {
        "value": str(d.deadline),
        "origin": d.deadline_origin,
        "class": d.deadline_class,
        "item": deadline_text(rs.item_deadline(case.event)) or None,
        "due": d.due.isoformat() if d.due else None,
        "provisional": d.provisional,
        "skipped": [],
        "made_up": [],
    }
    if d.due is not None and d.deadline.working:
        walked = due_by_walking(rs, case.reported_at, d.deadline)
        doc["skipped"] = [{"date": day.isoformat(), "why": why} for day, why in walked.skipped]
        doc["made_up"] = [{"date": day.isoformat(), "name": name} for day, name in walked.made_up]
    return doc


def no_match_policy(ruleset: RuleSet, case: Case, decision: Decision) -> str:
    if decision.status is Status.PROVISIONAL:
        return (
            "no rule matches and the item is urgent: the local government acts first "
            "(provisional, 先行处置) and the case enters the difficult-case process (疑难案件)"
        )
    if ruleset.item_urgent(case.event):
        return "no rule matches and the item is urgent, but no local government governs the area: manual"
    return "no rule matches and the item is not urgent: to the seat operators (manual)"


def explanation_dict(x: Explanation, root: str = "") -> dict:
    """The explanation as JSON-ready data: what `dispatch explain --format json` prints and POST /v1/explain answers.

    `root` is the rule-set directory as loaded: every `file` is relative to it, as /v1/dispatch
    names a rule's file, so that the decision's rule is the object /v1/dispatch answers.
    """
    rs, case, d = x.ruleset, x.case, x.decision

    def _rule_ref(rule: Rule) -> dict:
        return {"id": rule.id, "file": rule_file(rule.place.path, root), "line": rule.place.line}

    winner = x.ranked[0].rule if x.ranked else None
    uses_local = (winner is not None and winner.department == LOCAL) or d.status is Status.PROVISIONAL
    return {
        "ruleset": {"name": rs.manifest.name, "version": rs.version},
        "case": {
            "id": case.id,
            "event": case.event,
            "area": case.area,
            "source": case.source,
            "reported_at": case.reported_at.isoformat(),
            "day": x.day.isoformat(),
        },
        "location": x.location,
        "event_path": [
            {"code": n.code, "name": n.name, "level": event_level(rs, n.code)}
            for n in reversed(list(rs.events.path(case.event)))
        ],
        "area_path": [
            {"code": a.code, "name": a.name, "level": a.level, "grid_type": a.grid_type}
            for a in reversed(list(rs.areas.path(case.area)))
        ],
        "item": {
            "deadline": deadline_text(rs.item_deadline(case.event)) or None,
            "deadline_set_on": _deadline_source(rs, case.event),
            "urgent": rs.item_urgent(case.event),
            "command_system": d.command_system,
        },
        "decision": {
            "status": d.status.value,
            "department": {"code": d.department.code, "name": d.department.name} if d.department else None,
            "local": _local(rs, case.area) if uses_local else None,
            "co_handlers": [{"code": u.code, "name": u.name} for u in d.co_handlers],
            "deadline": _deadline(rs, case, d),
            "rule": None
            if d.rule is None
            else {  # the compiled decision's rule, as /v1/dispatch names it
                "id": d.rule.id,
                "file": rule_file(d.rule.path, root),
                "line": d.rule.line,
                "basis": d.rule.basis,
            },
            "difficult": d.difficult,
            "reason": d.reason,
        },
        "no_match": no_match_policy(rs, case, d) if d.rule is None else None,
        "key": list(KEY_NAMES),
        "matching": [
            {
                "rank": r.rank,
                **_rule_ref(r.rule),
                "event": r.rule.event,
                "area": r.rule.area,
                "grid_type": r.rule.grid_type,
                "source": r.rule.source,
                "valid_from": r.rule.valid_from.isoformat() if r.rule.valid_from else None,
                "valid_to": r.rule.valid_to.isoformat() if r.rule.valid_to else None,
                "department": r.rule.department,
                "priority": r.rule.priority,
                "precedence": list(r.key),
                "outcome": "wins" if r.lost_on is None else "lost",
                "lost_on": None if r.lost_on is None else ("id" if r.lost_on == TIE else KEY_NAMES[r.lost_on]),
                "why": r.why,
            }
            for r in x.ranked
        ],
        "near_misses": [
            {**_rule_ref(m.rule), "selector": m.selector, "why": m.why, "would_win": m.would_win} for m in x.near_misses
        ],
        "near_misses_total": x.near_miss_total,
        "agree": x.agree,
    }
