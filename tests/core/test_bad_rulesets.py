"""The folder of bad rule sets: each case must give exactly its expected diagnostics, all in one run.

A case is `tests/data/bad/<name>/`: the files that differ from `tests/data/mini/` (a file
`<name>.delete` removes `<name>`) and `expected.txt`, one `path:line:col code` per line, in
the order `dispatch` reports them (sorted by path, line, column, code). The full list must
match: no diagnostic missing, none extra, each at its line and column.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dispatch.core.errors import RuleSetError, Severity
from dispatch.core.load import load_ruleset, read_ruleset

BAD = Path(__file__).parents[1] / "data" / "bad"

CASES = sorted(p.name for p in BAD.iterdir() if p.is_dir())
WARNING_CODES = {
    "rule.duplicate",
    "rule.never_matches",
    "rule.local_unresolved",
    "code.width",
    "calendar.ends_early",
    "csv.old_column",
    "gridmap.sliver",
}
LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+) (?P<code>[a-z_]+\.[a-z_]+)$")


def expected_of(case: str) -> list[tuple[str, int, int, str]]:
    out = []
    for raw in (BAD / case / "expected.txt").read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        m = LINE.match(raw.strip())
        assert m, f"{case}/expected.txt: bad line {raw!r}"
        out.append((m["path"], int(m["line"]), int(m["col"]), m["code"]))
    return out


def actual(root: Path, diagnostics) -> list[tuple[str, int, int, str]]:
    prefix = f"{root}/"
    out = []
    for d in diagnostics:
        assert d.place.path.startswith(prefix), f"diagnostic outside the rule set: {d}"
        out.append((d.place.path[len(prefix) :], d.place.line, d.place.col, d.code))
    return out


def test_there_are_cases():
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES)
def test_expected_file_is_sorted(case):
    expected = expected_of(case)
    assert expected, f"{case}: expected.txt lists no diagnostic"
    assert expected == sorted(expected), f"{case}: expected.txt is not in report order"


@pytest.mark.parametrize("case", CASES)
def test_bad_ruleset_gives_exactly_its_diagnostics(case, make_ruleset):
    root = make_ruleset(case, name=case)
    ruleset, diagnostics = read_ruleset(root)
    got = actual(root, diagnostics)
    assert got == expected_of(case), "\n".join(str(d) for d in diagnostics)
    # severities: warnings are exactly the warning codes; a set with an error does not load
    for d in diagnostics:
        assert (d.severity is Severity.WARNING) == (d.code in WARNING_CODES), str(d)
    has_error = any(d.severity is Severity.ERROR for d in diagnostics)
    assert (ruleset is None) == has_error
    # every diagnostic says something (a message, not only a code)
    assert all(d.message.strip() for d in diagnostics)


@pytest.mark.parametrize("case", [c for c in CASES if any(e[3] not in WARNING_CODES for e in expected_of(c))])
def test_load_ruleset_raises_with_every_error(case, make_ruleset):
    root = make_ruleset(case, name=case)
    with pytest.raises(RuleSetError) as info:
        load_ruleset(root)
    errors = [e for e in expected_of(case) if e[3] not in WARNING_CODES]
    got = [e for e in actual(root, info.value.diagnostics) if e[3] not in WARNING_CODES]
    assert got == errors
    assert f"{len(errors)} error(s)" in str(info.value)


def _emittable_codes() -> set[str]:
    """Every diagnostic code the loader and validator can emit, read from their source."""
    src = Path(__file__).parents[2] / "dispatch" / "core"
    codes: set[str] = set()
    for name in ("csvfile.py", "load.py", "validate.py", "hints.py", "locality.py", "gridmap.py"):
        text = (src / name).read_text(encoding="utf-8")
        # codes are string literals of one of the families (`"rule.unknown_area"`); the tree
        # checks build theirs as f"{kind}.cycle", for the taxonomy and for the areas
        codes.update(
            re.findall(
                r'"((?:file|csv|value|manifest|calendar|taxonomy|area|department|rule|code|gridmap)\.[a-z_]+)"', text
            )
        )
        for suffix in re.findall(r'f"\{kind\}\.([a-z_]+)"', text):
            codes.update(f"{kind}.{suffix}" for kind in ("taxonomy", "area"))
    return codes


def test_every_emittable_code_has_a_bad_case():
    codes = _emittable_codes()
    assert len(codes) >= 40, sorted(codes)  # the scan itself works
    covered = {e[3] for case in CASES for e in expected_of(case)}
    assert codes - covered == set(), "codes without a bad rule set"
    assert covered - codes == set(), "expected.txt names a code the library never emits"


def test_kitchen_sink_reports_many_kinds_across_files_in_one_run(make_ruleset):
    root = make_ruleset("kitchen_sink")
    _, diagnostics = read_ruleset(root)
    assert len({d.code for d in diagnostics}) >= 15
    assert len({d.place.path for d in diagnostics}) >= 6
    assert [d.sort_key() for d in diagnostics] == sorted(d.sort_key() for d in diagnostics)


def test_gbk_case_names_the_file_and_the_encoding(make_ruleset):
    root = make_ruleset("file_encoding_gbk")
    _, diagnostics = read_ruleset(root)
    (d,) = diagnostics
    assert d.place.path == f"{root}/rules/safety.csv"
    assert "UTF-8" in d.message and "GBK" in d.message


# -- rule sets that are wrong in ways a data folder cannot hold ------------------------------


def test_manifest_that_is_a_directory_is_unreadable(make_ruleset):
    root = make_ruleset(files={"ruleset.toml": None})
    (root / "ruleset.toml").mkdir()
    ruleset, diagnostics = read_ruleset(root)
    assert ruleset is None
    assert [(d.code, d.place.path) for d in diagnostics] == [("file.unreadable", f"{root}/ruleset.toml")]


def test_table_that_is_a_directory_is_unreadable(make_ruleset):
    root = make_ruleset()
    text = (root / "ruleset.toml").read_text(encoding="utf-8").replace('areas = "areas.csv"', 'areas = "rules"')
    (root / "ruleset.toml").write_text(text, encoding="utf-8")
    ruleset, diagnostics = read_ruleset(root)
    assert ruleset is None
    assert ("file.unreadable", f"{root}/rules") in [(d.code, d.place.path) for d in diagnostics]


def test_root_that_does_not_exist_gives_manifest_missing(tmp_path):
    ruleset, diagnostics = read_ruleset(tmp_path / "nowhere")
    assert ruleset is None
    assert [d.code for d in diagnostics] == ["manifest.missing"]


def _manifest_with(root: Path, old: str, new: str) -> None:
    path = root / "ruleset.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.parametrize("zone", ["Asia", "America", "Etc", "x" * 300], ids=["Asia", "America", "Etc", "long"])
def test_timezone_that_is_no_zone_file_is_a_bad_value(make_ruleset, zone):
    root = make_ruleset()
    _manifest_with(root, "Asia/Shanghai", zone)
    ruleset, diagnostics = read_ruleset(root)
    assert ruleset is None
    assert [(d.code, d.place.path) for d in diagnostics] == [("manifest.bad_value", f"{root}/ruleset.toml")]


def test_manifest_with_a_huge_integer_gives_a_diagnostic(make_ruleset):
    root = make_ruleset()
    _manifest_with(root, 'name = "mini"', 'name = "mini"\nrevision = ' + "9" * 5000)
    ruleset, diagnostics = read_ruleset(root)
    assert ruleset is None
    assert [d.code for d in diagnostics] and all(d.code.startswith("manifest.") for d in diagnostics)


def test_manifest_with_deep_nesting_gives_a_diagnostic(make_ruleset):
    root = make_ruleset()
    _manifest_with(root, 'name = "mini"', 'name = "mini"\nx = ' + "[" * 5000 + "]" * 5000)
    ruleset, diagnostics = read_ruleset(root)
    assert ruleset is None
    assert [d.code for d in diagnostics] and all(d.code.startswith("manifest.") for d in diagnostics)


def test_file_name_with_nul_gives_a_diagnostic(make_ruleset):
    root = make_ruleset()
    _manifest_with(root, 'areas = "areas.csv"', 'areas = "areas\\u0000.csv"')
    ruleset, diagnostics = read_ruleset(root)
    assert ruleset is None
    assert diagnostics and all(d.place.path.startswith(str(root)) for d in diagnostics)


def test_absolute_rules_glob_gives_a_diagnostic(make_ruleset, tmp_path):
    root = make_ruleset()
    _manifest_with(root, 'rules = ["rules/*.csv"]', f'rules = ["{root}/rules/*.csv"]')
    ruleset, diagnostics = read_ruleset(root)
    assert ruleset is None
    assert [d.code for d in diagnostics if d.code.startswith("manifest.")]
