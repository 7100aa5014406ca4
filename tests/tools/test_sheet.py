"""dispatch export / import: a workbook that keeps codes as text, refused whole at its cells, never half-written."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from dispatch.cli import main
from dispatch.core.load import read_ruleset
from dispatch.tools.sheet.export import FILES_SHEET, LISTS_SHEET, sheet_names, write_workbook
from dispatch.tools.sheet.workbook_import import import_workbook

MINI = Path(__file__).parent.parent / "data" / "mini"
DAXING = Path(__file__).parent.parent.parent / "rules" / "daxing"
CRLF = ["rules/safety.csv"]  # the mini set's file a spreadsheet wrote (CRLF): the import writes it as the generator would


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def mini(tmp_path) -> tuple[Path, Path]:
    """A copy of the mini rule set and its workbook."""
    root = tmp_path / "mini"
    shutil.copytree(MINI, root)
    book = tmp_path / "mini.xlsx"
    exported, problems = write_workbook(root, book)
    assert problems == [] and exported is not None
    return root, book


def test_a_sheet_per_csv_file_every_code_text_header_frozen_lists_closed(mini):
    _, book = mini
    wb = load_workbook(book)
    assert wb.sheetnames[:5] == ["taxonomy", "areas", "departments", "municipal", "safety"]
    assert wb[FILES_SHEET].sheet_state == wb[LISTS_SHEET].sheet_state == "hidden"
    tax = wb["taxonomy"]
    assert tax.freeze_panes == "A2"
    codes = [row[0] for row in tax.iter_rows(min_row=2)]
    assert all(c.data_type == "s" and c.number_format == "@" for c in codes)
    assert codes[0].value == "06" and tax.column_dimensions["A"].number_format == "@"
    # a column of Chinese names is wider than one of codes
    assert tax.column_dimensions["B"].width > tax.column_dimensions["A"].width
    rules = wb["municipal"]
    header = [c.value for c in rules[1]]
    by_column = {header[next(iter(dv.sqref.ranges)).min_col - 1]: dv for dv in rules.data_validations.dataValidation}
    assert set(by_column) >= {"department", "source", "grid_type"}
    lists = wb[LISTS_SHEET]
    names = [c.value for c in lists[1]]
    departments = [c.value for c in next(lists.iter_cols(min_col=names.index("department") + 1, max_col=names.index("department") + 1, min_row=2)) if c.value]  # fmt: skip
    assert "@local" in departments and "dx-cgw" in departments


def test_any_csv_table_the_manifest_names_becomes_a_sheet(mini, tmp_path):
    root, _ = mini
    (root / "calendar.csv").write_text("date,kind,name\n2026-10-01,holiday,国庆节\n2026-09-28,workday,调休\n")
    manifest = (root / "ruleset.toml").read_text()
    calendar = '\n[calendar]\nwork_hours = ["09:00-12:00", "13:30-17:30"]\ndays = "calendar.csv"\n'
    (root / "ruleset.toml").write_text(manifest + calendar)
    book = tmp_path / "cal.xlsx"
    write_workbook(root, book)
    assert "calendar" in load_workbook(book).sheetnames
    target = tmp_path / "empty"
    _, problems = import_workbook(book, target)
    assert problems == [], problems
    assert (target / "calendar.csv").read_bytes() == (root / "calendar.csv").read_bytes()


def test_round_trip_is_byte_identical_and_the_version_stays(mini, tmp_path):
    root, book = mini
    before = _files(root)
    imported, problems = import_workbook(book, root)
    assert problems == [] and imported.changed == CRLF and imported.version == imported.previous
    after = _files(root)
    assert after[CRLF[0]] == before[CRLF[0]].replace(b"\r\n", b"\n")
    assert {k: v for k, v in after.items() if k not in CRLF} == {k: v for k, v in before.items() if k not in CRLF}
    # generator-written files come back byte for byte: a second round changes nothing
    write_workbook(root, tmp_path / "again.xlsx")
    imported, problems = import_workbook(tmp_path / "again.xlsx", root)
    assert problems == [] and imported.changed == [] and _files(root) == after
    # into an empty directory: the manifest comes from the workbook
    fresh = tmp_path / "fresh"
    imported, problems = import_workbook(book, fresh)
    assert problems == [] and _files(fresh) == after and imported.previous is None


def test_saved_by_a_spreadsheet_program_it_imports_to_the_same_version(mini, tmp_path):
    """openpyxl opens and saves the workbook, as Excel would, and a person changes one department."""
    root, book = mini
    version = read_ruleset(root)[0].version
    wb = load_workbook(book)
    wb.save(tmp_path / "saved.xlsx")
    imported, problems = import_workbook(tmp_path / "saved.xlsx", root)
    assert problems == [] and imported.version == version and imported.changed == CRLF
    rules = wb["municipal"]
    header = [c.value for c in rules[1]]
    cell = rules.cell(2, header.index("department") + 1)
    cell.value = "dx-cgzf" if cell.value != "dx-cgzf" else "dx-cgw"
    wb.save(tmp_path / "edited.xlsx")
    imported, problems = import_workbook(tmp_path / "edited.xlsx", root)
    assert problems == [] and imported.changed == ["rules/municipal.csv"] and imported.version != version


def _damaged(book: Path, out: Path, edits: dict[tuple[str, str], object]) -> Path:
    wb = load_workbook(book)
    for (sheet, ref), value in edits.items():
        wb[sheet][ref] = value
    wb.save(out)
    return out


def test_a_code_that_became_a_number_is_refused_at_its_cell_with_every_other_problem(mini, tmp_path):
    root, book = mini
    before = _files(root)
    bad = _damaged(
        book,
        tmp_path / "bad.xlsx",
        {
            ("taxonomy", "A3"): 6010,  # 06010 typed into a general cell
            ("areas", "A3"): 1.10115005e8,
            ("municipal", "K2"): datetime(2026, 7, 1, 12, 30),  # valid_from with a time of day
            ("departments", "B3"): 12345,
        },
    )
    imported, problems = import_workbook(bad, root)
    assert imported is None
    text = "\n".join(problems)
    assert "taxonomy!A3: sheet.code_as_number" in text and "lost its leading zeros" in text
    assert "areas!A3: sheet.code_as_number" in text
    assert "municipal!K2: sheet.date" in text and "departments!B3: sheet.number" in text
    assert len(problems) == 4
    assert _files(root) == before  # nothing written


def test_a_date_typed_in_a_date_column_is_read_back_as_an_iso_date(mini, tmp_path):
    root, book = mini
    wb = load_workbook(book)
    rules = wb["municipal"]
    header = [c.value for c in rules[1]]
    rules.cell(2, header.index("valid_from") + 1).value = datetime(2026, 7, 1)
    rules.cell(2, header.index("valid_to") + 1).value = "2026-09-01"
    wb.save(tmp_path / "dated.xlsx")
    _, problems = import_workbook(tmp_path / "dated.xlsx", root)
    assert problems == [], problems
    row = (root / "rules" / "municipal.csv").read_text().splitlines()[1]
    assert "2026-07-01,2026-09-01" in row


def test_an_invalid_rule_set_is_refused_at_the_cell_of_each_error(mini, tmp_path):
    root, book = mini
    before = _files(root)
    bad = _damaged(book, tmp_path / "bad.xlsx", {("municipal", "F3"): "dx-nowhere", ("safety", "B2"): "99999999"})
    imported, problems = import_workbook(bad, root)
    assert imported is None
    assert any(p.startswith("municipal!F3: ") and "rule.unknown_department" in p for p in problems), problems
    assert any(p.startswith("safety!B2: ") for p in problems), problems
    assert _files(root) == before


def test_a_workbook_not_from_export_is_refused(tmp_path, mini):
    root, _ = mini
    from openpyxl import Workbook

    Workbook().save(tmp_path / "other.xlsx")
    (tmp_path / "junk.xlsx").write_bytes(b"not a zip")
    for f in ("other.xlsx", "junk.xlsx"):
        imported, problems = import_workbook(tmp_path / f, root)
        assert imported is None and len(problems) == 1


def test_sheet_names_are_unique_short_and_legal():
    names = sheet_names(["rules/a.csv", "more/a.csv", "x/" + "长" * 40 + ".csv", "_files.csv", "b:c.csv"])
    assert list(names.values())[:2] == ["rules/a.csv", "more/a.csv"]
    assert list(names)[:2] == ["rules.a", "more.a"]
    assert all(len(n) <= 31 and not n.startswith("_") and ":" not in n for n in names)


def test_cli_export_and_import(mini, tmp_path, capsys):
    root, _ = mini
    assert main(["export", str(root), "--xlsx", str(tmp_path / "cli.xlsx")]) == 0
    assert "codes kept as text" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "cli.xlsx"), str(root)]) == 0
    assert f"(unchanged); files changed: {CRLF[0]}" in capsys.readouterr().out
    bad = _damaged(tmp_path / "cli.xlsx", tmp_path / "bad.xlsx", {("taxonomy", "A2"): 6})
    assert main(["import", str(bad), str(root)]) == 1
    out = capsys.readouterr().out
    assert "taxonomy!A2: sheet.code_as_number" in out and "REFUSED" in out
    assert main(["import", str(tmp_path / "none.xlsx"), str(root)]) == 2


@pytest.mark.slow
def test_daxing_round_trip_byte_identical(tmp_path):
    root = tmp_path / "daxing"
    shutil.copytree(DAXING, root)
    before = _files(root)
    write_workbook(root, tmp_path / "dx.xlsx")
    imported, problems = import_workbook(tmp_path / "dx.xlsx", root)
    assert problems == [] and imported.changed == [] and _files(root) == before


@pytest.mark.slow
def test_libreoffice_resave_imports_to_the_same_version(tmp_path):
    """A real spreadsheet program: LibreOffice (Debian's libreoffice-calc-nogui, which make test-slow installs)
    converts the workbook to a new xlsx of its own writing; it imports to the same version, byte for byte."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed: make test-slow installs libreoffice-calc-nogui")
    root = tmp_path / "daxing"
    shutil.copytree(DAXING, root)
    before = _files(root)
    write_workbook(root, tmp_path / "dx.xlsx")
    out = tmp_path / "lo"
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless", "--convert-to", "xlsx",
         "--outdir", str(out), str(tmp_path / "dx.xlsx")],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    resaved = out / "dx.xlsx"
    assert resaved.read_bytes() != (tmp_path / "dx.xlsx").read_bytes()  # LibreOffice wrote it anew
    imported, problems = import_workbook(resaved, root)
    assert problems == [], problems[:5]
    assert imported.version == imported.previous and _files(root) == before
