"""Processes under test: free ports, CPU pinning, starting a server and waiting until it is ready.

Shared by bench/http.py (wrk) and bench/load.py (locust). On a machine with two cores or
more the server and the load generator are pinned to different CPUs with taskset, so
that they do not take turns on one core.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_pin() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) > 1


def pinned(cpus: int | str | None, argv: list[str]) -> list[str]:
    """`argv` run on the CPUs `cpus` (a taskset list: 0, "0-1", "1,3"); as is when None or pinning cannot help."""
    return ["taskset", "-c", str(cpus), *argv] if cpus is not None and can_pin() else argv


def wait_ready(url: str, timeout: float = 60, proc: subprocess.Popen | None = None) -> None:
    """Return when `url` answers 200; RuntimeError after `timeout` s, or as soon as `proc` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process exited with status {proc.returncode} before {url} was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def start(argv: list[str], env: dict, ready_url: str, cpus: int | str | None = 0, timeout: float = 60,
          log: Path | None = None) -> subprocess.Popen:  # fmt: skip
    """Start `argv` in the project root (pinned to `cpus`) and wait until `ready_url` answers 200.

    Its stderr goes to the file `log` (a temporary file when None): a pipe that nobody reads
    would block a server that logs during a long run. Its tail is in the error when it fails."""
    env = {"DISPATCH_DRAIN_SECONDS": "0", **env}  # a bench stops its server when done: no one to drain for
    err_file = open(log, "w+b") if log is not None else tempfile.TemporaryFile()  # noqa: SIM115 (the process owns it)
    proc = subprocess.Popen(pinned(cpus, argv), cwd=ROOT, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=err_file)  # fmt: skip
    try:
        wait_ready(ready_url, timeout, proc)
    except RuntimeError as err:
        proc.kill()
        proc.wait()
        err_file.seek(0)
        raise RuntimeError(f"{err}\n{err_file.read().decode(errors='replace')[-2000:]}") from None
    finally:
        err_file.close()  # the child holds its own descriptor
    return proc
