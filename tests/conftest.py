"""Fixtures about rule-set directories: fresh copies of the small good set, and overlays on it."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from dispatch.core.dispatcher import Dispatcher
from dispatch.core.load import load_ruleset

DATA = Path(__file__).parent / "data"
MINI = DATA / "mini"
BAD = DATA / "bad"
DAXING = Path(__file__).resolve().parent.parent / "rules" / "daxing"

# Files in a bad case that describe the case rather than overlay the rule set.
CASE_META = {"expected.txt"}
DELETE_SUFFIX = ".delete"


def overlay(case: Path, target: Path) -> None:
    """Apply a case directory onto the rule set in `target`.

    Every file of `case` (except the case's own metadata) is copied to the same relative
    path; a file named `<name>.delete` removes `<name>` instead. Deletions run first, so a
    case can replace a file by a directory of the same name.
    """
    files = sorted(p for p in case.rglob("*") if p.is_file())
    for p in files:
        rel = p.relative_to(case)
        if rel.name.endswith(DELETE_SUFFIX):
            victim = target / rel.parent / rel.name[: -len(DELETE_SUFFIX)]
            if victim.is_dir():
                shutil.rmtree(victim)
            else:
                victim.unlink()
    for p in files:
        rel = p.relative_to(case)
        if rel.name.endswith(DELETE_SUFFIX) or (rel.parent == Path(".") and rel.name in CASE_META):
            continue
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dest)


@pytest.fixture
def mini_dir(tmp_path: Path) -> Path:
    """A private copy of tests/data/mini, free to edit."""
    target = tmp_path / "mini"
    shutil.copytree(MINI, target)
    return target


@pytest.fixture
def make_ruleset(tmp_path: Path):
    """Factory: a fresh copy of mini, optionally with a bad case overlaid and files written.

    `make_ruleset(case=None, files={relpath: str | bytes | None}, name="rs")`; a value of
    None deletes the file; str is written as UTF-8 exactly as given (no newline translation).
    """
    counter = {"n": 0}

    def make(
        case: str | Path | None = None, files: dict[str, str | bytes | None] | None = None, name: str | None = None
    ) -> Path:
        counter["n"] += 1
        target = tmp_path / (name or f"rs{counter['n']}")
        shutil.copytree(MINI, target)
        if case is not None:
            overlay(BAD / case if isinstance(case, str) else case, target)
        for rel, content in (files or {}).items():
            path = target / rel
            if content is None:
                path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return target

    return make


def read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """A rule-set CSV as (header, rows), blank rows left out: to rewrite it in another spelling."""
    text = path.read_bytes().decode("utf-8-sig")
    rows = [r for r in csv.reader(io.StringIO(text, newline="")) if any(f.strip() for f in r)]
    return rows[0], rows[1:]


def write_table(
    path: Path,
    header: list[str],
    rows: list[list[str]],
    *,
    bom: bool = False,
    crlf: bool = False,
    quote_all: bool = False,
) -> None:
    """Write a table as a spreadsheet might: optional BOM, CRLF line ends, every field quoted.

    Fields holding a delimiter, a quote, a line break (CR or LF) or edge spaces are always quoted
    (Python 3.11's csv.writer leaves a lone CR unquoted when the line end is LF).
    """

    def field(value: str) -> str:
        if quote_all or any(c in value for c in ',"\r\n') or value != value.strip():
            return '"' + value.replace('"', '""') + '"'
        return value

    end = "\r\n" if crlf else "\n"
    text = "".join(",".join(field(v) for v in row) + end for row in [header, *rows])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))


@pytest.fixture(scope="session")
def daxing_dispatcher() -> Dispatcher:
    """The embedded Daxing rule set, loaded and compiled once for the tests that only read it."""
    return Dispatcher(load_ruleset(DAXING))


@pytest.fixture(scope="session")
def tables() -> SimpleNamespace:
    """`tables.read(path)` and `tables.write(path, header, rows, bom=, crlf=, quote_all=)`.

    Session-scoped so that hypothesis tests may use it.
    """
    return SimpleNamespace(read=read_table, write=write_table, mini=MINI, bad=BAD)
