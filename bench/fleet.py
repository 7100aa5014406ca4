"""A fleet under load: three `dispatch serve` replicas behind nginx, a bundle rollout, a SIGTERM, a SIGKILL.

    python bench/fleet.py                 # about 80 s: three replicas, nginx, the load kit's steady mix
    python bench/fleet.py --quick         # the same story in about 30 s (poll 2 s, shorter phases)
    python bench/fleet.py --replicas 4 --users 40 --poll 5

What runs, all on the loopback, all real:

- a bundle server (HTTP with a strong ETag and 304s, as any web server serves a file) holding a signed
  bundle of rules/daxing; the replicas follow its URL (--rules URL --verification-key, --rules-poll);
- N replicas of `dispatch serve`, one worker each (as in deploy/k8s), draining on SIGTERM;
- nginx (Debian's package, `apt-get install nginx`) as the load balancer, configured as in production:
  keep-alive connections to the upstreams, and `proxy_next_upstream error timeout http_502 http_503
  non_idempotent`, so a request that meets a dead or draining replica is sent to the next. Retrying a
  POST is safe here: dispatching is a pure function of the case and the rule set, nothing is created
  or changed by it, so answering a case twice gives the same answer (the decision log, when on, may
  hold the case twice; both lines agree);
- the load kit (bench/locustfile.py, its steady mix: grid and hotline single cases, batches, 2 % bad
  requests on purpose, every answer checked) against nginx.

While the load runs: (a) a new bundle is published (one rule changed) and the replicas pick it up by
polling; the window in which both versions answered is measured from nginx's log (the version header
of every answer); (b) one replica gets SIGTERM, drains and exits, and is started again (as Kubernetes
replaces a pod); (c) one gets SIGKILL and is started again after two seconds. Failed requests are
counted by the load kit (any answer that is not the right one, any error) per phase.

Writes into --out (default bench/out/fleet/<time>): report.md, report.json, fleet.png (requests/s,
p99, versions and retries over time, the events marked), nginx.conf and its logs, locust's files, the
replicas' logs. Exit status 0 when every target held (no failed request through the rollout and the
SIGTERM, no failed single case through the SIGKILL, the mixed-version window under one poll interval),
1 when one did not, 2 when it could not run (no nginx: `apt-get install nginx`).
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0] and __import__("os").path.abspath(sys.path[0]) == __import__("os").path.dirname(
    __import__("os").path.abspath(__file__)
):  # run as a script: bench/http.py would shadow the standard library's http; the root goes in its place
    sys.path[0] = __import__("os").path.dirname(__import__("os").path.abspath(sys.path[0]))

import argparse
import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.loadstats import percentiles, seconds_from_wire, summary
from bench.procs import ROOT, free_port, start, wait_ready
from dispatch.core.bundle import build_bundle, generate_key

PY = sys.executable
NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx")


@dataclass
class Plan:
    replicas: int = 3
    users: int = 20
    poll: float = 3.0  # DISPATCH_RULES_POLL of every replica
    drain: float = 2.0  # DISPATCH_DRAIN_SECONDS
    warm: float = 10.0  # load before the first event
    phase: float = 20.0  # each event's window: rollout, SIGTERM, SIGKILL
    down: float = 2.0  # how long a killed replica stays down before it is started again
    tail: float = 5.0

    @property
    def seconds(self) -> float:
        return self.warm + 3 * self.phase + self.tail


QUICK = Plan(poll=2.0, drain=1.0, warm=5.0, phase=7.0, down=1.5, tail=2.0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--users", type=int, default=20, help="the load kit's users (its steady mix)")
    p.add_argument("--poll", type=float, help="the replicas' --rules-poll, seconds (default 3; --quick 2)")
    p.add_argument("--drain", type=float, help="DISPATCH_DRAIN_SECONDS (default 2; --quick 1)")
    p.add_argument("--phase", type=float, help="seconds of each event's window (default 20; --quick 7)")
    p.add_argument("--quick", action="store_true", help="shorter phases and a 2 s poll: about 30 s")
    p.add_argument("--rules", default="rules/daxing", help="the rule set bundled and served (Daxing, or a --scale of it)")
    p.add_argument("--out", type=Path, help="report directory (default bench/out/fleet/<time>)")
    args = p.parse_args(argv)
    base = QUICK if args.quick else Plan()
    args.plan = Plan(args.replicas, args.users, args.poll or base.poll, args.drain or base.drain, base.warm,
                     args.phase or base.phase, base.down, base.tail)  # fmt: skip
    if args.replicas < 2:
        p.error("--replicas must be at least 2: one is stopped while the others serve")
    return args


# -- the parts ----------------------------------------------------------------------------


class BundleServer:
    """One bundle at http://127.0.0.1:port/rules.tar.gz with a strong ETag, as a web server serves a file."""

    def __init__(self, data: bytes):
        self.data = data
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                data = outer.data
                etag = '"' + hashlib.sha256(data).hexdigest()[:20] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("ETag", etag)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/rules.tar.gz"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def find_nginx() -> str | None:
    for name in NGINX_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


LOG_FORMAT = ('{"t":$msec,"rt":$request_time,"s":$status,"m":"$request_method","u":"$uri",'
              '"ua":"$upstream_addr","us":"$upstream_status","v":"$upstream_http_dispatch_ruleset"}')  # fmt: skip


def nginx_conf(directory: Path, port: int, upstreams: list[int]) -> str:
    """nginx.conf: one upstream group of the replicas, kept-alive connections, retries on the next replica."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in upstreams)
    d = directory
    return f"""# written by bench/fleet.py: the replicas behind nginx as one would run them in production
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format fleet escape=json '{LOG_FORMAT}';
    access_log {d}/access.log fleet buffer=64k flush=1s;
    # bodies and answers stay in memory (the service's own limit is 4 MiB a body): no temp files
    client_max_body_size 4m;
    client_body_buffer_size 4m;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    proxy_buffers 64 16k;
    proxy_max_temp_file_size 0;
    upstream dispatch {{
{servers}
        keepalive 64;              # idle connections kept open to the replicas, per nginx worker
        keepalive_timeout 60s;     # under the service's DISPATCH_IDLE_TIMEOUT (75 s): nginx closes first
        keepalive_requests 10000;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        location / {{
            proxy_pass http://dispatch;
            proxy_http_version 1.1;
            proxy_set_header Connection "";   # keep-alive to the upstream
            proxy_set_header X-Request-Id $request_id;
            # a dead replica (refused, reset), one that is draining or not ready yet (503), one that
            # hangs: the request goes to the next replica. non_idempotent lets a POST be retried too,
            # which is safe because a dispatch changes nothing: the same case gets the same answer.
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
            proxy_next_upstream_tries 3;
            proxy_next_upstream_timeout 10s;
            proxy_connect_timeout 1s;
            proxy_read_timeout 30s;
        }}
    }}
}}
"""


class Nginx:
    def __init__(self, binary: str, directory: Path, upstreams: list[int]):
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (directory / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        self.conf = directory / "nginx.conf"
        self.conf.write_text(nginx_conf(directory, self.port, upstreams))
        argv = [binary, "-p", str(directory), "-c", str(self.conf), "-e", str(directory / "error.log")]
        check = subprocess.run([*argv, "-t"], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t refused the configuration:\n{check.stderr}")
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(self.url + "/readyz", 30, self.proc)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finish the requests, flush the log
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Replica:
    index: int
    port: int
    argv: list[str]
    env: dict
    log_dir: Path
    proc: subprocess.Popen | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        self.proc = start(self.argv + ["--port", str(self.port)], self.env, f"http://127.0.0.1:{self.port}/readyz",
                          None, timeout=120, log=self.log_dir / f"replica-{self.index}.{self.starts}.log")  # fmt: skip

    def version(self) -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                return json.loads(r.read()).get("version")
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Events:
    t0: float = field(default_factory=time.time)
    items: list[dict] = field(default_factory=list)

    def add(self, what: str, **more) -> dict:
        item = {"time": time.time(), "what": what, **more}
        self.items.append(item)
        print(f"  {item['time'] - self.t0:6.1f} s  {what} {more or ''}", file=sys.stderr)
        return item


def changed_rules(src: Path, dst: Path) -> str:
    """A copy of `src` with one real change: the rules of item 09009001 sent to another department."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("cases-sample.csv", "golden.csv"))
    f = dst / "rules" / "municipal.csv"
    text = f.read_text(encoding="utf-8")
    new, n = re.subn(r"^(MUN-[0-9]+,09009001,[^,]*,[^,]*,[^,]*,)dx-jgzd,", r"\1dx-cgzf,", text, flags=re.MULTILINE)
    if n == 0:
        raise RuntimeError(f"{f}: no rule of item 09009001 sent to dx-jgzd, the change the rollout publishes "
                           "(bench/fleet.py knows the Daxing set's rules only)")  # fmt: skip
    f.write_text(new, encoding="utf-8")
    return f"{n} rule(s) of item 09009001 moved from dx-jgzd to dx-cgzf"


# -- the run ------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    plan: Plan = args.plan
    nginx_bin = find_nginx()
    if nginx_bin is None:
        print("nginx is not installed: apt-get install nginx (Debian's package)", file=sys.stderr)
        return 2
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = (args.out or ROOT / "bench" / "out" / "fleet" / stamp).resolve()
    out.mkdir(parents=True, exist_ok=True)
    rules = (ROOT / args.rules).resolve() if not Path(args.rules).is_absolute() else Path(args.rules)
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    generate_key(work / "key.pem", work / "key.pub")
    v1 = build_bundle(rules, work / "v1.tar.gz", work / "key.pem")
    change = changed_rules(rules, work / "rules-v2")
    v2 = build_bundle(work / "rules-v2", work / "v2.tar.gz", work / "key.pem")
    versions = {"old": v1["version"], "new": v2["version"]}
    bundles = BundleServer((work / "v1.tar.gz").read_bytes())
    env = {"DISPATCH_LOG_LEVEL": "warning", "DISPATCH_DRAIN_SECONDS": str(plan.drain),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}  # fmt: skip
    argv = [PY, "-m", "dispatch", "serve", "--rules", bundles.url, "--verification-key", str(work / "key.pub"),
            "--rules-poll", str(plan.poll), "--workers", "1"]  # fmt: skip
    replicas = [Replica(i, free_port(), argv, env, out) for i in range(plan.replicas)]
    nginx = None
    locust = None
    events = Events()
    status = None
    try:
        print(f"starting {plan.replicas} replicas of dispatch serve (bundle URL, poll {plan.poll:g} s)", file=sys.stderr)
        for r in replicas:
            r.start()
        nginx = Nginx(nginx_bin, out / "nginx", [r.port for r in replicas])
        print(f"nginx on {nginx.url}; the load kit for about {plan.seconds:.0f} s", file=sys.stderr)
        locust_argv = [PY, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
                       "--host", nginx.url, "--scenario", "steady", "--base-users", str(plan.users),
                       "--duration-scale", str(0.2 if args.quick else 1.0), "--scenario-seconds", str(plan.seconds),
                       "--rules", str(rules), "--timeline", str(out / "timeline.json"), "--csv", str(out / "locust"),
                       "--only-summary", "--loglevel", "INFO", "--logfile", str(out / "locust.log")]  # fmt: skip
        with open(out / "locust.out", "wb") as log:
            locust = subprocess.Popen(locust_argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        flowing(out / "nginx" / "access.log", locust)  # the kit builds its bodies first: the clock starts with the load
        events.t0 = time.time()
        drive(plan, replicas, bundles, work, events, versions["new"])
        try:
            status = locust.wait(timeout=plan.seconds + 120)
        except subprocess.TimeoutExpired:
            locust.kill()
            status = locust.wait()
    finally:  # nothing outlives the run
        if locust is not None and locust.poll() is None:
            locust.kill()
            locust.wait()
        if nginx is not None:
            nginx.stop()
        for r in replicas:
            r.stop()
        bundles.close()
    if not (out / "timeline.json").exists():
        print(f"the load kit wrote no timeline (exit {status}); see {out / 'locust.out'}", file=sys.stderr)
        return 2
    context = {"replicas": plan.replicas, "users": plan.users, "poll_s": plan.poll, "drain_s": plan.drain,
               "phase_s": plan.phase, "down_s": plan.down, "versions": versions, "change": change,
               "locust_exit": status, "nginx": nginx_version(nginx_bin), "quick": args.quick,
               "command": "python bench/fleet.py " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("fleet.py") else "",
               "started": datetime.fromtimestamp(events.t0, UTC).isoformat(timespec="seconds")}  # fmt: skip
    timeline = json.loads((out / "timeline.json").read_text())
    access = read_access_log(out / "nginx" / "access.log")
    report = build_report(timeline, access, events.items, context)
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    (out / "report.md").write_text(render(report))
    plot(report, timeline, access, out / "fleet.png")
    print(render(report))
    print(f"report: {out / 'report.md'}", file=sys.stderr)
    return 0 if report["passed"] else 1


def drive(plan: Plan, replicas: list[Replica], bundles: BundleServer, work: Path, events: Events,
          new_version: str) -> None:
    """The events, on the plan's clock: publish, SIGTERM, SIGKILL, each followed by what an operator would do."""

    def at(offset: float) -> None:
        time.sleep(max(0.0, events.t0 + offset - time.time()))

    at(plan.warm)
    bundles.data = (work / "v2.tar.gz").read_bytes()
    events.add("rollout", detail="the new bundle published at the URL")
    deadline = time.time() + plan.phase - 1
    seen = [r.version() for r in replicas]
    while time.time() < deadline and seen != [new_version] * len(replicas):
        time.sleep(0.1)
        seen = [r.version() for r in replicas]
    events.add("replicas agree" if seen == [new_version] * len(replicas) else "replicas disagree", versions=seen)
    at(plan.warm + plan.phase)
    victim = replicas[0]
    events.add("sigterm", replica=victim.index)
    victim.proc.send_signal(signal.SIGTERM)
    code = victim.proc.wait(timeout=plan.drain + 30)
    events.add("exited", replica=victim.index, status=code)
    victim.start()
    events.add("ready again", replica=victim.index)
    at(plan.warm + 2 * plan.phase)
    victim = replicas[1 % len(replicas)]
    events.add("sigkill", replica=victim.index)
    victim.proc.kill()
    victim.proc.wait()
    time.sleep(plan.down)
    victim.start()
    events.add("ready again", replica=victim.index)


def flowing(access_log: Path, locust: subprocess.Popen, timeout: float = 120) -> None:
    """Return once nginx has logged answers (its log is flushed every second); RuntimeError if the kit ended."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if access_log.exists() and access_log.stat().st_size > 0:
            return
        if locust.poll() is not None:
            raise RuntimeError(f"the load kit ended (status {locust.returncode}) before sending anything")
        time.sleep(0.2)
    raise RuntimeError(f"no request reached nginx in {timeout:.0f} s")


def nginx_version(binary: str) -> str:
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return (done.stderr or done.stdout).strip().removeprefix("nginx version: ")


def read_access_log(path: Path) -> list[dict]:
    rows = []
    if not path.exists():
        return rows
    for line in path.read_text(errors="replace").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


# -- the report ---------------------------------------------------------------------------


def _phase_windows(events: list[dict], t0: float, end: float) -> dict[str, tuple[float, float]]:
    """Each event's window in seconds since t0: from the event to the next event of the plan (or the end)."""
    marks = [(e["what"], e["time"] - t0) for e in events if e["what"] in ("rollout", "sigterm", "sigkill")]
    out = {}
    for k, (what, begin) in enumerate(marks):
        out[what] = (begin, marks[k + 1][1] if k + 1 < len(marks) else end)
    return out


def build_report(timeline: dict, access: list[dict], events: list[dict], context: dict) -> dict:
    t0 = timeline["t0"]
    seconds = seconds_from_wire(timeline)
    span = seconds[-1].t + 1 if seconds else 0
    windows = _phase_windows(events, t0, span)
    report: dict = {**context, "t0": t0, "events": [{**e, "t": round(e["time"] - t0, 2)} for e in events]}
    body = [s for s in seconds[:-1] if s.stage not in ("", "ramp")]
    report["overall"] = summary(body)
    report["failures"] = timeline["failures"]
    report["names"] = timeline["names"]
    phases = {}
    for what, (a, b) in windows.items():
        mine = [s for s in seconds if a <= s.t + 0.5 < b]  # a second belongs to the window its middle is in
        row = summary(mine)
        lb = [r for r in access if a <= r["t"] - t0 < b]
        row["lb_requests"] = len(lb)
        row["lb_5xx"] = sum(1 for r in lb if r["s"] >= 500)
        row["lb_retried"] = sum(1 for r in lb if "," in r["ua"])
        row["window_s"] = [round(a, 2), round(b, 2)]
        phases[what] = row
    report["phases"] = phases
    report["lb"] = {"requests": len(access), "5xx": sum(1 for r in access if r["s"] >= 500),
                    "retried": sum(1 for r in access if "," in r["ua"]),
                    "statuses": dict(sorted(_count(str(r["s"]) for r in access).items()))}  # fmt: skip
    report["mixed"] = mixed_window(access, events, context["versions"])
    single_failures = sum(f["count"] for f in timeline["failures"] if f["name"] in ("grid case", "12345 case"))
    reasons = []
    for what in ("rollout", "sigterm"):
        if what not in phases:
            reasons.append(f"no {what} happened")
        elif phases[what]["failures"]:
            reasons.append(f"{phases[what]['failures']} failed request(s) through the {what}")
    if "sigkill" not in phases:
        reasons.append("no sigkill happened")
    else:
        report["sigkill_single_failures"] = _single_failures_in(timeline, seconds, windows["sigkill"])
        if report["sigkill_single_failures"]:
            reasons.append(f"{report['sigkill_single_failures']} single case(s) failed through the SIGKILL")
    mixed = report["mixed"]
    if not mixed["converged"]:
        reasons.append("the replicas did not all answer with the new version")
    elif mixed["window_s"] >= context["poll_s"]:
        reasons.append(f"two versions answered for {mixed['window_s']:.2f} s, not under one poll interval")
    if not report["overall"]["requests"]:
        reasons.append("no request was answered")
    report["single_failures"] = single_failures
    report["passed"] = not reasons
    report["reasons"] = reasons
    return report


def _count(items) -> dict:
    out: dict = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return out


def _single_failures_in(timeline: dict, seconds, window: tuple[float, float]) -> int:
    """Failed single cases in a window: the per-second failures when every failure of the run was a single
    case's (the timeline counts failures per second, and names per run)."""
    names = {f["name"] for f in timeline["failures"]}
    inside = sum(s.failures for s in seconds if window[0] <= s.t + 0.5 < window[1])
    if not inside:
        return 0
    if names <= {"grid case", "12345 case"}:
        return inside
    return sum(f["count"] for f in timeline["failures"] if f["name"] in ("grid case", "12345 case"))  # an upper bound


def mixed_window(access: list[dict], events: list[dict], versions: dict) -> dict:
    """From nginx's log: when the new version first answered, when the old one last did, after the publish."""
    published = next((e["time"] for e in events if e["what"] == "rollout"), None)
    if published is None:
        return {"converged": False, "window_s": None}
    after = [r for r in access if r["t"] >= published and r["v"]]
    new = [r["t"] for r in after if r["v"] == versions["new"]]
    old = [r["t"] for r in after if r["v"] == versions["old"]]
    agreed = any(e["what"] == "replicas agree" for e in events)
    first_new, last_old = (min(new) if new else None), (max(old) if old else None)
    window = max(0.0, last_old - first_new) if new and old else 0.0
    return {"converged": bool(new) and agreed, "published_t": published, "first_new_s": _rel(first_new, published),
            "last_old_s": _rel(last_old, published), "window_s": window,
            "answers_old_after_new": sum(1 for t in old if new and t > first_new)}  # fmt: skip


def _rel(t: float | None, since: float) -> float | None:
    return None if t is None else round(t - since, 3)


def _ms(v: float | None) -> str:
    return "–" if v is None else (f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:,.0f}")


def render(r: dict) -> str:
    m = r["mixed"]
    o = r["overall"]
    lines = [
        f"# Fleet: {r['replicas']} replicas behind nginx, a rollout, a SIGTERM, a SIGKILL",
        "",
        f"**{'PASS' if r['passed'] else 'FAIL'}**" + ("" if r["passed"] else ": " + "; ".join(r["reasons"])),
        "",
        f"- started {r['started']}; command: `{r['command'] or 'python bench/fleet.py'}`",
        (f"- {r['replicas']} × `dispatch serve --workers 1 --rules <bundle URL> --verification-key`, "
         f"poll {r['poll_s']:g} s, drain {r['drain_s']:g} s; nginx {r['nginx']} (keep-alive upstream, "
         "`proxy_next_upstream error timeout http_502 http_503 non_idempotent`)"),
        f"- the load kit's steady mix, {r['users']} users, every answer checked; phases of {r['phase_s']:g} s",
        f"- the rollout: {r['versions']['old']} → {r['versions']['new']} ({r['change']})",
        "",
        "| window | req/s | single p50 ms | single p99 ms | failed | nginx: answers | 5xx | retried upstream |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        (f"| whole run | {o['rps']:,.0f} | {_ms(o['single_p50_ms'])} | {_ms(o['single_p99_ms'])} | {o['failures']} | "
         f"{r['lb']['requests']:,} | {r['lb']['5xx']} | {r['lb']['retried']} |"),
    ]  # fmt: skip
    label = {"rollout": "bundle rollout", "sigterm": "SIGTERM one replica", "sigkill": "SIGKILL one replica"}
    for what, p in r["phases"].items():
        lines.append(f"| {label[what]} | {p['rps']:,.0f} | {_ms(p['single_p50_ms'])} | {_ms(p['single_p99_ms'])} | "
                     f"{p['failures']} | {p['lb_requests']:,} | {p['lb_5xx']} | {p['lb_retried']} |")  # fmt: skip
    lines += ["", "## Versions", ""]
    if m.get("first_new_s") is not None:
        lines.append(f"Published at {m['published_t'] - r['t0']:.1f} s: the new version first answered "
                     f"{m['first_new_s']:.2f} s later, the old one last {m['last_old_s'] or 0:.2f} s after the "
                     f"publish. **Two versions answered for {m['window_s']:.2f} s** (target: under one poll "
                     f"interval, {r['poll_s']:g} s), {m['answers_old_after_new']} old answer(s) after the first new "
                     "one.")  # fmt: skip
    else:
        lines.append("The new version never answered.")
    lines += ["", "## Events", "", "| t (s) | event |", "| ---: | --- |"]
    for e in r["events"]:
        more = {k: v for k, v in e.items() if k not in ("time", "what", "t")}
        lines.append(f"| {e['t']:.1f} | {e['what']} {json.dumps(more) if more else ''} |")
    lines += ["", "## Failures", ""]
    if r["failures"]:
        lines += ["| request | what was wrong | count |", "| --- | --- | ---: |"]
        lines += [f"| {f['name']} | {f['message'].replace('|', '/')} | {f['count']} |" for f in r["failures"]]
    else:
        lines.append("None: every answer the load kit got was the right one (status, schema, department, id, area).")
    lines += ["", (f"nginx answered {r['lb']['requests']:,} requests: statuses {r['lb']['statuses']}; "
              f"{r['lb']['retried']} went to a second replica after the first failed (dead, draining or not ready)."),
              "", "![fleet](fleet.png)", ""]  # fmt: skip
    return "\n".join(lines)


def plot(report: dict, timeline: dict, access: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = timeline["t0"]
    seconds = seconds_from_wire(timeline)[:-1]
    t = [s.t for s in seconds]
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(11, 8), sharex=True)
    ax1.plot(t, [s.requests for s in seconds], color="tab:blue", lw=1.2, label="requests/s (load kit)")
    ax1.plot(t, [s.failures for s in seconds], color="tab:red", lw=1.2, label="failed/s")
    ax1.set_ylabel("requests / s")
    ax1.legend(loc="lower left", fontsize=8)
    p99 = [percentiles(s.single, (0.99,))[0] for s in seconds]
    ax2.plot(t, [v if v is not None else float("nan") for v in p99], color="tab:orange", lw=1.2, label="single p99")
    ax2.set_yscale("log")
    ax2.set_ylabel("single-case p99 (ms)")
    ax2.legend(loc="upper left", fontsize=8)
    versions = report["versions"]
    per: dict[int, dict[str, int]] = {}
    retried: dict[int, int] = {}
    for r in access:
        k = int(r["t"] - t0)
        bucket = per.setdefault(k, {})
        name = "old" if r["v"] == versions["old"] else "new" if r["v"] == versions["new"] else "none"
        bucket[name] = bucket.get(name, 0) + 1
        if "," in r["ua"]:
            retried[k] = retried.get(k, 0) + 1
    ks = sorted(per)
    ax3.stackplot(ks, [per[k].get("old", 0) for k in ks], [per[k].get("new", 0) for k in ks],
                  labels=[f"old {versions['old'][:8]}", f"new {versions['new'][:8]}"], colors=["tab:gray", "tab:green"],
                  alpha=0.7)  # fmt: skip
    ax3.plot(ks, [retried.get(k, 0) for k in ks], color="tab:red", lw=1.2, label="retried on another replica")
    ax3.set_ylabel("answers / s at nginx")
    ax3.set_xlabel("seconds since the load started")
    ax3.legend(loc="lower left", fontsize=8)
    for e in report["events"]:
        if e["what"] in ("rollout", "sigterm", "sigkill", "ready again"):
            for ax in (ax1, ax2, ax3):
                ax.axvline(e["t"], color="black", lw=0.6, alpha=0.5)
            ax1.annotate(e["what"], (e["t"], 1), xycoords=("data", "axes fraction"), fontsize=7, rotation=90,
                         va="top", ha="right")  # fmt: skip
    for ax in (ax1, ax2, ax3):
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"dispatch: {report['replicas']} replicas behind nginx {report['nginx']}, poll {report['poll_s']:g} s, "
                 f"drain {report['drain_s']:g} s", fontsize=10)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
