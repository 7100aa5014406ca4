"""A worker's memory serving a rule set, and its peak while a reload builds the new set beside the old.

    python bench/reload_memory.py                       # rules/daxing
    python bench/reload_memory.py --rules /tmp/dx10     # python -m dispatch.synth ruleset /tmp/dx10 --scale 10

Starts `dispatch serve` (one worker) on a copy of the rule set, polling it every second, waits for
/readyz, reads its RSS, then changes one rule file (a rule's basis text: the same decisions, a
changed file) so that the poll loads the set again, samples the RSS every 20 ms until the reload
is done, and prints the three figures: what deploy/k8s's memory request and limit are sized by.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0] and __import__("os").path.abspath(sys.path[0]) == __import__("os").path.dirname(
    __import__("os").path.abspath(__file__)
):  # run as a script: bench/http.py would shadow the standard library's http; the root goes in its place
    sys.path[0] = __import__("os").path.dirname(__import__("os").path.abspath(sys.path[0]))

import argparse
import json
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from bench.procs import ROOT, free_port, start


def metric(base: str, name: str) -> float:
    with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rules", default=str(ROOT / "rules" / "daxing"))
    p.add_argument("--timeout", type=float, default=60, help="seconds to wait for the reload")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reload-memory-") as tmp:
        rules = Path(tmp) / "rules"
        shutil.copytree(args.rules, rules, ignore=shutil.ignore_patterns("cases-sample.csv", "golden.csv"))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {"DISPATCH_RULES_POLL": "1", "DISPATCH_LOG_LEVEL": "warning"}
        proc = start([sys.executable, "-m", "dispatch", "serve", "--rules", str(rules), "--port", str(port)], env,
                     base + "/readyz", None, timeout=120)  # fmt: skip
        try:
            server = psutil.Process(proc.pid)
            time.sleep(2)  # settled after the warm-up
            serving = server.memory_info().rss
            reloads = metric(base, "dispatch_reloads_total")
            target = min((rules / "rules").glob("*.csv"))
            text = target.read_text(encoding="utf-8")
            lines = text.splitlines(keepends=True)
            lines[1] = lines[1].rstrip("\r\n") + " \n"  # a trailing space in the last field: a changed file
            target.write_text("".join(lines), encoding="utf-8")
            peak, deadline = serving, time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                peak = max(peak, server.memory_info().rss)
                if metric(base, "dispatch_reloads_total") > reloads:
                    break
                time.sleep(0.02)
            else:
                print(f"no reload within {args.timeout:g} s", file=sys.stderr)
                return 1
            time.sleep(1)
            after = server.memory_info().rss
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    mib = 2**20
    print(json.dumps({"rules": args.rules, "serving_mib": round(serving / mib), "reload_peak_mib": round(peak / mib),
                      "after_reload_mib": round(after / mib)}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
