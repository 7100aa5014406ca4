"""The calling systems under load: four locust users, the scenarios as one load shape, every answer checked.

    grid      the grid case system: steady, single cases, one every 0.1 s per user
    hotline   the 12345 hotline: bursts of single cases, many only at town level, then a pause
    safety    the work-safety system: small batches (2-20 cases)
    nightly   the nightly re-dispatch of the history: large batches (500-1,000), one user

Request bodies are built before the run from the synthetic case history of --rules
(bench/loadcases.py). A share of requests (--bad-share) is bad on purpose: broken JSON,
unknown event, area or source, a missing field, a wrong type; each must get its
problem+json status and code, and is counted as "expected 4xx" (request names "4xx ...").
Batches carry bad members too, which must get their error in place. Any other answer
that is wrong is a failure whose message names what was wrong (bench/loadcases.py).

The scenario is chosen by name (--scenario steady|step|spike|soak, bench/scenarios.py) and
ends by itself. bench/load.py runs it with the server and writes the report; by hand:

    python -m locust -f bench/locustfile.py --headless --host http://127.0.0.1:8000 --scenario spike

Distributed (locust --processes N, or --master and --worker on several machines): the workers
send the users' answers to the master every second (Partial, with locust's own worker reports),
the master merges them into one timeline by epoch second and runs the shape, which judges a
step once every worker has reported all of its seconds. The machines' clocks must agree (NTP).

Never import this module in the test process: locust monkey-patches sockets (gevent).
"""

from __future__ import annotations

import logging
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import gevent
import locust.runners
import orjson
from locust import LoadTestShape, between, constant_pacing, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.runners import MasterRunner, WorkerRunner

from bench import loadcases
from bench.loadstats import Partial, Timeline
from bench.scenarios import MAX_ERROR_RATE, NAMES, P99_MS, Shape, Thresholds, stage_dicts, stages

PATH = "/v1/dispatch"
HEADERS = {"Content-Type": "application/json"}
log = logging.getLogger("dispatch.loadshape")
SAFETY_BATCH = (2, 20)
NIGHTLY_BATCH = (500, 1000)  # larger answers hold the generator's one thread up while they are parsed
# a distributed run's timeline is per second: workers report every second, not every 3 (locust's default)
locust.runners.WORKER_REPORT_INTERVAL = 1.0


@dataclass
class Shared:
    """What the run shares: its options, the prepared bodies, and the timeline every answer goes to."""

    options: object = None
    grid: list[loadcases.Single] = field(default_factory=list)
    hotline: list[loadcases.Single] = field(default_factory=list)
    safety: list[loadcases.Batch] = field(default_factory=list)
    nightly: list[loadcases.Batch] = field(default_factory=list)
    bad: list[loadcases.Bad] = field(default_factory=list)
    bad_share: float = 0.0
    timeline: Timeline | None = None
    shape: Shape | None = None
    info: dict = field(default_factory=dict)
    role: str = "local"  # local (one process), master or worker (distributed)
    partial: Partial | None = None  # a worker's answers since its last report
    reported: dict[str, float] = field(default_factory=dict)  # the master's: worker id -> its last report's time


Run = Shared()


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    group = parser.add_argument_group("dispatch load kit")
    group.add_argument("--scenario", choices=NAMES, default="steady", help="the load shape (bench/scenarios.py)")
    group.add_argument("--base-users", type=int, default=20, help="users of steady, soak and spike's base; step's first")
    group.add_argument("--duration-scale", type=float, default=1.0, help="multiplies every duration (0.1: quick)")
    group.add_argument("--scenario-seconds", type=float, default=0, help="steady's or soak's length (0: default)")
    group.add_argument("--rules", default=str(ROOT / "rules" / "daxing"), help="the rule set the cases are drawn from")
    group.add_argument("--history", type=int, default=20_000, help="cases drawn from the synthetic history")
    group.add_argument("--seed", type=int, default=5)
    group.add_argument("--bad-share", type=float, default=0.02, help="share of requests (and batch members) bad on purpose")
    group.add_argument("--p99-ms", type=float, default=P99_MS, help="step: the single-case p99 a step must hold")
    group.add_argument("--max-error-rate", type=float, default=MAX_ERROR_RATE, help="step: unexpected failures a step may have")
    group.add_argument("--timeline", default="", help="write the per-second timeline (JSON) here at the end")


@events.init.add_listener
def _prepare(environment, **_kw) -> None:
    """Build every request body before the first user starts."""
    o = environment.parsed_options
    if o is None:
        return
    runner = environment.runner
    Run.role = "master" if isinstance(runner, MasterRunner) else "worker" if isinstance(runner, WorkerRunner) else "local"
    if Run.role == "worker":
        Run.partial = Partial()
    rng = random.Random(o.seed)
    history = loadcases.case_history(o.rules, o.history, o.seed)
    areas = loadcases.read_areas(o.rules)
    pools = loadcases.by_system(history)
    hotline = loadcases.lift_to_town(pools["hotline"], areas, loadcases.HOTLINE_TOWN_SHARE, rng)
    Run.options = o
    Run.grid = loadcases.singles(pools["grid"])
    Run.hotline = loadcases.singles(hotline)
    Run.safety = loadcases.batches(pools["safety"] or history, SAFETY_BATCH, 500, o.bad_share, rng)
    Run.nightly = loadcases.batches(history, NIGHTLY_BATCH, 12, o.bad_share / 10, rng)
    Run.bad = loadcases.bad_requests(history[0])
    Run.bad_share = o.bad_share
    Run.info = {
        "history": len(history), "grid_cases": len(Run.grid), "hotline_cases": len(Run.hotline),
        "hotline_town_share": loadcases.town_share(hotline, areas),
        "hotline_town_share_generated": loadcases.town_share(pools["hotline"], areas),
        "safety_batches": len(Run.safety), "nightly_batches": len(Run.nightly),
        "bad_kinds": [b.kind for b in Run.bad], "bad_share": o.bad_share,
    }  # fmt: skip


def timeline() -> Timeline:
    """The run's timeline, begun by whichever comes first: the test's start or the shape's first tick."""
    if Run.timeline is None:  # a master's starts on a whole second: its workers report by epoch second
        Run.timeline = Timeline(math.floor(time.time()) if Run.role == "master" else time.time())
    return Run.timeline


@events.test_start.add_listener
def _start(**_kw) -> None:
    timeline()


@events.request.add_listener
def _record(name, response_time, exception=None, context=None, **_kw) -> None:
    line = Run.partial if Run.role == "worker" else Run.timeline
    if line is None:
        return
    context = context or {}
    failure = None if exception is None else (str(exception) or type(exception).__name__)
    line.record(time.time(), name, response_time, failure, expected=context.get("expected", False),
                        single=context.get("single", False), cases=context.get("cases", 0))  # fmt: skip


@events.report_to_master.add_listener
def _report(client_id, data, **_kw) -> None:
    """A worker's answers since its last report go along with locust's own stats (every second)."""
    if Run.partial is None:
        return
    now = time.time()  # no switch between here and the swap: every answer before `now` is in this report
    part, Run.partial = Run.partial, Partial()
    data["dispatch"] = part.wire(now)


@events.worker_report.add_listener
def _merge(client_id, data, **_kw) -> None:
    doc = data.get("dispatch")
    if doc is None:
        return
    timeline().merge(doc)
    Run.reported[client_id] = max(Run.reported.get(client_id, 0.0), doc["now"])


def closed_before(runner) -> int | None:
    """A master's: the first second of the timeline that some worker has not reported yet (None: not a master)."""
    if Run.role != "master":
        return None
    ids = [c.id for c in runner.clients.all] if runner is not None else []
    line = timeline()
    return min((int(Run.reported.get(i, 0.0)) for i in ids), default=0) - int(line.t0)


@events.test_stop.add_listener
def _stopped(**_kw) -> None:
    if Run.role == "local":
        _write()


@events.quitting.add_listener
def _quitting(**_kw) -> None:
    if Run.role == "master":  # after the workers' final reports (the master waits for them on quit)
        _write()


def _write() -> None:
    o = Run.options
    if Run.timeline is None or o is None or not o.timeline:
        return
    Run.timeline.tick(time.time())
    doc = Run.timeline.wire()
    doc["run"] = {"role": Run.role, "workers": len(Run.reported), "scenario": o.scenario, "base_users": o.base_users, "duration_scale": o.duration_scale,
                  "stages": stage_dicts(o.scenario, o.base_users, o.duration_scale, o.scenario_seconds or None),
                  "limits": {"p99_ms": o.p99_ms, "max_error_rate": o.max_error_rate}, **Run.info}  # fmt: skip
    doc["shape"] = Run.shape.wire() if Run.shape is not None else {"steps": [], "ended": None}
    Path(o.timeline).write_bytes(orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS))


class _System(FastHttpUser):
    """A calling system's connection: posts prepared bodies and checks every answer."""

    abstract = True
    connection_timeout = 5.0
    network_timeout = 30.0

    def post_single(self, item: loadcases.Single, name: str) -> None:
        with self.client.post(PATH, data=item.body, headers=HEADERS, name=name, catch_response=True,
                              context={"single": True, "cases": 1}) as r:  # fmt: skip
            err = loadcases.single_error(r.status_code, r.headers.get("content-type"), r.content or b"", item.case,
                                         r.headers.get("dispatch-ruleset"))  # fmt: skip
            r.failure(err) if err else r.success()

    def post_bad(self) -> None:
        bad = random.choice(Run.bad)
        with self.client.post(PATH, data=bad.body, headers=HEADERS, name=f"4xx {bad.kind}", catch_response=True,
                              context={"expected": True}) as r:  # fmt: skip
            err = loadcases.problem_error(r.status_code, r.headers.get("content-type"), r.content or b"", bad)
            r.failure(err) if err else r.success()

    def post_batch(self, batch: loadcases.Batch, name: str) -> None:
        with self.client.post(PATH, data=batch.body, headers=HEADERS, name=name, catch_response=True,
                              context={"cases": len(batch.cases)}) as r:  # fmt: skip
            err = loadcases.batch_error(r.status_code, r.headers.get("content-type"), r.content or b"", batch,
                                        pause=gevent.sleep)  # fmt: skip
            r.failure(err) if err else r.success()


class GridSystem(_System):
    """网格案件办理系统: patrol and supervisor reports, one case a request, at a steady pace."""

    weight = 6
    wait_time = constant_pacing(0.1)

    @task
    def run_once(self) -> None:
        if random.random() < Run.bad_share:
            self.post_bad()
        else:
            self.post_single(random.choice(Run.grid), "grid case")


class Hotline(_System):
    """12345: calls come in bursts (a shift's backlog entered at once), then a pause."""

    weight = 3

    def on_start(self) -> None:
        self.left = 0

    def wait_time(self) -> float:
        if self.left > 0:
            self.left -= 1
            return random.uniform(0.0, 0.02)
        self.left = random.randint(3, 12)
        return random.uniform(1.0, 3.0)

    @task
    def run_once(self) -> None:
        if random.random() < Run.bad_share:
            self.post_bad()
        else:
            self.post_single(random.choice(Run.hotline), "12345 case")


class WorkSafety(_System):
    """安全生产系统: inspections sent in small batches."""

    weight = 1
    wait_time = between(0.5, 1.5)

    @task
    def run_once(self) -> None:
        self.post_batch(random.choice(Run.safety), "safety batch")


class NightlyBatch(_System):
    """The nightly re-dispatch of the case history: one user, large batches."""

    fixed_count = 1
    wait_time = constant_pacing(5.0)

    @task
    def run_once(self) -> None:
        self.post_batch(random.choice(Run.nightly), "nightly batch")


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


class Scenario(LoadTestShape):
    """The scenario named by --scenario, stage by stage; step stops after the first step that broke."""

    def tick(self):
        o = Run.options
        if o is None:
            return None
        if Run.shape is None:
            plan = stages(o.scenario, o.base_users, o.duration_scale, o.scenario_seconds or None)
            Run.shape = Shape(plan, Thresholds(o.p99_ms, o.max_error_rate), judge_steps=o.scenario == "step")
        judged = len(Run.shape.judged)
        answer = Run.shape.tick(self.get_run_time(), timeline(), time.time(), self.get_current_user_count(),
                                closed_before(self.runner))  # fmt: skip
        for row in Run.shape.judged[judged:]:  # locust.log: the shape's verdicts, to hold the report to
            log.info("%s %s: %d users, single-case p99 %s ms, error rate %.3f %% (seconds %d-%d, %d requests)",
                     row["step"], "held" if row["held"] else "BROKE", row["users"], _ms(row["single_p99_ms"]),
                     100 * row["error_rate"], row["t_start"], row["t_end"], row["requests"])  # fmt: skip
        if answer is None:
            log.info("the shape ends the run: %s", {"broke": "a step broke", "schedule": "the schedule ran out"}.get(
                Run.shape.ended, Run.shape.ended))  # fmt: skip
        return answer
