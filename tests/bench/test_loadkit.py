"""The load kit (bench/): its request bodies, its checks held to the real server's answers, its stats,
its scenarios, and one quick steady run end to end.

Locust is never imported here (gevent would monkey-patch this process's sockets): the
end-to-end test runs bench/load.py, and so locust, as a subprocess.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from itertools import pairwise
from pathlib import Path

import orjson
import pytest

from bench import loadcases as lc
from bench.load import build_report, render
from bench.loadstats import Partial, Second, Timeline, bucket, percentiles, seconds_from_wire, summary
from bench.scenarios import SPIKE_FACTOR, Shape, Thresholds, capacity, memory_verdict, stage_dicts, stages, step_results
from dispatch.api.settings import Settings
from tests.api.conftest import Answer, Server

ROOT = Path(__file__).resolve().parents[2]
DAXING = ROOT / "rules" / "daxing"


@pytest.fixture(scope="module")
def history() -> list[dict]:
    return lc.case_history(DAXING, 3000, seed=11)


@pytest.fixture(scope="module")
def areas() -> lc.Areas:
    return lc.read_areas(DAXING)


@pytest.fixture(scope="module")
def server():
    """The real service on the embedded Daxing rule set (uvicorn in a thread, a free port)."""
    with Server(Settings(rules=str(DAXING))) as s:
        s.wait_ready()
        yield s


def post(server: Server, body: bytes) -> Answer:
    return server.client.post("/v1/dispatch", body, {"content-type": "application/json"})


# -- request bodies ------------------------------------------------------------------------


def test_each_system_sends_the_cases_of_its_own_sources(history):
    pools = lc.by_system(history)
    for system, sources in lc.SYSTEM_SOURCES.items():
        assert pools[system], system
        assert {c["source"] for c in pools[system]} <= set(sources)
    assert len(pools["all"]) == len(history)
    assert set(history[0]) == set(lc.FIELDS)
    # the generator's mix, not a uniform one: a few items carry much of the volume
    top = Counter(c["event"] for c in history).most_common(10)
    assert sum(n for _, n in top) > 0.1 * len(history)


def test_hotline_cases_are_lifted_to_their_town_up_to_the_share(history, areas):
    hotline = lc.by_system(history)["hotline"]
    lifted = lc.lift_to_town(hotline, areas, 0.9, random.Random(1))
    assert lc.town_share(lifted, areas) >= 0.9 - 1 / len(lifted)
    for before, after in zip(hotline, lifted):
        assert after["area"] in (before["area"], areas.town_of(before["area"]))
        assert areas.is_town(after["area"]) or after["area"] == before["area"]
    assert lc.lift_to_town(hotline, areas, 0.0, random.Random(1)) == hotline  # never lowers the share
    assert areas.town_of("110115109401002") == "110115109"
    assert areas.is_town("110115109") and not areas.is_town("110115") and not areas.is_town("110115109401")


def test_batches_carry_their_bad_members_and_bodies(history):
    batches = lc.batches(history, (5, 30), 50, 0.2, random.Random(3))
    assert any(b.bad for b in batches)
    for b in batches:
        assert 5 <= len(b.cases) <= 30
        assert orjson.loads(b.body) == {"cases": b.cases}
        for i, code in b.bad.items():
            c = b.cases[i]
            assert (code == "request.unknown_event" and c["event"] == lc.NO_SUCH_EVENT) or (
                code == "request.unknown_area" and c["area"] == lc.NO_SUCH_AREA) or (
                code == "request.invalid" and "event" not in c)  # fmt: skip


# -- the checks, held to the real server's answers ------------------------------------------


def test_good_cases_pass_the_check_and_cover_every_status(server, history):
    statuses = Counter()
    for item in lc.singles(history[:400]):
        a = post(server, item.body)
        assert lc.single_error(a.status, a.headers["content-type"], a.body, item.case,
                               a.headers.get("dispatch-ruleset")) is None, a.body  # fmt: skip
        statuses[a.json["status"]] += 1
    assert statuses["auto"] and statuses["manual"], statuses


def test_provisional_answer_passes_the_check(server, history):
    # an urgent item that no rule covers goes to the local government, provisional
    for c in history:
        a = post(server, lc.body_of(c))
        if a.json["status"] == "provisional":
            assert lc.single_error(a.status, a.headers["content-type"], a.body, c) is None
            assert a.json["department"]["code"]
            return
    pytest.fail(f"no provisional case among {len(history)} generated cases")


def test_every_deliberate_bad_request_gets_the_answer_it_must(server, history):
    bads = lc.bad_requests(history[0])
    assert [b.kind for b in bads] == ["malformed_json", "unknown_event", "unknown_area", "unknown_source",
                                      "missing_field", "wrong_type"]  # fmt: skip
    for bad in bads:
        a = post(server, bad.body)
        assert a.status == bad.status and a.json["code"] == bad.code, (bad.kind, a.body)
        assert lc.problem_error(a.status, a.headers["content-type"], a.body, bad) is None


def test_batches_with_bad_members_pass_the_check(server, history):
    for b in lc.batches(history, (20, 200), 10, 0.05, random.Random(7)):
        a = post(server, b.body)
        assert lc.batch_error(a.status, a.headers["content-type"], a.body, b, pause=lambda: None) is None


def test_wrong_answers_are_named(server, history):
    case = history[0]
    a = post(server, lc.body_of(case))
    good = a.json
    ctype = a.headers["content-type"]

    def error(doc: dict, status: int = 200, content_type: str = ctype) -> str | None:
        return lc.single_error(status, content_type, orjson.dumps(doc), case)

    assert error(good) is None
    auto = {**good, "status": "auto", "department": None}
    assert error(auto) == "auto answer without a department"
    assert error({**good, "status": "manual", "department": {"code": "x", "name": "y"}}) == \
        "manual answer with a department"  # fmt: skip
    assert error({**good, "status": "queued"}) == "status is not auto, provisional or manual"
    assert error({**good, "id": "someone else"}) == "the answer's id is not the case's"
    assert error({**good, "area_path": ["110115"]}) == "area_path does not end at the case's area"
    assert error(good, status=500) == "HTTP 500, expected 200"
    assert error(good, status=0).endswith("(no answer)")
    assert error(good, content_type="text/html") == "content type text/html, expected application/json"
    assert lc.single_error(200, ctype, b"{", case) == "the body is not JSON"
    assert lc.single_error(200, ctype, a.body, case, "another-version") == \
        "the Dispatch-Ruleset header is not the answer's rule set"  # fmt: skip

    bad = lc.bad_requests(case)[1]  # unknown_event
    answer = post(server, bad.body)
    wrong = {**answer.json, "code": "request.invalid"}
    assert lc.problem_error(answer.status, answer.headers["content-type"], orjson.dumps(wrong), bad) == \
        "unknown_event: problem code 'request.invalid', expected 'request.unknown_event'"  # fmt: skip
    assert lc.problem_error(200, ctype, a.body, bad) == "unknown_event: HTTP 200, expected 422"
    nameless = {**answer.json, "errors": []}
    assert lc.problem_error(422, answer.headers["content-type"], orjson.dumps(nameless), bad) == \
        "unknown_event: the problem does not name the field /event"  # fmt: skip

    b = lc.batches(history, (10, 10), 1, 0.0, random.Random(1))[0]
    results = post(server, b.body).json["results"]
    assert lc.batch_error(200, ctype, orjson.dumps({"results": results[:-1]}), b) == \
        "a batch answer with another number of results than cases"  # fmt: skip
    results[3] = {**results[3], "department": None, "status": "auto"}
    assert lc.batch_error(200, ctype, orjson.dumps({"results": results}), b) == \
        "batch member: auto answer without a department"  # fmt: skip


# -- stats and scenarios ---------------------------------------------------------------------


def test_percentiles_are_within_one_percent():
    values = [0.05 * 1.003**i for i in range(3000)]  # 0.05 ms .. 400 ms
    hist = Counter(bucket(v) for v in values)
    for q, got in zip((0.5, 0.95, 0.99), percentiles(hist)):
        want = sorted(values)[int(q * len(values)) - 1]
        assert abs(got - want) / want < 0.012, (q, got, want)
    assert percentiles(Counter()) == [None, None, None]


def test_timeline_counts_each_answer_once_in_its_second():
    line = Timeline(t0=1000.0)
    line.stage, line.users = "steady", 4
    line.record(1000.2, "grid case", 1.0, None, single=True, cases=1)
    line.record(1000.9, "4xx unknown_event", 2.0, None, expected=True)
    line.record(1002.5, "safety batch", 5.0, None, cases=12)
    line.record(1002.6, "grid case", 9.0, "auto answer without a department", single=True, cases=1)
    doc = json.loads(orjson.dumps(line.wire(), option=orjson.OPT_NON_STR_KEYS))
    seconds = seconds_from_wire(doc)
    assert [s.t for s in seconds] == [0, 1, 2]
    assert [(s.requests, s.failures, s.expected, s.cases) for s in seconds] == [(2, 0, 1, 1), (0, 0, 0, 0),
                                                                               (2, 1, 0, 12)]  # fmt: skip
    assert doc["failures"] == [{"name": "grid case", "message": "auto answer without a department", "count": 1}]
    s = summary(seconds)
    assert (s["requests"], s["failures"], s["expected_4xx"], s["users"]) == (4, 1, 1, 4)
    assert s["single_p50_ms"] == pytest.approx(1.0, rel=0.01)


def test_scenarios_end_by_themselves_and_scale():
    steady = stages("steady", 20)
    assert sum(s.seconds for s in steady) == 60 and {s.users for s in steady} == {20}
    assert sum(s.seconds for s in stages("steady", 20, 0.1)) == pytest.approx(6)
    assert sum(s.seconds for s in stages("soak", 20, seconds=300)) == pytest.approx(300)
    spike = {s.label: s for s in stages("spike", 20)}
    assert spike["spike"].users == SPIKE_FACTOR * 20 and spike["spike"].seconds == 60
    assert spike["before"].users == spike["after"].users == 20
    step = stages("step", 20)
    assert all(b.users > a.users for a, b in pairwise(step))
    assert sum(s.seconds for s in step) <= 180
    with pytest.raises(ValueError):
        stages("marathon", 20)


def _second(t: int, stage: str, p99_ms: float, failures: int = 0) -> Second:
    return Second(t, stage, 10, requests=100, failures=failures, single=Counter({bucket(1.0): 95, bucket(p99_ms): 5}))


def test_capacity_is_the_last_step_that_held_before_one_broke():
    seconds = [_second(t, f"step {t // 10 + 1}", 5.0) for t in range(30)]
    seconds += [_second(t, "step 4", 80.0) for t in range(30, 40)]
    seconds += [_second(t, "step 5", 5.0) for t in range(40, 50)]  # after a break: not counted
    rows = step_results(seconds, Thresholds(p99_ms=25))
    assert [r["held"] for r in rows] == [True, True, True, False, True]
    assert capacity(rows)["step"] == "step 3"
    errors = [_second(t, "step 1", 5.0, failures=1) for t in range(10)]
    assert capacity(step_results(errors, Thresholds(max_error_rate=0.001))) is None


def _step_run(latency, until: float = 1e9, workers: int = 0, lag: int = 0) -> tuple[list[float | None], dict]:
    """The step shape over a simulated clock, as the locustfile drives it, and the report of its timeline.

    The shape ticks once a second (at k + 0.5 s); between ticks 100 answers arrive, each
    of latency(arrival) ms. When the shape stops (or at `until`, a run cut short) a few more answers
    arrive in the same second and the timeline is written, as locust's test_stop does.
    Returns the run times of the ticks that returned None, and the report.

    With `workers`, a distributed run: the answers go round-robin to that many workers (Partial), each
    reporting to the master (Timeline.merge) once a second, `lag` seconds late (worker k: k * lag / n
    more); the master's timeline starts at a whole epoch second, and the shape judges what all reported.
    """
    plan = stages("step", 20, 0.4)  # 12 steps of 6 s
    limits = Thresholds(p99_ms=25, max_error_rate=0.001)
    t0 = 1_700_000_000.0 if workers else 0.0
    shape, line = Shape(plan, limits, judge_steps=True), Timeline(t0)
    parts = [Partial() for _ in range(workers)]
    queues: list[list[tuple[float, dict]]] = [[] for _ in range(workers)]
    reported = [0.0] * workers

    def deliver(until_time: float) -> None:  # reports whose time has come reach the master
        for k, queue in enumerate(queues):
            while queue and queue[0][0] <= until_time:
                _, doc = queue.pop(0)
                line.merge(json.loads(orjson.dumps(doc)))
                reported[k] = doc["now"]

    def record(at: float, ms: float, k: int) -> None:
        if workers:
            parts[k % workers].record(t0 + at, "grid case", ms, None, single=True, cases=1)
        else:
            line.record(at, "grid case", ms, None, single=True, cases=1)

    now, stopped = 0.5, []
    while now < until:
        deliver(t0 + now)
        closed = min(int(r) for r in reported) - int(t0) if workers else None
        if shape.tick(now, line, t0 + now, 10, closed) is None:
            stopped.append(now)
            break
        for j in range(100):
            record(now + j / 100, latency(now + j / 100), j)
        for k in range(workers):  # each worker reports at now + 0.995 (after its answers), arriving later
            sent = t0 + now + 0.995
            queues[k].append((sent + lag * (1 + k) / workers, parts[k].wire(sent)))
            parts[k] = Partial()
        now += 1.0
    for j in range(20):  # answers in flight when the run stops
        record(now + 0.01 + j / 100, 1.0, j)
    for k in range(workers):  # the final reports, as a worker sends on quit
        queues[k].append((0.0, parts[k].wire(t0 + now + 0.2)))
    deliver(float("inf"))
    line.tick(t0 + now + 0.25)
    doc = json.loads(orjson.dumps(line.wire(), option=orjson.OPT_NON_STR_KEYS))
    doc["run"] = {"stages": stage_dicts("step", 20, 0.4), "limits": {"p99_ms": 25, "max_error_rate": 0.001}}
    if hasattr(shape, "wire"):
        doc["shape"] = shape.wire()
    context = {"scenario": "step", "workers": 1, "target": "embedded", "url": "-", "rules": "-", "ruleset_version": "-",
               "users": 20, "scale": 0.4, "seconds": None, "started": "-", "commit": "-", "cores": 2, "pinning": "-",
               "locust_exit": 0, "command": "", "limits": {"p99_ms": 25, "max_error_rate": 0.001,
               "memory_tolerance": 0.05, "memory_slack_mib": 8}}  # fmt: skip
    return stopped, build_report(doc, [], context, None)


def test_the_report_judges_the_steps_the_shape_judged():
    # slow answers in the open second at the end of step 2 (12.0-12.5 s, the shape judges at 12.5), and a
    # step 5 that breaks (24-30 s; 27-29 s judged): the shape must not stop on what the report drops
    stopped, report = _step_run(lambda t: 100.0 if 12 <= t < 12.5 or 28 <= t < 30 else 1.0)
    assert stopped and stopped[0] < 72, "the shape ran on past a broken step"
    assert [(r["step"], r["held"]) for r in report["steps"]] == [(f"step {k}", k < 5) for k in range(1, 6)]
    assert report["capacity"]["step"] == "step 4" and report["capacity_reached"] and report["passed"]
    shape = [(v["step"], v["held"]) for v in report["shape"]["steps"]]
    assert shape == [(r["step"], r["held"]) for r in report["steps"]]
    assert "no step broke" not in render(report)

    # every step held: the schedule ran to its end, and only then is the capacity "at least" the last step
    stopped, report = _step_run(lambda t: 1.0)
    assert len(report["steps"]) == 12 and all(r["held"] for r in report["steps"]), report["steps"]
    assert report["schedule_completed"] and not report["capacity_reached"] and report["passed"]
    assert "no step broke: the capacity is at least this" in render(report)

    # a run cut short (locust stopped otherwise) in step 4: only the steps the shape judged, and no claim
    stopped, report = _step_run(lambda t: 1.0, until=20.2)
    assert not stopped
    assert [r["step"] for r in report["steps"]] == ["step 1", "step 2", "step 3"]
    assert not report["schedule_completed"] and not report["capacity_reached"] and not report["passed"]
    assert "no step broke" not in render(report)


@pytest.mark.parametrize("lag", [0, 2])
def test_a_distributed_run_judges_the_steps_as_one_process_does(lag):
    """Three workers report to the master, late or not: the steps, verdicts and capacity of a local run."""

    def latency(t: float) -> float:
        return 100.0 if 12 <= t < 12.5 or 28 <= t < 30 else 1.0

    _, local = _step_run(latency)
    stopped, report = _step_run(latency, workers=3, lag=lag)
    assert stopped, "the shape never ended the run"
    rows = [(r["step"], r["held"], r["requests"], r["t_start"], r["t_end"]) for r in report["steps"]]
    assert rows == [(r["step"], r["held"], r["requests"], r["t_start"], r["t_end"]) for r in local["steps"]]
    assert report["capacity"]["step"] == "step 4" and report["passed"], report["reasons"]
    shape = [(v["step"], v["held"], v["requests"]) for v in report["shape"]["steps"]]
    assert shape == [(r["step"], r["held"], r["requests"]) for r in report["steps"]]
    # every step held: the shape waits past the schedule for the last step's reports, then ends
    stopped, report = _step_run(lambda t: 1.0, workers=3, lag=lag)
    assert len(report["steps"]) == 12 and report["schedule_completed"] and report["passed"], report["reasons"]


def test_partials_merged_by_second_make_the_timeline_of_one_process():
    rng = random.Random(3)
    t0 = 1_700_000_000.0
    one, merged, parts = Timeline(t0), Timeline(t0), [Partial(), Partial()]
    for at in sorted(t0 + rng.uniform(0, 6) for _ in range(2000)):  # answers come in time order
        name, ms = rng.choice(["grid case", "safety batch"]), rng.uniform(0.1, 50)
        failure = "HTTP 500" if rng.random() < 0.01 else None
        args = (name, ms, failure, rng.random() < 0.02, name == "grid case", rng.randint(1, 3))
        for line in (one, rng.choice(parts)):
            line.record(at, *args)
    for p in parts:
        merged.merge(json.loads(orjson.dumps(p.wire(t0 + 6))))
    assert merged.wire() == one.wire()


def test_the_bottleneck_names_the_side_that_ran_out():
    from bench.load import bottleneck

    assert bottleneck({"server_cpu": 97.0, "locust_busiest": 60.0, "cores_busy": [99, 70]}, 1)["side"] == "server"
    assert bottleneck({"server_cpu": 150.0, "locust_busiest": 99.0, "cores_busy": [99, 99]}, 2)["side"] == "generators"
    shared = bottleneck({"server_cpu": 60.0, "locust_cpu": 120.0, "locust_busiest": 50.0, "cores_busy": [99, 98]}, 1)
    assert shared["side"] == "machine" and "sharing" in shared["detail"]
    others = bottleneck({"server_cpu": 5.0, "locust_cpu": 9.0, "locust_busiest": 4.0, "cores_busy": [100, 100]}, 1)
    assert others["side"] == "machine" and "not this run's" in others["detail"]
    assert bottleneck({"server_cpu": 30.0, "locust_busiest": 20.0, "cores_busy": [40, 35]}, 1)["side"] == "neither"
    # the server's own p99 far under what the kit saw: the generators' queueing, though no CPU is full
    queued = bottleneck({"server_cpu": 27.0, "locust_busiest": 67.0, "cores_busy": [31, 69], "server_p99_ms": 0.7,
                         "single_p99_ms": 25.0}, 1)  # fmt: skip
    assert queued["side"] == "generators" and "0.70 ms" in queued["detail"]
    close = {"server_cpu": 27.0, "locust_busiest": 67.0, "cores_busy": [31, 69], "server_p99_ms": 9.0, "single_p99_ms": 25.0}
    assert bottleneck(close, 1)["side"] == "neither"
    assert bottleneck({"server_cpu": None, "locust_busiest": 20.0, "cores_busy": []}, None)["side"] == "unknown"


def test_memory_verdict_allows_the_tolerance():
    mib = 2**20
    assert memory_verdict(200 * mib, 206 * mib)["verdict"] == "flat"  # within 8 MiB
    assert memory_verdict(200 * mib, 215 * mib)["verdict"] == "grew"  # over 5 % and 8 MiB
    assert memory_verdict(1000 * mib, 1040 * mib)["verdict"] == "flat"  # within 5 %


# -- end to end --------------------------------------------------------------------------------


@pytest.mark.slow  # a load run of its own, about 10 s (make test-slow)
def test_quick_steady_run_ends_with_a_report(tmp_path):
    out = tmp_path / "steady"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "load.py"), "steady", "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["passed"] and report["unexpected_failures"] == 0, report["failures"]
    assert report["overall"]["requests"] > 100 and report["overall"]["single_p99_ms"] > 0
    bad = report["expected_4xx"]
    assert sum(v["requests"] for v in bad.values()) > 0 and all(v["failures"] == 0 for v in bad.values()), bad
    assert {"grid case", "12345 case", "safety batch", "nightly batch"} <= set(report["names"])
    assert report["resources"]["server_rss_max"] > 50 * 2**20
    assert (out / "latency.png").stat().st_size > 10_000
    assert "**PASS**" in (out / "report.md").read_text()


@pytest.mark.slow  # a load run with three locust processes, about 15 s (make test-slow)
def test_quick_distributed_run_merges_the_workers_answers(tmp_path):
    out = tmp_path / "steady"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "load.py"), "steady", "--quick", "--processes", "2",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["run"]["role"] == "master" and report["run"]["workers"] == 2
    assert report["passed"] and report["unexpected_failures"] == 0, report["failures"]
    assert report["overall"]["requests"] > 100 and report["overall"]["single_p99_ms"] > 0
    assert {"grid case", "12345 case", "safety batch"} <= set(report["names"])
    assert "a master and 2 worker processes" in (out / "report.md").read_text()
