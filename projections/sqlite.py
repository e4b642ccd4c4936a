"""SQLite views: one file per view, rows and tracking in one transaction."""

from __future__ import annotations

from eventsourcing.sqlite import SQLiteTrackingRecorder

from projections.views import SqlView


class SQLiteView(SqlView, SQLiteTrackingRecorder):
    placeholder = "?"

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self.view_schema()]

    def tracking_table(self) -> str:
        return "tracking"
