"""Policies: follow the event log (with tracking, like a projection) and turn
facts into jobs and timers.

Jobs are enqueued inside the view's transaction, before the position is
recorded: if Redis is down the transaction rolls back and the follower tries
again later, while commands go on succeeding (the event store is the truth).
Timers are rows of this view, so a Redis restart loses none of them.

Run as a process (the Procfile's ``policies``)::

    python -m workers.policies
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import date, datetime, time as clock_time, timedelta, timezone
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.utils import get_topic

from domain.circular import Circular
from domain.events import CHINA
from domain.finding import NOTICE_DEADLINE_NUMBER, Finding
from domain.unit_notice import UnitNotice
from domain.rules.deductions import end_of_deadline
from projections.postgres import PostgresView
from projections.runner import Follower
from projections.sqlite import SQLiteView
from projections.storage import open_view
from projections.views import BatchProjection, Rows, SqlView
from workers import jobs

log = logging.getLogger("duban.policies")

#: Reminders go out at the start of the working day.
REMINDER_HOUR = clock_time(9, 0)
#: How often the backstop sweep is enqueued (one job per bucket of this length).
SWEEP_SECONDS = 300


# RQ job ids may hold letters, digits, "_" and "-" only; each names the fact it serves.


class PolicySchema(SqlView):
    table_names = ("policy_findings", "policy_timers")
    schema_statements = (
        "CREATE TABLE IF NOT EXISTS {policy_findings} ("
        " finding_id TEXT PRIMARY KEY, county_id TEXT NOT NULL, deadline_number INTEGER NOT NULL DEFAULT 0)",
        "CREATE TABLE IF NOT EXISTS {policy_timers} ("
        " timer_id TEXT PRIMARY KEY, county_id TEXT NOT NULL, finding_id TEXT NOT NULL, kind TEXT NOT NULL,"
        " deadline_number INTEGER NOT NULL, days_before INTEGER NOT NULL, due_at TEXT NOT NULL,"
        " fired INTEGER NOT NULL DEFAULT 0)",
        "CREATE INDEX IF NOT EXISTS policy_timers_due ON {policy_timers} (fired, due_at)",
    )


class PolicySQLiteView(PolicySchema, SQLiteView):
    pass


class PolicyPostgresView(PolicySchema, PostgresView):
    pass


def _utc(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).isoformat()


class PolicyProjection(BatchProjection):
    name = "policies"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Finding.Filed, Finding.NoticeIssued, Finding.ExtensionGranted,
            Finding.RectificationRejected, Finding.DeadlineMissed, Circular.Issued, UnitNotice.Issued,
        )
    )  # fmt: skip

    def __init__(self, view: SqlView, queue: Any, duban: Any):
        super().__init__(view)
        self.queue = queue
        self.duban = duban

    def start_batch(self, rows: Rows) -> None:
        self._jobs: list[tuple[Any, tuple[Any, ...], str]] = []

    def before_commit(self, rows: Rows) -> None:
        # Inside the transaction: if Redis refuses, nothing of this batch is recorded.
        for func, args, job_id in self._jobs:
            self.queue.enqueue(func, *args, job_id=job_id)

    @singledispatchmethod
    def apply(self, event: Any, rows: Rows) -> None:
        """Other events ask for nothing."""

    @apply.register
    def _(self, e: Finding.Filed, rows: Rows) -> None:
        rows.execute(
            "INSERT INTO {policy_findings} (finding_id, county_id, deadline_number) VALUES (?, ?, 0)",
            (str(e.originator_id), str(e.county_id)),
        )
        self._jobs.append((jobs.issue_notice, (str(e.originator_id),), f"issue-notice_{e.originator_id}"))

    def _deadline_set(self, e: Any, rows: Rows, deadline: str) -> int:
        finding_id = str(e.originator_id)
        rows.execute(
            "UPDATE {policy_findings} SET deadline_number = deadline_number + 1 WHERE finding_id = ?", (finding_id,)
        )
        row = rows.one("SELECT county_id, deadline_number FROM {policy_findings} WHERE finding_id = ?", (finding_id,))
        number, county_id = int(row["deadline_number"]), row["county_id"]
        due = date.fromisoformat(deadline)
        timers = [("deadline", 0, end_of_deadline(due))]
        rules = self.duban.rules_in_force(county_id, e.timestamp.astimezone(CHINA).date()).rules
        for days_before in rules.reminder_days_before:
            at = datetime.combine(due - timedelta(days=days_before), REMINDER_HOUR, tzinfo=CHINA)
            if at > e.timestamp:
                timers.append(("reminder", days_before, at))
        for kind, days_before, at in timers:
            rows.execute(
                "INSERT INTO {policy_timers} (timer_id, county_id, finding_id, kind, deadline_number, days_before,"
                " due_at, fired) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                (f"{kind}:{finding_id}:{number}:{days_before}", county_id, finding_id, kind, number, days_before,
                 _utc(at)),
            )  # fmt: skip
        return number

    @apply.register
    def _(self, e: Finding.NoticeIssued, rows: Rows) -> None:
        number = self._deadline_set(e, rows, e.deadline)
        self._jobs.append((jobs.send_notice, (str(e.originator_id), number), f"notice_{e.originator_id}_{number}"))
        # The notice's document (整改通知书): printed, stored, its hash registered.
        self._jobs.append(
            (jobs.render_finding_notice, (str(e.originator_id), NOTICE_DEADLINE_NUMBER),
             f"render-notice_{e.originator_id}_{NOTICE_DEADLINE_NUMBER}")
        )  # fmt: skip

    @apply.register
    def _(self, e: Circular.Issued, rows: Rows) -> None:
        self._jobs.append((jobs.render_circular, (str(e.originator_id),), f"render-circular_{e.originator_id}"))

    @apply.register
    def _(self, e: UnitNotice.Issued, rows: Rows) -> None:
        self._jobs.append(
            (jobs.render_unit_notice, (str(e.originator_id),), f"render-unit-notice_{e.originator_id}")
        )

    @apply.register
    def _(self, e: Finding.ExtensionGranted, rows: Rows) -> None:
        self._deadline_set(e, rows, e.deadline)

    @apply.register
    def _(self, e: Finding.RectificationRejected, rows: Rows) -> None:
        number = self._deadline_set(e, rows, e.deadline)
        self._jobs.append((jobs.send_rejection, (str(e.originator_id), number), f"rejected_{e.originator_id}_{number}"))
        self._jobs.append((jobs.propose_escalation, (str(e.originator_id),), f"escalation_{e.originator_id}_r{number}"))

    @apply.register
    def _(self, e: Finding.DeadlineMissed, rows: Rows) -> None:
        # The deadline timer's job sends the notice of the miss; a miss recorded
        # by hand (the command office, or the sweep) gets it here.
        self._jobs.append(
            (jobs.deadline_passed, (str(e.originator_id), e.deadline_number),
             f"deadline_{e.originator_id}_{e.deadline_number}")
        )  # fmt: skip

    # Timers and the sweep
    def fire_due_timers(self, now: datetime, limit: int = 500) -> int:
        """Enqueue every timer due at ``now``, then mark it fired (in one transaction)."""
        with self.view.writing() as rows:
            due = rows.all(
                "SELECT * FROM {policy_timers} WHERE fired = 0 AND due_at <= ? ORDER BY due_at LIMIT ?",
                (_utc(now), limit),
            )
            for timer in due:
                finding_id, number = timer["finding_id"], int(timer["deadline_number"])
                if timer["kind"] == "deadline":
                    self.queue.enqueue(jobs.deadline_passed, finding_id, number, job_id=f"deadline_{finding_id}_{number}")
                else:
                    days = int(timer["days_before"])
                    self.queue.enqueue(
                        jobs.send_reminder, finding_id, number, days, job_id=f"reminder_{finding_id}_{number}_{days}"
                    )
                rows.execute("UPDATE {policy_timers} SET fired = 1 WHERE timer_id = ?", (timer["timer_id"],))
        return len(due)

    def enqueue_sweep(self, now: datetime) -> None:
        bucket = int(now.timestamp()) // SWEEP_SECONDS
        self.queue.enqueue(jobs.sweep, job_id=f"sweep_{bucket}")

    def timers(self) -> list[dict[str, Any]]:
        with self.view.reading() as rows:
            return [dict(r) for r in rows.all("SELECT * FROM {policy_timers} ORDER BY due_at, timer_id")]


def policy_projection(queue: Any, duban: Any, store_env: dict[str, str] | None = None) -> PolicyProjection:
    return PolicyProjection(open_view("policies", PolicySQLiteView, PolicyPostgresView, store_env), queue, duban)


class PolicyRunner:
    """The policy follower, plus firing timers and enqueueing the sweep."""

    def __init__(self, duban: Any, projection: PolicyProjection, clock: Any, poll_interval: float = 0.5):
        self.duban = duban
        self.projection = projection
        self.clock = clock
        self.follower = Follower(duban, projection, poll_interval=poll_interval)
        self.poll_interval = poll_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def step(self) -> int:
        """Follow the log, fire what is due, keep the sweep coming."""
        processed = self.follower.catch_up()
        now = self.clock()
        fired = self.projection.fire_due_timers(now)
        self.projection.enqueue_sweep(now)
        return processed + fired

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.step() == 0:
                    self._stop.wait(self.poll_interval)
                self.error = None
            except Exception as error:  # Redis down, a database hiccup: try again shortly
                self.error = error
                log.warning("policies paused: %s", error)
                self._stop.wait(min(5.0, self.poll_interval * 4))

    def start(self) -> PolicyRunner:
        self._thread = threading.Thread(target=self.run, name="duban-policies", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def main() -> None:
    from projections.leases import Leased, lease_for
    from projections.storage import open_application
    from workers.clock import clock_from_env
    from workers.queueing import RQJobQueue

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    clock = clock_from_env()
    duban = open_application(clock=clock)
    projection = policy_projection(RQJobQueue(), duban)
    # One policies process at a time. Two would compete for the view, and both would
    # fire a due timer: RQ refuses a job id only while that job is queued or running,
    # so a job already done would run again (harmless, the jobs are idempotent, but
    # wasted). A second process waits, and takes over when the first is gone.
    runner = Leased(lease_for(projection.name, projection.view), lambda: PolicyRunner(duban, projection, clock))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    runner.start()
    position = projection.view.max_tracking_id(duban.name) or 0
    log.info("policies for %s, the view at position %s", duban.name, position)
    while not stopping.wait(5.0):
        pass
    runner.stop()
    duban.close()


if __name__ == "__main__":
    main()
