"""`dispatch check`: exit status, and the text, JSON and GitHub renderings of the diagnostics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dispatch.cli import main

MINI = Path(__file__).parents[1] / "data" / "mini"
MINI_VERSION = "b60664f945cf2396"
ANNOTATION = re.compile(
    r"^::(?P<level>error|warning) file=(?P<file>[^,]+)(?:,line=(?P<line>\d+))?(?:,col=(?P<col>\d+))?,title=(?P<title>[^:]+)::(?P<msg>.+)$"
)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- exit status -------------------------------------------------------------------------------------


def test_good_set_exits_0_and_prints_a_summary(capsys):
    code, out, err = run(capsys, str(MINI))
    assert code == 0
    assert f"version {MINI_VERSION}" in out
    assert re.search(r"^  rules +6 in 2 files$", out, re.MULTILINE)
    assert re.search(r"^ok: 0 error\(s\), 0 warning\(s\) in \d+\.\d\d s$", out, re.MULTILINE)
    assert err == ""


def test_good_set_passes_strict_too(capsys):
    assert run(capsys, str(MINI), "--strict")[0] == 0


def test_bad_set_exits_1_and_lists_every_error_sorted(capsys, make_ruleset):
    root = make_ruleset("kitchen_sink")
    code, out, _ = run(capsys, str(root))
    assert code == 1
    lines = [ln for ln in out.splitlines() if ln.startswith(str(root))]
    assert len(lines) == 20
    # path:line[:col]: [warning: ]code: message
    first = lines[0]
    assert first.startswith(f"{root}/areas.csv:12: area.unknown_parent: ")
    assert f"{root}/rules/municipal.csv:6:10: value.date: valid_to '2026-13-01'" in out
    assert f"{root}/rules/safety.csv:6: warning: rule.duplicate: " in out
    assert "version" not in out  # no rule set, no version
    assert re.search(r"^FAILED: 18 error\(s\), 2 warning\(s\) \[.*rule\.conflict 1.*\] in ", out, re.MULTILINE)


def test_warnings_only_pass_but_fail_with_strict(capsys, make_ruleset):
    root = make_ruleset("rule_duplicate_warning")
    code, out, _ = run(capsys, str(root))
    assert code == 0
    assert re.search(r"^ok: 0 error\(s\), \d+ warning\(s\) \[.*rule\.duplicate 3.*\]", out, re.MULTILINE)
    assert "version" in out  # the rule set loaded
    code, out, _ = run(capsys, str(root), "--strict")
    assert code == 1
    assert re.search(r"^FAILED|^ok: 0 error", out, re.MULTILINE)


def test_missing_directory_exits_2(capsys, tmp_path):
    code, out, err = run(capsys, str(tmp_path / "nowhere"))
    assert code == 2
    assert "not a directory" in err and "nowhere" in err
    assert out == ""


def test_a_file_instead_of_a_directory_exits_2(capsys):
    assert run(capsys, str(MINI / "ruleset.toml"))[0] == 2


def test_directory_without_manifest_exits_1(capsys, tmp_path):
    code, out, _ = run(capsys, str(tmp_path))
    assert code == 1
    assert "manifest.missing" in out


def test_usage_errors_exit_2(capsys):
    assert main(["check", str(MINI), "--format", "xml"]) == 2
    assert main(["frobnicate"]) == 2
    assert main([]) == 2
    capsys.readouterr()


# -- JSON -------------------------------------------------------------------------------------------


def test_json_for_a_good_set(capsys):
    code, out, _ = run(capsys, str(MINI), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["ok"] is True and doc["version"] == MINI_VERSION
    assert (doc["errors"], doc["warnings"], doc["diagnostics"]) == (0, 0, [])
    assert doc["counts"]["rules"] == 6
    assert doc["counts"]["events"] == {"categories": 2, "subcategories": 3, "items": 4}
    assert doc["root"] == str(MINI)


def test_json_carries_every_diagnostic_with_its_place(capsys, make_ruleset):
    root = make_ruleset("rule_unknown_refs")
    code, out, _ = run(capsys, str(root), "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["ok"] is False and doc["version"] is None
    assert doc["errors"] == 15 and doc["warnings"] == 0
    got = [(d["path"], d["line"], d["col"], d["code"], d["severity"]) for d in doc["diagnostics"]]
    expected_lines = (
        (Path(__file__).parents[1] / "data" / "bad" / "rule_unknown_refs" / "expected.txt").read_text().split("\n")
    )
    expected = []
    for ln in filter(None, expected_lines):
        place, code_ = ln.split(" ")
        path, line, col = place.rsplit(":", 2)
        expected.append((f"{root}/{path}", int(line), int(col), code_, "error"))
    assert got == expected
    d = doc["diagnostics"][3]
    assert d["code"] == "rule.unknown_co_handler" and "dx-ghost" in d["message"]


def test_json_marks_warnings(capsys, make_ruleset):
    root = make_ruleset("rule_never_matches")
    code, out, _ = run(capsys, str(root), "--format", "json", "--strict")
    assert code == 1
    doc = json.loads(out)
    assert doc["ok"] is True  # no errors; --strict is the caller's policy
    never = [(d["line"], d["col"], d["severity"]) for d in doc["diagnostics"] if d["code"] == "rule.never_matches"]
    assert never == [(6, 4, "warning"), (7, 4, "warning")]
    assert doc["errors"] == 0 and doc["warnings"] == len(doc["diagnostics"]) >= 2
    assert all(d["severity"] == "warning" for d in doc["diagnostics"])


# -- GitHub workflow annotations --------------------------------------------------------------------


def test_github_annotations(capsys, make_ruleset):
    root = make_ruleset("kitchen_sink")
    code, out, _ = run(capsys, str(root), "--format", "github")
    assert code == 1
    lines = out.splitlines()
    assert lines[-1].startswith("FAILED: 18 error(s), 2 warning(s)")
    notes = [ANNOTATION.match(ln) for ln in lines[:-1]]
    assert all(notes), [ln for ln, m in zip(lines, notes) if not m]
    assert len(notes) == 20
    by = {(m["file"], m["line"], m["col"], m["title"]): m for m in notes}
    m = by[(f"{root}/rules/municipal.csv", "6", "10", "value.date")]
    assert m["level"] == "error" and "2026-13-01" in m["msg"]
    # col 0 means unknown: left out rather than written as col=0
    m = by[(f"{root}/rules/municipal.csv", "8", None, "rule.conflict")]
    assert "'K-3'" in m["msg"]
    m = by[(f"{root}/rules/safety.csv", "7", "4", "rule.never_matches")]
    assert m["level"] == "warning"


def test_github_escapes_properties_and_messages(capsys, tmp_path):
    root = tmp_path / "a,b:c"
    shutil.copytree(MINI, root)
    # a header cell with a per-cent sign and a line break: the missing-column message quotes the header
    (root / "rules" / "zz.csv").write_text('"odd 100%\nname",event\nX-1,06042\n', encoding="utf-8")
    code, out, _ = run(capsys, str(root), "--format", "github")
    assert code == 1
    notes = [ln for ln in out.splitlines() if ln.startswith("::")]
    assert len(notes) == 1, out  # the line break did not split the annotation
    (line,) = notes
    assert line.startswith(
        "::error file=" + str(tmp_path).replace(":", "%3A").replace(",", "%2C") + "/a%2Cb%3Ac/rules/zz.csv,"
    )
    assert ",line=1,title=csv.missing_column::" in line
    assert "odd 100%25%0Aname" in line


# -- as a program ------------------------------------------------------------------------------------


def test_as_a_subprocess(make_ruleset):
    bad = make_ruleset("csv_field_count_bom_crlf")
    module = [sys.executable, "-m", "dispatch", "check"]
    ok = subprocess.run([*module, str(MINI)], capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    assert f"version {MINI_VERSION}" in ok.stdout
    failed = subprocess.run(
        [*module, str(bad), "--format", "json"], capture_output=True, text=True, timeout=120, check=False
    )
    assert failed.returncode == 1, failed.stderr
    doc = json.loads(failed.stdout)
    assert [(d["line"], d["code"]) for d in doc["diagnostics"]] == [(3, "csv.field_count"), (5, "csv.field_count")]
    gone = subprocess.run([*module, str(bad / "nope")], capture_output=True, text=True, timeout=120, check=False)
    assert gone.returncode == 2
    script = Path(sys.executable).parent / "dispatch"  # the console script, where installed
    if script.exists():
        strict = subprocess.run(
            [str(script), "check", str(MINI), "--strict"], capture_output=True, text=True, timeout=120, check=False
        )
        assert strict.returncode == 0, strict.stderr


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_every_format_names_every_code_of_the_kitchen_sink(capsys, make_ruleset, fmt):
    root = make_ruleset("kitchen_sink")
    _, out, _ = run(capsys, str(root), "--format", fmt)
    expected = (Path(__file__).parents[1] / "data" / "bad" / "kitchen_sink" / "expected.txt").read_text().split()
    for code in {e for e in expected if "." in e and ":" not in e}:
        assert code in out, code


def test_a_history_whose_codes_lost_their_leading_zeros_warns(capsys, tmp_path):
    history = tmp_path / "cases.csv"
    history.write_text(
        "id,event,area,source,reported_at\n"
        "c1,06010002,110115005001,grid,2026-03-01T08:00:00+08:00\n"
        "c2,6010002,110115005001,grid,2026-03-01T08:00:00+08:00\n"
        "c3,6042001,110115005001,grid,2026-03-01T08:00:00+08:00\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, str(MINI), "--cases", str(history))
    assert code == 0  # a warning: --strict makes it fail
    (line,) = [ln for ln in out.splitlines() if ln.startswith(str(history))]
    assert line.startswith(f"{history}:3:2: warning: code.width: 2 cases have an event code")
    assert "'6010002' for '06010002'" in line
    assert run(capsys, str(MINI), "--cases", str(history), "--strict")[0] == 1
