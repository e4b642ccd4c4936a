"""The efficiency-score view (效能考评): the facts scores, rates and rankings are
computed from, each with the day it was recorded, so every figure can also be
computed as it stood at the end of any past day.

- ``score_units``: the organisation (with end-of-day copies: names and parents
  change).
- ``score_rulebooks``: every rulebook version, with its base score.
- ``score_deductions``: every deduction (from findings and circulars) with its
  rule, rulebook version, points and reason, and its reversal if any.
- ``score_findings``: when each finding was filed, closed (销号) or withdrawn.
- ``score_deadlines``: every deadline that came due, met (rectification
  submitted by it and not rejected) or missed: the on-time rate (按期整改率)
  is met / due.

Rows hold facts, never running totals: the query side (``scores_query``) adds
them up for a period and a day, so a rebuild gives the same rows and a past day
needs no other table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.utils import get_topic

from domain.circular import Circular
from domain.events import local_date
from domain.finding import Finding
from domain.org import Unit
from domain.rulebook import Rulebook
from domain.rules.rulebook import DEFAULT_RULES
from projections.days import DayHistory, DayStamped, HistoryTable, days_table_schema
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView
from projections.views import BufferedTable, Rows, SqlView

FINDING_SOURCE = "finding"
CIRCULAR_SOURCE = "circular"
MET = "met"
MISSED = "missed"

SCORE_UNITS = HistoryTable(
    "score_units",
    "unit_id",
    (
        ("unit_id", "TEXT NOT NULL"), ("county_id", "TEXT NOT NULL"), ("name", "TEXT NOT NULL"),
        ("kind", "TEXT NOT NULL"), ("parent_id", "TEXT"), ("retired", "INTEGER NOT NULL DEFAULT 0"),
    ),
)  # fmt: skip


class ScoreSchema(SqlView):
    table_names = (
        "score_units", "score_units_days", "score_rulebooks", "score_deductions", "score_findings",
        "score_deadlines", "score_days",
    )  # fmt: skip
    schema_statements = (
        *SCORE_UNITS.schema(),
        # A county's organisation as it stood (the ranking page) without reading every county's.
        "CREATE INDEX IF NOT EXISTS score_units_days_county ON {score_units_days} (county_id, day)",
        "CREATE TABLE IF NOT EXISTS {score_rulebooks} ("
        " county_id TEXT NOT NULL, rulebook_id TEXT NOT NULL, version INTEGER NOT NULL, in_force_from TEXT NOT NULL,"
        " base_score TEXT NOT NULL, period_kind TEXT NOT NULL, day TEXT NOT NULL,"
        " PRIMARY KEY (county_id, version))",
        "CREATE TABLE IF NOT EXISTS {score_deductions} ("
        " county_id TEXT NOT NULL, source TEXT NOT NULL, source_id TEXT NOT NULL, number INTEGER NOT NULL,"
        " unit_id TEXT NOT NULL, points TEXT NOT NULL, rule_id TEXT NOT NULL, rulebook_version INTEGER NOT NULL,"
        " period TEXT NOT NULL, reason TEXT NOT NULL, occurred_on TEXT NOT NULL, day TEXT NOT NULL,"
        " reversed_day TEXT, reversal_reason TEXT, PRIMARY KEY (source_id, number))",
        "CREATE INDEX IF NOT EXISTS score_deductions_county ON {score_deductions} (county_id, occurred_on)",
        "CREATE INDEX IF NOT EXISTS score_deductions_unit ON {score_deductions} (unit_id, occurred_on)",
        "CREATE TABLE IF NOT EXISTS {score_findings} ("
        " finding_id TEXT PRIMARY KEY, county_id TEXT NOT NULL, unit_id TEXT NOT NULL, category TEXT NOT NULL,"
        " filed_on TEXT NOT NULL, filed_day TEXT NOT NULL, deadline TEXT, deadline_number INTEGER NOT NULL,"
        " closed_day TEXT, withdrawn_day TEXT)",
        "CREATE INDEX IF NOT EXISTS score_findings_county ON {score_findings} (county_id, filed_on)",
        "CREATE TABLE IF NOT EXISTS {score_deadlines} ("
        " finding_id TEXT NOT NULL, deadline_number INTEGER NOT NULL, county_id TEXT NOT NULL,"
        " unit_id TEXT NOT NULL, deadline TEXT NOT NULL, outcome TEXT NOT NULL, decided_day TEXT NOT NULL,"
        " rejected_day TEXT, PRIMARY KEY (finding_id, deadline_number))",
        "CREATE INDEX IF NOT EXISTS score_deadlines_county ON {score_deadlines} (county_id, deadline)",
        days_table_schema("score_days"),
    )


class ScoreSQLiteView(ScoreSchema, SQLiteView):
    pass


class ScorePostgresView(ScoreSchema, PostgresView):
    pass


FINDING_COLUMNS = (
    "finding_id", "county_id", "unit_id", "category", "filed_on", "filed_day", "deadline", "deadline_number",
    "closed_day", "withdrawn_day",
)  # fmt: skip
DEADLINE_COLUMNS = (
    "finding_id", "deadline_number", "county_id", "unit_id", "deadline", "outcome", "decided_day", "rejected_day",
)  # fmt: skip
DEDUCTION_COLUMNS = (
    "county_id", "source", "source_id", "number", "unit_id", "points", "rule_id", "rulebook_version", "period",
    "reason", "occurred_on", "day", "reversed_day", "reversal_reason",
)  # fmt: skip


class ScoreProjection(DayStamped):
    """A batch's rows are read once before it is applied (``prefetch``), changed in
    memory event by event, and written once when it commits."""

    name = "scores"
    days_table = "score_days"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Unit.Registered, Unit.Renamed, Unit.Moved, Unit.Retired,
            Rulebook.FirstAdopted, Rulebook.Adopted,
            Finding.Filed, Finding.NoticeIssued, Finding.ExtensionGranted, Finding.RectificationRejected,
            Finding.RectificationSubmitted, Finding.RectificationAccepted, Finding.DeadlineMissed,
            Finding.PointsDeducted, Finding.DeductionReversed, Finding.Withdrawn,
            Circular.PointsDeducted,
        )
    )  # fmt: skip

    def __init__(self, view: SqlView):
        super().__init__(view)
        self._unit_rows = BufferedTable("score_units", ("unit_id",), SCORE_UNITS.columns)
        self._finding_rows = BufferedTable("score_findings", ("finding_id",), FINDING_COLUMNS)
        self._deadline_rows = BufferedTable("score_deadlines", ("finding_id", "deadline_number"), DEADLINE_COLUMNS)
        self._deduction_rows = BufferedTable("score_deductions", ("source_id", "number"), DEDUCTION_COLUMNS)
        self._tables = (self._unit_rows, self._finding_rows, self._deadline_rows, self._deduction_rows)
        self._units = DayHistory(SCORE_UNITS, self._unit_rows)

    def start_batch(self, rows: Rows) -> None:
        super().start_batch(rows)
        for table in self._tables:
            table.reset()
        self._units.reset()

    def prefetch(self, events: Sequence[Any], rows: Rows) -> None:
        units: list[str] = []
        findings: list[str] = []
        deadlines: list[str] = []
        deductions: list[str] = []
        for e in events:
            if isinstance(e, Finding.Event):
                if isinstance(e, Finding.Filed):
                    continue
                findings.append(str(e.originator_id))
                if isinstance(e, (Finding.RectificationSubmitted, Finding.DeadlineMissed, Finding.RectificationRejected)):
                    deadlines.append(str(e.originator_id))
                elif isinstance(e, (Finding.PointsDeducted, Finding.DeductionReversed)):
                    deductions.append(str(e.originator_id))
            elif isinstance(e, Unit.Event):
                if not isinstance(e, Unit.Registered):
                    units.append(str(e.originator_id))
            elif isinstance(e, Circular.PointsDeducted):
                units.append(str(e.unit_id))
                deductions.append(str(e.originator_id))
        self._unit_rows.load(rows, units)
        self._finding_rows.load(rows, findings)
        self._deadline_rows.load(rows, deadlines)
        self._deduction_rows.load(rows, deductions)

    def before_commit(self, rows: Rows) -> None:
        for table in self._tables:
            table.flush(rows)
        self._units.flush(rows)
        super().before_commit(rows)

    @singledispatchmethod
    def apply(self, event: Any, rows: Rows) -> None:
        """Events of no interest to scores change nothing."""

    # The organisation
    @apply.register
    def _(self, e: Unit.Registered, rows: Rows) -> None:
        unit_id = str(e.originator_id)
        self._units.touching(unit_id, self.day)
        self._unit_rows.add({
            "unit_id": unit_id, "county_id": str(e.county_id), "name": e.name, "kind": e.kind,
            "parent_id": None if e.parent_id is None else str(e.parent_id), "retired": 0,
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

    # The rulebook (rare: written as it comes; no other event reads this table)
    @apply.register
    def _(self, e: Rulebook.Adopted, rows: Rows) -> None:
        rules = {**DEFAULT_RULES.to_dict(), **e.rules}
        county_id = getattr(e, "county_id", None)
        if county_id is None:
            # Only the first version names its county; later ones belong to the same rulebook.
            first = rows.one(
                "SELECT county_id FROM {score_rulebooks} WHERE rulebook_id = ? LIMIT 1", (str(e.originator_id),)
            )
            county_id = first["county_id"] if first else ""
        rows.execute(
            "INSERT INTO {score_rulebooks} (county_id, rulebook_id, version, in_force_from, base_score, period_kind,"
            " day) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                str(county_id), str(e.originator_id), e.version, e.in_force_from, str(rules["base_score"]),
                str(rules["period"]), self.day,
            ),
        )  # fmt: skip

    # Findings
    @apply.register
    def _(self, e: Finding.Filed, rows: Rows) -> None:
        self._finding_rows.add({
            "finding_id": str(e.originator_id), "county_id": str(e.county_id), "unit_id": str(e.unit_id),
            "category": e.category, "filed_on": e.filed_on, "filed_day": self.day, "deadline": None,
            "deadline_number": 0, "closed_day": None, "withdrawn_day": None,
        })  # fmt: skip

    def _finding(self, e: Any) -> dict[str, Any] | None:
        return self._finding_rows.get(str(e.originator_id))

    def _new_deadline(self, e: Any) -> None:
        # Numbered as the Finding numbers them: each notice, extension and rejection sets the next.
        finding = self._finding(e)
        if finding is not None:
            finding["deadline"] = e.deadline
            finding["deadline_number"] += 1
            self._finding_rows.changed(finding["finding_id"])

    @apply.register
    def _(self, e: Finding.NoticeIssued, rows: Rows) -> None:
        self._new_deadline(e)

    @apply.register
    def _(self, e: Finding.ExtensionGranted, rows: Rows) -> None:
        self._new_deadline(e)

    @apply.register
    def _(self, e: Finding.RectificationRejected, rows: Rows) -> None:
        # A rectification found inadequate did not meet its deadline after all.
        finding = self._finding(e)
        if finding is not None:
            key = (finding["finding_id"], finding["deadline_number"])
            deadline = self._deadline_rows.get(key)
            if deadline is not None and deadline["outcome"] == MET:
                deadline["rejected_day"] = self.day
                self._deadline_rows.changed(key)
        self._new_deadline(e)

    def _decided(self, finding: dict[str, Any], number: int, deadline: Any, outcome: str) -> None:
        """A deadline is decided once (the first decision stands)."""
        if self._deadline_rows.get((finding["finding_id"], number)) is None:
            self._deadline_rows.add({
                "finding_id": finding["finding_id"], "deadline_number": number, "county_id": finding["county_id"],
                "unit_id": finding["unit_id"], "deadline": deadline, "outcome": outcome, "decided_day": self.day,
                "rejected_day": None,
            })  # fmt: skip

    @apply.register
    def _(self, e: Finding.RectificationSubmitted, rows: Rows) -> None:
        # Met if submitted by the current deadline.
        finding = self._finding(e)
        if finding is not None and finding["deadline"] is not None:
            if finding["deadline"] >= local_date(e.timestamp).isoformat():
                self._decided(finding, finding["deadline_number"], finding["deadline"], MET)

    @apply.register
    def _(self, e: Finding.DeadlineMissed, rows: Rows) -> None:
        finding = self._finding(e)
        if finding is not None:
            self._decided(finding, e.deadline_number, e.deadline, MISSED)

    @apply.register
    def _(self, e: Finding.RectificationAccepted, rows: Rows) -> None:
        finding = self._finding(e)
        if finding is not None:
            finding["closed_day"] = self.day
            self._finding_rows.changed(finding["finding_id"])

    @apply.register
    def _(self, e: Finding.Withdrawn, rows: Rows) -> None:
        finding = self._finding(e)
        if finding is not None:
            finding["withdrawn_day"] = self.day
            self._finding_rows.changed(finding["finding_id"])

    # Deductions
    @apply.register
    def _(self, e: Finding.PointsDeducted, rows: Rows) -> None:
        finding = self._finding(e)
        self._deducted(e, FINDING_SOURCE, finding["county_id"] if finding else "")

    @apply.register
    def _(self, e: Circular.PointsDeducted, rows: Rows) -> None:
        unit = self._unit_rows.get(str(e.unit_id))
        self._deducted(e, CIRCULAR_SOURCE, unit["county_id"] if unit else "")

    def _deducted(self, e: Any, source: str, county_id: str) -> None:
        self._deduction_rows.add({
            "county_id": county_id, "source": source, "source_id": str(e.originator_id),
            "number": e.deduction_number, "unit_id": str(e.unit_id), "points": str(e.points), "rule_id": e.rule_id,
            "rulebook_version": e.rulebook_version, "period": e.period, "reason": e.reason,
            "occurred_on": local_date(e.timestamp).isoformat(), "day": self.day, "reversed_day": None,
            "reversal_reason": None,
        })  # fmt: skip

    @apply.register
    def _(self, e: Finding.DeductionReversed, rows: Rows) -> None:
        key = (str(e.originator_id), e.deduction_number)
        deduction = self._deduction_rows.get(key)
        if deduction is not None:
            deduction["reversed_day"] = self.day
            deduction["reversal_reason"] = e.reason
            self._deduction_rows.changed(key)
