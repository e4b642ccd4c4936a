"""Leases: at most one process follows a given view at a time.

Several projector processes may run at once, each for some of the views
(``python -m projections.runner --only ledger,scores``); a second process
started for a view that another one follows waits, and takes over when the
holder goes away. The lease is released with the holder's connection or file,
so a killed process needs no clean-up:

- PostgreSQL: a session-level advisory lock, keyed by the view's name and the
  store's schema, held on a connection of its own (not from a pool, in
  autocommit mode, so it never sits idle in a transaction and no
  ``idle_in_transaction_session_timeout`` ends it). The server drops the lock
  when that connection ends. One such connection per process serves all of its
  leases.
- SQLite: an exclusive ``flock`` on ``<view file>.lock`` beside the view file,
  dropped by the kernel when the process ends (local disks; not NFS).

The lease keeps processes from competing; it is not what makes a position be
processed once. That is the view's tracking row, written in the transaction of
the batch: a position already recorded is refused and the batch rolled back.
So even in the short time between losing a lease (the lock connection broke)
and noticing it, a view is never written twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import psycopg

log = logging.getLogger("duban.leases")

#: First key of the two-key advisory lock: marks Duban's leases in ``pg_locks``
#: (``classid``); the second is derived from the schema and the view's name.
LEASE_CLASS = 727_002


def lease_key(schema: str, name: str) -> int:
    """The advisory lock's second key: a stable non-negative 31-bit number."""
    digest = hashlib.blake2b(f"{schema}\x00{name}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF


def holder_label(name: str) -> str:
    """Who holds a lease, as another process sees it (application_name is cut at 63 bytes)."""
    return f"duban {name} {socket.gethostname()}:{os.getpid()}"


class Lease(Protocol):
    name: str

    def try_acquire(self) -> bool: ...

    def still_held(self) -> bool: ...

    def holder(self) -> str: ...

    def release(self) -> None: ...


class _LockSession:
    """One autocommit connection of a process that holds its advisory locks."""

    def __init__(self, kwargs: dict[str, Any], password: Callable[[], str] | None):
        self._kwargs = kwargs
        self._password = password
        self._connection: psycopg.Connection[Any] | None = None
        self._mutex = threading.Lock()
        self.held: set[int] = set()

    def _connect(self) -> psycopg.Connection[Any]:
        if self._connection is None or self._connection.closed or self._connection.broken:
            kwargs = dict(self._kwargs)
            if self._password is not None:
                kwargs["password"] = self._password()
            connection = psycopg.connect(
                autocommit=True,
                application_name=holder_label("leases"),
                # Notice a peer that vanished without closing the connection.
                keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
                **kwargs,
            )  # fmt: skip
            # Never in a transaction; no idle-session limit may end the lease; and the
            # server notices a holder whose machine vanished (its lock is then dropped).
            settings = {
                "idle_in_transaction_session_timeout": 0, "idle_session_timeout": 0,
                "tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3,
            }  # fmt: skip
            for setting, value in settings.items():
                try:
                    connection.execute(f"SET {setting} = {value}")
                except psycopg.errors.UndefinedObject:  # idle_session_timeout: PostgreSQL 14 on
                    pass
            self._connection = connection
            self.held.clear()  # a new session holds nothing
        return self._connection

    def query(self, statement: str, params: tuple[Any, ...] = ()) -> Any:
        with self._mutex:
            try:
                return self._connect().execute(statement, params).fetchone()
            except psycopg.Error:
                self._close()
                raise

    def _close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except psycopg.Error:
                pass
        self._connection = None
        self.held.clear()

    def close_if_idle(self) -> None:
        with self._mutex:
            if not self.held:
                self._close()


_sessions: dict[tuple[Any, ...], _LockSession] = {}
_sessions_mutex = threading.Lock()


def _session_for(datastore: Any) -> _LockSession:
    pool = datastore.pool
    kwargs = {k: v for k, v in dict(pool.kwargs or {}).items() if k != "row_factory"}
    key = tuple(sorted((k, str(v)) for k, v in kwargs.items() if k != "password"))
    with _sessions_mutex:
        if key not in _sessions:
            _sessions[key] = _LockSession(kwargs, getattr(pool, "get_password_func", None))
        return _sessions[key]


class PostgresLease:
    """A session-level advisory lock for one view, on the process's lock connection."""

    def __init__(self, name: str, datastore: Any):
        self.name = name
        self.schema = datastore.schema
        self.key = lease_key(self.schema, name)
        self._session = _session_for(datastore)

    def describe(self) -> str:
        return f"advisory lock ({LEASE_CLASS}, {self.key}) on schema {self.schema}"

    def try_acquire(self) -> bool:
        row = self._session.query("SELECT pg_try_advisory_lock(%s, %s)", (LEASE_CLASS, self.key))
        if row[0]:
            self._session.held.add(self.key)
        return bool(row[0])

    def still_held(self) -> bool:
        if self.key not in self._session.held:
            return False
        try:
            row = self._session.query(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                " AND classid = %s::oid AND objid = %s::oid AND objsubid = 2 AND granted",
                (LEASE_CLASS, self.key),
            )
        except psycopg.Error:
            return False
        return bool(row[0])

    def holder(self) -> str:
        try:
            row = self._session.query(
                "SELECT a.pid, a.application_name, a.client_addr FROM pg_locks l"
                " JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory'"
                " AND l.classid = %s::oid AND l.objid = %s::oid AND l.objsubid = 2 AND l.granted",
                (LEASE_CLASS, self.key),
            )
        except psycopg.Error:
            return "unknown"
        if row is None:
            return "nobody"
        pid, application, address = row
        return f"{application or '?'} (server pid {pid}, from {address or 'local socket'})"

    def release(self) -> None:
        if self.key in self._session.held:
            try:
                self._session.query("SELECT pg_advisory_unlock(%s, %s)", (LEASE_CLASS, self.key))
            except psycopg.Error:
                pass  # the connection is gone, and the lock with it
            self._session.held.discard(self.key)
        self._session.close_if_idle()


class FileLease:
    """An exclusive ``flock`` on a lock file; the file names its holder, for the logs."""

    def __init__(self, name: str, path: Path):
        self.name = name
        self.path = path
        self._fd: int | None = None

    def describe(self) -> str:
        return f"lock file {self.path}"

    def try_acquire(self) -> bool:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, holder_label(self.name).encode(), 0)
        return True

    def still_held(self) -> bool:
        # The lock stays while the file is open, unless the file was removed or replaced.
        if self._fd is None:
            return False
        try:
            return os.fstat(self._fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            return False

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # drops the flock
            self._fd = None


class NoLease:
    """For a view no other process can open (SQLite in memory)."""

    def __init__(self, name: str):
        self.name = name

    def describe(self) -> str:
        return "no lease (a view in memory)"

    def try_acquire(self) -> bool:
        return True

    def still_held(self) -> bool:
        return True

    def holder(self) -> str:
        return "this process"

    def release(self) -> None:
        pass


def lease_for(name: str, view: Any) -> Lease:
    """The lease guarding the view ``name`` on its backend."""
    datastore = view.datastore
    if hasattr(datastore, "schema"):  # PostgreSQL
        return PostgresLease(name, datastore)
    db_name = datastore.pool.db_name
    if datastore.pool.is_sqlite_memory_mode or db_name.startswith("file:"):
        return NoLease(name)
    return FileLease(name, Path(db_name).with_name(Path(db_name).name + ".lock"))


class Leased:
    """Runs what ``make()`` starts (a Follower, the PolicyRunner: anything with
    ``start()`` and ``stop()``) only while this process holds ``lease``.

    Waits, polling every ``retry_interval`` seconds, while another process holds
    it; checks every ``check_interval`` seconds that it still holds it, and if
    not (the lock connection broke) stops the runner and waits again."""

    def __init__(
        self,
        lease: Lease,
        make: Callable[[], Any],
        *,
        retry_interval: float = 1.0,
        check_interval: float = 2.0,
    ):
        self.lease = lease
        self.make = make
        self.retry_interval = retry_interval
        self.check_interval = check_interval
        self.current: Any = None
        self.holding = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        return self.lease.name

    def wake(self, position: int | None = None) -> None:
        runner = self.current
        if runner is not None and hasattr(runner, "wake"):
            runner.wake(position)

    def start(self) -> Leased:
        self._thread = threading.Thread(target=self.run, name=f"lease-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.check_interval + 10)

    def run(self) -> None:
        try:
            while self._acquire():
                self.current = self.make().start()
                self.holding.set()
                try:
                    while not self._stop.wait(self.check_interval):
                        if not self.lease.still_held():
                            log.error(
                                "lost the lease on %s (%s); stopped following it, waiting to take it again",
                                self.name, self.lease.describe(),
                            )  # fmt: skip
                            break
                finally:
                    self.holding.clear()
                    runner, self.current = self.current, None
                    runner.stop()
        finally:
            self.lease.release()

    def _acquire(self) -> bool:
        """Block until this process holds the lease (True) or is stopping (False)."""
        waiting = False
        while not self._stop.is_set():
            try:
                if self.lease.try_acquire():
                    if waiting:
                        log.warning("took over %s: its previous holder is gone (%s)", self.name, self.lease.describe())
                    else:
                        log.info("holds the lease on %s (%s)", self.name, self.lease.describe())
                    return True
                if not waiting:
                    log.warning(
                        "%s is followed by another process, %s; waiting to take over (%s)",
                        self.name, self.lease.holder(), self.lease.describe(),
                    )  # fmt: skip
                    waiting = True
            except Exception as error:  # the database is down: keep trying
                log.warning("cannot take the lease on %s yet: %s", self.name, error)
            self._stop.wait(self.retry_interval)
        return False


class LeasedFollower(Leased):
    """A ``Leased`` follower that reads like a Follower to the projector's main():
    ``projection``, ``position`` (the view's tracked position, whoever holds it)."""

    def __init__(self, app: Any, projection: Any, make: Callable[[], Any], **kwargs: Any):
        super().__init__(lease_for(projection.name, projection.view), make, **kwargs)
        self.app = app
        self.projection = projection

    @property
    def position(self) -> int:
        return self.projection.view.max_tracking_id(self.app.name) or 0

    def run(self) -> None:
        make = self.make

        def logged() -> Any:
            runner = make()
            log.info("following %s from position %s", self.name, self.position)
            return runner

        self.make = logged
        super().run()
