"""The county's discipline cases (纪检案件): one row per case, its linked
findings and its sanctions, for the discipline office's list and each case's
page. Kept by following the log like every view; it can be dropped and rebuilt
from the events alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.case import Case
from projections.bulk_rows import insert_rows
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView
from projections.views import BatchProjection, Rows, SqlView


class CaseSchema(SqlView):
    schema_version = 1
    table_names = ("cases", "case_findings", "case_sanctions")
    schema_statements = (
        "CREATE TABLE IF NOT EXISTS {cases} ("
        " case_id TEXT PRIMARY KEY, county_id TEXT NOT NULL, subject_unit_id TEXT, summary TEXT NOT NULL,"
        " status TEXT NOT NULL, hearings INTEGER NOT NULL DEFAULT 0, conclusion TEXT,"
        " opened_at TEXT NOT NULL, opened_by TEXT NOT NULL, closed_at TEXT, updated_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS cases_county ON {cases} (county_id, opened_at)",
        # Which findings each case concerns, in the order they were linked.
        "CREATE TABLE IF NOT EXISTS {case_findings} ("
        " case_id TEXT NOT NULL, finding_id TEXT NOT NULL, number INTEGER NOT NULL, linked_at TEXT NOT NULL,"
        " PRIMARY KEY (case_id, finding_id))",
        "CREATE INDEX IF NOT EXISTS case_findings_finding ON {case_findings} (finding_id)",
        "CREATE TABLE IF NOT EXISTS {case_sanctions} ("
        " case_id TEXT NOT NULL, number INTEGER NOT NULL, sanction TEXT NOT NULL, subject TEXT NOT NULL,"
        " note TEXT NOT NULL, recorded_at TEXT NOT NULL, PRIMARY KEY (case_id, number))",
    )


LINK_COLUMNS = (("case_id", "text"), ("finding_id", "text"), ("number", "integer"), ("linked_at", "text"))
SANCTION_COLUMNS = (("case_id", "text"), ("number", "integer"), ("sanction", "text"), ("subject", "text"),
                    ("note", "text"), ("recorded_at", "text"))  # fmt: skip


class CaseSQLiteView(CaseSchema, SQLiteView):
    pass


class CasePostgresView(CaseSchema, PostgresView):
    pass


class CaseProjection(BatchProjection):
    name = "cases"
    topics = tuple(
        get_topic(cls)
        for cls in (Case.Opened, Case.FindingsLinked, Case.HearingRecorded, Case.SanctionRecorded, Case.Closed)
    )

    # How many findings and sanctions each case of the batch has is read once for
    # the batch (not a COUNT per event, each a round trip on PostgreSQL), and the
    # rows linking findings and recording sanctions are inserted at its end.
    def process_batch(self, items: Sequence[tuple[Any, Tracking]], caught_up_to: Tracking | None = None) -> None:
        self._cases = list(dict.fromkeys(str(event.originator_id) for event, _ in items))
        super().process_batch(items, caught_up_to)

    def start_batch(self, rows: Rows) -> None:
        cases, self._cases = getattr(self, "_cases", []), []
        self._numbers: dict[tuple[str, str], int] = {}
        for table in ("case_findings", "case_sanctions"):
            self._numbers.update({(table, c): 0 for c in cases})
            for r in rows.all_where_in(f"SELECT case_id, COUNT(*) AS n FROM {{{table}}}", "case_id", cases,
                                       " GROUP BY case_id"):  # fmt: skip
                self._numbers[(table, r["case_id"])] = int(r["n"])
        self._links: list[tuple[str, str, int, str]] = []
        self._sanctions: list[tuple[str, int, str, str, str, str]] = []

    def before_commit(self, rows: Rows) -> None:
        insert_rows(rows, "case_findings", LINK_COLUMNS, self._links)
        insert_rows(rows, "case_sanctions", SANCTION_COLUMNS, self._sanctions)
        self._links, self._sanctions = [], []

    def _next(self, rows: Rows, table: str, case_id: str) -> int:
        """The number of the case's next row in ``table``."""
        number = self._numbers.get((table, case_id))
        if number is None:  # a case the batch did not announce
            number = int(rows.one(f"SELECT COUNT(*) AS n FROM {{{table}}} WHERE case_id = ?", (case_id,))["n"])
        self._numbers[(table, case_id)] = number + 1
        return number + 1

    @singledispatchmethod
    def apply(self, event: Any, rows: Rows) -> None:
        """Other events change nothing here."""

    @apply.register
    def _(self, e: Case.Opened, rows: Rows) -> None:
        at = e.timestamp.isoformat()
        rows.execute(
            "INSERT INTO {cases} (case_id, county_id, subject_unit_id, summary, status, opened_at, opened_by,"
            " updated_at) VALUES (?, ?, ?, ?, 'open', ?, ?, ?)",
            (
                str(e.originator_id), str(e.county_id), str(e.subject_unit_id) if e.subject_unit_id else None,
                e.summary, at, str(e.actor_id), at,
            ),
        )  # fmt: skip
        self._link(rows, str(e.originator_id), e.finding_ids, at)

    @apply.register
    def _(self, e: Case.FindingsLinked, rows: Rows) -> None:
        at = e.timestamp.isoformat()
        self._link(rows, str(e.originator_id), e.finding_ids, at)
        self._touch(rows, str(e.originator_id), at)

    @apply.register
    def _(self, e: Case.HearingRecorded, rows: Rows) -> None:
        rows.execute(
            "UPDATE {cases} SET hearings = hearings + 1, updated_at = ? WHERE case_id = ?",
            (e.timestamp.isoformat(), str(e.originator_id)),
        )

    @apply.register
    def _(self, e: Case.SanctionRecorded, rows: Rows) -> None:
        case_id, at = str(e.originator_id), e.timestamp.isoformat()
        self._sanctions.append((case_id, self._next(rows, "case_sanctions", case_id), e.sanction, e.subject, e.note, at))
        self._touch(rows, case_id, at)

    @apply.register
    def _(self, e: Case.Closed, rows: Rows) -> None:
        at = e.timestamp.isoformat()
        rows.execute(
            "UPDATE {cases} SET status = 'closed', conclusion = ?, closed_at = ?, updated_at = ? WHERE case_id = ?",
            (e.conclusion, at, at, str(e.originator_id)),
        )

    def _link(self, rows: Rows, case_id: str, finding_ids: Any, at: str) -> None:
        for finding_id in finding_ids:
            self._links.append((case_id, str(finding_id), self._next(rows, "case_findings", case_id), at))

    @staticmethod
    def _touch(rows: Rows, case_id: str, at: str) -> None:
        rows.execute("UPDATE {cases} SET updated_at = ? WHERE case_id = ?", (at, case_id))


class CaseQuery:
    def __init__(self, view: SqlView):
        self.view = view

    def listing(self, county_id: str, status: str | None = None) -> list[dict[str, Any]]:
        """The county's cases, newest first, each with its findings' ids and its sanctions."""
        where, params = " WHERE county_id = ?", [county_id]
        if status:
            where += " AND status = ?"
            params.append(status)
        with self.view.reading() as rows:
            found = [dict(r) for r in rows.all(f"SELECT * FROM {{cases}}{where} ORDER BY opened_at DESC, case_id", params)]
            links = rows.all(
                "SELECT l.case_id, l.finding_id FROM {case_findings} l JOIN {cases} c ON c.case_id = l.case_id"
                " WHERE c.county_id = ? ORDER BY l.case_id, l.number",
                (county_id,),
            )
            sanctions = rows.all(
                "SELECT s.* FROM {case_sanctions} s JOIN {cases} c ON c.case_id = s.case_id"
                " WHERE c.county_id = ? ORDER BY s.case_id, s.number",
                (county_id,),
            )
        by_case = {row["case_id"]: {**row, "finding_ids": [], "sanctions": []} for row in found}
        for link in links:
            if link["case_id"] in by_case:
                by_case[link["case_id"]]["finding_ids"].append(link["finding_id"])
        for sanction in sanctions:
            if sanction["case_id"] in by_case:
                by_case[sanction["case_id"]]["sanctions"].append(dict(sanction))
        return list(by_case.values())

    def case(self, case_id: str) -> dict[str, Any] | None:
        with self.view.reading() as rows:
            row = rows.one("SELECT * FROM {cases} WHERE case_id = ?", (case_id,))
            if row is None:
                return None
            links = rows.all("SELECT finding_id FROM {case_findings} WHERE case_id = ? ORDER BY number", (case_id,))
            sanctions = rows.all("SELECT * FROM {case_sanctions} WHERE case_id = ? ORDER BY number", (case_id,))
        return {
            **dict(row),
            "finding_ids": [link["finding_id"] for link in links],
            "sanctions": [dict(s) for s in sanctions],
        }

    def cases_of_findings(self, finding_ids: list[str]) -> dict[str, list[str]]:
        """For each finding, the cases that list it (findings in no case are left out)."""
        if not finding_ids:
            return {}
        with self.view.reading() as rows:
            found = rows.all(
                "SELECT finding_id, case_id FROM {case_findings}"
                f" WHERE finding_id IN ({', '.join('?' for _ in finding_ids)}) ORDER BY finding_id, linked_at, case_id",
                list(finding_ids),
            )
        result: dict[str, list[str]] = {}
        for row in found:
            result.setdefault(row["finding_id"], []).append(row["case_id"])
        return result

    def all_rows(self) -> list[dict[str, Any]]:
        """Every stored row of every table, in a fixed order: what a rebuild must reproduce."""
        keys = {"cases": "case_id", "case_findings": "case_id, number", "case_sanctions": "case_id, number"}
        return self.view.dump_tables(keys)
