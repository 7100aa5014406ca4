"""Scenarios: each name's stages of users over time, and the verdicts that say whether it passed.

    steady  ramp, then the base users for --seconds (default 60 s)
    step    the users grow by a factor each step until a step breaks a threshold (single-case
            p99, unexpected error rate); the sustained capacity is the last step that held
    spike   the base users, then 10x for a minute, then the base users again
    soak    the base users for --seconds (default 600 s); the server's memory after the
            warm-up and at the end must agree within a tolerance

Pure: the locustfile's LoadTestShape walks the stages, bench/load.py reads the verdicts.
`scale` multiplies every duration (bench/load.py --quick uses 0.1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bench.loadstats import Second, Timeline, summary

NAMES = ("steady", "step", "spike", "soak")
DEFAULT_SECONDS = {"steady": 60, "soak": 600}
RAMP_SECONDS = 5  # spawning the users, before a stage is measured
STEP_SECONDS = 15
STEP_FACTOR = 1.5
STEP_MAX = 12  # with STEP_SECONDS: the step scenario ends by itself within 3 minutes
STEP_SETTLE = 3  # the first seconds of a step are not judged: its new users are still spawning
SPIKE_FACTOR = 10
SPIKE_SECONDS = 60
SOAK_WARMUP = 60
# thresholds: what "holding" a load means (bench/load.py takes them as options)
P99_MS = 25.0  # single-case p99, as the locust process sees it
MAX_ERROR_RATE = 0.001  # unexpected failures per request
MEMORY_TOLERANCE = 0.05  # soak: RSS may end this much above its level after the warm-up ...
MEMORY_SLACK_MIB = 8.0  # ... or this many MiB, whichever is more (allocator noise on a small process)


@dataclass(frozen=True, slots=True)
class Stage:
    label: str  # what the report calls it: ramp, steady, step 3, before, spike, after, warm-up, soak
    seconds: float
    users: int
    spawn_rate: float  # users started (or stopped) per second on entering the stage


@dataclass(frozen=True, slots=True)
class Thresholds:
    p99_ms: float = P99_MS
    max_error_rate: float = MAX_ERROR_RATE


def stages(name: str, users: int, scale: float = 1.0, seconds: float | None = None) -> list[Stage]:
    """The stages of scenario `name` with `users` base users; `seconds`: steady's or soak's length."""
    ramp = max(1.0, RAMP_SECONDS * scale)
    fast = users / ramp
    if name in ("steady", "soak"):
        total = (seconds or DEFAULT_SECONDS[name] * scale) - ramp
        if name == "steady":
            return [Stage("ramp", ramp, users, fast), Stage("steady", max(1.0, total), users, fast)]
        warm = min(SOAK_WARMUP * scale, total / 3)
        return [Stage("ramp", ramp, users, fast), Stage("warm-up", warm, users, fast),
                Stage("soak", max(1.0, total - warm), users, fast)]  # fmt: skip
    if name == "step":
        step = max(2.0, STEP_SECONDS * scale)
        out, n = [], float(users)
        for k in range(1, STEP_MAX + 1):
            out.append(Stage(f"step {k}", step, round(n), max(1.0, (round(n) - (out[-1].users if out else 0)) / 2)))
            n *= STEP_FACTOR
        return out
    if name == "spike":
        phase = max(2.0, SPIKE_SECONDS * scale)
        peak = users * SPIKE_FACTOR
        return [Stage("ramp", ramp, users, fast), Stage("before", phase, users, fast),
                Stage("spike", phase, peak, (peak - users) / min(2.0, phase / 4)),
                Stage("after", phase, users, (peak - users) / min(2.0, phase / 4))]  # fmt: skip
    raise ValueError(f"unknown scenario {name!r}: one of {', '.join(NAMES)}")


def stage_seconds(seconds: list[Second], label: str, settle: int = 0) -> list[Second]:
    """The seconds of the stage `label`, its first `settle` left out (all of them if that leaves none)."""
    mine = [s for s in seconds if s.stage == label]
    return mine[settle:] or mine


def step_results(seconds: list[Second], limits: Thresholds) -> list[dict]:
    """Each step's summary and whether it held: single-case p99 and error rate within `limits`."""
    out = []
    labels = list(dict.fromkeys(s.stage for s in seconds if s.stage.startswith("step ")))
    for label in labels:
        window = stage_seconds(seconds, label, STEP_SETTLE)
        row = {"step": label, **summary(window)}
        p99 = row["single_p99_ms"]
        row["held"] = p99 is not None and p99 <= limits.p99_ms and row["error_rate"] <= limits.max_error_rate
        out.append(row)
    return out


def capacity(steps: list[dict]) -> dict | None:
    """The sustained capacity: the last step that held before the first that broke; None when the first broke."""
    best = None
    for row in steps:
        if not row["held"]:
            break
        best = row
    return best


def judge_step(seconds: list[Second], label: str, limits: Thresholds) -> dict | None:
    """The step `label`'s row (summary, held), None when it has no second."""
    rows = [r for r in step_results(seconds, limits) if r["step"] == label]
    return rows[0] if rows else None


STOPPED = "stopped"  # the stage of the seconds after the shape ended the run: no stage's, never judged
REPORT_GRACE = 10.0  # seconds the shape waits past the schedule for the workers' last reports


class Shape:
    """The load shape's stage walk, without locust: the locustfile's LoadTestShape asks it each tick.

    It labels the timeline with the stage it starts and, with `judge_steps`, judges each step once
    the next has begun (or the schedule has ended), on the step's closed seconds only: the second
    still open at the tick is relabelled with the next stage (or STOPPED), so the step's seconds in
    the timeline written at the end are exactly the ones it judged, and the report's verdict,
    computed from them again, is the shape's. It ends the run (None) after the last stage, or after
    the first step that broke. `wire()` says which steps it judged and why the run ended.
    """

    def __init__(self, plan: list[Stage], limits: Thresholds, judge_steps: bool = False):
        self.plan = plan
        self.limits = limits
        self.judge_steps = judge_steps
        self.judged: list[dict] = []  # the step rows, in order, as the shape judged them
        self.ended: str | None = None  # "broke": a step broke; "schedule": every stage ran
        self._next = 0  # the first stage not yet judged
        self._current: int | None = None
        self._switches: list[tuple[int, int]] = []  # (stage index entered, the timeline second it began in)
        self._grace_until: float | None = None

    def tick(self, run_time: float, line: Timeline, now: float, users: int,
             closed_before: int | None = None) -> tuple[int, float] | None:  # fmt: skip
        """(users, spawn rate) for the stage at `run_time` (s since the shape began), None to stop.

        `closed_before`: in a distributed run, the first second of the timeline that some worker has
        not reported yet; a step is judged once all of its seconds are in (locally: at once)."""
        if self.ended is not None:
            return None
        elapsed, i = 0.0, len(self.plan)
        for k, stage in enumerate(self.plan):
            elapsed += stage.seconds
            if run_time < elapsed:
                i = k
                break
        here = line.second_of(now)
        if i != self._current:
            self._current = i
            self._switches.append((i, here))
        limit = here if closed_before is None else min(here, closed_before)
        if self.judge_steps:
            while self._next < i:
                end = min((second for index, second in self._switches if index > self._next), default=here)
                if end > limit:  # a worker has yet to report some of the step's seconds
                    break
                stage = self.plan[self._next]
                self._next += 1
                row = judge_step([s for s in line.seconds if s.t < limit], stage.label, self.limits)
                if row is None:  # no second of it: the shape never ticked inside it
                    continue
                self.judged.append(row)
                if not row["held"]:
                    self.ended = "broke"
                    break
        waiting = self.judge_steps and self._next < i
        if self.ended is None and i == len(self.plan):
            if waiting and (self._grace_until is None or now < self._grace_until):
                # the schedule ran out but a step's last seconds are still on their way from a worker:
                # the load goes on (its seconds labelled stopped, never judged) until they are in
                self._grace_until = self._grace_until or now + REPORT_GRACE
                line.stage, line.users = STOPPED, users
                line.tick(now)
                return self.plan[-1].users, self.plan[-1].spawn_rate
            self.ended = "schedule"
        line.stage = STOPPED if self.ended else self.plan[i].label
        line.users = users
        line.tick(now)
        return None if self.ended else (self.plan[i].users, self.plan[i].spawn_rate)

    def wire(self) -> dict:
        return {"steps": self.judged, "ended": self.ended}


def memory_verdict(rss_after_warmup: float, rss_end: float, tolerance: float = MEMORY_TOLERANCE,
                   slack_mib: float = MEMORY_SLACK_MIB) -> dict:  # fmt: skip
    """flat or grew: `rss_end` (bytes) against `rss_after_warmup`, within the tolerance."""
    allowed = max(rss_after_warmup * tolerance, slack_mib * 2**20)
    grew = rss_end - rss_after_warmup
    return {"rss_start": rss_after_warmup, "rss_end": rss_end, "growth": grew, "allowed": allowed,
            "tolerance": tolerance, "slack_mib": slack_mib, "verdict": "grew" if grew > allowed else "flat"}  # fmt: skip


def stage_dicts(name: str, users: int, scale: float = 1.0, seconds: float | None = None) -> list[dict]:
    return [asdict(s) for s in stages(name, users, scale, seconds)]
