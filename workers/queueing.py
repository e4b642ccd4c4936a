"""Where jobs go: RQ on Redis (services mode), or a thread in this process
(embedded mode, no Redis). Either way a job id is run once: ids are derived
from the fact the job serves, and RQ refuses a second job with a live id."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("duban.jobs")

QUEUE_NAME = "duban"
#: Failed jobs retry with growing pauses, then land in RQ's failed registry.
RETRY_INTERVALS = [5, 30, 120, 600]
#: Overrides the pauses (comma-separated seconds, one per retry), e.g. "1,1" in tests.
RETRY_INTERVALS_VARIABLE = "DUBAN_RETRY_INTERVALS"


def retry_intervals() -> list[int]:
    """The pauses between retries: ``DUBAN_RETRY_INTERVALS`` or ``RETRY_INTERVALS``."""
    text = os.environ.get(RETRY_INTERVALS_VARIABLE, "").strip()
    if not text:
        return list(RETRY_INTERVALS)
    try:
        intervals = [int(part) for part in text.split(",")]
    except ValueError:
        intervals = []
    if not intervals or any(i < 0 for i in intervals):
        raise ValueError(f"{RETRY_INTERVALS_VARIABLE} must be comma-separated seconds, not {text!r}")
    return intervals


def redis_url() -> str:
    return os.environ.get("DUBAN_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def redis_connection():  # type: ignore[no-untyped-def]
    from redis import Redis

    return Redis.from_url(redis_url(), socket_timeout=5, socket_connect_timeout=5)


class RQJobQueue:
    """Jobs on RQ with the JSON serializer (pickle is unsafe across processes)."""

    def __init__(self, connection=None, name: str = QUEUE_NAME):  # type: ignore[no-untyped-def]
        from rq import Queue
        from rq.serializers import JSONSerializer

        self.connection = connection or redis_connection()
        self.queue = Queue(name, connection=self.connection, serializer=JSONSerializer)
        self.retry_intervals = retry_intervals()

    def enqueue(self, func: Callable[..., Any], *args: Any, job_id: str) -> None:
        from rq import Retry
        from rq.exceptions import DuplicateJobError

        try:
            self.queue.enqueue(
                func, *args, job_id=job_id, unique=True,
                retry=Retry(max=len(self.retry_intervals), interval=self.retry_intervals),
            )
        except DuplicateJobError:
            pass  # already queued or running: the same fact, the same job


class InlineJobQueue:
    """The embedded mode's queue: one background thread runs jobs in order,
    each id once per process, retrying a failure a few times."""

    def __init__(self, retries: int = 3, pause: float = 1.0):
        self.retries = retries
        self.pause = pause
        self._jobs: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...], str] | None] = queue.Queue()
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="duban-inline-jobs", daemon=True)
        self._thread.start()

    def enqueue(self, func: Callable[..., Any], *args: Any, job_id: str) -> None:
        with self._lock:
            if job_id in self._seen:
                return
            self._seen.add(job_id)
        self._jobs.put((func, args, job_id))

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            func, args, job_id = item
            for attempt in range(1, self.retries + 2):
                try:
                    func(*args)
                    break
                except Exception:
                    log.exception("job %s failed (attempt %s)", job_id, attempt)
                    time.sleep(self.pause * attempt)
            self._jobs.task_done()

    def join(self) -> None:
        """Wait until every job queued so far has run (tests, CLI)."""
        self._jobs.join()

    def stop(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=5)
