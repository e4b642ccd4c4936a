"""Two processes for one view: the second waits, takes over when the first is
killed, and every position is processed once (the view equals a rebuild)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from domain.events import INSPECTOR
from domain.rules.rulebook import DEFAULT_RULES
from domain.service import TravellingClock
from projections.leases import FileLease, Leased
from projections.ledger_query import LedgerQuery
from projections.runner import PROJECTIONS, Follower, ledger_projection, select_projections
from projections.storage import open_application

REPO = Path(__file__).resolve().parents[2]


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO,
            env={**os.environ, **env, "CREATE_TABLE": "n"},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_line(log: Path, text: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"no {text!r} in the log:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)


def end(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def county(store_env):
    clock = TravellingClock(datetime(2026, 10, 9, 1, tzinfo=timezone.utc))
    app = open_application(store_env, clock)
    ledger_projection(store_env)  # the view's tables, as init-store makes them
    county = app.register_unit(name="米脂县", kind="county", parent_id=None).id
    app.open_rulebook(county, DEFAULT_RULES, clock().date())
    zone = app.register_unit(name="东战区", kind="zone", parent_id=county).id
    town = app.register_unit(name="银州镇", kind="town", parent_id=zone).id
    office = app.register_unit(name="县脱贫攻坚指挥部办公室", kind="office", parent_id=county).id
    inspector = app.register_user(unit_id=office, name="督查员", login="i", roles=[INSPECTOR]).id
    yield app, town, app.actor(inspector, INSPECTOR)
    app.close()


def file_findings(app, town, actor, count: int) -> int:
    position = 0
    for n in range(count):
        finding = app.file_finding(
            unit_id=town, category="missing", source="inspection", severity="general",
            check_item=f"台账{n}", description="台账缺项", actor=actor,
        )  # fmt: skip
        position = finding.position
    return position


def test_a_second_projector_waits_then_takes_over_and_nothing_is_processed_twice(store_env, county, tmp_path):
    app, town, actor = county
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    args = ["-m", "projections.runner", "--only", "ledger"]
    first = start(args, store_env, first_log)
    second = None
    try:
        wait_for_line(first_log, "holds the lease on ledger", first)
        second = start(args, store_env, second_log)
        wait_for_line(second_log, "ledger is followed by another process", second)

        projection = ledger_projection(store_env)
        watcher = Follower(app, projection)  # only to read the view's position
        position = file_findings(app, town, actor, 12)
        assert watcher.wait_for(position, timeout=60), first_log.read_text()
        assert "took over" not in second_log.read_text()

        end(first, signal.SIGKILL)  # the holder dies without letting go
        position = file_findings(app, town, actor, 12)
        wait_for_line(second_log, "took over ledger", second)
        assert watcher.wait_for(position, timeout=60), second_log.read_text()
    finally:
        end(first)
        if second is not None:
            end(second)
    for log in (first_log, second_log):
        text = log.read_text(errors="replace")
        # A replayed position would be refused by the tracking row and logged as a failure.
        assert "Traceback" not in text and "failed" not in text, text

    query = LedgerQuery(projection.view)
    live = query.all_rows()
    assert len([row for row in live if row["table"] == "ledger_findings"]) == 24
    projection.view.drop_view(app.name)
    watcher.catch_up()
    assert query.all_rows() == live


def test_a_second_policies_process_waits_and_takes_over(tmp_path):
    from projections.storage import open_view
    from tests.support import sqlite_env
    from workers.policies import PolicyPostgresView, PolicySQLiteView

    env = {**sqlite_env(tmp_path), "DUBAN_REDIS_URL": "redis://127.0.0.1:6379/12"}
    open_application(env).close()
    open_view("policies", PolicySQLiteView, PolicyPostgresView, env).datastore.close()
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start(["-m", "workers.policies"], env, first_log)
    second = None
    try:
        wait_for_line(first_log, "holds the lease on policies", first)
        second = start(["-m", "workers.policies"], env, second_log)
        wait_for_line(second_log, "policies is followed by another process", second)
        end(first, signal.SIGKILL)
        wait_for_line(second_log, "took over policies", second)
    finally:
        end(first)
        if second is not None:
            end(second)
    assert "Traceback" not in second_log.read_text()


def test_leased_runs_only_while_holding_and_hands_over_on_stop(tmp_path):
    class Runner:
        def __init__(self, runs: list[str], name: str):
            self.runs, self.name = runs, name

        def start(self):
            self.runs.append(f"{self.name} start")
            return self

        def stop(self):
            self.runs.append(f"{self.name} stop")

    runs: list[str] = []
    path = tmp_path / "view-ledger.sqlite.lock"
    first = Leased(FileLease("ledger", path), lambda: Runner(runs, "first"), retry_interval=0.05).start()
    assert first.holding.wait(10)
    second = Leased(FileLease("ledger", path), lambda: Runner(runs, "second"), retry_interval=0.05).start()
    time.sleep(0.3)  # time for the second to try, not an assertion on timing
    assert runs == ["first start"] and not second.holding.is_set()
    first.stop()
    assert second.holding.wait(10)
    second.stop()
    assert runs == ["first start", "first stop", "second start", "second stop"]


def test_the_projector_splits_by_only_and_except():
    assert list(select_projections([])) == list(PROJECTIONS)
    assert list(select_projections(["--only", "ledger,scores"])) == ["ledger", "scores"]
    assert "audit" not in select_projections(["--except", "audit,history"])
    with pytest.raises(SystemExit):
        select_projections(["--only", "ledgre"])
    with pytest.raises(SystemExit):
        select_projections(["--only", "audit", "--except", "audit"])
