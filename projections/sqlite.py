"""SQLite views: one file per view, rows and tracking in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.sqlite import SQLiteTrackingRecorder

from projections.views import Rows, SqlView


class SQLiteView(SqlView, SQLiteTrackingRecorder):
    placeholder = "?"

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self.view_schema()]

    def tracking_table(self) -> str:
        return "tracking"

    @contextmanager
    def writing(self) -> Iterator[Rows]:
        """A view's commit need not wait for the disk (synchronous=NORMAL; the file
        is in WAL mode): a crash may lose the last batches, rows and position
        together, and they are applied again; it cannot corrupt the file. Waiting
        for the disk at every batch's commit was a quarter of a rebuild. (The
        pragma cannot change inside a transaction, hence before it begins.)"""
        with self.datastore.get_connection(commit=True) as connection:
            connection._sqlite_conn.execute("PRAGMA synchronous=NORMAL")  # noqa: SLF001
            with connection.transaction(commit=True) as cursor:
                yield Rows(cursor, self)
