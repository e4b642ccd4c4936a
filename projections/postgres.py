"""PostgreSQL views: tables qualified by the configured schema, tracking in
``<view name>_tracking``, rows and tracking in one transaction.

A transaction that records a position also sends ``NOTIFY`` on the schema's
views channel (``positions_channel``) with ``"<view> <position>"``: PostgreSQL
delivers it when the transaction commits, so a web process waiting for a view
to reach a position (``app/positions.py``) learns it the moment the rows are
visible, without asking each view again and again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from psycopg.sql import SQL

from projections.views import Rows, SqlView


class _AnnouncingRows(Rows):
    """Rows that remember the last position recorded, to announce it at commit."""

    tracked: int | None = None

    def track(self, tracking: Tracking) -> None:
        super().track(tracking)
        self.tracked = tracking.notification_id


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
        pipeline queues statements until a result is needed."""
        with self.datastore.transaction(commit=True) as cursor, cursor.connection.pipeline() as pipeline:
            rows = _AnnouncingRows(cursor, self, sync=pipeline.sync)
            yield rows
            if rows.tracked is not None:
                cursor.execute(
                    "SELECT pg_notify(%s, %s)", (positions_channel(self.datastore.schema), f"{self.view_name} {rows.tracked}")
                )

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
