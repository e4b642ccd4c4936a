"""Helpers for the background-work tests that run real `rq worker` processes
against Redis database 15 (not a test module itself)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/15"
CLOCK_KEY = "duban:test:clock"
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


def worker_env(store_env: dict[str, str], extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}  # local robots are reached directly
    env.update(store_env)
    env.update(
        {
            "DUBAN_CLOCK_KEY": CLOCK_KEY,
            "DUBAN_REDIS_URL": REDIS_URL,
            "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"],
        }
    )
    env.update(extra or {})
    return env


def start_worker(
    store_env: dict[str, str], *, scheduler: bool = True, args: Iterable[str] = (), env: dict[str, str] | None = None
) -> subprocess.Popen:
    """A real `rq worker` (the Procfile's, with the scheduler) on the test's Redis
    database. Its output goes to a temporary file (a pipe nobody reads could fill
    up and stall the worker); ``stop_worker`` or ``kill_worker`` gives it back."""
    log = tempfile.TemporaryFile()
    command = ["rq", "worker", *(["--with-scheduler"] if scheduler else []),
               "--serializer", "rq.serializers.JSONSerializer", "--url", REDIS_URL, "--path", str(REPO), *args,
               "duban"]  # fmt: skip
    try:
        process = subprocess.Popen(
            command, cwd=REPO, env=worker_env(store_env, env), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    except BaseException:
        log.close()
        raise
    process.log = log  # type: ignore[attr-defined]
    return process


def _output(process: subprocess.Popen) -> str:
    log = process.log  # type: ignore[attr-defined]
    if log.closed:
        return ""
    with log:
        log.seek(0)
        return log.read().decode(errors="replace")


def stop_worker(process: subprocess.Popen) -> str:
    """Warm shutdown (SIGTERM to its process group), then its output."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return _output(process)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (read from /proc), children first."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_worker(process: subprocess.Popen) -> tuple[list[int], str]:
    """SIGKILL, as a crash or the OOM killer would: the worker and its scheduler
    (its process group) at once, then its work horse (RQ puts the horse in a
    group of its own). Nothing gets a chance to clean up. Returns the pids
    killed besides the worker, and the worker's output."""
    family = descendants(process.pid)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for pid in family:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()
    return family, _output(process)


def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(interval)


def exists(app, aggregate_id: UUID) -> bool:  # type: ignore[no-untyped-def]
    try:
        app.repository.get(aggregate_id)
    except Exception:  # noqa: BLE001 - not there yet
        return False
    return True


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
