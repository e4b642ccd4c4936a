"""The history verifications (历史核验记录): one row per run of ``verify-history``
or of the discipline office's check, with who ran it, when, and what it found.
Kept by following the log like every view; it can be dropped and rebuilt from
the events alone."""

from __future__ import annotations

import json
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.verification import Verification
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView
from projections.views import BatchProjection, Rows, SqlView


class VerificationSchema(SqlView):
    schema_version = 1
    table_names = ("verification_runs",)
    schema_statements = (
        "CREATE TABLE IF NOT EXISTS {verification_runs} ("
        " run_id TEXT PRIMARY KEY, logged_at BIGINT NOT NULL, county_id TEXT, actor_id TEXT NOT NULL, actor_role TEXT NOT NULL,"
        " checked TEXT NOT NULL, outcome TEXT NOT NULL, position BIGINT NOT NULL, head TEXT NOT NULL,"
        " events BIGINT NOT NULL, chained_up_to BIGINT NOT NULL, unchained BIGINT NOT NULL,"
        " break_kind TEXT NOT NULL, break_position BIGINT NOT NULL, break_detail TEXT NOT NULL,"
        " anchor TEXT NOT NULL, summary TEXT NOT NULL, recorded_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS verification_runs_logged ON {verification_runs} (logged_at)",
    )


class VerificationSQLiteView(VerificationSchema, SQLiteView):
    pass


class VerificationPostgresView(VerificationSchema, PostgresView):
    pass


class VerificationProjection(BatchProjection):
    name = "verifications"
    topics = (get_topic(Verification.HistoryVerified),)

    def before_apply(self, event: Any, tracking: Tracking, rows: Rows) -> None:
        self._logged_at = int(tracking.notification_id)  # the run's place in the log: the order of the runs

    @singledispatchmethod
    def apply(self, event: Any, rows: Rows) -> None:
        """Other events change nothing here."""

    @apply.register
    def _(self, e: Verification.HistoryVerified, rows: Rows) -> None:
        rows.execute(
            "INSERT INTO {verification_runs} (run_id, logged_at, county_id, actor_id, actor_role, checked, outcome, position,"
            " head, events, chained_up_to, unchained, break_kind, break_position, break_detail, anchor, summary,"
            " recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                str(e.originator_id), self._logged_at, str(e.county_id) if e.county_id else None, str(e.actor_id), e.actor_role,
                e.check, e.outcome, int(e.position), e.head, int(e.events), int(e.chained_up_to), int(e.unchained),
                e.break_kind, int(e.break_position), json.dumps(e.break_detail, ensure_ascii=False, sort_keys=True),
                e.anchor, e.summary, e.timestamp.isoformat(),
            ),
        )  # fmt: skip


def _run(row: Any) -> dict[str, Any]:
    run = dict(row)
    run["break_detail"] = json.loads(run["break_detail"] or "{}")
    for key in ("logged_at", "position", "events", "chained_up_to", "unchained", "break_position"):
        run[key] = int(run[key])
    return run


class VerificationQuery:
    """Reading the runs. A county's office sees its own runs and the system's
    (``verify-history`` on the command line); the history checked is the whole store."""

    def __init__(self, view: SqlView):
        self.view = view

    @staticmethod
    def _scope(county_id: str | None) -> tuple[str, list[Any]]:
        if county_id is None:
            return "", []
        return " WHERE (county_id = ? OR county_id IS NULL)", [county_id]

    def listing(self, county_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        where, params = self._scope(county_id)
        with self.view.reading() as rows:
            found = rows.all(
                f"SELECT * FROM {{verification_runs}}{where} ORDER BY logged_at DESC LIMIT ?",
                [*params, limit],
            )
        return [_run(r) for r in found]

    def latest(self, county_id: str | None = None, check: str | None = "full") -> dict[str, Any] | None:
        """The most recent run (of a kind: "full", "anchor"; None: any), or None if there was none."""
        where, params = self._scope(county_id)
        if check is not None:
            where += (" AND" if where else " WHERE") + " checked = ?"
            params.append(check)
        with self.view.reading() as rows:
            row = rows.one(
                f"SELECT * FROM {{verification_runs}}{where} ORDER BY logged_at DESC LIMIT 1", params
            )
        return _run(row) if row else None

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.view.reading() as rows:
            row = rows.one("SELECT * FROM {verification_runs} WHERE run_id = ?", (run_id,))
        return _run(row) if row else None

    def all_rows(self) -> list[dict[str, Any]]:
        """Every stored row, in a fixed order: what a rebuild must reproduce."""
        with self.view.reading() as rows:
            return [{"table": "verification_runs", **dict(r)} for r in rows.all(
                "SELECT * FROM {verification_runs} ORDER BY logged_at")]  # fmt: skip
