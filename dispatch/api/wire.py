"""Wire schemas: what goes over HTTP, as pydantic models that feed the OpenAPI description.

POST /v1/dispatch does not validate through these models (intake.py checks by hand,
at a fraction of the cost); they state the same contract for /docs and for clients,
and tests/api hold the endpoint's behaviour to them (schemathesis-style fuzzing).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dispatch.api.intake import ID_MAX_CHARS

_EXAMPLE_CASE = {
    "id": "C0000004",
    "event": "06042001",
    "area": "110115109401002",
    "source": "grid",
    "reported_at": "2025-12-01T07:26:00+08:00",
}


class Location(BaseModel):
    """A point where the case happened: the grid map places it in a unit grid."""

    model_config = ConfigDict(extra="forbid")

    longitude: float = Field(ge=-180, le=180)
    latitude: float = Field(ge=-90, le=90)
    crs: Literal["wgs84", "gcj02", "cgcs2000"] = Field(
        default="wgs84",
        description="wgs84 (GPS; cgcs2000 is read as wgs84) or gcj02 (the offset coordinates of Amap/Gaode and Tencent maps)",
    )


class CaseIn(BaseModel):
    """One case. Members not named here are ignored, but for `cases`: a body with `cases` is a batch."""

    # "not required cases": the endpoints read a body with `cases` as a batch (/v1/explain refuses
    # it), so an object that has it is not a case, whatever else it has
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [_EXAMPLE_CASE],
            "not": {"required": ["cases"]},
            "anyOf": [{"required": ["area"]}, {"required": ["location"]}],
        },
    )

    id: str = Field(min_length=1, max_length=ID_MAX_CHARS, description="the caller's case id, echoed")
    event: str = Field(description="event code: a work item (事项) of the taxonomy")
    area: str = Field(
        default=None,
        description="area code at any level; without it the grid map places the case by its location",
        json_schema_extra=lambda schema: schema.pop("default", None),
    )
    source: str = Field(description="where the case comes from: grid, 12345, safety, supervisor, ...")
    reported_at: str | None = Field(
        default=None,
        description="ISO 8601 report time; without an offset it is in the rule set's timezone; absent or null: now",
    )
    # absent means no location; null is refused (422 request.invalid) as intake.py does, so the
    # schema leaves null out: not `Location | None`, and no `"default": null` beside a $ref to an object
    location: Location = Field(
        default=None,
        description="where the case happened; leave it out when there is none (null is refused)",
        json_schema_extra=lambda schema: schema.pop("default", None),
    )


class BatchIn(BaseModel):
    """Many cases; answered in order, one result each. A member that is not a valid case
    (of any JSON type) does not fail the batch: it gets an error object in its place."""

    model_config = ConfigDict(extra="allow")

    cases: list[CaseIn | Any] = Field(description="at most the server's batch limit (default 10,000)")


class Unit(BaseModel):
    code: str
    name: str


class Deadline(BaseModel):
    value: str = Field(
        description="handling deadline (处置时限): a number and a unit, h natural hours, wh working hours, "
        "wd working days (4wh, 2wd, 0.5h)"
    )
    due: str | None = Field(
        description="when it is due: reported_at plus the deadline, counted in the rule set's working time "
        "for wh and wd; RFC 3339, whole seconds, in the rule set's offset at that instant; null when manual"
    )
    origin: Literal["rule", "item"] = Field(description="rule: the rule overrides the item's standard")
    class_: str | None = Field(
        alias="class", description="the area class (A/B/C ...) whose value of the item's deadline applies"
    )
    provisional: bool = Field(
        description="true when the due time counts a year whose holidays the rule set's calendar does not list "
        "yet: it assumes the plain workweek there"
    )


class Located(BaseModel):
    area: str | None = Field(description="the area that decided; null when the point lies off the grid map")
    method: Literal["map", "given"] = Field(description="map: the grid map placed the point; given: the case named it")


class RuleRef(BaseModel):
    id: str
    file: str
    line: int
    basis: str = Field(description="why this department: law, mandate or practice, with a citation")


class Decision(BaseModel):
    """Who handles the case, by when, and why."""

    id: str
    status: Literal["auto", "provisional", "manual"]
    department: Unit | None = Field(description="null when manual (to the seat operators)")
    co_handlers: list[Unit]
    command_system: str | None
    deadline: Deadline | None = Field(description="null when the item has no deadline")
    rule: RuleRef | None = Field(description="the winning rule; null when no rule matched")
    difficult: bool = Field(description="enters the difficult-case process (疑难案件)")
    area_path: list[str] = Field(description="area codes from the district down to the case's area")
    ruleset: str = Field(description="version of the rule set that decided")
    reason: str
    located: Located | None = Field(default=None, description="present when the case came with a location")
    location_check: Literal["inside", "outside", "off_map"] | None = Field(
        default=None, description="with both area and location: whether the grid map puts the point in the area"
    )


class Named(BaseModel):
    code: str
    name: str
    level: str


class AreaStep(Named):
    grid_type: str | None


class LocalGovernment(BaseModel):
    department: str
    name: str
    governs: str = Field(description="the area it governs: the nearest governed ancestor of the case's area")
    governs_name: str


class SkippedDate(BaseModel):
    date: str
    why: str = Field(description='"weekend", or the holiday\'s name')


class MadeUpDate(BaseModel):
    date: str
    name: str = Field(description="the make-up workday (调休) as the calendar names it")


class ExplainedDeadline(BaseModel):
    value: str
    origin: Literal["rule", "item"]
    class_: str | None = Field(alias="class")
    item: str | None = Field(description="the item's handling standard (处置时限), as written")
    due: str | None
    provisional: bool
    skipped: list[SkippedDate] = Field(description="dates the count passed over, from the report's to the due date")
    made_up: list[MadeUpDate] = Field(description="make-up workdays the count worked through")


class ExplainedDecision(BaseModel):
    """The decision the service gives (the compiled tables), with @local resolved."""

    status: Literal["auto", "provisional", "manual"]
    department: dict | None
    local: LocalGovernment | None = Field(description="set when the winner says @local, or for a provisional case")
    co_handlers: list[dict]
    deadline: ExplainedDeadline | None
    rule: dict | None = Field(description="{id, file, line, basis} of the winning rule: /v1/dispatch's rule object")
    difficult: bool
    reason: str


class RankedRule(BaseModel):
    rank: int = Field(description="1: the winner")
    id: str
    file: str = Field(description="relative to the rule set, as /v1/dispatch names it")
    line: int
    event: str
    area: str
    grid_type: str | None
    source: str | None
    valid_from: str | None
    valid_to: str | None = Field(description="exclusive, as in the rule file")
    department: str
    priority: int
    precedence: list[int] = Field(description="the precedence key, components named by `key`")
    outcome: Literal["wins", "lost"]
    lost_on: str | None = Field(description="the first key component where it is below the winner; id: a tie")
    why: str


class NearMiss(BaseModel):
    id: str
    file: str
    line: int
    selector: Literal["grid_type", "source", "window"]
    why: str
    would_win: bool = Field(description="it outranks the winner: had it matched, it would have decided")


class Explanation(BaseModel):
    """Every rule that matches a case, ranked by the reference matcher, and why the winner won."""

    ruleset: dict
    case: dict
    event_path: list[Named]
    area_path: list[AreaStep]
    item: dict
    decision: ExplainedDecision
    no_match: str | None = Field(description="the no-match policy that applied; null when a rule matched")
    key: list[str]
    matching: list[RankedRule]
    near_misses: list[NearMiss] = Field(description="at most 10, highest rank first")
    near_misses_total: int
    agree: bool = Field(description="the compiled winner is the reference's first-ranked rule (false: a bug)")


class FieldError(BaseModel):
    field: str = Field(description="JSON pointer to the bad member, e.g. /cases/3/area")
    code: str = Field(description="stable dotted code, e.g. request.unknown_area")
    detail: str
    value: str | int | float | bool | None = Field(description="the value sent (long strings cut); null for containers")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="urn:dispatch:problem:<code>")
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError]


class CaseFailure(BaseModel):
    """A batch member that could not be dispatched: its problem, in its place."""

    id: str | None
    error: Problem


class BatchOut(BaseModel):
    results: list[Decision | CaseFailure]


class Diagnostic(BaseModel):
    at: str = Field(description="file:line:col")
    code: str
    severity: str
    message: str
    path: str
    line: int
    col: int


class RulesetProblem(Problem):
    diagnostics: list[Diagnostic]


class Coverage(BaseModel):
    day: str
    unit: str
    counts: dict[str, int]
    auto_share: float


class Refusal(BaseModel):
    """The last load that was refused (a bad set or bundle): the set above keeps serving."""

    at: str
    diagnostics: list[Diagnostic]


class RulesetInfo(BaseModel):
    name: str
    title: str
    version: str
    root: str
    timezone: str
    loaded_at: str
    load_seconds: float
    counts: dict
    coverage: Coverage
    refused: Refusal | None = Field(default=None, description="present when the latest load was refused")


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    version: str | None


class Reloaded(BaseModel):
    version: str
    previous: str | None
    loaded_at: str
    load_seconds: float


# -- the read-only views of the rule set (catalogue.py): what the console is built on ----------------


class RulesetRef(BaseModel):
    name: str
    version: str


class TaxonNode(BaseModel):
    code: str
    name: str
    parent: str | None
    depth: int = Field(description="1 at a root (a category)")
    item: bool = Field(description="a work item (事项): a leaf, what a case names")
    urgent: bool | None = Field(description="an item's urgency (inherited as the rule set says); null above items")


class Taxonomy(BaseModel):
    """Every node of the event taxonomy, parents before children."""

    ruleset: RulesetRef
    nodes: list[TaxonNode]


class AreaNode(BaseModel):
    code: str
    name: str
    parent: str | None
    level: str = Field(description="the level's name, from the data (district, town, piece, grid, unit in Daxing)")
    depth: int
    grid_type: str | None = Field(description="a basic grid's type (community, village, park)")


class Areas(BaseModel):
    """Every area, parents before children."""

    ruleset: RulesetRef
    nodes: list[AreaNode]


class DepartmentOut(BaseModel):
    code: str
    name: str
    command_system: str | None
    governs: str | None = Field(description="the area a local government governs: how @local resolves")


class Departments(BaseModel):
    ruleset: RulesetRef
    sources: list[str]
    command_systems: dict[str, str]
    departments: list[DepartmentOut]


class RuleFields(BaseModel):
    """A rule's fields as the core holds them (members follow the rule-file format), its file and line."""

    model_config = ConfigDict(extra="allow")

    id: str
    file: str = Field(description="relative to the rule set, as /v1/dispatch names it")
    line: int
    event: str
    area: str
    department: str
    columns: dict[str, int] = Field(description="the field number of each column in its file (file:line:col)")


class RuleOut(BaseModel):
    ruleset: RulesetRef
    rule: RuleFields


class MatrixOutcome(BaseModel):
    key: str = Field(description="the department code, or manual")
    status: Literal["auto", "provisional", "manual"]
    department: Unit | None


class MatrixRule(BaseModel):
    id: str | None = Field(description="null: no rule (the no-match policy decided)")
    file: str | None
    line: int | None
    cells: int


class MatrixEntry(BaseModel):
    town: int = Field(description="index into towns")
    outcome: int = Field(description="index into outcomes")
    cells: int
    rules: list[MatrixRule] = Field(description="the deciding rules, most cells first (at most 20)")
    rules_total: int


class Matrix(BaseModel):
    """Where an event's cells (item x basic grid x source on a day) go, town by town."""

    ruleset: RulesetRef
    event: dict
    day: str
    cells: int
    unit: str
    towns: list[dict]
    outcomes: list[MatrixOutcome]
    entries: list[MatrixEntry]


class CoverageMap(BaseModel):
    """The coverage map: the document `dispatch coverage --format json` prints, for the set served."""

    model_config = ConfigDict(extra="allow")

    ruleset: RulesetRef
    day: str
    cases_file: str | None
    statuses: list[str]
    level: str
    categories: list[dict]
    towns: list[dict]
    cells: dict
    cases: dict | None = Field(description="by case volume: null unless the service was started with a history")
    gaps: list[dict]
    history_error: str | None = Field(description="why the history given at start could not be read")


def component_schemas(max_batch: int) -> dict[str, dict]:
    """JSON schemas of the request and answer models, for the OpenAPI entries of the bare endpoints and
    the problems: each under its name in components/schemas, referring to the others there."""
    out: dict[str, dict] = {}
    for model in (CaseIn, BatchIn, Decision, BatchOut, Problem, RulesetProblem):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    # the limit is a policy answered by 413 (like the body size), not a shape that 422 answers:
    # stated in words, not as maxItems
    out["BatchIn"]["properties"]["cases"]["description"] = f"at most {max_batch:,} cases (413 past that)"
    return out
