"""Messages that teach: each mistake a new maintainer makes gets its place, its code and its way out.

The rule set is `dispatch init`'s minimal example (English names: roads, env, parks; codes
with leading zeros), edited one mistake at a time. The exact wording matters less than the
place, the code and the hint, so the asserts look for those.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from dispatch.core.case import Case
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.errors import CaseError, Severity
from dispatch.core.load import read_ruleset
from dispatch.core.locality import unresolved_areas
from dispatch.tools.check.check import check_ruleset
from dispatch.tools.init.init import init_ruleset

DAY = date(2026, 3, 2)  # outside EN-003's summer window


@pytest.fixture
def city(tmp_path) -> Path:
    root = tmp_path / "city"
    init_ruleset(root, "minimal")
    return root


def edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def only(diagnostics, code: str):
    found = [d for d in diagnostics if d.code == code]
    assert len(found) == 1, "\n".join(map(str, diagnostics))
    return found[0]


def place(root: Path, d) -> tuple[str, int, int]:
    return (Path(d.place.path).relative_to(root).as_posix(), d.place.line, d.place.col)


# -- did you mean -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "code", "column", "meant"),
    [
        (",roads,,,,,,Roads Act s. 4", ",raods,,,,,,Roads Act s. 4", "rule.unknown_department", 6, "roads"),  # swap
        (",roads,,,,,,Roads Act s. 4", ",Roads,,,,,,Roads Act s. 4", "rule.unknown_department", 6, "roads"),  # case
        (",roads,fire;@local,", ",roads,fire;@locl,", "rule.unknown_co_handler", 7, "@local"),
        ("ST-004,01002001,0102,", "ST-004,01002001,0120,", "rule.unknown_area", 3, "0102"),  # a typo in a code
    ],
)
def test_unknown_names_get_a_did_you_mean(city, old, new, code, column, meant):
    edit(city, "rules/streets.csv", old, new)
    ruleset, diagnostics = read_ruleset(city)
    assert ruleset is None
    d = only(diagnostics, code)
    assert place(city, d)[2] == column
    assert f"did you mean {meant!r}?" in d.message


def test_local_misspelt_as_a_department_suggests_local(city):
    edit(city, "rules/environment.csv", "EN-001,02,*,,,@local,", "EN-001,02,*,,,@locl,")
    d = only(read_ruleset(city)[1], "rule.unknown_department")
    assert "did you mean '@local'?" in d.message


def test_co_handlers_separated_by_commas_say_to_use_semicolons(city):
    edit(city, "rules/streets.csv", ",roads,fire;@local,", ',roads,"fire,parks",')
    d = only(read_ruleset(city)[1], "rule.unknown_co_handler")
    assert "'fire,parks'" in d.message and "separated by ';'" in d.message and "'fire;parks'" in d.message


def test_an_unrelated_name_gets_no_guess(city):
    edit(city, "rules/streets.csv", ",roads,,,,,,Roads Act s. 4", ",sewers,,,,,,Roads Act s. 4")
    d = only(read_ruleset(city)[1], "rule.unknown_department")
    assert "did you mean" not in d.message


# -- codes a spreadsheet damaged ------------------------------------------------------------------


def test_a_rule_code_without_its_leading_zeros_gets_the_code_and_the_cause(city):
    edit(city, "rules/streets.csv", "ST-002,01001001,", "ST-002,1001001,")
    d = only(read_ruleset(city)[1], "rule.unknown_event")
    assert place(city, d) == ("rules/streets.csv", 3, 2)
    assert "did you mean '01001001'?" in d.message and "Text" in d.message


def _lose_zeros(root: Path, name: str) -> None:
    """What a spreadsheet does to a code column it takes for numbers: '01001' -> '1001', in every row."""
    path = root / name
    lines = path.read_text(encoding="utf-8").splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        fields = line.split(",")
        for i in (0, 2) if name != "rules/streets.csv" else (1, 2):
            if fields[i].isdigit():
                fields[i] = fields[i].lstrip("0")
        out.append(",".join(fields))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def test_a_taxonomy_and_rules_that_both_lost_their_zeros_warn(city):
    """Every reference still resolves, so nothing else would tell: the single-digit roots above
    zero-padded children do. A warning, an error with --strict."""
    for name in ("taxonomy.csv", "areas.csv"):
        _lose_zeros(city, name)
    text = (city / "departments.csv").read_text(encoding="utf-8")
    (city / "departments.csv").write_text(text.replace(",01", ",1"), encoding="utf-8")  # governs
    for name in ("rules/streets.csv", "rules/environment.csv", "rules/safety.csv"):
        text = (city / name).read_text(encoding="utf-8")
        (city / name).write_text(text.replace(",0", ","), encoding="utf-8")
    (city / "golden.csv").unlink()
    report = check_ruleset(city)
    assert not report.errors, "\n".join(map(str, report.diagnostics))
    widths = [d for d in report.warnings if d.code == "code.width"]
    assert [place(city, d)[:2] for d in widths] == [("areas.csv", 2), ("taxonomy.csv", 2)]
    assert all("'01'" in d.message and "Text" in d.message for d in widths)
    assert report.passed() and not report.passed(strict=True)


def test_codes_of_one_level_in_two_widths_warn_at_the_first_short_one(city):
    edit(city, "taxonomy.csv", "02,Environment,", "2,Environment,")
    edit(city, "taxonomy.csv", "02001,Litter,02,", "2001,Litter,2,")
    edit(city, "taxonomy.csv", ",02001,", ",2001,")
    _, diagnostics = read_ruleset(city)
    d = only(diagnostics, "code.width")
    assert d.severity is Severity.WARNING
    assert place(city, d)[:2] == ("taxonomy.csv", 8)
    assert "level 1" in d.message and "'2' for '02'" in d.message


def test_a_case_without_its_leading_zeros_is_told_the_code(city):
    ruleset, _ = read_ruleset(city)
    dispatcher = Dispatcher(ruleset)
    with pytest.raises(CaseError, match="did you mean '01001001'"):
        dispatcher.dispatch(Case("c", "1001001", "010101", "patrol", datetime(2026, 3, 2, 9)))


# -- no follow-on errors --------------------------------------------------------------------------


def test_a_reference_to_an_invalid_row_is_reported_once_at_that_row(city):
    edit(city, "taxonomy.csv", "02001001,Overflowing litter bin,02001,8h,,", "02001001,Overflowing litter bin,02001,8h,sometimes,")
    _, diagnostics = read_ruleset(city)
    assert [d.code for d in diagnostics] == ["value.boolean"]  # not also "unknown event '02001001'" at EN-003
    (d,) = diagnostics
    assert place(city, d) == ("taxonomy.csv", 10, 5)
    assert "'02001001' is defined on this row" in d.message and "rules/environment.csv:4:2" in d.message
    # the accepted spellings, not only "true or false"
    assert all(word in d.message for word in ("true", "false", "yes", "no", "1", "0"))


def test_a_table_refused_whole_holds_back_the_references_into_it(city):
    text = (city / "departments.csv").read_text(encoding="utf-8").replace("Riverton City Hall", "Hôtel de Ville")
    (city / "departments.csv").write_bytes(text.encode("latin-1"))
    _, diagnostics = read_ruleset(city)
    assert [d.code for d in diagnostics] == ["file.encoding"]  # not one "unknown department"
    assert "references to departments" in diagnostics[0].message
    assert "8 references" in diagnostics[0].message  # roads x3, fire x2, south, env, parks (@local is no reference)


@pytest.mark.parametrize(("sep", "name"), [(";", "semicolons"), ("\t", "tabs")])
def test_a_file_separated_otherwise_is_named(city, sep, name):
    path = city / "rules" / "safety.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",", sep), encoding="utf-8")
    d = only(read_ruleset(city)[1], "csv.separator")
    assert place(city, d) == ("rules/safety.csv", 1, 0)
    assert name in d.message


# -- conflicts ------------------------------------------------------------------------------------


def test_a_conflict_names_its_cells_and_the_two_ways_out(city):
    edit(city, "rules/streets.csv", "ST-004,01002001,0102,,,south,", "ST-004,01002001,0102,,,south,")
    path = city / "rules" / "streets.csv"
    path.write_text(
        path.read_text(encoding="utf-8") + "ST-005,01002001,0102,,,roads,,,,,,Lighting map,\n", encoding="utf-8"
    )
    d = only(read_ruleset(city)[1], "rule.conflict")
    assert place(city, d)[:2] == ("rules/streets.csv", 6)
    for part in ("'ST-004'", "'01002001' (Street light out)", "'0102' (South District)", "every source"):
        assert part in d.message
    assert "priority" in d.message and "narrow" in d.message
    assert "(0, " not in d.message  # no precedence tuple


# -- @local where no local government is -------------------------------------------------------


def test_local_that_cannot_resolve_warns_and_coverage_counts_it_manual_as_the_service_answers(city):
    edit(city, "departments.csv", "cityhall,Riverton City Hall,local,01\n", "")
    report = check_ruleset(city, at=DAY)
    d = only(report.diagnostics, "rule.local_unresolved")
    assert d.severity is Severity.WARNING
    assert place(city, d) == ("rules/environment.csv", 2, 6)
    assert "'EN-001'" in d.message and "'01' (Riverton" in d.message
    ruleset = report.ruleset
    assert unresolved_areas(ruleset) == ["01"]
    # the service sends an EN-001 case at city level to the seat operators
    dispatcher = Dispatcher(ruleset)
    decision = dispatcher.dispatch(Case("c", "02001002", "01", "hotline", datetime(2026, 3, 2, 9)))
    assert decision.status.value == "manual" and decision.rule.id == "EN-001"
    # and check counts the city's cells (8 items x 3 sources) beside the grids', as the service answers them:
    # the 2 items of category 02 (EN-001's @local), the urgent 03002001 (no local government to act first)
    # and 04001001 (no rule) manual; the 4 others auto
    before = check_ruleset(_with_city_hall(city), at=DAY).counts["coverage"]["cells"]
    after = report.counts["coverage"]["cells"]
    assert after["manual"] - before["manual"] == 4 * 3
    assert after["auto"] - before["auto"] == 4 * 3
    assert after["provisional"] == before["provisional"]


def _with_city_hall(root: Path) -> Path:
    other = root.parent / "with-city-hall"
    init_ruleset(other, "minimal")
    return other
