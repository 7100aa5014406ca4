"""The Dockerfile, as far as it can be tried without Docker: its shape, its warm-up, its command, its health check.

The final stage's ENV is applied, its build-time RUN runs here with the image's paths
mapped to a temp dir (the numba cache starts empty, as in a build), then its CMD starts
the service on the loopback and its HEALTHCHECK command must pass.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.api.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(m.group(1).upper(), m.group(2).strip()) for m in re.finditer(r"^(\w+)\s+(.*)$", joined, re.MULTILINE)]


def final_stage() -> list[tuple[str, str]]:
    ins = instructions()
    last_from = max(i for i, (name, _) in enumerate(ins) if name == "FROM")
    return ins[last_from:]


def env_of(stage) -> dict[str, str]:
    env = {}
    for name, args in stage:
        if name == "ENV":
            for token in shlex.split(args):
                key, _, value = token.partition("=")
                env[key] = value
    return env


def test_two_slim_stages_a_user_without_rights_and_a_health_check():
    ins = instructions()
    froms = [a for n, a in ins if n == "FROM"]
    assert len(froms) == 2 and all(f.startswith("python:3.11-slim") for f in froms)
    stage = final_stage()
    users = [a for n, a in stage if n == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert any(n == "HEALTHCHECK" and "/healthz" in a for n, a in stage)
    assert "NUMBA_CACHE_DIR" in env_of(stage)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


@pytest.mark.slow  # every kernel compiled into an empty cache, as in a build: about 25 s (make test-slow)
def test_warm_up_fills_the_cache_and_the_command_serves(tmp_path):
    stage = final_stage()
    env = env_of(stage)
    rules = str(ROOT / "rules" / "daxing")
    cache = tmp_path / "numba-cache"
    mapping = {env["DISPATCH_RULES"]: rules, env["NUMBA_CACHE_DIR"]: str(cache)}
    port = free_port()
    run_env = {**os.environ, **env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DISPATCH_RULES": rules,
               "NUMBA_CACHE_DIR": str(cache), "DISPATCH_HOST": "127.0.0.1", "DISPATCH_PORT": str(port),
               "DISPATCH_LOG_LEVEL": "warning"}  # fmt: skip

    warm = [a for n, a in stage if n == "RUN" and "--warm-only" in a]
    assert len(warm) == 1
    for step in warm[0].split("&&"):
        step = step.strip()
        if step.startswith("chown"):  # the image's user does not exist here
            continue
        for image_path, here in mapping.items():
            step = step.replace(image_path, here)
        done = subprocess.run(
            step, shell=True, check=False, env=run_env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{step}\n{done.stdout}\n{done.stderr}"
    assert list(cache.rglob("*.nbi")), "the warm-up left no numba cache"

    cmd = json.loads(next(a for n, a in stage if n == "CMD"))
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=run_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        ready = _wait(f"http://127.0.0.1:{port}/readyz", proc)
        assert ready, proc.stdout.read().decode() if proc.poll() is not None else "not ready"
        assert time.monotonic() - started < 30  # a warm cache: no kernel compiles at start
        health = next(a for n, a in stage if n == "HEALTHCHECK")
        check = json.loads(health[health.index("CMD") + 3 :].strip())
        assert subprocess.run(check, env=run_env, timeout=10, check=False).returncode == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) in (0, -signal.SIGTERM)  # uvicorn shuts down, then re-raises the signal


def _wait(url: str, proc: subprocess.Popen, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.1)
    return False
