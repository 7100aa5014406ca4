"""HTTP benchmark: POST /v1/dispatch under wrk, beside the same app's constant endpoint and a bare ASGI callable.

    .venv/bin/python bench/http.py              # 3 runs x 5 s per figure: about 4 minutes
    .venv/bin/python bench/http.py --quick      # 1 run x 2 s: a smoke test

Needs wrk (a Debian package): apt-get update && apt-get install -y wrk

One uvicorn worker serves rules/daxing. Measured side by side in one run:
  dispatch   POST /v1/dispatch, one case (the first of rules/daxing/cases-sample.csv)
  constant   POST /v1/_bench/constant: the same app, the same body checks, a constant answer (the app's ceiling)
  pydantic   POST /v1/_bench/pydantic: the textbook FastAPI route with a pydantic body, same dispatch
  bare       a bare ASGI callable under the same uvicorn settings (bench/http_bare.py: the server's ceiling)
  batch      POST /v1/dispatch with 1,000 cases per request, in cases/s
The server is pinned to CPU 0 and wrk to CPU 1 (taskset) so that they do not take
turns on one core. Every figure is the median of --runs rounds, each round measuring
every endpoint once; a ratio is the median of the per-round ratios.
"""

from __future__ import annotations

import sys

# run as a script, this file's folder comes first on sys.path, where this file would shadow
# the standard library's `http` (urllib imports it): put the project root in its place (for
# `bench.procs`) before importing more
if (
    sys.path
    and sys.path[0]
    and __import__("os").path.abspath(sys.path[0])
    == __import__("os").path.dirname(__import__("os").path.abspath(__file__))
):
    sys.path[0] = __import__("os").path.dirname(__import__("os").path.abspath(sys.path[0]))

import argparse
import csv
import json
import shutil
import statistics
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from bench.procs import ROOT, free_port, pinned, start

OUT = ROOT / "bench" / "out"
PY = sys.executable
CONNECTIONS = (8, 32, 128)
BATCH = 1000
BATCH_CONNECTIONS = 4

_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%s]==]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p99_us":%%d,"non2xx":%%d,"errors":%%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


def wrk(url: str, body: bytes, connections: int, seconds: float, script_dir: Path) -> dict:
    script = script_dir / f"post-{len(body)}.lua"
    if not script.exists():
        script.write_text(_LUA % body.decode())
    threads = 1 if connections < 64 else 2
    argv = pinned(
        1, ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script), url]
    )
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH "))
    r = json.loads(line[6:])
    if r["non2xx"] or r["errors"]:
        raise RuntimeError(f"{url}: {r['non2xx']} non-2xx answers, {r['errors']} socket errors:\n{done.stdout}")
    return {"rps": r["requests"] / (r["duration_us"] / 1e6), "p50_us": r["p50_us"], "p99_us": r["p99_us"]}


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def sample_cases(n: int) -> list[dict]:
    with open(ROOT / "rules" / "daxing" / "cases-sample.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return rows[:n]


def located_sample(cases: list[dict]) -> list[dict]:
    """The same cases with a location (a point of a unit grid in the case's area) instead of the area."""
    from bench.locate import located_cases
    from dispatch.core.load import load_ruleset

    return located_cases(load_ruleset(ROOT / "rules" / "daxing"), cases)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--quick", action="store_true", help="1 run of 2 s per figure")
    parser.add_argument("--only", choices=("single", "batch"), help="measure only single cases or only batches")
    parser.add_argument(
        "--decision-log",
        action="store_true",
        help="also a server writing every decision to a file (DISPATCH_DECISION_LOG): what the log costs",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.seconds = 1, 2
    if shutil.which("wrk") is None:
        print("bench/http.py needs wrk: apt-get update && apt-get install -y wrk", file=sys.stderr)
        return 2

    cases = sample_cases(BATCH)
    single = json.dumps(cases[0], ensure_ascii=False).encode()
    batch = json.dumps({"cases": cases}, ensure_ascii=False).encode()
    located_batch = json.dumps({"cases": located_sample(cases)}, ensure_ascii=False).encode()
    app_port, bare_port = free_port(), free_port()
    env = {"DISPATCH_BENCH_ROUTES": "1", "DISPATCH_LOG_LEVEL": "warning", "DISPATCH_PORT": str(app_port)}
    # the settings dispatch serve gives uvicorn (dispatch/api/server.py)
    uvicorn_flags = ["--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning",
                     "--no-proxy-headers", "--no-server-header"]  # fmt: skip
    base = f"http://127.0.0.1:{app_port}"
    bare_url = f"http://127.0.0.1:{bare_port}/"
    results: dict = {"connections": list(CONNECTIONS), "runs": args.runs, "seconds": args.seconds,
                     "single_body_bytes": len(single), "batch_body_bytes": len(batch), "single": {}, "batch": {}, "ratios": {}}  # fmt: skip
    app = start([PY, "-m", "dispatch", "serve", "--rules", "rules/daxing"], env, base + "/readyz")
    request = urllib.request.Request(base + "/v1/dispatch", single, {"content-type": "application/json"})
    with urllib.request.urlopen(request) as answer:  # the bare callable answers as many bytes
        size = len(answer.read())
    results["single_answer_bytes"] = size
    bare = start([PY, "-m", "uvicorn", "bench.http_bare:app", "--port", str(bare_port), *uvicorn_flags],
                 {"BENCH_BARE_BYTES": str(size)}, bare_url)  # fmt: skip
    targets = {
        "dispatch": base + "/v1/dispatch",
        "constant": base + "/v1/_bench/constant",
        "pydantic": base + "/v1/_bench/pydantic",
        "bare": bare_url,
    }
    logged = None
    log_dir = tempfile.TemporaryDirectory()
    if args.decision_log:
        log_port = free_port()
        log_env = {**env, "DISPATCH_PORT": str(log_port), "DISPATCH_DECISION_LOG": f"{log_dir.name}/decisions.jsonl"}
        logged = start([PY, "-m", "dispatch", "serve", "--rules", "rules/daxing"], log_env,
                       f"http://127.0.0.1:{log_port}/readyz")  # fmt: skip
        targets["dispatch+log"] = f"http://127.0.0.1:{log_port}/v1/dispatch"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            scripts = Path(tmp)
            for url in targets.values():  # warm every path (and the CPU clocks) before measuring
                wrk(url, single, 8, 1, scripts)
            for c in CONNECTIONS if args.only != "batch" else ():
                # rounds: every endpoint once a round, so that a slow spell of this shared
                # machine slows all of them alike; the ratios are medians of per-round ratios
                names = [n for n in targets if n != "pydantic" or c == 32]
                rounds = [
                    {n: wrk(targets[n], single, c, args.seconds, scripts) for n in names} for _ in range(args.runs)
                ]
                for n in names:
                    results["single"].setdefault(n, {})[c] = median_of([r[n] for r in rounds])
                    print(f"  {n:9s} c={c:<4d} {results['single'][n][c]['rps']:>9,.0f} req/s", file=sys.stderr)
                results["ratios"][c] = {
                    f"{n}/{base}": statistics.median(r[n]["rps"] / r[base]["rps"] for r in rounds)
                    for n in names for base in ("constant", "bare")
                }  # fmt: skip
                if logged is not None:
                    results["ratios"][c]["dispatch+log/dispatch"] = statistics.median(
                        r["dispatch+log"]["rps"] / r["dispatch"]["rps"] for r in rounds
                    )
            if args.only != "single":
                wrk(targets["dispatch"], batch, BATCH_CONNECTIONS, 1, scripts)
                wrk(targets["dispatch"], located_batch, BATCH_CONNECTIONS, 1, scripts)
                # rounds of both bodies: the same cases with area codes, and with locations instead
                rounds = [
                    {body: wrk(targets["dispatch"], data, BATCH_CONNECTIONS, args.seconds, scripts)
                     for body, data in (("codes", batch), ("locations", located_batch))}
                    for _ in range(args.runs)
                ]  # fmt: skip
                b = median_of([r["codes"] for r in rounds])
                results["batch"] = {"cases_per_request": BATCH, "connections": BATCH_CONNECTIONS, "rps": b["rps"],
                                    "cases_per_s": b["rps"] * BATCH, "p50_us": b["p50_us"], "p99_us": b["p99_us"]}  # fmt: skip
                located = median_of([r["locations"] for r in rounds])
                results["located_batch"] = {"cases_per_s": located["rps"] * BATCH, "p50_us": located["p50_us"],
                    "p99_us": located["p99_us"],
                    "ratio": statistics.median(r["locations"]["rps"] / r["codes"]["rps"] for r in rounds)}  # fmt: skip
    finally:
        for proc in (app, bare, logged):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=15)
        log_dir.cleanup()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "http.json").write_text(json.dumps(results, indent=2))
    print(render(results))
    return 0


def render(r: dict) -> str:
    s = r["single"]
    lines: list[str] = [] if not s else [(f"single case ({r['single_body_bytes']} B body, {r['single_answer_bytes']} B answer), "
             f"one worker; median of {r['runs']} x {r['seconds']:g} s; "
             "server on CPU 0, wrk on CPU 1"), "",
             (f"{'endpoint':10s} {'conns':>5s} {'req/s':>9s} {'p50 us':>8s} {'p99 us':>8s} {'p99/p50':>7s} "
             f"{'/constant':>9s} {'/bare':>6s}")]  # fmt: skip
    for c in r["connections"] if s else ():
        for name in ("dispatch", "dispatch+log", "constant", "pydantic", "bare"):
            f = s.get(name, {}).get(c)
            if f is None:
                continue
            ratio = r["ratios"][c]
            lines.append(f"{name:10s} {c:>5d} {f['rps']:>9,.0f} {f['p50_us']:>8,.0f} {f['p99_us']:>8,.0f} "
                         f"{f['p99_us'] / f['p50_us']:>7.2f} {ratio[name + '/constant']:>9.0%} "
                         f"{ratio[name + '/bare']:>6.0%}")  # fmt: skip
        if "dispatch+log/dispatch" in r["ratios"][c]:
            lines.append(f"{'':10s} {c:>5d} with the decision log to a file: {r['ratios'][c]['dispatch+log/dispatch']:.0%} of without")
        lines.append("")
    b = r["batch"]
    if not b:
        return "\n".join(lines)
    lines.append(f"batch of {b['cases_per_request']:,} cases ({r['batch_body_bytes']:,} B body), {b['connections']} "
                 f"connections: {b['cases_per_s'] / 1e6:.2f} M cases/s ({b['rps']:,.0f} req/s, p50 "
                 f"{b['p50_us'] / 1000:.1f} ms, p99 {b['p99_us'] / 1000:.1f} ms)")  # fmt: skip
    lb = r.get("located_batch")
    if lb:
        lines.append(f"the same cases with locations instead of area codes: {lb['cases_per_s'] / 1e6:.2f} M cases/s, "
                     f"{lb['ratio']:.0%} of the batch with codes (p50 {lb['p50_us'] / 1000:.1f} ms)")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
