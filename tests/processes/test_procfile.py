"""Each process the Procfile names starts and does its job, as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

from domain.rules.rulebook import DEFAULT_RULES
from domain.service import TravellingClock
from projections.ledger_query import LedgerQuery
from projections.runner import Follower, ledger_projection
from projections.storage import open_application

REPO = Path(__file__).resolve().parents[2]


def procfile() -> dict[str, str]:
    entries = {}
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(name: str, env: dict[str, str]) -> subprocess.Popen:
    venv_bin = str(Path(sys.executable).parent)
    full_env = {**os.environ, **env, "PATH": venv_bin + os.pathsep + os.environ["PATH"]}
    return subprocess.Popen(
        ["bash", "-c", "exec " + procfile()[name]],
        cwd=REPO,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.stdout is not None
    if process.stdout.closed:
        return ""
    with process.stdout:
        return process.stdout.read().decode(errors="replace")


def test_the_procfile_names_every_process():
    assert set(procfile()) == {"web", "projector", "policies", "worker"}
    assert "--with-scheduler" in procfile()["worker"] and "JSONSerializer" in procfile()["worker"]


@pytest.fixture
def store(tmp_path):
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "events.sqlite"),
        "DUBAN_VAR_DIR": str(tmp_path),
        "DUBAN_MODE": "services",
    }
    clock = TravellingClock(datetime(2026, 10, 9, 1, tzinfo=timezone.utc))
    app = open_application(env, clock)
    county = app.register_unit(name="米脂县", kind="county", parent_id=None).id
    app.open_rulebook(county, DEFAULT_RULES, clock().date())
    yield env, app, county
    app.close()


def test_projector_process_follows_the_store(store):
    env, app, county = store
    process = start("projector", env)
    try:
        zone = app.register_unit(name="东战区", kind="zone", parent_id=county)
        projection = ledger_projection(env)
        follower = Follower(app, projection)  # only to read the view's position
        assert follower.wait_for(zone.position, timeout=20), stop(process)
        units = {u["name"] for u in LedgerQuery(projection.view).units()}
        assert "东战区" in units
    finally:
        output = stop(process)
    assert "Traceback" not in output, output


def test_web_process_serves_the_ledger(store):
    env, app, county = store
    port = free_port()
    process = start("web", {**env, "PORT": str(port)})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    body = response.read().decode()
                    assert response.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("web did not answer:\n" + stop(process))
                time.sleep(0.3)
        assert "问题台账" in body
    finally:
        output = stop(process)
    assert "Traceback" not in output, output


def test_policies_and_worker_processes_issue_and_deliver_a_notice(store):
    from redis import Redis

    from domain.events import INSPECTOR
    from domain.message import message_id

    env, app, county = store
    redis_url = "redis://127.0.0.1:6379/12"
    connection = Redis.from_url(redis_url)
    connection.flushdb()
    env = {**env, "DUBAN_REDIS_URL": redis_url}
    zone = app.register_unit(name="西战区", kind="zone", parent_id=county).id
    town = app.register_unit(name="龙镇", kind="town", parent_id=zone).id
    office = app.register_unit(name="县脱贫攻坚指挥部办公室", kind="office", parent_id=county).id
    inspector = app.register_user(unit_id=office, name="督查员", login="i", roles=[INSPECTOR]).id
    processes = [start("projector", env), start("policies", env), start("worker", env)]
    try:
        finding = app.file_finding(
            unit_id=town, category="missing", source="inspection", severity="general", check_item="台账",
            description="台账缺项", actor=app.actor(inspector, INSPECTOR),
        ).id  # fmt: skip
        notice = message_id("notice", finding, 1)
        deadline = time.monotonic() + 90
        # The printed notice (anchored on the audit chain the projector keeps)
        # is the last thing the pipeline does; stopping before it would cut a
        # render job off from the chain it waits for.
        while True:
            try:
                delivered = app.message(notice).was_delivered("inbox", f"unit:{town}")
            except Exception:  # noqa: BLE001 - not sent yet
                delivered = False
            if delivered and app.finding(finding).notice_documents.get(1):
                break
            if time.monotonic() > deadline:
                pytest.fail("no notice:\n" + "\n".join(stop(p) for p in reversed(processes)))
            time.sleep(0.2)
        assert app.finding(finding).status == "open"
    finally:
        # consumers first: a worker finishing its job may still need the projector
        outputs = [stop(p) for p in reversed(processes)]
        connection.flushdb()
        connection.close()
    for output in outputs:
        assert "Traceback" not in output, output
