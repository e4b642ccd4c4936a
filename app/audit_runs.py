"""Verification runs started from the discipline office's page, in the
background: a full verification of 1,000,000 events takes seconds to minutes,
longer than a request should.

Services mode: an RQ job (``workers.jobs.verify_history``) whose progress is in
the job's meta. Embedded mode (no Redis): a thread of the web process, its
progress kept in memory. Either way the result is recorded as an event with the
person who asked, and the page then reads it from the verifications view; the
progress here is only for the bar while it runs.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.audit import Anchor
from domain.events import Actor

log = logging.getLogger("duban.audit")

JOB_PREFIX = "verify-"


@dataclass
class RunStatus:
    """A run as far as it got: queued, running, done or failed."""

    state: str
    position: int = 0
    total: int = 0
    county_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        percent = 100 if self.state == "done" else int(100 * self.position / self.total) if self.total else 0
        return {"state": self.state, "position": self.position, "total": self.total, "percent": percent}


class InlineRuns:
    """Embedded mode: each run a thread of this process."""

    def __init__(self, runtime: Any):
        self.runtime = runtime
        self._runs: dict[str, RunStatus] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def start(self, run_id: UUID, actor: Actor, anchor: Anchor | None) -> None:
        key = str(run_id)
        with self._lock:
            if key in self._runs:
                return  # the same form sent twice
            status = self._runs[key] = RunStatus("running", county_id=str(actor.county_id))
        thread = threading.Thread(target=self._run, args=(run_id, actor, anchor, status), name=f"verify-{key}", daemon=True)
        self._threads[key] = thread
        thread.start()

    def _run(self, run_id: UUID, actor: Actor, anchor: Anchor | None, status: RunStatus) -> None:
        from projections.audit_verify import run_and_record

        def progress(position: int, total: int) -> None:
            status.position, status.total = position, total

        try:
            _, recorded = run_and_record(self.runtime.duban, self.runtime.audit, actor, run_id, anchor, progress)
            self.runtime.wait_for(recorded.position)
            status.state = "done"
        except Exception:
            log.exception("verification run %s failed", run_id)
            status.state = "failed"

    def status(self, run_id: str) -> RunStatus | None:
        return self._runs.get(run_id)

    def join(self, run_id: str | None = None, timeout: float | None = None) -> None:
        """Wait for a run's thread, or every run's (tests)."""
        for key, thread in list(self._threads.items()):
            if run_id is None or key == run_id:
                thread.join(timeout)


class RQRuns:
    """Services mode: each run an RQ job; its progress is the job's meta."""

    def __init__(self) -> None:
        from workers.queueing import RQJobQueue

        self.jobs = RQJobQueue()

    def start(self, run_id: UUID, actor: Actor, anchor: Anchor | None) -> None:
        from workers.jobs import verify_history

        self.jobs.enqueue(
            verify_history, str(run_id), actor.user_id, actor.role, str(anchor) if anchor else "",
            job_id=JOB_PREFIX + str(run_id),
        )  # fmt: skip

    def status(self, run_id: str) -> RunStatus | None:
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            job = Job.fetch(JOB_PREFIX + run_id, connection=self.jobs.connection, serializer=self.jobs.queue.serializer)
        except NoSuchJobError:
            return None
        state = {"finished": "done", "failed": "failed", "started": "running"}.get(job.get_status(refresh=True) or "", "queued")
        meta = job.get_meta(refresh=True)
        return RunStatus(state, int(meta.get("position", 0)), int(meta.get("total", 0)), meta.get("county_id"))


    def join(self, run_id: str | None = None, timeout: float | None = None) -> None:
        """Nothing to wait for here: the runs are the workers'."""


def runs(app: Any) -> InlineRuns | RQRuns:
    """This web process's runner, made once."""
    found = app.extensions.get("duban_audit_runs")
    if found is None:
        runtime = app.extensions["duban"]
        found = InlineRuns(runtime) if runtime.embedded else RQRuns()
        app.extensions["duban_audit_runs"] = found
    return found
