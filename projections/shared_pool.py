"""One PostgreSQL connection pool per process for all of its views.

Each view used to open its own pool, so a process holding the ten views held ten
pools (plus the store's): gunicorn's workers, the projector, the policies process
and every RQ job each opened them, and a province deployment (or the soak test)
ran out of the server's ``max_connections``. Views with the same settings now
share one datastore, and so one pool, per process.

Each view gets its own handle: closing a handle (many callers close
``view.datastore``) releases that view's share, twice is the same as once, and the
pool closes when the last handle does. A process forked after a pool was opened
gets its own pool (the key holds the process id): connections must never cross a
fork.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

#: Settings that decide only what a view does when opened, not how it connects.
_NOT_CONNECTION_SETTINGS = frozenset({"CREATE_TABLE"})


class _Shared:
    def __init__(self, datastore: Any):
        self.datastore = datastore
        self.handles = 0


_pools: dict[tuple[Any, ...], _Shared] = {}
_mutex = threading.Lock()


class SharedDatastore:
    """A view's handle on its process's shared PostgreSQL datastore.

    Everything but ``close`` is the datastore's own."""

    def __init__(self, key: tuple[Any, ...], datastore: Any):
        self._key = key
        self._datastore = datastore
        self._closed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._datastore, name)

    @property
    def shared(self) -> Any:
        """The datastore behind the handle (tests compare them)."""
        return self._datastore

    def close(self) -> None:
        with _mutex:
            if self._closed:
                return
            self._closed = True
            entry = _pools.get(self._key)
            if entry is None or entry.datastore is not self._datastore:
                return
            entry.handles -= 1
            if entry.handles > 0:
                return
            del _pools[self._key]
        self._datastore.close()


def shared_datastore(env: dict[str, str]) -> SharedDatastore:
    """A handle on this process's datastore for views opened with ``env``."""
    settings = tuple(sorted((k, v) for k, v in env.items() if k not in _NOT_CONNECTION_SETTINGS))
    key = (os.getpid(), settings)
    with _mutex:
        entry = _pools.get(key)
        if entry is None:
            factory = InfrastructureFactory.construct(Environment("views", dict(settings)))
            entry = _pools[key] = _Shared(factory.datastore)  # type: ignore[attr-defined]
        entry.handles += 1
        return SharedDatastore(key, entry.datastore)


def open_pools() -> int:
    """How many shared pools this process holds open (for tests and diagnostics)."""
    with _mutex:
        return sum(1 for key in _pools if key[0] == os.getpid())
