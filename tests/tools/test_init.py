"""`dispatch init`: an example rule set that passes check and test as written, and serves; commands default to it."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dispatch.cli import main
from dispatch.core.load import read_ruleset
from dispatch.core.model import LOCAL
from dispatch.tools.init.init import EXAMPLES, InitError, example_files, init_ruleset
from tests.api.conftest import Client, free_port

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("example", EXAMPLES)
def test_init_then_check_and_test_pass_in_the_new_directory(tmp_path, monkeypatch, capsys, example):
    target = tmp_path / "mycity"
    assert main(["init", str(target), "--example", example]) == 0
    out = capsys.readouterr().out
    assert "dispatch check" in out and "dispatch test" in out and "dispatch serve --rules ." in out
    assert (target / "ruleset.toml").is_file() and (target / "golden.csv").is_file()
    monkeypatch.chdir(target)  # check and test take the current directory when it holds a ruleset.toml
    assert main(["check", "--strict"]) == 0  # not one warning: an example teaches by being clean
    out = capsys.readouterr().out
    assert "rule set" in out and "(.)" in out and "ok: 0 error(s), 0 warning(s)" in out
    assert main(["test"]) == 0
    out = capsys.readouterr().out
    assert "rule coverage 100.0%" in out and " 0 failed" in out
    assert main(["coverage"]) == 0
    assert main(["explain", "--event", _golden(target)[0]["event"], "--area", _golden(target)[0]["area"],
                 "--source", _golden(target)[0]["source"]]) == 0  # fmt: skip


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_example_has_every_rule_kind_once_and_golden_cases_of_every_status(tmp_path, example):
    init_ruleset(tmp_path / "x", example)
    ruleset, diagnostics = read_ruleset(tmp_path / "x")
    assert ruleset is not None and diagnostics == []
    rules = ruleset.rules
    kinds = {
        "local": any(r.department == LOCAL for r in rules),
        "grid type": any(r.grid_type for r in rules),
        "source": any(r.source for r in rules),
        "window": any(r.has_window for r in rules),
        "priority": any(r.priority for r in rules),
        "co-handlers": any(r.co_handlers for r in rules),
        "deadline": any(r.deadline is not None for r in rules),
        "area": any(r.area != "*" for r in rules),
    }
    assert all(kinds.values()), kinds
    golden = _golden(tmp_path / "x")
    assert {g["expected_status"] for g in golden} >= {"auto", "manual"}
    assert any(g["expected_department"] == LOCAL for g in golden)  # a golden case may expect @local
    assert ruleset.manifest.title


def test_init_refuses_a_directory_that_holds_anything(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["init", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]  # nothing written, nothing overwritten
    (tmp_path / "file").write_text("", encoding="utf-8")
    with pytest.raises(InitError, match="not a directory"):
        init_ruleset(tmp_path / "file")
    with pytest.raises(InitError, match="no example"):
        example_files("atlantis")


def test_init_into_an_empty_directory_writes_the_example(tmp_path):
    written = init_ruleset(tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == set(example_files("minimal"))
    assert "rules/streets.csv" in example_files("minimal")


def test_check_outside_a_rule_set_says_how_to_start(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["check", str(empty)]) == 1
    out = capsys.readouterr().out
    assert "manifest.missing" in out and "dispatch init" in out


def test_test_without_golden_cases_says_where_it_looked(tmp_path, monkeypatch, capsys):
    init_ruleset(tmp_path)
    (tmp_path / "golden.csv").unlink()
    monkeypatch.chdir(tmp_path)
    assert main(["test"]) == 2
    assert "no golden.csv in ." in capsys.readouterr().err


def test_program_help_is_for_users(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "parse arguments" not in out
    assert "dispatch init" in out and "which department" in out


@pytest.mark.parametrize("chain", ["serve", pytest.param("init, check, test, serve", marks=pytest.mark.slow)])
def test_init_then_serve_as_processes(tmp_path, chain):
    """What a new maintainer types: init, then check, test and serve in the new directory; a case gets its
    answer. make test runs init, check and test in-process (above) and only serve as a process; the whole
    chain as processes is slow (each starts Python, numpy and numba): make test-slow."""
    target = tmp_path / "mycity"
    dispatch = str(BIN / "dispatch")
    run = {"capture_output": True, "text": True, "timeout": 120}
    if chain == "serve":
        init_ruleset(target)
    else:
        done = subprocess.run([dispatch, "init", str(target)], check=False, **run)
        assert done.returncode == 0, done.stderr
        done = subprocess.run([dispatch, "check"], check=False, cwd=target, **run)
        assert done.returncode == 0 and "ok: 0 error(s)" in done.stdout, done.stdout + done.stderr
        done = subprocess.run([dispatch, "test"], check=False, cwd=target, **run)
        assert done.returncode == 0 and " 0 failed" in done.stdout, done.stdout + done.stderr
    port = free_port()
    env = {**os.environ, "DISPATCH_LOG_LEVEL": "warning", "DISPATCH_RULES_POLL": "0"}
    proc = subprocess.Popen([dispatch, "serve", "--rules", ".", "--port", str(port)], cwd=target, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    client = Client(port)
    try:
        _until_ready(client, proc)
        golden = _golden(target)
        case = next(g for g in golden if g["expected_department"] not in ("", LOCAL))
        answer = client.dispatch({k: case[k] for k in ("id", "event", "area", "source", "reported_at")})
        assert answer.status == 200, answer.body
        assert answer.json["department"]["code"] == case["expected_department"]
        assert answer.json["rule"]["id"] == case["expected_rule"]
        info = json.loads(client.get("/v1/ruleset").body)
        assert info["name"] == "riverton"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def _until_ready(client: Client, proc: subprocess.Popen, timeout: float = 90) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode()[-3000:])
        try:
            if client.get("/readyz").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server did not get ready")


def _golden(root: Path) -> list[dict[str, str]]:
    with open(root / "golden.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))
