"""Load test: one scenario against the service, with one command, ending by itself with a report.

    python bench/load.py steady                     # 60 s at the base users, 1 worker
    python bench/load.py steady --workers 2         # the same against 2 workers
    python bench/load.py step                       # ramp until p99 or errors break: the sustained capacity
    python bench/load.py spike                      # base, 10x for a minute, base again
    python bench/load.py soak --seconds 600         # the server's memory after the warm-up and at the end
    python bench/load.py steady --quick             # every duration x 0.1: a smoke run of a few seconds
    python bench/load.py steady --url http://host:8000   # any running service (not sampled)
    python bench/load.py step --processes 3         # locust distributed: a master and 3 worker processes

Without --url it starts `dispatch serve` on the embedded rule set on a free port, waits
for /readyz, and pins the server and locust to different CPUs (taskset) when the machine
has a core more than the workers. Then it runs bench/locustfile.py headless with the
scenario, samples the server's CPU and memory (every process: workers included) and the
locust process's CPU every second, stops everything, and writes into --out (default
bench/out/load/<scenario>-<workers>w-<time>): report.md, report.json, latency.png,
timeline.json (per second), locust's CSVs and log, and the server's log.

Exit status: 0 when the scenario passed (no unexpected error; step: a capacity found, or
every step held; soak: memory flat), 1 when it did not, 2 when it could not run.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0] and __import__("os").path.abspath(sys.path[0]) == __import__("os").path.dirname(
    __import__("os").path.abspath(__file__)
):  # run as a script: bench/http.py would shadow the standard library's http; the root goes in its place
    sys.path[0] = __import__("os").path.dirname(__import__("os").path.abspath(sys.path[0]))

import argparse
import json
import os
import statistics
import subprocess
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from bench.loadstats import Second, percentiles, seconds_from_wire, summary
from bench.procs import ROOT, can_pin, free_port, pinned, start
from bench.scenarios import (
    MAX_ERROR_RATE,
    MEMORY_SLACK_MIB,
    MEMORY_TOLERANCE,
    NAMES,
    P99_MS,
    STEP_FACTOR,
    STEP_SECONDS,
    STEP_SETTLE,
    STOPPED,
    Thresholds,
    capacity,
    memory_verdict,
    stage_seconds,
    stages,
    step_results,
)

PY = sys.executable
DEFAULT_USERS = 20
QUICK_SCALE = 0.1
REMOTE_NOTE = ("The service was not started here: its CPU and memory are not sampled, and the latencies include "
               "the network to it. Locust's own CPU time is in them too.")
SHARED_NOTE = ("The load generator (locust: one Python process) runs on the same machine as the server and "
               "shares its cores; locust's own CPU time is in the latencies it measures. Figures from a shared "
               "machine are noisy: compare medians of several runs.")  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", choices=NAMES)
    p.add_argument("--workers", type=int, default=1, help="server workers (ignored with --url)")
    p.add_argument("--url", help="test this running service instead of starting one (its rule set: --rules)")
    p.add_argument("--rules", default="rules/daxing", help="the rule set served and the cases drawn from")
    p.add_argument("--users", type=int, default=DEFAULT_USERS, help="base users (step: the first step's)")
    p.add_argument("--seconds", type=float, help="steady's or soak's length (default 60 / 600 s, x scale)")
    p.add_argument("--scale", type=float, default=1.0, help="multiplies every duration")
    p.add_argument("--quick", action="store_true", help=f"--scale {QUICK_SCALE}: a run of seconds, for smoke tests")
    p.add_argument("--out", type=Path, help="report directory (default bench/out/load/<scenario>-<w>w-<time>)")
    p.add_argument("--p99-ms", type=float, default=P99_MS, help="step: single-case p99 a step must hold (ms)")
    p.add_argument("--max-error-rate", type=float, default=MAX_ERROR_RATE, help="step: unexpected failures per request")
    p.add_argument("--memory-tolerance", type=float, default=MEMORY_TOLERANCE, help="soak: allowed RSS growth share")
    p.add_argument("--memory-slack-mib", type=float, default=MEMORY_SLACK_MIB, help="soak: allowed growth at least")
    p.add_argument("--bad-share", type=float, default=0.02, help="share of requests bad on purpose")
    p.add_argument("--processes", type=int, default=0,
                   help="locust's distributed mode: a master and this many worker processes (0: one process)")
    p.add_argument("--expect-workers", type=int, default=0,
                   help="a master only, waiting for this many workers started elsewhere (--worker --master-host)")
    args = p.parse_args(argv)
    if args.processes and args.expect_workers:
        p.error("--processes and --expect-workers: one or the other (locust forks workers, or waits for them)")
    if args.quick:
        args.scale = QUICK_SCALE
    return args


class Sampler(threading.Thread):
    """Every second: the server's CPU (% of one core, summed over its processes) and RSS, and locust's CPU."""

    def __init__(self, server_pid: int | None, interval: float = 1.0, base: str | None = None):
        super().__init__(daemon=True)
        self.base = base  # the server's URL: its /v1/dispatch latency histogram is read every second too
        import psutil

        self._psutil = psutil
        self.server_pid = server_pid
        self.locust_pid: int | None = None
        self.interval = interval
        self.samples: list[dict] = []
        self._done = threading.Event()
        self._procs: dict[int, object] = {}

    def _tree_cpu_rss(self, pid: int) -> tuple[float, int, int]:
        cpu, rss, n, _ = self._tree(pid)
        return cpu, rss, n

    def _tree(self, pid: int) -> tuple[float, int, int, list[float]]:
        """CPU (% of one core, summed), RSS, process count and each process's CPU, of `pid` and its children."""
        ps = self._psutil
        root = ps.Process(pid)
        cpu, rss, each = 0.0, 0, []
        for p in [root, *root.children(recursive=True)]:
            known = self._procs.setdefault(p.pid, p)
            try:
                c = known.cpu_percent(None)
                rss += known.memory_info().rss
                cpu += c
                each.append(c)
            except ps.Error:
                pass
        return cpu, rss, len(each), each

    def run(self) -> None:
        ps = self._psutil
        while not self._done.wait(self.interval):
            sample: dict = {"time": time.time(), "cores": ps.cpu_percent(percpu=True)}  # the whole machine, others too
            try:
                if self.server_pid is not None:
                    sample["cpu"], sample["rss"], sample["procs"] = self._tree_cpu_rss(self.server_pid)
                if self.locust_pid is not None:
                    cpu, _, _, each = self._tree(self.locust_pid)
                    sample["locust_cpu"], sample["locust_proc_max"] = cpu, max(each, default=0.0)
            except ps.NoSuchProcess:
                continue
            if self.base is not None:
                sample["hist"] = server_latency(self.base)
            self.samples.append(sample)

    def stop(self) -> list[dict]:
        self._done.set()
        self.join(timeout=5)
        return self.samples


def stop(proc: subprocess.Popen) -> None:
    """Stop the server as an operator would (SIGTERM: uvicorn stops its workers too); kill it if it hangs."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def get_json(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


def server_latency(base: str) -> dict[str, float]:
    """The server's own /v1/dispatch latency histogram from /metrics: {upper bound (s): cumulative count}."""
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if line.startswith('dispatch_http_request_duration_seconds_bucket{endpoint="/v1/dispatch"'):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            out[bound] = float(line.rsplit(" ", 1)[1])
    return out


def histogram_quantiles(before: dict, after: dict, qs=(0.5, 0.99)) -> dict | None:
    """Quantiles (ms, interpolated within buckets) of the requests between two /metrics scrapes."""
    bounds = sorted(float(b) for b in after if b != "+Inf")
    counts = [after.get(_fmt(b), 0) - before.get(_fmt(b), 0) for b in bounds]
    total = after.get("+Inf", 0) - before.get("+Inf", 0)
    if total <= 0:
        return None
    out = {}
    for q in qs:
        rank, lo, prev = q * total, 0.0, 0.0
        value = None
        for b, c in zip(bounds, counts):
            if c >= rank:
                value = lo + (b - lo) * ((rank - prev) / max(c - prev, 1e-9))
                break
            lo, prev = b, c
        out[f"p{round(q * 100)}_ms"] = None if value is None else value * 1000
    out["requests"] = total
    return out


def _fmt(bound: float) -> str:
    return repr(bound) if bound != int(bound) else f"{bound:.1f}"


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_plan(workers: int, remote: bool) -> tuple[str | None, str | None, str]:
    """(server CPUs, locust CPUs, how the report says it): apart when a core is left for locust."""
    cores = os.cpu_count() or 1
    if remote:
        return None, None, f"the service is remote; locust not pinned ({cores} cores here)"
    if not can_pin() or workers >= cores:
        return None, None, f"not pinned: {workers} worker(s) and locust share all {cores} cores"
    server = "0" if workers == 1 else f"0-{workers - 1}"
    locust = str(workers) if workers == cores - 1 else f"{workers}-{cores - 1}"
    return server, locust, f"server on CPU {server}, locust on CPU {locust} ({cores} cores, taskset)"


def run(args: argparse.Namespace) -> int:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workers = 1 if args.url else args.workers
    out = args.out or ROOT / "bench" / "out" / "load" / f"{args.scenario}-{workers}w-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    rules = str((ROOT / args.rules).resolve()) if not Path(args.rules).is_absolute() else args.rules
    server_cpus, locust_cpus, pinning = cpu_plan(workers, bool(args.url))
    plan = stages(args.scenario, args.users, args.scale, args.seconds)
    planned = sum(s.seconds for s in plan)
    server = None
    if args.url:
        base = args.url.rstrip("/")
    else:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        argv = [PY, "-m", "dispatch", "serve", "--rules", rules, "--port", str(port), "--workers", str(workers)]
        env = {"DISPATCH_LOG_LEVEL": "warning", "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        print(f"starting the server: {' '.join(argv[1:])} ({pinning})", file=sys.stderr)
        try:
            server = start(argv, env, base + "/readyz", server_cpus, timeout=120, log=out / "server.log")
        except RuntimeError as err:
            print(f"the server did not start: {err}", file=sys.stderr)
            return 2
    sampler = Sampler(server.pid if server else None, base=base if server else None)
    locust = None
    try:
        ready = get_json(base + "/readyz") or {}
        sampler.start()
        metrics_before = server_latency(base)
        locust_argv = [PY, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "--host", base,
                       "--scenario", args.scenario, "--base-users", str(args.users), "--duration-scale", str(args.scale),
                       "--scenario-seconds", str(args.seconds or 0), "--rules", rules, "--bad-share", str(args.bad_share),
                       "--p99-ms", str(args.p99_ms), "--max-error-rate", str(args.max_error_rate),
                       "--timeline", str(out / "timeline.json"), "--csv", str(out / "locust"), "--csv-full-history",
                       "--only-summary", "--loglevel", "INFO", "--logfile", str(out / "locust.log")]  # fmt: skip
        if args.processes:
            locust_argv += ["--processes", str(args.processes)]
        elif args.expect_workers:
            locust_argv += ["--master", "--expect-workers", str(args.expect_workers)]
            print(f"waiting for {args.expect_workers} worker(s): on each generator machine, in a checkout of this "
                  f"repository: python -m locust -f bench/locustfile.py --worker --master-host <this machine> "
                  f"--rules {args.rules}", file=sys.stderr)  # fmt: skip
        print(f"running locust: {args.scenario}, {args.users} base users, about {planned:.0f} s", file=sys.stderr)
        started = time.time()
        with open(out / "locust.out", "wb") as log:
            locust = subprocess.Popen(pinned(locust_cpus, locust_argv), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            sampler.locust_pid = locust.pid
            try:
                locust_status = locust.wait(timeout=planned + 120)
            except subprocess.TimeoutExpired:
                print("locust did not end in time: killed", file=sys.stderr)
                locust.kill()
                locust_status = locust.wait()
        metrics_after = server_latency(base)
    finally:  # nothing outlives the run, whatever stopped it (an error, Ctrl-C)
        if locust is not None and locust.poll() is None:
            locust.kill()
            locust.wait()
        if server is not None:
            stop(server)
        samples = sampler.stop() if sampler.is_alive() else sampler.samples
    timeline_path = out / "timeline.json"
    if not timeline_path.exists():
        print(f"locust wrote no timeline (exit {locust_status}); see {out / 'locust.out'}", file=sys.stderr)
        return 2
    context = {
        "scenario": args.scenario, "workers": workers, "target": args.url or "embedded", "url": base,
        "rules": args.rules, "ruleset_version": ready.get("version"), "users": args.users, "scale": args.scale,
        "seconds": args.seconds, "processes": args.processes, "expect_workers": args.expect_workers,
        "server_cores": server_cores(workers, server_cpus), "started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "commit": git_commit(), "cores": os.cpu_count(), "pinning": pinning, "locust_exit": locust_status,
        "command": "python bench/load.py " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("load.py") else "",
        "limits": {"p99_ms": args.p99_ms, "max_error_rate": args.max_error_rate,
                   "memory_tolerance": args.memory_tolerance, "memory_slack_mib": args.memory_slack_mib},
    }  # fmt: skip
    report = build_report(json.loads(timeline_path.read_text()), samples, context,
                          histogram_quantiles(metrics_before, metrics_after) if server and workers == 1 else None)  # fmt: skip
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    (out / "report.md").write_text(render(report))
    (out / "samples.json").write_text(json.dumps({"t0": report["t0"], "samples": samples}))
    plot(report, json.loads(timeline_path.read_text()), samples, out / "latency.png")
    print(render(report))
    print(f"report: {out / 'report.md'}", file=sys.stderr)
    return 0 if report["passed"] else 1


# -- the report ---------------------------------------------------------------------------


def measured(seconds: list[Second]) -> list[Second]:
    """The seconds that count: past the ramp, before the shape stopped, and without the last, cut-short one."""
    return [s for s in seconds[:-1] if s.stage not in ("", "ramp", STOPPED)]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def resources(samples: list[dict], t0: float, window: tuple[float, float]) -> dict:
    inside = [s for s in samples if window[0] <= s["time"] - t0 < window[1]]
    cpu = [s["cpu"] for s in inside if "cpu" in s]
    rss = [s["rss"] for s in inside if "rss" in s]
    loc = [s["locust_cpu"] for s in inside if "locust_cpu" in s]
    busiest = [s["locust_proc_max"] for s in inside if "locust_proc_max" in s]
    cores = [s["cores"] for s in inside if s.get("cores")]
    return {
        "server_cpu_mean": statistics.fmean(cpu) if cpu else None, "server_cpu_max": max(cpu, default=None),
        "server_rss_start": rss[0] if rss else None, "server_rss_max": max(rss, default=None),
        "server_rss_end": rss[-1] if rss else None,
        "server_processes": max((s.get("procs", 0) for s in inside), default=0),
        "locust_cpu_mean": statistics.fmean(loc) if loc else None, "locust_cpu_max": max(loc, default=None),
        "locust_busiest_mean": statistics.fmean(busiest) if busiest else None,
        "machine_cores_busy": [statistics.fmean(c) for c in zip(*cores)] if cores else None,
    }  # fmt: skip


def _cpu(samples: list[dict], t0: float, row: dict) -> dict:
    """Mean server and locust CPU over a summary's window, and the server's own p99 of it (its /metrics)."""
    r = resources(samples, t0, (row["t_start"], row["t_end"]))
    return {"server_cpu": r["server_cpu_mean"], "locust_cpu": r["locust_cpu_mean"], "cores_busy": r["machine_cores_busy"],
            "locust_busiest": r["locust_busiest_mean"], "server_p99_ms": server_p99(samples, t0, row)}  # fmt: skip


def server_p99(samples: list[dict], t0: float, row: dict) -> float | None:
    """The p99 (ms) of the single and batch requests the server answered in a window, from its histogram
    read every second: the scrape nearest before the window's start and the last one inside it."""
    scraped = [s for s in samples if s.get("hist")]
    before = [s for s in scraped if s["time"] - t0 <= row["t_start"]]
    inside = [s for s in scraped if s["time"] - t0 <= row["t_end"]]
    if not before or not inside or inside[-1] is before[-1]:
        return None
    q = histogram_quantiles(before[-1]["hist"], inside[-1]["hist"], (0.99,))
    return q and q.get("p99_ms")


def server_cores(workers: int, cpus: str | None) -> int:
    """The cores the server can use: its workers, no more than the CPUs it is pinned to (or the machine has)."""
    if cpus is None:
        return min(workers, os.cpu_count() or 1)
    count = 0
    for part in cpus.split(","):
        lo, _, hi = part.partition("-")
        count += int(hi or lo) - int(lo) + 1
    return min(workers, count)


SATURATED = 90.0  # % of a core: a process this busy sets the pace


def bottleneck(row: dict, cores: int | None) -> dict:
    """Which side set the limit in a step: the server (its CPU near all of its cores), the load generators
    (a locust process near 100 % of its one core: it cannot send faster), the machine (every core busy,
    server and generators sharing them), or neither (the latency broke first: waiting, not work)."""
    server, busiest, busy = row.get("server_cpu"), row.get("locust_busiest"), row.get("cores_busy") or []
    if server is not None and cores and server >= SATURATED * cores:
        return {"side": "server", "detail": f"the server's CPU at {server:.0f} % of its {cores} core(s)"}
    if busiest is not None and busiest >= SATURATED:
        return {"side": "generators", "detail": (f"the busiest locust process at {busiest:.0f} % of its core: the "
                "generators cannot send faster (more --processes, or workers on other machines)")}  # fmt: skip
    if busy and min(busy) >= SATURATED:
        ours = (server or 0.0) + (row.get("locust_cpu") or 0.0)
        if ours < sum(busy) / 2:
            return {"side": "machine", "detail": ("every core of the machine busy (" + " / ".join(f"{c:.0f}" for c in busy)
                    + f" %), mostly with work that is not this run's (the server {server or 0:.0f} %, locust "
                    f"{row.get('locust_cpu') or 0:.0f} % of a core): these figures are the machine's, not the "
                    "service's; run again on a quiet machine")}  # fmt: skip
        return {"side": "machine", "detail": ("every core of the machine busy (" + " / ".join(f"{c:.0f}" for c in busy)
                + " %), the server and the generators sharing them: neither can get a core of its own")}  # fmt: skip
    if server is None:
        return {"side": "unknown", "detail": "the server is not sampled (--url): its CPU is not known"}
    own, seen = row.get("server_p99_ms"), row.get("single_p99_ms")
    if own is not None and seen is not None and own <= seen / 4:
        return {"side": "generators", "detail": (f"the server answered the step with a p99 of {own:.2f} ms (its "
                f"/metrics) at {server:.0f} % of {cores} core(s), the load kit measured {seen:.1f} ms: the rest is "
                f"the generators' own queueing (the busiest locust process at {busiest or 0:.0f} %, a Python event loop "
                "slows well before its core is full); more --processes, or workers on other machines")}  # fmt: skip
    return {"side": "neither", "detail": (f"the server at {server:.0f} % of {cores} core(s), the busiest locust "
            f"process at {busiest or 0:.0f} %: the latency threshold broke before any CPU ran out")}  # fmt: skip


def rss_around(samples: list[dict], t0: float, start: float, end: float) -> float | None:
    return _median([s["rss"] for s in samples if "rss" in s and start <= s["time"] - t0 < end])


def build_report(doc: dict, samples: list[dict], context: dict, server_side: dict | None) -> dict:
    seconds = seconds_from_wire(doc)
    window = measured(seconds)
    t0 = doc["t0"]
    labels = list(dict.fromkeys(s.stage for s in window))
    report: dict = {**context, "run": doc["run"], "note": SHARED_NOTE, "overall": summary(window),
                    "stages": [{"stage": label, **summary(stage_seconds(window, label))} for label in labels],
                    "failures": doc["failures"], "names": doc["names"], "server_side_latency": server_side}  # fmt: skip
    span = (window[0].t, window[-1].t + 1) if window else (0, 0)
    report["t0"] = t0
    report["resources"] = resources(samples, t0, span)
    for row in report["stages"]:
        row.update(_cpu(samples, t0, row))
    reasons = []
    unexpected = sum(f["count"] for f in doc["failures"])
    report["unexpected_failures"] = unexpected
    report["expected_4xx"] = {n[4:]: v for n, v in doc["names"].items() if n.startswith("4xx ")}
    if not report["overall"]["requests"]:
        reasons.append("no request was answered in the measured window")
    name = context["scenario"]
    if name == "step":
        limits = Thresholds(context["limits"]["p99_ms"], context["limits"]["max_error_rate"])
        # the steps the load shape judged, judged again from the timeline: the same seconds (the shape
        # judged each step on its closed seconds, and the open one went to the next stage), the same verdict
        shape = doc.get("shape") or {"steps": [], "ended": None}
        rows = {r["step"]: r for r in step_results(seconds, limits)}
        steps = [rows[v["step"]] for v in shape["steps"] if v["step"] in rows]
        differ = [v["step"] for v in shape["steps"] if v["step"] not in rows or any(
            rows[v["step"]][k] != v[k] for k in ("t_start", "t_end", "requests", "held"))]  # fmt: skip
        best = capacity(steps)
        for row in steps:
            row.update(_cpu(samples, t0, row))
        planned = sum(1 for st in doc["run"]["stages"] if st["label"].startswith("step "))
        report["steps"] = steps
        report["shape"] = shape
        report["steps_planned"] = planned
        report["capacity"] = best
        judged = next((r for r in steps if not r["held"]), steps[-1] if steps else None)
        report["bottleneck"] = ({**bottleneck(judged, context.get("server_cores") if context["target"] == "embedded"
                                 else None), "step": judged["step"]} if judged else None)  # fmt: skip
        report["capacity_reached"] = any(not r["held"] for r in steps)  # a step broke: the capacity is found
        # no step broke, and only because the schedule ran out: the capacity is at least the last step
        report["schedule_completed"] = shape["ended"] == "schedule" and not report["capacity_reached"]
        if differ:
            reasons.append(f"the report's verdict on {', '.join(differ)} is not the load shape's (a bug in the kit)")
        if not steps:
            reasons.append("no step was judged")
        elif best is None:
            reasons.append("no capacity found: the first step already broke a threshold")
        elif not report["capacity_reached"] and not report["schedule_completed"]:
            reasons.append(f"the run stopped before its schedule ended ({len(steps)} of {planned} steps judged, "
                           "none broke): the capacity is not known")  # fmt: skip
    elif unexpected:
        reasons.append(f"{unexpected} unexpected failure(s)")
    if name == "spike":
        phases = {r["stage"]: r for r in report["stages"]}
        after = [s for s in window if s.stage == "after"]
        report["spike"] = {"before": phases.get("before"), "spike": phases.get("spike"), "after": phases.get("after"),
                           "after_first_10s": summary(after[:10]) if after else None}  # fmt: skip
    if name == "soak":
        soak = [s for s in window if s.stage == "soak"]
        if len(soak) >= 4:
            k = max(2, min(10, len(soak) // 5))
            rss_start = rss_around(samples, t0, soak[0].t, soak[0].t + k)
            rss_end = rss_around(samples, t0, soak[-1].t + 1 - k, soak[-1].t + 1)
            if rss_start and rss_end:
                lim = context["limits"]
                report["memory"] = memory_verdict(rss_start, rss_end, lim["memory_tolerance"], lim["memory_slack_mib"])
                report["memory"]["window_s"] = k
                if report["memory"]["verdict"] == "grew":
                    reasons.append("the server's memory grew")
        if "memory" not in report:
            reasons.append("the server's memory could not be measured (a remote service, or too short a soak)")
    report["passed"] = not reasons
    report["reasons"] = reasons
    return report


def _ms(v: float | None) -> str:
    return "–" if v is None else (f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:,.0f}")


def _mib(v: float | None) -> str:
    return "–" if v is None else f"{v / 2**20:,.1f} MiB"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.0f} %"


def _busy(cores: list[float] | None) -> str:
    return "–" if not cores else " / ".join(f"{c:.0f}" for c in cores) + " %"


def _generators(r: dict) -> str:
    if r.get("processes"):
        return f"locust distributed, a master and {r['processes']} worker processes (--processes)"
    if r.get("expect_workers"):
        return f"locust distributed, a master and {r['expect_workers']} worker(s) started elsewhere"
    return "one locust process"


def _row(label: str, r: dict) -> str:
    return (f"| {label} | {r['users']} | {r['rps']:,.0f} | {r['cases_per_s']:,.0f} | {_ms(r['single_p50_ms'])} | "
            f"{_ms(r['single_p95_ms'])} | {_ms(r['single_p99_ms'])} | {_ms(r['p99_ms'])} | {r['failures']} | "
            f"{r['expected_4xx']} |")  # fmt: skip


_HEAD = ("| window | users | req/s | cases/s | p50 ms | p95 ms | p99 ms | p99 ms, all requests | unexpected errors "
         "| expected 4xx |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")  # fmt: skip


def render(r: dict) -> str:
    res = r["resources"]
    lim = r["limits"]
    run = r["run"]
    lines = [
        f"# Load test: {r['scenario']}, " + ("a running service" if r["target"] != "embedded" else
                                             f"{r['workers']} worker(s)"),
        "",
        f"**{'PASS' if r['passed'] else 'FAIL'}**" + ("" if r["passed"] else ": " + "; ".join(r["reasons"])),
        "",
        f"- target: {r['target']} ({r['url']}), rule set {r['rules']} version {r['ruleset_version']}",
        f"- started {r['started']}, commit {r['commit']}, {r['users']} base users, duration scale {r['scale']:g}",
        f"- command: `{r['command'] or 'python bench/load.py ' + r['scenario']}`",
        (f"- cases: {run.get('history', 0):,} from the synthetic history; hotline at town level "
        f"{run.get('hotline_town_share', 0):.0%}; {run.get('bad_share', 0):.0%} of requests bad on purpose"),
        f"- CPUs: {r['pinning']}",
        f"- load generators: {_generators(r)}",
        f"- {r['note'] if r['target'] == 'embedded' else REMOTE_NOTE}",
        "",
        "## Throughput and latency",
        "",
        ("Latency as the calling systems see it (locust, per request, 1 % buckets), of good single cases; "
        "\"all requests\" adds the batches. Measured after the ramp."),
        "",
        _HEAD,
        _row("**whole run**", r["overall"]),
        *(_row(s["stage"], s) for s in r["stages"]),
        "",
    ]
    ss = r.get("server_side_latency")
    if ss:
        lines += [(f"Inside the server (its /metrics histogram, interpolated in buckets): p50 {_ms(ss['p50_ms'])} ms, "
                  f"p99 {_ms(ss['p99_ms'])} ms over {ss['requests']:,.0f} requests."), ""]  # fmt: skip
    if r["scenario"] == "step":
        lines += ["## Sustained capacity", "",
                  (f"A step holds when its single-case p99 stays within {lim['p99_ms']:g} ms and its unexpected "
                  f"error rate within {lim['max_error_rate']:.2%} (the first {STEP_SETTLE} s of a step are not judged; steps "
                  f"of {STEP_SECONDS * r['scale']:g} s, users x{STEP_FACTOR:g} a step)."), "",
                  ("| step | users | req/s | cases/s | p50 ms | p99 ms | server's own p99 ms | error rate | server CPU "
                   "| locust CPU | busiest locust process | cores busy | held |"),
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]  # fmt: skip
        for s in r["steps"]:
            lines.append(f"| {s['step']} | {s['users']} | {s['rps']:,.0f} | {s['cases_per_s']:,.0f} | "
                         f"{_ms(s['single_p50_ms'])} | {_ms(s['single_p99_ms'])} | {_ms(s.get('server_p99_ms'))} | "
                         f"{s['error_rate']:.2%} | "
                         f"{_pct(s.get('server_cpu'))} | {_pct(s.get('locust_cpu'))} | {_pct(s.get('locust_busiest'))} | "
                         f"{_busy(s.get('cores_busy'))} | "
                         f"{'yes' if s['held'] else '**no**'} |")  # fmt: skip
        best = r["capacity"]
        if best is None:
            lines.append("\nNo step held: no capacity found." if r["steps"] else "\nNo step was judged.")
        else:
            more = ("" if r["capacity_reached"] else
                    " (no step broke: the capacity is at least this)" if r["schedule_completed"] else
                    f" (the run stopped after {len(r['steps'])} of {r['steps_planned']} steps, before any broke: "
                    "the capacity is not known)")  # fmt: skip
            lines.append(f"\n**Sustained capacity: {best['rps']:,.0f} req/s ({best['cases_per_s']:,.0f} cases/s) at "
                         f"{best['users']} users, p99 {_ms(best['single_p99_ms'])} ms**{more}.")  # fmt: skip
        neck = r.get("bottleneck")
        if neck:
            lines.append(f"\n**Bottleneck ({neck['step']}): {neck['side']}**: {neck['detail']}.")
        lines.append("")
    if r["scenario"] == "spike" and r.get("spike"):
        sp = r["spike"]
        lines += ["## Spike", "", _HEAD]
        for label in ("before", "spike", "after"):
            if sp.get(label):
                lines.append(_row(label, sp[label]))
        if sp.get("after_first_10s"):
            lines.append(_row("first 10 s after", sp["after_first_10s"]))
        lines.append("")
    if r["scenario"] == "soak":
        lines += ["## Memory", ""]
        m = r.get("memory")
        if m:
            lines.append(f"Server RSS (all processes), median of {m['window_s']} s after the warm-up: "
                         f"{_mib(m['rss_start'])}; at the end: {_mib(m['rss_end'])}; growth {_mib(m['growth'])}, "
                         f"allowed {_mib(m['allowed'])} (the larger of {m['tolerance']:.0%} and "
                         f"{m['slack_mib']:g} MiB): **{m['verdict']}**.")  # fmt: skip
        else:
            lines.append("Not measured.")
        lines.append("")
    lines += ["## Errors", ""]
    if r["failures"]:
        lines += ["| request | what was wrong | count |", "| --- | --- | ---: |"]
        lines += [f"| {f['name']} | {f['message'].replace('|', '/')} | {f['count']} |" for f in r["failures"]]
    else:
        lines.append("No unexpected error: every answer was checked (status, media type, schema, a department "
                     "when auto or provisional, the case's id and area) and was right.")  # fmt: skip
    lines += ["", "Deliberate bad requests (each must get its problem+json status, code and field):", "",
              "| kind | sent | answered wrong |", "| --- | ---: | ---: |"]  # fmt: skip
    for kind, v in r["expected_4xx"].items():
        lines.append(f"| {kind} | {v['requests']} | {v['failures']} |")
    lines += ["", "## Resources (measured window)", ""]
    if r["target"] != "embedded":
        lines.append("- server: not sampled (a running service, not started by this command)")
    else:
        lines.append(f"- server CPU: mean {_pct(res['server_cpu_mean'])}, max {_pct(res['server_cpu_max'])} of "
                     f"one core ({res['server_processes']} process(es))")  # fmt: skip
        lines.append(f"- server RSS (sum over processes): {_mib(res['server_rss_start'])} at the start, max "
                     f"{_mib(res['server_rss_max'])}, {_mib(res['server_rss_end'])} at the end")  # fmt: skip
    bound = " (near 100 %: the load generator, not the server, set the pace)" if (res["locust_cpu_max"] or 0) >= 90 else ""
    lines.append(f"- locust CPU: mean {_pct(res['locust_cpu_mean'])}, max {_pct(res['locust_cpu_max'])} of one core"
                 + bound)  # fmt: skip
    lines.append("- the machine's cores, busy (everything on them, other work included): "
                 + ", ".join(f"CPU {i} {_pct(v)}" for i, v in enumerate(res["machine_cores_busy"] or [])))  # fmt: skip
    lines += ["", ("Files: latency.png, report.json, timeline.json (per second), samples.json, locust_*.csv, "
              "locust.log, server.log.")]  # fmt: skip
    return "\n".join(lines) + "\n"


def plot(report: dict, doc: dict, samples: list[dict], path: Path) -> None:
    """latency.png: single-case p50/p95/p99, req/s and users, server RSS and CPU, second by second."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seconds = seconds_from_wire(doc)[:-1]
    t = [s.t for s in seconds]
    qs = [percentiles(s.single) for s in seconds]
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True,
                                        gridspec_kw={"height_ratios": [3, 2, 2]})  # fmt: skip
    for i, (label, colour) in enumerate((("p50", "tab:green"), ("p95", "tab:orange"), ("p99", "tab:red"))):
        ax1.plot(t, [q[i] if q[i] is not None else float("nan") for q in qs], label=label, color=colour, lw=1.2)
    ax1.set_yscale("log")
    ax1.set_ylabel("single case latency (ms)")
    ax1.legend(loc="upper left", fontsize=8)
    ax1.grid(True, which="both", alpha=0.3)
    ax2.plot(t, [s.requests for s in seconds], color="tab:blue", lw=1.2, label="req/s")
    ax2.plot(t, [s.failures for s in seconds], color="tab:red", lw=1.2, label="unexpected errors/s")
    ax2.set_ylabel("requests / s")
    ax2.legend(loc="upper left", fontsize=8)
    ax2.grid(True, alpha=0.3)
    users = ax2.twinx()
    users.plot(t, [s.users for s in seconds], color="grey", lw=1, ls="--")
    users.set_ylabel("users (dashed)")
    st = [s["time"] - doc["t0"] for s in samples if "rss" in s]
    if st:
        ax3.plot(st, [s["rss"] / 2**20 for s in samples if "rss" in s], color="tab:purple", lw=1.2)
        ax3.set_ylabel("server RSS (MiB)", color="tab:purple")
        cpu = ax3.twinx()
        cpu.plot(st, [s["cpu"] for s in samples if "rss" in s], color="tab:brown", lw=0.8, alpha=0.7, label="server")
        lt = [(s["time"] - doc["t0"], s["locust_cpu"]) for s in samples if "locust_cpu" in s]
        cpu.plot([a for a, _ in lt], [b for _, b in lt], color="tab:gray", lw=0.8, alpha=0.7, label="locust")
        cpu.set_ylabel("CPU % of one core")
        cpu.legend(loc="upper right", fontsize=8)
    else:
        ax3.text(0.5, 0.5, "server not sampled (remote service)", ha="center", transform=ax3.transAxes)
    ax3.set_xlabel("seconds since the start")
    ax3.grid(True, alpha=0.3)
    bounds = [(s.t, s.stage) for a, s in zip([None, *seconds], seconds) if a is None or a.stage != s.stage]
    for x, label in bounds:
        for ax in (ax1, ax2, ax3):
            ax.axvline(x, color="black", lw=0.5, alpha=0.4)
        ax1.annotate(label, (x, 1), xycoords=("data", "axes fraction"), fontsize=7, rotation=90, va="top",
                     ha="right")  # fmt: skip
    fig.suptitle(f"dispatch under load: {report['scenario']}, {report['workers']} worker(s), {report['pinning']}",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
