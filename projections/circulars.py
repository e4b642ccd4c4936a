"""The county's circulars (通报): drafts, issued and revoked, one row each, for
the command office's list and each circular's page. Kept by following the log
like every view; it can be dropped and rebuilt from the events alone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.utils import get_topic

from domain.circular import Circular
from domain.events import local_date
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView
from projections.views import BatchProjection, BufferedTable, Rows, SqlView


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


CIRCULAR_COLUMNS = (
    "circular_id", "county_id", "kind", "title", "prefix", "period", "body", "unit_ids", "finding_ids", "status",
    "document_number", "issued_on", "deducted_units", "revoked_reason", "drafted_at", "drafted_by", "updated_at",
)  # fmt: skip


class CircularProjection(BatchProjection):
    """One row per circular, changed in memory and written once per batch (``BufferedTable``)."""

    name = "circulars"
    topics = tuple(
        get_topic(cls) for cls in (Circular.Drafted, Circular.Edited, Circular.Issued, Circular.PointsDeducted, Circular.Revoked)
    )

    def __init__(self, view: SqlView):
        super().__init__(view)
        self._circulars = BufferedTable("circulars", ("circular_id",), CIRCULAR_COLUMNS)

    def start_batch(self, rows: Rows) -> None:
        super().start_batch(rows)
        self._circulars.reset()

    def prefetch(self, events: Sequence[Any], rows: Rows) -> None:
        self._circulars.load(rows, [str(e.originator_id) for e in events if not isinstance(e, Circular.Drafted)])

    def before_commit(self, rows: Rows) -> None:
        self._circulars.flush(rows)
        super().before_commit(rows)

    @singledispatchmethod
    def apply(self, event: Any, rows: Rows) -> None:
        """Other events change nothing."""

    def _change(self, e: Any, **changes: Any) -> dict[str, Any] | None:
        """Change a circular's row (an UPDATE matching no row changes nothing)."""
        row = self._circulars.get(str(e.originator_id))
        if row is not None:
            row.update(changes)
            self._circulars.changed(row["circular_id"])
        return row

    @apply.register
    def _(self, e: Circular.Drafted, rows: Rows) -> None:
        self._circulars.add({
            "circular_id": str(e.originator_id), "county_id": str(e.county_id), "kind": e.kind, "title": e.title,
            "prefix": e.prefix, "period": e.period, "body": e.body, "unit_ids": _ids(e.unit_ids),
            "finding_ids": _ids(e.finding_ids), "status": "draft", "document_number": None, "issued_on": None,
            "deducted_units": 0, "revoked_reason": None, "drafted_at": e.timestamp.isoformat(),
            "drafted_by": str(e.actor_id), "updated_at": e.timestamp.isoformat(),
        })  # fmt: skip

    @apply.register
    def _(self, e: Circular.Edited, rows: Rows) -> None:
        self._change(
            e, title=e.title, body=e.body, unit_ids=_ids(e.unit_ids), finding_ids=_ids(e.finding_ids),
            updated_at=e.timestamp.isoformat(),
        )  # fmt: skip

    @apply.register
    def _(self, e: Circular.Issued, rows: Rows) -> None:
        self._change(
            e, status="issued", document_number=e.document_number, issued_on=e.issued_on,
            updated_at=e.timestamp.isoformat(),
        )  # fmt: skip

    @apply.register
    def _(self, e: Circular.PointsDeducted, rows: Rows) -> None:
        row = self._change(e)
        if row is not None:
            row["deducted_units"] += 1

    @apply.register
    def _(self, e: Circular.Revoked, rows: Rows) -> None:
        self._change(e, status="revoked", revoked_reason=e.reason, updated_at=local_date(e.timestamp).isoformat())


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
