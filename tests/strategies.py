"""Hypothesis strategies: small random rule sets with every selector kind, and cases for them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import strategies as st

from dispatch.core.case import Case
from dispatch.core.model import ANY, LOCAL, Area, Department, EventNode, Manifest, Rule, RuleSet
from dispatch.core.tree import Tree
from dispatch.core.worktime import Deadline

SOURCES = ("grid", "12345", "safety")
GRID_TYPES = ("community", "village", "park")
DAY0 = date(2026, 1, 1)

# Strategies are built once, outside the draws: hypothesis validates each new strategy object on
# its first draw, and building one per rule or per case cost more than compiling the rule set.
# The same strategies drawn from the same places give the same distribution as before.
LEAF_DEADLINES = st.sampled_from((Deadline(50, "h"), Deadline(400, "h"), Deadline(4800, "h")))
INNER_DEADLINES = st.sampled_from((None, Deadline(200, "h"), Deadline(2400, "h")))
GRID_TYPE_OF_GRID = st.sampled_from(GRID_TYPES)
SOURCE_SELECTORS = st.sampled_from((None,) * 4 + SOURCES)
RULE_DEADLINES = st.sampled_from((None, Deadline(100, "h"), Deadline(7200, "h")))
PRIORITIES = st.sampled_from((0, 0, 0, 1, 10, -1))
CASE_ZONES = st.sampled_from((None, UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))))
CASE_SOURCES = st.sampled_from(SOURCES)
CASE_IDS = st.text(max_size=4)
CASE_HOURS = st.integers(-48, 40 * 24)


@st.composite
def event_trees(draw) -> list[EventNode]:
    nodes: list[EventNode] = []

    def add(code: str, parent: str | None, depth: int) -> None:
        kids = draw(st.integers(0, 3)) if depth < draw(st.integers(1, 3)) else 0
        leaf = kids == 0
        deadline = draw(LEAF_DEADLINES if leaf else INNER_DEADLINES)
        urgent = draw(st.booleans()) if leaf else None
        nodes.append(EventNode(code, f"event {code}", parent, deadline, urgent, command_system=None))
        for k in range(kids):
            add(f"{code}{k}", code, depth + 1)

    for c in range(draw(st.integers(1, 3))):
        add(f"E{c}", None, 1)
    return nodes


@st.composite
def area_trees(draw, max_grids: int = 3) -> list[Area]:
    """A district -> towns -> (pieces) -> grids (typed) -> units forest, irregular on purpose."""
    nodes: list[Area] = []
    for d in range(draw(st.integers(1, 2))):
        district = f"D{d}"
        nodes.append(Area(district, district, None, "district", None, None))
        for t in range(draw(st.integers(1, 3))):
            town = f"{district}T{t}"
            nodes.append(Area(town, town, district, "town", None, "rural"))
            parent = town
            if draw(st.booleans()):
                parent = f"{town}P"
                nodes.append(Area(parent, parent, town, "piece", None, None))
            for g in range(draw(st.integers(0, max_grids))):
                grid = f"{town}G{g}"
                nodes.append(Area(grid, grid, parent, "grid", draw(GRID_TYPE_OF_GRID), None))
                for u in range(draw(st.integers(0, 2))):
                    nodes.append(Area(f"{grid}U{u}", "unit", grid, "unit", None, None))
    return nodes


def _windows():
    def build(a: int, length: int) -> tuple[date, date]:
        return DAY0 + timedelta(days=a), DAY0 + timedelta(days=a + length)

    return st.one_of(
        st.just((None, None)),
        st.just((None, None)),
        st.builds(build, st.integers(0, 20), st.integers(1, 15)),
        st.integers(0, 20).map(lambda a: (DAY0 + timedelta(days=a), None)),
        st.integers(1, 20).map(lambda a: (None, DAY0 + timedelta(days=a))),
    )


WINDOWS = _windows()


@st.composite
def rulesets(draw, max_rules: int = 40, max_grids: int = 3) -> RuleSet:
    """A rule set; `max_grids` per town: 40 gives more than 64 columns, several column blocks."""
    events = draw(event_trees())
    areas = draw(area_trees(max_grids))
    towns = [a.code for a in areas if a.level == "town"]
    governed = draw(st.lists(st.sampled_from(towns), unique=True)) if towns else []
    departments = {f"dep{i}": Department(f"dep{i}", f"dept {i}", None, None) for i in range(4)}
    for t in governed:
        departments[f"gov-{t}"] = Department(f"gov-{t}", f"gov {t}", None, t)
    # broad selectors more often than narrow ones, so that most cases meet several rules
    event_codes = [ANY] * 2 + [e.code for e in events if e.parent is None] * 3 + [e.code for e in events]
    area_codes = [ANY] * 2 + [a.code for a in areas if a.level in ("district", "town")] * 2 + [a.code for a in areas]
    dept_codes = sorted(departments) + [LOCAL]
    grid_types = tuple(sorted({a.grid_type for a in areas if a.grid_type}))
    events_st, areas_st = st.sampled_from(event_codes), st.sampled_from(area_codes)
    grid_types_st, dept_st = st.sampled_from((None,) * 4 + grid_types), st.sampled_from(dept_codes)
    co_handlers_st = st.lists(dept_st, max_size=2, unique=True)
    rules: list[Rule] = []
    for i in range(draw(st.integers(0, max_rules) | st.just(max_rules))):
        frm, to = draw(WINDOWS)
        if draw(st.integers(0, 4)) == 0 and rules:
            # a near-copy of an earlier rule: ties, duplicates and conflicts on purpose
            # (an index drawn as sampled_from draws it, without a new strategy for each rule)
            base = rules[draw(st.integers(0, len(rules) - 1))]
            j = draw(st.integers(0, len(dept_codes)))
            department = base.department if j == 0 else dept_codes[j - 1]
            rule = Rule(f"R{i:03d}", base.event, base.area, base.grid_type, base.source, department, base.co_handlers,
                        base.deadline, base.valid_from, base.valid_to, base.priority, "copy")  # fmt: skip
        else:
            rule = Rule(
                id=f"R{i:03d}",
                event=draw(events_st),
                area=draw(areas_st),
                grid_type=draw(grid_types_st),
                source=draw(SOURCE_SELECTORS),
                department=draw(dept_st),
                co_handlers=tuple(draw(co_handlers_st)),
                deadline=draw(RULE_DEADLINES),
                valid_from=frm,
                valid_to=to,
                priority=draw(PRIORITIES),
                basis="generated",
            )
        rules.append(rule)
    order = draw(st.permutations(rules))
    manifest = Manifest("gen", "Asia/Shanghai", SOURCES, {}, "t.csv", "a.csv", "d.csv", ("r.csv",))
    return RuleSet(manifest, Tree(events), Tree(areas), departments, tuple(order), version="generated")


def cases_for(ruleset: RuleSet) -> st.SearchStrategy[Case]:
    """Cases of `ruleset`'s items and areas, reported around the generated rules' windows."""
    items = st.sampled_from([c for c in ruleset.events.order if ruleset.events.is_leaf(c)])
    areas = st.sampled_from(list(ruleset.areas.order))

    @st.composite
    def case(draw) -> Case:
        moment = datetime(2026, 1, 1) + timedelta(hours=draw(CASE_HOURS))
        zone = draw(CASE_ZONES)
        if zone is not None:
            moment = moment.replace(tzinfo=zone)
        return Case(
            id=draw(CASE_IDS),
            event=draw(items),
            area=draw(areas),
            source=draw(CASE_SOURCES),
            reported_at=moment,
        )

    return case()
