"""Batch flood: does a flood of large batches starve small requests, and what do bad cases cost?

    .venv/bin/python bench/flood.py                  # 3 runs; about 3 minutes
    .venv/bin/python bench/flood.py --quick          # 1 short run
    .venv/bin/python bench/flood.py --server-root /path/to/another/checkout   # the same abuse on other code

One `dispatch serve` worker on CPU 0 (the embedded Daxing rule set); the clients on CPU 1.
1. Batch throughput, one connection posting 10,000-case batches back to back: clean
   batches, then batches with 10 % bad cases (unknown codes, malformed times, missing
   fields) — the ratio says what a bad case costs next to a good one.
2. A single-case probe (its own process, one request every 20 ms) alone, then under
   the flood: 100 connections posting 10,000-case batches with 10 % bad cases in waves,
   all 100 at once, the next wave when all are answered. The probe's p50/p99/max say
   whether batches starve small requests.
Figures are medians over --runs runs. The machine is shared: quote medians.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the project root first on sys.path, where bench/http.py
    sys.path[0] = str(Path(__file__).resolve().parent.parent)  # would shadow the standard library's http

import argparse
import csv
import http.client
import json
import multiprocessing as mp
import os
import statistics
import threading
import time

from bench.procs import ROOT, free_port, start

SAMPLE = ROOT / "rules" / "daxing" / "cases-sample.csv"
KEYS = ("id", "event", "area", "source", "reported_at")


def batch_body(n: int, bad_share: float, seed: int = 1) -> bytes:
    """A {"cases": [...]} body of n sample cases; every 1/bad_share-th one spoiled, in turn by kind."""
    with open(SAMPLE, newline="", encoding="utf-8") as f:
        rows = [{k: r[k] for k in KEYS} for r in csv.DictReader(f)]
    cases = [dict(rows[(j * 7 + seed) % len(rows)], id=f"F{j:07d}") for j in range(n)]
    if bad_share > 0:
        step = round(1 / bad_share)
        spoil = [
            lambda c: c.update(area="nowhere"),
            lambda c: c.update(event="99999999"),
            lambda c: c.update(reported_at="2025-13-01T08:00:00"),
            lambda c: c.update(source="fax"),
            lambda c: c.pop("event"),
        ]
        for k, j in enumerate(range(0, n, step)):
            spoil[k % len(spoil)](cases[j])
    return json.dumps({"cases": cases}, ensure_ascii=False).encode()


def post(conn: http.client.HTTPConnection, body: bytes) -> int:
    conn.request("POST", "/v1/dispatch", body=body, headers={"content-type": "application/json"})
    r = conn.getresponse()
    r.read()
    return r.status


def throughput(port: int, body: bytes, n_cases: int, batches: int) -> float:
    """Cases per second for `batches` posts of `body` on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    post(conn, body)  # warm
    started = time.perf_counter()
    for _ in range(batches):
        if post(conn, body) != 200:
            raise RuntimeError("a batch was not answered 200")
    seconds = time.perf_counter() - started
    conn.close()
    return batches * n_cases / seconds


def probe(port: int, seconds: float, out) -> None:
    """Single cases every 20 ms for `seconds`; latencies (ms) and failures to `out` (a Queue)."""
    case = json.dumps(
        {"id": "P1", "event": "06010002", "area": "110115005001", "source": "grid", "reported_at": "2025-12-01T08:00:00+08:00"}
    ).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies, failed = [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        t = time.perf_counter()
        try:
            ok = post(conn, case) == 200
        except OSError:
            ok = False
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies.append((time.perf_counter() - t) * 1000)
        failed += not ok
        time.sleep(max(0.0, 0.02 - (time.perf_counter() - t)))
    out.put((latencies, failed))


def flood(port: int, body: bytes, connections: int, seconds: float, out) -> None:
    """Waves of `connections` batches sent at once (a barrier between waves), for `seconds`: every
    wave puts all of them before the server together; batches answered to `out`."""
    done = [0] * connections
    deadline = time.monotonic() + seconds
    barrier = threading.Barrier(connections)

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        while True:
            try:
                barrier.wait(timeout=300)
            except threading.BrokenBarrierError:
                return
            if time.monotonic() >= deadline:
                barrier.abort()
                return
            if post(conn, body) == 200:
                done[k] += 1

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(sum(done))


def percentiles(latencies: list[float]) -> dict:
    s = sorted(latencies)
    return {"n": len(s), "p50_ms": s[len(s) // 2], "p99_ms": s[min(len(s) - 1, int(len(s) * 0.99))], "max_ms": s[-1]}


def one_run(port: int, args, clean: bytes, bad: bytes) -> dict:
    ctx = mp.get_context("spawn")
    result = {
        "clean_cases_per_s": throughput(port, clean, args.cases, args.batches),
        "bad_cases_per_s": throughput(port, bad, args.cases, args.batches),
    }
    q = ctx.Queue()
    alone = ctx.Process(target=probe, args=(port, args.probe_seconds, q))
    alone.start()
    result["probe_alone"], _ = _percentiles_of(q.get())
    alone.join()
    flooders = ctx.Process(target=flood, args=(port, bad, args.connections, args.seconds, q))
    prober = ctx.Process(target=probe, args=(port, args.seconds - 1, q))
    flooders.start()
    time.sleep(1)  # the flood first: the probe measures it at full strength
    prober.start()
    got = [q.get(), q.get()]
    flooders.join()
    prober.join()
    batches = next(g for g in got if isinstance(g, int))
    result["probe_flood"], result["probe_failed"] = _percentiles_of(next(g for g in got if isinstance(g, tuple)))
    result["flood_batches"] = batches
    result["flood_cases_per_s"] = batches * args.cases / args.seconds
    return result


def _percentiles_of(item: tuple[list[float], int]) -> tuple[dict, int]:
    latencies, failed = item
    return percentiles(latencies), failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-root", default=str(ROOT), help="the checkout whose `dispatch serve` runs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cases", type=int, default=10_000, help="cases a batch")
    parser.add_argument("--bad", type=float, default=0.10, help="share of bad cases in a bad batch")
    parser.add_argument("--batches", type=int, default=20, help="batches for each throughput figure")
    parser.add_argument("--connections", type=int, default=100, help="flooding connections")
    parser.add_argument("--seconds", type=float, default=20, help="length of the flood")
    parser.add_argument("--probe-seconds", type=float, default=5, help="the probe alone")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.batches, args.seconds, args.probe_seconds = 1, 5, 8, 2
    clean, bad = batch_body(args.cases, 0.0), batch_body(args.cases, args.bad)
    port = free_port()
    server_root = Path(args.server_root).resolve()
    env = {"PYTHONPATH": str(server_root), "DISPATCH_PORT": str(port), "DISPATCH_RULES": str(ROOT / "rules" / "daxing")}
    server = start([sys.executable, "-m", "dispatch", "serve"], env, f"http://127.0.0.1:{port}/readyz", cpus=0)
    os.sched_setaffinity(0, {1}) if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1 else None
    try:
        runs = [one_run(port, args, clean, bad) for _ in range(args.runs)]
    finally:
        server.terminate()
        server.wait(timeout=30)
    med = statistics.median
    report = {
        "server_root": str(server_root),
        "runs": runs,
        "clean_cases_per_s": med(r["clean_cases_per_s"] for r in runs),
        "bad_cases_per_s": med(r["bad_cases_per_s"] for r in runs),
        "probe_alone_p99_ms": med(r["probe_alone"]["p99_ms"] for r in runs),
        "probe_flood_p50_ms": med(r["probe_flood"]["p50_ms"] for r in runs),
        "probe_flood_p99_ms": med(r["probe_flood"]["p99_ms"] for r in runs),
        "probe_flood_max_ms": med(r["probe_flood"]["max_ms"] for r in runs),
        "probe_failed": sum(r["probe_failed"] for r in runs),
        "flood_cases_per_s": med(r["flood_cases_per_s"] for r in runs),
    }
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "flood.json").write_text(json.dumps(report, indent=2))
    print(f"server: {server_root} (1 worker, CPU 0); clients on CPU 1; medians of {args.runs} run(s)")
    print(f"batches of {args.cases:,}, one connection:  clean {report['clean_cases_per_s'] / 1e6:.2f} M cases/s,"
          f"  {args.bad:.0%} bad {report['bad_cases_per_s'] / 1e6:.2f} M cases/s"
          f"  = {report['bad_cases_per_s'] / report['clean_cases_per_s']:.0%} of clean")  # fmt: skip
    print(f"single-case probe alone: p99 {report['probe_alone_p99_ms']:.1f} ms")
    print(f"under {args.connections} connections of {args.cases:,}-case batches ({args.bad:.0%} bad):"
          f" probe p50 {report['probe_flood_p50_ms']:.1f} ms, p99 {report['probe_flood_p99_ms']:.1f} ms,"
          f" max {report['probe_flood_max_ms']:.1f} ms, {report['probe_failed']} failed;"
          f" the flood {report['flood_cases_per_s'] / 1e6:.2f} M cases/s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
