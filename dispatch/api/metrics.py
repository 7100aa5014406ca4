"""Metrics: counters and latency histograms of one worker, in the Prometheus text format.

Hand-rolled rather than prometheus_client: recording a request here is a few dict and
list operations (about 0.3 us), where prometheus_client's labelled metrics take a lock
and look up a child per call; on a 30 us request that difference shows (see bench/http.py).

With `--workers N` a scrape reaches one worker of N, so each worker writes a snapshot of
its counts every second into the directory the supervisor names (DISPATCH_METRICS_DIR),
and /metrics shows the sum over every worker that has run (a worker that exited keeps
its counts, so counters never go down), its own counts live, the others' at most a
second old; `dispatch_worker_ruleset` says which version each worker serves. The hot
path pays nothing for it (prometheus_client's multiprocess mode writes an mmap per
observation instead).
"""

from __future__ import annotations

import json
import os
import time
from bisect import bisect_left
from pathlib import Path

from dispatch.core.outcomes import STATUS_CODES

# seconds; single cases answer in tens of microseconds, 10,000-case batches in milliseconds
BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Histogram:
    """Counts per bucket (not cumulative until exposition), their sum and count."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.sum += seconds


class Metrics:
    """Everything /metrics shows for this worker."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = {}
        self.latency: dict[str, Histogram] = {}
        self.decisions = [0] * len(STATUS_CODES)
        self.case_errors: dict[str, int] = {}  # field-error code -> count: unknown codes, bad times, ...
        self.reloads: dict[str, int] = {}
        self.started = time.time()
        self.decision_log = None  # a DecisionLog when one is written: its counts show here

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        key = (endpoint, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        hist = self.latency.get(endpoint)
        if hist is None:
            hist = self.latency[endpoint] = Histogram()
        hist.observe(seconds)

    def tally(self, statuses: list[int], errors: dict[str, int]) -> None:
        for i, n in enumerate(statuses):
            self.decisions[i] += n
        for code, n in errors.items():
            self.case_errors[code] = self.case_errors.get(code, 0) + n

    def case_error(self, code: str) -> None:
        self.case_errors[code] = self.case_errors.get(code, 0) + 1

    def reload(self, outcome: str) -> None:
        self.reloads[outcome] = self.reloads.get(outcome, 0) + 1

    # -- across workers -------------------------------------------------------------------

    def snapshot(self, version: str | None) -> dict:
        return {
            "pid": os.getpid(),
            "version": version,
            "requests": [[e, s, n] for (e, s), n in self.requests.items()],
            "latency": {e: [h.counts, h.sum] for e, h in self.latency.items()},
            "decisions": self.decisions,
            "case_errors": self.case_errors,
            "reloads": self.reloads,
            "log": [self.decision_log.written, self.decision_log.dropped] if self.decision_log is not None else None,
        }

    def write_snapshot(self, directory: str, version: str | None) -> None:
        """This worker's counts, for the others' /metrics (written whole: a temporary file, then a rename)."""
        target = Path(directory) / f"worker-{os.getpid()}.json"
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.snapshot(version)))
        os.replace(tmp, target)

    def summed(self, directory: str, version: str | None) -> tuple[Metrics, dict[int, str | None]]:
        """These counts plus every other worker's last snapshot; and the version each worker serves."""
        total = Metrics()
        total.started = self.started
        total.decision_log = self.decision_log
        versions: dict[int, str | None] = {}
        snapshots = [self.snapshot(version)]
        for f in sorted(Path(directory).glob("worker-*.json")):
            try:
                snap = json.loads(f.read_text())
            except (OSError, ValueError):
                continue
            if snap.get("pid") != os.getpid():
                snapshots.append(snap)
        log = [0, 0]
        for snap in snapshots:
            versions[snap["pid"]] = snap.get("version")
            for e, s, n in snap["requests"]:
                total.requests[(e, s)] = total.requests.get((e, s), 0) + n
            for e, (counts, seconds) in snap["latency"].items():
                hist = total.latency.setdefault(e, Histogram())
                hist.counts = [a + b for a, b in zip(hist.counts, counts)]
                hist.sum += seconds
            total.decisions = [a + b for a, b in zip(total.decisions, snap["decisions"])]
            for code, n in snap["case_errors"].items():
                total.case_errors[code] = total.case_errors.get(code, 0) + n
            for outcome, n in snap["reloads"].items():
                total.reloads[outcome] = total.reloads.get(outcome, 0) + n
            if snap.get("log"):
                log = [log[0] + snap["log"][0], log[1] + snap["log"][1]]
        total.log_counts = tuple(log) if self.decision_log is not None else None
        return total, versions

    log_counts: tuple[int, int] | None = None  # decisions (written, dropped) when summed over workers

    refused = False  # the latest load of this worker was refused (set by the app before each exposition)

    def exposition(self, ruleset: dict | None, ready: bool, versions: dict[int, str | None] | None = None) -> str:
        """The text exposition format (version 0.0.4)."""
        out: list[str] = []

        def family(name: str, kind: str, help_: str) -> None:
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {kind}")

        family("dispatch_http_requests_total", "counter", "HTTP requests answered, by endpoint and status.")
        for (endpoint, status), n in sorted(self.requests.items()):
            out.append(f'dispatch_http_requests_total{{endpoint="{endpoint}",status="{status}"}} {n}')
        family("dispatch_http_request_duration_seconds", "histogram", "Time to answer an HTTP request, by endpoint.")
        for endpoint, hist in sorted(self.latency.items()):
            running = 0
            for bound, n in zip((*BUCKETS, float("inf")), hist.counts):
                running += n
                le = "+Inf" if bound == float("inf") else repr(bound)
                out.append(
                    f'dispatch_http_request_duration_seconds_bucket{{endpoint="{endpoint}",le="{le}"}} {running}'
                )
            out.append(f'dispatch_http_request_duration_seconds_sum{{endpoint="{endpoint}"}} {hist.sum!r}')
            out.append(f'dispatch_http_request_duration_seconds_count{{endpoint="{endpoint}"}} {running}')
        family("dispatch_decisions_total", "counter", "Cases decided, by status.")
        for status, n in zip(STATUS_CODES, self.decisions):
            out.append(f'dispatch_decisions_total{{status="{status.value}"}} {n}')
        family("dispatch_case_errors_total", "counter", "Cases refused, by error code (unknown codes, bad times, ...).")
        for code, n in sorted(self.case_errors.items()):
            out.append(f'dispatch_case_errors_total{{code="{code}"}} {n}')
        family("dispatch_reloads_total", "counter", "Rule-set reloads, by outcome.")
        for outcome, n in sorted(self.reloads.items()):
            out.append(f'dispatch_reloads_total{{outcome="{outcome}"}} {n}')
        if self.decision_log is not None:
            written, dropped = self.log_counts or (self.decision_log.written, self.decision_log.dropped)
            family("dispatch_decision_log_written_total", "counter", "Decisions written to the decision log.")
            out.append(f"dispatch_decision_log_written_total {written}")
            family(
                "dispatch_decision_log_dropped_total",
                "counter",
                "Decisions not logged: the queue was full or the sink failed.",
            )
            out.append(f"dispatch_decision_log_dropped_total {dropped}")
        family(
            "dispatch_ruleset_refused", "gauge", "1 while this worker's latest load was refused (the old set serves)."
        )
        out.append(f"dispatch_ruleset_refused {int(self.refused)}")
        family("dispatch_ready", "gauge", "1 once a rule set is compiled and warm.")
        out.append(f"dispatch_ready {int(ready)}")
        if ruleset is not None:
            family("dispatch_ruleset_info", "gauge", "The rule set served: name and version.")
            name, version = _label(ruleset["name"]), _label(ruleset["version"])
            out.append(f'dispatch_ruleset_info{{name="{name}",version="{version}"}} 1')
            family("dispatch_ruleset_rules", "gauge", "Rules in the rule set served.")
            out.append(f"dispatch_ruleset_rules {ruleset['counts']['rules']}")
        if versions:
            family("dispatch_workers", "gauge", "Workers whose counts are summed here.")
            out.append(f"dispatch_workers {len(versions)}")
            family("dispatch_worker_ruleset", "gauge", "The rule-set version each worker serves (or served last).")
            for pid, version in sorted(versions.items()):
                out.append(f'dispatch_worker_ruleset{{worker="{pid}",version="{_label(version or "none")}"}} 1')
        family("dispatch_process_start_time_seconds", "gauge", "When this worker started, in Unix time.")
        out.append(f"dispatch_process_start_time_seconds {self.started!r}")
        return "\n".join(out) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
