"""PostgreSQL views: tables qualified by the configured schema, tracking in
``<view name>_tracking``, rows and tracking in one transaction.

A transaction that records a position also sends ``NOTIFY`` on the schema's
views channel (``positions_channel``) with ``"<view> <position>"``: PostgreSQL
delivers it when the transaction commits, so a web process waiting for a view
to reach a position (``app/positions.py``) learns it the moment the rows are
visible, without asking each view again and again."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from psycopg.sql import SQL

from projections.views import Rows, SqlView


#: Rows from this many on go into a table with COPY rather than one INSERT of
#: JSON rows: for 300,000 short rows COPY took 0.5 s, the JSON statement 4 s.
#: Fewer go in the pipeline (a COPY must leave it: one more round trip).
COPY_FROM = 200


class PostgresRows(Rows):
    """Rows whose statements queue in a psycopg pipeline, one round trip per
    batch rather than per statement. COPY cannot run in a pipeline, so the
    pipeline is opened when a statement needs it and closed (synced) before a
    COPY; the transaction is the same throughout. Remembers the last position
    recorded, to announce it at commit."""

    tracked: int | None = None
    copies_from = COPY_FROM

    def __init__(self, cursor: Any, view: SqlView):
        super().__init__(cursor, view, sync=self._sync_pipeline)
        self._pipeline: Any = None
        self._opened: Any = None  # the context manager that opened it
        self._staged = 0

    def _piped(self) -> None:
        if self._pipeline is None:
            self._opened = self._cursor.connection.pipeline()
            self._pipeline = self._opened.__enter__()

    def _sync_pipeline(self) -> None:
        if self._pipeline is not None:
            self._pipeline.sync()

    def leave_pipeline(self, *exc_info: Any) -> None:
        """Close the pipeline, reading every queued result (an error among them is raised here)."""
        opened, self._opened, self._pipeline = self._opened, None, None
        if opened is not None:
            opened.__exit__(*(exc_info or (None, None, None)))

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._piped()
        super().execute(statement, params)

    def execute_many(self, statement: str, params: Sequence[Sequence[Any]]) -> None:
        self._piped()
        super().execute_many(statement, params)

    def track(self, tracking: Tracking) -> None:
        self._piped()
        super().track(tracking)
        self.tracked = tracking.notification_id

    def copy_rows(self, table: str, columns: Sequence[str], values: Iterable[Sequence[Any]]) -> None:
        self._copy(self._view.sql(f"COPY {{{table}}} ({', '.join(columns)}) FROM STDIN"), values)

    def _copy(self, statement: str, values: Iterable[Sequence[Any]]) -> None:
        self.leave_pipeline()
        with self._cursor.copy(statement) as copy:
            for row in values:
                copy.write_row(row)

    def stage(self, table: str, columns: Sequence[str], values: Iterable[Sequence[Any]]) -> str:
        self._staged += 1
        name = f"duban_stage_{self._staged}"
        # Without the table's constraints: an UPDATE stages only some of its columns.
        names = ", ".join(columns)
        self.execute(f"CREATE TEMPORARY TABLE {name} ON COMMIT DROP AS SELECT {names} FROM {{{table}}} WITH NO DATA")
        self._copy(f"COPY {name} ({names}) FROM STDIN", values)
        return name


class PostgresView(SqlView, PostgresTrackingRecorder):
    placeholder = "%s"
    bulk_json = True

    def __init__(self, datastore: Any, **kwargs: Any):
        super().__init__(datastore, **kwargs)
        for statement in self.view_schema():
            self.sql_create_statements.append(SQL(statement))  # type: ignore[arg-type]

    @contextmanager
    def writing(self) -> Iterator[Rows]:
        """One round trip per batch rather than per statement: the psycopg
        pipeline queues statements until a result is needed (``PostgresRows``).

        The commit does not wait for the WAL to reach the disk: a view is rebuilt
        from the log, and a crash can only lose its last batches, rows and position
        together, which are then applied again (as on SQLite, ``SQLiteView``). The
        event store's own commits still wait for the disk; the views' need not add
        a flush each to every command (ten views follow every filing)."""
        with self.datastore.transaction(commit=True) as cursor:
            rows = PostgresRows(cursor, self)
            try:
                rows.execute("SET LOCAL synchronous_commit TO OFF")
                yield rows
                if rows.tracked is not None:
                    announced = f"{self.view_name} {rows.tracked}"
                    rows.execute("SELECT pg_notify(?, ?)", (positions_channel(self.datastore.schema), announced))
            except BaseException as error:
                rows.leave_pipeline(type(error), error, error.__traceback__)
                raise
            rows.leave_pipeline()

    def refresh_statistics(self) -> None:
        """ANALYZE the tables a rebuild has just filled: until autovacuum gets to
        them the planner takes them for as empty as they were, and the region's
        grouped ranking then scanned a county's whole quarter once per unit
        (seconds a page instead of a tenth of one)."""
        with self.datastore.transaction(commit=True) as cursor:
            for name in self.table_names:
                cursor.execute(f"ANALYZE {self.qualified(name)}")

    @property
    def view_name(self) -> str:
        """The view's name (its tracking table is ``<name>_tracking``)."""
        return self.tracking_table_name.removesuffix("_tracking")

    def qualified(self, name: str) -> str:
        return f'"{self.datastore.schema}"."{name}"'

    def index_name(self, name: str) -> str:
        return f'"{self.datastore.schema}"."{name}"'

    def tracking_table(self) -> str:
        return f'"{self.datastore.schema}"."{self.tracking_table_name}"'


def positions_channel(schema: str) -> str:
    """The channel a schema's views announce their new positions on (channels are
    per database, so the schema is in the name; PostgreSQL keeps 63 bytes of it)."""
    return f"duban_views_{schema or 'public'}"[:63]
