"""What the web process keeps open for its whole life: the Duban application,
the ledger view and the follower that keeps the view up to date.

One Runtime per Flask app, stored in ``app.extensions["duban"]``. It is closed at
process exit (atexit), never per request. In the embedded mode the follower runs
as a thread of this process, started on the first request (so short CLI commands
run no thread) and woken by every save this process makes; in the services mode
a separate ``projector`` process follows the store and this process only waits
for the view to reach a position.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from domain.events import local_date
from projections.inbox_query import InboxQuery
from projections.ledger_query import LedgerQuery
from projections.runner import Follower, inbox_projection, ledger_projection
from projections.storage import POSTGRES, event_store_env, open_application, persistence_module, view_env


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
        self.projection = ledger_projection(self.store_env)
        self.query = LedgerQuery(self.projection.view)
        self.follower = Follower(self.duban, self.projection)
        # The inbox (站内信) view: followed, woken and waited for like the ledger.
        self.inbox_projection = inbox_projection(self.store_env)
        self.inbox = InboxQuery(self.inbox_projection.view)
        self.inbox_follower = Follower(self.duban, self.inbox_projection)
        self._lock = threading.RLock()
        self._running = False
        self._inbox_running = False  # not paused with the ledger: its own flag
        self.policies = policies and embedded
        self.policy_runner: Any = None
        self.jobs: Any = None
        self._closed = False
        self.duban.on_recorded(self._wake)
        atexit.register(self.close)

    # The follower
    def _wake(self, position: int | None = None) -> None:
        self.follower.wake(position)
        self.inbox_follower.wake(position)

    def ensure_started(self) -> None:
        """Start the embedded follower thread once (no-op in the services mode)."""
        if not self.embedded or (self._running and self._inbox_running) or self._closed:
            return
        with self._lock:
            if not self._running and not self._closed:
                self.follower.start()
                self._running = True
            if not self._inbox_running and not self._closed:
                self.inbox_follower.start()
                self._inbox_running = True
            if self.policies and self.policy_runner is None and not self._closed:
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
            )
        )
        self.jobs = InlineJobQueue()
        projection = policy_projection(self.jobs, self.duban, self.store_env)
        self.policy_runner = PolicyRunner(self.duban, projection, self.clock).start()

    def wait_for(self, position: int | None) -> bool:
        """Block until the ledger and inbox views have processed ``position`` (bounded)."""
        if position is None:
            return True
        self.ensure_started()
        started = time.monotonic()
        ledger = self.follower.wait_for(position, timeout=self.wait_seconds)
        remaining = max(0.0, self.wait_seconds - (time.monotonic() - started))
        return self.inbox_follower.wait_for(position, timeout=remaining) and ledger

    def catch_up(self) -> bool:
        """Wait (bounded) until the view has reached the log's current head."""
        return self.wait_for(self.duban.position())

    def fresh(self) -> bool:
        """Before a page is read: in the embedded mode wait (bounded) for the view
        to reach the log's head, so a page shows every save made so far. In the
        services mode the projector process is followed, not waited for."""
        if not self.embedded:
            return True
        return self.catch_up()

    @contextmanager
    def paused(self, view: str = "ledger") -> Iterator[Follower]:
        """Stop one view's embedded follower thread (if running) and hand out a
        fresh follower to drive by hand; the thread restarts afterwards."""
        attribute, flag, projection = {
            "ledger": ("follower", "_running", self.projection),
            "inbox": ("inbox_follower", "_inbox_running", self.inbox_projection),
        }[view]
        with self._lock:
            was_running = getattr(self, flag)
            if was_running:
                getattr(self, attribute).stop()
                setattr(self, flag, False)
            follower = Follower(self.duban, projection)
            setattr(self, attribute, follower)
            try:
                yield follower
            finally:
                setattr(self, attribute, Follower(self.duban, projection))
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
            if self._running:
                self.follower.stop()
                self._running = False
            if self._inbox_running:
                self.inbox_follower.stop()
                self._inbox_running = False
            projections = [self.projection, self.inbox_projection]
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
        return [f"事件库：PostgreSQL {where}", f"问题台账视图：同一数据库（表 ledger_*，跟踪表 ledger_tracking）"]
    views = view_env("ledger", event_store_env(store_env))
    encrypted = "（事件内容已加密）" if env.get("CIPHER_KEY") else ""
    return [
        f"事件库：SQLite 文件 {os.path.abspath(get('SQLITE_DBNAME'))}{encrypted}",
        f"问题台账视图：SQLite 文件 {views['LEDGER_SQLITE_DBNAME']}",
    ]
