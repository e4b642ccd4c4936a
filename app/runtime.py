"""What the web process keeps open for its whole life: the Duban application,
the ledger view and the follower that keeps the view up to date.

One Runtime per Flask app, stored in ``app.extensions["duban"]``. It is closed at
process exit (atexit), never per request. In the embedded mode the follower runs
as a thread of this process, started on the first request (so short CLI commands
run no thread) and woken by every save this process makes; in the services mode
a separate ``projector`` process follows the store and this process only waits
for the view to reach a position: on PostgreSQL through one ``PositionWatcher``
(``app/positions.py``) for all its requests.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from domain.events import local_date
from projections.inbox_query import InboxQuery
from projections.ledger_query import LedgerQuery
from app.labels import VIEW_LABELS
from projections.runner import CATCH_UP_BATCH, PROJECTIONS, Follower
from projections.circulars import CircularQuery
from projections.audit_chain import AuditChainQuery
from projections.cases import CaseQuery
from projections.history import HistoryQuery
from projections.history_access import HistoryAccessQuery
from projections.documents import DocumentQuery
from projections.scores_query import ScoreQuery
from projections.verifications import VerificationQuery
from projections.storage import POSTGRES, event_store_env, open_application, persistence_module, view_env
from app.positions import PositionWatcher


#: What the page a filing lands on reads: the finding's page shows its ledger row, its notice's
#: document and its cases, and a notice issued at once is in the unit's inbox. A filing waits
#: for these views only, not for the audit chain, the history, the scores or the circulars,
#: which no page reached from it needs at once (in the embedded mode every page catches up
#: all views before it is read anyway).
FILING_VIEWS = ("ledger", "inbox", "documents", "cases")


class FollowedView:
    """One view this process keeps up to date (embedded) or waits for (services)."""

    def __init__(self, duban: Any, projection: Any):
        self.duban = duban
        self.projection = projection
        self.follower = Follower(duban, projection, catch_up_batch_size=CATCH_UP_BATCH)
        self.running = False

    def start(self) -> None:
        if not self.running:
            self.follower.start()
            self.running = True

    def stop(self) -> None:
        if self.running:
            self.follower.stop()
            self.running = False


class Runtime:
    def __init__(
        self,
        store_env: dict[str, str] | None,
        clock: Callable[[], datetime],
        embedded: bool,
        wait_seconds: float = 2.0,
        policies: bool = False,
    ):
        self.store_env = dict(store_env) if store_env is not None else None
        self.clock = clock
        self.embedded = embedded
        self.wait_seconds = wait_seconds
        # Keep references: a collected application object closes its pool.
        self.duban = open_application(self.store_env, clock)
        self.views = {name: FollowedView(self.duban, make(self.store_env)) for name, make in PROJECTIONS.items()}
        self.query = LedgerQuery(self.projection.view)
        self.inbox = InboxQuery(self.inbox_projection.view)
        self.scores = ScoreQuery(self.views["scores"].projection.view)
        self.circulars = CircularQuery(self.views["circulars"].projection.view)
        self.documents = DocumentQuery(self.views["documents"].projection.view)
        self.cases = CaseQuery(self.views["cases"].projection.view)
        self.audit = AuditChainQuery(self.views["audit"].projection.view)
        self.verifications = VerificationQuery(self.views["verifications"].projection.view)
        self.history = HistoryQuery(self.views["history"].projection.view)
        self.history_access = HistoryAccessQuery(self.views["history_access"].projection.view)
        self._lock = threading.RLock()
        self.policies = policies and embedded
        self.policy_runner: Any = None
        self.jobs: Any = None
        self._closed = False
        #: Services mode on PostgreSQL: one connection tells every waiting request how far the views are.
        self.watcher: PositionWatcher | None = None
        if not embedded and self.backend == POSTGRES:
            self.watcher = PositionWatcher(self.duban.name, {n: v.projection.view for n, v in self.views.items()})
        self.duban.on_recorded(self._wake)
        atexit.register(self.close)

    # The views
    @property
    def projection(self) -> Any:
        return self.views["ledger"].projection

    @property
    def follower(self) -> Follower:
        return self.views["ledger"].follower

    @property
    def inbox_projection(self) -> Any:
        return self.views["inbox"].projection

    @property
    def inbox_follower(self) -> Follower:
        return self.views["inbox"].follower

    @property
    def _running(self) -> bool:
        return all(view.running for view in self.views.values())

    def _wake(self, position: int | None = None) -> None:
        for view in self.views.values():
            view.follower.wake(position)

    def ensure_started(self) -> None:
        """Start the embedded follower threads once (no-op in the services mode)."""
        if not self.embedded or self._closed or (self._running and (self.policy_runner or not self.policies)):
            return
        with self._lock:
            if self._closed:
                return
            for view in self.views.values():
                view.start()
            if self.policies and self.policy_runner is None:
                self._start_policies()

    def _start_policies(self) -> None:
        """The embedded mode's background work: the same policies and jobs as
        the services mode, with jobs run by a thread of this process, no Redis."""
        from workers import context
        from workers.channels import EmailChannel, WebhookChannel
        from workers.policies import PolicyRunner, policy_projection
        from workers.queueing import InlineJobQueue

        context.use(
            context.Services(
                duban=self.duban,
                ledger=self.query,
                clock=self.clock,
                webhook=WebhookChannel(),
                email=EmailChannel.from_env(),
                link_base=os.environ.get("DUBAN_BASE_URL", ""),
                scores=self.scores,
                documents=self.documents,
                audit=self.audit,
            )
        )
        self.jobs = InlineJobQueue()
        projection = policy_projection(self.jobs, self.duban, self.store_env)
        self.policy_runner = PolicyRunner(self.duban, projection, self.clock).start()

    def wait_for(self, position: int | None, views: Iterable[str] | None = None, timeout: float | None = None) -> bool:
        """Block until every view (or those named) has processed ``position``; False
        after ``timeout`` (default ``wait_seconds``) in all."""
        if position is None:
            return True
        self.ensure_started()
        timeout = self.wait_seconds if timeout is None else timeout
        if self.watcher is not None:
            return self.watcher.wait(position, list(self.views) if views is None else list(views), timeout)
        deadline = time.monotonic() + timeout
        reached = True
        for view in self.views.values() if views is None else (self.views[name] for name in views):
            remaining = max(0.0, deadline - time.monotonic())
            reached = view.follower.wait_for(position, timeout=remaining) and reached
        return reached

    def catch_up(self) -> bool:
        """Wait (bounded) until the views have reached the log's current head."""
        return self.wait_for(self.duban.position())

    def fresh(self) -> bool:
        """Before a page is read: in the embedded mode wait (bounded) for the view
        to reach the log's head, so a page shows every save made so far. In the
        services mode the projector process is followed, not waited for."""
        if not self.embedded:
            return True
        return self.catch_up()

    @contextmanager
    def paused(self, name: str = "ledger") -> Iterator[Follower]:
        """Stop one view's embedded follower thread (if running) and hand out a
        fresh follower to drive by hand; the thread restarts afterwards."""
        view = self.views[name]
        with self._lock:
            was_running = view.running
            view.stop()
            view.follower = Follower(self.duban, view.projection, catch_up_batch_size=CATCH_UP_BATCH)
            try:
                yield view.follower
            finally:
                view.follower = Follower(self.duban, view.projection, catch_up_batch_size=CATCH_UP_BATCH)
                if was_running:
                    self.ensure_started()

    # Reading helpers
    def today(self) -> date:
        return local_date(self.clock())

    def describe_mode(self) -> str:
        backend = "PostgreSQL" if self.backend == POSTGRES else "SQLite"
        if self.embedded:
            redis = "，无需 Redis" if self.backend != POSTGRES else ""
            return f"内嵌模式：{backend} 事件库，投影在网页进程内运行{redis}"
        return f"服务模式：{backend} 事件库，投影由独立的 projector 进程运行"

    @property
    def backend(self) -> str:
        return persistence_module(self.store_env)

    def describe_store(self) -> list[str]:
        return describe_store(self.store_env)

    # Closing
    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self.watcher is not None:
                self.watcher.stop()
            for view in self.views.values():
                view.stop()
            projections = [view.projection for view in self.views.values()]
            if self.policy_runner is not None:
                from workers import context

                self.policy_runner.stop()
                self.jobs.stop()
                context.use(None)
                projections.append(self.policy_runner.projection)
        atexit.unregister(self.close)
        self.duban.close()
        for projection in projections:
            datastore: Any = getattr(projection.view, "datastore", None)
            if datastore is not None:
                datastore.close()


def describe_store(store_env: dict[str, str] | None) -> list[str]:
    """Where the events and the ledger view live, in Chinese, one line each."""
    env = {**os.environ, **event_store_env(store_env)}

    def get(key: str, default: str = "") -> str:
        return env.get("DUBAN_" + key) or env.get(key) or default

    if persistence_module(env) == POSTGRES:
        where = (
            f"{get('POSTGRES_USER')}@{get('POSTGRES_HOST')}:{get('POSTGRES_PORT', '5432')}"
            f"/{get('POSTGRES_DBNAME')}，schema {get('POSTGRES_SCHEMA', 'public')}"
        )
        return [f"事件库：PostgreSQL {where}"] + [
            f"{VIEW_LABELS.get(name, name)}视图：同一数据库（表 {name}_*，跟踪表 {name}_tracking）"
            for name in PROJECTIONS
        ]
    encrypted = "（事件内容已加密）" if env.get("CIPHER_KEY") else ""
    return [f"事件库：SQLite 文件 {os.path.abspath(get('SQLITE_DBNAME'))}{encrypted}"] + [
        f"{VIEW_LABELS.get(name, name)}视图：SQLite 文件 {view_env(name, event_store_env(store_env))[name.upper() + '_SQLITE_DBNAME']}"
        for name in PROJECTIONS
    ]
