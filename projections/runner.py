"""Keeps projections up to date by following the event log.

SQLite has no subscriptions, so one follower loop serves both backends: it
polls ``select_notifications`` from the view's tracked position, and in the
web process it is also woken at once by the application after each save. On
PostgreSQL the projector process is also woken by the store's NOTIFY on every
write (``projections/wakeup.py``); the poll is then only the fallback.

Run as a process (the Procfile's ``projector``)::

    python -m projections.runner [--only ledger,scores] [--except audit]

Several such processes may share the views out between them; each view is
followed by one process at a time (``projections/leases.py``).
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from eventsourcing.persistence import Tracking

from projections import collector
from projections.audit_chain import AuditChainPostgresView, AuditChainProjection, AuditChainSQLiteView
from projections.cases import CasePostgresView, CaseProjection, CaseSQLiteView
from projections.circulars import CircularPostgresView, CircularProjection, CircularSQLiteView
from projections.documents import DocumentPostgresView, DocumentProjection, DocumentSQLiteView
from projections.history import HistoryPostgresView, HistoryProjection, HistorySQLiteView
from projections.history_access import HistoryAccessPostgresView, HistoryAccessProjection, HistoryAccessSQLiteView
from projections.inbox import InboxPostgresView, InboxProjection, InboxSQLiteView
from projections.ledger import LedgerPostgresView, LedgerProjection, LedgerSQLiteView
from projections.scores import ScorePostgresView, ScoreProjection, ScoreSQLiteView
from projections.storage import open_application, open_view
from projections.verifications import VerificationPostgresView, VerificationProjection, VerificationSQLiteView
from projections.wakeup import listen_for_writes

log = logging.getLogger("duban.projector")


#: Batch size of the processes' followers while far behind the head (a rebuild,
#: a restart after a pause): bigger batches rebuilt the big views 2-4 times
#: faster than the live batch of 500 (bench/province.py).
CATCH_UP_BATCH = 5000

#: A rebuild from nothing over at least this many log positions drops the
#: view's secondary indexes first (``Follower.catch_up``).
INDEXLESS_REBUILD_FROM = 20_000


#: A long catch-up refreshes the view's planner statistics after this many events,
#: and again each time the count has doubled (``SqlView.refresh_statistics``).
STATISTICS_FROM = 50_000


class Follower:
    """Feeds one projection every event after its tracked position, in batches."""

    def __init__(
        self,
        app: Any,
        projection: Any,
        batch_size: int = 500,
        poll_interval: float = 0.5,
        catch_up_batch_size: int | None = None,
    ):
        self.app = app
        self.projection = projection
        self.batch_size = batch_size
        #: Batch size while far behind the head (a rebuild, a restart after a pause):
        #: each batch costs a commit and a query per table besides its events, so
        #: bigger ones go faster; memory still grows with the batch, not the log.
        self.catch_up_batch_size = max(batch_size, catch_up_batch_size or batch_size)
        self.poll_interval = poll_interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    @property
    def position(self) -> int:
        return self.projection.view.max_tracking_id(self.app.name) or 0

    def step(self, stop: int | None = None) -> int:
        """Process one batch (of events up to ``stop``, if given); returns how many events it processed."""
        start = self.position
        head = self.app.recorder.max_notification_id() or 0
        if stop is not None:
            head = min(head, stop)
        if head <= start:
            return 0
        limit = self.catch_up_batch_size if head - start > self.batch_size else self.batch_size
        items, caught_up = self.read_batch(start, head, limit)
        self.projection.process_batch(items, caught_up_to=caught_up)
        return len(items) if items else (1 if caught_up else 0)

    def catch_up(self, progress: Callable[[int, int], None] | None = None, stop: int | None = None) -> int:
        """Process until the view has reached the log's head as it was on entry
        (or ``stop``, if given: a bench measuring a rebuild over part of a long log).

        A view rebuilt from nothing over a long log is written without its
        secondary indexes, which are built once at the end: keeping them up to
        date row by row was a large share of a rebuild's writes."""
        view = self.projection.view
        head = self.app.recorder.max_notification_id() or 0
        if stop is not None:
            head = min(head, stop)
        from_scratch = (
            hasattr(view, "without_secondary_indexes")
            and self.position == 0
            and head >= INDEXLESS_REBUILD_FROM
        )
        if not from_scratch:
            return self._catch_up(progress, stop)
        with view.without_secondary_indexes():
            return self._catch_up(progress, stop)

    def _catch_up(self, progress: Callable[[int, int], None] | None, stop: int | None) -> int:
        processed = 0
        head = self.app.recorder.max_notification_id() or 0
        if stop is not None:
            head = min(head, stop)
        if head - self.position > self.catch_up_batch_size:
            # Far behind: the next batch is read and decoded while this one is applied
            # and written, so the store's query and the view's writes (both waiting on
            # the database, the GIL released) overlap the other's Python work.
            statistics = getattr(self.projection.view, "refresh_statistics", lambda: None)
            next_statistics = STATISTICS_FROM
            with collector.paused(), ReadAhead(self, self.position, head) as batches:
                for items, caught_up in batches:
                    self.projection.process_batch(items, caught_up_to=caught_up)
                    collector.after_batch()
                    processed += len(items)
                    if processed >= next_statistics:
                        # The tables grow far beyond what the planner last saw of them: with
                        # the statistics of an empty table it joined a batch's rows to the
                        # ledger's day copies by scanning all of them, batch after batch.
                        statistics()
                        next_statistics *= 2
                    if progress:
                        progress(self.position, head)
        while True:
            done = self.step(stop)
            if progress:
                progress(self.position, self.app.recorder.max_notification_id() or 0)
            if done == 0:
                return processed
            processed += done

    def read_batch(self, start: int, head: int, limit: int) -> tuple[list[tuple[Any, Tracking]], Tracking | None]:
        """The events of interest after ``start`` up to ``head`` (at most ``limit``),
        decoded, with their positions; and, if they are all there is up to the head,
        the head's position (to record: a wait for an irrelevant event must not hang)."""
        notifications = self.app.recorder.select_notifications(
            start=start, limit=limit, stop=head, topics=self.projection.topics, inclusive_of_start=False
        )
        # The audit chain hashes events as stored; every other view reads them decoded.
        decode = (lambda n: n) if getattr(self.projection, "reads_stored_events", False) else self.app.mapper.to_domain_event
        items = [(decode(n), Tracking(self.app.name, n.id)) for n in notifications]
        exhausted = len(notifications) < limit
        return items, (Tracking(self.app.name, head) if exhausted else None)

    def wake(self, _position: int | None = None) -> None:
        self._wake.set()

    def wait_for(self, position: int | None, timeout: float = 2.0) -> bool:
        """Block until the view has processed ``position``; False after ``timeout``."""
        if position is None:
            return True
        deadline = time.monotonic() + timeout
        while self.position < position:
            if time.monotonic() >= deadline:
                return False
            self._wake.set()
            time.sleep(0.01)
        return True

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.step() == 0:
                    self._wake.wait(self.poll_interval)
                    self._wake.clear()
            except Exception as error:  # keep following; a view must not die silently
                self.error = error
                log.exception("projection %s failed; retrying", self.projection.name)
                self._stop.wait(1.0)

    def start(self) -> Follower:
        self._thread = threading.Thread(target=self.run, name=f"follower-{self.projection.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class ReadAhead:
    """Reads a follower's batches from ``start`` to ``head`` in a thread of its own,
    one batch ahead of the one being applied. Iterate inside ``with``: leaving it
    (done, or on an error) stops the thread; an error of the reader's is raised
    where the batch would have been."""

    def __init__(self, follower: Follower, start: int, head: int):
        self.follower = follower
        self.start = start
        self.head = head
        self._batches: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name=f"read-ahead-{follower.projection.name}", daemon=True)

    def __enter__(self) -> Iterator[tuple[list[tuple[Any, Tracking]], Tracking | None]]:
        self._thread.start()
        return self._iterate()

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _iterate(self) -> Iterator[tuple[list[tuple[Any, Tracking]], Tracking | None]]:
        while True:
            batch = self._batches.get()
            if batch is None:
                return
            if isinstance(batch, BaseException):
                raise batch
            yield batch

    def _read(self) -> None:
        start = self.start
        try:
            while start < self.head and not self._stop.is_set():
                items, caught_up = self.follower.read_batch(start, self.head, self.follower.catch_up_batch_size)
                if not self._put((items, caught_up)) or caught_up is not None or not items:
                    break
                start = items[-1][1].notification_id
        except BaseException as error:  # handed to the applying thread, which raises it
            self._put(error)
            return
        self._put(None)

    def _put(self, batch: Any) -> bool:
        """Hand a batch over, unless the applying side has left; False if it has."""
        while not self._stop.is_set():
            try:
                self._batches.put(batch, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False


def ledger_projection(store_env: dict[str, str] | None = None) -> LedgerProjection:
    return LedgerProjection(open_view("ledger", LedgerSQLiteView, LedgerPostgresView, store_env))


def inbox_projection(store_env: dict[str, str] | None = None) -> InboxProjection:
    return InboxProjection(open_view("inbox", InboxSQLiteView, InboxPostgresView, store_env))


def scores_projection(store_env: dict[str, str] | None = None) -> ScoreProjection:
    return ScoreProjection(open_view("scores", ScoreSQLiteView, ScorePostgresView, store_env))


def circulars_projection(store_env: dict[str, str] | None = None) -> CircularProjection:
    return CircularProjection(open_view("circulars", CircularSQLiteView, CircularPostgresView, store_env))


def cases_projection(store_env: dict[str, str] | None = None) -> CaseProjection:
    return CaseProjection(open_view("cases", CaseSQLiteView, CasePostgresView, store_env))


def documents_projection(store_env: dict[str, str] | None = None) -> DocumentProjection:
    return DocumentProjection(open_view("documents", DocumentSQLiteView, DocumentPostgresView, store_env))


def audit_projection(store_env: dict[str, str] | None = None) -> AuditChainProjection:
    return AuditChainProjection(open_view("audit", AuditChainSQLiteView, AuditChainPostgresView, store_env))


def history_projection(store_env: dict[str, str] | None = None) -> HistoryProjection:
    return HistoryProjection(open_view("history", HistorySQLiteView, HistoryPostgresView, store_env))


def history_access_projection(store_env: dict[str, str] | None = None) -> HistoryAccessProjection:
    return HistoryAccessProjection(
        open_view("history_access", HistoryAccessSQLiteView, HistoryAccessPostgresView, store_env)
    )


def verifications_projection(store_env: dict[str, str] | None = None) -> VerificationProjection:
    return VerificationProjection(
        open_view("verifications", VerificationSQLiteView, VerificationPostgresView, store_env)
    )


#: Every view the projector process keeps, by name: what ``rebuild-projections`` rebuilds.
PROJECTIONS: dict[str, Callable[[dict[str, str] | None], Any]] = {
    "ledger": ledger_projection,
    "inbox": inbox_projection,
    "scores": scores_projection,
    "circulars": circulars_projection,
    "documents": documents_projection,
    "cases": cases_projection,
    "audit": audit_projection,
    "history": history_projection,
    "history_access": history_access_projection,
    "verifications": verifications_projection,
}


def select_projections(argv: list[str] | None = None) -> dict[str, Callable[[dict[str, str] | None], Any]]:
    """The projections named by ``--only a,b`` and ``--except c`` (all by default)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m projections.runner",
        description="Follow the event log into the views. Several processes may share the views out"
        " between them; a view followed by another process is waited for (see projections/leases.py).",
    )
    parser.add_argument("--only", default="", help="comma-separated views to follow (default: all)")
    parser.add_argument("--except", dest="exclude", default="", help="comma-separated views not to follow")
    args = parser.parse_args(argv)
    only = [n.strip() for n in args.only.split(",") if n.strip()]
    exclude = [n.strip() for n in args.exclude.split(",") if n.strip()]
    unknown = sorted(set(only + exclude) - set(PROJECTIONS))
    if unknown:
        parser.error(f"unknown view(s) {', '.join(unknown)}; the views are {', '.join(PROJECTIONS)}")
    chosen = {n: make for n, make in PROJECTIONS.items() if (not only or n in only) and n not in exclude}
    if not chosen:
        parser.error("no view left to follow")
    return chosen


def main(argv: list[str] | None = None) -> None:
    from projections.leases import LeasedFollower

    chosen = select_projections(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = open_application()
    projections = [make(None) for make in chosen.values()]
    # Each view is followed only while this process holds its lease; another process waits.
    followers = [LeasedFollower(app, p, lambda p=p: Follower(app, p, catch_up_batch_size=CATCH_UP_BATCH)) for p in projections]
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    for follower in followers:
        follower.start()
        log.info(
            "projector for %s: %s at position %s", app.name, follower.projection.name, follower.position
        )
    wakeup = listen_for_writes(app, followers)  # PostgreSQL: woken by NOTIFY, polling as the fallback
    while not stopping.wait(5.0):
        for follower in followers:
            log.debug("%s at %s", follower.projection.name, follower.position)
    if wakeup is not None:
        wakeup.stop()
    for follower in followers:
        follower.stop()
    app.close()


if __name__ == "__main__":
    main()
