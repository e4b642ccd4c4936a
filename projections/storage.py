"""Where Duban keeps its events and its views, decided by the environment.

Embedded mode (nothing configured): the event store is ``var/events.sqlite``,
each view has its own SQLite file ``var/view-<name>.sqlite`` (SQLite tables are
not namespaced, so two followers must never share a file), and household
numbers are encrypted with a key kept in ``var/cipher.key``.

Deployment: set ``PERSISTENCE_MODULE=eventsourcing.postgres`` and the
``POSTGRES_*`` variables; the views then live in the same database, each with
its own tables and ``<name>_tracking`` table.
"""

from __future__ import annotations

import logging

import os
from collections.abc import Callable
from pathlib import Path

from eventsourcing.cipher import AESCipher

REPO_ROOT = Path(__file__).resolve().parent.parent
SQLITE = "eventsourcing.sqlite"
POSTGRES = "eventsourcing.postgres"
CIPHER_TOPIC = "eventsourcing.cipher:AESCipher"


def var_dir() -> Path:
    path = Path(os.environ.get("DUBAN_VAR_DIR", REPO_ROOT / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def persistence_module(env: dict[str, str] | None = None) -> str:
    merged = {**os.environ, **(env or {})}
    return merged.get("DUBAN_PERSISTENCE_MODULE") or merged.get("PERSISTENCE_MODULE") or SQLITE


def read_or_create_secret(path: Path, make: Callable[[], str]) -> str:
    """A secret kept in a file, made once: of several processes starting at once,
    exactly one creates it (written aside, then linked into place atomically) and
    every one reads the same value."""
    if not path.exists():
        spare = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        spare.write_text(make())
        spare.chmod(0o600)
        try:
            os.link(spare, path)
        except FileExistsError:
            pass
        finally:
            spare.unlink()
    return path.read_text().strip()


def _cipher_key_from_file(path: Path) -> str:
    return read_or_create_secret(path, lambda: AESCipher.create_key(32))


def event_store_env(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for the Duban application, with embedded defaults filled in."""
    merged = {**os.environ, **(overrides or {})}
    env = dict(overrides or {})
    if not merged.get("CIPHER_KEY") and merged.get("DUBAN_CIPHER_KEY_FILE"):
        env["CIPHER_TOPIC"] = merged.get("CIPHER_TOPIC") or CIPHER_TOPIC
        env["CIPHER_KEY"] = _cipher_key_from_file(Path(merged["DUBAN_CIPHER_KEY_FILE"]))
        merged = {**merged, **env}
    if persistence_module(overrides) == SQLITE:
        env.setdefault("PERSISTENCE_MODULE", SQLITE)
        if not (merged.get("DUBAN_SQLITE_DBNAME") or merged.get("SQLITE_DBNAME")):
            env["SQLITE_DBNAME"] = str(var_dir() / "events.sqlite")
            # The embedded store is the demo's: it always encrypts personal data.
            if not merged.get("CIPHER_KEY"):
                env["CIPHER_TOPIC"] = CIPHER_TOPIC
                env["CIPHER_KEY"] = _cipher_key_from_file(var_dir() / "cipher.key")
    return env


def view_env(name: str, store_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for one view, on the same backend as the event store.

    Keys are prefixed with the view's name so that they win over any
    ``SQLITE_DBNAME`` meant for the event store."""
    store = {**os.environ, **(store_env or {})}
    prefix = name.upper() + "_"
    env = {k: v for k, v in store.items() if k.startswith("POSTGRES_")}
    if persistence_module(store) == POSTGRES:
        env["PERSISTENCE_MODULE"] = POSTGRES
        return env
    env["PERSISTENCE_MODULE"] = SQLITE
    explicit = store.get(prefix + "SQLITE_DBNAME")
    if explicit:
        env[prefix + "SQLITE_DBNAME"] = explicit
    else:
        events_db = store.get("DUBAN_SQLITE_DBNAME") or store.get("SQLITE_DBNAME")
        if events_db and events_db != ":memory:" and not events_db.startswith("file:"):
            folder = Path(events_db).resolve().parent
        else:
            folder = var_dir()
        env[prefix + "SQLITE_DBNAME"] = str(folder / f"view-{name}.sqlite")
    env[prefix + "SQLITE_LOCK_TIMEOUT"] = store.get("SQLITE_LOCK_TIMEOUT", "10")
    return env


# Opening the store and the views
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from datetime import datetime  # noqa: E402
from typing import Any, TypeVar  # noqa: E402

from eventsourcing.persistence import InfrastructureFactory, IntegrityError  # noqa: E402
from eventsourcing.utils import Environment  # noqa: E402

from projections.shared_pool import shared_datastore  # noqa: E402
from projections.wakeup import connect_like  # noqa: E402

log = logging.getLogger("duban.views")

#: Key of the PostgreSQL advisory lock taken while creating tables: several
#: processes creating them at once fail with "tuple concurrently updated".
SCHEMA_LOCK = 727_001

V = TypeVar("V")

POSTGRES_DEFAULTS = {
    # Writers take an exclusive table lock; never wait for it forever.
    "POSTGRES_LOCK_TIMEOUT": "10",
    "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
}


@contextmanager
def _schema_lock(datastore: Any) -> Iterator[None]:
    """Held on a connection of its own, outside the pool: the tables are created
    through the pool meanwhile, and a pool of one connection (the views' pool is
    shared by the whole process) would wait for itself."""
    with connect_like(datastore) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{datastore.schema}"')
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


def open_application(
    env: dict[str, str] | None = None, clock: Callable[[], datetime] | None = None
) -> Any:
    """The Duban application on the configured store, its tables created once."""
    from domain.service import Duban, system_clock

    store_env = event_store_env(env)
    if persistence_module(store_env) == POSTGRES:
        full = {**POSTGRES_DEFAULTS, **store_env, "CREATE_TABLE": "n"}
        app = Duban(env=full, clock=clock or system_clock)
        if _wants_tables(store_env):
            with _schema_lock(app.recorder.datastore):
                app.recorder.create_table()
        return app
    return Duban(env=store_env, clock=clock or system_clock)


def _wants_tables(env: dict[str, str]) -> bool:
    value = {**os.environ, **env}.get("CREATE_TABLE", "y").lower()
    return value in ("y", "yes", "t", "true", "on", "1")


def open_view(name: str, sqlite_class: type[V], postgres_class: type[V], store_env: dict[str, str] | None = None) -> V:
    """A view (a tracking recorder with its own tables) beside the event store."""
    env = view_env(name, event_store_env(store_env))
    if env["PERSISTENCE_MODULE"] == POSTGRES:
        datastore = shared_datastore({**POSTGRES_DEFAULTS, **env})
        try:
            view = postgres_class(datastore=datastore, tracking_table_name=f"{name.lower()}_tracking")  # type: ignore[call-arg]
            if _wants_tables(store_env or {}):
                with _schema_lock(datastore):
                    view.create_table()
                    _reset_if_outdated(view, name)
        except BaseException:
            datastore.close()  # its share of the process's pool: nothing else would give it back
            raise
        return view  # type: ignore[return-value]
    factory = InfrastructureFactory.construct(Environment(name, env))
    try:
        view = factory.tracking_recorder(sqlite_class)  # type: ignore[arg-type]
    except IntegrityError:
        # Two processes creating one view file at once (gunicorn's workers): the
        # library lets one record the tables' first tracking row and the other
        # fails; on a second try the tables are there.
        view = factory.tracking_recorder(sqlite_class)  # type: ignore[arg-type]
    if _wants_tables(env):
        _reset_if_outdated(view, name)
    return view  # type: ignore[return-value]


def _reset_if_outdated(view: Any, name: str) -> None:
    if view.reset_if_outdated(name):
        log.warning("view %s was of an earlier schema: emptied, to be rebuilt from the event log", name)
