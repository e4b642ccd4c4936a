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
from projections.views import BufferedTable, Rows, SqlView


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


#: The ledger's tables as a batch holds them (see ``BufferedTable``).
USER_COLUMNS = ("user_id", "county_id", "unit_id", "name", "login", "roles")
DEDUCTION_COLUMNS = (
    "county_id", "finding_id", "number", "unit_id", "points", "rule_id", "rulebook_version", "period", "reason",
    "reversed",
)  # fmt: skip


class LedgerProjection(DayStamped):
    """Turns unit, user and finding events into ledger rows, keeping each unit's
    and finding's row as it stood at the end of every day it changed.

    A batch's rows are read once before it is applied (``prefetch``), changed in
    memory event by event, and written once when it commits."""

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
        self._unit_rows = BufferedTable("ledger_units", ("unit_id",), UNIT_HISTORY.columns)
        self._user_rows = BufferedTable("ledger_users", ("user_id",), USER_COLUMNS)
        self._finding_rows = BufferedTable("ledger_findings", ("finding_id",), FINDING_HISTORY.columns)
        self._deduction_rows = BufferedTable("ledger_deductions", ("finding_id", "number"), DEDUCTION_COLUMNS)
        self._cadre_rows = BufferedTable(
            "ledger_finding_cadres", ("user_id", "finding_id"), ("county_id", "user_id", "finding_id")
        )
        self._tables = (self._unit_rows, self._user_rows, self._finding_rows, self._deduction_rows, self._cadre_rows)
        self._units = DayHistory(UNIT_HISTORY, self._unit_rows)
        self._findings = DayHistory(FINDING_HISTORY, self._finding_rows)

    def start_batch(self, rows: Rows) -> None:
        super().start_batch(rows)
        for table in self._tables:
            table.reset()
        self._units.reset()
        self._findings.reset()

    def prefetch(self, events: Sequence[Any], rows: Rows) -> None:
        units: list[str] = []
        users: list[str] = []
        findings: list[str] = []
        deductions: list[str] = []
        for e in events:
            if isinstance(e, Finding.Event):
                if isinstance(e, Finding.Filed):
                    units.extend(u for u in map(str, e.unit_path) if u not in self._kinds)
                    continue
                findings.append(str(e.originator_id))
                if isinstance(e, (Finding.PointsDeducted, Finding.DeductionReversed)):
                    deductions.append(str(e.originator_id))
            elif isinstance(e, Unit.Event):
                if not isinstance(e, Unit.Registered):
                    units.append(str(e.originator_id))
            elif isinstance(e, (User.RoleGranted, User.RoleRevoked)):
                users.append(str(e.originator_id))
        self._unit_rows.load(rows, units)
        self._user_rows.load(rows, users)
        self._finding_rows.load(rows, findings)
        self._deduction_rows.load(rows, deductions)

    def before_commit(self, rows: Rows) -> None:
        for table in self._tables:
            table.flush(rows)
        self._units.flush(rows)
        self._findings.flush(rows)
        super().before_commit(rows)

    @singledispatchmethod
    def apply(self, event: Any, rows: Rows) -> None:
        """Events of no interest to the ledger change nothing."""

    # Organisation
    @apply.register
    def _(self, e: Unit.Registered, rows: Rows) -> None:
        unit_id = str(e.originator_id)
        self._kinds[unit_id] = e.kind
        self._units.touching(unit_id, self.day)
        self._unit_rows.add({
            "unit_id": unit_id, "county_id": str(e.county_id), "name": e.name, "kind": e.kind,
            "parent_id": _str(e.parent_id), "code": e.code, "retired": 0,
        })  # fmt: skip

    def _change_unit(self, e: Any, column: str, value: Any) -> None:
        unit_id = str(e.originator_id)
        self._units.touching(unit_id, self.day)
        row = self._unit_rows.get(unit_id)
        if row is not None:
            row[column] = value
            self._unit_rows.changed(unit_id)

    @apply.register
    def _(self, e: Unit.Renamed, rows: Rows) -> None:
        self._change_unit(e, "name", e.name)

    @apply.register
    def _(self, e: Unit.Moved, rows: Rows) -> None:
        self._change_unit(e, "parent_id", str(e.parent_id))

    @apply.register
    def _(self, e: Unit.Retired, rows: Rows) -> None:
        self._change_unit(e, "retired", 1)

    @apply.register
    def _(self, e: User.Registered, rows: Rows) -> None:
        self._user_rows.add({
            "user_id": str(e.originator_id), "county_id": str(e.county_id), "unit_id": str(e.unit_id),
            "name": e.name, "login": e.login, "roles": ",".join(sorted(e.roles)),
        })  # fmt: skip

    @apply.register
    def _(self, e: User.RoleGranted, rows: Rows) -> None:
        self._change_roles(e.originator_id, add=e.role)

    @apply.register
    def _(self, e: User.RoleRevoked, rows: Rows) -> None:
        self._change_roles(e.originator_id, remove=e.role)

    def _change_roles(self, user_id: Any, add: str = "", remove: str = "") -> None:
        row = self._user_rows.get(str(user_id))
        if row is None:
            raise LookupError(f"ledger: no user {user_id} to change the roles of")
        roles = set(filter(None, row["roles"].split(","))) | ({add} if add else set())
        roles.discard(remove)
        row["roles"] = ",".join(sorted(roles))
        self._user_rows.changed(str(user_id))

    # Findings
    @apply.register
    def _(self, e: Finding.Filed, rows: Rows) -> None:
        finding_id = str(e.originator_id)
        self._findings.touching(finding_id, self.day)
        path = [str(unit_id) for unit_id in e.unit_path]
        kinds = self._unit_kinds(path)
        zone_id = next((u for u in path if kinds.get(u) == "zone"), None)
        town_id = next((u for u in path if kinds.get(u) == "town"), None)
        at = e.timestamp.isoformat()
        self._finding_rows.add({
            "finding_id": finding_id, "county_id": str(e.county_id), "inspection_id": _str(e.inspection_id),
            "unit_id": str(e.unit_id), "zone_id": zone_id, "town_id": town_id, "category": e.category,
            "severity": e.severity, "source": e.source, "check_item": e.check_item, "description": e.description,
            "household_masked": mask_household_number(e.household_no),
            "cadre_ids": json.dumps([str(c) for c in e.cadre_ids]), "is_repeat": 1 if e.repeat_of else 0,
            "filed_on": e.filed_on, "filed_at": at, "status": "filed", "deadline": None, "deadline_basis": None,
            "missed_count": 0, "rejections": 0, "points": "0", "pending_extension": None, "escalated": 0,
            "closed_on": None, "updated_at": at, "version": e.originator_version,
        })  # fmt: skip
        for cadre_id in dict.fromkeys(e.cadre_ids):
            self._cadre_rows.add({"county_id": str(e.county_id), "user_id": str(cadre_id), "finding_id": finding_id})

    def _unit_kinds(self, unit_ids: list[str]) -> dict[str, str]:
        """A unit's kind never changes once registered, so it is safe to remember
        (even across a rebuild); those not remembered were loaded by ``prefetch``."""
        for u in unit_ids:
            if u not in self._kinds:
                row = self._unit_rows.get(u)
                if row is not None:
                    self._kinds[u] = row["kind"]
        return {u: self._kinds[u] for u in unit_ids if u in self._kinds}

    def _update(self, e: Any, **changes: Any) -> dict[str, Any] | None:
        """Change a finding's row (an UPDATE matching no row changes nothing)."""
        finding_id = str(e.originator_id)
        self._findings.touching(finding_id, self.day)
        row = self._finding_rows.get(finding_id)
        if row is None:
            return None
        row.update(changes)
        row["updated_at"] = e.timestamp.isoformat()
        row["version"] = e.originator_version
        self._finding_rows.changed(finding_id)
        return row

    @apply.register
    def _(self, e: Finding.NoticeIssued, rows: Rows) -> None:
        self._update(e, status="open", deadline=e.deadline, deadline_basis=e.deadline_basis)

    @apply.register
    def _(self, e: Finding.NoticeAcknowledged, rows: Rows) -> None:
        self._update(e, status="acknowledged")

    @apply.register
    def _(self, e: Finding.ExtensionRequested, rows: Rows) -> None:
        self._update(e, pending_extension=e.requested_deadline)

    @apply.register
    def _(self, e: Finding.ExtensionGranted, rows: Rows) -> None:
        self._update(e, pending_extension=None, deadline=e.deadline, deadline_basis="extension")

    @apply.register
    def _(self, e: Finding.ExtensionDenied, rows: Rows) -> None:
        self._update(e, pending_extension=None)

    @apply.register
    def _(self, e: Finding.RectificationSubmitted, rows: Rows) -> None:
        self._update(e, status="submitted")

    @apply.register
    def _(self, e: Finding.RectificationAccepted, rows: Rows) -> None:
        self._update(e, status="closed", closed_on=local_date(e.timestamp).isoformat())

    @apply.register
    def _(self, e: Finding.RectificationRejected, rows: Rows) -> None:
        row = self._update(e, status="open", deadline=e.deadline, deadline_basis=e.deadline_basis)
        if row is not None:
            row["rejections"] += 1

    @apply.register
    def _(self, e: Finding.DeadlineMissed, rows: Rows) -> None:
        row = self._update(e)
        if row is not None:
            row["missed_count"] += 1

    @apply.register
    def _(self, e: Finding.PointsDeducted, rows: Rows) -> None:
        finding_id = str(e.originator_id)
        finding = self._finding_rows.get(finding_id)
        if finding is not None:  # INSERT ... SELECT from the finding's row: nothing without it
            self._deduction_rows.add({
                "county_id": finding["county_id"], "finding_id": finding_id, "number": e.deduction_number,
                "unit_id": str(e.unit_id), "points": str(e.points), "rule_id": e.rule_id,
                "rulebook_version": e.rulebook_version, "period": e.period, "reason": e.reason, "reversed": 0,
            })  # fmt: skip
        self._update(e, points=self._points(finding_id))

    @apply.register
    def _(self, e: Finding.DeductionReversed, rows: Rows) -> None:
        key = (str(e.originator_id), e.deduction_number)
        deduction = self._deduction_rows.get(key)
        if deduction is not None:
            deduction["reversed"] = 1
            self._deduction_rows.changed(key)
        self._update(e, points=self._points(str(e.originator_id)))

    def _points(self, finding_id: str) -> str:
        found = [r for r in self._deduction_rows.of_group(finding_id) if not r["reversed"]]
        return str(sum((Decimal(r["points"]) for r in found), Decimal(0)))

    @apply.register
    def _(self, e: Finding.EscalatedToDiscipline, rows: Rows) -> None:
        self._update(e, escalated=1)

    @apply.register
    def _(self, e: Finding.Withdrawn, rows: Rows) -> None:
        self._update(e, status="withdrawn", pending_extension=None)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
