"""The county's circulars (通报): drafts, issued and revoked, one row each, for
the command office's list and each circular's page. Kept by following the log
like every view; it can be dropped and rebuilt from the events alone."""

from __future__ import annotations

import json
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.utils import get_topic

from domain.circular import Circular
from domain.events import local_date
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView
from projections.views import BatchProjection, Rows, SqlView


class CircularSchema(SqlView):
    table_names = ("circulars",)
    schema_statements = (
        "CREATE TABLE IF NOT EXISTS {circulars} ("
        " circular_id TEXT PRIMARY KEY, county_id TEXT NOT NULL, kind TEXT NOT NULL, title TEXT NOT NULL,"
        " prefix TEXT NOT NULL, period TEXT NOT NULL, body TEXT NOT NULL, unit_ids TEXT NOT NULL,"
        " finding_ids TEXT NOT NULL, status TEXT NOT NULL, document_number TEXT, issued_on TEXT,"
        " deducted_units INTEGER NOT NULL DEFAULT 0, revoked_reason TEXT, drafted_at TEXT NOT NULL,"
        " drafted_by TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS circulars_county ON {circulars} (county_id, drafted_at)",
    )


class CircularSQLiteView(CircularSchema, SQLiteView):
    pass


class CircularPostgresView(CircularSchema, PostgresView):
    pass


class CircularProjection(BatchProjection):
    name = "circulars"
    topics = tuple(
        get_topic(cls) for cls in (Circular.Drafted, Circular.Edited, Circular.Issued, Circular.PointsDeducted, Circular.Revoked)
    )

    @singledispatchmethod
    def apply(self, event: Any, rows: Rows) -> None:
        """Other events change nothing here."""

    @apply.register
    def _(self, e: Circular.Drafted, rows: Rows) -> None:
        rows.execute(
            "INSERT INTO {circulars} (circular_id, county_id, kind, title, prefix, period, body, unit_ids,"
            " finding_ids, status, drafted_at, drafted_by, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'draft', ?, ?, ?)",
            (
                str(e.originator_id), str(e.county_id), e.kind, e.title, e.prefix, e.period, e.body,
                _ids(e.unit_ids), _ids(e.finding_ids), e.timestamp.isoformat(), str(e.actor_id),
                e.timestamp.isoformat(),
            ),
        )  # fmt: skip

    @apply.register
    def _(self, e: Circular.Edited, rows: Rows) -> None:
        rows.execute(
            "UPDATE {circulars} SET title = ?, body = ?, unit_ids = ?, finding_ids = ?, updated_at = ?"
            " WHERE circular_id = ?",
            (e.title, e.body, _ids(e.unit_ids), _ids(e.finding_ids), e.timestamp.isoformat(), str(e.originator_id)),
        )

    @apply.register
    def _(self, e: Circular.Issued, rows: Rows) -> None:
        rows.execute(
            "UPDATE {circulars} SET status = 'issued', document_number = ?, issued_on = ?, updated_at = ?"
            " WHERE circular_id = ?",
            (e.document_number, e.issued_on, e.timestamp.isoformat(), str(e.originator_id)),
        )

    @apply.register
    def _(self, e: Circular.PointsDeducted, rows: Rows) -> None:
        rows.execute(
            "UPDATE {circulars} SET deducted_units = deducted_units + 1 WHERE circular_id = ?",
            (str(e.originator_id),),
        )

    @apply.register
    def _(self, e: Circular.Revoked, rows: Rows) -> None:
        rows.execute(
            "UPDATE {circulars} SET status = 'revoked', revoked_reason = ?, updated_at = ? WHERE circular_id = ?",
            (e.reason, local_date(e.timestamp).isoformat(), str(e.originator_id)),
        )


def _ids(ids: Any) -> str:
    return json.dumps([str(i) for i in ids])


class CircularQuery:
    def __init__(self, view: SqlView):
        self.view = view

    def listing(self, county_id: str, include_drafts: bool) -> list[dict[str, Any]]:
        drafts = "" if include_drafts else " AND status <> 'draft'"
        with self.view.reading() as rows:
            found = rows.all(
                f"SELECT * FROM {{circulars}} WHERE county_id = ?{drafts} ORDER BY drafted_at DESC, circular_id",
                (county_id,),
            )
        return [_decoded(r) for r in found]

    def circular(self, circular_id: str) -> dict[str, Any] | None:
        with self.view.reading() as rows:
            row = rows.one("SELECT * FROM {circulars} WHERE circular_id = ?", (circular_id,))
        return _decoded(row) if row else None

    def prefixes(self, county_id: str) -> list[str]:
        """Document-number prefixes (发文机关代字) used before in the county, most recent first."""
        with self.view.reading() as rows:
            found = rows.all(
                "SELECT prefix, MAX(drafted_at) AS last FROM {circulars} WHERE county_id = ? GROUP BY prefix"
                " ORDER BY last DESC",
                (county_id,),
            )
        return [r["prefix"] for r in found]

    def all_rows(self) -> list[dict[str, Any]]:
        with self.view.reading() as rows:
            return [dict(r) for r in rows.all("SELECT * FROM {circulars} ORDER BY circular_id")]


def _decoded(row: Any) -> dict[str, Any]:
    data = dict(row)
    data["unit_ids"] = json.loads(data["unit_ids"])
    data["finding_ids"] = json.loads(data["finding_ids"])
    return data
