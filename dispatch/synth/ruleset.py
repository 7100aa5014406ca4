"""A whole rule-set directory: Daxing generated once, cloned `scale` times, written byte-stable.

Scale 1 is Daxing alone. At scale k the district is cloned into a forest of k districts:
Daxing first, then Beijing's other real district codes, then synthetic ones (99xxxx); each
clone's areas, departments and rules are re-coded with its district prefix and its rule ids
suffixed, so that clones never tie and the rule count grows exactly k-fold.
"""

from __future__ import annotations

import csv
import functools
import io
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dispatch.synth.areas import DISTRICT_CODE, DISTRICT_NAME, RURAL, URBAN, Area, build_areas
from dispatch.synth.catalogue import Event, taxonomy
from dispatch.synth.departments import Department, build_departments
from dispatch.synth.gridmap import gridmap_bytes
from dispatch.synth.rules import LOCAL, RuleRow, build_rules

DEFAULT_SEED = 20251201
SAMPLE_CASES = 20_000
SOURCES = ("grid", "12345", "safety", "supervisor")
COMMAND_SYSTEMS = {
    "municipal": "市政市容",
    "social": "社会工委",
    "governance": "综治",
    "safety": "安监",
    "local": "属地",
}
RULE_FILES = {
    "municipal": "MUN",
    "social": "SOC",
    "governance": "GOV",
    "safety": "SAF",
    "local": "LOC",
    "seasonal": "SEA",
}
OTHER_BEIJING_DISTRICTS = {
    "110101": "东城区",
    "110102": "西城区",
    "110105": "朝阳区",
    "110106": "丰台区",
    "110107": "石景山区",
    "110108": "海淀区",
    "110109": "门头沟区",
    "110111": "房山区",
    "110112": "通州区",
    "110113": "顺义区",
    "110114": "昌平区",
    "110116": "怀柔区",
    "110117": "平谷区",
    "110118": "密云区",
    "110119": "延庆区",
}

TAXONOMY_HEADER = (
    "code",
    "name",
    "parent",
    "deadline",
    "urgent",
    "command_system",
    "opening_criteria",
    "closing_criteria",
)
AREA_HEADER = ("code", "name", "parent", "level", "grid_type", "region", "class")
DEPARTMENT_HEADER = ("code", "name", "command_system", "governs", "note")
RULE_HEADER = (
    "id",
    "event",
    "area",
    "grid_type",
    "source",
    "department",
    "co_handlers",
    "deadline",
    "valid_from",
    "valid_to",
    "priority",
    "basis",
    "note",
)


@dataclass(frozen=True, slots=True)
class Daxing:
    """One district's generated data, in Daxing's codes; rules as CSV rows grouped by file."""

    events: tuple[Event, ...]
    areas: tuple[Area, ...]
    departments: tuple[Department, ...]
    rules: dict[str, list[tuple[str, ...]]]


def deadline_value(hours: float | None, urgent: bool) -> str:
    """A catalogue deadline in the standards' units: urgent and sub-hour limits in natural hours
    (自然时), whole days in working days (1 工作日 ...), other hour limits in working hours (工作时)."""
    if hours is None:
        return ""
    if urgent or hours < 1:
        return f"{hours:g}h"
    if hours % 24 == 0:
        return f"{int(hours // 24)}wd"
    return f"{hours:g}wh"


# Items whose time limit the standards give per area class (核心区 A / 一般区 B / C, domain facts
# §1.5): the subcategory, and the values of its items that carry no limit of their own
CLASS_DEADLINES = {"06010": "A=2wh;B=4wh;C=1wd", "06012": "A=1wh;B=2wh;C=4wh"}  # 暴露垃圾, 道路不洁
# the class of the district and of its towns by region: the new town's streets are the core (A),
# the northern 地区 the general area (B, the district's), the rural towns C
AREA_CLASS = {"district": "B", URBAN: "A", RURAL: "C"}
# the last year of days the sample's calendar lists, at most (chinese-calendar knows up to its release)
CALENDAR_FIRST_YEAR = 2025


def _file_of(row: RuleRow, systems: dict[str, str]) -> str:
    if row.windowed:
        return "seasonal"
    if row.department == LOCAL or row.department.startswith("gov-") or row.event == "*":
        return "local"
    return systems[row.event[:2]]


def _rule_rows(rows: Iterable[RuleRow], events: tuple[Event, ...]) -> dict[str, list[tuple[str, ...]]]:
    systems = {e.code: e.command_system or "municipal" for e in events if e.parent is None}
    urgent = {e.code: bool(e.urgent) for e in events}
    by_file: dict[str, list[RuleRow]] = {name: [] for name in RULE_FILES}
    for row in rows:
        by_file[_file_of(row, systems)].append(row)
    out: dict[str, list[tuple[str, ...]]] = {}
    for name, members in by_file.items():
        members.sort(key=lambda r: (r.event, r.area, r.grid_type, r.source, r.priority, r.valid_from, r.valid_to))
        out[name] = [
            (
                f"{RULE_FILES[name]}-{n:06d}",
                r.event,
                r.area,
                r.grid_type,
                r.source,
                r.department,
                ";".join(r.co_handlers),
                deadline_value(r.deadline_hours, urgent.get(r.event, False)),
                r.valid_from,
                r.valid_to,
                str(r.priority) if r.priority else "",
                r.basis,
                r.note,
            )
            for n, r in enumerate(members, start=1)
        ]
    return out


def generate(seed: int = DEFAULT_SEED) -> Daxing:
    """Daxing's areas, departments and rules; every random choice comes from `seed`."""
    events = taxonomy()
    areas = tuple(build_areas(random.Random(f"areas:{seed}")))
    departments = tuple(build_departments())
    rows = build_rules(events, areas, departments, random.Random(f"rules:{seed}"))
    return Daxing(events, areas, departments, _rule_rows(rows, events))


# -- clones ---------------------------------------------------------------------------


def district_codes(scale: int) -> list[tuple[str, str]]:
    """(code, name) of the k districts: Daxing, Beijing's other districts, then synthetic ones."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    out = [(DISTRICT_CODE, DISTRICT_NAME), *sorted(OTHER_BEIJING_DISTRICTS.items())]
    out.extend((f"{990000 + i}", f"合成{i:03d}区") for i in range(1, max(0, scale - len(out)) + 1))
    return out[:scale]


class _Clone:
    """Re-codes Daxing's data into another district (the identity for Daxing itself)."""

    def __init__(self, code: str, name: str):
        self.code = code
        self.name = name
        self.same = code == DISTRICT_CODE

    def area(self, code: str) -> str:
        return code if self.same or code == "*" or not code else self.code + code[6:]

    def dept(self, code: str) -> str:
        if self.same or code == LOCAL or not code:
            return code
        if code.startswith("gov-"):
            return "gov-" + self.area(code[4:])
        return f"d{self.code}-" + code[3:]

    def dept_name(self, name: str) -> str:
        if self.same:
            return name
        name = name.replace("大兴", self.name.removesuffix("区"))
        return self.name + name[1:] if name.startswith("区") else name

    def rule_id(self, rule_id: str) -> str:
        return rule_id if self.same else f"{rule_id}-{self.code}"


def _areas(dx: Daxing, clone: _Clone) -> Iterator[tuple[str, ...]]:
    for a in dx.areas:
        name = clone.name if a.parent is None else a.name
        klass = (
            AREA_CLASS.get(a.level if a.parent is None else a.region or "", "")
            if a.level in ("district", "town")
            else ""
        )
        yield (clone.area(a.code), name, clone.area(a.parent or ""), a.level, a.grid_type or "", a.region or "", klass)


def _departments(dx: Daxing, clone: _Clone) -> Iterator[tuple[str, ...]]:
    for d in dx.departments:
        note = d.note if clone.same else f"synthetic clone of {d.name}"
        yield (clone.dept(d.code), clone.dept_name(d.name), d.command_system, clone.area(d.governs), note)


def _rules(rows: list[tuple[str, ...]], clone: _Clone) -> Iterator[tuple[str, ...]]:
    if clone.same:
        yield from rows
        return
    for r in rows:
        cos = ";".join(clone.dept(c) for c in r[6].split(";")) if r[6] else ""
        yield (clone.rule_id(r[0]), r[1], clone.area(r[2]), r[3], r[4], clone.dept(r[5]), cos, *r[7:])


# -- writing --------------------------------------------------------------------------


def _csv_bytes(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _manifest(scale: int) -> str:
    name = "daxing" if scale == 1 else f"daxing-x{scale}"
    title = "北京市大兴区网格化案件派遣规则 (synthetic sample built from public facts)"
    if scale > 1:
        title += f", cloned into {scale} districts"
    systems = "\n".join(f'{k} = "{v}"' for k, v in COMMAND_SYSTEMS.items())
    sources = ", ".join(f'"{s}"' for s in SOURCES)
    return (
        f'name = "{name}"\n'
        f'title = "{title}"\n'
        'timezone = "Asia/Shanghai"\n'
        f"sources = [{sources}]\n"
        'taxonomy = "taxonomy.csv"\n'
        'areas = "areas.csv"\n'
        'departments = "departments.csv"\n'
        'rules = ["rules/*.csv"]\n' + ('gridmap = "gridmap.geojson"\n' if scale == 1 else "") + "\n"
        "[command_systems]\n"
        f"{systems}\n"
        "\n"
        "# Working time: Beijing's office hours (an assumption, see README.md) and the State Council's\n"
        "# holidays and make-up workdays (dispatch calendar --country CN)\n"
        "[calendar]\n"
        "workweek = [1, 2, 3, 4, 5]\n"
        'work_hours = ["09:00-12:00", "13:30-17:30"]\n'
        'days = "calendar.csv"\n'
    )


def _calendar_csv() -> bytes:
    """Every year chinese-calendar knows from CALENDAR_FIRST_YEAR on."""
    from chinese_calendar import constants

    from dispatch.tools.calendar.days import calendar_days, days_csv

    last = max(d.year for d in constants.holidays)
    return days_csv(calendar_days("CN", CALENDAR_FIRST_YEAR, last)).encode("utf-8")


def _readme(scale: int, seed: int, counts: dict[str, int]) -> str:
    command = "python -m dispatch.synth ruleset OUT_DIR" + (f" --scale {scale}" if scale > 1 else "")
    if seed != DEFAULT_SEED:
        command += f" --seed {seed}"
    clones = f"Daxing cloned into {scale} districts (a forest of roots). " if scale > 1 else ""
    return f"""# Synthetic Daxing dispatch rule set

Generated by `{command}`: do not edit by hand, change `dispatch/synth/` and regenerate.
{clones}{counts["rules"]} rules, {counts["areas"]} areas, {counts["departments"]} departments, {counts["items"]} work items.

What is real (public sources, see the project's domain facts): the 22 towns and streets of
大兴区 with their NBS codes and names, 亦庄's 21 communities and 5 villages and 黄村's 10 and 31,
the GB/T 47678.5 category and subcategory codes and names for categories 01-10, the deadline
conventions (2 and 4 work hours; 1, 2, 5, 7, 15, 20 work days, counted as 24 h each), and the
department names marked `name confirmed in public sources` in `departments.csv`. The totals
(734 grids: 188 community, 469 village, 77 park; 29 categories, 229 subcategories, 769 items)
follow the project's design; public text does not confirm them.

What is made up: categories 11-29, the work items and their criteria, community and village
names (except some of 亦庄's), pieces and unit grids, the unverified department names, every
rule, and `cases-sample.csv`. Law citations name real regulations but no article numbers.

{_GRIDMAP_NOTE if scale == 1 else ""}About 7% of case volume has no matching rule on purpose (ownership unclear: 不明井盖, 桥下空间,
僵尸车, abandoned facilities, ...); those cases go to the seat operators, or to the town
government first when the item is urgent.
{_GOLDEN if scale == 1 else ""}"""


_GRIDMAP_NOTE = """`gridmap.geojson` is the electronic grid map: one polygon per unit grid. The
district's outline is real: 大兴区 as drawn in the ECharts 2 map of Beijing (public repository
fis-components/echarts, `util/mapData/geoJson/bei_jing_geo.js`, stored at 1/1024 of a degree,
about 100 m; taken as WGS 84). Everything inside it is made up: towns, pieces, basic and unit
grids are cut out of their parents by seeded straight cuts, sized by weight (a community's unit
grid weighs 1, a park's 3, a village's 4: urban grids are smaller than rural ones).

"""


_GOLDEN = """
`golden.csv` holds golden cases for `dispatch test rules/daxing --cases rules/daxing/golden.csv`:
a few for each kind of rule (district defaults, town overrides, village/community/park splits,
basic-grid and unit-grid exceptions, `@local`, seasonal windows in and out of season, source
rules, priority overrides) and cases no rule matches (urgent: provisional; else manual), each
with a `note` saying what it checks. Its expected values were approved from the current rule
set: `python -m dispatch.synth golden rules/daxing rules/daxing/golden.csv` writes it (seeded,
reproducible); `python -m dispatch.synth ruleset` does not, so a change of rules fails the golden cases
until someone reviews the change and approves it again.
"""


def _event_deadline(e: Event, events: dict[str, Event]) -> str:
    classes = CLASS_DEADLINES.get(e.parent or "")
    if classes is not None and not e.urgent and e.deadline_hours == _default_of(e.parent, events):
        return classes
    return deadline_value(e.deadline_hours, bool(e.urgent))


def _default_of(subcategory: str, events: dict[str, Event]) -> float | None:
    """The limit most items of a subcategory share: the one the catalogue gives the subcategory."""
    hours = [e.deadline_hours for e in events.values() if e.parent == subcategory]
    return max(set(hours), key=hours.count) if hours else None


def _taxonomy_rows(events: Iterable[Event]) -> Iterator[tuple[str, ...]]:
    events = {e.code: e for e in events}
    for e in events.values():
        urgent = "" if e.urgent is None else ("true" if e.urgent else "false")
        yield (
            e.code,
            e.name,
            e.parent or "",
            _event_deadline(e, events),
            urgent,
            e.command_system or "",
            e.opening_criteria,
            e.closing_criteria,
        )


GRIDMAP = "gridmap.geojson"


@functools.lru_cache(maxsize=2)
def daxing_gridmap(seed: int) -> bytes:
    """The grid map of the generated district (a few seconds of cutting polygons: made once a process)."""
    return gridmap_bytes(generate(seed).areas, seed)


def write_ruleset(
    out_dir: str | Path, scale: int = 1, seed: int = DEFAULT_SEED, sample: int = SAMPLE_CASES
) -> dict[str, int]:
    """Write the rule set (and a case sample of `sample` cases) to `out_dir`; return the counts.

    Rule files in `out_dir/rules/` that this generator does not write are removed, since the
    manifest's glob would load them.
    """
    out = Path(out_dir)
    (out / "rules").mkdir(parents=True, exist_ok=True)
    dx = generate(seed)
    clones = [_Clone(code, name) for code, name in district_codes(scale)]
    counts = {
        "areas": len(dx.areas) * scale,
        "departments": len(dx.departments) * scale,
        "rules": sum(len(rows) for rows in dx.rules.values()) * scale,
        "items": sum(1 for e in dx.events if len(e.code) == 8),
    }
    files: dict[Path, bytes] = {
        out / "README.md": _readme(scale, seed, counts).encode("utf-8"),
        out / "ruleset.toml": _manifest(scale).encode("utf-8"),
        out / "calendar.csv": _calendar_csv(),
        out / "taxonomy.csv": _csv_bytes(TAXONOMY_HEADER, _taxonomy_rows(dx.events)),
        out / "areas.csv": _csv_bytes(AREA_HEADER, (r for c in clones for r in _areas(dx, c))),
        out / "departments.csv": _csv_bytes(DEPARTMENT_HEADER, (r for c in clones for r in _departments(dx, c))),
    }
    if scale == 1:  # the grid map draws the one real outline: a clone has none
        files[out / GRIDMAP] = daxing_gridmap(seed)
    elif (out / GRIDMAP).exists():
        (out / GRIDMAP).unlink()
    for name, rows in dx.rules.items():
        files[out / "rules" / f"{name}.csv"] = _csv_bytes(RULE_HEADER, (r for c in clones for r in _rules(rows, c)))
    for stale in (out / "rules").glob("*.csv"):
        if stale not in files:
            stale.unlink()
    for path, data in files.items():
        path.write_bytes(data)
    if sample:
        from dispatch.synth.cases import write_cases

        write_cases(out, out / "cases-sample.csv", n=sample, seed=seed)
        counts["cases"] = sample
    return counts
