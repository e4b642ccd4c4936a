"""The live problem ledger (问题台账): one row per finding, kept by following
the event log. It also keeps the unit and user names the pages show, so it can
be dropped and rebuilt from the events alone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.utils import get_topic

from domain.events import local_date
from domain.finding import Finding, mask_household_number
from domain.org import Unit, User
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView
from projections.days import DayHistory, DayStamped, HistoryTable, days_table_schema
from projections.views import Rows, SqlView


#: The live tables that can also be read as they stood at the end of a past day.
UNIT_HISTORY = HistoryTable(
    "ledger_units",
    "unit_id",
    (
        ("unit_id", "TEXT NOT NULL"), ("county_id", "TEXT NOT NULL"), ("name", "TEXT NOT NULL"),
        ("kind", "TEXT NOT NULL"), ("parent_id", "TEXT"), ("code", "TEXT NOT NULL"),
        ("retired", "INTEGER NOT NULL DEFAULT 0"),
    ),
)  # fmt: skip
FINDING_HISTORY = HistoryTable(
    "ledger_findings",
    "finding_id",
    (
        ("finding_id", "TEXT NOT NULL"), ("county_id", "TEXT NOT NULL"), ("inspection_id", "TEXT"),
        ("unit_id", "TEXT NOT NULL"), ("zone_id", "TEXT"), ("town_id", "TEXT"), ("category", "TEXT NOT NULL"),
        ("severity", "TEXT NOT NULL"), ("source", "TEXT NOT NULL"), ("check_item", "TEXT NOT NULL"),
        ("description", "TEXT NOT NULL"), ("household_masked", "TEXT NOT NULL"), ("cadre_ids", "TEXT NOT NULL"),
        ("is_repeat", "INTEGER NOT NULL"), ("filed_on", "TEXT NOT NULL"), ("filed_at", "TEXT NOT NULL"),
        ("status", "TEXT NOT NULL"), ("deadline", "TEXT"), ("deadline_basis", "TEXT"),
        ("missed_count", "INTEGER NOT NULL DEFAULT 0"), ("rejections", "INTEGER NOT NULL DEFAULT 0"),
        ("points", "TEXT NOT NULL DEFAULT '0'"), ("pending_extension", "TEXT"),
        ("escalated", "INTEGER NOT NULL DEFAULT 0"), ("closed_on", "TEXT"), ("updated_at", "TEXT NOT NULL"),
        ("version", "INTEGER NOT NULL"),
    ),
)  # fmt: skip


class LedgerSchema(SqlView):
    #: 2: end-of-day copies of units and findings (``?as_of=``).
    schema_version = 2
    table_names = (
        "ledger_units", "ledger_users", "ledger_findings", "ledger_deductions", "ledger_finding_cadres",
        "ledger_units_days", "ledger_findings_days", "ledger_days",
    )  # fmt: skip
    schema_statements = (
        *UNIT_HISTORY.schema(),
        "CREATE TABLE IF NOT EXISTS {ledger_users} ("
        " user_id TEXT PRIMARY KEY, county_id TEXT NOT NULL, unit_id TEXT NOT NULL, name TEXT NOT NULL,"
        " login TEXT NOT NULL, roles TEXT NOT NULL)",
        *FINDING_HISTORY.schema(),
        "CREATE INDEX IF NOT EXISTS ledger_findings_county_status ON {ledger_findings} (county_id, status)",
        "CREATE INDEX IF NOT EXISTS ledger_findings_town ON {ledger_findings} (town_id, status)",
        "CREATE INDEX IF NOT EXISTS ledger_findings_zone ON {ledger_findings} (zone_id, status)",
        "CREATE INDEX IF NOT EXISTS ledger_findings_unit ON {ledger_findings} (unit_id, status)",
        "CREATE INDEX IF NOT EXISTS ledger_findings_filed ON {ledger_findings} (county_id, filed_at)",
        "CREATE TABLE IF NOT EXISTS {ledger_deductions} ("
        " county_id TEXT NOT NULL, finding_id TEXT NOT NULL, number INTEGER NOT NULL, unit_id TEXT NOT NULL, points TEXT NOT NULL,"
        " rule_id TEXT NOT NULL, rulebook_version INTEGER NOT NULL, period TEXT NOT NULL, reason TEXT NOT NULL,"
        " reversed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (finding_id, number))",
        # Which findings name which responsible cadre (帮扶责任人): what a cadre sees.
        "CREATE TABLE IF NOT EXISTS {ledger_finding_cadres} ("
        " county_id TEXT NOT NULL, user_id TEXT NOT NULL, finding_id TEXT NOT NULL,"
        " PRIMARY KEY (user_id, finding_id))",
        "CREATE INDEX IF NOT EXISTS ledger_units_parent ON {ledger_units} (parent_id)",
        days_table_schema("ledger_days"),
    )


class LedgerSQLiteView(LedgerSchema, SQLiteView):
    pass


class LedgerPostgresView(LedgerSchema, PostgresView):
    pass


class LedgerProjection(DayStamped):
    """Turns unit, user and finding events into ledger rows, keeping each unit's
    and finding's row as it stood at the end of every day it changed."""

    name = "ledger"
    days_table = "ledger_days"
    #: Only these aggregates' events matter; the follower asks the store for them alone.
    topics = tuple(
        get_topic(cls)
        for cls in (
            Unit.Registered, Unit.Renamed, Unit.Moved, Unit.Retired,
            User.Registered, User.RoleGranted, User.RoleRevoked,
            Finding.Filed, Finding.NoticeIssued, Finding.NoticeAcknowledged,
            Finding.ExtensionRequested, Finding.ExtensionGranted, Finding.ExtensionDenied,
            Finding.RectificationSubmitted, Finding.RectificationAccepted, Finding.RectificationRejected,
            Finding.DeadlineMissed, Finding.PointsDeducted, Finding.DeductionReversed,
            Finding.EscalatedToDiscipline, Finding.Withdrawn,
        )
    )  # fmt: skip

    def __init__(self, view: SqlView):
        super().__init__(view)
        self._kinds: dict[str, str] = {}
        self._units = DayHistory(UNIT_HISTORY)
        self._findings = DayHistory(FINDING_HISTORY)

    def start_batch(self, rows: Rows) -> None:
        super().start_batch(rows)
        self._units.reset()
        self._findings.reset()

    def before_commit(self, rows: Rows) -> None:
        self._units.flush(rows)
        self._findings.flush(rows)
        super().before_commit(rows)

    @singledispatchmethod
    def apply(self, event: Any, rows: Rows) -> None:
        """Events of no interest to the ledger change nothing."""

    # Organisation
    @apply.register
    def _(self, e: Unit.Registered, rows: Rows) -> None:
        self._kinds[str(e.originator_id)] = e.kind
        self._units.touching(rows, str(e.originator_id), self.day)
        rows.execute(
            "INSERT INTO {ledger_units} (unit_id, county_id, name, kind, parent_id, code, retired)"
            " VALUES (?, ?, ?, ?, ?, ?, 0)",
            (str(e.originator_id), str(e.county_id), e.name, e.kind, _str(e.parent_id), e.code),
        )

    @apply.register
    def _(self, e: Unit.Renamed, rows: Rows) -> None:
        self._units.touching(rows, str(e.originator_id), self.day)
        rows.execute("UPDATE {ledger_units} SET name = ? WHERE unit_id = ?", (e.name, str(e.originator_id)))

    @apply.register
    def _(self, e: Unit.Moved, rows: Rows) -> None:
        self._units.touching(rows, str(e.originator_id), self.day)
        rows.execute(
            "UPDATE {ledger_units} SET parent_id = ? WHERE unit_id = ?", (str(e.parent_id), str(e.originator_id))
        )

    @apply.register
    def _(self, e: Unit.Retired, rows: Rows) -> None:
        self._units.touching(rows, str(e.originator_id), self.day)
        rows.execute("UPDATE {ledger_units} SET retired = 1 WHERE unit_id = ?", (str(e.originator_id),))

    @apply.register
    def _(self, e: User.Registered, rows: Rows) -> None:
        rows.execute(
            "INSERT INTO {ledger_users} (user_id, county_id, unit_id, name, login, roles) VALUES (?, ?, ?, ?, ?, ?)",
            (str(e.originator_id), str(e.county_id), str(e.unit_id), e.name, e.login, ",".join(sorted(e.roles))),
        )

    @apply.register
    def _(self, e: User.RoleGranted, rows: Rows) -> None:
        self._change_roles(rows, e.originator_id, add=e.role)

    @apply.register
    def _(self, e: User.RoleRevoked, rows: Rows) -> None:
        self._change_roles(rows, e.originator_id, remove=e.role)

    def _change_roles(self, rows: Rows, user_id: Any, add: str = "", remove: str = "") -> None:
        row = rows.one("SELECT roles FROM {ledger_users} WHERE user_id = ?", (str(user_id),))
        roles = set(filter(None, row["roles"].split(","))) | ({add} if add else set())
        roles.discard(remove)
        rows.execute("UPDATE {ledger_users} SET roles = ? WHERE user_id = ?", (",".join(sorted(roles)), str(user_id)))

    # Findings
    @apply.register
    def _(self, e: Finding.Filed, rows: Rows) -> None:
        self._findings.touching(rows, str(e.originator_id), self.day)
        path = [str(unit_id) for unit_id in e.unit_path]
        kinds = self._unit_kinds(rows, path)
        zone_id = next((u for u in path if kinds.get(u) == "zone"), None)
        town_id = next((u for u in path if kinds.get(u) == "town"), None)
        rows.execute(
            "INSERT INTO {ledger_findings} (finding_id, county_id, inspection_id, unit_id, zone_id, town_id,"
            " category, severity, source, check_item, description, household_masked, cadre_ids, is_repeat,"
            " filed_on, filed_at, status, updated_at, version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'filed', ?, ?)",
            (
                str(e.originator_id), str(e.county_id), _str(e.inspection_id), str(e.unit_id), zone_id, town_id,
                e.category, e.severity, e.source, e.check_item, e.description,
                mask_household_number(e.household_no), json.dumps([str(c) for c in e.cadre_ids]),
                1 if e.repeat_of else 0, e.filed_on, e.timestamp.isoformat(),
                e.timestamp.isoformat(), e.originator_version,
            ),
        )  # fmt: skip
        for cadre_id in dict.fromkeys(e.cadre_ids):
            rows.execute(
                "INSERT INTO {ledger_finding_cadres} (county_id, user_id, finding_id) VALUES (?, ?, ?)",
                (str(e.county_id), str(cadre_id), str(e.originator_id)),
            )

    def _unit_kinds(self, rows: Rows, unit_ids: list[str]) -> dict[str, str]:
        """A unit's kind never changes once registered, so it is safe to remember
        (even across a rebuild); asking the view for it each time costs a round trip."""
        missing = [u for u in unit_ids if u not in self._kinds]
        if missing:
            for r in rows.all(
                f"SELECT unit_id, kind FROM {{ledger_units}} WHERE unit_id IN ({', '.join('?' for _ in missing)})",
                missing,
            ):
                self._kinds[r["unit_id"]] = r["kind"]
        return {u: self._kinds[u] for u in unit_ids if u in self._kinds}

    def _update(self, rows: Rows, e: Any, assignments: str = "", params: Sequence[Any] = ()) -> None:
        self._findings.touching(rows, str(e.originator_id), self.day)
        prefix = f"{assignments}, " if assignments else ""
        rows.execute(
            f"UPDATE {{ledger_findings}} SET {prefix}updated_at = ?, version = ? WHERE finding_id = ?",
            (*params, e.timestamp.isoformat(), e.originator_version, str(e.originator_id)),
        )

    @apply.register
    def _(self, e: Finding.NoticeIssued, rows: Rows) -> None:
        self._update(rows, e, "status = 'open', deadline = ?, deadline_basis = ?", (e.deadline, e.deadline_basis))

    @apply.register
    def _(self, e: Finding.NoticeAcknowledged, rows: Rows) -> None:
        self._update(rows, e, "status = 'acknowledged'")

    @apply.register
    def _(self, e: Finding.ExtensionRequested, rows: Rows) -> None:
        self._update(rows, e, "pending_extension = ?", (e.requested_deadline,))

    @apply.register
    def _(self, e: Finding.ExtensionGranted, rows: Rows) -> None:
        self._update(rows, e, "pending_extension = NULL, deadline = ?, deadline_basis = 'extension'", (e.deadline,))

    @apply.register
    def _(self, e: Finding.ExtensionDenied, rows: Rows) -> None:
        self._update(rows, e, "pending_extension = NULL")

    @apply.register
    def _(self, e: Finding.RectificationSubmitted, rows: Rows) -> None:
        self._update(rows, e, "status = 'submitted'")

    @apply.register
    def _(self, e: Finding.RectificationAccepted, rows: Rows) -> None:
        self._update(rows, e, "status = 'closed', closed_on = ?", (local_date(e.timestamp).isoformat(),))

    @apply.register
    def _(self, e: Finding.RectificationRejected, rows: Rows) -> None:
        self._update(
            rows, e, "status = 'open', rejections = rejections + 1, deadline = ?, deadline_basis = ?",
            (e.deadline, e.deadline_basis),
        )  # fmt: skip

    @apply.register
    def _(self, e: Finding.DeadlineMissed, rows: Rows) -> None:
        self._update(rows, e, "missed_count = missed_count + 1")

    @apply.register
    def _(self, e: Finding.PointsDeducted, rows: Rows) -> None:
        rows.execute(
            "INSERT INTO {ledger_deductions} (county_id, finding_id, number, unit_id, points, rule_id,"
            " rulebook_version, period, reason, reversed)"
            " SELECT county_id, ?, ?, ?, ?, ?, ?, ?, ?, 0 FROM {ledger_findings} WHERE finding_id = ?",
            (
                str(e.originator_id), e.deduction_number, str(e.unit_id), str(e.points), e.rule_id,
                e.rulebook_version, e.period, e.reason, str(e.originator_id),
            ),
        )  # fmt: skip
        self._update(rows, e, "points = ?", (self._points(rows, e.originator_id),))

    @apply.register
    def _(self, e: Finding.DeductionReversed, rows: Rows) -> None:
        rows.execute(
            "UPDATE {ledger_deductions} SET reversed = 1 WHERE finding_id = ? AND number = ?",
            (str(e.originator_id), e.deduction_number),
        )
        self._update(rows, e, "points = ?", (self._points(rows, e.originator_id),))

    @staticmethod
    def _points(rows: Rows, finding_id: Any) -> str:
        found = rows.all(
            "SELECT points FROM {ledger_deductions} WHERE finding_id = ? AND reversed = 0", (str(finding_id),)
        )
        return str(sum((Decimal(r["points"]) for r in found), Decimal(0)))

    @apply.register
    def _(self, e: Finding.EscalatedToDiscipline, rows: Rows) -> None:
        self._update(rows, e, "escalated = 1")

    @apply.register
    def _(self, e: Finding.Withdrawn, rows: Rows) -> None:
        self._update(rows, e, "status = 'withdrawn', pending_extension = NULL")


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
