"""Wakes followers when events are written to a PostgreSQL store.

The PostgreSQL recorder of eventsourcing 9.5 sends ``NOTIFY <channel>`` in the
transaction of every insert (``_notify_channel``, or the ``es_insert_events_*``
function with ``POSTGRES_ENABLE_DB_FUNCTIONS``), where the channel is the events
table's name (``recorder.channel_name``). PostgreSQL delivers it when the
transaction commits, so a woken follower finds the new events already visible.

One ``StoreWakeup`` per process holds one connection of its own (not from the
application's pool, which must not lose a connection to a never-ending LISTEN),
in autocommit mode and never inside a transaction, LISTENs on that channel and
wakes every follower on each notification. On an error it reconnects after a
short pause and wakes everyone once it listens again, since notifications sent
while it was away are lost. Polling stays the followers' fallback: a missed
notification costs at most their poll interval.

SQLite has no NOTIFY: ``listen_for_writes`` returns None there, and followers
poll (in the embedded mode the web process also wakes them after each save).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from psycopg import sql

log = logging.getLogger("duban.wakeup")


def connect_like(datastore: Any) -> psycopg.Connection[Any]:
    """A new connection, outside the datastore's pool, with its settings, in autocommit."""
    return Listening(datastore, "").connect()


class Listening:
    """Opens connections of its own (never pooled: a LISTEN lasts as long as its
    connection) with a datastore's settings, in autocommit, LISTENing on ``channel``."""

    def __init__(self, datastore: Any, channel: str):
        pool = datastore.pool
        self.channel = channel
        self._kwargs = {k: v for k, v in dict(pool.kwargs or {}).items() if k != "row_factory"}
        self._password = getattr(pool, "get_password_func", None)

    def connect(self) -> psycopg.Connection[Any]:
        kwargs = dict(self._kwargs)
        if self._password is not None:
            kwargs["password"] = self._password()
        return psycopg.connect(autocommit=True, **kwargs)

    def __call__(self) -> psycopg.Connection[Any]:
        connection = self.connect()
        connection.execute(sql.SQL("LISTEN {0}").format(sql.Identifier(self.channel)))
        return connection


def channel_of(app: Any) -> str | None:
    """The channel the application's recorder NOTIFYs on, or None (not PostgreSQL)."""
    return getattr(app.recorder, "channel_name", None)


class StoreWakeup:
    """A thread that LISTENs on the store's channel and calls ``wake`` on each notification."""

    def __init__(self, app: Any, wake: Callable[[], None], reconnect_delay: float = 1.0, check_every: float = 1.0):
        channel = channel_of(app)
        if channel is None:
            raise ValueError("only a PostgreSQL store sends notifications")
        self.channel = channel
        self.wake = wake
        self.reconnect_delay = reconnect_delay
        self.check_every = check_every
        self._connect = Listening(app.recorder.datastore, channel)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: psycopg.Connection[Any] | None = None
        #: How many times it has started to listen (1 + the reconnections), and
        #: how many notifications it has passed on: for tests and logs.
        self.listens = 0
        self.notifications = 0
        self.listening = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._connect() as connection:
                    self._connection = connection
                    self.listens += 1
                    # Whatever was written while it was not listening.
                    self.wake()
                    self.listening.set()
                    while not self._stop.is_set():
                        for _ in connection.notifies(timeout=self.check_every, stop_after=1):
                            self.notifications += 1
                            self.wake()
            except Exception as error:  # reconnect; the followers poll meanwhile
                self.listening.clear()
                if self._stop.is_set():
                    break
                log.warning("listening on %s failed (%s); reconnecting in %ss", self.channel, error, self.reconnect_delay)
                self._stop.wait(self.reconnect_delay)
            finally:
                self._connection = None
        self.listening.clear()

    def start(self) -> StoreWakeup:
        self._thread = threading.Thread(target=self.run, name=f"listen-{self.channel}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.check_every + 5)

    def backend_pid(self) -> int | None:
        """The server process of the LISTEN connection (tests end it to check reconnecting)."""
        connection = self._connection
        return connection.info.backend_pid if connection is not None else None


def listen_for_writes(app: Any, followers: Iterable[Any]) -> StoreWakeup | None:
    """Start waking ``followers`` on every write to the store; None on SQLite."""
    if channel_of(app) is None:
        return None
    followers = list(followers)

    def wake() -> None:
        for follower in followers:
            follower.wake()

    return StoreWakeup(app, wake).start()
