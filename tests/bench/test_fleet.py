"""The fleet test (bench/fleet.py), shortened: three replicas behind Debian's nginx under the load kit,
a bundle rollout, a SIGTERM and a SIGKILL, with no failed request and the mixed-version window measured.

nginx comes from Debian's package (make test-slow installs it when it is missing; without it these
skip). The parts of the report are tested on their own here too: the nginx configuration nginx itself accepts, the
mixed-version window and the phase accounting on a made-up log.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.fleet import build_report, find_nginx, mixed_window, nginx_conf, render

ROOT = Path(__file__).resolve().parents[2]
OLD, NEW = "1a007c43447b78d4", "9498c09d9bc0684e"


NO_NGINX = pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed: apt-get install nginx "
                              "(make test-slow installs it where apt-get can)")  # fmt: skip


@pytest.mark.slow  # needs Debian's nginx, which make test-slow installs
@NO_NGINX
def test_nginx_accepts_the_configuration_and_it_retries_posts(tmp_path):
    nginx = find_nginx()
    conf = nginx_conf(tmp_path, 18080, [18081, 18082, 18083])
    (tmp_path / "nginx.conf").write_text(conf)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / "tmp" / sub).mkdir(parents=True)
    done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e",
                           str(tmp_path / "error.log")], capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "proxy_next_upstream error timeout http_502 http_503 non_idempotent;" in conf
    assert "keepalive 64;" in conf and 'proxy_set_header Connection "";' in conf
    assert conf.count("server 127.0.0.1:") == 3


def _line(t: float, version: str, upstreams: str = "127.0.0.1:1", status: int = 200) -> dict:
    return {"t": t, "rt": 0.001, "s": status, "m": "POST", "u": "/v1/dispatch", "ua": upstreams, "us": "200", "v": version}


def test_the_mixed_window_runs_from_the_first_new_answer_to_the_last_old_one():
    events = [{"time": 100.0, "what": "rollout"}, {"time": 103.0, "what": "replicas agree"}]
    log = [_line(99.0, OLD), _line(100.5, OLD), _line(101.2, NEW), _line(101.9, OLD), _line(102.0, NEW),
           _line(102.4, OLD), _line(103.0, NEW), _line(103.5, "")]  # fmt: skip
    m = mixed_window(log, events, {"old": OLD, "new": NEW})
    assert m["converged"] and m["window_s"] == pytest.approx(1.2) and m["answers_old_after_new"] == 2
    assert m["first_new_s"] == pytest.approx(1.2) and m["last_old_s"] == pytest.approx(2.4)
    assert not mixed_window(log, events[:1], {"old": OLD, "new": NEW})["converged"]  # the replicas never agreed
    clean = mixed_window([_line(100.5, OLD), _line(101.0, NEW)], events, {"old": OLD, "new": NEW})
    assert clean["window_s"] == 0.0


def _second(t: int, requests: int, failures: int = 0) -> dict:
    return {"t": t, "stage": "steady", "users": 5, "requests": requests, "failures": failures, "expected": 0,
            "cases": requests, "all": {"10": requests - failures}, "single": {"10": requests - failures}}  # fmt: skip


def test_a_failure_in_a_phase_fails_the_run_and_is_named():
    t0 = 1000.0
    seconds = [_second(t, 10) for t in range(12)]
    seconds[7] = _second(7, 10, failures=2)  # in the SIGTERM window
    timeline = {"t0": t0, "seconds": seconds, "names": {},
                "failures": [{"name": "grid case", "message": "ConnectionResetError", "count": 2}]}  # fmt: skip
    events = [{"time": t0 + 2, "what": "rollout"}, {"time": t0 + 3, "what": "replicas agree"},
              {"time": t0 + 5, "what": "sigterm"}, {"time": t0 + 8, "what": "sigkill"}]  # fmt: skip
    log = [_line(t0 + 1, OLD), _line(t0 + 2.5, NEW), _line(t0 + 6, NEW, "127.0.0.1:1, 127.0.0.1:2")]
    context = {"replicas": 3, "users": 5, "poll_s": 2.0, "drain_s": 1.0, "phase_s": 3, "down_s": 1,
               "versions": {"old": OLD, "new": NEW}, "change": "one rule", "locust_exit": 0, "nginx": "1.22",
               "quick": True, "command": "", "started": "now"}  # fmt: skip
    report = build_report(timeline, log, events, context)
    assert not report["passed"]
    assert report["reasons"] == ["2 failed request(s) through the sigterm"]
    assert report["phases"]["sigterm"]["failures"] == 2 and report["phases"]["rollout"]["failures"] == 0
    assert report["phases"]["sigterm"]["lb_retried"] == 1 and report["sigkill_single_failures"] == 0
    assert "FAIL" in render(report) and "ConnectionResetError" in render(report)


@pytest.mark.slow  # three replicas, nginx and the load kit for about 45 s (make test-slow)
@NO_NGINX
def test_three_replicas_behind_nginx_lose_nothing_through_a_rollout_a_sigterm_and_a_sigkill(tmp_path):
    out = tmp_path / "fleet"
    # 12 s phases, not --quick's 7: a reload of Daxing (its map checked by shapely, its tables compiled)
    # takes seconds when CI runs the browser tests beside this one, and the replicas must agree in a phase
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "fleet.py"), "--quick", "--phase", "12", "--out",
                           str(out)], capture_output=True, text=True, check=False, timeout=300)  # fmt: skip
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else None
    assert report is not None, done.stderr[-3000:]
    assert done.returncode == 0, render(report)
    assert report["overall"]["requests"] > 300 and report["overall"]["failures"] == 0
    assert {"rollout", "sigterm", "sigkill"} == set(report["phases"])
    assert report["mixed"]["converged"] and report["mixed"]["window_s"] < report["poll_s"]
    assert report["lb"]["5xx"] == 0
    # the SIGKILL is survived by retries: nginx sent some requests on to a second replica
    assert report["phases"]["sigkill"]["lb_retried"] + report["phases"]["sigterm"]["lb_retried"] > 0
    assert (out / "fleet.png").stat().st_size > 10_000 and "![fleet](fleet.png)" in (out / "report.md").read_text()
