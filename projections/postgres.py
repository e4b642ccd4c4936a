"""PostgreSQL views: tables qualified by the configured schema, tracking in
``<view name>_tracking``, rows and tracking in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eventsourcing.postgres import PostgresTrackingRecorder
from psycopg.sql import SQL

from projections.views import Rows, SqlView


class PostgresView(SqlView, PostgresTrackingRecorder):
    placeholder = "%s"

    def __init__(self, datastore: Any, **kwargs: Any):
        super().__init__(datastore, **kwargs)
        for statement in self.view_schema():
            self.sql_create_statements.append(SQL(statement))  # type: ignore[arg-type]

    @contextmanager
    def writing(self) -> Iterator[Rows]:
        """One round trip per batch rather than per statement: the psycopg
        pipeline queues statements until a result is needed."""
        with self.datastore.transaction(commit=True) as cursor, cursor.connection.pipeline() as pipeline:
            yield Rows(cursor, self, sync=pipeline.sync)

    def qualified(self, name: str) -> str:
        return f'"{self.datastore.schema}"."{name}"'

    def tracking_table(self) -> str:
        return f'"{self.datastore.schema}"."{self.tracking_table_name}"'
