"""Load stats: every answer's latency, second by second, in log histograms precise to 1 %.

Locust keeps response times rounded to whole milliseconds, too coarse for a service that
answers in a fraction of one; the locustfile feeds every request to a Timeline instead,
which keeps, per second of the run: the scenario stage, the users, the requests, the
unexpected failures, the deliberate bad requests answered as they must be, the cases
dispatched, and two latency histograms (all requests; good single cases only, the
latency the calling systems' contract is about). Any window's percentiles are the merge
of its seconds. Needs no locust: the report and the tests read the same JSON.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

_PER_LOG = 1 / math.log(1.01)  # bucket width: 1 % of the value


def bucket(ms: float) -> int:
    return math.floor(math.log(max(ms, 1e-3)) * _PER_LOG)


def bucket_ms(key: int) -> float:
    """The middle of a bucket, in ms."""
    return math.exp((key + 0.5) / _PER_LOG)


def percentiles(hist: Counter, qs: Iterable[float] = (0.5, 0.95, 0.99)) -> list[float | None]:
    """The `qs` quantiles (0..1) of a histogram {bucket: count}, in ms; None when it is empty."""
    qs = list(qs)
    total = sum(hist.values())
    if not total:
        return [None] * len(qs)
    out, seen, keys = [], 0, sorted(hist)
    i = 0
    for q in qs:
        rank = max(1, math.ceil(q * total))
        while seen + hist[keys[i]] < rank:
            seen += hist[keys[i]]
            i += 1
        out.append(bucket_ms(keys[i]))
    return out


@dataclass
class Second:
    """What happened in one second of the run (answers counted when they arrived)."""

    t: int
    stage: str = ""
    users: int = 0
    requests: int = 0
    failures: int = 0  # unexpected: a wrong answer, a wrong status, no answer
    expected: int = 0  # deliberate bad requests that got the 4xx they must get
    cases: int = 0  # cases answered (a batch counts its members)
    all: Counter = field(default_factory=Counter)
    single: Counter = field(default_factory=Counter)

    def wire(self) -> dict:
        doc = {k: getattr(self, k) for k in ("t", "stage", "users", "requests", "failures", "expected", "cases")}
        doc["all"] = dict(self.all)
        doc["single"] = dict(self.single)
        return doc

    @classmethod
    def from_wire(cls, doc: dict) -> Second:
        hist = {k: Counter({int(b): n for b, n in doc[k].items()}) for k in ("all", "single")}
        return cls(**{k: doc[k] for k in ("t", "stage", "users", "requests", "failures", "expected", "cases")}, **hist)


class Timeline:
    """The run second by second, fed one answer at a time (Timeline.record) by the locustfile."""

    def __init__(self, t0: float):
        self.t0 = t0
        self.seconds: list[Second] = []
        self.stage = ""
        self.users = 0
        self.failures: Counter = Counter()  # (request name, message) -> count
        self.names: dict[str, list[int]] = {}  # request name -> [requests, failures]

    def second_of(self, now: float) -> int:
        return int(now - self.t0)

    def _second(self, now: float) -> Second:
        t = self.second_of(now)
        while not self.seconds or self.seconds[-1].t < t:
            self.seconds.append(Second(len(self.seconds) and self.seconds[-1].t + 1, self.stage, self.users))
        s = self.seconds[-1]
        s.stage, s.users = self.stage, self.users  # the latest word on the second
        return s

    def record(self, now: float, name: str, ms: float, failure: str | None, expected: bool = False,
               single: bool = False, cases: int = 0) -> None:  # fmt: skip
        count(self._second(now), self.names, self.failures, name, ms, failure, expected, single, cases)

    def _at(self, t: int) -> Second:
        """The second `t` (since t0), made (with the stage and users of now) if the run has not reached it."""
        while not self.seconds or self.seconds[-1].t < t:
            self.seconds.append(Second(len(self.seconds) and self.seconds[-1].t + 1, self.stage, self.users))
        return self.seconds[t]

    def merge(self, doc: dict) -> None:
        """Add a worker's report (Partial.wire: answers by epoch second) into this timeline, whose t0 must
        be a whole epoch second: the master of a distributed run (locust --processes, --master/--worker)."""
        for wire in doc["seconds"]:
            theirs = Second.from_wire(wire)
            mine = self._at(max(0, theirs.t - int(self.t0)))
            for k in ("requests", "failures", "expected", "cases"):
                setattr(mine, k, getattr(mine, k) + getattr(theirs, k))
            mine.all.update(theirs.all)
            mine.single.update(theirs.single)
        for name, message, n in doc["failures"]:
            self.failures[(name, message)] += n
        for name, (r, f) in doc["names"].items():
            counts = self.names.setdefault(name, [0, 0])
            counts[0] += r
            counts[1] += f

    def tick(self, now: float) -> None:
        """Close the seconds up to `now`, so that an idle second still shows."""
        self._second(now)

    def wire(self) -> dict:
        return {
            "t0": self.t0,
            "seconds": [s.wire() for s in self.seconds],
            "failures": [{"name": n, "message": m, "count": c} for (n, m), c in self.failures.most_common()],
            "names": {n: {"requests": r, "failures": f} for n, (r, f) in sorted(self.names.items())},
        }


def count(s: Second, names: dict, failures: Counter, name: str, ms: float, failure: str | None, expected: bool,
          single: bool, cases: int) -> None:
    """One answer into its second and the run's per-name counts (Timeline and Partial alike)."""
    s.requests += 1
    counts = names.setdefault(name, [0, 0])
    counts[0] += 1
    if failure is not None:
        s.failures += 1
        counts[1] += 1
        failures[(name, failure)] += 1
        return
    s.cases += cases
    if expected:
        s.expected += 1
        return
    b = bucket(ms)
    s.all[b] += 1
    if single:
        s.single[b] += 1


class Partial:
    """A locust worker's answers since its last report to the master, by epoch second (Timeline.merge)."""

    def __init__(self):
        self.seconds: dict[int, Second] = {}
        self.failures: Counter = Counter()
        self.names: dict[str, list[int]] = {}

    def record(self, now: float, name: str, ms: float, failure: str | None, expected: bool = False,
               single: bool = False, cases: int = 0) -> None:  # fmt: skip
        t = int(now)
        s = self.seconds.get(t) or self.seconds.setdefault(t, Second(t))
        count(s, self.names, self.failures, name, ms, failure, expected, single, cases)

    def wire(self, now: float) -> dict:
        """The report; `now`: every answer before it is in this report or an earlier one."""
        seconds = [{**w, "all": {str(b): n for b, n in w["all"].items()}, "single": {str(b): n for b, n in
                    w["single"].items()}} for w in (s.wire() for _, s in sorted(self.seconds.items()))]  # fmt: skip
        return {"now": now, "seconds": seconds,
                "failures": [[n, m, c] for (n, m), c in self.failures.items()], "names": self.names}  # fmt: skip


def seconds_from_wire(doc: dict) -> list[Second]:
    return [Second.from_wire(s) for s in doc["seconds"]]


def summary(seconds: list[Second]) -> dict:
    """Throughput, errors and latency percentiles (ms) of a window of seconds."""
    n = len(seconds)
    all_, single = Counter(), Counter()
    for s in seconds:
        all_.update(s.all)
        single.update(s.single)
    requests = sum(s.requests for s in seconds)
    failures = sum(s.failures for s in seconds)
    p50, p95, p99 = percentiles(all_)
    s50, s95, s99 = percentiles(single)
    return {
        "seconds": n,
        "t_start": seconds[0].t if seconds else 0,
        "t_end": seconds[-1].t + 1 if seconds else 0,
        "requests": requests,
        "rps": requests / n if n else 0.0,
        "cases_per_s": sum(s.cases for s in seconds) / n if n else 0.0,
        "failures": failures,
        "error_rate": failures / requests if requests else 0.0,
        "expected_4xx": sum(s.expected for s in seconds),
        "users": sorted(s.users for s in seconds)[n // 2] if n else 0,  # the median: a window may hold a ramp
        "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
        "single_p50_ms": s50, "single_p95_ms": s95, "single_p99_ms": s99,
    }  # fmt: skip
