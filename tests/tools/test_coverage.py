"""`dispatch coverage`: the category x town map held to brute force, its totals to check's, its pictures."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import warnings
from collections import Counter
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.cli import EXIT_CANNOT_RUN, EXIT_OK, main
from dispatch.core.analysis import cell_coverage, volume_coverage
from dispatch.core.case import Case
from dispatch.core.coverage import STATUSES, CoverageMap, coverage_map, map_document, read_coverage_map
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.history import History, read_history
from dispatch.core.load import load_ruleset
from dispatch.core.model import RuleSet
from dispatch.core.reference import dispatch_case
from dispatch.tools.coverage.report import display_width, render_text
from dispatch.tools.coverage.scale import colour_of, percent_label, share_of
from tests.strategies import DAY0, cases_for, rulesets

ROOT = Path(__file__).parents[2]
MINI = Path(__file__).parents[1] / "data" / "mini"
DAXING = ROOT / "rules" / "daxing"
DAXING_CASES = DAXING / "cases-sample.csv"
DAY = date(2026, 12, 1)


# -- the oracle: every cell and case through the reference matcher, grouped the plain way ---------------


def _town(ruleset: RuleSet, area: str) -> str:
    """The area one level below the root above `area`; a root is its own."""
    path = [a.code for a in ruleset.areas.path(area)][::-1]  # root first
    return path[1] if len(path) > 1 else path[0]


def _category(ruleset: RuleSet, item: str) -> str:
    return [e.code for e in ruleset.events.path(item)][-1]


def _reference_counts(ruleset: RuleSet, cases: list[Case]) -> Counter:
    """(category, town, status) -> cases, by the reference matcher."""
    counts: Counter = Counter()
    for case in cases:
        key = (_category(ruleset, case.event), _town(ruleset, case.area), dispatch_case(ruleset, case).status.value)
        counts[key] += 1
    return counts


def _coverage_areas(ruleset: RuleSet) -> list[str]:
    """The basic grids, then the areas above them that an @local rule reaches where no local government is."""
    local = [r for r in ruleset.rules if r.department == "@local" and r.grid_type is None]
    above = [a.code for a in ruleset.areas
             if ruleset.grid_type_of(a.code) is None and ruleset.local_department(a.code) is None
             and any(r.area == "*" or ruleset.areas.covers(r.area, a.code) for r in local)]  # fmt: skip
    return [a.code for a in ruleset.areas if a.grid_type] + above


def _cell_cases(ruleset: RuleSet, day: date) -> list[Case]:
    moment = datetime.combine(day, datetime.min.time())
    grids = _coverage_areas(ruleset)
    return [Case("c", item, grid, source, moment)
            for item in ruleset.events.leaves() for grid in grids for source in ruleset.manifest.sources]  # fmt: skip


def _history(dispatcher: Dispatcher, cases: list[Case]) -> History:
    encoded = np.asarray([dispatcher.encode(c) for c in cases], dtype=np.int32).reshape(-1, 4)
    areas = np.asarray([dispatcher.ruleset.areas.pos(c.area) for c in cases], dtype=np.int32)
    items, cols, srcs, days = (np.ascontiguousarray(a) for a in encoded.T)
    return History(items, cols, srcs, days, areas, {"event": 0, "area": 0, "source": 0})


def _map_counts(cmap: CoverageMap, counts: np.ndarray) -> Counter:
    """(category, town, status) -> count of the map's category view, zeros left out."""
    view = cmap.by_category(counts)
    return Counter({
        (c.code, t.code, s): int(view[i, j, k])
        for i, c in enumerate(cmap.categories) for j, t in enumerate(cmap.towns) for k, s in enumerate(STATUSES)
        if view[i, j, k]
    })  # fmt: skip


def _assert_map_is_reference(ruleset: RuleSet, day: date, cases: list[Case]) -> CoverageMap:
    dispatcher = Dispatcher(ruleset)
    cmap = coverage_map(dispatcher, day, _history(dispatcher, cases))
    assert _map_counts(cmap, cmap.cells) == _reference_counts(ruleset, _cell_cases(ruleset, day))
    assert _map_counts(cmap, cmap.cases) == _reference_counts(ruleset, cases)
    # every town is a column; a root only when something lies in it above the towns
    towns = [c for c in ruleset.areas.order if ruleset.areas.depth(c) == 2]
    roots = {_town(ruleset, c.area) for c in cases} & set(ruleset.areas.roots())
    roots |= {_town(ruleset, code) for code in _coverage_areas(ruleset)} & set(ruleset.areas.roots())
    assert [t.code for t in cmap.towns] == towns + [r for r in ruleset.areas.roots() if r in roots]
    assert [c.code for c in cmap.categories] == list(ruleset.events.roots())
    return cmap


def test_mini_map_is_the_reference_by_cells_and_by_cases():
    ruleset = load_ruleset(MINI)
    moment = datetime(2026, 7, 1, 9)  # inside MUN-4's window: a source-specific seasonal rule
    cases = [Case("c", item, area, source, moment)
             for item in ruleset.events.leaves() for area in ruleset.areas.order
             for source in ruleset.manifest.sources]  # fmt: skip
    cmap = _assert_map_is_reference(ruleset, date(2026, 7, 1), cases)
    assert [t.short for t in cmap.towns] == ["005", "103", "110115"]  # district-level cases: a column of its own
    assert cmap.level == "town"


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_generated_map_is_the_reference(data):
    ruleset = data.draw(rulesets(max_rules=15))
    day = DAY0 + timedelta(days=data.draw(st.integers(-2, 40)))
    cases = data.draw(st.lists(cases_for(ruleset), max_size=30))
    _assert_map_is_reference(ruleset, day, cases)


def test_read_history_keeps_each_cases_own_area(tmp_path):
    dispatcher = Dispatcher(load_ruleset(MINI))
    path = tmp_path / "cases.csv"
    path.write_text("id,event,area,source,reported_at\n"
                    "a,06010001,110115,grid,2026-03-01T08:00:00+08:00\n"
                    "b,06010001,110115005001001,grid,2026-03-01T08:00:00+08:00\n", encoding="utf-8")  # fmt: skip
    history = read_history(path, dispatcher)
    assert [dispatcher.ruleset.areas.order[p] for p in history.areas] == ["110115", "110115005001001"]


# -- Daxing: the totals are check's, a change moves exactly its cell ---------------------------------------


@pytest.fixture(scope="module")
def daxing():
    cmap, diagnostics = read_coverage_map(DAXING, DAXING_CASES, DAY)
    assert cmap is not None, diagnostics
    return cmap


def test_daxing_totals_are_checks(daxing, daxing_dispatcher):
    dispatcher = daxing_dispatcher
    cells = cell_coverage(dispatcher, DAY)
    volume = volume_coverage(dispatcher, read_history(DAXING_CASES, dispatcher))
    assert dict(zip(STATUSES, daxing.cells.sum(axis=(0, 1)).tolist(), strict=True)) == cells.counts
    assert dict(zip(STATUSES, daxing.cases.sum(axis=(0, 1)).tolist(), strict=True)) == volume.counts
    assert daxing.by_category(daxing.cases).sum() == 20000
    # 22 towns, and the district itself: its @local rules cannot resolve there (rule.local_unresolved)
    assert (len(daxing.categories), len(daxing.towns)) == (29, 23)
    assert daxing.level == "town"


def _without_rules(root: Path, event_prefix: str, area_prefix: str) -> int:
    """Delete the rules of one category in one town (Daxing codes nest by prefix); how many went."""
    removed = 0
    for path in sorted((root / "rules").glob("*.csv")):
        header, *rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
        event, area = header.index("event"), header.index("area")
        kept = [r for r in rows if not (r[event].startswith(event_prefix) and r[area].startswith(area_prefix))]
        removed += len(rows) - len(kept)
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows([header, *kept])
    return removed


def test_removing_one_categorys_rules_in_one_town_moves_exactly_that_cell(daxing, tmp_path):
    changed = tmp_path / "daxing"
    shutil.copytree(DAXING, changed)
    # 13 生态环境类 in 110115106 礼贤镇: the town's own rules are what dispatch it there
    assert _without_rules(changed, "13", "110115106") > 0
    cmap, diagnostics = read_coverage_map(changed, DAXING_CASES, DAY)
    assert cmap is not None, diagnostics
    row = [c.code for c in cmap.categories].index("13")
    col = [t.code for t in cmap.towns].index("110115106")
    before, after = daxing.by_category(daxing.cells), cmap.by_category(cmap.cells)
    moved = np.argwhere((before != after).any(axis=2)).tolist()
    assert moved == [[row, col]]
    assert after[row, col, 0] < before[row, col, 0]
    assert after[row, col].sum() == before[row, col].sum()
    cases_before, cases_after = daxing.by_category(daxing.cases), cmap.by_category(cmap.cases)
    assert np.argwhere((cases_before != cases_after).any(axis=2)).tolist() in ([], [[row, col]])


# -- the text table ----------------------------------------------------------------------------------------


def test_percent_labels_never_round_a_gap_away():
    assert [percent_label(a, 1000) for a in (0, 1, 4, 500, 996, 999, 1000)] == ["0", "1", "1", "50", "99", "99", "100"]
    assert percent_label(9999, 10000, 1) == "99.9" and percent_label(0, 0) == ""


def test_text_table_lines_up_by_display_width(daxing):
    lines = render_text(daxing).splitlines()
    table = lines[lines.index(next(ln for ln in lines if ln.startswith("by cells"))) + 1 :][:31]
    assert table[0].startswith("category") and table[-1].startswith("all")
    assert len({display_width(ln) for ln in table}) == 1  # every row as wide as the header
    assert "91.7% auto; 2073660 auto, 2876 provisional, 184324 manual" in "\n".join(lines)
    assert "93.3% auto; 18661 auto, 16 provisional, 1323 manual" in "\n".join(lines)
    assert display_width("市a") == 3


def test_gaps_are_ranked_by_volume_then_cells(daxing):
    gaps = daxing.gaps(50)
    assert len(gaps) == 50
    keys = [(g.cases, g.cells) for g in gaps]
    assert keys == sorted(keys, reverse=True)
    assert all(g.status in ("manual", "provisional") and 0 < g.cases <= g.cases_total for g in gaps)
    item = [i.code for i in daxing.items].index(gaps[0].item.code)
    town = [t.code for t in daxing.towns].index(gaps[0].town.code)
    assert gaps[0].cases == daxing.cases[item, town, STATUSES.index(gaps[0].status)]


def test_without_history_gaps_rank_by_cells():
    dispatcher = Dispatcher(load_ruleset(MINI))
    cmap = coverage_map(dispatcher, date(2026, 3, 1))
    gaps = cmap.gaps(100)
    assert gaps and all(g.cases is None for g in gaps)
    assert [g.cells for g in gaps] == sorted((g.cells for g in gaps), reverse=True)
    assert sum(g.cells for g in gaps) == int(cmap.cells[:, :, 1:].sum())  # every non-auto cell, once
    assert "by cells (no case history given)" in render_text(cmap)


# -- the HTML page -----------------------------------------------------------------------------------------


class _Cells(HTMLParser):
    """The data-* attributes of every <td data-view> and the text of the page."""

    def __init__(self):
        super().__init__()
        self.cells: dict[tuple[str, str, str], dict[str, int]] = {}
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        if tag == "td" and "data-view" in a:
            self.cells[(a["data-view"], a["data-category"], a["data-town"])] = {
                s: int(a[f"data-{s}"]) for s in STATUSES
            }

    def handle_data(self, data):
        self.text.append(data)


def _html_of(cmap: CoverageMap, tmp_path: Path) -> tuple[str, _Cells]:
    from dispatch.tools.coverage.page import write_html

    path = tmp_path / "map.html"
    write_html(cmap, path)
    page = path.read_text(encoding="utf-8")
    parser = _Cells()
    parser.feed(page)
    parser.close()
    return page, parser


def test_html_carries_the_numbers_of_the_json(daxing, tmp_path):
    page, parsed = _html_of(daxing, tmp_path)
    doc = json.loads(json.dumps(map_document(daxing, 20)))
    cats = [c["code"] for c in doc["categories"]]
    towns = [t["code"] for t in doc["towns"]]
    for view in ("cells", "cases"):
        v = doc[view]
        want = {(view, c, t): {s: v["counts"][s][i][j] for s in STATUSES}
                for i, c in enumerate(cats) for j, t in enumerate(towns)}  # fmt: skip
        want.update({(view, c, "all"): {s: v["categories"][s][i] for s in STATUSES} for i, c in enumerate(cats)})
        want.update({(view, "all", t): {s: v["towns"][s][j] for s in STATUSES} for j, t in enumerate(towns)})
        want[(view, "all", "all")] = {s: v["total"][s] for s in STATUSES}
        assert {k: x for k, x in parsed.cells.items() if k[0] == view} == want
    assert doc["ruleset"]["version"] in page and DAY.isoformat() in page
    text = "".join(parsed.text)
    assert all(g["item"]["name"] in text for g in doc["gaps"]) and "兴丰街道" in text
    # self-contained: no script, no link, nothing fetched
    assert not {"script", "link", "img", "iframe"} & set(parsed.tags)
    assert "http://" not in page and "https://" not in page and "url(" not in page


def test_html_escapes_every_name(make_ruleset, tmp_path):
    root = make_ruleset()
    areas = (root / "areas.csv").read_text(encoding="utf-8").replace("青云店镇,", '<script>x()</script>&"镇,', 1)
    taxonomy = (root / "taxonomy.csv").read_text(encoding="utf-8").replace("燃气安全", "<b>燃气</b>")
    (root / "areas.csv").write_text(areas, encoding="utf-8")
    (root / "taxonomy.csv").write_text(taxonomy, encoding="utf-8")
    cmap, diagnostics = read_coverage_map(root, at=DAY)
    assert cmap is not None, diagnostics
    page, parsed = _html_of(cmap, tmp_path)
    assert "<script>" not in page and "<b>" not in page
    assert parsed.tags.count("b") == 0 and "script" not in parsed.tags
    text = "".join(parsed.text)
    assert '<script>x()</script>&"镇' in text and "<b>燃气</b>" in text


# -- the PNG -----------------------------------------------------------------------------------------------


def test_png_shows_a_0_and_a_100_percent_cell_in_their_colours(make_ruleset, tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    from dispatch.tools.coverage.heatmap import heatmap_figure, save_png, with_totals

    # 06 has a rule for everything: 100 %; 11 (urgent gas leaks) none: 0 % (provisional)
    header = (
        "id,event,area,grid_type,source,department,co_handlers,deadline,valid_from,valid_to,priority,basis,note"
    )
    root = make_ruleset(
        files={"rules/municipal.csv": f"{header}\nR-1,06,*,,,dx-cgw,,,,,,test,\n", "rules/safety.csv": None}
    )
    cmap, diagnostics = read_coverage_map(root, at=DAY)
    assert cmap is not None, diagnostics
    shares = cmap.by_category(cmap.cells)
    assert shares[0, :, 0].tolist() == shares[0].sum(axis=1).tolist() and shares[1, :, 0].sum() == 0
    fig = heatmap_figure(cmap)
    path = tmp_path / "map.png"
    save_png(fig, path)
    image = Image.open(path)
    assert image.format == "PNG" and 300 <= image.width <= 4000 and 200 <= image.height <= 3000
    rgb = image.convert("RGB")
    ax = fig.axes[0]

    def pixel(row: int, col: int) -> tuple[int, int, int]:
        x, y = ax.transData.transform((col - 0.35, row - 0.3))  # off centre: clear of the number
        return rgb.getpixel((int(x), int(image.height - y)))

    def near(got, colour: str) -> bool:
        want = tuple(int(colour[k : k + 2], 16) for k in (1, 3, 5))
        return max(abs(a - b) for a, b in zip(got, want, strict=True)) <= 16  # 256 colours, a LUT of 256

    full, empty = pixel(0, 0), pixel(1, 0)
    assert full != empty
    assert near(full, colour_of(1.0)) and near(empty, colour_of(0.0))
    # every cell, totals too (75 % here), in the colour the HTML page gives it
    for r, row in enumerate(with_totals(shares)):
        for c, counts in enumerate(row):
            assert near(pixel(r, c), colour_of(share_of(int(counts[0]), int(counts.sum())))), (r, c)


def test_axis_labels_are_codes_without_a_cjk_font(daxing):
    from dispatch.tools.coverage.heatmap import axis_labels

    assert axis_labels(daxing.towns, False)[:2] == ["001", "002"]
    assert axis_labels(daxing.towns, True)[0] == "001 兴丰街道"


# -- the command -------------------------------------------------------------------------------------------


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["coverage", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_table_json_png_and_html(capsys, tmp_path):
    png, html = tmp_path / "c.png", tmp_path / "c.html"
    code, out, err = run(capsys, str(DAXING), "--cases", str(DAXING_CASES), "--at", "2026-12-01",
                         "--png", str(png), "--html", str(html), "--top", "5")  # fmt: skip
    assert code == EXIT_OK, err
    assert "by case volume" in out and out.count("manual ") + out.count("provisional ") == 5
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and html.read_text(encoding="utf-8").startswith(
        "<!DOCTYPE html>"
    )
    code, out, _ = run(capsys, str(MINI), "--format", "json", "--at", "2026-03-01", "--top", "1")
    doc = json.loads(out)
    assert code == EXIT_OK and doc["cases"] is None and len(doc["gaps"]) == 1
    assert sorted(doc) == ["cases", "cases_file", "categories", "cells", "day", "gaps", "level", "ruleset", "statuses",
                           "towns", "unknown_cases"]  # fmt: skip


def test_cli_cannot_run_without_a_rule_set(capsys, tmp_path):
    code, _, err = run(capsys, str(tmp_path / "nowhere"))
    assert code == EXIT_CANNOT_RUN and "not a directory" in err
    code, _, err = run(capsys, str(MINI), "--cases", str(tmp_path / "none.csv"))
    assert code == EXIT_CANNOT_RUN and "no such file" in err


def test_cli_prints_an_invalid_sets_diagnostics_as_check_does(capsys, make_ruleset):
    root = make_ruleset("kitchen_sink")
    code, out, err = run(capsys, str(root))
    assert code == EXIT_CANNOT_RUN and out == ""
    assert f"{root}/areas.csv:12: area.unknown_parent: " in err
    assert f"{root}/rules/municipal.csv:6:10: value.date: valid_to '2026-13-01'" in err


def test_cli_names_the_line_of_a_malformed_history(capsys, tmp_path):
    bad = tmp_path / "cases.csv"
    bad.write_text("id,event,area,source,reported_at\nc1,06010001,110115005,grid,yesterday\n", encoding="utf-8")
    code, out, err = run(capsys, str(MINI), "--cases", str(bad))
    assert code == EXIT_CANNOT_RUN and out == ""
    assert f"{bad}:2:5: value.datetime: " in err


def test_cli_without_matplotlib_draws_html_but_refuses_png(tmp_path):
    script = (
        "import sys; sys.modules['matplotlib'] = None\n"  # an import of it now fails, as when not installed
        "from dispatch.cli import main\n"
        "sys.exit(main(['coverage', sys.argv[1], '--at', '2026-03-01'] + sys.argv[2:]))\n"
    )

    def run_bare(*extra: str) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-c", script, str(MINI), *extra]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=120)

    ok = run_bare("--html", str(tmp_path / "c.html"))
    assert ok.returncode == EXIT_OK, ok.stderr
    assert (tmp_path / "c.html").is_file()
    refused = run_bare("--png", str(tmp_path / "c.png"))
    assert refused.returncode == EXIT_CANNOT_RUN
    assert "pip install 'dispatch[plot]'" in refused.stderr and refused.stdout == ""
    assert not (tmp_path / "c.png").exists()


def test_png_with_names_draws_without_glyph_warnings(daxing, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from dispatch.tools.coverage import heatmap

    # a "CJK" font that has no Chinese glyph: every name would warn once per glyph
    monkeypatch.setattr(heatmap, "cjk_font", lambda: "DejaVu Sans")
    fig = heatmap.heatmap_figure(daxing)
    assert "001 兴丰街道" in [t.get_text() for t in fig.axes[0].get_xticklabels()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        heatmap.save_png(fig, tmp_path / "names.png")
    assert (tmp_path / "names.png").stat().st_size > 10_000


def test_cases_with_unknown_codes_are_counted_apart(capsys, tmp_path):
    history = tmp_path / "cases.csv"
    history.write_text(
        "id,event,area,source,reported_at\n"
        "c1,06010001,110115005001,grid,2026-03-01T08:00:00+08:00\n"
        "c2,99999999,110115005001,grid,2026-03-01T08:00:00+08:00\n"
        "c3,06010001,nowhere,grid,2026-03-01T08:00:00+08:00\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, str(MINI), "--cases", str(history), "--at", "2026-03-01", "--top", "0")
    assert code == EXIT_OK
    assert "(100.0% auto; 1 auto, 0 provisional, 0 manual); 2 cases with unknown codes skipped" in out
    assert "worst gaps" not in out  # --top 0: no list
    doc = json.loads(run(capsys, str(MINI), "--cases", str(history), "--format", "json")[1])
    assert doc["unknown_cases"] == {"event": 1, "area": 1, "source": 0} and doc["cases"]["total"]["auto"] == 1


def test_a_history_of_only_unknown_codes_says_so(capsys, tmp_path):
    history = tmp_path / "cases.csv"
    history.write_text("id,event,area,source,reported_at\nc2,99999999,110115005001,grid,2026-03-01\n", encoding="utf-8")
    code, out, _ = run(capsys, str(MINI), "--cases", str(history), "--at", "2026-03-01", "--top", "0")
    assert code == EXIT_OK
    assert "(no case the rule set knows; 0 auto, 0 provisional, 0 manual); 1 cases with unknown codes skipped" in out
