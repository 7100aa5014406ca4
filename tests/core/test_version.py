"""The rule-set version: a hash of what can change a decision, blind to how the files spell it."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.core.load import load_ruleset, parse_ruleset
from dispatch.core.version import ruleset_version
from dispatch.core.worktime import parse_deadline

MINI = Path(__file__).parents[1] / "data" / "mini"
# The same files give the same version on every machine: pinned, so that a platform- or
# run-dependent hash (set order, float repr, path in the content) cannot slip in unnoticed.
MINI_VERSION = "b60664f945cf2396"
REFERENCE = ("taxonomy.csv", "areas.csv", "departments.csv")
RULE_FILES = ("rules/municipal.csv", "rules/safety.csv")

PROPS = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def version_of(root: Path) -> str:
    """The version as validate computes it; also defined for rule sets with errors."""
    parsed, _ = parse_ruleset(root)
    assert parsed is not None
    return ruleset_version(parsed)


def test_mini_version_is_pinned():
    rs = load_ruleset(MINI)
    assert re.fullmatch(r"[0-9a-f]{16}", rs.version)
    assert rs.version == MINI_VERSION
    assert version_of(MINI) == MINI_VERSION


def test_version_ignores_where_the_rule_set_lives(tmp_path):
    shutil.copytree(MINI, tmp_path / "elsewhere" / "other-name")
    assert load_ruleset(tmp_path / "elsewhere" / "other-name").version == MINI_VERSION


# -- independence of the spelling ---------------------------------------------------------------


@st.composite
def spellings(draw):
    """A random respelling of mini: row order, column order, rule files, line ends, BOM, quoting."""

    def style():
        return {"bom": draw(st.booleans()), "crlf": draw(st.booleans()), "quote_all": draw(st.booleans())}

    widths = {"taxonomy.csv": 8, "areas.csv": 6, "departments.csv": 4}
    plan = {"tables": {}, "rules": None, "manifest": style()}
    for rel in REFERENCE:
        plan["tables"][rel] = {
            "row_seed": draw(st.randoms(use_true_random=False)),
            "cols": draw(st.permutations(range(widths[rel]))),
            "style": style(),
        }
    files = draw(st.integers(1, 4))
    plan["rules"] = {
        "files": files,
        "assign": draw(st.lists(st.integers(0, files - 1), min_size=6, max_size=6)),
        "row_seed": draw(st.randoms(use_true_random=False)),
        "styles": [style() for _ in range(files)],
        "orders": [draw(st.permutations(range(13))) for _ in range(files)],
        "subdir": draw(st.booleans()),
    }
    return plan


def respell(dst: Path, plan, tables) -> None:
    shutil.copytree(MINI, dst)
    for rel, p in plan["tables"].items():
        header, rows = tables.read(MINI / rel)
        rows = list(rows)
        p["row_seed"].shuffle(rows)
        order = p["cols"]
        tables.write(dst / rel, [header[i] for i in order], [[r[i] for i in order] for r in rows], **p["style"])
    header, _ = tables.read(MINI / RULE_FILES[0])
    rules = [row for rel in RULE_FILES for row in tables.read(MINI / rel)[1]]
    plan["rules"]["row_seed"].shuffle(rules)
    for rel in RULE_FILES:
        (dst / rel).unlink()
    r = plan["rules"]
    folder = "rules/by-system" if r["subdir"] else "rules"
    for k in range(r["files"]):
        mine = [row for row, a in zip(rules, r["assign"]) if a == k]
        order = r["orders"][k]
        tables.write(dst / folder / f"part-{k}.csv", [header[i] for i in order], [[row[i] for i in order] for row in mine],
                     **r["styles"][k])  # fmt: skip
    manifest = (MINI / "ruleset.toml").read_text(encoding="utf-8")
    manifest = manifest.replace('rules = ["rules/*.csv"]', f'rules = ["{folder}/part-*.csv", "{folder}/*.csv"]')
    if plan["manifest"]["crlf"]:
        manifest = manifest.replace("\n", "\r\n")
    (dst / "ruleset.toml").write_bytes((b"\xef\xbb\xbf" if plan["manifest"]["bom"] else b"") + manifest.encode())


@PROPS
@given(plan=spellings())
def test_version_is_independent_of_spelling(tables, plan):
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "respelled"
        respell(dst, plan, tables)
        rs = load_ruleset(dst)
        assert sorted(r.id for r in rs.rules) == ["MUN-1", "MUN-2", "MUN-3", "MUN-4", "SAF-1", "SAF-2"]
        assert rs.version == MINI_VERSION


def test_each_kind_of_respelling_alone(tmp_path, tables):
    """The property above, one transformation at a time, so that a failure names its cause."""
    # row order
    a = tmp_path / "rows"
    shutil.copytree(MINI, a)
    for rel in (*REFERENCE, *RULE_FILES):
        header, rows = tables.read(a / rel)
        tables.write(a / rel, header, rows[::-1])
    # CRLF, BOM and quoted fields
    b = tmp_path / "crlf"
    shutil.copytree(MINI, b)
    for rel in (*REFERENCE, *RULE_FILES):
        header, rows = tables.read(b / rel)
        tables.write(b / rel, header, rows, bom=True, crlf=True, quote_all=True)
    # column order
    c = tmp_path / "columns"
    shutil.copytree(MINI, c)
    for rel in (*REFERENCE, *RULE_FILES):
        header, rows = tables.read(c / rel)
        tables.write(c / rel, header[::-1], [r[::-1] for r in rows])
    # one rule per file, and the rule files renamed
    d = tmp_path / "split"
    shutil.copytree(MINI, d)
    header, _ = tables.read(MINI / RULE_FILES[0])
    for rel in RULE_FILES:
        for row in tables.read(d / rel)[1]:
            tables.write(d / "rules" / f"{row[0].lower()}.csv", header, [row])
        (d / rel).unlink()
    for root in (a, b, c, d):
        assert load_ruleset(root).version == MINI_VERSION, root.name


def test_crlf_inside_a_quoted_field_does_not_change_the_version(tmp_path, tables):
    versions = []
    for crlf in (False, True):
        root = tmp_path / f"crlf-{crlf}"
        shutil.copytree(MINI, root)
        header, rows = tables.read(root / "rules/safety.csv")
        k = header.index("basis")
        rows[0][k] = "《北京市燃气管理条例》第三条\n燃气企业负责"
        tables.write(root / "rules/safety.csv", header, rows)
        if crlf:  # what a CRLF checkout does to the whole file
            data = (root / "rules/safety.csv").read_bytes()
            (root / "rules/safety.csv").write_bytes(data.replace(b"\n", b"\r\n"))
        versions.append(load_ruleset(root).version)
    assert versions[0] == versions[1]


# -- what must change the version ---------------------------------------------------------------


def _edit(root: Path, tables, rel: str, key: str, column: str, value: str) -> None:
    header, rows = tables.read(root / rel)
    (row,) = [r for r in rows if r[0] == key]
    row[header.index(column)] = value
    tables.write(root / rel, header, rows)


RULE_EDITS = {
    # column: values any rule may take (the current value of the rule is filtered out)
    "department": ["dx-cgw", "dx-cgzf", "dx-yjj", "dx-rq", "gov-110115005", "gov-110115103", "@local"],
    "priority": ["-1", "0", "1", "5", "10"],
    "valid_from": ["", "2026-01-01", "2026-06-02"],
    "valid_to": ["", "2026-09-15", "2027-01-01"],
    "event": ["*", "06", "06010", "06042001", "11"],
    "area": ["*", "110115", "110115005", "110115103401"],
    "grid_type": ["", "village", "park"],
    "source": ["", "grid", "safety"],
    "co_handlers": ["", "dx-yjj", "dx-cgw;dx-yjj"],
    "deadline": ["", "1h", "48h"],
    "basis": ["法规", "三定方案"],
}
RULE_IDS = {"MUN-1": "rules/municipal.csv", "MUN-2": "rules/municipal.csv", "MUN-3": "rules/municipal.csv",
            "MUN-4": "rules/municipal.csv", "SAF-1": "rules/safety.csv", "SAF-2": "rules/safety.csv"}  # fmt: skip


def _normal(column: str, value: str) -> str:
    """Spellings that mean the same: an empty priority is 0, `*` source is any."""
    if column == "priority":
        return str(int(value or 0))
    if column == "source" and value == "*":
        return ""
    if column == "deadline" and value:
        return str(parse_deadline(value))
    return value


@PROPS
@given(data=st.data())
def test_any_decision_relevant_rule_edit_changes_the_version(tables, data):
    rule_id = data.draw(st.sampled_from(sorted(RULE_IDS)), label="rule")
    column = data.draw(st.sampled_from(sorted(RULE_EDITS)), label="column")
    rel = RULE_IDS[rule_id]
    header, rows = tables.read(MINI / rel)
    (row,) = [r for r in rows if r[0] == rule_id]
    current = _normal(column, row[header.index(column)])
    choices = [v for v in RULE_EDITS[column] if _normal(column, v) != current]
    value = data.draw(st.sampled_from(choices), label="value")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "edited"
        shutil.copytree(MINI, root)
        _edit(root, tables, rel, rule_id, column, value)
        assert version_of(root) != MINI_VERSION


@pytest.mark.parametrize(
    "rel,key,column,value",
    [
        ("rules/municipal.csv", "MUN-1", "department", "dx-cgzf"),
        ("rules/safety.csv", "SAF-2", "priority", "11"),
        ("rules/municipal.csv", "MUN-4", "valid_to", "2026-09-17"),
        ("rules/municipal.csv", "MUN-4", "valid_from", "2026-05-31"),
        ("areas.csv", "110115005201", "parent", "11011510301"),  # a village moves to another town
        ("areas.csv", "110115103401", "grid_type", "village"),
        ("taxonomy.csv", "06010002", "deadline", "6h"),
        ("taxonomy.csv", "06010002", "urgent", "true"),
        ("taxonomy.csv", "06042001", "parent", "06010"),
        ("departments.csv", "gov-110115103", "governs", "110115005"),
        ("departments.csv", "dx-cgw", "name", "区城市管理委"),
    ],
)
def test_named_edits_change_the_version(tmp_path, tables, rel, key, column, value):
    root = tmp_path / "edited"
    shutil.copytree(MINI, root)
    _edit(root, tables, rel, key, column, value)
    assert version_of(root) != MINI_VERSION


@PROPS
@given(data=st.data())
def test_an_area_moving_to_another_parent_changes_the_version(tables, data):
    header, rows = tables.read(MINI / "areas.csv")
    parent_of = {r[0]: r[header.index("parent")] for r in rows}

    def ancestors_or_self(code):
        while code:
            yield code
            code = parent_of[code]

    code = data.draw(st.sampled_from(sorted(c for c, p in parent_of.items() if p)), label="area")
    new_parent = data.draw(
        st.sampled_from(sorted(c for c in parent_of if c != parent_of[code] and code not in ancestors_or_self(c))),
        label="new parent",
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "moved"
        shutil.copytree(MINI, root)
        _edit(root, tables, "areas.csv", code, "parent", new_parent)
        assert version_of(root) != MINI_VERSION


@pytest.mark.parametrize(
    "rel,key,column,value",
    [
        ("rules/municipal.csv", "MUN-1", "note", "a comment changes nothing"),
        ("rules/safety.csv", "SAF-2", "priority", "10"),  # the same value written again
        ("rules/municipal.csv", "MUN-3", "deadline", "2.0h"),  # 2 and 2.0 are one number
        ("rules/municipal.csv", "MUN-1", "priority", "0"),  # the default, written out
        ("rules/municipal.csv", "MUN-4", "source", " 12345 "),  # trimmed
    ],
)
def test_edits_that_mean_the_same_keep_the_version(tmp_path, tables, rel, key, column, value):
    root = tmp_path / "same"
    shutil.copytree(MINI, root)
    _edit(root, tables, rel, key, column, value)
    assert version_of(root) == MINI_VERSION


def test_manifest_layout_and_title_keep_the_version_but_sources_do_not(tmp_path):
    same = tmp_path / "same"
    shutil.copytree(MINI, same)
    (same / "rules").rename(same / "policies")
    text = (
        (same / "ruleset.toml")
        .read_text(encoding="utf-8")
        .replace('rules = ["rules/*.csv"]', 'rules = ["policies/*.csv"]')
    )
    (same / "ruleset.toml").write_text(
        text.replace('name = "mini"', 'name = "mini"\ntitle = "小规则集"'), encoding="utf-8"
    )
    assert load_ruleset(same).version == MINI_VERSION
    other = tmp_path / "other"
    shutil.copytree(MINI, other)
    text = (other / "ruleset.toml").read_text(encoding="utf-8").replace('"safety"]', '"safety", "supervisor"]')
    (other / "ruleset.toml").write_text(text, encoding="utf-8")
    assert load_ruleset(other).version != MINI_VERSION
