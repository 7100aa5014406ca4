"""`dispatch serve` as a process: settings from arguments and DISPATCH_*, SIGHUP reloads, N workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dispatch.api.settings import Settings, SettingsError
from tests.api.conftest import Client, api_ruleset, free_port

BIN = Path(sys.executable).parent


def test_settings_from_env_with_arguments_on_top():
    env = {"DISPATCH_RULES": "r", "DISPATCH_PORT": "9001", "DISPATCH_MAX_BATCH": "1_000",
           "DISPATCH_ACCESS_LOG": "yes", "DISPATCH_BENCH_ROUTES": "0"}  # fmt: skip
    s = Settings.from_env(env, port=9002, host=None)
    assert (s.rules, s.port, s.max_batch, s.access_log, s.bench_routes, s.host) == ("r", 9002, 1000, True, False,
                                                                                    "127.0.0.1")  # fmt: skip
    assert Settings.from_env(s.to_env()) == s


@pytest.mark.parametrize("env", [{"DISPATCH_PORT": "eighty"}, {"DISPATCH_MAX_BATCH": "0"},
                                 {"DISPATCH_ACCESS_LOG": "maybe"}, {"DISPATCH_PORT": "70000"}])  # fmt: skip
def test_bad_settings_are_named(env):
    with pytest.raises(SettingsError, match="(?i)" + "|".join(k.removeprefix("DISPATCH_") for k in env)):
        Settings.from_env(env)


def test_serve_refuses_a_missing_directory_and_bad_settings(tmp_path):
    run = [str(BIN / "dispatch"), "serve"]
    done = subprocess.run([*run, "--rules", str(tmp_path / "nope")], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "not a directory" in done.stderr
    done = subprocess.run(run, capture_output=True, text=True, check=False, env={**os.environ, "DISPATCH_PORT": "x"})
    assert done.returncode == 2 and "DISPATCH_PORT" in done.stderr


def _start(rules: Path, port: int, *extra: str, drain: float = 0, poll: float = 0, token: str = "") -> subprocess.Popen:
    env = {**os.environ, "DISPATCH_LOG_LEVEL": "warning", "DISPATCH_MAX_BATCH": "7", "DISPATCH_DRAIN_SECONDS": str(drain),
           "DISPATCH_RULES_POLL": str(poll), "DISPATCH_ADMIN_TOKEN": token}  # fmt: skip
    return subprocess.Popen([str(BIN / "dispatch"), "serve", "--rules", str(rules), "--port", str(port), *extra],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


def _until(predicate, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode()[-3000:])
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("timed out")


CASE = {"id": "C1", "event": "06010002", "area": "110115005001", "source": "grid", "reported_at": "2025-12-01T08:00:00"}


def _department(client: Client) -> str:
    return client.dispatch(CASE).json["department"]["code"]


def _edit(rules: Path, department: str) -> None:
    f = rules / "rules" / "municipal.csv"
    text = f.read_text(encoding="utf-8")
    f.write_text(text.replace("MUN-1,06010,110115,,,dx-cgw,", f"MUN-1,06010,110115,,,{department},")
                 .replace("MUN-1,06010,110115,,,dx-cgzf,", f"MUN-1,06010,110115,,,{department},"), encoding="utf-8")  # fmt: skip


@pytest.mark.parametrize("workers", [1])
def test_sighup_reloads_and_env_settings_apply(tmp_path, workers):
    """One worker reloads in place (two workers: test_two_workers_serve_as_one)."""
    rules = api_ruleset(tmp_path / "rules")
    port = free_port()
    proc = _start(rules, port, "--workers", str(workers))
    client = Client(port)
    try:
        _until(lambda: client.get("/readyz").status == 200, proc)
        assert _department(client) == "dx-cgw"
        assert client.dispatch({"cases": [CASE] * 8}).status == 413  # DISPATCH_MAX_BATCH=7 reached the workers
        _edit(rules, "dx-cgzf")
        proc.send_signal(signal.SIGHUP)
        # every worker must come to answer with the new rule set, and none may fail meanwhile
        seen = set()

        def all_new() -> bool:
            for _ in range(4 * workers):
                r = client.dispatch(CASE)
                assert r.status == 200, r.body
                seen.add(r.json["department"]["code"])
            return all(_department(client) == "dx-cgzf" for _ in range(4 * workers))

        _until(all_new, proc)
        assert seen <= {"dx-cgw", "dx-cgzf"}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_sigterm_under_load_drains_and_loses_nothing(tmp_path, workers):
    """SIGTERM while keep-alive clients send single cases and batches: /readyz says 503 at once, every
    request sent during the drain is answered, then the server exits."""
    import http.client
    import json
    import threading

    rules = api_ruleset(tmp_path / "rules")
    port = free_port()
    proc = _start(rules, port, "--workers", str(workers), drain=1.5)
    client = Client(port)
    _until(lambda: client.get("/readyz").status == 200, proc)
    stop = threading.Event()
    sent, answered, failures, after_term = [0], [0], [], [0]
    term_at = [None]
    bodies = [json.dumps(CASE).encode(), json.dumps({"cases": [CASE] * 7}).encode()]

    def load(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not stop.is_set():
            sent[0] += 1
            try:
                conn.request("POST", "/v1/dispatch", body=bodies[k % 2], headers={"content-type": "application/json"})
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    failures.append(r.status)
                else:
                    answered[0] += 1
                    after_term[0] += term_at[0] is not None
                if r.getheader("connection", "").lower() == "close":
                    conn.close()  # as a client does: the next request opens a new connection
            except OSError as err:
                failures.append(repr(err))
                conn.close()

    threads = [threading.Thread(target=load, args=(k,), daemon=True) for k in range(8)]
    try:
        for t in threads:
            t.start()
        time.sleep(0.5)
        term_at[0] = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 1
        while client.get("/readyz").status != 503:  # at once
            assert time.monotonic() < deadline, "/readyz did not turn 503"
            time.sleep(0.02)
        time.sleep(0.7)  # the load goes on inside the drain (1.5 s), as a balancer's does until it sees 503
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert failures == [] and answered[0] == sent[0] and after_term[0] > 0
        assert proc.wait(timeout=20) in (0, -signal.SIGTERM)  # drained, then closed by itself
        assert time.monotonic() - term_at[0] >= 1.5  # not before the drain was over
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _replace(rules: Path, department: str) -> None:
    """Edit the rule file as a deploy tool should: a new file, then an atomic rename over the old."""
    f = rules / "rules" / "municipal.csv"
    text = f.read_text(encoding="utf-8")
    for old in ("dx-cgw", "dx-cgzf", "dx-sw"):
        text = text.replace(f"MUN-1,06010,110115,,,{old},", f"MUN-1,06010,110115,,,{department},")
    tmp = f.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.utime(tmp, (time.time() - 5, time.time() - 5))  # written a while ago: no need to wait for it to settle
    tmp.rename(f)


def _answers(client: Client, n: int) -> list[tuple[str, str]]:
    out = []
    for _ in range(n):
        r = client.dispatch(CASE)
        assert r.status == 200, r.body
        out.append((r.json["department"]["code"], r.headers["dispatch-ruleset"]))
    return out


@pytest.mark.slow  # two worker processes (make test-slow)
def test_two_workers_converge_on_a_changed_directory_without_a_signal(tmp_path):
    rules = api_ruleset(tmp_path / "rules")
    port = free_port()
    proc = _start(rules, port, "--workers", "2", poll=1)
    client = Client(port)
    try:
        _until(lambda: client.get("/readyz").status == 200, proc)
        assert {d for d, _ in _answers(client, 8)} == {"dx-cgw"}
        _replace(rules, "dx-cgzf")
        changed = time.monotonic()
        _until(lambda: {d for d, _ in _answers(client, 12)} == {"dx-cgzf"}, proc, timeout=30)
        converged = time.monotonic() - changed
        assert converged < 1.1 + 10  # one poll interval, plus the load of the set by each worker
        assert len({v for _, v in _answers(client, 12)}) == 1  # one version from every worker
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.slow  # two worker processes (make test-slow)
def test_two_workers_serve_as_one(tmp_path):
    """Two workers: settings reach both; /metrics sums both whichever answers; a SIGHUP and one admin
    reload each reach both, in place; a bad set on SIGHUP keeps every worker serving the old one."""
    import re

    rules = api_ruleset(tmp_path / "rules")
    port = free_port()
    proc = _start(rules, port, "--workers", "2", token="t")
    client = Client(port)
    try:
        _until(lambda: client.get("/readyz").status == 200, proc)
        assert client.dispatch({"cases": [CASE] * 8}).status == 413  # DISPATCH_MAX_BATCH=7 reached the workers
        assert {d for d, _ in _answers(client, 40)} == {"dx-cgw"}
        time.sleep(1.5)  # every worker's metrics snapshot is at most a second old
        for _ in range(6):  # several scrapes: both workers answer some of them
            text = client.get("/metrics").body.decode()
            found = re.search(r'dispatch_http_requests_total\{endpoint="/v1/dispatch",status="200"\} (\d+)', text)
            assert found and int(found.group(1)) == 40, text
            assert "dispatch_workers 2" in text and len(re.findall(r"dispatch_worker_ruleset\{", text)) == 2
            assert re.search(r'dispatch_decisions_total\{status="auto"\} 40', text)
        # SIGHUP: every worker reloads in place, none fails meanwhile
        _replace(rules, "dx-cgzf")
        proc.send_signal(signal.SIGHUP)
        _until(lambda: {d for d, _ in _answers(client, 12)} == {"dx-cgzf"}, proc, timeout=30)
        # one admin reload, answered by one worker, reaches the other too
        _replace(rules, "dx-cgw")
        assert client.post("/v1/admin/reload", headers={"authorization": "Bearer t"}).status == 200
        _until(lambda: {d for d, _ in _answers(client, 12)} == {"dx-cgw"}, proc, timeout=30)
        # a bad set on SIGHUP: each worker reads it, refuses it and keeps serving
        before = set(_answers(client, 8))
        (rules / "rules" / "municipal.csv").write_text("id,event\nbroken,\n", encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            assert set(_answers(client, 4)) == before
            assert client.get("/readyz").status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
