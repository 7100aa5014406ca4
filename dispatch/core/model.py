"""Frozen types of what the rule files say: Manifest, EventNode, Area, Department, Rule, RuleSet."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from dispatch.core.errors import Place
from dispatch.core.tree import Tree
from dispatch.core.worktime import Calendar, ClassDeadlines, Deadline

if TYPE_CHECKING:
    from dispatch.core.gridmap import GridMap

ANY = "*"
LOCAL = "@local"


@dataclass(frozen=True, slots=True)
class Manifest:
    """`ruleset.toml`: the rule set's name, clock, sources, command systems and file layout."""

    name: str
    timezone: str
    sources: tuple[str, ...]
    command_systems: dict[str, str]
    taxonomy: str
    areas: str
    departments: str
    rules: tuple[str, ...]
    title: str = ""
    calendar: Calendar | None = None  # [calendar], its `days` file read in
    gridmap: str | None = None  # the grid map (GeoJSON) that places a case given by coordinates


@dataclass(frozen=True, slots=True)
class EventNode:
    """A node of the event taxonomy: a category, a subcategory or (a leaf) a work item.

    `deadline`, `urgent` and `command_system` are as written; None means "inherit
    from the parent" (see RuleSet.item_deadline and friends). A deadline is one value or
    one per area class.
    """

    code: str
    name: str
    parent: str | None
    deadline: Deadline | ClassDeadlines | None
    urgent: bool | None
    command_system: str | None
    opening_criteria: str = ""
    closing_criteria: str = ""
    place: Place = field(default=Place(""), compare=False)


@dataclass(frozen=True, slots=True)
class Area:
    """A node of the area tree. `level` names the level as the data does (district, town, ...)."""

    code: str
    name: str
    parent: str | None
    level: str
    grid_type: str | None
    region: str | None
    place: Place = field(default=Place(""), compare=False)
    area_class: str | None = None  # the `class` column: which of an item's per-class deadlines applies


@dataclass(frozen=True, slots=True)
class Department:
    """A responsible unit. `governs` is the area a local government governs (for `@local`)."""

    code: str
    name: str
    command_system: str | None
    governs: str | None
    place: Place = field(default=Place(""), compare=False)


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of a rule file. `event`/`area` are a code or `*`; `source` None means any."""

    id: str
    event: str
    area: str
    grid_type: str | None
    source: str | None
    department: str
    co_handlers: tuple[str, ...]
    deadline: Deadline | None
    valid_from: date | None
    valid_to: date | None
    priority: int
    basis: str
    note: str = ""
    place: Place = field(default=Place(""), compare=False)
    columns: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def place_of(self, column: str) -> Place:
        """file:line:col of one of the rule's fields (col is the field number in its file)."""
        return Place(self.place.path, self.place.line, self.columns.get(column, 0))

    @property
    def has_window(self) -> bool:
        return self.valid_from is not None or self.valid_to is not None

    def active_on(self, day: date) -> bool:
        """True when `day` lies in [valid_from, valid_to); an open end is no limit."""
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day < self.valid_to)


@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class RuleSet:
    """A loaded, validated rule set: everything the compiler and the matchers read.

    `events` and `areas` are trees; `rules` keep file order. `version` is the content
    hash of the canonical inputs (see dispatch.core.version).
    """

    manifest: Manifest
    events: Tree[EventNode]
    areas: Tree[Area]
    departments: dict[str, Department]
    rules: tuple[Rule, ...]
    version: str
    gridmap: GridMap | None = None  # checked against `areas`
    governors: dict[str, str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # area code -> the department that governs it; the lowest code wins a duplicate
        governors: dict[str, str] = {}
        for dept in sorted(self.departments.values(), key=lambda d: d.code):
            if dept.governs and dept.governs not in governors:
                governors[dept.governs] = dept.code
        object.__setattr__(self, "governors", governors)

    # -- derived facts, the semantics' vocabulary --------------------------------

    def event_depth(self, code: str) -> int:
        return 0 if code == ANY else self.events.depth(code)

    def area_depth(self, code: str) -> int:
        return 0 if code == ANY else self.areas.depth(code)

    def precedence(self, rule: Rule) -> tuple[int, int, int, int, int, int]:
        """The key by which the highest matching rule wins (DESIGN.md, rule semantics)."""
        return (
            rule.priority,
            self.event_depth(rule.event),
            self.area_depth(rule.area),
            int(rule.grid_type is not None),
            int(rule.source is not None),
            int(rule.has_window),
        )

    def _inherited(self, code: str, attr: str):
        for node in self.events.path(code):
            value = getattr(node, attr)
            if value is not None:
                return value
        return None

    def item_deadline(self, code: str) -> Deadline | ClassDeadlines | None:
        """The item's deadline as its handling standard gives it: one value, one per class, or none."""
        return self._inherited(code, "deadline")

    def area_class(self, area_code: str) -> str | None:
        """The area's class (A/B/C ...): its own, or its nearest ancestor's."""
        for area in self.areas.path(area_code):
            if area.area_class:
                return area.area_class
        return None

    def deadline_for(self, event: str, area: str, rule: Rule | None) -> tuple[Deadline | None, str | None, str | None]:
        """(deadline, origin "rule" or "item", the area class picked or None) of a case of `event`
        in `area` decided by `rule` (None: no rule). A class missing from an item's values
        (check refuses that) gives no deadline."""
        if rule is not None and rule.deadline is not None:
            return rule.deadline, "rule", None
        spec = self.item_deadline(event)
        if spec is None:
            return None, None, None
        if isinstance(spec, Deadline):
            return spec, "item", None
        klass = self.area_class(area)
        value = dict(spec).get(klass) if klass is not None else None
        return value, ("item" if value is not None else None), (klass if value is not None else None)

    def item_urgent(self, code: str) -> bool:
        return bool(self._inherited(code, "urgent"))

    def item_command_system(self, code: str) -> str | None:
        return self._inherited(code, "command_system")

    def grid_type_of(self, area_code: str) -> str | None:
        """The grid type of an area: its own, or that of the basic grid it lies in."""
        for area in self.areas.path(area_code):
            if area.grid_type:
                return area.grid_type
        return None

    def local_department(self, area_code: str) -> str | None:
        """`@local` for an area: the department governing its nearest governed ancestor."""
        for area in self.areas.path(area_code):
            dept = self.governors.get(area.code)
            if dept is not None:
                return dept
        return None


@dataclass(frozen=True, slots=True)
class ParsedRuleSet:
    """What the files say, row by row, before whole-set validation: may still be wrong."""

    root: str
    manifest: Manifest
    events: tuple[EventNode, ...]
    areas: tuple[Area, ...]
    departments: tuple[Department, ...]
    rules: tuple[Rule, ...]
    # what could not be read, so that references to it are not reported again as unknown:
    # (kind, code) -> the row that defines the code but failed its own check (kind: event, area, department)
    invalid: dict[tuple[str, str], Place] = field(default_factory=dict, compare=False)
    # kind -> the table that was refused whole or in part (encoding, separator, missing columns)
    refused: dict[str, Place] = field(default_factory=dict, compare=False)
    gridmap: GridMap | None = None
