"""What recording one request's metrics costs: ours (hand-written counters) vs prometheus_client, plain and multiprocess.

    .venv/bin/pip install prometheus-client      # the comparison only; the service does not use it
    .venv/bin/python bench/metrics_cost.py

A request records: its count by endpoint and status, its latency in a histogram, the
decision by status. Median ns per request of 5 runs of 200,000 requests each.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from dispatch.api.metrics import BUCKETS, Metrics

N, RUNS = 200_000, 5


def ours() -> float:
    m = Metrics()
    statuses, errors = [1, 0, 0], {}
    t = time.perf_counter()
    for _ in range(N):
        m.request("/v1/dispatch", 200, 0.00004)
        m.tally(statuses, errors)
    return (time.perf_counter() - t) / N * 1e9


def prometheus(multiprocess: bool) -> float:
    import importlib

    if multiprocess:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp()
    else:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    import prometheus_client
    import prometheus_client.values

    importlib.reload(prometheus_client.values)  # it picks its value class from the environment at import
    importlib.reload(prometheus_client.metrics)
    registry = prometheus_client.CollectorRegistry()
    requests = prometheus_client.metrics.Counter("r", "r", ["endpoint", "status"], registry=registry)
    latency = prometheus_client.metrics.Histogram("l", "l", ["endpoint"], buckets=BUCKETS, registry=registry)
    decisions = prometheus_client.metrics.Counter("d", "d", ["status"], registry=registry)
    t = time.perf_counter()
    for _ in range(N):
        requests.labels("/v1/dispatch", "200").inc()
        latency.labels("/v1/dispatch").observe(0.00004)
        decisions.labels("auto").inc()
    return (time.perf_counter() - t) / N * 1e9


def main() -> int:
    rows = {"ours (hand-written)": ours, "prometheus_client": lambda: prometheus(False),
            "prometheus_client multiprocess": lambda: prometheus(True)}  # fmt: skip
    print(f"ns to record one request's metrics (median of {RUNS} x {N:,}):")
    base = None
    for name, fn in rows.items():
        ns = statistics.median(fn() for _ in range(RUNS))
        base = base or ns
        print(f"  {name:32} {ns:8.0f} ns   {ns / base:5.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
