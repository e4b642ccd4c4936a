"""How far the views are: one watcher per web process, for every request that waits.

In the services mode a separate projector process writes the views, and a web
request that must show a command's effect waits until the views it reads have
processed the command's log position. Asking each view's tracking table every
few milliseconds from every waiting request (as ``Follower.wait_for`` does) held
a pooled connection per waiting request per view; under 50 users that exceeded
the server's connections. Here one thread per process holds one connection of
its own (not from a pool: a LISTEN never ends), LISTENs on the schema's views
channel, on which each view's transaction announces ``"<view> <position>"`` as it
commits (``projections/postgres.py``), and wakes the waiting requests. When it
(re)connects it reads every view's position once, since announcements sent while
it was not listening are lost; while requests wait it reads them again every
``check_every`` seconds, as a fallback.

PostgreSQL only: SQLite has no NOTIFY, and the embedded mode's followers run in
the web process itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import psycopg
from psycopg import sql

from projections.postgres import positions_channel
from projections.wakeup import Listening

log = logging.getLogger("duban.positions")


class PositionWatcher:
    """The views' positions as last announced, and a bounded wait for a position."""

    def __init__(self, application_name: str, views: Mapping[str, Any], check_every: float = 0.5,
                 reconnect_delay: float = 1.0):  # fmt: skip
        """``views``: name → the view (a PostgreSQL tracking recorder) whose position to watch."""
        first = next(iter(views.values()))
        datastore = first.datastore
        self.schema = datastore.schema
        self.channel = positions_channel(self.schema)
        self.application_name = application_name
        self.tables = {name: view.tracking_table_name for name, view in views.items()}
        self.check_every = check_every
        self.reconnect_delay = reconnect_delay
        self._connect = Listening(datastore, self.channel)
        self.positions: dict[str, int] = {}
        self._changed = threading.Condition()
        self._waiting = 0
        self._stop = threading.Event()
        self._started = False
        self._thread: threading.Thread | None = None
        #: Set while it listens and its positions are current (for tests and the fallback).
        self.listening = threading.Event()
        self.announcements = 0

    # The waiting side
    def reached(self, position: int, views: Iterable[str]) -> bool:
        return all(self.positions.get(name, 0) >= position for name in views)

    def wait(self, position: int, views: Iterable[str], timeout: float) -> bool:
        """Block until every named view has processed ``position``; False after ``timeout``."""
        names = list(views)
        if self.reached(position, names):
            return True
        self.start()
        deadline = time.monotonic() + timeout
        with self._changed:
            self._waiting += 1
            try:
                while not self.reached(position, names):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._changed.wait(remaining)
                return True
            finally:
                self._waiting -= 1

    # The watching side
    def start(self) -> PositionWatcher:
        if not self._started:
            with self._changed:
                if not self._started:
                    self._thread = threading.Thread(target=self._run, name=f"positions-{self.schema}", daemon=True)
                    self._thread.start()
                    self._started = True
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.check_every + 5)

    def _read_all(self, connection: psycopg.Connection[Any]) -> None:
        """Every view's position, in one statement."""
        query = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {0}::text, MAX(notification_id) FROM {1}.{2} WHERE application_name = %s").format(
                sql.Literal(name), sql.Identifier(self.schema), sql.Identifier(table)
            )
            for name, table in self.tables.items()
        )
        rows = connection.execute(query, [self.application_name] * len(self.tables)).fetchall()
        self._update({str(name): int(position or 0) for name, position in rows})

    def _update(self, positions: Mapping[str, int]) -> None:
        with self._changed:
            for name, position in positions.items():
                if position > self.positions.get(name, 0):
                    self.positions[name] = position
            self._changed.notify_all()

    def _announced(self, payload: str) -> None:
        name, _, position = payload.partition(" ")
        if name in self.tables and position.isdigit():
            self.announcements += 1
            self._update({name: int(position)})

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._connect() as connection:
                    self._read_all(connection)  # after LISTEN: nothing announced from here on is missed
                    self.listening.set()
                    while not self._stop.is_set():
                        for notify in connection.notifies(timeout=self.check_every):
                            self._announced(notify.payload)
                            if self._stop.is_set():
                                break
                        if self._waiting:
                            self._read_all(connection)  # a lost announcement costs at most check_every
            except Exception as error:  # reconnect; waits time out meanwhile (bounded)
                self.listening.clear()
                if self._stop.is_set():
                    break
                log.warning("watching the views on %s failed (%s); reconnecting in %ss", self.channel, error,
                            self.reconnect_delay)  # fmt: skip
                self._stop.wait(self.reconnect_delay)
        self.listening.clear()
