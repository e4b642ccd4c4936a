"""Backend-neutral plumbing for SQL views that are also tracking recorders.

A view writes its rows and its tracking position in one transaction (house
rule 6). SQL is written once, with ``?`` placeholders and ``{table}`` names;
the SQLite and PostgreSQL classes say how to run it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection


@dataclass
class Page:
    """One page of a view's rows, and how many there are in all."""

    rows: list[dict[str, Any]]
    total: int
    page: int
    per_page: int
    pages: int = field(init=False)

    def __post_init__(self) -> None:
        self.pages = max(1, -(-self.total // self.per_page))


class Rows:
    """A cursor inside one view transaction, speaking the view's SQL dialect."""

    def __init__(self, cursor: Any, view: SqlView, sync: Callable[[], None] | None = None):
        self._cursor = cursor
        self._view = view
        # On PostgreSQL, statements queue in a pipeline; results are read only
        # after it has been synced (a long unsynced pipeline was seen to hand a
        # fetch the result of another statement).
        self._sync = sync or (lambda: None)

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(self._view.sql(statement), tuple(params))

    def execute_many(self, statement: str, params: Sequence[Sequence[Any]]) -> None:
        """One statement for many rows: on PostgreSQL the rows go in one round trip
        and the statement is parsed once; on SQLite it is compiled once."""
        if params:
            self._cursor.executemany(self._view.sql(statement), [tuple(p) for p in params])

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[dict[str, Any]], conflict: str = ""
    ) -> None:
        """INSERT rows (dicts holding at least ``columns``) into a table, with an
        optional ``ON CONFLICT ...`` clause. PostgreSQL takes them in one statement
        (as JSON turned into rows of the table's type): a statement per row cost
        more in the server than the rows themselves."""
        if not rows:
            return
        names = ", ".join(columns)
        if self.copies(len(rows)):
            values = ([row[c] for c in columns] for row in rows)
            if not conflict:
                self.copy_rows(table, columns, values)
            else:
                staged = self.stage(table, columns, values)
                self.execute(f"INSERT INTO {{{table}}} ({names}) SELECT {names} FROM {staged}{conflict}")
            return
        if self._view.bulk_json:
            self.execute(
                f"INSERT INTO {{{table}}} ({names}) SELECT {names}"
                f" FROM json_populate_recordset(NULL::{{{table}}}, ?::json){conflict}",
                (_json_rows(rows, columns),),
            )
        else:
            self.execute_many(
                f"INSERT INTO {{{table}}} ({names}) VALUES ({', '.join('?' for _ in columns)}){conflict}",
                [[row[c] for c in columns] for row in rows],
            )

    def update_rows(
        self, table: str, key: Sequence[str], columns: Sequence[str], rows: Sequence[dict[str, Any]]
    ) -> None:
        """UPDATE each row's ``columns`` where its ``key`` matches (one statement on PostgreSQL)."""
        if not rows:
            return
        if self.copies(len(rows)):
            staged = self.stage(table, (*columns, *key), ([row[c] for c in (*columns, *key)] for row in rows))
            self.execute(
                f"UPDATE {{{table}}} AS t SET {', '.join(f'{c} = v.{c}' for c in columns)}"
                f" FROM {staged} AS v WHERE {' AND '.join(f't.{k} = v.{k}' for k in key)}"
            )
        elif self._view.bulk_json:
            self.execute(
                f"UPDATE {{{table}}} AS t SET {', '.join(f'{c} = v.{c}' for c in columns)}"
                f" FROM json_populate_recordset(NULL::{{{table}}}, ?::json) AS v"
                f" WHERE {' AND '.join(f't.{k} = v.{k}' for k in key)}",
                (_json_rows(rows, (*columns, *key)),),
            )
        else:
            self.execute_many(
                f"UPDATE {{{table}}} SET {', '.join(f'{c} = ?' for c in columns)}"
                f" WHERE {' AND '.join(f'{k} = ?' for k in key)}",
                [[*(row[c] for c in columns), *(row[k] for k in key)] for row in rows],
            )

    #: How many rows make a COPY worth it, on a backend that has one (None: never).
    copies_from: int | None = None

    def copies(self, count: int) -> bool:
        """Whether ``count`` rows to insert or update go by bulk load (``copy_rows``, ``stage``)."""
        return self.copies_from is not None and count >= self.copies_from

    def copy_rows(self, table: str, columns: Sequence[str], values: Iterable[Sequence[Any]]) -> None:
        """Append rows (values in the order of ``columns``) with the database's bulk
        load (PostgreSQL's COPY); no conflict clause, no statement per row."""
        raise NotImplementedError("this backend has no bulk load")

    def stage(self, table: str, columns: Sequence[str], values: Iterable[Sequence[Any]]) -> str:
        """Bulk-load rows into a temporary table shaped like ``columns`` of ``table``,
        gone at commit, for an INSERT … ON CONFLICT or an UPDATE to read; its name."""
        raise NotImplementedError("this backend has no bulk load")

    @property
    def bulk_json(self) -> bool:
        """Whether many rows go as one JSON parameter (PostgreSQL) rather than one
        execution each (SQLite, where an execution costs no round trip)."""
        return self._view.bulk_json

    def one(self, statement: str, params: Sequence[Any] = ()) -> Any:
        self._sync()
        self.execute(statement, params)
        return self._cursor.fetchone()

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        self._sync()
        self.execute(statement, params)
        return list(self._cursor.fetchall())

    def all_where_in(self, statement: str, column: str, keys: Sequence[Any], suffix: str = "") -> list[Any]:
        """The rows of ``statement WHERE column IN keys suffix`` (no WHERE of its own),
        in as few queries as the backend takes (``_where_in``)."""
        return [r for where, params in self._where_in(column, keys) for r in self.all(statement + where + suffix, params)]

    def execute_where_in(self, statement: str, column: str, keys: Sequence[Any]) -> None:
        """``statement WHERE column IN keys`` (a DELETE, say), as ``all_where_in`` does it."""
        for where, params in self._where_in(column, keys):
            self.execute(statement + where, params)

    def _where_in(self, column: str, keys: Sequence[Any]) -> list[tuple[str, list[Any]]]:
        """WHERE clauses with their parameters covering ``keys``: one array parameter on
        PostgreSQL (one statement text, prepared once: hundreds of placeholders made
        psycopg convert a new query text every batch), chunks of placeholders on SQLite."""
        if not keys:
            return []
        if self.bulk_json:
            return [(f" WHERE {column} = ANY(?)", [list(keys)])]
        return [(f" WHERE {column} IN ({', '.join('?' * len(chunk))})", list(chunk)) for chunk in _chunks(keys)]

    def track(self, tracking: Tracking) -> None:
        """Record the position; the library refuses a position not beyond the last."""
        self._sync()
        self._view._insert_tracking(self._cursor, tracking)  # noqa: SLF001


#: Keys per query on SQLite (its limit on parameters was 999 before 3.32).
LOAD_CHUNK = 900


def _chunks(keys: Sequence[Any]) -> list[Sequence[Any]]:
    return [keys[i : i + LOAD_CHUNK] for i in range(0, len(keys), LOAD_CHUNK)]


def _json_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    return json.dumps([{c: row[c] for c in columns} for row in rows], ensure_ascii=False, separators=(",", ":"))


class SqlView:
    """Mixin for a TrackingRecorder subclass that owns some tables."""

    #: See ``Rows.bulk_json``.
    bulk_json = False

    #: Logical table names; each backend decides the real, qualified name.
    table_names: tuple[str, ...] = ()
    #: CREATE statements using ``{name}`` for each table in ``table_names``.
    schema_statements: tuple[str, ...] = ()
    #: Bump when the tables change shape or meaning. A view stored under an
    #: earlier version is emptied when it is opened and rebuilt from the log
    #: (views written before versions were recorded count as version 1).
    schema_version = 1
    placeholder = "?"
    datastore: Any

    def qualified(self, name: str) -> str:
        return name

    def tracking_table(self) -> str:
        raise NotImplementedError

    def sql(self, statement: str) -> str:
        # Translated once per statement text: formatting every table name for every
        # event was a measurable share of a rebuild.
        cache: dict[str, str] | None = self.__dict__.get("_sql_cache")
        if cache is None:
            cache = self.__dict__["_sql_cache"] = {}
        translated = cache.get(statement)
        if translated is None:
            translated = statement.format(**{name: self.qualified(name) for name in self.table_names})
            if self.placeholder != "?":
                translated = translated.replace("?", "%s")
            if len(cache) < 10_000:  # statements built with a varying number of placeholders
                cache[statement] = translated
        return translated

    def view_schema(self) -> list[str]:
        return [self.sql(s) for s in self.schema_statements]

    @contextmanager
    def writing(self) -> Iterator[Rows]:
        with self.datastore.transaction(commit=True) as cursor:
            yield Rows(cursor, self)

    @contextmanager
    def reading(self) -> Iterator[Rows]:
        with self.datastore.transaction(commit=False) as cursor:
            yield Rows(cursor, self)

    def reset_if_outdated(self, view_name: str) -> bool:
        """Recreate the tables and forget the position if the stored view is of
        another schema version; True if it was reset."""
        versions = self.qualified("view_versions")
        p = self.placeholder
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {versions} (view TEXT PRIMARY KEY, version INTEGER NOT NULL)")
            cursor.execute(f"SELECT version FROM {versions} WHERE view = {p}", (view_name,))
            row = cursor.fetchone()
            # The library keeps a marker row of its own in the tracking table; only positions count.
            marker = getattr(self, "table_migration_identifier", "__migration__")
            cursor.execute(f"SELECT COUNT(*) AS n FROM {self.tracking_table()} WHERE application_name <> {p}", (marker,))
            tracked = int(cursor.fetchone()["n"])
            stored = int(row["version"]) if row else (1 if tracked else None)
            if stored == self.schema_version and row is not None:
                return False
            outdated = stored is not None and stored != self.schema_version
            if outdated:
                for name in self.table_names:
                    cursor.execute(f"DROP TABLE IF EXISTS {self.qualified(name)}")
                for statement in self.view_schema():
                    cursor.execute(statement)
                cursor.execute(f"DELETE FROM {self.tracking_table()} WHERE application_name <> {p}", (marker,))
            cursor.execute(f"DELETE FROM {versions} WHERE view = {p}", (view_name,))
            cursor.execute(f"INSERT INTO {versions} (view, version) VALUES ({p}, {p})", (view_name, self.schema_version))
        return outdated

    def secondary_indexes(self) -> list[tuple[str, str]]:
        """(name, CREATE statement) of every index the schema creates besides the keys."""
        found = []
        for statement in self.view_schema():
            words = statement.split()
            if words[:5] == ["CREATE", "INDEX", "IF", "NOT", "EXISTS"]:
                found.append((words[5], statement))
        return found

    def index_name(self, name: str) -> str:
        return name

    @contextmanager
    def without_secondary_indexes(self) -> Iterator[None]:
        """Drop the secondary indexes for a while (a rebuild into empty tables) and
        build them again after, whatever happened; opening the view also makes any
        missing one (``CREATE INDEX IF NOT EXISTS``)."""
        indexes = self.secondary_indexes()
        with self.datastore.transaction(commit=True) as cursor:
            for name, _ in indexes:
                cursor.execute(f"DROP INDEX IF EXISTS {self.index_name(name)}")
        try:
            yield
        finally:
            with self.datastore.transaction(commit=True) as cursor:
                for _, statement in indexes:
                    cursor.execute(statement)
            self.refresh_statistics()

    def refresh_statistics(self) -> None:
        """Let the database's planner see the tables as a rebuild left them (PostgreSQL)."""

    def dump_tables(self, order_by: dict[str, str]) -> list[dict[str, Any]]:
        """Every row of the named tables, each ordered by its key and tagged with its
        table: what a rebuild must reproduce (the rebuild tests compare these)."""
        dump: list[dict[str, Any]] = []
        with self.reading() as rows:
            for table, order in order_by.items():
                for row in rows.all(f"SELECT * FROM {{{table}}} ORDER BY {order}"):
                    dump.append({"table": table, **dict(row)})
        return dump

    def drop_view(self, application_name: str) -> None:
        """Forget every row and the tracking position, keeping the tables."""
        with self.writing() as rows:
            for name in self.table_names:
                rows.execute(f"DELETE FROM {{{name}}}")
            rows._cursor.execute(  # noqa: SLF001
                f"DELETE FROM {self.tracking_table()} WHERE application_name = {self.placeholder}",
                (application_name,),
            )


class BatchProjection(Projection[SqlView]):
    """A projection whose subclasses say, per event type, what rows change
    (``apply(event, rows)``, a singledispatchmethod); this class applies a batch
    of events and records the position in the same transaction."""

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:  # type: ignore[override]
        self.process_batch([(domain_event, tracking)])

    def process_batch(self, items: Sequence[tuple[Any, Tracking]], caught_up_to: Tracking | None = None) -> None:
        """Apply events and record the position in one transaction.

        The first item's position is recorded first, so a replayed position is
        refused before anything is applied. ``caught_up_to`` lets the follower
        record a position past the last event of interest, so a wait for an
        irrelevant event does not hang."""
        if not items and caught_up_to is None:
            return
        with self.view.writing() as rows:
            if items:
                rows.track(items[0][1])
            self.start_batch(rows)
            self.prefetch([event for event, _ in items], rows)
            for event, tracking in items:
                self.before_apply(event, tracking, rows)
                self._handler(type(event))(event, rows)
            self.before_commit(rows)
            last = caught_up_to or items[-1][1]
            if not items or last.notification_id != items[0][1].notification_id:
                rows.track(last)

    def apply(self, event: Any, rows: Rows) -> None:
        raise NotImplementedError

    def _handler(self, event_type: type) -> Callable[[Any, Rows], None]:
        """``apply`` as dispatched for one event type, found once: going through the
        singledispatchmethod descriptor built a new wrapper for every event."""
        handlers: dict[type, Callable[[Any, Rows], None]] | None = self.__dict__.get("_handlers")
        if handlers is None:
            handlers = self.__dict__["_handlers"] = {}
        handler = handlers.get(event_type)
        if handler is None:
            handler = self.apply  # also settles the descriptor's deferred registrations
            for klass in type(self).__mro__:
                if "apply" in klass.__dict__:
                    method = klass.__dict__["apply"]
                    if isinstance(method, singledispatchmethod):
                        handler = method.dispatcher.dispatch(event_type).__get__(self, type(self))
                    break
            handlers[event_type] = handler
        return handler

    def start_batch(self, rows: Rows) -> None:
        """Called inside the transaction before the batch's events are applied."""

    def prefetch(self, events: Sequence[Any], rows: Rows) -> None:
        """Called inside the transaction before the batch's events are applied, with
        all of them: load the rows they will read (``BufferedTable.load``), in one
        query per table rather than one per event."""

    def before_apply(self, event: Any, tracking: Tracking, rows: Rows) -> None:
        """Called before each event of the batch is applied."""

    def before_commit(self, rows: Rows) -> None:
        """Called inside the transaction after the batch's events were applied."""


class BufferedTable:
    """The rows of one view table that a batch reads and changes, held in memory
    and written when the batch commits: new rows with one multi-row INSERT, changed
    ones with one multi-row UPDATE, instead of a statement per event. Rows the
    batch will read are loaded up front (``load``), one query for the whole batch.

    Semantics are those of the statements it replaces: a new row whose key is
    already stored fails the INSERT (and the batch), and a change to a row that
    is not there (``get`` gives None) is the caller's to skip, as an UPDATE
    matching nothing would. Forgotten at every batch's start (``reset``): memory
    is bounded by the batch, and rows are never read stale from an earlier one.

    ``group`` (a column of the key, the first by default) is what rows are loaded
    by: all of a finding's deductions, say, when the key is (finding, number)."""

    def __init__(self, table: str, key: tuple[str, ...], columns: tuple[str, ...], group: str | None = None):
        self.table = table
        self.key = key
        self.columns = columns
        self.group = group or key[0]
        self._rows: dict[Any, dict[str, Any]] = {}
        self._by_group: dict[Any, list[Any]] = {}
        self._loaded: set[Any] = set()
        self._new: dict[Any, None] = {}
        self._changed: dict[Any, None] = {}
        self._duplicates: list[dict[str, Any]] = []
        self._select = f"SELECT {', '.join(columns)} FROM {{{table}}}"
        self._settable = tuple(c for c in columns if c not in key)

    def _key_of(self, row: dict[str, Any]) -> Any:
        return row[self.key[0]] if len(self.key) == 1 else tuple(row[k] for k in self.key)

    def reset(self) -> None:
        self._rows.clear()
        self._by_group.clear()
        self._loaded.clear()
        self._new.clear()
        self._changed.clear()
        self._duplicates.clear()

    def load(self, rows: Rows, groups: Any) -> None:
        """Read the stored rows of these groups (keys, for a one-column key) not read yet."""
        wanted = [g for g in dict.fromkeys(groups) if g not in self._loaded]
        if not wanted:
            return
        for stored in rows.all_where_in(self._select, self.group, wanted):
            row = {c: stored[c] for c in self.columns}
            key = self._key_of(row)
            if key not in self._rows:  # a row made in this batch wins
                self._remember(key, row)
        self._loaded.update(wanted)

    def _remember(self, key: Any, row: dict[str, Any]) -> None:
        self._rows[key] = row
        self._by_group.setdefault(row[self.group], []).append(key)

    def get(self, key: Any) -> dict[str, Any] | None:
        """The row as it stands in this batch; None if there is none (it must have
        been loaded, or made in this batch)."""
        return self._rows.get(key)

    def added(self) -> list[Any]:
        """The keys of the rows new in this batch (not stored before it)."""
        return list(self._new)

    def of_group(self, group: Any) -> list[dict[str, Any]]:
        return [self._rows[k] for k in self._by_group.get(group, ())]

    def add(self, row: dict[str, Any]) -> dict[str, Any]:
        """A new row (every column given); written with an INSERT."""
        key = self._key_of(row)
        if key in self._new:
            # A second INSERT of one key: let it fail in the database, as it did before.
            self._duplicates.append(dict(row))
            return row
        if key in self._rows:
            # Stored already: the INSERT it replaces would have failed; let it fail in the database.
            self._changed.pop(key, None)
        self._remember(key, row)
        self._new[key] = None
        return row

    def changed(self, key: Any) -> None:
        """The row of ``key`` was changed in place (``get(key)[column] = value``)."""
        if key not in self._new:
            self._changed[key] = None

    def flush(self, rows: Rows) -> None:
        rows.insert_rows(self.table, self.columns, [self._rows[k] for k in self._new] + self._duplicates)
        rows.update_rows(self.table, self.key, self._settable, [self._rows[k] for k in self._changed])
        self._new.clear()
        self._changed.clear()
        self._duplicates.clear()
