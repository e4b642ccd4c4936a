"""Who looked at which history (查阅记录): one row per recorded viewing of a
full history page or export of an audit bundle (``domain/history_access.py``),
for the discipline office's list. Rebuilt from the events alone like every view."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.history_access import HistoryAccess
from projections.history import instant_text
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView
from projections.views import BatchProjection, Page, Rows, SqlView

VIEWED, EXPORTED = "viewed", "exported"


class HistoryAccessSchema(SqlView):
    schema_version = 1
    table_names = ("history_access",)
    schema_statements = (
        "CREATE TABLE IF NOT EXISTS {history_access} ("
        " position BIGINT PRIMARY KEY, access_id TEXT NOT NULL, county_id TEXT NOT NULL, action TEXT NOT NULL,"
        " subject_kind TEXT NOT NULL, subject_id TEXT NOT NULL, subject_name TEXT NOT NULL, filters TEXT NOT NULL,"
        " actor_id TEXT NOT NULL, actor_role TEXT NOT NULL, recorded_at TEXT NOT NULL,"
        " events INTEGER, sha256 TEXT)",
        "CREATE INDEX IF NOT EXISTS history_access_county ON {history_access} (county_id, position)",
        "CREATE INDEX IF NOT EXISTS history_access_actor ON {history_access} (county_id, actor_id, position)",
    )


class HistoryAccessSQLiteView(HistoryAccessSchema, SQLiteView):
    pass


class HistoryAccessPostgresView(HistoryAccessSchema, PostgresView):
    pass


class HistoryAccessProjection(BatchProjection):
    name = "history_access"
    topics = tuple(get_topic(cls) for cls in (HistoryAccess.Viewed, HistoryAccess.Exported))

    def before_apply(self, event: Any, tracking: Tracking, rows: Rows) -> None:
        self._position = int(tracking.notification_id)

    def apply(self, event: Any, rows: Rows) -> None:
        if not isinstance(event, (HistoryAccess.Viewed, HistoryAccess.Exported)):
            return
        exported = isinstance(event, HistoryAccess.Exported)
        rows.execute(
            "INSERT INTO {history_access} (position, access_id, county_id, action, subject_kind, subject_id,"
            " subject_name, filters, actor_id, actor_role, recorded_at, events, sha256)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self._position, str(event.originator_id), str(event.county_id), EXPORTED if exported else VIEWED,
                event.subject_kind, str(event.subject_id), event.subject_name,
                json.dumps(event.filters, ensure_ascii=False, sort_keys=True), str(event.actor_id),
                str(event.actor_role), instant_text(event.timestamp), event.events if exported else None,
                event.sha256 if exported else None,
            ),
        )  # fmt: skip


class HistoryAccessQuery:
    def __init__(self, view: SqlView):
        self.view = view

    @staticmethod
    def _where(county_id: str, actor_id: str | None, since: datetime | None,
               before: datetime | None) -> tuple[str, list[Any]]:  # fmt: skip
        where, params = " WHERE county_id = ?", [str(county_id)]
        if actor_id:
            where += " AND actor_id = ?"
            params.append(actor_id)
        if since is not None:
            where += " AND recorded_at >= ?"
            params.append(instant_text(since))
        if before is not None:
            where += " AND recorded_at < ?"
            params.append(instant_text(before))
        return where, params

    def page(self, county_id: str, *, actor_id: str | None = None, since: datetime | None = None,
             before: datetime | None = None, page: int = 1, per_page: int = 50) -> Page:  # fmt: skip
        """The county's accesses, newest first."""
        where, params = self._where(county_id, actor_id, since, before)
        with self.view.reading() as rows:
            total = int(rows.one(f"SELECT COUNT(*) AS n FROM {{history_access}}{where}", params)["n"])
            pages = max(1, -(-total // per_page))
            page = min(max(1, page), pages)
            found = rows.all(
                f"SELECT * FROM {{history_access}}{where} ORDER BY position DESC LIMIT ? OFFSET ?",
                [*params, per_page, (page - 1) * per_page],
            )
        listed = [{**dict(r), "filters": json.loads(r["filters"])} for r in found]
        return Page(listed, total, page, per_page)

    def actors(self, county_id: str) -> list[str]:
        """Everyone who has looked at a history in this county."""
        with self.view.reading() as rows:
            found = rows.all(
                "SELECT DISTINCT actor_id FROM {history_access} WHERE county_id = ? ORDER BY actor_id", (str(county_id),)
            )
        return [r["actor_id"] for r in found]

    def all_rows(self) -> list[dict[str, Any]]:
        with self.view.reading() as rows:
            return [{"table": "history_access", **dict(r)} for r in rows.all("SELECT * FROM {history_access} ORDER BY position")]
