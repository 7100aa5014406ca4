"""A synthetic case history for any rule-set directory: who reported what, where and when.

Reads the manifest, taxonomy and areas with the csv module only (no dependency on the
loader). Items follow the Zipf-like volume model (`volume.py`); sources mix as grid 55%,
12345 35%, safety 4%, supervisor 6%, with the safety source concentrated on the work-safety
items; grid patrol reports mostly land on unit grids, hotline calls mostly on the town;
basic grids weigh community > village > park. Report times span 2025-12-01..2026-12-01
(local time of the rule set) with daily, weekly and seasonal rhythm. Vectorised with numpy:
a million cases take a few seconds.
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from dispatch.synth.volume import item_weights

START = "2025-12-01"
END = "2026-12-01"
SOURCE_MIX = {"grid": 0.55, "12345": 0.35, "safety": 0.04, "supervisor": 0.06}
SAFETY_ON_SAFETY_ITEMS = 0.8  # share of safety-source cases that concern work-safety items
GRID_WEIGHT = {"community": 3.0, "village": 1.5, "park": 1.0}
SAFETY_PARK_BOOST = 4.0  # safety inspections go to industrial parks
# where a report lands: (town, basic grid, unit grid) shares by source
LEVEL_MIX = {
    "grid": (0.0, 0.15, 0.85),
    "supervisor": (0.0, 0.3, 0.7),
    "12345": (0.6, 0.3, 0.1),
    "safety": (0.0, 0.6, 0.4),
}
DEFAULT_LEVEL_MIX = (0.2, 0.4, 0.4)
# hour-of-day profiles: patrol in working hours, the hotline into the evening
_PATROL_HOURS = (1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 15, 12, 8, 10, 14, 15, 13, 9, 5, 3, 2, 2, 1, 1)
_HOTLINE_HOURS = (2, 1, 1, 1, 1, 2, 4, 8, 12, 13, 12, 11, 9, 10, 11, 11, 10, 10, 11, 12, 11, 9, 6, 3)
_PATROL_WEEK = (1.0, 1.0, 1.0, 1.0, 0.95, 0.55, 0.45)  # Monday first
_HOTLINE_WEEK = (1.0, 0.97, 0.95, 0.95, 0.92, 0.8, 0.8)
SPRING_FESTIVAL = ("2026-02-15", "2026-02-24")  # 春节 holiday: patrol and hotline both quieter


@dataclass(frozen=True, slots=True)
class Reference:
    """What the generator needs from a rule set: sources, items, grids and their units and towns."""

    timezone: str
    sources: tuple[str, ...]
    items: tuple[str, ...]
    item_safety: np.ndarray  # bool[n_items]: the item's command system is work safety
    grids: tuple[str, ...]
    grid_types: tuple[str, ...]
    grid_town: tuple[str, ...]
    units: tuple[str, ...]  # unit grids, grouped by basic grid in grid order
    unit_start: np.ndarray  # int64[n_grids]
    unit_count: np.ndarray  # int64[n_grids]


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f)]


def read_reference(ruleset_dir: str | Path) -> Reference:
    root = Path(ruleset_dir)
    manifest = tomllib.loads((root / "ruleset.toml").read_text(encoding="utf-8-sig"))
    events = _read(root / manifest["taxonomy"])
    parents = {e["parent"] for e in events if e["parent"]}
    by_code = {e["code"]: e for e in events}

    def system(code: str) -> str:
        while code:
            e = by_code[code]
            if e.get("command_system"):
                return e["command_system"]
            code = e["parent"]
        return ""

    items = sorted(e["code"] for e in events if e["code"] not in parents)
    areas = _read(root / manifest["areas"])
    parent_of = {a["code"]: a["parent"] for a in areas}
    depth: dict[str, int] = {}

    def depth_of(code: str) -> int:
        if code not in depth:
            p = parent_of[code]
            depth[code] = 1 if not p else depth_of(p) + 1
        return depth[code]

    def town_of(code: str) -> str:
        while depth_of(code) > 2:
            code = parent_of[code]
        return code

    grids = sorted((a["code"], a["grid_type"]) for a in areas if a["grid_type"])
    grid_set = {g for g, _ in grids}
    children: dict[str, list[str]] = {}
    for a in areas:
        if a["parent"] in grid_set:
            children.setdefault(a["parent"], []).append(a["code"])
    units: list[str] = []
    start, count = [], []
    for g, _ in grids:
        kids = sorted(children.get(g, ()))
        start.append(len(units))
        count.append(len(kids))
        units.extend(kids)
    return Reference(
        timezone=manifest.get("timezone", "Asia/Shanghai"),
        sources=tuple(manifest["sources"]),
        items=tuple(items),
        item_safety=np.array([system(i) == "safety" for i in items], dtype=bool),
        grids=tuple(g for g, _ in grids),
        grid_types=tuple(t for _, t in grids),
        grid_town=tuple(town_of(g) for g, _ in grids),
        units=tuple(units),
        unit_start=np.array(start, dtype=np.int64),
        unit_count=np.array(count, dtype=np.int64),
    )


def _draw(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    cum = np.cumsum(weights, dtype=np.float64)
    return np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), len(weights) - 1)


def _day_weights(days: np.ndarray, week: tuple[float, ...]) -> np.ndarray:
    """Seasonal (summer peak), weekly and holiday rhythm over the days of the year."""
    doy = (days - days.astype("datetime64[Y]")).astype(np.int64)
    season = 1.0 + 0.25 * np.sin(2 * np.pi * (doy - 105) / 365.0)
    weekday = ((days.astype(np.int64) + 3) % 7).astype(np.int64)  # 1970-01-01 was a Thursday
    w = season * np.asarray(week)[weekday]
    lo, hi = (np.datetime64(d) for d in SPRING_FESTIVAL)
    return np.where((days >= lo) & (days < hi), w * 0.45, w)


def _source_tables(ref: Reference) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per-source probabilities for safety items and for the other items, keeping the overall mix."""
    sources = list(ref.sources)
    mix = np.array([SOURCE_MIX.get(s, 0.0) for s in sources])
    if mix.sum() == 0:
        mix = np.ones(len(sources))
    mix = mix / mix.sum()
    weights = item_weights(ref.items)
    safety_volume = float(sum(weights[i] for i, s in zip(ref.items, ref.item_safety) if s))
    on_safety = np.array(mix, copy=True)
    on_other = np.array(mix, copy=True)
    if "safety" in sources and 0.0 < safety_volume < 1.0:
        k = sources.index("safety")
        share = mix[k]
        p_safe = min(0.95, share * SAFETY_ON_SAFETY_ITEMS / safety_volume)
        p_other = share * (1 - SAFETY_ON_SAFETY_ITEMS) / (1 - safety_volume)
        rest = np.delete(mix, k) / (1 - share)
        on_safety = np.insert(rest * (1 - p_safe), k, p_safe)
        on_other = np.insert(rest * (1 - p_other), k, p_other)
    return on_safety, on_other, sources


def generate_cases(ref: Reference, n: int, seed: int) -> dict[str, np.ndarray]:
    """Columns id, event, area, source, reported_at (object arrays of str), sorted by time."""
    rng = np.random.default_rng(seed)
    weights = item_weights(ref.items)
    item_w = np.array([weights[i] for i in ref.items])
    item = _draw(rng, item_w, n)

    on_safety, on_other, sources = _source_tables(ref)
    is_safety = ref.item_safety[item]
    u = rng.random(n)
    source = np.where(
        is_safety,
        np.searchsorted(np.cumsum(on_safety), u * np.cumsum(on_safety)[-1], side="right"),
        np.searchsorted(np.cumsum(on_other), u * np.cumsum(on_other)[-1], side="right"),
    )
    source = np.minimum(source, len(sources) - 1)

    types = np.array(ref.grid_types)
    base = np.array([GRID_WEIGHT.get(t, 1.0) for t in ref.grid_types])
    safety_w = np.where(types == "park", base * SAFETY_PARK_BOOST, base)
    grid = _draw(rng, base, n)
    if "safety" in sources:
        mask = source == sources.index("safety")
        grid[mask] = _draw(rng, safety_w, int(mask.sum()))

    levels = np.array([LEVEL_MIX.get(s, DEFAULT_LEVEL_MIX) for s in sources])
    cum = np.cumsum(levels, axis=1)
    v = rng.random(n)
    level = (v[:, None] * cum[source, -1][:, None] >= cum[source]).sum(axis=1)  # 0 town, 1 grid, 2 unit
    counts = ref.unit_count[grid]
    level = np.where((level == 2) & (counts == 0), 1, level)
    offset_in_grid = np.minimum((rng.random(n) * counts).astype(np.int64), np.maximum(counts - 1, 0))
    # one lookup table: towns (one row per grid), then grids, then units
    table = np.array([*ref.grid_town, *ref.grids, *ref.units], dtype=object)
    n_grids = len(ref.grids)
    where = np.where(
        level == 0, grid, np.where(level == 1, n_grids + grid, 2 * n_grids + ref.unit_start[grid] + offset_in_grid)
    )

    days = np.arange(np.datetime64(START), np.datetime64(END), dtype="datetime64[D]")
    hotline = np.array([s == "12345" for s in sources])[source]
    day = np.empty(n, dtype=np.int64)
    hour = np.empty(n, dtype=np.int64)
    for flag, week, hours in ((False, _PATROL_WEEK, _PATROL_HOURS), (True, _HOTLINE_WEEK, _HOTLINE_HOURS)):
        mask = hotline == flag
        m = int(mask.sum())
        day[mask] = _draw(rng, _day_weights(days, week), m)
        hour[mask] = _draw(rng, np.asarray(hours, dtype=np.float64), m)
    seconds = day * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    order = np.argsort(seconds, kind="stable")
    stamps = np.datetime64(f"{START}T00:00:00") + seconds[order].astype("timedelta64[s]")
    offset = _utc_offset(ref.timezone)
    reported = np.char.add(np.datetime_as_string(stamps, unit="s"), offset)
    width = max(7, len(str(n)))
    return {
        "id": np.array([f"C{i:0{width}d}" for i in range(1, n + 1)], dtype=object),
        "event": np.array(ref.items, dtype=object)[item[order]],
        "area": table[where[order]],
        "source": np.array(sources, dtype=object)[source[order]],
        "reported_at": reported.astype(object),
    }


def _utc_offset(timezone: str) -> str:
    """The zone's UTC offset as +HH:MM (fixed over the year for Asia/Shanghai)."""
    delta = datetime.fromisoformat(START).replace(tzinfo=ZoneInfo(timezone)).utcoffset()
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def write_cases(ruleset_dir: str | Path, out_csv: str | Path, n: int = 20_000, seed: int = 20251201) -> int:
    """Write `n` cases for the rule set in `ruleset_dir` to `out_csv`; return the count."""
    columns = generate_cases(read_reference(ruleset_dir), n, seed)
    names = ("id", "event", "area", "source", "reported_at")
    with Path(out_csv).open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(zip(*(columns[c].tolist() for c in names)))
    return n
